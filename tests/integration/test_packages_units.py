"""The systemd units in debian/, checked without building packages:
systemd-analyze verify (in a scratch root holding the built programs at
their installed paths and the host's stock units), and the daemon's
sandbox rated by systemd-analyze security at exposure 2.0 or less; and
the split of the in-tree plugins between the packages."""

import glob
import os
import re
import shutil
import subprocess

import pytest

import harness

UNITS = {"rolloutd.service": ("usr/sbin/rolloutd", "rolloutd"),
         "rollout-agent.service": ("usr/bin/rollout-agent", "rollout-agent")}


@pytest.fixture
def unit_root(tmp_path):
    if not shutil.which("systemd-analyze") or not os.path.isdir("/lib/systemd/system"):
        pytest.fail("systemd-analyze and /lib/systemd/system are needed: run scripts/install-deps", pytrace=False)
    root = tmp_path / "root"
    shutil.copytree("/lib/systemd/system", root / "lib/systemd/system", symlinks=True)
    for unit, (path, prog) in UNITS.items():
        os.makedirs(root / os.path.dirname(path), exist_ok=True)
        shutil.copy(harness.binary(prog), root / path)
        shutil.copy(os.path.join(harness.srcdir(), "debian", unit), root / "lib/systemd/system" / unit)
    return root


def test_units_verify(unit_root):
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", "--root=%s" % unit_root, *UNITS],
                       capture_output=True, text=True)
    assert p.returncode == 0 and not p.stderr.strip(), p.stdout + p.stderr


def test_rolloutd_sandbox_exposure():
    unit = os.path.join(harness.srcdir(), "debian", "rolloutd.service")
    p = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", unit],
                       capture_output=True, text=True)
    m = re.search(r"Overall exposure level for rolloutd.service: ([0-9.]+)", p.stdout + p.stderr)
    assert m, p.stdout + p.stderr
    assert float(m.group(1)) <= 2.0, p.stdout
    # the settings the sandbox is made of stay (a lower score by other means is not the point)
    text = open(unit).read()
    for setting in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=rolloutd", "ProtectSystem=strict",
                    "ReadWritePaths=/var/lib/rolloutd", "PrivateTmp=yes", "NoNewPrivileges=yes",
                    "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service"):
        assert setting in text, setting


def test_agent_unit_kill_mode():
    text = open(os.path.join(harness.srcdir(), "debian", "rollout-agent.service")).read()
    assert re.search(r"^KillMode=process$", text, re.M)
    assert not re.search(r"^User=", text, re.M)  # root: hooks setuid to their runas users


PLUGIN_LINE = re.compile(r"^usr/lib/\*/rolloutd/plugins/([A-Za-z0-9_-]+)\.so$")


def install_plugins(pkg):
    path = os.path.join(harness.srcdir(), "debian", pkg + ".install")
    names = []
    for line in open(path):
        m = PLUGIN_LINE.match(line.strip())
        if m:
            names.append(m.group(1))
    return names


def description(pkg):
    text = open(os.path.join(harness.srcdir(), "debian", "control")).read()
    m = re.search(r"^Package: %s\n(.*?)(?:\n\n|\Z)" % re.escape(pkg), text, re.M | re.S)
    assert m, pkg
    return m.group(1).split("Description:", 1)[1].lower()


def test_every_plugin_in_exactly_one_package():
    """Each in-tree plugin (an RD_PLUGIN line of plugins/plugins.m4) ships in
    exactly one binary package: rolloutd when it needs only the daemon's
    libraries, rollout-plugins-aws when it calls AWS (its sources sign with
    SigV4). A new plugin without its debian/*.install line fails here, before
    anyone builds a package; the package's Description names it."""
    src = harness.srcdir()
    built = re.findall(r"^RD_PLUGIN\(\[([^]]+)\]", open(os.path.join(src, "plugins", "plugins.m4")).read(), re.M)
    assert built
    daemon, aws = install_plugins("rolloutd"), install_plugins("rollout-plugins-aws")
    where = {}
    for pkg, names in (("rolloutd", daemon), ("rollout-plugins-aws", aws)):
        for n in names:
            where.setdefault(n, []).append(pkg)
    for n in built:
        assert len(where.get(n, [])) == 1, (
            "plugin %s is in %s: list usr/lib/*/rolloutd/plugins/%s.so in exactly one of debian/rolloutd.install "
            "(needs only the daemon's libraries) and debian/rollout-plugins-aws.install (calls AWS)"
            % (n, " and ".join(where.get(n, [])) or "no package", n))
    assert sorted(where) == sorted(built), "debian/*.install names plugins plugins/plugins.m4 does not build: %s" % (
        sorted(set(where) - set(built)))
    for n in daemon:
        code = " ".join(open(f, errors="replace").read() for f in glob.glob(os.path.join(src, "plugins", n, "*.c")))
        assert "sigv4" not in code.lower(), (
            "plugin %s signs AWS requests: move it from debian/rolloutd.install to rollout-plugins-aws.install" % n)
    for pkg, names in (("rolloutd", daemon), ("rollout-plugins-aws", aws)):
        desc = description(pkg)
        for n in names:
            assert n.lower() in desc, "debian/control: the Description of %s does not name its plugin %s" % (pkg, n)
