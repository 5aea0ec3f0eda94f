"""rolloutd backup / restore: backups taken while a deployment runs are
consistent stores; one restored into a fresh data_dir (the old one gone)
brings the daemon back with its deployment, which then finishes, its
signing key and its access keys."""

import os
import shutil
import sqlite3
import threading
import time

import pytest

from engine_helpers import EVENTS, Fleet, s3_revision


@pytest.fixture
def d(daemon_factory):
    return daemon_factory(plugins={"onprem": {}}, settings={"long_poll": "1s"})


def check_backup(path, dep):
    """A backup is a self-contained SQLite file whose rows the engine wrote
    in whole transactions: every target it has has all its events."""
    assert not os.path.exists(path + "-wal")
    assert os.stat(path).st_mode & 0o077 == 0
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT value FROM backup_info WHERE key = 'format'").fetchone()[0] == "rolloutd-backup-1"
        # the key-encryption key too: without it the access keys in the backup cannot be used
        assert {r[0] for r in con.execute("SELECT name FROM backup_files")} == {"daemon.key", "daemon.crt", "kek"}
        per_target = con.execute("SELECT target_id, COUNT(*) FROM lifecycle_events WHERE deployment_id = ?"
                                 " GROUP BY target_id", (dep,)).fetchall()
        assert all(n == len(EVENTS) for _, n in per_target), per_target
        return con.execute("SELECT status FROM deployments WHERE id = ?", (dep,)).fetchone()
    finally:
        con.close()


def test_backup_while_running_and_restore_into_fresh_data_dir(d, tmp_path):
    gate = threading.Event()
    f = Fleet(d, n=4, delay=0.02)  # one at a time
    for a in f.agents.values():
        a.retry_for = 60
    f.agents["host-2"].gates["BeforeInstall"] = (gate, "complete")
    try:
        dep = f.deploy(s3_revision())
        # backups while hosts 0 and 1 go through their events
        taken = []
        while not f.agents["host-2"].at_gate and len(taken) < 50:
            p = str(tmp_path / ("running-%d.db" % len(taken)))
            out = d.run("backup", p)
            assert "backup of" in out.stdout
            assert check_backup(p, dep) is not None
            taken.append(p)
        end = time.time() + 30
        while not f.agents["host-2"].at_gate and time.time() < end:
            time.sleep(0.02)
        assert f.agents["host-2"].at_gate, d.log_tail()
        assert taken
        # host-2 holds BeforeInstall (acknowledged, not completed): take the one to restore
        backup = str(tmp_path / "at-gate.db")
        d.run("backup", backup)
        assert check_backup(backup, dep)[0] == "InProgress"

        # the control host is lost: the daemon stops and its data_dir is gone
        d.stop()
        old = str(tmp_path / "lost-data")
        shutil.move(d.data_dir, old)
        r = d.run("restore", backup)
        assert "restored into" in r.stdout
        for name in ("daemon.key", "daemon.crt", "kek"):
            assert open(os.path.join(d.data_dir, name), "rb").read() == open(os.path.join(old, name), "rb").read()
        for name in ("daemon.key", "kek"):
            assert os.stat(os.path.join(d.data_dir, name)).st_mode & 0o077 == 0
        d.start()
        gate.set()
        info = f.wait(dep, timeout=60)
        assert info["status"] == "Succeeded", (info, d.log_tail(40))
        for n in f.names:
            evs = f.target(dep, n)["lifecycleEvents"]
            assert [e["status"] for e in evs] == ["Succeeded"] * len(EVENTS), (n, evs)
        # the admin key came back with the store
        assert f.cd.get_deployment(deploymentId=dep)["deploymentInfo"]["deploymentId"] == dep
    finally:
        gate.set()
        f.stop()


def test_restore_refuses(d, tmp_path):
    p = str(tmp_path / "b.db")
    d.run("backup", p)
    r = d.run("restore", p, check=False)  # the daemon's own data_dir holds a store
    assert r.returncode == 1 and "fresh data_dir" in r.stderr, r.stderr
    d.settings["data_dir"] = str(tmp_path / "fresh")
    d.write_config()
    r = d.run("restore", str(tmp_path / "rolloutd0" / "data" / "state.db"), check=False)
    assert r.returncode == 1 and "not a rolloutd backup" in r.stderr, r.stderr
    r = d.run("backup", check=False)
    assert r.returncode == 2 and "backup needs one argument" in r.stderr
