"""The daemon: the daemon's command line, config checking, plugin
loading by a real rolloutd, start/stop, and the shared harness itself."""

import json
import os
import re
import signal
import subprocess

import pytest

import harness


def rolloutd(*args, timeout=30):
    return subprocess.run([harness.binary("rolloutd"), *args], capture_output=True, text=True, timeout=timeout)


def test_version_names_the_plugin_abi(builddir):
    p = rolloutd("--version")
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"rolloutd \d+\.\d+\.\d+ \(plugin ABI 1\.\d+\)\n", p.stdout), p.stdout


def test_check_config_accepts_a_good_config(tmp_path, builddir):
    d = harness.Daemon(tmp_path, plugins={"example-health": {"timeout": "1s"},
                                          "example-traffic": None},
                       alarms={"flag": {"plugin": "example-health", "file": str(tmp_path / "flag")}})
    p = d.run("--check-config", check=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "%s: configuration OK" % d.config_path


def test_check_config_names_file_line_and_column(tmp_path, builddir):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("listen: 127.0.0.1:1\nworkers: 4\nplugin_dri: /x\n")
    p = rolloutd("--config", str(cfg), "--check-config")
    assert p.returncode != 0
    assert p.stderr.strip() == ("rolloutd: %s:3:1: unknown setting 'plugin_dri' (known: listen, data_dir, "
                                "plugin_dir, region, account_id, log_level, long_poll, workers, "
                                "regions_allowed, plugins, alarms, bundle_cache_max, "
                                "bundle_upload_max, retention, metrics_listen, metrics_require_key, alarm_fallback_plugin, "
                                "hook_timeout, kek_file, store, store_password_file, instance_key_sweep, limits, tls, cluster)" % cfg)


def test_check_config_rejects_unknown_plugin_setting(tmp_path, builddir):
    d = harness.Daemon(tmp_path, plugins={"example-traffic": {"drain_tme": "1s"}})
    p = d.run("--check-config", check=False)
    assert p.returncode != 0
    so = os.path.join(d.plugin_dir, "example-traffic.so")
    lines = open(d.config_path).read().splitlines()
    row = next(i for i, l in enumerate(lines, 1) if "drain_tme" in l)
    col = lines[row - 1].index('"drain_tme"') + 1
    assert p.stderr.strip() == (
        "rolloutd: %s: init of plugin 'example-traffic' failed: %s:%d:%d: plugins.example-traffic: unknown "
        "setting 'drain_tme' (known: drain_time)" % (so, d.config_path, row, col))


@pytest.mark.parametrize("broken,fragment", [
    ("other-major", "plugin ABI major mismatch (expected 1.x, found 2.1)"),
    ("newer-minor", "plugin built for a newer ABI (expected at most 1.1, found 1.2)"),
    ("no-entry", "entry symbol missing (expected 'rollout_plugin_v1', found none)"),
])
def test_daemon_refuses_to_start_with_a_broken_plugin(tmp_path, builddir, broken, fragment):
    so = os.path.join(builddir, "tests", "unit", "daemon", "core", "broken", ".libs", broken + ".so")
    if not os.path.exists(so):
        pytest.fail("%s is not built: run make check (it builds the broken test plugins)" % so, pytrace=False)
    d = harness.Daemon(tmp_path, plugins={"bad": None})
    os.symlink(so, os.path.join(d.plugin_dir, "bad.so"))
    proc = subprocess.run([harness.binary("rolloutd"), "--config", d.config_path],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    lines = [l for l in out.splitlines() if "bad.so" in l]
    assert len(lines) == 1, out
    assert "%s/bad.so: %s" % (d.plugin_dir, fragment) in lines[0], out
    assert "Sanitizer" not in out, out


def test_missing_plugin_is_one_clear_line(tmp_path, builddir):
    d = harness.Daemon(tmp_path, plugins={"nosuch": None})
    p = d.run("--check-config", check=False)
    assert p.returncode != 0
    assert p.stderr.strip() == (
        "rolloutd: %s/nosuch.so: cannot load plugin 'nosuch': No such file or directory (expected a regular "
        "file; install the plugin or fix plugin_dir)" % d.plugin_dir)


def test_daemon_runs_with_every_example_plugin_and_stops_cleanly(daemon_factory, tmp_path):
    (tmp_path / "revs").mkdir()
    d = daemon_factory(plugins={
        "example-platform": {"targets": "web-1 web-2"},
        "example-source": {"root": str(tmp_path / "revs")},
        "example-health": {},
        "example-traffic": {"drain_time": "10ms"},
    }, alarms={"flag": {"plugin": "example-health", "file": str(tmp_path / "flag")}})
    status, body = harness.http_get(d.url + "/health")
    assert status == 200
    log = d.log()
    # init ran, and its log line carries the plugin's name as the tag
    assert "[example-platform] serving targets: web-1 web-2" in log, log
    d.stop()  # asserts exit 0 and no sanitizer report


def test_sigint_also_stops_cleanly(daemon_factory):
    d = daemon_factory()
    d.proc.send_signal(signal.SIGINT)
    assert d.proc.wait(20) == 0, d.log_tail()
    d.proc = None
    d._log.close()


def test_access_key_and_signed_clients(daemon, codedeploy, aws):
    # boto3 and the AWS CLI v2 both reach the daemon with a key it created.
    r = codedeploy.list_applications()
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["applications"] == []
    p, out = aws("deploy", "list-applications")
    assert out == {"applications": []}, p.stdout
    # a wrong secret is refused
    bad = dict(daemon.admin, SecretAccessKey="x" * 40)
    p, _ = aws("deploy", "list-applications", check=False, keys=bad)
    assert p.returncode != 0


def test_harness_requires_builddir(monkeypatch):
    monkeypatch.delenv("ROLLOUT_BUILDDIR", raising=False)
    with pytest.raises(harness.HarnessError, match="ROLLOUT_BUILDDIR is not set"):
        harness.builddir()
