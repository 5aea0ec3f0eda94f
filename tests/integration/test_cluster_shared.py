"""What the daemons of a cluster share besides the tables (docs/cluster.md):
two rolloutd on one PostgreSQL database (a real server from Debian's
packages, started by the test).

Bundles: one uploaded through daemon A is downloaded through daemon B, which
never saw the upload: B copies it from the database into its own cache,
sha256 checked, and serves it from there afterwards.

Keys: both daemons sign specifications with the same key (the first stored
it in the database, the second wrote it into its data_dir) and serve the
same TLS certificate; a daemon with another KEK, another TLS certificate or
another signing key in its data_dir is refused at start with a message
naming the file. Skipped when the PostgreSQL server binaries are absent."""

import hashlib
import json
import os

import subprocess

import pytest

import harness
from sources_helpers import app_files, make_zip
from test_sources_bundles import signed
from pg_helpers import PASSWORD, db_name, pg  # noqa: F401


@pytest.fixture
def settings(pg, tmp_path, request):
    """The settings of a daemon on a fresh database of its own test."""
    db = db_name(request)
    pg.psql('CREATE DATABASE "%s" OWNER rolloutd' % db)
    pwfile = tmp_path / "store-password"
    pwfile.write_text(PASSWORD + "\n")
    pwfile.chmod(0o600)
    return {"long_poll": "5s",
            "store": "postgresql://rolloutd@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=5" % (pg.port, db),
            "store_password_file": str(pwfile), "db": db}


def on_db(settings, **more):
    s = {k: v for k, v in settings.items() if k != "db"}
    s.update(more)
    return s


@pytest.fixture
def pair(daemon_factory, settings):
    """Two daemons on one fresh database, with one KEK (A's, given to B by
    kek_file) and their own data_dir each: (a, b, db)."""
    a = daemon_factory(name="a", settings=on_db(settings))
    b = daemon_factory(name="b", settings=on_db(settings, kek_file=os.path.join(a.data_dir, "kek")))
    return a, b, settings["db"]


def refused(tmp_path, name, settings, tls=None):
    """A daemon that must not start: the log of its attempt."""
    d = harness.Daemon(tmp_path, settings=settings, name=name, tls=tls)
    with pytest.raises(harness.HarnessError) as e:
        d.start(timeout=10)
    d.proc = None
    return str(e.value)


def upload(d, data, part=1 << 20):
    sha = hashlib.sha256(data).hexdigest()
    st, _, body = signed(d, d.admin, "POST", "/bundles/uploads?sha256=%s&size=%d&bundleType=zip" % (sha, len(data)),
                         service="codedeploy")
    assert st == 200, body
    r = json.loads(body)
    off = 0
    while off < len(data):
        st, _, body = signed(d, d.admin, "PUT", "/bundles/uploads/%s?offset=%d" % (r["uploadId"], off),
                             body=data[off:off + part], service="codedeploy")
        assert st == 200, body
        off = json.loads(body)["offset"]
    return sha, json.loads(body)


def test_bundle_uploaded_to_one_daemon_is_served_by_another(pair, pg):
    a, b, db = pair
    # several chunks of the database's, incompressible
    data = make_zip(dict(app_files(), **{"app/big.bin": (os.urandom(3 * 1024 * 1024 + 4321), 0o644)}))
    sha, done = upload(a, data)
    assert done["complete"] is True
    # in the database once the upload answered complete, in 1 MiB chunks
    rows = pg.psql("SELECT size, chunks, complete_time IS NOT NULL FROM bundle_blobs WHERE sha256 = '%s'" % sha,
                   db=db)
    assert rows == [[str(len(data)), str((len(data) + (1 << 20) - 1) >> 20), "t"]], rows
    assert not os.path.exists(os.path.join(b.data_dir, "bundles", "objects", sha))

    # B never saw it: copied from the database, then served
    st, h, got = signed(b, b.admin, "GET", "/bundles/" + sha)
    assert st == 200, got
    assert hashlib.sha256(got).hexdigest() == sha and got == data
    assert os.path.exists(os.path.join(b.data_dir, "bundles", "objects", sha))
    assert "copied from the database" in b.log_tail(50)

    # from B's cache now: the database's copy is not needed any more
    pg.psql("DELETE FROM bundle_blobs WHERE sha256 = '%s'" % sha, db=db)
    st, h, got = signed(b, b.admin, "GET", "/bundles/" + sha, headers={"Range": "bytes=100-199"})
    assert st == 206 and got == data[100:200]
    # and a bundle nobody has is still a clear 404
    st, _, body = signed(b, b.admin, "GET", "/bundles/" + "0" * 64)
    assert st == 404 and b"not in the cache" in body


def test_upload_known_to_another_daemon_needs_no_bytes(pair, pg):
    a, b, db = pair
    data = make_zip(app_files())
    sha, _ = upload(a, data)
    # B answers complete at once: it has it through the database
    st, _, body = signed(b, b.admin, "POST", "/bundles/uploads?sha256=%s&size=%d&bundleType=zip" % (sha, len(data)),
                         service="codedeploy")
    assert st == 200 and json.loads(body)["complete"] is True, body


def test_daemon_with_another_kek_is_refused(daemon_factory, settings, tmp_path):
    a = daemon_factory(name="a", settings=on_db(settings))
    other = tmp_path / "other-kek"
    other.write_text(os.urandom(32).hex() + "\n")
    other.chmod(0o600)
    log = refused(tmp_path, "c", on_db(settings, kek_file=str(other)))
    assert "kek_file %s is not the KEK the other daemons on this database use" % other in log, log
    # nor can 'rolloutd access-key' seal a key under it
    c = harness.Daemon(tmp_path, settings=on_db(settings, kek_file=str(other)), name="c2")
    c.write_config()
    r = c.run("access-key", "create", "--name", "x", "--policy", "admin", check=False)
    assert r.returncode != 0 and "is not the KEK the other daemons" in r.stderr, (r.stdout, r.stderr)
    # A's own is still fine
    assert a.proc.poll() is None


def test_daemons_share_signing_key_and_tls_certificate(daemon_factory, settings, tmp_path):
    pki = harness.make_pki(tmp_path / "pki")
    a = daemon_factory(name="a", settings=on_db(settings), tls=pki)
    b = daemon_factory(name="b", settings=on_db(settings, kek_file=os.path.join(a.data_dir, "kek")), tls=pki)
    for f in ("daemon.crt", "daemon.key"):
        with open(os.path.join(a.data_dir, f), "rb") as x, open(os.path.join(b.data_dir, f), "rb") as y:
            assert x.read() == y.read(), f
    assert os.stat(os.path.join(b.data_dir, "daemon.key")).st_mode & 0o077 == 0
    assert "wrote the signing key every daemon on this database uses" in b.log()
    # both answer over TLS with the one certificate
    for d in (a, b):
        assert harness.http_get(d.url + "/health")[0] == 200
    kek = os.path.join(a.data_dir, "kek")

    # another TLS certificate: refused, agents pin one
    other = harness.make_pki(tmp_path / "pki2")
    log = refused(tmp_path, "c", on_db(settings, kek_file=kek), tls=other)
    assert "agents pin one certificate" in log and other["server_cert"] in log, log
    # plain HTTP beside daemons serving TLS: refused too
    log = refused(tmp_path, "d", on_db(settings, kek_file=kek))
    assert "plain HTTP" in log and "agents pin one certificate" in log, log

    # a data_dir holding another signing key: refused, naming it
    e = harness.Daemon(tmp_path, settings=on_db(settings, kek_file=kek), name="e", tls=pki)
    os.makedirs(e.data_dir, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", os.path.join(e.data_dir, "daemon.key"), "-out", os.path.join(e.data_dir, "daemon.crt"),
                    "-subj", "/CN=other", "-days", "1"], check=True, capture_output=True)
    os.chmod(os.path.join(e.data_dir, "daemon.key"), 0o600)
    log = refused(tmp_path, "e", on_db(settings, kek_file=kek), tls=pki)
    assert "%s/daemon.crt" % e.data_dir in log and "is not the certificate the daemons on this database sign" in log
