"""rolloutd logs to the journal with structured fields when systemd gave it
a journal stream (JOURNAL_STREAM names its stderr): each line about a
deployment carries ROLLOUT_DEPLOYMENT_ID, and lines about an instance's
lifecycle event ROLLOUT_INSTANCE and ROLLOUT_EVENT too.

The journal is real only in the sense of its protocol: rolloutd runs in a
private mount namespace whose /run/systemd is a folder of the test, where a
datagram socket stands in for journald's /run/systemd/journal/socket and
receives what sd_journal_send sends (the native protocol, parsed here)."""

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading

import pytest

import harness
from engine_helpers import Fleet, s3_revision


class Journal(threading.Thread):
    def __init__(self, path):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.entries = []
        self.done = False

    def run(self):
        while not self.done:
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                return
            self.entries.append(parse(data))

    def close(self):
        self.done = True
        self.join(5)
        self.sock.close()


def parse(data):
    """The native journal protocol: KEY=VALUE lines, or KEY, a newline, a
    little-endian 64-bit length, the value and a newline."""
    out, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, _, v = line.partition(b"=")
            out[k.decode()] = v.decode(errors="replace")
            i = nl + 1
        else:
            n = struct.unpack("<Q", data[nl + 1:nl + 9])[0]
            out[line.decode()] = data[nl + 9:nl + 9 + n].decode(errors="replace")
            i = nl + 9 + n + 1
    return out


class JournalDaemon(harness.Daemon):
    """rolloutd as systemd starts it with StandardError=journal."""

    def start(self, timeout=15.0):
        # a socket path has at most 107 bytes: not under pytest's (xdist's
        # deeper) temporary directories
        if not getattr(self, "run_dir", None):
            self.run_dir = tempfile.mkdtemp(prefix="rd-journal-", dir="/tmp")
        run = self.run_dir
        os.makedirs(os.path.join(run, "journal"), exist_ok=True)
        self.journal = Journal(os.path.join(run, "journal", "socket"))
        self.journal.start()
        self._log = open(self.log_path, "ab")
        st = os.fstat(self._log.fileno())
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--", "sh", "-c", 'mount --bind "$0" /run/systemd && exec "$@"', run,
             harness.binary("rolloutd"), "--config", self.config_path],
            stdout=self._log, stderr=self._log, stdin=subprocess.DEVNULL, env=env)
        self.wait_healthy(timeout)
        return self

    def stop(self, timeout=20.0):
        try:
            return super().stop(timeout)
        finally:
            if getattr(self, "run_dir", None):
                shutil.rmtree(self.run_dir, ignore_errors=True)
                self.run_dir = None


@pytest.fixture
def jd(tmp_path):
    if not shutil.which("unshare") or not os.path.isdir("/run/systemd"):
        pytest.skip("needs unshare(1) and /run/systemd to stand in for journald")
    d = JournalDaemon(tmp_path, plugins={"onprem": {}}, settings={"long_poll": "2s"})
    d.admin = d.create_access_key("test-admin", "admin")
    d.start()
    yield d
    d.stop()
    d.journal.close()


def test_deployment_lines_carry_fields(jd):
    f = Fleet(jd, n=2, behaviours={"host-0": lambda dep, ev: "fail" if ev == "BeforeInstall" else "ok"})
    try:
        dep = f.deploy(s3_revision())
        assert f.wait(dep)["status"] == "Failed"
    finally:
        f.stop()
    entries = list(jd.journal.entries)
    assert entries, "nothing reached the journal socket; log:\n" + jd.log_tail()
    # in the journal, not on stderr
    assert "started (" not in jd.log()
    mine = [e for e in entries if e.get("ROLLOUT_DEPLOYMENT_ID") == dep]
    assert any("started (" in e["MESSAGE"] for e in mine), mine
    failed = [e for e in mine if e.get("ROLLOUT_INSTANCE") == "host-0" and e.get("ROLLOUT_EVENT") == "BeforeInstall"
              and "Failed" in e["MESSAGE"]]
    assert failed, mine
    e = failed[0]
    assert e["SYSLOG_IDENTIFIER"] == "rolloutd" and e["PRIORITY"] == "5" and e["ROLLOUT_TAG"] == "engine"
    # lines about no deployment carry no deployment field
    assert any("ROLLOUT_DEPLOYMENT_ID" not in x and "listening on" in x["MESSAGE"] for x in entries)


def test_stderr_that_is_not_the_journal_stream(tmp_path, daemon_factory):
    """A JOURNAL_STREAM that does not name stderr (a child whose stderr was
    redirected) leaves logging on stderr."""
    d = daemon_factory(start=False)
    d._log = open(d.log_path, "ab")
    d.proc = subprocess.Popen([harness.binary("rolloutd"), "--config", d.config_path], stdout=d._log,
                              stderr=d._log, stdin=subprocess.DEVNULL,
                              env=dict(os.environ, JOURNAL_STREAM="1:1"))
    d.wait_healthy()
    assert "listening on" in d.log()
