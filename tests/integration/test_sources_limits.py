"""The bundle cache's configurable caps (bundle_cache_max, bundle_upload_max in
the daemon config) and GC's cleanup of location memos, against a real rolloutd.

GC never removes a bundle used in the last two minutes (BCACHE_GC_GRACE_S), so
the test ages bundles by setting their mtime, which is the cache's "last use"."""

import json
import os
import subprocess
import time

import harness
from sources_helpers import app_files, fetch, make_zip, route_server, sha256  # noqa: F401
from test_sources_bundles import signed, upload


def bundle(tag, size=40000):
    """A valid bundle of about size bytes (random, so it does not compress)."""
    return make_zip(dict(app_files(), **{"app/%s.bin" % tag: (os.urandom(size), 0o644)}))


def send(d, data):
    """Uploads data in one part (it is smaller than partSize); (status, answer)."""
    st, r = upload(d, d.admin, data)
    if st != 200 or r.get("complete"):
        return st, r
    st, _, b = signed(d, d.admin, "PUT", "/bundles/uploads/%s?offset=0" % r["uploadId"], body=data,
                      service="codedeploy")
    return st, json.loads(b)


def age(d, sha, seconds):
    p = os.path.join(d.data_dir, "bundles", "objects", sha)
    t = time.time() - seconds
    os.utime(p, (t, t))


def cached(d, sha):
    return os.path.exists(os.path.join(d.data_dir, "bundles", "objects", sha))


def memos(d):
    return sorted(os.listdir(os.path.join(d.data_dir, "bundles", "loc")))


def test_caps_from_config(tmp_path, route_server):
    e = bundle("e")
    srv = route_server(lambda m, p, h: (200, {}, e) if p == "/e.zip" else (404, {}, b""))
    d = harness.Daemon(tmp_path, plugins={"http": None},
                       settings={"bundle_cache_max": "100KiB", "bundle_upload_max": "60 KiB"})
    # An HTTP revision pins its content, so its location is memoised under loc/.
    rc, res, err = fetch(d.config_path, {"revisionType": "HTTP", "httpLocation": {
        "url": srv.url + "/e.zip", "sha256": sha256(e), "bundleType": "zip"}})
    assert rc == 0, (res, err)
    assert len(memos(d)) == 1
    d.admin = d.create_access_key("admin", "admin")
    d.start()
    try:
        # over the upload cap: refused up front, naming the setting
        big = bundle("big", 70000)
        st, r = upload(d, d.admin, big)
        assert st == 400 and r["__type"] == "BundleTooLargeException", r
        assert "at most 61440 bytes" in r["message"] and "bundle_upload_max" in r["message"], r
        assert "%d bytes" % len(big) in r["message"]

        age(d, sha256(e), 3 * 3600)
        a = bundle("a")
        st, r = send(d, a)
        assert st == 200 and r["complete"], r
        assert cached(d, sha256(e)) and cached(d, sha256(a))  # 2 x 40 KB fit in 100 KiB
        age(d, sha256(a), 2 * 3600)

        # a third bundle goes over the cap: the least recently used one (e) goes,
        # and with it the memo of its location
        b = bundle("b")
        st, r = send(d, b)
        assert st == 200 and r["complete"], r
        assert not cached(d, sha256(e))
        assert cached(d, sha256(a)) and cached(d, sha256(b))
        assert memos(d) == []
        st, _, _ = signed(d, d.admin, "GET", "/bundles/" + sha256(e))
        assert st == 404

        # again: a (older) goes, b (just uploaded, inside the grace period) stays
        c = bundle("c")
        st, r = send(d, c)
        assert st == 200 and r["complete"], r
        assert not cached(d, sha256(a))
        assert cached(d, sha256(b)) and cached(d, sha256(c))
        total = sum(os.path.getsize(os.path.join(d.data_dir, "bundles", "objects", n))
                    for n in os.listdir(os.path.join(d.data_dir, "bundles", "objects")))
        assert total <= 100 * 1024
    finally:
        d.stop()


def test_bad_sizes_are_config_errors(tmp_path):
    d = harness.Daemon(tmp_path, settings={"bundle_cache_max": "10 gigs"})
    p = d.run("--check-config", check=False)
    assert p.returncode != 0
    assert "%s:" % d.config_path in p.stderr
    assert "bundle_cache_max: expected a size such as 4096, 512MiB, 10GiB" in p.stderr
    assert "found '10 gigs'" in p.stderr
    d = harness.Daemon(tmp_path, name="second",
                       settings={"bundle_cache_max": "1MiB", "bundle_upload_max": "2MiB"})
    p = d.run("--check-config", check=False)
    assert p.returncode != 0
    assert "bundle_upload_max: 2097152 bytes is more than bundle_cache_max (1048576 bytes)" in p.stderr
    d = harness.Daemon(tmp_path, name="third", settings={"bundle_cache_max": "1.5GiB"})
    assert d.run("--check-config", check=False).returncode == 0
