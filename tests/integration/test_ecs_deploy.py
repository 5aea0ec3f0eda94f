"""ECS blue/green deployments end to end: rolloutd with the ecs plugin
against moto_server's ECS and ELBv2 (a FARGATE service with the EXTERNAL
controller, an ALB with two target groups, production and test listeners),
hook functions played by the proxy of lambda_proxy.py, which also records
the listeners' weights after every ModifyListener."""

import json

import pytest
from ecs_helpers import EcsEnv, until

EVENTS = ["BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
          "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
HOOKS = {"BeforeInstall": "h1", "AfterInstall": "h2", "AfterAllowTestTraffic": "h3", "BeforeAllowTraffic": "h4",
         "AfterAllowTraffic": "h5"}


@pytest.fixture
def env(tmp_path, daemon_factory):
    e = EcsEnv(tmp_path, daemon_factory, hooks=HOOKS.values())
    e.proxy.hooks.update({fn: "Succeeded" for fn in HOOKS.values()})
    yield e
    e.close()


def test_all_at_once_with_every_hook(env):
    orig = env.primary()
    dep = env.deploy(env.appspec(2, hooks=HOOKS), config="CodeDeployDefault.ECSAllAtOnce")
    info = env.wait(dep)
    assert info["status"] == "Succeeded", info
    assert info["computePlatform"] == "ECS"
    # the hooks ran in CodeDeploy's order, each with its own execution id
    inv = env.proxy.invocations
    assert [i["function"] for i in inv] == ["h1", "h2", "h3", "h4", "h5"]
    assert all(i["payload"]["DeploymentId"] == dep for i in inv)
    assert len({i["payload"]["LifecycleEventHookExecutionId"] for i in inv}) == 5
    # test listener first, then production, all at once to the other target group
    assert env.test_history() == [{"tg-green": 100}]
    assert env.prod_history() == [{"tg-green": 100}]
    # the replacement is primary on tg-green; the original task set is gone
    sets = env.task_sets()
    assert len(sets) == 1
    p = sets[0]
    assert p["status"] == "PRIMARY" and p["externalId"] == dep and p["taskSetArn"] != orig["taskSetArn"]
    assert p["taskDefinition"] == env.td[2]
    assert p["loadBalancers"][0]["targetGroupArn"] == env.tg["tg-green"]
    assert p["launchType"] == "FARGATE"  # taken from the original task set
    assert p["networkConfiguration"] == orig["networkConfiguration"]
    t = env.target(dep)
    assert t["deploymentTargetType"] == "ECSTarget"
    et = t["ecsTarget"]
    assert et["status"] == "Succeeded"
    assert et["targetArn"].endswith(":service/c1/web")
    assert [(e["lifecycleEventName"], e["status"]) for e in et["lifecycleEvents"]] == [
        (n, "Succeeded") for n in EVENTS]
    assert [(s["taskSetLabel"], s["trafficWeight"], s["targetGroup"]["name"], s["status"])
            for s in et["taskSetsInfo"]] == [("Green", 100.0, "tg-green", "PRIMARY")]
    assert et["taskSetsInfo"][0]["identifer"] == p["id"]
    # the next deployment goes back to tg-blue (target groups alternate)
    dep2 = env.deploy(env.appspec(3), config="CodeDeployDefault.ECSAllAtOnce")
    assert env.wait(dep2)["status"] == "Succeeded"
    assert env.primary()["loadBalancers"][0]["targetGroupArn"] == env.tg["tg-blue"]
    assert env.shares(env.prod) == {"tg-blue": 100} and env.shares(env.test) == {"tg-blue": 100}
    assert env.events(dep2)["BeforeInstall"] == "Skipped"


def test_canary_weights_observed(env):
    cfg = env.config("Canary20Every4s", "TimeBasedCanary", 20, 4)
    dep = env.deploy(env.appspec(2), config=cfg)
    t = env.wait_weight(dep, 20.0)
    assert env.info(dep)["status"] == "InProgress"
    assert env.shares(env.prod) == {"tg-blue": 80, "tg-green": 20}
    labels = {s["taskSetLabel"]: s for s in t["taskSetsInfo"]}
    assert labels["Blue"]["trafficWeight"] == 80.0 and labels["Blue"]["status"] == "PRIMARY"
    assert labels["Green"]["targetGroup"]["name"] == "tg-green" and labels["Green"]["status"] == "ACTIVE"
    assert len(env.task_sets()) == 2
    assert env.wait(dep)["status"] == "Succeeded"
    assert env.prod_history() == [{"tg-blue": 80, "tg-green": 20}, {"tg-green": 100}]


def test_linear_weights_observed(env):
    cfg = env.config("Linear25Every1s", "TimeBasedLinear", 25, 1)
    dep = env.deploy(env.appspec(2), config=cfg)
    assert env.wait(dep)["status"] == "Succeeded"
    assert env.prod_history() == [{"tg-blue": 75, "tg-green": 25}, {"tg-blue": 50, "tg-green": 50},
                                  {"tg-blue": 25, "tg-green": 75}, {"tg-green": 100}]


@pytest.mark.parametrize("event", list(HOOKS))
def test_failing_hook_routes_back(env, event):
    env.proxy.hooks[HOOKS[event]] = "Failed"
    orig = env.primary()
    dep = env.deploy(env.appspec(2, hooks=HOOKS), config="CodeDeployDefault.ECSAllAtOnce")
    info = env.wait(dep)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    ev = env.events(dep)
    assert ev[event] == "Failed"
    # which traffic had moved before the failure, and that it is back
    moved_test = EVENTS.index(event) > EVENTS.index("AllowTestTraffic")
    moved_prod = event == "AfterAllowTraffic"
    assert ({"tg-green": 100} in env.test_history()) == moved_test
    assert ({"tg-green": 100} in env.prod_history()) == moved_prod
    assert env.shares(env.prod) == {"tg-blue": 100}
    assert env.shares(env.test) == {"tg-blue": 100}
    # the replacement is deleted (none was made before Install), the original stays primary
    sets = env.task_sets()
    assert [s["taskSetArn"] for s in sets] == [orig["taskSetArn"]] and sets[0]["status"] == "PRIMARY"
    assert "CreateTaskSet" in env.proxy.ecs_calls or event == "BeforeInstall"
    if event == "BeforeInstall":
        assert "CreateTaskSet" not in env.proxy.ecs_calls


def test_code_deploy_controller_refused(tmp_path, daemon_factory):
    env = EcsEnv(tmp_path, daemon_factory, controller="CODE_DEPLOY")
    try:
        dep = env.deploy(env.appspec(2))
        info = env.wait(dep)
        assert info["status"] == "Failed"
        assert info["errorInformation"]["code"] == "INVALID_ECS_SERVICE"
        msg = info["errorInformation"]["message"]
        assert "CODE_DEPLOY" in msg and "EXTERNAL" in msg and "deployment-controller" in msg
        assert "CreateTaskSet" not in env.proxy.ecs_calls
    finally:
        env.close()


def test_first_deployment_without_task_set(tmp_path, daemon_factory):
    env = EcsEnv(tmp_path, daemon_factory, first=False)
    try:
        # without a launch type and network there is nothing to take them from
        dep = env.deploy(env.appspec(1))
        info = env.wait(dep)
        assert info["status"] == "Failed"
        assert "LaunchType" in info["errorInformation"]["message"]
        assert "NetworkConfiguration" in info["errorInformation"]["message"]
        assert env.task_sets() == []
        dep = env.deploy(env.appspec(1, network=True, launch_type="FARGATE"))
        info = env.wait(dep)
        assert info["status"] == "Succeeded", info
        p = env.primary()
        assert p["externalId"] == dep and p["loadBalancers"][0]["targetGroupArn"] == env.tg["tg-blue"]
        assert p["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [env.sg]
        # no traffic to shift: the listeners already serve tg-blue
        assert env.proxy.listener_history == []
        assert len(env.task_sets()) == 1
        # the second deployment replaces it on tg-green, with its settings
        dep2 = env.deploy(env.appspec(2))
        assert env.wait(dep2)["status"] == "Succeeded"
        assert env.primary()["loadBalancers"][0]["targetGroupArn"] == env.tg["tg-green"]
        assert len(env.task_sets()) == 1
    finally:
        env.close()


def test_appspec_errors(env):
    cases = [
        (env.appspec(2, container="api"), "INVALID_REVISION", "no container named api"),
        (env.appspec(2, port=8443), "INVALID_REVISION", "containerPort 8443"),
        (env.appspec(2, task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/nope:9"),
         "INVALID_REVISION", "does not exist"),
        ("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
         "        TaskDefinition: x\n", "INVALID_REVISION", "ContainerName"),
    ]
    for content, code, text in cases:
        info = env.wait(env.deploy(content))
        assert info["status"] == "Failed"
        assert info["errorInformation"]["code"] == code, info
        assert text in info["errorInformation"]["message"], info
    assert "CreateTaskSet" not in env.proxy.ecs_calls


def test_missing_service_and_target_group(tmp_path, daemon_factory):
    env = EcsEnv(tmp_path, daemon_factory)
    try:
        env.cd.update_deployment_group(applicationName="app", currentDeploymentGroupName="grp",
                                       ecsServices=[{"serviceName": "nope", "clusterName": "c1"}])
        info = env.wait(env.deploy(env.appspec(2)))
        assert info["errorInformation"]["code"] == "INVALID_ECS_SERVICE"
        assert "nope" in info["errorInformation"]["message"]
        env.cd.update_deployment_group(applicationName="app", currentDeploymentGroupName="grp",
                                       ecsServices=[{"serviceName": "web", "clusterName": "c9"}])
        info = env.wait(env.deploy(env.appspec(2)))
        assert "cluster c9 does not exist" in info["errorInformation"]["message"]
        pair = {"targetGroups": [{"name": "tg-blue"}, {"name": "tg-gone"}],
                "prodTrafficRoute": {"listenerArns": [env.prod]}}
        env.cd.update_deployment_group(applicationName="app", currentDeploymentGroupName="grp",
                                       ecsServices=[{"serviceName": "web", "clusterName": "c1"}],
                                       loadBalancerInfo={"targetGroupPairInfoList": [pair]})
        info = env.wait(env.deploy(env.appspec(2)))
        assert info["errorInformation"]["code"] == "ELASTIC_LOAD_BALANCING_INVALID"
        assert "tg-gone" in info["errorInformation"]["message"]
    finally:
        env.close()


def test_aws_cli_and_boto3(env):
    content = env.appspec(2)
    rev = json.dumps({"revisionType": "AppSpecContent", "appSpecContent": {"content": content}})
    _, out = env.daemon.aws(env.daemon.admin, "deploy", "create-deployment", "--application-name", "app",
                            "--deployment-group-name", "grp", "--revision", rev)
    dep = out["deploymentId"]
    assert env.wait(dep)["status"] == "Succeeded"
    targets = env.cd.list_deployment_targets(deploymentId=dep)["targetIds"]
    assert targets == ["c1:web"]
    batch = env.cd.batch_get_deployment_targets(deploymentId=dep, targetIds=targets)["deploymentTargets"]
    assert batch[0]["ecsTarget"]["taskSetsInfo"][0]["taskSetLabel"] == "Green"
    _, out = env.daemon.aws(env.daemon.admin, "deploy", "get-deployment-target", "--deployment-id", dep,
                            "--target-id", "c1:web")
    assert out["deploymentTarget"]["deploymentTargetType"] == "ECSTarget"


def test_ready_wait_and_termination_wait(tmp_path, daemon_factory):
    bg = {"deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 30},
          "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 30}}
    env = EcsEnv(tmp_path, daemon_factory, group_settings={"blueGreenDeploymentConfiguration": bg})
    try:
        for version, wait_ends in ((2, "skip"), (3, "TERMINATION_WAIT")):
            dep = env.deploy(env.appspec(version))
            # Ready: the test listener serves the replacement, production does not yet
            env.wait(dep, statuses=("Ready",))
            green = "tg-green" if version == 2 else "tg-blue"
            assert env.shares(env.test) == {green: 100}
            assert env.shares(env.prod) != {green: 100}
            assert env.events(dep)["AllowTestTraffic"] == "Succeeded"
            assert env.events(dep)["AllowTraffic"] == "Pending"
            env.cd.continue_deployment(deploymentId=dep, deploymentWaitType="READY_WAIT")
            # the termination wait: the replacement is primary, the original still there
            until(lambda: (env.primary() or {}).get("externalId") == dep)
            assert env.shares(env.prod) == {green: 100}
            assert env.info(dep)["status"] == "InProgress"
            assert len(env.task_sets()) == 2
            if wait_ends == "skip":
                env.cd.skip_wait_time_for_instance_termination(deploymentId=dep)
            else:
                env.cd.continue_deployment(deploymentId=dep, deploymentWaitType=wait_ends)
            assert env.wait(dep)["status"] == "Succeeded"
            assert [s["externalId"] for s in env.task_sets()] == [dep]
    finally:
        env.close()


def test_group_pair_validated(env):
    import botocore.exceptions
    bad = [{"targetGroups": [{"name": "tg-blue"}], "prodTrafficRoute": {"listenerArns": [env.prod]}},
           {"targetGroups": [{"name": "tg-blue"}, {"name": "tg-blue"}], "prodTrafficRoute": {"listenerArns": [env.prod]}},
           {"targetGroups": [{"name": "tg-blue"}, {"name": "tg-green"}], "prodTrafficRoute": {"listenerArns": []}}]
    for pair in bad:
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            env.cd.create_deployment_group(applicationName="app", deploymentGroupName="g2",
                                           serviceRoleArn="arn:aws:iam::123456789012:role/x",
                                           ecsServices=[{"serviceName": "web", "clusterName": "c1"}],
                                           loadBalancerInfo={"targetGroupPairInfoList": [pair]})
        assert ei.value.response["Error"]["Code"] == "InvalidTargetGroupPairException"
