"""Lambda deployments end to end: rolloutd with the lambda plugin against
moto_server's Lambda (real functions, versions and aliases), hook functions
played by the proxy of lambda_proxy.py. The alias's state in moto is
recorded after every UpdateAlias, so each step of a shift is observed."""

import hashlib
import json
import re
import subprocess

import pytest

import harness
from api_helpers import call, error_code
from lambda_helpers import LambdaEnv


@pytest.fixture
def env(tmp_path, daemon_factory):
    e = LambdaEnv(tmp_path, daemon_factory, versions=3, hooks=("pre", "post"))
    e.proxy.hooks.update({"pre": "Succeeded", "post": "Succeeded"})
    yield e
    e.close()


def test_all_at_once_with_hooks(env):
    dep = env.deploy(env.appspec(1, 2, before="pre", after="post"), config="CodeDeployDefault.LambdaAllAtOnce")
    info = env.wait(dep)
    assert info["status"] == "Succeeded", info
    assert info["computePlatform"] == "Lambda"
    assert info["deploymentOverview"]["Succeeded"] == 1
    # one UpdateAlias: all traffic to 2, no routing config left
    assert env.shifts() == [("2", {})]
    assert env.alias_now() == ("2", {})
    # the hooks ran in order, each with this deployment and its own execution id
    inv = env.proxy.invocations
    assert [i["function"] for i in inv] == ["pre", "post"]
    assert all(i["payload"]["DeploymentId"] == dep for i in inv)
    assert inv[0]["payload"]["LifecycleEventHookExecutionId"] != inv[1]["payload"]["LifecycleEventHookExecutionId"]
    assert [i["answered"] for i in inv] == ["Succeeded", "Succeeded"]
    # the one target, as GetDeploymentTarget shows it
    assert env.cd.list_deployment_targets(deploymentId=dep)["targetIds"] == ["fn"]
    t = env.target(dep)
    assert t["deploymentTargetType"] == "LambdaTarget"
    lt = t["lambdaTarget"]
    assert lt["status"] == "Succeeded"
    assert lt["targetArn"].endswith(":function:fn:live")
    assert lt["lambdaFunctionInfo"] == {"functionName": "fn", "functionAlias": "live", "currentVersion": "1",
                                        "targetVersion": "2", "targetVersionWeight": 1.0}
    assert [(e["lifecycleEventName"], e["status"]) for e in lt["lifecycleEvents"]] == [
        ("BeforeAllowTraffic", "Succeeded"), ("AllowTraffic", "Succeeded"), ("AfterAllowTraffic", "Succeeded")]
    batch = env.cd.batch_get_deployment_targets(deploymentId=dep, targetIds=["fn"])["deploymentTargets"]
    assert batch[0]["lambdaTarget"]["lambdaFunctionInfo"]["targetVersion"] == "2"
    # the next deployment starts from where this one ended
    dep2 = env.deploy(env.appspec(2, 3), config="CodeDeployDefault.LambdaAllAtOnce")
    assert env.wait(dep2)["status"] == "Succeeded"
    assert env.alias_now() == ("3", {})
    assert env.events(dep2) == {"BeforeAllowTraffic": "Skipped", "AllowTraffic": "Succeeded",
                                "AfterAllowTraffic": "Skipped"}
    # /metrics times and counts the plugin's steps like every plugin call
    st, body = harness.http_get(env.daemon.url + "/metrics")
    assert st == 200
    for op in ("resolve", "shift_prepare", "shift_weight", "shift_hook", "shift_commit"):
        assert re.search(r'^rolloutd_plugin_op_duration_seconds_count\{plugin="lambda",op="%s"\} [1-9]' % op,
                         body.decode(), re.M), op


def test_canary_steps_observed(env):
    cfg = env.config("Canary20Every5s", "TimeBasedCanary", 20, 5)
    dep = env.deploy(env.appspec(1, 2, before="pre", after="post"), config=cfg)
    # rolloutd reports the canary weight while it waits
    t = env.wait_weight(dep, 0.2)
    assert t["status"] == "InProgress"
    assert env.info(dep)["status"] == "InProgress"
    assert env.alias_now() == ("1", {"2": 0.2})
    assert env.wait(dep)["status"] == "Succeeded"
    assert env.shifts() == [("1", {"2": 0.2}), ("2", {})]
    # the After hook ran once all traffic had moved
    assert [i["function"] for i in env.proxy.invocations] == ["pre", "post"]


def test_linear_steps_observed(env):
    cfg = env.config("Linear25Every1s", "TimeBasedLinear", 25, 1)
    dep = env.deploy(env.appspec(1, 2), config=cfg)
    assert env.wait(dep)["status"] == "Succeeded"
    assert env.shifts() == [("1", {"2": 0.25}), ("1", {"2": 0.5}), ("1", {"2": 0.75}), ("2", {})]
    assert env.target(dep)["lambdaTarget"]["lambdaFunctionInfo"]["targetVersionWeight"] == 1.0


def test_builtin_lambda_configs(env):
    """The nine built-ins are deployable Lambda configs with AWS's minutes."""
    names = [n for n in env.cd.list_deployment_configs()["deploymentConfigsList"] if ".Lambda" in n]
    assert sorted(names) == sorted([
        "CodeDeployDefault.LambdaAllAtOnce",
        "CodeDeployDefault.LambdaCanary10Percent5Minutes", "CodeDeployDefault.LambdaCanary10Percent10Minutes",
        "CodeDeployDefault.LambdaCanary10Percent15Minutes", "CodeDeployDefault.LambdaCanary10Percent30Minutes",
        "CodeDeployDefault.LambdaLinear10PercentEvery1Minute", "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
        "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes",
        "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes"])
    # a built-in canary really waits its minutes: first step taken, then stopped
    dep = env.deploy(env.appspec(1, 2), config="CodeDeployDefault.LambdaCanary10Percent5Minutes")
    env.wait_weight(dep, 0.1)
    assert env.info(dep)["status"] == "InProgress"
    env.cd.stop_deployment(deploymentId=dep)
    assert env.wait(dep)["status"] == "Stopped"
    assert env.alias_now() == ("1", {})


def test_failing_before_hook_moves_nothing(env):
    env.proxy.hooks["pre"] = "Failed"
    dep = env.deploy(env.appspec(1, 2, before="pre", after="post"), config="CodeDeployDefault.LambdaAllAtOnce")
    info = env.wait(dep)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert "BeforeAllowTraffic" in info["errorInformation"]["message"]
    assert all(v == "1" and not w for v, w in env.shifts()), env.shifts()
    assert env.alias_now() == ("1", {})
    assert env.events(dep) == {"BeforeAllowTraffic": "Failed", "AllowTraffic": "Skipped",
                               "AfterAllowTraffic": "Skipped"}
    assert env.target(dep)["lambdaTarget"]["status"] == "Failed"
    assert [i["function"] for i in env.proxy.invocations] == ["pre"]


def test_failing_after_hook_moves_traffic_back(env):
    env.proxy.hooks["post"] = "Failed"
    cfg = env.config("Linear50Every1s", "TimeBasedLinear", 50, 1)
    dep = env.deploy(env.appspec(1, 2, before="pre", after="post"), config=cfg)
    info = env.wait(dep)
    assert info["status"] == "Failed"
    assert env.shifts() == [("1", {"2": 0.5}), ("2", {}), ("1", {})]
    assert env.alias_now() == ("1", {})
    assert env.events(dep) == {"BeforeAllowTraffic": "Succeeded", "AllowTraffic": "Succeeded",
                               "AfterAllowTraffic": "Failed"}
    assert env.target(dep)["lambdaTarget"]["lambdaFunctionInfo"]["targetVersionWeight"] == 0.0


def test_hook_function_error_fails_at_once(env):
    env.proxy.hooks["pre"] = "error"
    dep = env.deploy(env.appspec(1, 2, before="pre"), config="CodeDeployDefault.LambdaAllAtOnce")
    info = env.wait(dep, timeout=20)
    assert info["status"] == "Failed"
    assert "hook pre crashed" in info["errorInformation"]["message"]
    ev = [e for e in env.target(dep)["lambdaTarget"]["lifecycleEvents"] if e["lifecycleEventName"] ==
          "BeforeAllowTraffic"][0]
    assert ev["status"] == "Failed" and "hook pre crashed" in ev["diagnostics"]["message"]


def test_stop_during_canary_routes_back(env):
    cfg = env.config("Canary10Every5m", "TimeBasedCanary", 10, 300)
    dep = env.deploy(env.appspec(1, 2, before="pre", after="post"), config=cfg)
    env.wait_weight(dep, 0.1)
    r = env.cd.stop_deployment(deploymentId=dep)
    assert r["status"] in ("Pending", "Succeeded")
    info = env.wait(dep)
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "MANUAL_STOP"
    assert env.shifts() == [("1", {"2": 0.1}), ("1", {})]
    assert [i["function"] for i in env.proxy.invocations] == ["pre"]
    assert error_code(env.cd.stop_deployment, deploymentId=dep) == "DeploymentAlreadyCompletedException"


def test_put_status_errors(env):
    env.proxy.hooks["pre"] = "manual"
    dep = env.deploy(env.appspec(1, 2, before="pre"), config="CodeDeployDefault.LambdaAllAtOnce")
    inv = env.proxy.wait_invocations(1)[0]
    exec_id = inv["payload"]["LifecycleEventHookExecutionId"]
    hooks = env.daemon.boto3_client(env.deployer)
    readonly = env.daemon.boto3_client(env.daemon.create_access_key("viewer", "readonly"))
    assert error_code(readonly.put_lifecycle_event_hook_execution_status, deploymentId=dep,
                      lifecycleEventHookExecutionId=exec_id, status="Succeeded") == "AccessDeniedException"
    assert error_code(hooks.put_lifecycle_event_hook_execution_status, deploymentId=dep,
                      lifecycleEventHookExecutionId="no-such-execution", status="Succeeded") == \
        "InvalidLifecycleEventHookExecutionIdException"
    assert error_code(hooks.put_lifecycle_event_hook_execution_status, deploymentId="d-AAAAAAAAA",
                      lifecycleEventHookExecutionId=exec_id, status="Succeeded") == \
        "DeploymentDoesNotExistException"
    r = call(env.daemon, env.deployer, "PutLifecycleEventHookExecutionStatus",
             {"deploymentId": dep, "lifecycleEventHookExecutionId": exec_id, "status": "InProgress"})
    assert r.error_type == "InvalidLifecycleEventHookExecutionStatusException"
    out = hooks.put_lifecycle_event_hook_execution_status(deploymentId=dep, lifecycleEventHookExecutionId=exec_id,
                                                          status="Succeeded")
    assert out["lifecycleEventHookExecutionId"] == exec_id
    # a second verdict for the same execution is refused, also after the deployment ended
    assert error_code(hooks.put_lifecycle_event_hook_execution_status, deploymentId=dep,
                      lifecycleEventHookExecutionId=exec_id, status="Failed") == \
        "LifecycleEventAlreadyCompletedException"
    assert env.wait(dep)["status"] == "Succeeded"
    assert error_code(hooks.put_lifecycle_event_hook_execution_status, deploymentId=dep,
                      lifecycleEventHookExecutionId=exec_id, status="Succeeded") == \
        "LifecycleEventAlreadyCompletedException"
    # another deployment's execution id
    dep2 = env.deploy(env.appspec(2, 3, before="pre"), config="CodeDeployDefault.LambdaAllAtOnce")
    env.proxy.wait_invocations(2)
    assert error_code(hooks.put_lifecycle_event_hook_execution_status, deploymentId=dep2,
                      lifecycleEventHookExecutionId=exec_id, status="Succeeded") == \
        "InvalidLifecycleEventHookExecutionIdException"
    env.cd.stop_deployment(deploymentId=dep2)
    assert env.wait(dep2)["status"] == "Stopped"


@pytest.mark.parametrize("case", ["alias_elsewhere", "alias_split", "same_version", "no_function", "no_version",
                                  "no_alias"])
def test_pre_check_errors(env, case):
    appspec = env.appspec(1, 2)
    code, words = "INVALID_LAMBDA_CONFIGURATION", None
    if case == "alias_elsewhere":
        env.lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="3")
        words = "The Lambda function alias version does not match the current version in AppSpec file"
    elif case == "alias_split":
        env.lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="1",
                             RoutingConfig={"AdditionalVersionWeights": {"3": 0.5}})
        words = "already splits traffic"
    elif case == "same_version":
        appspec = env.appspec(2, 2)
        words = "both 2"
    elif case == "no_function":
        appspec = env.appspec(1, 2, name="missing")
        code, words = "INVALID_LAMBDA_FUNCTION", "function missing does not exist"
    elif case == "no_version":
        appspec = env.appspec(1, 9)
        words = "version 9 (TargetVersion) of function fn does not exist"
    elif case == "no_alias":
        appspec = env.appspec(1, 2, alias="beta")
        words = "alias beta of function fn does not exist"
    before = env.alias_now()
    dep = env.deploy(appspec, config="CodeDeployDefault.LambdaAllAtOnce")
    info = env.wait(dep)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == code, info["errorInformation"]
    assert words in info["errorInformation"]["message"], info["errorInformation"]
    assert env.shifts() == [] and env.alias_now() == before


def test_bad_appspec_and_sha256(env):
    dep = env.deploy("version: 0.0\nResources: []\n")
    info = env.wait(dep)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "INVALID_REVISION"
    assert "Resources" in info["errorInformation"]["message"]
    content = env.appspec(1, 2)
    rev = {"revisionType": "AppSpecContent", "appSpecContent": {"content": content, "sha256": "0" * 64}}
    dep = env.cd.create_deployment(applicationName="app", deploymentGroupName="grp", revision=rev)["deploymentId"]
    info = env.wait(dep)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "INVALID_REVISION"
    assert "sha256" in info["errorInformation"]["message"]
    assert env.shifts() == []


def test_json_appspec_with_lowercase_keys(env):
    doc = {"version": 0.0, "resources": [{"f": {"type": "AWS::Lambda::Function", "properties": {
        "name": "fn", "alias": "live", "currentversion": 1, "targetversion": 3}}}],
        "hooks": [{"beforeallowtraffic": "pre"}]}
    rev = {"revisionType": "String", "string": {"content": json.dumps(doc)}}
    dep = env.cd.create_deployment(applicationName="app", deploymentGroupName="grp", revision=rev,
                                   deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce")["deploymentId"]
    assert env.wait(dep)["status"] == "Succeeded"
    assert env.alias_now() == ("3", {})
    assert [i["function"] for i in env.proxy.invocations] == ["pre"]


def test_aws_cli_appspec_content(env):
    content = env.appspec(1, 2, before="pre")
    sha = hashlib.sha256(content.encode()).hexdigest()
    p, out = env.daemon.aws(env.daemon.admin, "deploy", "create-deployment", "--application-name", "app",
                            "--deployment-group-name", "grp", "--deployment-config-name",
                            "CodeDeployDefault.LambdaAllAtOnce", "--revision",
                            json.dumps({"revisionType": "AppSpecContent",
                                        "appSpecContent": {"content": content, "sha256": sha}}))
    dep = out["deploymentId"]
    assert env.wait(dep)["status"] == "Succeeded"
    p, out = env.daemon.aws(env.daemon.admin, "deploy", "get-deployment-target", "--deployment-id", dep,
                            "--target-id", "fn")
    assert out["deploymentTarget"]["lambdaTarget"]["lambdaFunctionInfo"]["targetVersion"] == "2"
    assert env.alias_now() == ("2", {})


def test_interval_in_seconds_extension(env):
    """Seconds are an opt-in extension; minutes keep AWS's meaning."""
    cfg = env.config("C", "TimeBasedCanary", 10, 3)
    info = env.cd.get_deployment_config(deploymentConfigName=cfg)["deploymentConfigInfo"]
    raw = call(env.daemon, env.daemon.admin, "GetDeploymentConfig", {"deploymentConfigName": cfg}).json()
    assert raw["deploymentConfigInfo"]["trafficRoutingConfig"]["timeBasedCanary"] == {
        "canaryPercentage": 10, "canaryIntervalInSeconds": 3}
    assert info["computePlatform"] == "Lambda"
    for bad in ({"canaryPercentage": 10, "canaryInterval": 1, "canaryIntervalInSeconds": 3},
                {"canaryPercentage": 10, "canaryIntervalInSeconds": 0},
                {"canaryPercentage": 10}):
        r = call(env.daemon, env.daemon.admin, "CreateDeploymentConfig", {
            "deploymentConfigName": "Bad", "computePlatform": "Lambda",
            "trafficRoutingConfig": {"type": "TimeBasedCanary", "timeBasedCanary": bad}})
        assert r.error_type == "InvalidTrafficRoutingConfigurationException", (bad, r.body)


def test_rolloutctl_wait_shows_steps(env, builddir):
    env.proxy.hooks["pre"] = "manual"  # answered once rolloutctl watches
    cfg = env.config("Linear50Every1s", "TimeBasedLinear", 50, 1)
    dep = env.deploy(env.appspec(1, 2, before="pre"), config=cfg)
    inv = env.proxy.wait_invocations(1)[0]
    p = subprocess.Popen([builddir + "/rolloutctl", "wait", dep], env=env.daemon.env(env.daemon.admin) | {
        "ROLLOUT_ENDPOINT": env.daemon.url}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out = ""
        while "BeforeAllowTraffic InProgress" not in out:
            out += p.stdout.readline()
            assert p.poll() is None or out, out
        assert env.proxy.answer(inv, "Succeeded") == "Succeeded"
        rest, _ = p.communicate(timeout=60)
        out += rest
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, out
    # (AfterAllowTraffic has no hook: Skipped, so counted done from the start)
    assert "fn BeforeAllowTraffic InProgress (target InProgress, 1/3 events, 0% of traffic on the new version)" \
        in out, out
    assert "fn AllowTraffic InProgress (target InProgress, 2/3 events, 50% of traffic on the new version)" in out, out
    assert "100% of traffic on the new version" in out, out


def test_appspec_from_s3_yaml(tmp_path, daemon_factory):
    """An AppSpec file in S3 (bundleType YAML), fetched through the s3 source plugin."""
    env = LambdaEnv(tmp_path, daemon_factory, versions=2, plugins={
        "s3": {"endpoint": "MOTO", "region": "us-east-1", "access_key_id": "testing",
               "secret_access_key": "testing", "addressing": "path"}})
    try:
        s3 = env.moto.client("s3")
        s3.create_bucket(Bucket="specs")
        s3.put_object(Bucket="specs", Key="fn/appspec.yaml", Body=env.appspec(1, 2).encode())
        rev = {"revisionType": "S3", "s3Location": {"bucket": "specs", "key": "fn/appspec.yaml", "bundleType": "YAML"}}
        dep = env.cd.create_deployment(applicationName="app", deploymentGroupName="grp", revision=rev,
                                       deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce")["deploymentId"]
        assert env.wait(dep)["status"] == "Succeeded"
        assert env.alias_now() == ("2", {})
        # a zip is no AppSpec for a Lambda deployment
        s3.put_object(Bucket="specs", Key="app.zip", Body=b"PK\x05\x06" + b"\0" * 18)
        rev = {"revisionType": "S3", "s3Location": {"bucket": "specs", "key": "app.zip", "bundleType": "zip"}}
        dep = env.cd.create_deployment(applicationName="app", deploymentGroupName="grp", revision=rev)["deploymentId"]
        info = env.wait(dep)
        assert info["status"] == "Failed" and info["errorInformation"]["code"] == "INVALID_REVISION", info
    finally:
        env.close()
