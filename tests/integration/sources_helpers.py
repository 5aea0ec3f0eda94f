"""Fixtures and helpers for the revision-source and bundle-cache tests.

Everything runs on 127.0.0.1 with free ports: moto_server for S3, small
http.server instances for GitHub, Bitbucket, plain HTTP and IMDS.
ROLLOUT_BUILDDIR names the build directory (default: the newest _build/* with
a rolloutd binary)."""

import glob
import hashlib
import shutil
import http.server
import io
import json
import os
import socket
import subprocess
import tarfile
import threading
import time
import urllib.request
import zipfile

import pytest

import harness

MOTO = os.environ.get("MOTO_SERVER") or shutil.which("moto_server") or "/root/.pyenv/shims/moto_server"
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def builddir():
    d = os.environ.get("ROLLOUT_BUILDDIR")
    if d:
        return os.path.abspath(d)
    cands = [os.path.dirname(p) for p in glob.glob(os.path.join(TOP, "_build", "*", "rolloutd"))]
    cands.append(TOP)
    cands = [c for c in cands if os.path.exists(os.path.join(c, "rolloutd"))]
    if not cands:
        pytest.skip("no build directory with rolloutd: set ROLLOUT_BUILDDIR")
    return max(cands, key=lambda c: os.path.getmtime(os.path.join(c, "rolloutd")))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


def plugin_dir(tmp_path, names):
    """A directory with <name>.so symlinks to the built plugins."""
    d = tmp_path / "plugins"
    d.mkdir(exist_ok=True)
    b = builddir()
    for n in names:
        so = os.path.join(b, "plugins", n, ".libs", n + ".so")
        if not os.path.exists(so):
            pytest.skip("plugin %s is not built (%s)" % (n, so))
        link = d / (n + ".so")
        if not link.exists():
            link.symlink_to(so)
    return str(d)


def write_config(tmp_path, plugins, data_dir=None, extra=None):
    """JSON is YAML: the daemon config as a JSON document."""
    cfg = {
        "listen": "127.0.0.1:%d" % free_port(),
        "data_dir": str(data_dir or (tmp_path / "data")),
        "plugin_dir": plugin_dir(tmp_path, list(plugins)),
        "plugins": plugins,
    }
    if extra:
        cfg.update(extra)
    p = tmp_path / "rolloutd.yml"
    p.write_text(json.dumps(cfg, indent=1))
    return str(p)


def fetch(config, revision, parallel=1, env=None, timeout=60, platform=None):
    """Runs sources-fetch; returns (exit code, [result dicts], stderr)."""
    tool = os.path.join(builddir(), "tests", "integration", "sources-fetch")
    if not os.path.exists(tool):
        pytest.skip("sources-fetch is not built: make check_PROGRAMS")
    e = dict(os.environ)
    if env is not None:
        e = env
    args = [tool, "--config", config, "--parallel", str(parallel)]
    if platform:
        args += ["--platform", platform]
    p = subprocess.run(args + [json.dumps(revision)],
                       capture_output=True, text=True, timeout=timeout, env=e)
    res = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    return p.returncode, res, p.stderr


def clean_env(**extra):
    """An environment without AWS credentials, profiles or IMDS."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e["HOME"] = "/nonexistent"
    e["AWS_EC2_METADATA_DISABLED"] = "true"
    e.update(extra)
    return e


# ---------------------------------------------------------------- bundles

GOOD_APPSPEC = """version: 0.0
os: linux
files:
  - source: app
    destination: /opt/app
hooks:
  AfterInstall:
    - location: scripts/after.sh
      timeout: 60
  ApplicationStart:
    - location: scripts/start.sh
"""


def app_files(appspec=GOOD_APPSPEC, scripts=("scripts/after.sh", "scripts/start.sh"), mode=0o755):
    files = {"appspec.yml": (appspec.encode(), 0o644), "app/index.html": (b"<h1>hello</h1>\n", 0o644)}
    for s in scripts:
        files[s] = (b"#!/bin/sh\necho " + s.encode() + b"\n", mode)
    return files


def make_zip(files, prefix=""):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, (data, mode) in sorted(files.items()):
            zi = zipfile.ZipInfo(prefix + name, date_time=(2024, 1, 1, 0, 0, 0))
            zi.external_attr = ((0o100000 | mode) << 16)
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return buf.getvalue()


def make_tgz(files, prefix=""):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        if prefix:
            ti = tarfile.TarInfo(prefix.rstrip("/"))
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            t.addfile(ti)
        for name, (data, mode) in sorted(files.items()):
            ti = tarfile.TarInfo(prefix + name)
            ti.size = len(data)
            ti.mode = mode
            ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def sha256(b):
    return hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------- servers

@pytest.fixture(scope="module")
def moto_server():
    if not os.access(MOTO, os.X_OK):
        pytest.skip("moto_server is not installed (pipx install 'moto[server]'); S3 tests need it")
    p, port = harness.start_on_free_port(lambda port: [MOTO, "-H", "127.0.0.1", "-p", str(port)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield "http://127.0.0.1:%d" % port
    finally:
        p.terminate()
        p.wait(10)


@pytest.fixture
def moto(moto_server):
    """moto_server's endpoint, wiped before each test."""
    urllib.request.urlopen(urllib.request.Request(moto_server + "/moto-api/reset", method="POST")).read()
    return moto_server


def s3_client(endpoint):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDTEST",
                        aws_secret_access_key="secret", config=Config(s3={"addressing_style": "path"},
                                                                      retries={"max_attempts": 1}))


class Recorder:
    """Requests a RouteServer saw: (method, path, headers)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []

    def add(self, r):
        with self.lock:
            self.requests.append(r)

    def count(self, pred=lambda r: True):
        with self.lock:
            return sum(1 for r in self.requests if pred(r))


class RouteServer:
    """A threaded HTTP server whose handler is a function
    (method, path, headers) -> (status, headers dict, body bytes)."""

    def __init__(self, handler):
        self.rec = Recorder()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _do(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                outer.rec.add((self.command, self.path, dict(self.headers)))
                status, hdrs, body = handler(self.command, self.path, self.headers)
                self.send_response(status)
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_HEAD = _do

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def route_server():
    servers = []

    def make(handler):
        s = RouteServer(handler)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.close()


def git_repo(path, files):
    """Creates a git repository with files, returns its commit id."""
    os.makedirs(path, exist_ok=True)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com", GIT_AUTHOR_DATE="2024-01-01T00:00:00Z",
               GIT_COMMITTER_DATE="2024-01-01T00:00:00Z")
    subprocess.run(["git", "init", "-q", path], check=True, env=env)
    for name, (data, mode) in files.items():
        fp = os.path.join(path, name)
        os.makedirs(os.path.dirname(fp), exist_ok=True)
        with open(fp, "wb") as f:
            f.write(data)
        os.chmod(fp, mode)
    subprocess.run(["git", "-C", path, "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", path, "commit", "-q", "-m", "app"], check=True, env=env)
    return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], check=True, env=env, capture_output=True,
                          text=True).stdout.strip()


def git_archive(path, commit, fmt, prefix):
    return subprocess.run(["git", "-C", path, "archive", "--format=" + fmt, "--prefix=" + prefix, commit],
                          check=True, capture_output=True).stdout
