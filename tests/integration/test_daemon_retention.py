"""Retention: with `retention:` set, rolloutd removes finished deployments
(with their targets, events, commands and hook logs) older than the
configured age, in batches on a worker thread while the engine goes on;
each group's latest attempted and latest successful deployment stay."""

import sqlite3
import time

import pytest

from engine_helpers import Fleet, db_rows, s3_revision


@pytest.fixture
def d(daemon_factory):
    return daemon_factory(plugins={"onprem": {}}, settings={
        "long_poll": "1s", "retention": {"deployments": "1h", "hook_logs": "2h", "interval": "1s"}})


def age(d, ids, hours):
    con = sqlite3.connect(d.data_dir + "/state.db", timeout=30)
    try:
        with con:
            con.executemany("UPDATE deployments SET complete_time = complete_time - ? WHERE id = ?",
                            [(hours * 3600 * 1000, i) for i in ids])
    finally:
        con.close()


def wait_gone(d, ids, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        left = {r[0] for r in db_rows(d, "SELECT id FROM deployments")}
        if not (set(ids) & left):
            return left
        time.sleep(0.2)
    raise AssertionError("still there: %s\n%s" % (set(ids) & left, d.log_tail(20)))


def test_old_deployments_are_pruned_and_the_latest_kept(d):
    fail = [False]
    f = Fleet(d, n=2, behaviours={"host-0": lambda dep, ev: "fail" if ev == "AfterInstall" and fail[0] else "ok"})
    try:
        ids = []
        for i in range(4):
            fail[0] = i == 3  # the last one fails: the group's latest successful is the third
            dep = f.deploy(s3_revision("v%d.zip" % i))
            assert f.wait(dep)["status"] == ("Failed" if i == 3 else "Succeeded")
            ids.append(dep)
        assert db_rows(d, "SELECT COUNT(*) FROM lifecycle_events WHERE deployment_id = ?", (ids[0],))[0][0] > 0
        age(d, ids, 3)
        left = wait_gone(d, ids[:2])
        # the group's latest successful and latest attempted deployments stay
        assert left == {ids[2], ids[3]}, left
        for table in ("lifecycle_events", "deployment_targets", "host_commands", "hook_logs"):
            orphans = db_rows(d, "SELECT COUNT(*) FROM %s WHERE deployment_id NOT IN (SELECT id FROM deployments)"
                              % table)[0][0]
            assert orphans == 0, table
        assert "retention: removed 2 deployment(s)" in d.log()
        with pytest.raises(f.cd.exceptions.DeploymentDoesNotExistException):
            f.cd.get_deployment(deploymentId=ids[0])
        # a newer success: the two old ones go too, the new one stays
        fail[0] = False
        live = f.deploy(s3_revision("v9.zip"))
        assert f.wait(live)["status"] == "Succeeded"
        assert wait_gone(d, ids[2:]) == {live}
        assert f.cd.get_deployment_group(applicationName=f.app, deploymentGroupName=f.group)[
            "deploymentGroupInfo"]["lastSuccessfulDeployment"]["deploymentId"] == live
    finally:
        f.stop()
