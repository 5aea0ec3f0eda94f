"""rolloutctl deploy with rolloutd's extension sources (docs/api-extensions.md
§1.2-1.3): bitbucket:WORKSPACE/REPO@COMMIT and https://…#sha256=HEX (or
--sha256). What is sent is checked against the scripted FakeAPI; one test
deploys an HTTP revision through a real rolloutd with the http plugin, served
by a local Python http server."""

import hashlib
import http.server
import io
import threading
import zipfile

import pytest

from cli_helpers import Ctl, fake_api, fake_ctl  # noqa: F401
from engine_helpers import Fleet

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_deploy_bitbucket_sends_the_extension(fake_api, fake_ctl):
    fake_api.ops["CreateDeployment"] = lambda b: {"deploymentId": "d-BB0000001"}
    p = fake_ctl("deploy", "--app", "web", "--group", "prod", "bitbucket:team/site@" + COMMIT)
    assert "d-BB0000001" in p.stdout
    fake_ctl("deploy", "--app", "web", "--group", "prod", "bitbucket:PROJ/site@abc1234", "--bundle-type", "tgz")
    a, b = fake_api.calls("CreateDeployment")
    assert a == {"applicationName": "web", "deploymentGroupName": "prod",
                 "revision": {"revisionType": "Bitbucket",
                              "bitbucketLocation": {"repository": "team/site", "commitId": COMMIT}}}
    assert b["revision"] == {"revisionType": "Bitbucket", "bitbucketLocation": {
        "repository": "PROJ/site", "commitId": "abc1234", "bundleType": "tgz"}}
    # a branch name, a missing slash: usage errors, nothing sent
    n = len(fake_api.requests)
    p = fake_ctl("deploy", "--app", "web", "--group", "prod", "bitbucket:team/site@main", expect=2)
    assert "git rev-parse" in p.stderr
    p = fake_ctl("deploy", "--app", "web", "--group", "prod", "bitbucket:site@" + COMMIT, expect=2)
    assert "bitbucket:WORKSPACE/REPO@COMMIT" in p.stderr
    p = fake_ctl("deploy", "--app", "web", "--group", "prod", "bitbucket:team/site@" + COMMIT, "--bundle-type",
                 "tar", expect=2)
    assert "zip or tgz" in p.stderr
    assert len(fake_api.requests) == n and not fake_api.uploads


def test_deploy_http_sends_the_extension(fake_api, fake_ctl):
    fake_api.ops["CreateDeployment"] = lambda b: {"deploymentId": "d-HT0000001"}
    h = hashlib.sha256(b"bundle").hexdigest()
    fake_ctl("deploy", "--app", "web", "--group", "prod", "https://files.example.com/rel/app-1.4.tgz#sha256=" + h)
    fake_ctl("deploy", "--app", "web", "--group", "prod", "http://127.0.0.1:9/dl?id=4", "--sha256", h.upper(),
             "--bundle-type", "zip")
    fake_ctl("deploy", "--app", "web", "--group", "prod", "https://h/x#sha256=%s&bundleType=tar" % h)
    a, b, c = fake_api.calls("CreateDeployment")
    assert a["revision"] == {"revisionType": "HTTP", "httpLocation": {
        "url": "https://files.example.com/rel/app-1.4.tgz", "sha256": h, "bundleType": "tgz"}}
    assert b["revision"] == {"revisionType": "HTTP", "httpLocation": {
        "url": "http://127.0.0.1:9/dl?id=4", "sha256": h, "bundleType": "zip"}}
    assert c["revision"] == {"revisionType": "HTTP", "httpLocation": {
        "url": "https://h/x", "sha256": h, "bundleType": "tar"}}
    n = len(fake_api.requests)
    p = fake_ctl("deploy", "--app", "web", "--group", "prod", "https://h/app.zip", expect=2)
    assert "needs the bundle's sha256" in p.stderr and "--sha256" in p.stderr
    p = fake_ctl("deploy", "--app", "web", "--group", "prod", "https://h/app.zip#sha256=abc", expect=2)
    assert "64 hex digits" in p.stderr
    p = fake_ctl("deploy", "--app", "web", "--group", "prod", "https://h/app.zip#sha256=" + h, "--sha256",
                 "0" * 64, expect=2)
    assert "differ" in p.stderr
    p = fake_ctl("deploy", "--app", "web", "--group", "prod", "github:me/app@" + COMMIT, "--sha256", h, expect=2)
    assert "http:// and https://" in p.stderr
    assert len(fake_api.requests) == n


def test_revision_register_takes_the_new_forms(fake_api, fake_ctl):
    fake_api.ops["RegisterApplicationRevision"] = lambda b: {}
    h = "ab" * 32
    fake_ctl("revision", "register", "--app", "web", "https://h/a.zip#sha256=" + h)
    fake_ctl("revision", "register", "--app", "web", "bitbucket:team/site@" + COMMIT)
    a, b = fake_api.calls("RegisterApplicationRevision")
    assert a["revision"] == {"revisionType": "HTTP", "httpLocation": {"url": "https://h/a.zip", "sha256": h,
                                                                      "bundleType": "zip"}}
    assert b["revision"]["revisionType"] == "Bitbucket"


def make_bundle():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("appspec.yml", "version: 0.0\nos: linux\n")
        z.writestr("VERSION", "http-1\n")
    return buf.getvalue()


@pytest.fixture
def file_server():
    """A local http server serving /app.zip; .hits lists the paths asked for."""
    body = make_bundle()
    hits = []

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            hits.append(self.path)
            if self.path != "/app.zip":
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    srv.url = "http://127.0.0.1:%d" % srv.server_address[1]
    srv.body = body
    srv.hits = hits
    yield srv
    srv.shutdown()
    srv.server_close()


def test_deploy_http_source_through_rolloutd(daemon_factory, file_server):
    d = daemon_factory(plugins={"onprem": {}, "http": None})
    fleet = Fleet(d, app="web", group="prod", n=1)
    ctl = Ctl(d.url, d.admin)
    try:
        sha = hashlib.sha256(file_server.body).hexdigest()
        p = ctl("deploy", "--app", "web", "--group", "prod", file_server.url + "/app.zip#sha256=" + sha,
                "--wait", "--timeout", "60s", "--interval", "0.1")
        dep = p.stdout.split()[1]
        assert "Succeeded" in p.stdout, p.stdout
        assert file_server.hits == ["/app.zip"]  # the daemon fetched it, once
        rev = ctl.json("deployment", "get", dep)["deploymentInfo"]["revision"]
        assert rev == {"revisionType": "HTTP", "httpLocation": {"url": file_server.url + "/app.zip",
                                                                "sha256": sha, "bundleType": "zip"}}
        assert [e for (dd, e, r) in fleet.agents["host-0"].done if dd == dep and r == "ok"]
        # a wrong hash: the daemon refuses the download before any host runs anything
        p = ctl("deploy", "--app", "web", "--group", "prod", file_server.url + "/app.zip", "--sha256", "0" * 64,
                "--wait", "--timeout", "60s", "--interval", "0.1", expect=1)
        assert "INVALID_REVISION" in p.stderr and sha in p.stderr, p.stderr
    finally:
        fleet.stop()
