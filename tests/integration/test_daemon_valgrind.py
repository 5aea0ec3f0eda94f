"""The daemon: valgrind finds no leaks or errors in the daemon's
start/stop path, with plugins loaded. Needs a build WITHOUT sanitizers
(valgrind and ASan do not mix): scripts/test makes one and passes it in
ROLLOUT_VALGRIND_BUILDDIR; without it this test is skipped."""

import os
import shutil
import signal
import subprocess
import time

import pytest

import harness


def test_start_stop_under_valgrind(tmp_path):
    vb = os.environ.get("ROLLOUT_VALGRIND_BUILDDIR")
    if not vb:
        pytest.skip("ROLLOUT_VALGRIND_BUILDDIR not set (scripts/test sets it to a build without sanitizers)")
    if not shutil.which("valgrind"):
        pytest.fail("valgrind is not installed: run scripts/install-deps", pytrace=False)
    rolloutd = os.path.join(vb, "rolloutd")
    assert os.access(rolloutd, os.X_OK), "%s is not built" % rolloutd
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    for n in ("example-platform", "example-health", "example-traffic"):
        os.symlink(os.path.join(vb, "sdk", "examples", ".libs", n + ".so"), plugins / (n + ".so"))
    port = harness.free_port()
    cfg = tmp_path / "rolloutd.yaml"
    cfg.write_text(
        "listen: 127.0.0.1:%d\ndata_dir: %s\nplugin_dir: %s\n"
        "plugins:\n  example-platform: {targets: a b}\n  example-health:\n  example-traffic:\n"
        "alarms:\n  flag: {plugin: example-health, file: /nonexistent}\n"
        % (port, tmp_path / "data", plugins))
    vlog = tmp_path / "valgrind.log"
    proc = subprocess.Popen(
        ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
         "--errors-for-leak-kinds=definite,indirect", "--log-file=%s" % vlog, rolloutd, "--config", str(cfg)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 60
        status = 0
        while time.monotonic() < end and proc.poll() is None:
            status, _ = harness.http_get("http://127.0.0.1:%d/health" % port, timeout=2)
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200, "rolloutd under valgrind never became healthy"
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    report = vlog.read_text()
    assert rc == 0, "exit %d; valgrind said:\n%s\nstderr:\n%s" % (rc, report[-4000:], proc.stderr.read()[-2000:])
    assert "definitely lost" not in report and "Invalid" not in report, report[-4000:]
