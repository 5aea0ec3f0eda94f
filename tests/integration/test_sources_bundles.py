"""GET /bundles/<sha256> served by a real rolloutd: SigV4, policies, Range,
HEAD, ETag; and the chunked upload routes (docs/api-extensions.md §2-3).

The bundle is put into the daemon's cache by sources-fetch (the same cache
code, same data_dir) before the daemon starts; nothing else here needs the
engine."""

import hashlib
import json
import os
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import harness
from sources_helpers import app_files, fetch, make_zip, route_server, sha256  # noqa: F401


def signed(d, keys, method, path, body=b"", headers=None, service="codedeploy-commands"):
    req = AWSRequest(method=method, url=d.url + path, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(keys["AccessKeyId"], keys["SecretAccessKey"]), service, "us-east-1").add_auth(req)
    p = req.prepare()
    r = urllib.request.Request(p.url, data=body if method in ("PUT", "POST") else None, method=method,
                               headers=dict(p.headers))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture
def cached(tmp_path, route_server):
    """A daemon (http plugin) whose cache holds one bundle: (daemon, body)."""
    body = make_zip(app_files())
    srv = route_server(lambda m, p, h: (200, {}, body) if p == "/app.zip" else (404, {}, b""))
    d = harness.Daemon(tmp_path, plugins={"http": None})
    rc, res, err = fetch(d.config_path, {"revisionType": "HTTP", "httpLocation": {
        "url": srv.url + "/app.zip", "sha256": sha256(body), "bundleType": "zip"}})
    assert rc == 0, (res, err)
    d.admin = d.create_access_key("admin", "admin")
    d.start()
    st, _, b = signed(d, d.admin, "GET", "/bundles/" + sha256(body))
    if st == 404 and b"no such resource" in b:
        d.stop()
        pytest.skip("this rolloutd does not serve /bundles yet (daemon/main.c does not call bundles_start)")
    yield d, body
    d.stop()


def test_get_whole_and_headers(cached):
    d, body = cached
    st, h, b = signed(d, d.admin, "GET", "/bundles/" + sha256(body))
    assert st == 200 and b == body
    assert h["ETag"] == '"%s"' % sha256(body)
    assert h["Accept-Ranges"] == "bytes"
    assert int(h["Content-Length"]) == len(body)
    st, h, b = signed(d, d.admin, "HEAD", "/bundles/" + sha256(body))
    assert st == 200 and b == b"" and int(h["Content-Length"]) == len(body)


def test_ranges(cached):
    d, body = cached
    sha = sha256(body)
    st, h, b = signed(d, d.admin, "GET", "/bundles/" + sha, headers={"Range": "bytes=10-19"})
    assert st == 206 and b == body[10:20]
    assert h["Content-Range"] == "bytes 10-19/%d" % len(body)
    st, h, b = signed(d, d.admin, "GET", "/bundles/" + sha, headers={"Range": "bytes=100-"})
    assert st == 206 and b == body[100:]
    st, h, b = signed(d, d.admin, "GET", "/bundles/" + sha, headers={"Range": "bytes=-7"})
    assert st == 206 and b == body[-7:]
    st, h, b = signed(d, d.admin, "GET", "/bundles/" + sha, headers={"Range": "bytes=%d-" % len(body)})
    assert st == 416 and h["Content-Range"] == "bytes */%d" % len(body)
    # resume a download in two halves and verify
    half = len(body) // 2
    _, _, a = signed(d, d.admin, "GET", "/bundles/" + sha, headers={"Range": "bytes=0-%d" % (half - 1)})
    _, _, c = signed(d, d.admin, "GET", "/bundles/" + sha, headers={"Range": "bytes=%d-" % half})
    assert hashlib.sha256(a + c).hexdigest() == sha


def test_not_found_and_auth(cached, tmp_path):
    d, body = cached
    st, _, b = signed(d, d.admin, "GET", "/bundles/" + "0" * 64)
    assert st == 404 and b"not in the cache" in b
    st, _, b = signed(d, d.admin, "GET", "/bundles/../../etc/passwd")
    assert st in (400, 403, 404)
    st, _, b = signed(d, d.admin, "GET", "/bundles/ABC")
    assert st == 404 and b"64 lower-case hex" in b
    # unsigned
    try:
        with urllib.request.urlopen(d.url + "/bundles/" + sha256(body), timeout=5) as r:
            st = r.status
    except urllib.error.HTTPError as e:
        st = e.code
    assert st in (400, 403)
    # a wrong secret
    bad = dict(d.admin, SecretAccessKey="x" * 40)
    st, _, _ = signed(d, bad, "GET", "/bundles/" + sha256(body))
    assert st in (400, 403)


def test_agent_key_needs_a_grant(cached):
    d, body = cached
    d.stop()
    try:
        agent = d.create_access_key("agent-web-1", "agent", instance="web-1")
    except harness.HarnessError as e:
        pytest.skip("cannot create an agent key offline: %s" % e)
    d.start()
    st, _, b = signed(d, agent, "GET", "/bundles/" + sha256(body))
    assert st == 403 and b"web-1" in b


def upload(d, keys, data, part=None, **q):
    sha = hashlib.sha256(data).hexdigest()
    qs = "sha256=%s&size=%d&bundleType=zip" % (sha, len(data))
    for k, v in q.items():
        qs += "&%s=%s" % (k, v)
    st, _, b = signed(d, keys, "POST", "/bundles/uploads?" + qs, service="codedeploy")
    r = json.loads(b or b"{}")
    if st in (404, 405) or r.get("__type") == "UnknownOperationException":
        pytest.skip("this rolloutd has no upload routes yet (httpd needs raw PUT/POST routes)")
    return st, r


def test_upload_chunked_then_served(cached):
    d, _ = cached
    data = make_zip(dict(app_files(), **{"app/big.bin": (os.urandom(300000), 0o644)}))
    st, r = upload(d, d.admin, data)
    assert st == 200, r
    uid, part = r["uploadId"], r["partSize"]
    part = min(part, 65536)
    off = 0
    # out of order: refused with the expected offset
    st, _, b = signed(d, d.admin, "PUT", "/bundles/uploads/%s?offset=5" % uid, body=data[5:10],
                      service="codedeploy")
    assert st == 409 and json.loads(b)["offset"] == 0
    while off < len(data):
        chunk = data[off:off + part]
        st, _, b = signed(d, d.admin, "PUT", "/bundles/uploads/%s?offset=%d" % (uid, off), body=chunk,
                          service="codedeploy")
        assert st == 200, b
        off += len(chunk)
        r = json.loads(b)
        assert r["offset"] == off
    assert r["complete"] is True
    sha = hashlib.sha256(data).hexdigest()
    assert r["revision"] == {"revisionType": "Bundle",
                             "bundleLocation": {"sha256": sha, "bundleType": "zip", "size": len(data)}}
    st, _, b = signed(d, d.admin, "GET", "/bundles/" + sha)
    assert st == 200 and b == data
    # the same bundle again: known at once, nothing to send
    st, r = upload(d, d.admin, data)
    assert st == 200 and r["complete"] is True


def test_upload_refusals(cached):
    d, _ = cached
    bad = make_zip({"index.html": (b"no appspec", 0o644)})
    st, r = upload(d, d.admin, bad)
    uid = r["uploadId"]
    st, _, b = signed(d, d.admin, "PUT", "/bundles/uploads/%s?offset=0" % uid, body=bad, service="codedeploy")
    assert st == 400 and json.loads(b)["__type"] == "InvalidRevisionException"
    assert b"appspec.yml" in b
    # announced hash differs from the bytes
    good = make_zip(app_files())
    st, _, b = signed(d, d.admin, "POST", "/bundles/uploads?sha256=%s&size=%d&bundleType=zip" % ("ab" * 32, len(good)),
                      service="codedeploy")
    uid = json.loads(b)["uploadId"]
    st, _, b = signed(d, d.admin, "PUT", "/bundles/uploads/%s?offset=0" % uid, body=good, service="codedeploy")
    assert st == 400 and b"ababab" in b
    # too large, bad type, readonly key
    st, _, b = signed(d, d.admin, "POST", "/bundles/uploads?sha256=%s&size=%d&bundleType=zip" % ("ab" * 32, 1 << 40),
                      service="codedeploy")
    assert st == 400 and json.loads(b)["__type"] == "BundleTooLargeException"
    st, _, b = signed(d, d.admin, "POST", "/bundles/uploads?sha256=%s&size=10&bundleType=rar" % ("ab" * 32),
                      service="codedeploy")
    assert st == 400 and b"zip, tar or tgz" in b


def test_upload_registers_revision(cached):
    d, _ = cached
    import test_sources_preflight as tp
    st, r = tp.api(d, "CreateApplication", {"applicationName": "web"})
    assert st == 200, r
    data = make_zip(dict(app_files(), **{"app/v2.txt": (b"2", 0o644)}))
    st, r = upload(d, d.admin, data, applicationName="nope")
    assert st == 400 and r["__type"] == "ApplicationDoesNotExistException"
    st, r = upload(d, d.admin, data, applicationName="web")
    assert st == 200, r
    st, _, b = signed(d, d.admin, "PUT", "/bundles/uploads/%s?offset=0" % r["uploadId"], body=data,
                      service="codedeploy")
    assert st == 200, b
    rev = json.loads(b)["revision"]
    st, r = tp.api(d, "ListApplicationRevisions", {"applicationName": "web"})
    assert st == 200, r
    assert rev in r["revisions"]
    st, r = tp.api(d, "GetApplicationRevision", {"applicationName": "web", "revision": rev})
    assert st == 200 and r["revisionInfo"]["description"] == "Uploaded to rolloutd", r


def test_upload_concurrency_cap(cached):
    d, _ = cached
    ids = []
    for i in range(16):
        st, r = upload(d, d.admin, b"x%d" % i)
        assert st == 200, r
        ids.append(r["uploadId"])
    st, r = upload(d, d.admin, b"one too many")
    assert st == 400 and r["__type"] == "LimitExceededException"
    # finishing one frees a slot (it fails pre-flight, which also ends it)
    st, _, b = signed(d, d.admin, "PUT", "/bundles/uploads/%s?offset=0" % ids[0], body=b"x0", service="codedeploy")
    assert st == 400
    st, r = upload(d, d.admin, b"now it fits")
    assert st == 200, r
