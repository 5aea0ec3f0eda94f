"""The daemon runtime: command line, offline access keys, sd_notify, signals."""

import json
import os
import signal
import socket
import stat
import subprocess
import time

import harness


def test_version(builddir):
    p = subprocess.run([harness.binary("rolloutd"), "--version"], capture_output=True, text=True)
    assert p.returncode == 0
    assert p.stdout.startswith("rolloutd ") and "plugin ABI 1." in p.stdout


def test_config_required(builddir):
    p = subprocess.run([harness.binary("rolloutd")], capture_output=True, text=True)
    assert p.returncode == 2 and "--config" in p.stderr


def test_check_config(tmp_path, builddir):
    d = harness.Daemon(tmp_path)
    p = d.run("--check-config")
    assert "OK" in p.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: 127.0.0.1:1\nno_such_key: 1\n")
    p = subprocess.run([harness.binary("rolloutd"), "--config", str(bad), "--check-config"],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "no_such_key" in p.stderr


def test_access_key_create_offline(tmp_path, builddir):
    d = harness.Daemon(tmp_path)
    keys = d.create_access_key("ops", "admin")
    assert keys["AccessKeyId"].startswith("AKRD") and len(keys["SecretAccessKey"]) == 40
    db = os.path.join(d.data_dir, "state.db")
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    agent = d.create_access_key("host-1", "agent", instance="host-1")
    assert agent["AccessKeyId"] != keys["AccessKeyId"]
    p = d.run("access-key", "create", "--name", "x", "--policy", "superuser", check=False)
    assert p.returncode == 1 and "admin, deployer, readonly, agent or enroll" in p.stderr
    p = d.run("access-key", "create", "--name", "x", "--policy", "agent", check=False)
    assert p.returncode == 1 and "instance" in p.stderr
    p = d.run("access-key", "create", "--policy", "admin", check=False)
    assert p.returncode == 2 and "--name" in p.stderr
    listed = json.loads(d.run("access-key", "list").stdout)
    assert {k["AccessKeyId"] for k in listed} == {keys["AccessKeyId"], agent["AccessKeyId"]}
    assert [k.get("InstanceName") for k in listed if k["Policy"] == "agent"] == ["host-1"]
    d.run("access-key", "delete", agent["AccessKeyId"])
    assert len(json.loads(d.run("access-key", "list").stdout)) == 1
    # the key works against the running daemon
    d.start()
    try:
        assert d.boto3_client(keys).list_applications()["applications"] == []
    finally:
        d.stop()


def test_sd_notify_and_sigint(tmp_path, builddir):
    d = harness.Daemon(tmp_path)
    sock_path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock_path)
    s.settimeout(10)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="300000")
    env.pop("WATCHDOG_PID", None)
    log = open(d.log_path, "ab")
    proc = subprocess.Popen([harness.binary("rolloutd"), "--config", d.config_path], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        msgs = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("READY=1" in m for m in msgs):
            msgs.append(s.recv(4096).decode())
        assert any("READY=1" in m for m in msgs), msgs
        # health answers once READY was sent
        assert harness.http_get(d.url + "/health")[0] == 200
        # the watchdog is fed at half the interval
        wd = 0
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and wd < 3:
            if "WATCHDOG=1" in s.recv(4096).decode():
                wd += 1
        assert wd >= 3
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        stopping = False
        while time.monotonic() < deadline and not stopping:
            stopping = "STOPPING=1" in s.recv(4096).decode()
        assert stopping
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        s.close()
    out = d.log()
    assert "received SIGINT" in out
    assert "Sanitizer" not in out


def test_busy_port(tmp_path, builddir):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    d = harness.Daemon(tmp_path, settings={"listen": "127.0.0.1:%d" % busy.getsockname()[1]})
    p = subprocess.run([harness.binary("rolloutd"), "--config", d.config_path], capture_output=True, text=True,
                       timeout=20)
    busy.close()
    assert p.returncode == 1
    assert "cannot listen" in p.stderr and "Sanitizer" not in p.stderr


def test_state_survives_restart(daemon_factory):
    d = daemon_factory()
    c = d.boto3_client(d.admin)
    c.create_application(applicationName="kept")
    d.stop()
    d.start()
    assert c.get_application(applicationName="kept")["application"]["applicationName"] == "kept"
