"""ECS deployments when things go wrong: an alarm during AllowTraffic (with
automatic rollback), StopDeployment during the termination wait (traffic
back, the original kept), and rolloutd killed -9 during Install and during
AllowTraffic (it resumes without a second task set or a second shift)."""

import pytest
from ecs_helpers import EcsEnv, until
from engine_helpers import kill9_and_restart


@pytest.fixture
def env(tmp_path, daemon_factory):
    e = EcsEnv(tmp_path, daemon_factory)
    yield e
    e.close()


def test_alarm_during_allow_traffic_routes_back_and_rolls_back(tmp_path, daemon_factory):
    env = EcsEnv(tmp_path, daemon_factory,
                 plugins={"cloudwatch": {"endpoint": "MOTO", "region": "us-east-1", "access_key_id": "testing",
                                         "secret_access_key": "testing"}},
                 alarms={"errors": {"plugin": "cloudwatch", "alarm_name": "web-5xx", "interval": "200ms"}},
                 group_settings={"alarmConfiguration": {"enabled": True, "alarms": [{"name": "errors"}]},
                                 "autoRollbackConfiguration": {"enabled": True,
                                                               "events": ["DEPLOYMENT_STOP_ON_ALARM"]}})
    try:
        orig = env.primary()
        cw = env.moto.client("cloudwatch")
        cw.put_metric_alarm(AlarmName="web-5xx", MetricName="5xx", Namespace="AWS/ApplicationELB", Statistic="Sum",
                            Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
        cfg = env.config("Canary10Every5m", "TimeBasedCanary", 10, 300)
        dep = env.deploy(env.appspec(2), config=cfg)
        env.wait_weight(dep, 10.0)
        assert env.shares(env.prod) == {"tg-blue": 90, "tg-green": 10}
        cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="errors up")
        info = env.wait(dep)
        assert info["status"] == "Stopped", info
        assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
        assert env.prod_history() == [{"tg-blue": 90, "tg-green": 10}, {"tg-blue": 100}]
        assert env.shares(env.test) == {"tg-blue": 100}
        assert [s["taskSetArn"] for s in env.task_sets()] == [orig["taskSetArn"]]
        assert env.events(dep)["AllowTraffic"] == "Failed"
        rb = info["rollbackInfo"]["rollbackDeploymentId"]
        rinfo = env.wait(rb)
        assert rinfo["creator"] == "codeDeployRollback" and rinfo["status"] == "Succeeded", rinfo
        assert env.primary()["taskSetArn"] == orig["taskSetArn"]
        assert env.shares(env.prod) == {"tg-blue": 100}
    finally:
        env.close()


def test_stop_during_termination_wait_keeps_the_original(tmp_path, daemon_factory):
    env = EcsEnv(tmp_path, daemon_factory, term_wait=1)
    try:
        orig = env.primary()
        dep = env.deploy(env.appspec(2), config="CodeDeployDefault.ECSAllAtOnce")
        # committed: the replacement is primary, the original waits to be deleted
        until(lambda: (env.primary() or {}).get("externalId") == dep, "the replacement never became primary")
        assert env.events(dep)["AllowTraffic"] == "Succeeded"
        assert env.info(dep)["status"] == "InProgress"
        assert len(env.task_sets()) == 2
        env.cd.stop_deployment(deploymentId=dep)
        info = env.wait(dep)
        assert info["status"] == "Stopped", info
        assert info["errorInformation"]["code"] == "MANUAL_STOP"
        # both listeners back on the original's target group, the original primary again
        assert env.shares(env.prod) == {"tg-blue": 100} and env.shares(env.test) == {"tg-blue": 100}
        sets = env.task_sets()
        assert [(s["taskSetArn"], s["status"]) for s in sets] == [(orig["taskSetArn"], "PRIMARY")]
        assert "DeleteTaskSet" in env.proxy.ecs_calls
    finally:
        env.close()


def test_kill9_during_install_makes_one_task_set(env):
    dep = env.deploy(env.appspec(2), config="CodeDeployDefault.ECSAllAtOnce")
    until(lambda: "CreateTaskSet" in env.proxy.ecs_calls, "no CreateTaskSet")
    kill9_and_restart(env.daemon)
    info = env.wait(dep)
    assert info["status"] == "Succeeded", info
    sets = env.task_sets()
    assert len(sets) == 1 and sets[0]["externalId"] == dep and sets[0]["status"] == "PRIMARY"
    assert env.prod_history() == [{"tg-green": 100}]


def test_kill9_during_allow_traffic_no_second_shift(env):
    cfg = env.config("Linear25Every3s", "TimeBasedLinear", 25, 3)
    dep = env.deploy(env.appspec(2), config=cfg)
    env.wait_weight(dep, 25.0)  # committed: rolloutd reports it
    kill9_and_restart(env.daemon)
    assert env.wait(dep)["status"] == "Succeeded"
    assert env.prod_history() == [{"tg-blue": 75, "tg-green": 25}, {"tg-blue": 50, "tg-green": 50},
                                  {"tg-blue": 25, "tg-green": 75}, {"tg-green": 100}]
    assert env.proxy.ecs_calls.count("CreateTaskSet") == 1
    assert len(env.task_sets()) == 1


def test_failure_with_auto_rollback(tmp_path, daemon_factory):
    env = EcsEnv(tmp_path, daemon_factory, hooks=("post",), group_settings={
        "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}})
    try:
        env.proxy.hooks["post"] = "Failed"
        orig = env.primary()
        dep = env.deploy(env.appspec(2, hooks={"AfterAllowTraffic": "post"}))
        info = env.wait(dep)
        assert info["status"] == "Failed"
        rinfo = env.wait(info["rollbackInfo"]["rollbackDeploymentId"])
        assert rinfo["status"] == "Succeeded" and rinfo["creator"] == "codeDeployRollback"
        assert env.shares(env.prod) == {"tg-blue": 100}
        assert [s["taskSetArn"] for s in env.task_sets()] == [orig["taskSetArn"]]
    finally:
        env.close()
