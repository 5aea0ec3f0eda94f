"""The http and bitbucket source plugins (rolloutd extensions of
RevisionLocation) against local servers, through the bundle cache."""

import base64
import urllib.parse

from sources_helpers import (app_files, fetch, git_archive, git_repo, make_tgz, make_zip, route_server,  # noqa: F401
                             sha256, write_config)


def files_server(route_server, files, need_header=None):
    def handle(method, path, headers):
        if need_header and headers.get(need_header[0]) != need_header[1]:
            return 403, {}, b"forbidden"
        if path.startswith("/moved/"):
            return 301, {"Location": "/" + path[len("/moved/"):]}, b""
        if path in files:
            return 200, {"Content-Type": "application/octet-stream"}, files[path]
        return 404, {}, b"not found"
    return route_server(handle)


def http_rev(url, sha, bundle_type="zip"):
    loc = {"url": url, "bundleType": bundle_type}
    if sha is not None:
        loc["sha256"] = sha
    return {"revisionType": "HTTP", "httpLocation": loc}


def test_http_fetch_redirect_and_cache(tmp_path, route_server):
    z = make_zip(app_files())
    t = make_tgz(app_files(), prefix="app-1.0/")
    srv = files_server(route_server, {"/app.zip": z, "/app-1.0.tgz": t})
    conf = write_config(tmp_path, {"http": None})
    rc, res, err = fetch(conf, http_rev(srv.url + "/moved/app.zip", sha256(z)))
    assert rc == 0, (res, err)
    assert res[0]["sha256"] == sha256(z) and res[0]["bundleType"] == "zip"
    # a tgz with one top-level folder passes pre-flight (leading-directory rule)
    rc, res, err = fetch(conf, http_rev(srv.url + "/app-1.0.tgz", sha256(t), None))
    assert rc == 0, (res, err)
    assert res[0]["bundleType"] == "tgz"
    n = len(srv.rec.requests)
    rc, res, err = fetch(conf, http_rev(srv.url + "/app-1.0.tgz", sha256(t), None))
    assert rc == 0 and len(srv.rec.requests) == n


def test_http_sha_mismatch_missing_and_required(tmp_path, route_server):
    z = make_zip(app_files())
    srv = files_server(route_server, {"/app.zip": z})
    conf = write_config(tmp_path, {"http": None})
    wrong = "ab" * 32
    rc, res, _ = fetch(conf, http_rev(srv.url + "/app.zip", wrong))
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION"
    assert wrong in res[0]["message"] and sha256(z) in res[0]["message"]
    rc, res, _ = fetch(conf, http_rev(srv.url + "/gone.zip", sha256(z)))
    assert rc == 1 and res[0]["errorCode"] == "REVISION_MISSING" and "404" in res[0]["message"]
    rc, res, _ = fetch(conf, http_rev(srv.url + "/app.zip", None))
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION" and "sha256 is required" in res[0]["message"]
    rc, res, _ = fetch(conf, http_rev("ftp://example.com/app.zip", sha256(z)))
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION"


def test_http_headers_and_https_only(tmp_path, route_server):
    z = make_zip(app_files())
    srv = files_server(route_server, {"/app.zip": z}, need_header=("Authorization", "Bearer s3cr3t"))
    conf = write_config(tmp_path, {"http": {"headers": {"Authorization": "Bearer s3cr3t"}}})
    rc, res, err = fetch(conf, http_rev(srv.url + "/app.zip", sha256(z)))
    assert rc == 0, (res, err)
    # (fresh caches: the first fetch pinned this content in the first one)
    conf = write_config(tmp_path, {"http": None}, data_dir=tmp_path / "d2")
    rc, res, _ = fetch(conf, http_rev(srv.url + "/app.zip", sha256(z)))
    assert rc == 1 and "plugins.http.headers" in res[0]["message"]
    conf = write_config(tmp_path, {"http": {"allow_http": False}}, data_dir=tmp_path / "d3")
    rc, res, _ = fetch(conf, http_rev(srv.url + "/app.zip", sha256(z)))
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION" and "https" in res[0]["message"]


class FakeBitbucket:
    def __init__(self, route_server, repo, auth):
        self.repo = repo
        self.auth = auth
        self.srv = route_server(self.handle)

    def handle(self, method, path, headers):
        if headers.get("Authorization") != self.auth:
            return 401, {"Content-Type": "application/json"}, b'{"type": "error", "error": {"message": "Unauthorized"}}'
        u = urllib.parse.urlsplit(path)
        if u.path.startswith("/acme/web/get/"):
            name = u.path[len("/acme/web/get/"):]
            commit, fmt = (name[:-4], "zip") if name.endswith(".zip") else (name[:-7], "tar.gz")
            prefix = "acme-web-%s/" % commit[:12]
        elif u.path == "/rest/api/latest/projects/PRJ/repos/web/archive":
            q = urllib.parse.parse_qs(u.query)
            commit, fmt, prefix = q["at"][0], {"zip": "zip", "tgz": "tar.gz"}[q["format"][0]], ""
        else:
            return 404, {}, b"{}"
        try:
            return 200, {}, git_archive(self.repo, commit, fmt, prefix)
        except Exception:
            return 404, {}, b'{"errors": [{"message": "Commit does not exist"}]}'


def bb_rev(commit, repo="acme/web", bundle_type=None):
    loc = {"repository": repo, "commitId": commit}
    if bundle_type:
        loc["bundleType"] = bundle_type
    return {"revisionType": "Bitbucket", "bitbucketLocation": loc}


def test_bitbucket_cloud_app_password(tmp_path, route_server):
    repo = str(tmp_path / "repo")
    commit = git_repo(repo, app_files())
    bb = FakeBitbucket(route_server, repo, "Basic " + base64.b64encode(b"deployer:app-pw").decode())
    conf = write_config(tmp_path, {"bitbucket": {"url": bb.srv.url, "username": "deployer",
                                                 "app_password": "app-pw"}})
    rc, res, err = fetch(conf, bb_rev(commit))
    assert rc == 0, (res, err)
    assert res[0]["bundleType"] == "zip"
    assert res[0]["sha256"] == sha256(git_archive(repo, commit, "zip", "acme-web-%s/" % commit[:12]))
    rc, res, err = fetch(conf, bb_rev(commit, bundle_type="tgz"))
    assert rc == 0 and res[0]["bundleType"] == "tgz", (res, err)
    rc, res, _ = fetch(conf, bb_rev("f" * 40))
    assert rc == 1 and res[0]["errorCode"] == "REVISION_MISSING"


def test_bitbucket_server_token_and_refusals(tmp_path, route_server):
    repo = str(tmp_path / "repo")
    commit = git_repo(repo, app_files())
    bb = FakeBitbucket(route_server, repo, "Bearer bbtok")
    conf = write_config(tmp_path, {"bitbucket": {"url": bb.srv.url, "server": True, "token": "bbtok"}})
    rc, res, err = fetch(conf, bb_rev(commit, repo="PRJ/web", bundle_type="tgz"))
    assert rc == 0, (res, err)
    assert res[0]["sha256"] == sha256(git_archive(repo, commit, "tar.gz", ""))
    conf = write_config(tmp_path, {"bitbucket": {"url": bb.srv.url, "server": True}})
    rc, res, _ = fetch(conf, bb_rev(commit, repo="PRJ/web"))
    assert rc == 1 and res[0]["errorCode"] == "MISSING_GITHUB_TOKEN"
    assert "plugins.bitbucket.token" in res[0]["message"]
    conf = write_config(tmp_path, {"bitbucket": {"url": bb.srv.url, "username": "x"}})
    rc, res, err = fetch(conf, bb_rev(commit))
    assert rc == 2 and "app_password" in err
