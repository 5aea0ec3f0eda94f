"""The systemd units in debian/, checked without building packages:
systemd-analyze verify (in a scratch root holding the built programs at
their installed paths and the host's stock units), and the daemon's
sandbox rated by systemd-analyze security at exposure 2.0 or less."""

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
