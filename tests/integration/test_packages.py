"""The Debian packages, end to end (slow: two package builds and two Debian
roots).

The packages are built with dpkg-buildpackage twice: the previous release
from an earlier commit of this repository (PREVIOUS_RELEASE, the first
packaged one, whose store is at an older schema version; given a lower
version than the current one) and the current tree as debian/changelog
says. Two clean Debian roots are made with mmdebstrap (the
base tarball is cached under the build directory): a control host, where
rolloutd, rolloutctl and rollout-plugins-aws are installed with dpkg -i, and
an agent host with rollout-agent only. rolloutd is started from its installed
unit's ExecStartPre/ExecStart as the unit's user, with NOTIFY_SOCKET and
WATCHDOG_USEC as systemd sets them; rollout-agent from its unit. Then: a
deployment to the installed agent; an upgrade of the control host's
packages in place while a deployment runs (the new daemon applies the
migrations the previous release did not have, schema_migrations records
them, and the deployment started by the previous release finishes); an upgrade of the agent while a hook
runs (the agent, signalled alone as KillMode=process does, ends the hook's
whole process tree and the event fails); a last deployment; and purges, after
which nothing is left but what policy keeps (the system user, dpkg's own
records).
"""

import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import time

import pytest

import harness
import pkg_helpers as P

pytestmark = pytest.mark.slow

# The first packaged build (debian/ landed): its store stops at schema
# version 3, so upgrading from it runs every later migration on a store the
# previous release wrote, with a deployment in progress. Move it forward only
# to a later release commit whose schema is still older than the current one.
PREVIOUS_RELEASE = "3eff090f8335211596b9582be5cdf9a7d9bff057"
PREVIOUS_SCHEMA = 3

HOOK = """#!/bin/sh
set -e
mkdir -p /srv/pkgtest
echo "$LIFECYCLE_EVENT $DEPLOYMENT_ID %(version)s" >>/srv/pkgtest/events
%(body)s
"""


def need(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.fail("missing %s: run scripts/install-deps" % ", ".join(missing), pytrace=False)


@pytest.fixture(scope="module")
def packages():
    need("dpkg-buildpackage", "mmdebstrap", "lintian", "systemd-analyze", "unshare", "help2man")
    src = harness.srcdir()
    cur = subprocess.run(["dpkg-parsechangelog", "-l", os.path.join(src, "debian/changelog"), "-SVersion"],
                         check=True, capture_output=True, text=True).stdout.strip()
    old_version = cur + "~pkgtest1"
    try:
        # the previous release is installed and upgraded from, never linted: built quick
        old, _ = P.build_packages("old", old_version, commit=PREVIOUS_RELEASE, quick=True)
        new, changes = P.build_packages("new")
    except P.PkgError as e:
        pytest.fail(str(e), pytrace=False)
    assert subprocess.run(["dpkg", "--compare-versions", old_version, "lt", cur]).returncode == 0
    return {"old": old, "new": new, "changes": changes, "old_version": old_version, "version": cur}


def test_lintian_clean(packages):
    """lintian finds no error, warning or info tag that debian/*.lintian-overrides
    does not explain."""
    p = subprocess.run(["lintian", "-I", "--fail-on", "error,warning,info", "--tag-display-limit", "0",
                        packages["changes"]], capture_output=True, text=True, timeout=600)
    tags = [l for l in p.stdout.splitlines() if re.match(r"^[EWI]: ", l)]
    assert p.returncode == 0 and not tags, "lintian:\n" + p.stdout + p.stderr


def test_package_contents(packages):
    """The split: an agent host gets nothing of the daemon's; the AWS plugins
    are their own package; the SDK ships header, .pc and examples."""
    def files(pkg):
        out = subprocess.run(["dpkg-deb", "-c", packages["new"][pkg]], check=True, capture_output=True,
                             text=True).stdout
        return [l.split()[5][1:] for l in out.splitlines() if not l.endswith("/")]

    d, a, dev = files("rolloutd"), files("rollout-agent"), files("rollout-plugin-dev")
    assert "/usr/sbin/rolloutd" in d and "/etc/rolloutd/rolloutd.yaml" in d
    assert any(f.endswith("/rolloutd/plugins/onprem.so") for f in d)
    # every plugin the build makes lands in exactly one package, as the
    # .install files say (test_packages_units checks those against plugins.m4)
    plugins = {}
    for pkg in packages["new"]:
        for f in files(pkg):
            if "/rolloutd/plugins/" in f:
                plugins.setdefault(os.path.basename(f), []).append(pkg)
    assert all(len(v) == 1 for v in plugins.values()), plugins
    built = re.findall(r"^RD_PLUGIN\(\[([^]]+)\]",
                       open(os.path.join(harness.srcdir(), "plugins", "plugins.m4")).read(), re.M)
    assert sorted(plugins) == sorted(n + ".so" for n in built), plugins
    aws_plugins = {n for n, v in plugins.items() if v == ["rollout-plugins-aws"]}
    assert {"s3.so", "cloudwatch.so", "lambda.so", "ecs.so", "elb.so"} <= aws_plugins
    assert "/usr/bin/rollout-agent" in a and "/usr/libexec/rolloutd/rollout-agent-extract" in a
    assert not any("rolloutd/plugins" in f or f.endswith("bin/rolloutd") for f in a), a
    assert "rolloutd" not in P.deb_field(packages["new"]["rollout-agent"], "Depends")
    assert "/usr/include/rollout/plugin.h" in dev
    assert any(f.endswith("/pkgconfig/rollout-plugin.pc") for f in dev)
    assert any(f.endswith("/examples/example-platform.c") for f in dev)
    conff = subprocess.run(["dpkg-deb", "--ctrl-tarfile", packages["new"]["rolloutd"]], check=True,
                           capture_output=True).stdout
    assert b"conffiles" in conff


class Host:
    """One Debian root with a dpkg of its own."""

    def __init__(self, name, base, logdir):
        self.root = P.make_root(base, os.path.join(P.work_dir(), "root-" + name))
        self.logdir = logdir
        self.before = P.snapshot(self.root)
        os.makedirs(os.path.join(self.root, "tmp/debs"), exist_ok=True)

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def run(self, *argv, **kw):
        return P.run(self.root, list(argv), **kw)

    def install(self, debs):
        names = []
        for deb in debs:
            shutil.copy(deb, self.path("/tmp/debs"))
            names.append("/tmp/debs/" + os.path.basename(deb))
        self.run("dpkg", "-i", "--force-confold", *names, env={"DEBIAN_FRONTEND": "noninteractive"})

    def version(self, pkg):
        p = self.run("dpkg-query", "-W", "-f", "${Version}", pkg)
        return p.stdout.strip()

    def mode(self, p):
        st = os.lstat(self.path(p))
        return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid

    def uid(self, user):
        for line in open(self.path("/etc/passwd")):
            f = line.split(":")
            if f[0] == user:
                return int(f[2])
        return None


def write_revision(host, name, version, hooks, runas=None):
    """A revision directory in the control host's /tmp with one script per
    hook: hooks maps event -> extra shell lines after the recording line;
    runas maps event -> (user, whole script) for hooks run as that user."""
    d = host.path("/tmp/" + name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "scripts"))
    spec = "version: 0.0\nos: linux\nhooks:\n"
    scripts = {ev: (None, HOOK % {"version": version, "body": body}) for ev, body in hooks.items()}
    scripts.update(runas or {})
    for ev, (user, text) in scripts.items():
        spec += "  %s:\n    - location: scripts/%s.sh\n      timeout: 600\n" % (ev, ev)
        if user:
            spec += "      runas: %s\n" % user
        with open(os.path.join(d, "scripts", ev + ".sh"), "w") as f:
            f.write(text)
        os.chmod(os.path.join(d, "scripts", ev + ".sh"), 0o755)
    with open(os.path.join(d, "appspec.yml"), "w") as f:
        f.write(spec)
    return "/tmp/" + name


def wait_for(cond, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def exposure(unit_path):
    p = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", unit_path],
                       capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout + p.stderr)
    assert m, p.stdout + p.stderr
    return float(m.group(1))


def test_install_deploy_upgrade_purge(packages, tmp_path):
    old, new = packages["old"], packages["new"]
    deps = sorted(set(P.runtime_deps(new)) | set(P.runtime_deps(old)))
    try:
        base = P.base_tarball(deps + ["systemd"])
    except P.PkgError as e:
        pytest.fail(str(e), pytrace=False)
    ctl_host = Host("control", base, str(tmp_path))
    agent_host = Host("agent", base, str(tmp_path))
    services = []
    try:
        _scenario(packages, old, new, ctl_host, agent_host, services, tmp_path)
    finally:
        for s in services:
            s.kill()
        for h in (ctl_host, agent_host):
            shutil.rmtree(h.root, ignore_errors=True)


def _scenario(packages, old, new, ch, ah, services, tmp_path):
    # ------------------------------------------------------------ install the previous build
    ch.install([old["rolloutd"], old["rolloutctl"], old["rollout-plugins-aws"]])
    ah.install([old["rollout-agent"]])
    assert ch.version("rolloutd") == packages["old_version"]

    # the agent host holds nothing of the daemon's
    assert not os.path.exists(ah.path("/usr/sbin/rolloutd"))
    assert not os.path.exists(ah.path("/var/lib/rolloutd"))
    assert ah.uid("rolloutd") is None
    assert not glob_any(ah.path("/usr/lib/*/rolloutd/plugins"))

    # system user, private state directory, configuration readable by the daemon only
    uid = ch.uid("rolloutd")
    assert uid is not None and uid < 1000
    assert ch.mode("/var/lib/rolloutd") == (0o700, uid, ch.mode("/var/lib/rolloutd")[2])
    m, fuid, fgid = ch.mode("/etc/rolloutd/rolloutd.yaml")
    assert (m, fuid) == (0o640, 0) and fgid == ch.mode("/var/lib/rolloutd")[2]
    assert os.path.exists(ch.path("/usr/share/man/man8/rolloutd.8.gz"))
    assert os.path.islink(ch.path("/etc/systemd/system/multi-user.target.wants/rolloutd.service"))

    # ------------------------------------------------------------ configure and start rolloutd
    port = harness.free_port()
    cfg = ch.path("/etc/rolloutd/rolloutd.yaml")
    text = open(cfg).read()
    text = text.replace("listen: 127.0.0.1:8740", "listen: 127.0.0.1:%d\nlong_poll: 5s" % port)
    assert "127.0.0.1:%d" % port in text
    with open(cfg, "w") as f:
        f.write(text)
    keys = json.loads(ch.run("rolloutd", "--config", "/etc/rolloutd/rolloutd.yaml", "access-key", "create",
                             "--name", "pkgtest-admin", "--policy", "admin", user="rolloutd").stdout)
    daemon = P.Service(ch.root, "rolloutd.service", str(tmp_path / "rolloutd.log"), watchdog_usec=2_000_000)
    services.append(daemon)
    assert daemon.get("Type") == "notify" and daemon.get("User") == "rolloutd"
    assert P.seconds(daemon.get("WatchdogSec")) > 0 and daemon.get("Restart") == "on-failure"
    daemon.start()
    daemon.wait_note("WATCHDOG=1", 10)
    db = ch.path("/var/lib/rolloutd/state.db")
    assert schema_versions(db) == list(range(1, PREVIOUS_SCHEMA + 1)), "PREVIOUS_RELEASE's schema changed?"
    with open("/proc/%d/status" % daemon.main_pid()) as f:
        assert re.search(r"^Uid:\s+%d\s" % uid, f.read(), re.M)
    assert os.stat(db).st_uid == uid and stat.S_IMODE(os.stat(db).st_mode) & 0o077 == 0

    env = {"ROLLOUT_ENDPOINT": "http://127.0.0.1:%d" % port, "AWS_ACCESS_KEY_ID": keys["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"], "AWS_DEFAULT_REGION": "us-east-1"}

    def ctl(*args, check=True, timeout=300):
        return ch.run("rolloutctl", *args, env=env, check=check, timeout=timeout)

    ctl("app", "create", "pkgapp")
    ctl("group", "create", "--app", "pkgapp", "pkggroup", "--tags", "app=pkgapp", "--config",
        "CodeDeployDefault.AllAtOnce")
    ctl("register-instance", "host-1", "--tags", "app=pkgapp", "--agent-config", "/tmp/agent.yaml",
        "--daemon-cert", "/var/lib/rolloutd/daemon.crt")

    # ------------------------------------------------------------ the agent host
    assert ah.mode("/etc/rollout-agent")[0] == 0o700
    # the administrator copies the agent's configuration and rolloutd's certificate to the host
    conf = open(ch.path("/tmp/agent.yaml")).read()
    assert "/var/lib/rolloutd/daemon.crt" in conf
    with open(ah.path("/etc/rollout-agent/agent.yaml"), "w") as f:
        f.write(conf.replace("/var/lib/rolloutd/daemon.crt", "/etc/rollout-agent/daemon.crt"))
    os.chmod(ah.path("/etc/rollout-agent/agent.yaml"), 0o600)
    shutil.copy(ch.path("/var/lib/rolloutd/daemon.crt"), ah.path("/etc/rollout-agent/daemon.crt"))
    agent = P.Service(ah.root, "rollout-agent.service", str(tmp_path / "agent.log"))
    services.append(agent)
    assert agent.get("KillMode") == "process" and agent.get("User") is None
    agent.start()

    # ------------------------------------------------------------ deploy to the installed agent
    rev1 = write_revision(ch, "rev1", "v1", {
        "BeforeInstall": "", "AfterInstall": "echo v1 >/srv/pkgtest/version", "ValidateService": ""})
    ctl("deploy", "--app", "pkgapp", "--group", "pkggroup", rev1, "--wait", "--timeout", "4m")
    assert open(ah.path("/srv/pkgtest/version")).read() == "v1\n"

    # ------------------------------------------------------------ upgrade rolloutd while a deployment runs
    rev2 = write_revision(ch, "rev2", "v2", {
        "BeforeInstall": "touch /srv/pkgtest/v2-started\n"
                         "i=0; while [ ! -e /srv/pkgtest/v2-release ] && [ $i -lt 1500 ]; do sleep 0.2; "
                         "i=$((i+1)); done",
        "AfterInstall": "echo v2 >/srv/pkgtest/version"})
    dep2 = json.loads(ctl("deploy", "--app", "pkgapp", "--group", "pkggroup", rev2, "-o", "json").stdout)[
        "deploymentId"]
    wait_for(lambda: os.path.exists(ah.path("/srv/pkgtest/v2-started")), 120, "v2's BeforeInstall to run")
    upgraded_at = time.time()
    ch.install([new["rolloutd"], new["rolloutctl"], new["rollout-plugins-aws"]])
    assert ch.version("rolloutd") == packages["version"]
    assert "127.0.0.1:%d" % port in open(cfg).read(), "the upgrade replaced the edited conffile"
    # what postinst's restart does under systemd: stop (SIGTERM) the old
    # daemon, start the new unit's ExecStartPre and ExecStart
    assert daemon.stop() == 0, daemon.log_tail()
    assert schema_versions(db) == list(range(1, PREVIOUS_SCHEMA + 1))
    daemon = P.Service(ch.root, "rolloutd.service", str(tmp_path / "rolloutd.log"), watchdog_usec=2_000_000)
    services.append(daemon)
    daemon.start()
    # the installed units: systemd-analyze verify, and the daemon's sandbox
    ch.run("systemd-analyze", "verify", "--man=no", "rolloutd.service")
    assert exposure(ch.path("/lib/systemd/system/rolloutd.service")) <= 2.0
    # the store is at the schema of the new build (what it makes of a fresh
    # data_dir): every migration the previous release lacked ran once, now
    fresh = ch.path("/tmp/fresh")
    os.makedirs(fresh)
    os.chown(fresh, uid, -1)
    with open(ch.path("/tmp/fresh.yaml"), "w") as f:
        f.write("data_dir: /tmp/fresh\n")
    ch.run("rolloutd", "--config", "/tmp/fresh.yaml", "access-key", "list", user="rolloutd")
    want = migrations(os.path.join(fresh, "state.db"))
    got = migrations(db)
    assert len(want) > PREVIOUS_SCHEMA, "no migration since PREVIOUS_RELEASE: the upgrade migrates nothing"
    assert [(v, n) for v, n, _ in got] == [(v, n) for v, n, _ in want], (got, want)
    for v, n, applied in got:
        if v > PREVIOUS_SCHEMA:
            assert applied >= upgraded_at - 5, (v, n, applied, upgraded_at)
    # the deployment the previous release started resumes and finishes
    open(ah.path("/srv/pkgtest/v2-release"), "w").close()
    ctl("wait", dep2, "--timeout", "4m")
    assert open(ah.path("/srv/pkgtest/version")).read() == "v2\n"

    # the README's first command after installing: a key minted by root while the daemon runs
    # (the command drops to data_dir's owner, so the store stays the daemon's)
    k2 = json.loads(ch.run("rolloutd", "--config", "/etc/rolloutd/rolloutd.yaml", "access-key", "create",
                           "--name", "pkgtest-root", "--policy", "readonly").stdout)
    p = ch.run("rolloutctl", "app", "list", env=dict(env, AWS_ACCESS_KEY_ID=k2["AccessKeyId"],
                                                      AWS_SECRET_ACCESS_KEY=k2["SecretAccessKey"]))
    assert "pkgapp" in p.stdout, p.stdout
    left_root = [f for f in os.listdir(ch.path("/var/lib/rolloutd"))
                 if os.lstat(os.path.join(ch.path("/var/lib/rolloutd"), f)).st_uid != uid]
    assert not left_root, left_root

    # ------------------------------------------------------------ upgrade the agent while a hook runs
    rev3 = write_revision(ch, "rev3", "v3", {
        "BeforeInstall": "sh -c 'echo $$ >/srv/pkgtest/v3-child.pid; exec sleep 600' &\n"
                         "echo $$ >/srv/pkgtest/v3-hook.pid\nwait"})
    dep3 = json.loads(ctl("deploy", "--app", "pkgapp", "--group", "pkggroup", rev3, "-o", "json").stdout)[
        "deploymentId"]
    wait_for(lambda: os.path.exists(ah.path("/srv/pkgtest/v3-child.pid")) and
             os.path.exists(ah.path("/srv/pkgtest/v3-hook.pid")), 120, "v3's BeforeInstall to run")
    hook_pids = [int(open(ah.path("/srv/pkgtest/v3-%s.pid" % n)).read()) for n in ("hook", "child")]
    assert all(alive(p) for p in hook_pids)
    ah.install([new["rollout-agent"]])
    assert ah.version("rollout-agent") == packages["version"]
    assert agent.stop() == 0, agent.log_tail()
    # KillMode=process signalled rollout-agent alone: it ended the hook's tree itself
    assert not any(alive(p) for p in hook_pids), "hook processes orphaned by the agent's stop"
    ah.run("systemd-analyze", "verify", "--man=no", "rollout-agent.service")
    agent = P.Service(ah.root, "rollout-agent.service", str(tmp_path / "agent.log"))
    services.append(agent)
    agent.start()
    p = ctl("wait", dep3, "--timeout", "4m", check=False)
    assert p.returncode == 1, p.stdout + p.stderr
    info = json.loads(ctl("deployment", "get", dep3, "-o", "json").stdout)
    assert json.dumps(info).find("Failed") >= 0, info

    # the agent's state directory: tight, yet a runas hook reaches its script
    assert ah.mode("/var/lib/rollout-agent")[:2] == (0o711, 0)
    rev4 = write_revision(ch, "rev4", "v4", {"AfterInstall": "echo v4 >/srv/pkgtest/version"}, runas={
        "ApplicationStart": ("nobody", "#!/bin/sh\nset -e\ncat \"$(dirname \"$0\")/../appspec.yml\" >/dev/null\n"
                                       "id -un >/tmp/pkgtest-runas\n")})
    ctl("deploy", "--app", "pkgapp", "--group", "pkggroup", rev4, "--wait", "--timeout", "4m")
    assert open(ah.path("/srv/pkgtest/version")).read() == "v4\n"
    assert open(ah.path("/tmp/pkgtest-runas")).read() == "nobody\n"
    # ... while another local user cannot list what the host deployed
    p = ah.run("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "ls", "/var/lib/rollout-agent",
               check=False)
    assert p.returncode != 0 and "Permission denied" in p.stderr, p.stdout + p.stderr

    # ------------------------------------------------------------ purge
    assert agent.stop() == 0
    assert daemon.stop() == 0
    ch.run("dpkg", "--purge", "rollout-plugins-aws", "rolloutctl", "rolloutd")
    ah.run("dpkg", "--purge", "rollout-agent")
    assert ch.uid("rolloutd") is not None  # policy: system users stay
    policy = re.compile(r"^/(var/lib/dpkg/|var/log/(dpkg\.log|apt/|alternatives\.log)|var/cache/debconf/|"
                        r"etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$)")
    for h, extra in ((ch, None), (ah, re.compile(r"^/srv(/|$)"))):
        left = sorted(f for f in P.snapshot(h.root) - h.before
                      if not policy.match(f) and not (extra and extra.match(f)))
        assert not left, "left behind after purge in %s:\n%s" % (h.root, "\n".join(left))


def glob_any(pattern):
    import glob
    return glob.glob(pattern)


def migrations(path):
    """schema_migrations: [(version, name, applied_time in seconds)]."""
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        rows = c.execute("SELECT version, name, applied_time FROM schema_migrations ORDER BY version").fetchall()
    finally:
        c.close()
    return [(v, n, t / 1000.0 if t > 1e11 else float(t)) for v, n, t in rows]


def schema_versions(path):
    return [v for v, _, _ in migrations(path)]
