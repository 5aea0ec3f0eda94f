"""Fixtures and helpers for the health, alarm and trigger tests.

Everything runs on 127.0.0.1 with free ports: a real Prometheus (Debian's
/usr/bin/prometheus) scraping a small in-process exporter whose error rate a
test raises, moto_server for CloudWatch / SNS / SQS, http.server instances
for http-check targets and webhook receivers, and the health-driver tool
(tests/integration/health_driver.c) that runs the daemon's alarm and trigger
modules with the real config and plugin loader."""

import atexit
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import pytest

import harness

MOTO = os.environ.get("MOTO_SERVER", "/root/.pyenv/shims/moto_server")
PROMETHEUS = os.environ.get("PROMETHEUS", "/usr/bin/prometheus")
REGION = "us-east-1"


def free_port():
    return harness.free_port()


def wait_port(port, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


def wait_for(pred, timeout=20.0, interval=0.1, what="condition"):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


# ---------------------------------------------------------------- small HTTP servers

class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler_cls):
    """Starts handler_cls on a free port in a thread; returns (server, port)."""
    srv = _Server(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


class Exporter:
    """A Prometheus exporter for a fake web app: each scrape adds 100 requests
    and error_ratio * 100 errors (counters), and shows the ratio as a gauge."""

    def __init__(self):
        self.error_ratio = 0.0
        self.requests = 0.0
        self.errors = 0.0
        self.lock = threading.Lock()
        ex = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/metrics":
                    self.send_error(404)
                    return
                with ex.lock:
                    ex.requests += 100
                    ex.errors += 100 * ex.error_ratio
                    body = ("# TYPE app_requests_total counter\napp_requests_total{app=\"web\"} %g\n"
                            "# TYPE app_errors_total counter\napp_errors_total{app=\"web\"} %g\n"
                            "# TYPE app_error_ratio gauge\napp_error_ratio{app=\"web\"} %g\n"
                            % (ex.requests, ex.errors, ex.error_ratio)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv, self.port = serve(H)

    def set_error_ratio(self, r):
        with self.lock:
            self.error_ratio = r

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class Prometheus:
    """A real Prometheus scraping `targets` every 500 ms, with its own storage."""

    def __init__(self, tmpdir, targets, basic_auth=None):
        """basic_auth: (user, password) sent with every scrape."""
        if not os.access(PROMETHEUS, os.X_OK):
            pytest.skip("prometheus is not installed (%s): apt-get install prometheus" % PROMETHEUS)
        self.dir = tempfile.mkdtemp(prefix="prom-", dir=str(tmpdir))
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        cfg = os.path.join(self.dir, "prometheus.yml")
        auth = ""
        if basic_auth:
            pw = os.path.join(self.dir, "password")
            with open(pw, "w") as f:
                f.write(basic_auth[1])
            auth = "    basic_auth:\n      username: '%s'\n      password_file: '%s'\n" % (basic_auth[0], pw)
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 500ms\n  evaluation_interval: 500ms\n"
                    "scrape_configs:\n  - job_name: app\n%s    static_configs:\n      - targets: [%s]\n"
                    % (auth, ", ".join("'127.0.0.1:%d'" % t for t in targets)))
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: self._ready(), timeout=30, what="prometheus ready")

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("prometheus exited: %s" % open(self.log.name).read()[-2000:])
        st, _ = harness.http_get(self.url + "/-/ready", timeout=0.5)
        return st == 200

    def query(self, q):
        with urllib.request.urlopen(self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": q}),
                                    timeout=5) as r:
            return json.loads(r.read())["data"]["result"]

    def wait_value(self, q, pred, timeout=20.0):
        """Waits until the query's first sample value satisfies pred."""
        def ok():
            res = self.query(q)
            return res and pred(float(res[0]["value"][1]))
        return wait_for(ok, timeout=timeout, what="%s to satisfy the predicate" % q)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class _MotoServer:
    """The moto_server process of this test process, started at its first use."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="moto-")
        self.log = open(os.path.join(self.dir, "moto.log"), "wb")
        self.proc, self.port = harness.start_on_free_port(lambda port: [MOTO, "-H", "127.0.0.1", "-p", str(port)],
                                                          stdout=self.log, stderr=subprocess.STDOUT,
                                                          stdin=subprocess.DEVNULL)
        self.url = "http://127.0.0.1:%d" % self.port

    def alive(self):
        return self.proc.poll() is None

    def reset(self):
        """Wipes every service's state (moto's own POST /moto-api/reset)."""
        urllib.request.urlopen(urllib.request.Request(self.url + "/moto-api/reset", method="POST"),
                               timeout=30).read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


_moto_server = None


class Moto:
    """moto_server with boto3 clients for it, empty for the test that takes it.

    One moto_server serves the tests of a test process one after the other
    (an xdist worker runs one test at a time), wiped when a test takes it:
    starting one costs about 1.5 s of CPU (it imports all its services), and
    the suite took over a hundred. One that died is started again."""

    def __init__(self):
        global _moto_server
        if not os.path.exists(MOTO):
            pytest.skip("moto_server not found (%s)" % MOTO)
        if _moto_server is None or not _moto_server.alive():
            if _moto_server is None:
                atexit.register(_stop_moto_server)
            _moto_server = _MotoServer()
        else:
            _moto_server.reset()
        self.server = _moto_server
        self.proc, self.port, self.url = self.server.proc, self.server.port, self.server.url

    def client(self, service):
        import boto3
        from botocore.config import Config
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, aws_access_key_id="testing",
                            aws_secret_access_key="testing",
                            config=Config(retries={"max_attempts": 1}))

    def close(self):
        """The server stays for the next test (which wipes it)."""


def _stop_moto_server():
    if _moto_server is not None and _moto_server.alive():
        _moto_server.stop()


def aws_env(moto=None, **extra):
    """Environment for rolloutd / the driver: dummy AWS keys, no IMDS, SNS at moto."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
              "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent"})
    if moto:
        e["AWS_ENDPOINT_URL_SNS"] = moto.url
    e.update({k: str(v) for k, v in extra.items()})
    return e


class HealthServer:
    """http-check target: GET /health answers self.status with self.body
    (503 for the first `unhealthy_first` requests)."""

    def __init__(self, status=200, body='{"status": "ok"}', unhealthy_first=0):
        self.status = status
        self.body = body
        self.hits = 0
        self.unhealthy_first = unhealthy_first  # answer 503 to the first N requests (warming up)
        hs = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hs.hits += 1
                b = hs.body.encode()
                self.send_response(503 if hs.hits <= hs.unhealthy_first else hs.status)
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def log_message(self, *a):
                pass

        self.srv, self.port = serve(H)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class WebhookReceiver:
    """Records JSON POSTs; the first `fail_first` answer 500."""

    def __init__(self, fail_first=0, status=200, port=0):
        self.received = []
        self.fail_first = fail_first
        self.status = status
        self.lock = threading.Lock()
        rx = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rx.lock:
                    rx.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    code = 500 if rx.fail_first > 0 else rx.status
                    rx.fail_first -= 1
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = _Server(("127.0.0.1", port), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/hook" % self.port

    def json_bodies(self):
        with self.lock:
            return [json.loads(r["body"]) for r in self.received]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


# ---------------------------------------------------------------- the driver

def write_config(tmp_path, plugins, alarms=None, name="rolloutd.yml", settings=None):
    """A daemon config (JSON is YAML) with a plugin dir of the named plugins;
    settings: more top-level settings."""
    pdir = os.path.join(str(tmp_path), "plugins-" + name)
    if not os.path.exists(pdir):
        harness.plugin_dir(pdir, names=list(plugins))
    cfg = {"listen": "127.0.0.1:%d" % free_port(), "data_dir": os.path.join(str(tmp_path), "data"),
           "plugin_dir": pdir, "plugins": plugins, "log_level": "debug"}
    if alarms:
        cfg["alarms"] = alarms
    cfg.update(settings or {})
    p = os.path.join(str(tmp_path), name)
    with open(p, "w") as f:
        json.dump(cfg, f, indent=1)
    return p


def driver_path():
    p = os.path.join(harness.builddir(), "tests", "integration", "health-driver")
    if not os.access(p, os.X_OK):
        pytest.fail("health-driver is not built: run make check (or make tests/integration/health-driver) in %s"
                    % harness.builddir(), pytrace=False)
    return p


def driver(config, *args, env=None, timeout=60):
    """Runs health-driver; returns (exit code, [JSON lines], stderr)."""
    p = subprocess.run([driver_path(), "--config", config, *args], capture_output=True, text=True,
                       timeout=timeout, env=env or aws_env())
    assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr
    return p.returncode, [json.loads(l) for l in p.stdout.splitlines() if l.strip()], p.stderr


def check(config, alarm, instance=None, env=None):
    args = ["check", alarm] + (["--instance", instance] if instance else [])
    rc, out, err = driver(config, *args, env=env)
    assert len(out) == 1, (rc, out, err)
    return out[0]


class Watch:
    """health-driver watch in the background: the first line says whether it
    is watching, the second whether (and why) it fired."""

    def __init__(self, config, group, deployment=None, seconds=30, env=None):
        args = [driver_path(), "--config", config, "watch", "--seconds", str(seconds), json.dumps(group)]
        if deployment is not None:
            args.append(json.dumps(deployment))
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env or aws_env())
        # stderr is drained by a thread: the debug log may fill its pipe
        # while stdout is read line by line here
        self._err = []
        self._err_reader = threading.Thread(target=lambda: self._err.append(self.proc.stderr.read()),
                                            daemon=True)
        self._err_reader.start()
        line = self.proc.stdout.readline()
        if not line:
            self._err_reader.join(timeout=10)
        assert line, "".join(self._err)
        self.started = json.loads(line)

    def result(self, timeout=60):
        # read stdout through the same buffered reader as the first line:
        # when the watch fires at once both lines arrive together, and
        # communicate() would read past the buffer that already holds the
        # second one
        out = self.proc.stdout.read()
        self.proc.wait(timeout=timeout)
        self._err_reader.join(timeout=timeout)
        err = "".join(self._err)
        assert self.proc.returncode == 0, err
        assert "Sanitizer" not in err and "runtime error:" not in err, err
        self.stderr = err
        return json.loads(out.strip().splitlines()[-1])


def group_doc(alarms, enabled=True, ignore=False, rollback_on_alarm=True, triggers=None):
    g = {"applicationName": "app", "deploymentGroupName": "grp",
         "alarmConfiguration": {"enabled": enabled, "ignorePollAlarmFailure": ignore,
                                "alarms": [{"name": a} for a in alarms]},
         "autoRollbackConfiguration": {"enabled": rollback_on_alarm,
                                       "events": ["DEPLOYMENT_STOP_ON_ALARM"] if rollback_on_alarm else []}}
    if triggers is not None:
        g["triggerConfigurations"] = triggers
    return g
