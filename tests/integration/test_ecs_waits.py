"""The two waits of an ECS blue/green deployment, beyond the happy path:
deploymentReadyOption STOP_DEPLOYMENT when nobody continues (Stopped, the
test listener back, the replacement deleted), rolloutd killed -9 while the
deployment is Ready (still Ready after the restart, and continuing it
completes it with one task set), and what GetDeployment and
BatchGetDeployments report once the termination wait has begun
(instanceTerminationWaitTimeStarted)."""

import time

import botocore.exceptions
import pytest
from ecs_helpers import EcsEnv, until
from engine_helpers import kill9_and_restart

pytestmark = pytest.mark.slow

# The daemon's test time scale: a "minute" of waitTimeInMinutes and
# terminationWaitTimeInMinutes lasts this many milliseconds.
MINUTE_MS = 2000


def _env(tmp_path, daemon_factory, ready_minutes, term_minutes):
    bg = {"deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": ready_minutes},
          "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                        "terminationWaitTimeInMinutes": term_minutes}}
    return EcsEnv(tmp_path, daemon_factory, group_settings={"blueGreenDeploymentConfiguration": bg})


def test_ready_wait_timeout_stops_and_routes_back(tmp_path, daemon_factory, monkeypatch):
    # the smallest wait that is one: 1 minute, scaled to MINUTE_MS
    monkeypatch.setenv("ROLLOUTD_TRAFFIC_MINUTE_MS", str(MINUTE_MS))
    env = _env(tmp_path, daemon_factory, ready_minutes=1, term_minutes=0)
    try:
        orig = env.primary()
        dep = env.deploy(env.appspec(2))
        info = env.wait(dep)
        assert info["status"] == "Stopped", info
        assert info["errorInformation"]["code"] == "TIMEOUT", info
        assert "ContinueDeployment" in info["errorInformation"]["message"]
        assert info["instanceTerminationWaitTimeStarted"] is False
        # production never moved; the test listener went to the replacement and back
        assert env.prod_history() == []
        assert env.shares(env.prod) == {"tg-blue": 100}
        assert env.test_history() == [{"tg-green": 100}, {"tg-blue": 100}]
        # the replacement is gone, the original is the primary still
        assert [(s["taskSetArn"], s["status"]) for s in env.task_sets()] == [(orig["taskSetArn"], "PRIMARY")]
        assert env.proxy.ecs_calls.count("CreateTaskSet") == 1
        events = env.events(dep)
        assert events["AllowTestTraffic"] == "Succeeded"
        assert events["AllowTraffic"] != "Succeeded"
        # too late to continue
        with pytest.raises(botocore.exceptions.ClientError):
            env.cd.continue_deployment(deploymentId=dep, deploymentWaitType="READY_WAIT")
        assert env.info(dep)["status"] == "Stopped"
        # the next deployment starts from the original again (tg-green is free)
        dep2 = env.deploy(env.appspec(3))
        env.wait(dep2, statuses=("Ready", "Succeeded", "Failed", "Stopped"))
        env.cd.continue_deployment(deploymentId=dep2, deploymentWaitType="READY_WAIT")
        assert env.wait(dep2)["status"] == "Succeeded"
        assert env.shares(env.prod) == {"tg-green": 100}
        assert [s["externalId"] for s in env.task_sets()] == [dep2]
    finally:
        env.close()


def test_kill9_while_ready_then_continue(tmp_path, daemon_factory):
    env = _env(tmp_path, daemon_factory, ready_minutes=60, term_minutes=0)
    try:
        orig = env.primary()
        dep = env.deploy(env.appspec(2))
        assert env.wait(dep, statuses=("Ready", "Succeeded", "Failed", "Stopped"))["status"] == "Ready"
        assert len(env.task_sets()) == 2
        kill9_and_restart(env.daemon)
        # still waiting for ContinueDeployment after the restart, nothing moved
        assert env.info(dep)["status"] == "Ready"
        time.sleep(1)
        assert env.info(dep)["status"] == "Ready"
        assert env.prod_history() == []
        assert env.events(dep)["AllowTraffic"] == "Pending"
        env.cd.continue_deployment(deploymentId=dep, deploymentWaitType="READY_WAIT")
        info = env.wait(dep)
        assert info["status"] == "Succeeded", info
        # one replacement task set, created once; the original deleted once
        assert env.proxy.ecs_calls.count("CreateTaskSet") == 1
        sets = env.task_sets()
        assert [(s["externalId"], s["status"]) for s in sets] == [(dep, "PRIMARY")]
        assert orig["taskSetArn"] not in [s["taskSetArn"] for s in sets]
        assert env.prod_history() == [{"tg-green": 100}]
        assert env.test_history() == [{"tg-green": 100}]
        # no termination wait to speak of, but it began (and ended at once)
        assert info["instanceTerminationWaitTimeStarted"] is True
    finally:
        env.close()


def test_termination_wait_reported(tmp_path, daemon_factory):
    env = _env(tmp_path, daemon_factory, ready_minutes=60, term_minutes=60)
    try:
        dep = env.deploy(env.appspec(2))
        env.wait(dep, statuses=("Ready", "Succeeded", "Failed", "Stopped"))
        assert env.info(dep)["instanceTerminationWaitTimeStarted"] is False
        env.cd.continue_deployment(deploymentId=dep, deploymentWaitType="READY_WAIT")
        until(lambda: env.info(dep)["instanceTerminationWaitTimeStarted"] is True,
               "instanceTerminationWaitTimeStarted never became true")
        info = env.info(dep)
        assert info["status"] == "InProgress"
        batch = env.cd.batch_get_deployments(deploymentIds=[dep])["deploymentsInfo"]
        assert batch[0]["instanceTerminationWaitTimeStarted"] is True
        # traffic has moved and the original still runs, without traffic
        assert env.shares(env.prod) == {"tg-green": 100}
        sets = {s["taskSetLabel"]: s for s in env.target(dep)["ecsTarget"]["taskSetsInfo"]}
        assert sets["Green"]["trafficWeight"] == 100.0 and sets["Blue"]["trafficWeight"] == 0.0
        assert sets["Green"]["status"] == "PRIMARY"
        assert len(env.task_sets()) == 2
        env.cd.skip_wait_time_for_instance_termination(deploymentId=dep)
        info = env.wait(dep)
        assert info["status"] == "Succeeded", info
        assert info["instanceTerminationWaitTimeStarted"] is True
        assert [s["externalId"] for s in env.task_sets()] == [dep]
    finally:
        env.close()
