"""Helpers for the traffic-control tests: a real HAProxy on loopback, small
HTTP apps as its servers, a client that sends requests throughout and
reports how the traffic split over time, and the traffic-ctl driver.

HAProxy is Debian's /usr/sbin/haproxy, started with a config in a tmp dir,
a stats socket there at `level admin`, and settings that make a server
change invisible to clients: retries with redispatch on connection
failures, fast health checks."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import http.client

import harness

HAPROXY = "/usr/sbin/haproxy"
APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "traffic_app.py")
PYTHON = "/usr/bin/python3"


def wait_port(port, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    raise harness.HarnessError("nothing listens on 127.0.0.1:%d after %.0fs" % (port, timeout))


class App:
    """traffic_app.py as a process: one HAProxy server."""

    def __init__(self, name, port=None, version="v1"):
        self.name = name
        self.port = port or harness.free_port()
        self.version = version
        self.proc = None

    def start(self, version=None):
        if version:
            self.version = version
        self.proc = subprocess.Popen([PYTHON, APP, "--port", str(self.port), "--name", self.name,
                                      "--version", self.version], stdin=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Haproxy:
    """One HAProxy: frontend on a free port, backends {name: [(server, port), ...]}."""

    def __init__(self, tmp_path, backends, stats_level="admin", checks=True):
        self.dir = os.path.join(str(tmp_path), "haproxy")
        os.makedirs(self.dir, exist_ok=True)
        self.port = harness.free_port()
        self.socket = os.path.join(self.dir, "admin.sock")
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.backends = backends
        first = next(iter(backends))
        lines = [
            "global",
            "  stats socket %s level %s" % (self.socket, stats_level),
            "  stats timeout 10s",
            "defaults",
            "  mode http",
            "  timeout connect 1s",
            "  timeout client 10s",
            "  timeout server 10s",
            "  timeout queue 5s",
            "  retries 3",
            "  option redispatch 1",
            "  retry-on conn-failure empty-response response-timeout",
            "frontend fe",
            "  bind 127.0.0.1:%d" % self.port,
            "  default_backend %s" % first,
        ]
        for be, servers in backends.items():
            lines += ["backend %s" % be, "  balance roundrobin"]
            for name, port in servers:
                lines.append("  server %s 127.0.0.1:%d%s" % (
                    name, port, " check inter 100ms fall 1 rise 1" if checks else ""))
        with open(self.cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([HAPROXY, "-f", self.cfg, "-db"], stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise harness.HarnessError("haproxy did not start: %s" % open(self.log_path).read())
            time.sleep(0.02)
        wait_port(self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
            self._log.close()
        self.proc = None

    def cmd(self, line):
        """One Runtime API command; the answer as text."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.socket)
            s.sendall(line.encode() + b"\n")
            out = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        return out.decode()

    def server_states(self, backend):
        """{server: (admin_state, weight)} from `show servers state`."""
        out = {}
        for ln in self.cmd("show servers state %s" % backend).splitlines()[2:]:
            f = ln.split()
            if len(f) > 8:
                out[f[3]] = (int(f[6]), int(f[7]))
        return out

    def wait_up(self, backend, servers, timeout=5.0):
        """Waits until the health checks see every server in `servers` UP."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st = {}
            for ln in self.cmd("show stat").splitlines():
                f = ln.split(",")
                if len(f) > 17 and f[0] == backend:
                    st[f[1]] = f[17]
            if all(st.get(s, "").startswith("UP") for s in servers):
                return
            time.sleep(0.05)
        raise harness.HarnessError("servers %s of %s not UP: %s" % (servers, backend, st))


class Client:
    """Sends GET / through HAProxy continuously (a new connection each time)
    and records (t, status, body)."""

    def __init__(self, port, interval=0.004):
        self.port = port
        self.interval = interval
        self.results = []  # (t, status, body)
        self._stop = threading.Event()
        self._t = None
        self.t0 = None
        self.marks = []  # (t, label)

    def _run(self):
        while not self._stop.is_set():
            t = time.monotonic() - self.t0
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/", headers={"Connection": "close"})
                r = c.getresponse()
                body = r.read().decode(errors="replace").strip()
                self.results.append((t, r.status, body))
                c.close()
            except Exception as e:  # noqa: BLE001 - every failure counts
                self.results.append((t, 0, "ERROR %s" % e))
            time.sleep(self.interval)

    def start(self):
        self.t0 = time.monotonic()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def mark(self, label):
        self.marks.append((time.monotonic() - self.t0, label))

    def stop(self):
        self._stop.set()
        self._t.join(10)

    def failures(self):
        return [r for r in self.results if r[1] != 200]

    def split(self, bucket=0.5, key=lambda body: body):
        """[(t_start, {key(body): count})] per `bucket` seconds."""
        out = {}
        for t, status, body in self.results:
            k = key(body) if status == 200 else "FAILED"
            b = int(t / bucket)
            out.setdefault(b, {}).setdefault(k, 0)
            out[b][k] += 1
        return [(b * bucket, out[b]) for b in sorted(out)]

    def report(self, title, bucket=0.5, key=lambda body: body):
        """Prints requests sent, failures, the marks and the split over time."""
        lines = ["== %s: %d requests sent, %d failed" % (title, len(self.results), len(self.failures()))]
        marks = list(self.marks)
        for t, counts in self.split(bucket, key):
            while marks and marks[0][0] < t + bucket:
                lines.append("   -- %6.2fs %s" % marks[0])
                marks.pop(0)
            total = sum(counts.values())
            parts = ", ".join("%s %d (%d%%)" % (k, v, round(100.0 * v / total)) for k, v in sorted(counts.items()))
            lines.append("   %6.2fs  %s" % (t, parts))
        for m in marks:
            lines.append("   -- %6.2fs %s" % m)
        text = "\n".join(lines)
        print(text)
        sys.stdout.flush()
        return text

    def counts(self, t_from=0.0, t_to=1e9, key=lambda body: body):
        out = {}
        for t, status, body in self.results:
            if t_from <= t < t_to and status == 200:
                out[key(body)] = out.get(key(body), 0) + 1
        return out


def traffic_ctl_path():
    return os.path.join(harness.builddir(), "tests", "integration", "traffic-ctl")


class TrafficCtl:
    """tests/integration/traffic-ctl with a rolloutd config naming the haproxy plugin."""

    def __init__(self, tmp_path, hx, group, plugin_settings=None):
        self.dir = os.path.join(str(tmp_path), "traffic-ctl")
        os.makedirs(self.dir, exist_ok=True)
        pdir = os.path.join(self.dir, "plugins")
        if not os.path.exists(pdir):
            harness.plugin_dir(pdir, ["haproxy"])
        settings = {"socket": hx.socket, "timeout": "2s"}
        settings.update(plugin_settings or {})
        self.config = os.path.join(self.dir, "rolloutd.yaml")
        with open(self.config, "w") as f:
            json.dump({"data_dir": os.path.join(self.dir, "data"), "plugin_dir": pdir,
                       "plugins": {"haproxy": settings}}, f)
        self.group = json.dumps(group)

    def run(self, *args, check=True, timeout=60, on_line=None):
        """Runs traffic-ctl; returns (rc, [json lines]). on_line(obj) sees each line as it comes."""
        p = subprocess.Popen([traffic_ctl_path(), "--config", self.config, "--group", self.group, *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        for ln in p.stdout:
            ln = ln.strip()
            if not ln:
                continue
            o = json.loads(ln)
            lines.append(o)
            if on_line:
                on_line(o)
        rc = p.wait(timeout)
        err = p.stderr.read()
        if check and rc != 0:
            raise harness.HarnessError("traffic-ctl %s failed (%d): %s %s" % (" ".join(args), rc, lines, err))
        return rc, lines


def group_json(backends, blue_green=False):
    return {
        "deploymentStyle": {"deploymentType": "BLUE_GREEN" if blue_green else "IN_PLACE",
                            "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "loadBalancerInfo": {"targetGroupInfoList": [{"name": b} for b in backends]},
    }
