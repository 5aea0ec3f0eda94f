"""The github source plugin against a local GitHub stand-in that serves
`git archive` output of a repository the test creates, at the REST API's
documented endpoints (GET /repos/{owner}/{repo}/tarball|zipball/{ref}, a 302
to codeload), through the daemon's bundle cache and pre-flight."""

import time

from sources_helpers import (GOOD_APPSPEC, app_files, fetch, git_archive, git_repo, route_server,  # noqa: F401
                             sha256, write_config)


class FakeGitHub:
    def __init__(self, route_server, repo_path, token="ghp_secret", delay=0.0):
        self.repo = repo_path
        self.token = token
        self.delay = delay
        self.archives = {}
        self.srv = route_server(self.handle)

    def handle(self, method, path, headers):
        if path.startswith("/api/v3/repos/"):
            parts = path[len("/api/v3/repos/"):].split("/")
            if len(parts) != 4 or parts[:2] != ["acme", "web"] or parts[2] not in ("tarball", "zipball"):
                return 404, {"Content-Type": "application/json"}, b'{"message": "Not Found"}'
            auth = headers.get("Authorization")
            if auth is None:
                # GitHub hides private repositories from anonymous callers
                return 404, {"Content-Type": "application/json"}, b'{"message": "Not Found"}'
            if auth != "Bearer " + self.token:
                return 401, {"Content-Type": "application/json"}, b'{"message": "Bad credentials"}'
            kind = "legacy.tar.gz" if parts[2] == "tarball" else "legacy.zip"
            return 302, {"Location": "%s/codeload/acme/web/%s/%s" % (self.srv.url, kind, parts[3])}, b""
        if path.startswith("/codeload/acme/web/"):
            kind, ref = path[len("/codeload/acme/web/"):].split("/")
            if self.delay:
                time.sleep(self.delay)
            fmt = "tar.gz" if kind == "legacy.tar.gz" else "zip"
            try:
                data = git_archive(self.repo, ref, fmt, "acme-web-%s/" % ref[:7])
            except Exception:
                return 404, {}, b"Not Found"
            self.archives[(fmt, ref)] = data
            return 200, {"Content-Type": "application/x-gzip" if fmt == "tar.gz" else "application/zip"}, data
        return 404, {}, b""


def gh_conf(tmp_path, gh, **kw):
    s = {"api_url": gh.srv.url + "/api/v3/", "token": gh.token}
    s.update(kw)
    for k in [k for k, v in s.items() if v is None]:
        del s[k]
    return write_config(tmp_path, {"github": s})


def rev(commit, repo="acme/web"):
    return {"revisionType": "GitHub", "gitHubLocation": {"repository": repo, "commitId": commit}}


def test_tarball_with_token_enterprise_url(tmp_path, route_server):
    repo = str(tmp_path / "repo")
    commit = git_repo(repo, app_files())
    gh = FakeGitHub(route_server, repo)
    rc, res, err = fetch(gh_conf(tmp_path, gh), rev(commit))
    assert rc == 0, (res, err)
    data = gh.archives[("tar.gz", commit)]
    assert res[0]["sha256"] == sha256(data) and res[0]["bundleType"] == "tgz"
    api = [r for r in gh.srv.rec.requests if r[1].startswith("/api/v3/")]
    assert len(api) == 1
    h = api[0][2]
    assert h["Authorization"] == "Bearer ghp_secret"
    assert h["Accept"] == "application/vnd.github+json"
    assert h["X-GitHub-Api-Version"] == "2022-11-28"
    # a full commit id pins the content: a new process is answered by the cache
    n = len(gh.srv.rec.requests)
    rc, res2, err = fetch(gh_conf(tmp_path, gh), rev(commit))
    assert rc == 0 and res2[0]["sha256"] == res[0]["sha256"]
    assert len(gh.srv.rec.requests) == n


def test_zipball(tmp_path, route_server):
    repo = str(tmp_path / "repo")
    commit = git_repo(repo, app_files())
    gh = FakeGitHub(route_server, repo)
    rc, res, err = fetch(gh_conf(tmp_path, gh, archive="zipball"), rev(commit))
    assert rc == 0, (res, err)
    assert res[0]["bundleType"] == "zip"
    assert res[0]["sha256"] == sha256(gh.archives[("zip", commit)])


def test_single_flight_for_concurrent_deployments(tmp_path, route_server):
    repo = str(tmp_path / "repo")
    commit = git_repo(repo, app_files())
    gh = FakeGitHub(route_server, repo, delay=0.5)
    rc, res, err = fetch(gh_conf(tmp_path, gh), rev(commit), parallel=6)
    assert rc == 0, (res, err)
    assert len(res) == 6 and len({r["sha256"] for r in res}) == 1
    assert gh.srv.rec.count(lambda r: r[1].startswith("/codeload/")) == 1


def test_missing_token(tmp_path, route_server):
    repo = str(tmp_path / "repo")
    commit = git_repo(repo, app_files())
    gh = FakeGitHub(route_server, repo)
    rc, res, _ = fetch(gh_conf(tmp_path, gh, token=None), rev(commit))
    assert rc == 1 and res[0]["errorCode"] == "MISSING_GITHUB_TOKEN"
    assert "plugins.github.token" in res[0]["message"]


def test_bad_token_and_unknown_commit(tmp_path, route_server):
    repo = str(tmp_path / "repo")
    commit = git_repo(repo, app_files())
    gh = FakeGitHub(route_server, repo)
    rc, res, _ = fetch(gh_conf(tmp_path, gh, token="wrong"), rev(commit))
    assert rc == 1 and res[0]["errorCode"] == "MISSING_GITHUB_TOKEN" and "Bad credentials" in res[0]["message"]
    rc, res, _ = fetch(gh_conf(tmp_path, gh), rev(commit, repo="acme/other"))
    assert rc == 1 and res[0]["errorCode"] == "REVISION_MISSING" and "acme/other" in res[0]["message"]
    rc, res, _ = fetch(gh_conf(tmp_path, gh), rev("0" * 40))
    assert rc == 1 and res[0]["errorCode"] == "REVISION_MISSING"
    rc, res, _ = fetch(gh_conf(tmp_path, gh), rev(commit, repo="../../etc"))
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION"


def test_repository_with_bad_appspec(tmp_path, route_server):
    repo = str(tmp_path / "repo")
    spec = GOOD_APPSPEC + "  ValidateService:\n    - location: scripts/check.sh\n"
    commit = git_repo(repo, app_files(appspec=spec))
    gh = FakeGitHub(route_server, repo)
    rc, res, _ = fetch(gh_conf(tmp_path, gh), rev(commit))
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION"
    assert "scripts/check.sh" in res[0]["message"]
