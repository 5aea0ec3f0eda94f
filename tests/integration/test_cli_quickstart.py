"""The quickstart (README command one), run non-interactively against the
build under test: the whole issue-8 scenario, and that it stops everything it
started, also when interrupted."""

import os
import re
import signal
import socket
import subprocess
import time

import harness
from cli_helpers import base_env


def quickstart(tmp_path, *extra):
    env = base_env()
    env.pop("QUICKSTART_DIR", None)
    port = harness.free_port()
    cmd = [os.path.join(harness.srcdir(), "scripts", "quickstart"), "--non-interactive", "--no-build",
           "--builddir", harness.builddir(), "--state-dir", str(tmp_path / "qs"), "--port", str(port), *extra]
    return cmd, env, port


def listening(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_quickstart_runs_the_whole_scenario_and_cleans_up(tmp_path, builddir):
    cmd, env, port = quickstart(tmp_path)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    out = p.stdout
    assert p.returncode == 0, "quickstart failed (%d)\nstdout:\n%s\nstderr:\n%s" % (p.returncode, out, p.stderr)
    assert '{"status":"ok"}' in out
    # three hosts, each with its own app port
    app_ports = [int(x) for x in re.findall(r"hello-web will listen on 127\.0\.0\.1:(\d+)", out)]
    assert len(app_ports) == 3
    assert out.count(" Registered\n") == 3
    # v1 deployed one at a time with live progress, then answering everywhere
    assert "3 target instances, 1 at a time" in out
    first, rest = out.split("==> the app answers on every host", 1)
    assert re.search(r"deployment d-[A-Z0-9]{9} succeeded in", first)
    for h in ("host-1", "host-2", "host-3"):
        assert re.search(r"%s \(127\.0\.0\.1:\d+\): hello-web version 1\n" % h, rest)
    # the broken v2 fails in ValidateService and is rolled back automatically
    assert "ValidateService" in p.stderr and "scripts/validate.sh" in p.stderr
    assert "did not answer 'ok'" in p.stderr
    assert re.search(r"automatic rollback: deployment d-[A-Z0-9]{9}", out)
    assert "the deployment failed as expected and rolloutd rolled back to version 1" in out
    after = out.split("==> after the rollback every host serves version 1 again", 1)[1]
    assert after.count("hello-web version 1\n") == 3
    assert "quickstart complete." in out
    # everything it started is gone
    assert not listening(port)
    for ap in app_ports:
        assert not listening(ap), "hello-web still listening on %d" % ap


def test_quickstart_interrupted_stops_everything(tmp_path, builddir):
    cmd, env, port = quickstart(tmp_path)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    out = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        out += line
        if "rolloutd listens on" in line:
            break
    assert "rolloutd listens on" in out, out
    assert listening(port)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    rest, _ = proc.communicate(timeout=60)
    out += rest
    assert proc.returncode != 0
    assert "stopping everything the quickstart started" in out
    assert not listening(port)
    left = subprocess.run(["pgrep", "-f", str(tmp_path / "qs")], capture_output=True, text=True)
    assert left.stdout.strip() == "", "processes left behind: %s" % left.stdout
