"""EC2 targets end to end: moto_server's instances and Auto Scaling groups,
the ec2 plugin resolving deployment groups against it, and real
rollout-agent processes whose host identifiers are the instances' ARNs,
each with an agent key bound to its instance id."""

import glob
import os

import pytest

import harness
from ec2_helpers import Ec2Env, instance_arn
from engine_helpers import CallError, Signed

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path, daemon_factory):
    e = Ec2Env(tmp_path, daemon_factory)
    yield e
    e.close()


def events_log(env, iid):
    """What the revision's hooks recorded on this instance (in its agent's deployment root)."""
    out = []
    for path in sorted(glob.glob(os.path.join(env.agents[iid].root_dir, "*", "events.log"))):
        with open(path) as f:
            out += f.read().split("\n")[:-1]
    return out


def test_tag_filters_exact_match_and_instance_targets(env):
    prod = env.run_instances(2, {"env": "prod"})
    literal = env.run_instances(1, {"env": "pr*"})   # EC2's filter treats * as a wildcard: rolloutd must not
    env.run_instances(1, {"env": "staging"})
    gone = env.run_instances(1, {"env": "prod"})
    env.ec2.terminate_instances(InstanceIds=gone)
    env.group(ec2TagFilters=[{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"},
                             {"Key": "env", "Value": "pr*", "Type": "KEY_AND_VALUE"}])
    env.start_agents(prod + literal)
    dep = env.deploy()
    info = env.wait(dep)
    assert info["status"] == "Succeeded", (info, [a.log()[-2000:] for a in env.agents.values()])
    targets = env.targets(dep)
    assert sorted(targets) == sorted(prod + literal)
    for iid, t in targets.items():
        assert t["targetArn"] == instance_arn(iid)
        assert t["status"] == "Succeeded"
        assert events_log(env, iid) == ["%s v1 %s" % (e, dep) for e in
                                        ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]]
    listed = env.cd.list_deployment_instances(deploymentId=dep)["instancesList"]
    assert sorted(listed) == sorted(prod + literal)
    got = env.cd.get_deployment_target(deploymentId=dep, targetId=prod[0])["deploymentTarget"]
    assert got["deploymentTargetType"] == "InstanceTarget"
    assert got["instanceTarget"]["targetArn"] == instance_arn(prod[0])

    # only "pr*" itself: the wildcard value must not select the "prod" instances
    env.cd.update_deployment_group(applicationName="app", currentDeploymentGroupName="grp",
                                   ec2TagFilters=[{"Key": "env", "Value": "pr*", "Type": "KEY_AND_VALUE"}])
    dep2 = env.deploy("v2")
    assert env.wait(dep2)["status"] == "Succeeded"
    assert sorted(env.targets(dep2)) == literal


def test_tag_set_and_key_only_value_only(env):
    web_prod = env.run_instances(1, {"role": "web", "env": "prod"})
    env.run_instances(1, {"role": "web", "env": "staging"})
    db_prod = env.run_instances(1, {"role": "db", "env": "prod"})
    env.group(ec2TagSet={"ec2TagSetList": [
        [{"Key": "role", "Value": "web", "Type": "KEY_AND_VALUE"}],
        [{"Value": "prod", "Type": "VALUE_ONLY"}]]})
    env.start_agents(web_prod)
    dep = env.deploy()
    assert env.wait(dep)["status"] == "Succeeded"
    assert sorted(env.targets(dep)) == web_prod
    plan = env.admin.call("Rolloutd_v1.PlanDeployment", {"applicationName": "app", "deploymentGroupName": "grp"})
    assert plan["targets"] == web_prod
    env.group(name="keyonly", ec2TagFilters=[{"Key": "role", "Type": "KEY_ONLY"}])
    plan = env.admin.call("Rolloutd_v1.PlanDeployment", {"applicationName": "app", "deploymentGroupName": "keyonly"})
    assert len(plan["targets"]) == 3 and set(web_prod + db_prod) <= set(plan["targets"])


def test_auto_scaling_group_via_aws_cli(env):
    ids = env.create_asg("web-asg", 2)
    assert len(ids) == 2
    p, _ = env.daemon.aws(env.daemon.admin, "deploy", "create-deployment-group", "--application-name", "app",
                          "--deployment-group-name", "grp", "--service-role-arn",
                          "arn:aws:iam::123456789012:role/cd", "--auto-scaling-groups", "web-asg")
    env.start_agents(ids)
    dep = env.deploy()
    info = env.wait(dep)
    assert info["status"] == "Succeeded", info
    assert sorted(env.targets(dep)) == ids
    g = env.cd.get_deployment_group(applicationName="app", deploymentGroupName="grp")["deploymentGroupInfo"]
    assert [a["name"] for a in g["autoScalingGroups"]] == ["web-asg"]


def test_aws_cli_ec2_tag_filters_and_unknown_tag(env):
    ids = env.run_instances(1, {"Name": "web"})
    env.daemon.aws(env.daemon.admin, "deploy", "create-deployment-group", "--application-name", "app",
                   "--deployment-group-name", "grp", "--service-role-arn", "arn:aws:iam::123456789012:role/cd",
                   "--ec2-tag-filters", "Key=Name,Value=web,Type=KEY_AND_VALUE")
    env.start_agents(ids)
    dep = env.deploy()
    assert env.wait(dep)["status"] == "Succeeded"
    assert list(env.targets(dep)) == ids
    env.group(name="nobody", ec2TagFilters=[{"Key": "Name", "Value": "nope", "Type": "KEY_AND_VALUE"}])
    dep = env.deploy(group="nobody")
    info = env.wait(dep)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "NO_INSTANCES", info


def test_stopped_instance_is_a_target_that_fails(env):
    ids = env.run_instances(2, {"env": "prod"})
    stopped = env.run_instances(1, {"env": "qa"})
    env.ec2.stop_instances(InstanceIds=[ids[1]] + stopped)
    env.ec2.describe_instances(InstanceIds=[ids[1]] + stopped)  # moto: stopping -> stopped on the next describe
    env.group(ec2TagFilters=[{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}])
    env.start_agent(ids[0])
    # AllAtOnce needs one healthy host: the running one succeeds, the stopped one is a failed target
    dep = env.deploy()
    info = env.wait(dep)
    assert info["status"] == "Succeeded", info
    t = env.targets(dep)
    assert t[ids[0]]["status"] == "Succeeded" and t[ids[1]]["status"] == "Failed", t
    failed = [e for e in t[ids[1]]["lifecycleEvents"] if e["status"] == "Failed"]
    assert failed and "is stopped" in failed[0]["diagnostics"]["message"], t[ids[1]]
    assert info["deploymentOverview"]["Failed"] == 1 and info["deploymentOverview"]["Succeeded"] == 1, info
    # only stopped instances: no healthy host at all, the deployment fails
    env.group(name="qa", ec2TagFilters=[{"Key": "env", "Value": "qa", "Type": "KEY_AND_VALUE"}])
    dep = env.deploy(group="qa")
    info = env.wait(dep)
    assert info["status"] == "Failed", info
    assert env.targets(dep)[stopped[0]]["status"] == "Failed"


def test_key_of_one_instance_cannot_act_for_another(env):
    a, b = env.run_instances(2, {"env": "prod"})
    keys = env.agent_key(a)
    s = Signed(env.daemon.url, keys, "codedeploy-commands", timeout=10)
    with pytest.raises(CallError) as e:
        s.call("CodeDeployCommandService_v20141006.PollHostCommand", {"HostIdentifier": instance_arn(b)})
    assert e.value.type == "AccessDeniedException", e.value.body
    assert b in str(e.value.body)
    # a wrong form of its own identity is refused too, its own ARN is served
    with pytest.raises(CallError):
        s.call("CodeDeployCommandService_v20141006.PollHostCommand", {"HostIdentifier": a})
    r = s.call("CodeDeployCommandService_v20141006.PollHostCommand", {"HostIdentifier": instance_arn(a)},
               timeout=15)
    assert "HostCommand" not in r or r["HostCommand"] is None
