"""Lambda deployments when things go wrong: an alarm during a canary, a hook
that never answers, automatic rollback, and rolloutd killed -9 between
steps and while a hook runs (it resumes without a second shift and without
losing an accepted hook status)."""

import pytest
from engine_helpers import kill9_and_restart
from lambda_helpers import LambdaEnv


def make(tmp_path, daemon_factory, **kw):
    e = LambdaEnv(tmp_path, daemon_factory, versions=3, hooks=("pre", "post"), **kw)
    e.proxy.hooks.update({"pre": "Succeeded", "post": "Succeeded"})
    return e


@pytest.fixture
def env(tmp_path, daemon_factory):
    e = make(tmp_path, daemon_factory)
    yield e
    e.close()


def test_alarm_during_canary_routes_back_and_rolls_back(tmp_path, daemon_factory):
    # the cloudwatch plugin reads the group's alarm from the same moto_server
    env = make(tmp_path, daemon_factory,
               plugins={"cloudwatch": {"endpoint": "MOTO", "region": "us-east-1", "access_key_id": "testing",
                                       "secret_access_key": "testing"}},
               alarms={"errors": {"plugin": "cloudwatch", "alarm_name": "fn-errors", "interval": "200ms"}},
               group_settings={"alarmConfiguration": {"enabled": True, "alarms": [{"name": "errors"}]},
                               "autoRollbackConfiguration": {"enabled": True,
                                                             "events": ["DEPLOYMENT_STOP_ON_ALARM"]}})
    try:
        cw = env.moto.client("cloudwatch")
        cw.put_metric_alarm(AlarmName="fn-errors", MetricName="Errors", Namespace="AWS/Lambda", Statistic="Sum",
                            Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
        cfg = env.config("Canary10Every5m", "TimeBasedCanary", 10, 300)
        dep = env.deploy(env.appspec(1, 2, before="pre", after="post"), config=cfg)
        env.wait_weight(dep, 0.1)
        cw.set_alarm_state(AlarmName="fn-errors", StateValue="ALARM", StateReason="errors up")
        info = env.wait(dep)
        assert info["status"] == "Stopped", info
        assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
        assert env.shifts() == [("1", {"2": 0.1}), ("1", {})]
        assert env.alias_now() == ("1", {})
        assert [i["function"] for i in env.proxy.invocations] == ["pre"]
        rb = info["rollbackInfo"]["rollbackDeploymentId"]
        rinfo = env.wait(rb)
        assert rinfo["creator"] == "codeDeployRollback" and rinfo["status"] == "Succeeded", rinfo
        assert rinfo["rollbackInfo"]["rollbackTriggeringDeploymentId"] == dep
        assert env.alias_now() == ("1", {})
    finally:
        env.close()


def test_hook_that_never_answers_times_out(tmp_path, daemon_factory):
    env = make(tmp_path, daemon_factory, settings={"hook_timeout": "2s"})
    try:
        env.proxy.hooks["post"] = "never"
        dep = env.deploy(env.appspec(1, 2, before="pre", after="post"), config="CodeDeployDefault.LambdaAllAtOnce")
        info = env.wait(dep, timeout=30)
        assert info["status"] == "Failed"
        assert info["errorInformation"]["code"] == "TIMEOUT"
        assert "AfterAllowTraffic" in info["errorInformation"]["message"]
        assert env.shifts() == [("2", {}), ("1", {})]
        assert env.events(dep)["AfterAllowTraffic"] == "Failed"
    finally:
        env.close()


def test_failure_with_auto_rollback(tmp_path, daemon_factory):
    env = make(tmp_path, daemon_factory, group_settings={
        "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}})
    try:
        env.proxy.hooks["post"] = "Failed"
        dep = env.deploy(env.appspec(1, 2, after="post"), config="CodeDeployDefault.LambdaAllAtOnce")
        info = env.wait(dep)
        assert info["status"] == "Failed"
        rb = info["rollbackInfo"]["rollbackDeploymentId"]
        rinfo = env.wait(rb)
        assert rinfo["status"] == "Succeeded" and rinfo["creator"] == "codeDeployRollback"
        assert env.events(rb)["AllowTraffic"] == "Succeeded"
        assert env.alias_now() == ("1", {})
        # the hooks belong to the deployment that failed, not to its rollback
        assert [i["function"] for i in env.proxy.invocations] == ["post"]
    finally:
        env.close()


def test_kill9_between_steps_no_second_shift(env):
    cfg = env.config("Linear25Every3s", "TimeBasedLinear", 25, 3)
    dep = env.deploy(env.appspec(1, 2, before="pre", after="post"), config=cfg)
    env.wait_weight(dep, 0.25)  # committed: rolloutd reports it
    kill9_and_restart(env.daemon)
    assert env.wait(dep)["status"] == "Succeeded"
    assert env.shifts() == [("1", {"2": 0.25}), ("1", {"2": 0.5}), ("1", {"2": 0.75}), ("2", {})]
    assert [i["function"] for i in env.proxy.invocations] == ["pre", "post"]


def test_kill9_while_hook_runs(env):
    """A hook invoked before the kill is answered after the restart (rolloutd
    may invoke it again with the same execution id: hooks run at least
    once); a status accepted just before a kill is not lost, and the hook is
    not invoked again."""
    env.proxy.hooks["pre"] = "manual"
    env.proxy.hooks["post"] = "manual"

    def calls(fn):
        return [i for i in env.proxy.invocations if i["function"] == fn]

    dep = env.deploy(env.appspec(1, 2, before="pre", after="post"), config="CodeDeployDefault.LambdaAllAtOnce")
    pre = env.proxy.wait_invocations(1)[0]
    kill9_and_restart(env.daemon)
    assert env.info(dep)["status"] == "InProgress"
    assert {i["payload"]["LifecycleEventHookExecutionId"] for i in calls("pre")} == \
        {pre["payload"]["LifecycleEventHookExecutionId"]}
    assert env.proxy.answer(pre, "Succeeded") == "Succeeded"
    kill9_and_restart(env.daemon)  # the answer was acknowledged, so it is durable
    n_pre = len(calls("pre"))
    env.proxy.wait_invocations(n_pre + 1)
    post = calls("post")[0]
    assert env.proxy.answer(post, "Succeeded") == "Succeeded"
    assert env.wait(dep)["status"] == "Succeeded"
    assert len(calls("pre")) == n_pre and len(calls("post")) == 1
    assert env.shifts() == [("2", {})]


def test_kill9_while_routing_back_after_stop(env):
    cfg = env.config("Canary30Every5m", "TimeBasedCanary", 30, 300)
    dep = env.deploy(env.appspec(1, 2), config=cfg)
    env.wait_weight(dep, 0.3)
    env.cd.stop_deployment(deploymentId=dep)
    kill9_and_restart(env.daemon)
    assert env.wait(dep)["status"] == "Stopped"
    assert env.alias_now() == ("1", {})
    assert env.shifts()[-1] == ("1", {})
