"""Enrollment of agents on EC2 instances Auto Scaling launched: one agent
config for the whole fleet (rolloutctl ec2-agent-config --scope asg:GROUP),
carrying an enroll key; each rollout-agent reads its identity from the
instance metadata service (a fake IMDSv2 per instance), trades the enroll
key for its own instance-bound key at first start, and is deployed to. The
daemon refuses instances outside the scope, and revokes the keys of
terminated instances."""

import json
import os

import pytest

from agent_helpers import Agent, wait_for
from cli_helpers import Ctl
from ec2_helpers import Ec2Env, FakeImds, instance_arn
from engine_helpers import CallError, Signed

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path, daemon_factory):
    e = Ec2Env(tmp_path, daemon_factory, settings={"instance_key_sweep": "1s"})
    e.imds = []
    yield e
    for m in e.imds:
        m.close()
    e.close()


def fleet_config(env, tmp_path, scope):
    ctl = Ctl(env.daemon.url, env.daemon.admin)
    path = str(tmp_path / "fleet.yaml")
    out = ctl.json("ec2-agent-config", "--scope", scope, "--agent-config", path,
                   "--daemon-cert", os.path.join(env.daemon.data_dir, "daemon.crt"))
    assert out["scope"] == scope
    with open(path) as f:
        text = f.read()
    assert "enroll_key_id" in text and "access_key_id" not in text.replace("enroll_key_id", "")
    assert "host_identifier" not in text
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    return path, out["accessKeyId"]


def start_enrolled_agent(env, tmp_path, fleet_yaml, iid):
    """A rollout-agent on instance iid with the fleet's config (its own dirs and metadata service)."""
    imds = FakeImds(iid)
    env.imds.append(imds)
    import yaml
    with open(fleet_yaml) as f:
        cfg = yaml.safe_load(f)
    a = Agent(tmp_path, env.daemon.url, None, None, None, cfg["daemon_cert"], name="agent-" + iid,
              heartbeat="2s")
    with open(a.config_path) as f:
        mine = json.load(f)
    for k in ("host_identifier", "access_key_id", "secret_access_key"):
        mine.pop(k, None)
    mine.update({"enroll_key_id": cfg["enroll_key_id"], "enroll_secret_access_key": cfg["enroll_secret_access_key"],
                 "imds_endpoint": imds.url})
    with open(a.config_path, "w") as f:
        json.dump(mine, f)
    env.agents[iid] = a.start()
    return a


def test_auto_scaled_instance_enrolls_and_is_deployed_to(env, tmp_path):
    ids = env.create_asg("web-asg", 1)
    fleet_yaml, enroll_key = fleet_config(env, tmp_path, "asg:web-asg")
    env.group(autoScalingGroups=["web-asg"])
    a = start_enrolled_agent(env, tmp_path, fleet_yaml, ids[0])
    assert "enrolled as %s" % instance_arn(ids[0]) in a.log()
    keys = env.admin.call("Rolloutd_v1.ListAccessKeys", {})["AccessKeys"]
    mine = [k for k in keys if k.get("InstanceName") == ids[0]]
    assert len(mine) == 1 and mine[0]["Policy"] == "agent", keys
    assert [k["InstanceName"] for k in keys if k["AccessKeyId"] == enroll_key] == ["asg:web-asg"]
    dep = env.deploy()
    info = env.wait(dep)
    assert info["status"] == "Succeeded", (info, a.log()[-3000:])
    assert list(env.targets(dep)) == ids

    # scale out: the new instance enrolls with the same fleet config
    env.asg.set_desired_capacity(AutoScalingGroupName="web-asg", DesiredCapacity=2)
    new = [i for i in env.asg_instances("web-asg") if i not in ids]
    assert len(new) == 1
    b = start_enrolled_agent(env, tmp_path, fleet_yaml, new[0])
    dep2 = deploy_when_idle(env, "v2")
    assert env.wait(dep2)["status"] == "Succeeded", b.log()[-3000:]
    assert sorted(env.targets(dep2)) == sorted(ids + new)

    # a restarted agent keeps its key: no second enrollment
    a.stop()
    a.start()
    assert "using the agent key enrolled earlier" in a.log()
    keys = env.admin.call("Rolloutd_v1.ListAccessKeys", {})["AccessKeys"]
    assert len([k for k in keys if k.get("InstanceName") == ids[0]]) == 1

    # a terminated instance's keys are revoked by the sweep
    a.stop()
    env.ec2.terminate_instances(InstanceIds=ids)
    env.ec2.describe_instances(InstanceIds=ids)  # moto: shutting-down -> terminated
    wait_for(lambda: not [k for k in env.admin.call("Rolloutd_v1.ListAccessKeys", {})["AccessKeys"]
                          if k.get("InstanceName") == ids[0]], 20, 0.3, "the terminated instance's key to go")
    keys = env.admin.call("Rolloutd_v1.ListAccessKeys", {})["AccessKeys"]
    assert [k for k in keys if k.get("InstanceName") == new[0]], "a running instance keeps its key"
    s = Signed(env.daemon.url, enrolled_key(a), "codedeploy-commands", timeout=10)
    with pytest.raises(CallError) as e:
        s.call("CodeDeployCommandService_v20141006.PollHostCommand", {"HostIdentifier": instance_arn(ids[0])})
    assert e.value.status == 403, e.value.body


def deploy_when_idle(env, version, attempts=5):
    """CreateDeployment once the group is idle. The daemon deploys the last
    revision to an instance Auto Scaling launched, when its ASG poll sees it:
    until that deployment ends a new one is refused, as in CodeDeploy."""
    for _ in range(attempts - 1):
        env.wait_idle()
        try:
            return env.deploy(version)
        except CallError as e:
            if e.type != "DeploymentLimitExceededException":
                raise
    return env.deploy(version)


def enrolled_key(agent):
    """The key the agent obtained, as it keeps it in its deployment root."""
    with open(os.path.join(agent.root_dir, ".enrolled-key.json")) as f:
        k = json.load(f)
    return {"AccessKeyId": k["AccessKeyId"], "SecretAccessKey": k["SecretAccessKey"]}


def test_enroll_key_refuses_instances_outside_its_scope(env, tmp_path):
    inside = env.create_asg("web-asg", 1)
    outside = env.run_instances(1, {"role": "web"})
    stopped = env.run_instances(1, {"role": "web"})
    env.asg.attach_instances(AutoScalingGroupName="web-asg", InstanceIds=stopped)
    env.ec2.stop_instances(InstanceIds=stopped)
    env.ec2.describe_instances(InstanceIds=stopped)
    k = env.admin.call("Rolloutd_v1.CreateAccessKey", {"Name": "fleet", "Policy": "enroll", "InstanceName": "asg:web-asg"})
    s = Signed(env.daemon.url, k, "codedeploy", timeout=20)
    for iid in outside + stopped:
        with pytest.raises(CallError) as e:
            s.call("Rolloutd_v1.EnrollInstance", {"HostIdentifier": instance_arn(iid)})
        assert e.value.type == "AccessDeniedException" and iid in e.value.body, e.value.body
    got = s.call("Rolloutd_v1.EnrollInstance", {"HostIdentifier": instance_arn(inside[0])})
    assert got["InstanceId"] == inside[0] and got["AccessKeyId"].startswith("AKRD")
    # the enroll key does nothing else
    with pytest.raises(CallError) as e:
        s.call("CodeDeploy_20141006.ListApplications", {})
    assert e.value.type == "AccessDeniedException"
    with pytest.raises(CallError) as e:
        Signed(env.daemon.url, k, "codedeploy-commands", timeout=10).call(
            "CodeDeployCommandService_v20141006.PollHostCommand", {"HostIdentifier": instance_arn(inside[0])})
    assert e.value.type == "AccessDeniedException"
    # a tag scope: running instances with the tag
    t = env.admin.call("Rolloutd_v1.CreateAccessKey", {"Name": "tagged", "Policy": "enroll", "InstanceName": "tag:role=web"})
    got = Signed(env.daemon.url, t, "codedeploy", timeout=20).call(
        "Rolloutd_v1.EnrollInstance", {"InstanceId": outside[0]})
    assert got["InstanceId"] == outside[0]
    with pytest.raises(CallError) as e:
        env.admin.call("Rolloutd_v1.CreateAccessKey", {"Name": "bad", "Policy": "enroll", "InstanceName": "everything"})
    assert e.value.type == "InvalidInputException"
