"""Shared integration-test harness: real rolloutd processes on 127.0.0.1.

ROLLOUT_BUILDDIR must name the build directory (the one holding ./rolloutd);
scripts/test sets it. Nothing here guesses a default.

Typical use (see conftest.py for the fixtures built on it):

    d = Daemon(tmp_path, plugins={"example-health": {}})
    keys = d.create_access_key("admin", "admin")   # offline, before start
    d.start()                                       # waits for GET /health
    ...
    d.stop()                                        # SIGTERM, asserts exit 0

Other areas add their own helpers in their own modules (agents, moto_server)
and build on Daemon / free_port / plugin_dir from here.
"""

import glob
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

AWS_CLI = "/usr/bin/aws"  # Debian's AWS CLI v2 (the one on PATH may be v1)
REGION = "us-east-1"


class HarnessError(RuntimeError):
    pass


def builddir():
    """The build directory from ROLLOUT_BUILDDIR, or HarnessError saying how to set it."""
    d = os.environ.get("ROLLOUT_BUILDDIR")
    if not d:
        raise HarnessError(
            "ROLLOUT_BUILDDIR is not set: run scripts/test, or set it to your build directory "
            "(the one containing ./rolloutd), e.g. ROLLOUT_BUILDDIR=$PWD/_build/me")
    d = os.path.abspath(d)
    if not os.access(os.path.join(d, "rolloutd"), os.X_OK):
        raise HarnessError("ROLLOUT_BUILDDIR=%s has no executable ./rolloutd: run make there first" % d)
    return d


def srcdir():
    """The source tree (two levels above this file)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def binary(name):
    """Path of a built program: rolloutd, rollout-agent, rolloutctl."""
    p = os.path.join(builddir(), name)
    if not os.access(p, os.X_OK):
        raise HarnessError("%s is not built in %s" % (name, builddir()))
    return p


def listens(pid, port):
    """Whether process pid holds the listening TCP socket on port (from
    /proc: which socket inode listens there, and whether pid has it open)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    if not inodes:
        return False
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


def start_on_free_port(argv, timeout=30.0, **popen):
    """Starts the server argv(port) on a free port: (process, port).
    free_port() only finds a port free at that moment, and a test on another
    xdist worker may take it first; then the server exits (or, worse, the
    port answers for the other program), so it is started again on another
    port until the listening socket is its own."""
    for _ in range(5):
        port = free_port()
        p = subprocess.Popen(argv(port), **popen)
        end = time.time() + timeout
        while time.time() < end and p.poll() is None:
            if listens(p.pid, port):
                return p, port
            time.sleep(0.05)
        if p.poll() is None:
            p.kill()
            p.wait()
            raise HarnessError("%s did not listen on port %d within %.0fs" % (argv(port)[0], port, timeout))
    raise HarnessError("%s exited five times without listening (ports taken?)" % argv(0)[0])


def read_text(path):
    """A log file's text ('' before its program writes one)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def built_plugins():
    """{name: path} of every plugin .so in the build tree (in-tree plugins and SDK examples)."""
    b = builddir()
    found = {}
    for pattern in ("plugins/*/.libs/*.so", "sdk/examples/.libs/*.so"):
        for so in glob.glob(os.path.join(b, pattern)):
            found.setdefault(os.path.basename(so)[:-3], so)
    return found


def plugin_dir(path, names=None, extra=None):
    """Makes `path` a plugin_dir: symlinks NAME.so to the built plugins
    (all of them, or only `names`), plus `extra` {name: file}."""
    os.makedirs(path, exist_ok=True)
    avail = built_plugins()
    for n in (names if names is not None else avail):
        if n not in avail:
            raise HarnessError("plugin %s is not built (have: %s)" % (n, ", ".join(sorted(avail))))
        os.symlink(avail[n], os.path.join(path, n + ".so"))
    for n, f in (extra or {}).items():
        os.symlink(f, os.path.join(path, n + ".so"))
    return str(path)


# CA bundles of the HTTPS daemons started here, by URL, so that clients built
# from a URL alone (engine_helpers.Signed, http_get) trust the right CA.
CA_FILES = {}


def ssl_context(ca_file, cert=None, key=None):
    """A client context trusting only ca_file (CA pinning), with a client certificate when given."""
    ctx = ssl.create_default_context(cafile=ca_file)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def context_for(url):
    """The SSL context for an https URL of a daemon started here; None for http."""
    if not url.startswith("https://"):
        return None
    base = "/".join(url.split("/")[:3])
    ca = CA_FILES.get(base)
    if ca is None:
        raise HarnessError("no CA bundle known for %s (start the daemon with tls=)" % base)
    return ssl_context(ca)


def make_pki(path, instances=(), server_names=("localhost", "127.0.0.1"), ca_name="rolloutd test CA"):
    """A private CA, a server certificate for server_names and one client
    certificate per instance (subject CN = the instance), made by
    `rolloutctl tls init` into path. Returns a dict of file paths:
    ca, server_cert, server_key, clients: {instance: (cert, key)}."""
    path = str(path)
    args = [binary("rolloutctl"), "tls", "init", "--dir", path, "--ca-name", ca_name]
    for n in server_names:
        args += ["--name", n]
    for i in instances:
        args += ["--agent", i]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise HarnessError("rolloutctl tls init failed (%d): %s" % (p.returncode, p.stderr.strip()))
    return pki_files(path, instances)


def pki_files(path, instances=()):
    path = str(path)
    return {"ca": os.path.join(path, "ca.pem"), "ca_key": os.path.join(path, "ca.key"),
            "server_cert": os.path.join(path, "server.pem"), "server_key": os.path.join(path, "server.key"),
            "clients": {i: (os.path.join(path, "agent-%s.pem" % i), os.path.join(path, "agent-%s.key" % i))
                        for i in instances}}


def http_get(url, timeout=2.0, context=None):
    """(status, body bytes) of a GET; status 0 when nothing answered."""
    if context is None and url.startswith("https://"):
        context = context_for(url)
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


class Daemon:
    """One rolloutd with its own port, data dir, plugin dir and config."""

    def __init__(self, tmp_path, plugins=None, alarms=None, settings=None, name="rolloutd", tls=None,
                 client_ca=False):
        """tls: a make_pki() dict: the daemon serves HTTPS with its server certificate
        (and with client_ca, asks agents for certificates signed by its CA)."""
        self.dir = os.path.join(str(tmp_path), name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.tls = tls
        self.ca_file = tls["ca"] if tls else None
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        if tls:
            CA_FILES[self.url] = self.ca_file
            settings = dict(settings or {})
            settings.setdefault("tls", {"cert": tls["server_cert"], "key": tls["server_key"]})
            if client_ca:
                settings["tls"]["client_ca"] = tls["ca"]
        self.data_dir = os.path.join(self.dir, "data")
        self.plugin_dir = os.path.join(self.dir, "plugins")
        self.config_path = os.path.join(self.dir, "rolloutd.yaml")
        self.log_path = os.path.join(self.dir, "rolloutd.log")
        self.plugins = dict(plugins or {})
        self.alarms = dict(alarms or {})
        self.settings = dict(settings or {})
        self.proc = None
        self._log = None
        if not os.path.exists(self.plugin_dir):
            plugin_dir(self.plugin_dir)
        self.write_config()

    def config(self):
        cfg = {
            "listen": "127.0.0.1:%d" % self.port,
            "data_dir": self.data_dir,
            "plugin_dir": self.plugin_dir,
            "log_level": "debug",
        }
        cfg.update(self.settings)
        if self.plugins:
            cfg["plugins"] = self.plugins
        if self.alarms:
            cfg["alarms"] = self.alarms
        return cfg

    def write_config(self):
        """Writes the config (JSON is YAML; scalars stay strings for the daemon to type)."""
        with open(self.config_path, "w") as f:
            json.dump(self.config(), f, indent=2)
        return self.config_path

    def run(self, *args, check=True, timeout=30):
        """Runs `rolloutd --config CONFIG ARGS...` to completion; returns CompletedProcess."""
        p = subprocess.run([binary("rolloutd"), "--config", self.config_path, *args],
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise HarnessError("rolloutd %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr.strip()))
        return p

    def create_access_key(self, name, policy="admin", instance=None):
        """`rolloutd access-key create`; returns {"AccessKeyId", "SecretAccessKey"}."""
        args = ["access-key", "create", "--name", name, "--policy", policy]
        if instance:
            args += ["--instance", instance]
        out = self.run(*args).stdout
        keys = json.loads(out)
        assert keys["AccessKeyId"] and keys["SecretAccessKey"], out
        return keys

    def start(self, timeout=15.0):
        assert self.proc is None, "already started"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([binary("rolloutd"), "--config", self.config_path],
                                     stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout=15.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise HarnessError("rolloutd exited with %d before it was healthy:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            status, _ = http_get(self.url + "/health", timeout=0.5)
            if status == 200:
                return
            time.sleep(0.05)
        raise HarnessError("rolloutd not healthy after %.0fs:\n%s" % (timeout, self.log_tail()))

    def stop(self, timeout=20.0):
        """SIGTERM, wait, and assert a clean exit (0, no sanitizer report)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise HarnessError("rolloutd did not stop within %.0fs of SIGTERM:\n%s" % (timeout, self.log_tail()))
        finally:
            self._log.close()
        self.proc = None
        log = self.log()
        if rc != 0 or "Sanitizer" in log or "runtime error:" in log:
            raise HarnessError("rolloutd did not exit cleanly (exit %d):\n%s" % (rc, self.log_tail(60)))
        return rc

    def log(self):
        return read_text(self.log_path)

    def log_tail(self, n=30):
        return "\n".join(self.log().splitlines()[-n:])

    def env(self, keys):
        """Environment for AWS tools talking to this daemon with `keys`."""
        env = dict(os.environ)
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
            env.pop(k, None)
        env.update({
            "AWS_ACCESS_KEY_ID": keys["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_PAGER": "",
        })
        if self.ca_file:
            env["AWS_CA_BUNDLE"] = self.ca_file
        return env

    def boto3_client(self, keys, service="codedeploy"):
        import boto3
        import botocore.config
        return boto3.client(
            service, endpoint_url=self.url, region_name=REGION, verify=self.ca_file,
            aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"],
            config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60))

    def aws(self, keys, *args, check=True, timeout=60):
        """Runs /usr/bin/aws ARGS --endpoint-url URL --output json; returns (CompletedProcess, parsed JSON or None)."""
        if not os.access(AWS_CLI, os.X_OK):
            raise HarnessError("%s missing: install Debian's awscli (scripts/install-deps)" % AWS_CLI)
        tls = ["--ca-bundle", self.ca_file] if self.ca_file else []
        p = subprocess.run([AWS_CLI, *args, "--endpoint-url", self.url, *tls, "--output", "json"],
                           env=self.env(keys), capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise HarnessError("aws %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr.strip()))
        out = None
        if p.stdout.strip():
            try:
                out = json.loads(p.stdout)
            except ValueError:
                out = None
        return p, out
