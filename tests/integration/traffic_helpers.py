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
                    name, port, " check inter 100ms fall 3 rise 1" if checks else ""))
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


# ---------------------------------------------------------------------------
# End to end: rolloutd + real rollout-agents whose hooks run traffic_app.py

HOOK_ENV = 'ROOT=$(cd "$(dirname "$0")/../../../.." && pwd); . "$ROOT/app.env"; ' \
           'DIR=$(cd "$(dirname "$0")/.." && pwd); echo "$LIFECYCLE_EVENT $(cat "$DIR/VERSION")" >> "$ROOT/events.log"'

HOOKS = {
    "stop.sh": HOOK_ENV + '''
if [ -f "$ROOT/app.pid" ]; then
  pid=$(cat "$ROOT/app.pid"); kill "$pid" 2>/dev/null
  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
  rm -f "$ROOT/app.pid"
fi''',
    "start.sh": HOOK_ENV + '''
setsid /usr/bin/python3 "$DIR/app.py" --port "$APP_PORT" --name "$APP_NAME" --version "$(cat "$DIR/VERSION")" \\
  --pidfile "$ROOT/app.pid" > "$ROOT/app.log" 2>&1 < /dev/null &
i=0; while [ ! -f "$ROOT/app.pid" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
[ -f "$ROOT/app.pid" ]''',
    "validate.sh": HOOK_ENV + '''
want="$APP_NAME $(cat "$DIR/VERSION")"
i=0; while [ $i -lt 100 ]; do
  got=$(/usr/bin/python3 -c "import urllib.request,sys; print(urllib.request.urlopen('http://127.0.0.1:$APP_PORT/', timeout=1).read().decode().strip())" 2>/dev/null)
  [ "$got" = "$want" ] && exit 0
  sleep 0.05; i=$((i+1))
done
echo "app answered '$got', wanted '$want'" >&2; exit 1''',
    # fails where the test put a file fail-<event> into the agent's root
    "note.sh": HOOK_ENV + '''
if [ -f "$ROOT/fail-$LIFECYCLE_EVENT" ]; then echo "failing $LIFECYCLE_EVENT as asked" >&2; exit 5; fi''',
}

APPSPEC = """version: 0.0
os: linux
hooks:
  ApplicationStop:
    - location: scripts/stop.sh
  ApplicationStart:
    - location: scripts/start.sh
  ValidateService:
    - location: scripts/validate.sh
  BeforeBlockTraffic:
    - location: scripts/note.sh
  AfterBlockTraffic:
    - location: scripts/note.sh
  BeforeAllowTraffic:
    - location: scripts/note.sh
  AfterAllowTraffic:
    - location: scripts/note.sh
"""


def make_app_bundle(path, version):
    """A tgz revision: appspec.yml, the hook scripts, app.py (traffic_app.py) and VERSION."""
    from agent_helpers import make_bundle, script
    with open(APP) as f:
        app = f.read()
    files = {"appspec.yml": APPSPEC, "app.py": app, "VERSION": version + "\n"}
    for name, body in HOOKS.items():
        files["scripts/" + name] = script(body)
    return make_bundle(path, files)


MOTO = os.environ.get("MOTO_SERVER", "/root/.pyenv/shims/moto_server")


class S3:
    """moto_server on loopback: where revisions live; rolloutd's s3 plugin fetches them into its
    bundle cache and agents download them from rolloutd."""

    def __init__(self):
        self.proc, self.port = harness.start_on_free_port(lambda port: [MOTO, "-H", "127.0.0.1", "-p", str(port)],
                                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.endpoint = "http://127.0.0.1:%d" % self.port
        import boto3
        from botocore.config import Config
        self.client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                                   aws_access_key_id="AKIDTEST", aws_secret_access_key="secret",
                                   config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
        self.client.create_bucket(Bucket="revisions")

    def plugin_settings(self):
        return {"endpoint": self.endpoint, "region": "us-east-1", "access_key_id": "AKIDTEST",
                "secret_access_key": "secret"}

    def put(self, path):
        key = os.path.basename(path)
        with open(path, "rb") as f:
            etag = self.client.put_object(Bucket="revisions", Key=key, Body=f.read())["ETag"].strip('"')
        return {"revisionType": "S3", "s3Location": {"bucket": "revisions", "key": key, "bundleType": "tgz",
                                                     "eTag": etag}}

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def serves_bundles(d):
    """True when rolloutd runs its bundle cache (GET /bundles/ is routed), which real agents need."""
    st, body = harness.http_get(d.url + "/bundles/" + "0" * 64)
    return not (st == 400 and b"X-Amz-Target" in body)


class AppFleet:
    """An application and deployment group with traffic control over four (or n)
    registered on-prem instances, each with a real rollout-agent whose hooks run
    traffic_app.py on the instance's own port, behind one HAProxy backend."""

    def __init__(self, d, tmp_path, ports, s3, group_kw=None, config=None, tags=None):
        from engine_helpers import Signed
        from agent_helpers import Agent
        self.d = d
        self.s3 = s3
        self.tmp = str(tmp_path)
        self.cd = d.boto3_client(d.admin)
        self.admin = Signed(d.url, d.admin, "codedeploy", timeout=30)
        self.app, self.group = "web-app", "web-group"
        self.names = list(ports)
        self.ports = dict(ports)
        self.cd.create_application(applicationName=self.app)
        kw = dict(applicationName=self.app, deploymentGroupName=self.group,
                  serviceRoleArn="arn:aws:iam::000000000000:role/cd",
                  onPremisesInstanceTagFilters=[{"Key": "role", "Value": "web", "Type": "KEY_AND_VALUE"}],
                  deploymentStyle={"deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
                  loadBalancerInfo={"targetGroupInfoList": [{"name": "web"}]})
        if config:
            kw["deploymentConfigName"] = config
        kw.update(group_kw or {})
        self.cd.create_deployment_group(**kw)
        self.agents = {}
        for name in self.names:
            arn = "arn:aws:iam::000000000000:user/%s" % name
            self.cd.register_on_premises_instance(instanceName=name, iamUserArn=arn)
            tagl = [{"Key": "role", "Value": "web"}] + [{"Key": k, "Value": v} for k, v in (tags or {}).get(name, {}).items()]
            self.cd.add_tags_to_on_premises_instances(tags=tagl, instanceNames=[name])
            keys = self.admin.call("Rolloutd_v1.CreateAccessKey",
                                   {"Name": "agent-" + name, "Policy": "agent", "InstanceName": name})
            a = Agent(self.tmp, d.url, arn, keys["AccessKeyId"], keys["SecretAccessKey"],
                      os.path.join(d.data_dir, "daemon.crt"), name="agent-" + name, heartbeat="2s")
            os.makedirs(a.root_dir, exist_ok=True)
            with open(os.path.join(a.root_dir, "app.env"), "w") as f:
                f.write("APP_PORT=%d\nAPP_NAME=%s\n" % (self.ports[name], name))
            self.agents[name] = a.start()

    def deploy(self, version, **kw):
        path = os.path.join(self.tmp, "app-%s.tgz" % version)
        make_app_bundle(path, version)
        rev = self.s3.put(path)
        body = {"applicationName": self.app, "deploymentGroupName": self.group, "revision": rev}
        body.update(kw)
        return self.admin.call("CodeDeploy_20141006.CreateDeployment", body)["deploymentId"]

    def wait(self, dep, timeout=120):
        end = time.time() + timeout
        info = None
        while time.time() < end:
            info = self.cd.get_deployment(deploymentId=dep)["deploymentInfo"]
            if info["status"] in ("Succeeded", "Failed", "Stopped"):
                return info
            time.sleep(0.1)
        raise AssertionError("deployment %s still %s after %ds:\n%s" % (
            dep, info and info["status"], timeout, self.d.log_tail(60)))

    def events(self, dep, name):
        t = self.cd.get_deployment_target(deploymentId=dep, targetId=name)["deploymentTarget"]["instanceTarget"]
        return [(e["lifecycleEventName"], e["status"]) for e in t["lifecycleEvents"]]

    def hook_log(self, name):
        try:
            with open(os.path.join(self.agents[name].root_dir, "events.log")) as f:
                return f.read().split("\n")
        except FileNotFoundError:
            return []

    def stop(self):
        for name, a in self.agents.items():
            if a.proc:
                a.stop()
            # every app the hooks started under this instance's root (not only the last pid file)
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        cmd = f.read().decode(errors="replace")
                    if a.root_dir + "/" in cmd and "app.py" in cmd:
                        os.kill(int(pid), signal.SIGTERM)
                except OSError:
                    pass


def wait_until(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))
