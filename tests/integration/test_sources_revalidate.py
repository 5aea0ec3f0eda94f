"""Revalidation of unpinned S3 revisions and fast rollback, end to end: a real
rolloutd with the s3 plugin against moto_server (through a proxy that records
every S3 request), and real rollout-agents.

- A redeploy of an unchanged S3 key without version or eTag costs one
  conditional GetObject (If-None-Match, answered 304): no download by the
  daemon, and the agents link the tree they still hold unpacked instead of
  downloading and extracting the bundle again.
- A changed object is downloaded again, by the daemon and by the agents.
- An automatic rollback asks nothing of S3 (the bundle of the deployment it
  returns to is in the daemon's cache by its sha256) and the agents reuse
  their unpacked copy: the old content comes back even though the key now
  holds the new one.
- A manual rollback to an earlier key costs one conditional request, no
  download.
- A host that lost its copy downloads it again.
- An HTTP location without sha256 (plugins.http.allow_unpinned) is
  revalidated the same way."""

import http.client
import http.server
import os
import shutil
import threading
import urllib.parse

import pytest

from sources_helpers import (app_files, fetch, make_zip, moto, moto_server, route_server,  # noqa: F401
                             s3_client, sha256, write_config)
from test_agent_rolloutd import RealFleet, lines, revision

pytestmark = pytest.mark.slow

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class S3Proxy:
    """Forwards every request to moto unchanged and records (method, path,
    status, conditional) of each."""

    def __init__(self, moto_url):
        u = urllib.parse.urlparse(moto_url)
        self.host, self.port_ = u.hostname, u.port
        self.lock = threading.Lock()
        self.requests = []
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                c = http.client.HTTPConnection(proxy.host, proxy.port_, timeout=60)
                hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                c.request(self.command, self.path, body=body, headers=hdrs)
                r = c.getresponse()
                data = r.read()
                with proxy.lock:
                    proxy.requests.append((self.command, self.path, r.status,
                                           "If-None-Match" in self.headers or "If-Modified-Since" in self.headers))
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in HOP and k.lower() not in ("content-length", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                c.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def mark(self):
        with self.lock:
            return len(self.requests)

    def since(self, mark):
        with self.lock:
            return list(self.requests[mark:])


def downloads(reqs):
    """GetObject answers that carried the object."""
    return [r for r in reqs if r[0] == "GET" and r[2] == 200]


@pytest.fixture
def s3env(daemon_factory, moto, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ROLLOUTD_PICKUP_TIMEOUT_MS", "5000")
    proxy = S3Proxy(moto)
    d = daemon_factory(plugins={"onprem": {}, "s3": {"endpoint": proxy.url, "region": "us-east-1",
                                                     "access_key_id": "testing", "secret_access_key": "testing",
                                                     "addressing": "path"}},
                       settings={"long_poll": "1s"})
    c = s3_client(moto)
    c.create_bucket(Bucket="rel")
    yield d, proxy, c
    proxy.close()


def put(c, key, path):
    with open(path, "rb") as f:
        c.put_object(Bucket="rel", Key=key, Body=f.read())


def s3rev(key):
    return {"revisionType": "S3", "s3Location": {"bucket": "rel", "key": key, "bundleType": "tgz"}}


def deploy(f, rev, **kw):
    # both hosts of a fleet install into the same directory of this machine
    body = {"applicationName": f.f.app, "deploymentGroupName": f.f.group, "revision": rev,
            "fileExistsBehavior": "OVERWRITE"}
    body.update(kw)
    return f.f.admin.call("CodeDeploy_20141006.CreateDeployment", body)["deploymentId"]


def fetched(agent):
    """How many bundles the agent downloaded, and how many it linked."""
    log = agent.log()
    return log.count("DownloadBundle: fetching"), log.count("nothing downloaded or extracted")


def archive_inode(agent, group_id, dep):
    """Inode and mtime of the unpacked index.html of a deployment."""
    for root, _, files in os.walk(os.path.join(agent.dep_dir(group_id, dep), "deployment-archive")):
        if "index.html" in files:
            st = os.stat(os.path.join(root, "index.html"))
            return st.st_ino, st.st_mtime_ns
    raise AssertionError("no index.html unpacked for %s" % dep)


def group_id(f):
    return f.f.cd.get_deployment_group(applicationName=f.f.app,
                                       deploymentGroupName=f.f.group)["deploymentGroupInfo"]["deploymentGroupId"]


def test_unchanged_key_revalidated_changed_key_downloaded(s3env, tmp_path):
    d, proxy, c = s3env
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    v1 = revision(tmp_path, "v1", www, events)
    put(c, "app.tgz", v1)
    f = RealFleet(d, tmp_path, n=2)
    try:
        names = f.f.names
        m = proxy.mark()
        dep1 = deploy(f, s3rev("app.tgz"))
        assert f.wait(dep1)["status"] == "Succeeded", f.agents[names[0]].log()[-3000:]
        assert len(downloads(proxy.since(m))) == 1
        assert all(fetched(f.agents[n]) == (1, 0) for n in names)

        # unchanged: one conditional request answered 304, nothing downloaded anywhere
        m = proxy.mark()
        dep2 = deploy(f, s3rev("app.tgz"))
        info = f.wait(dep2)
        assert info["status"] == "Succeeded", (info, f.agents[names[0]].log()[-3000:])
        reqs = proxy.since(m)
        assert [(r[0], r[2], r[3]) for r in reqs] == [("GET", 304, True)], reqs
        for n in names:
            assert fetched(f.agents[n]) == (1, 1), f.agents[n].log()[-3000:]
        gid = group_id(f)
        a0 = f.agents[names[0]]
        # the same files (hard links), not a second extraction
        assert archive_inode(a0, gid, dep2) == archive_inode(a0, gid, dep1)
        with open(os.path.join(www, "index.html")) as fh:
            assert fh.read() == "hello v1\n"

        # a host that lost its deployment root downloads again; the other links
        shutil.rmtree(f.agents[names[1]].root_dir)
        m = proxy.mark()
        dep3 = deploy(f, s3rev("app.tgz"))
        info = f.wait(dep3)
        assert info["status"] == "Succeeded", (info, f.events(dep3, names[1]), f.agents[names[1]].log()[-3000:])
        assert len(downloads(proxy.since(m))) == 0
        assert fetched(f.agents[names[0]]) == (1, 2)
        assert fetched(f.agents[names[1]]) == (2, 1), (f.events(dep3, names[1]), f.agents[names[1]].log()[-4000:])

        # changed: downloaded again by the daemon and by every agent
        put(c, "app.tgz", revision(tmp_path, "v2", www, events))
        m = proxy.mark()
        dep4 = deploy(f, s3rev("app.tgz"))
        assert f.wait(dep4)["status"] == "Succeeded"
        reqs = proxy.since(m)
        assert [(r[0], r[2], r[3]) for r in reqs] == [("GET", 200, True)], reqs
        assert fetched(f.agents[names[0]]) == (2, 2)
        assert fetched(f.agents[names[1]]) == (3, 1)
        with open(os.path.join(www, "index.html")) as fh:
            assert fh.read() == "hello v2\n"

        # a manual rollback to an earlier key: revalidated (304), linked on the hosts
        put(c, "other.tgz", revision(tmp_path, "v3", www, events))
        dep5 = deploy(f, s3rev("other.tgz"))
        assert f.wait(dep5)["status"] == "Succeeded"
        m = proxy.mark()
        dep6 = deploy(f, s3rev("app.tgz"), description="rollback to app.tgz")
        assert f.wait(dep6)["status"] == "Succeeded"
        reqs = proxy.since(m)
        assert [(r[0], r[2], r[3]) for r in reqs] == [("GET", 304, True)], reqs
        assert fetched(f.agents[names[0]]) == (3, 3)
        with open(os.path.join(www, "index.html")) as fh:
            assert fh.read() == "hello v2\n"
    finally:
        f.stop()


def test_automatic_rollback_fetches_nothing(s3env, tmp_path):
    d, proxy, c = s3env
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    put(c, "app.tgz", revision(tmp_path, "v1", www, events))
    f = RealFleet(d, tmp_path, n=2, auto_rollback={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]})
    try:
        names = f.f.names
        dep1 = deploy(f, s3rev("app.tgz"))
        assert f.wait(dep1)["status"] == "Succeeded", f.agents[names[0]].log()[-3000:]
        # v2 at the same key fails its ValidateService everywhere
        put(c, "app.tgz", revision(tmp_path, "v2", www, events, hooks={"ValidateService": "exit 3"}))
        dep2 = deploy(f, s3rev("app.tgz"))
        info = f.wait(dep2, timeout=90)
        assert info["status"] == "Failed", info
        m = proxy.mark()
        rb = info["rollbackInfo"]["rollbackDeploymentId"]
        rinfo = f.wait(rb, timeout=90)
        assert rinfo["status"] == "Succeeded", (rinfo, f.agents[names[0]].log()[-3000:])
        # nothing asked of S3: the rollback's bundle is v1's, by its sha256
        assert proxy.since(m) == []
        gid = group_id(f)
        for n in names:
            a = f.agents[n]
            assert fetched(a) == (2, 1), a.log()[-3000:]
            assert archive_inode(a, gid, rb) == archive_inode(a, gid, dep1)
        # the old content is back, though the key holds v2
        with open(os.path.join(www, "index.html")) as fh:
            assert fh.read() == "hello v1\n"
        assert lines(events)[-1] == "ValidateService v1 %s" % rb
    finally:
        f.stop()


def test_http_unpinned_location_revalidated(tmp_path, route_server):  # noqa: F811
    """plugins.http.allow_unpinned: a URL without sha256 is revalidated with
    If-None-Match and downloaded again only when it changed; without the
    setting such a location is refused."""
    state = {"body": make_zip(app_files()), "etag": '"v1"'}

    def handler(method, path, headers):
        if headers.get("If-None-Match") == state["etag"]:
            return 304, {"ETag": state["etag"]}, b""
        return 200, {"ETag": state["etag"], "Last-Modified": "Sun, 06 Dec 2026 01:00:00 GMT"}, state["body"]

    srv = route_server(handler)
    rev = {"revisionType": "HTTP", "httpLocation": {"url": srv.url + "/app.zip", "bundleType": "zip"}}
    conf = write_config(tmp_path, {"http": {"allow_unpinned": True}})
    rc, res, err = fetch(conf, rev)
    assert rc == 0, (res, err)
    assert res[0]["sha256"] == sha256(state["body"])
    assert "If-None-Match" not in srv.rec.requests[-1][2]
    # unchanged: asked with the ETag, 304, served from the cache
    rc, res, err = fetch(conf, rev)
    assert rc == 0, (res, err)
    assert srv.rec.requests[-1][2].get("If-None-Match") == '"v1"'
    assert res[0]["sha256"] == sha256(state["body"])
    assert srv.rec.count() == 2
    # changed: downloaded again
    files = app_files()
    files["app/extra.txt"] = (b"v2\n", 0o644)
    state.update(body=make_zip(files), etag='"v2"')
    rc, res, err = fetch(conf, rev)
    assert rc == 0, (res, err)
    assert srv.rec.requests[-1][2].get("If-None-Match") == '"v1"'
    assert res[0]["sha256"] == sha256(state["body"])
    # without allow_unpinned the sha256 is required
    conf2 = write_config(tmp_path, {"http": {}}, data_dir=tmp_path / "d2")
    rc, res, _ = fetch(conf2, rev)
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION"
    assert "allow_unpinned" in res[0]["message"]
