"""Fixtures and helpers for the rolloutctl integration tests (test_cli_*.py).

    def test_x(ctl):                 # a running rolloutd (onprem enabled) + rolloutctl bound to it
        p = ctl("app", "create", "web")
        data = ctl.json("app", "list")

FakeAPI is a scripted stand-in for the parts of rolloutd other areas are still
building (bundle uploads, GetDeploymentLogs, a deployment that moves through
lifecycle events): it records every request so tests can check exactly what
rolloutctl sends.
"""

import hashlib
import http.server
import json
import os
import subprocess
import threading
import urllib.parse

import pytest

import harness


def rolloutctl_path():
    return harness.binary("rolloutctl")


def base_env():
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_") or k == "ROLLOUT_ENDPOINT":
            del env[k]
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    env["AWS_CONFIG_FILE"] = "/dev/null"
    env["NO_COLOR"] = "1"
    return env


class Ctl:
    """Runs rolloutctl against one endpoint with one key pair."""

    def __init__(self, endpoint, keys, region="us-east-1"):
        self.endpoint = endpoint
        self.keys = keys
        self.region = region

    def env(self, **extra):
        env = base_env()
        env.update({
            "ROLLOUT_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.keys["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": self.keys["SecretAccessKey"],
            "AWS_DEFAULT_REGION": self.region,
        })
        env.update(extra)
        return env

    def __call__(self, *args, expect=0, env=None, timeout=60, input=None):
        p = subprocess.run([rolloutctl_path(), *args], capture_output=True, text=True, timeout=timeout,
                           env=env or self.env(), input=input)
        if expect is not None and p.returncode != expect:
            raise AssertionError("rolloutctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s"
                                 % (" ".join(args), p.returncode, expect, p.stdout, p.stderr))
        return p

    def json(self, *args, **kw):
        p = self(*args, "-o", "json", **kw)
        return json.loads(p.stdout)


@pytest.fixture
def cli_daemon(daemon_factory):
    """A running rolloutd with the onprem platform plugin."""
    return daemon_factory(plugins={"onprem": {}})


@pytest.fixture
def ctl(cli_daemon):
    return Ctl(cli_daemon.url, cli_daemon.admin)


# ---------------------------------------------------------------- fake API


class FakeAPI:
    """A tiny HTTP server speaking the CodeDeploy JSON protocol for a few
    operations, with handlers tests can replace: fake.ops["GetDeployment"] =
    lambda body: {...}. Unknown operations answer UnknownOperationException.
    Every request is appended to fake.requests as (method, path, target,
    headers, body bytes)."""

    def __init__(self, part_size=1024):
        self.requests = []
        self.ops = {}
        self.uploads = {}
        self.part_size = part_size
        self.upload_route = True
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                target = self.headers.get("X-Amz-Target")
                fake.requests.append((self.command, self.path, target, dict(self.headers), body))
                if "Authorization" not in self.headers or "AWS4-HMAC-SHA256" not in self.headers["Authorization"]:
                    return self._send(403, {"__type": "MissingAuthenticationTokenException", "message": "unsigned"})
                url = urllib.parse.urlsplit(self.path)
                if url.path.startswith("/bundles/uploads"):
                    if not fake.upload_route:
                        return self._send(404, {"__type": "UnknownOperationException", "message": "no such route"})
                    return self._send(*fake.upload(self.command, url, body))
                if not target:
                    return self._send(400, {"__type": "UnknownOperationException", "message": "no target"})
                op = target.split(".", 1)[1]
                h = fake.ops.get(op)
                if not h:
                    return self._send(400, {"__type": "UnknownOperationException", "message": "unknown " + target})
                try:
                    out = h(json.loads(body or b"{}"))
                except FakeError as e:
                    return self._send(400, {"__type": e.type, "message": e.message})
                return self._send(200, out if out is not None else {})

            do_POST = _handle
            do_PUT = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def calls(self, op):
        return [json.loads(b or b"{}") for (m, p, t, h, b) in self.requests if t and t.endswith("." + op)]

    def upload(self, method, url, body):
        q = dict(urllib.parse.parse_qsl(url.query))
        if method == "POST":
            for k in ("sha256", "size", "bundleType"):
                if k not in q:
                    return 400, {"__type": "InvalidInputException", "message": "missing " + k}
            uid = "u-%d" % (len(self.uploads) + 1)
            self.uploads[uid] = {"query": q, "data": b""}
            return 200, {"uploadId": uid, "partSize": self.part_size, "offset": 0}
        uid = url.path.rsplit("/", 1)[1]
        u = self.uploads[uid]
        if int(q["offset"]) != len(u["data"]) or len(body) > self.part_size:
            return 409, {"__type": "InvalidInputException", "message": "bad offset", "offset": len(u["data"])}
        u["data"] += body
        size = int(u["query"]["size"])
        if len(u["data"]) < size:
            return 200, {"offset": len(u["data"])}
        sha = hashlib.sha256(u["data"]).hexdigest()
        if sha != u["query"]["sha256"]:
            return 400, {"__type": "InvalidRevisionException", "message": "sha256 mismatch"}
        loc = {"sha256": sha, "bundleType": u["query"]["bundleType"], "size": size}
        return 200, {"offset": size, "complete": True, "bundle": loc,
                     "revision": {"revisionType": "Bundle", "bundleLocation": loc}}


class FakeError(Exception):
    def __init__(self, type_, message):
        super().__init__(message)
        self.type = type_
        self.message = message


@pytest.fixture
def fake_api():
    f = FakeAPI()
    yield f
    f.close()


@pytest.fixture
def fake_ctl(fake_api):
    return Ctl(fake_api.url, {"AccessKeyId": "AKFAKE", "SecretAccessKey": "fake-secret"})
