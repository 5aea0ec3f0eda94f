"""In-place deployments WITH_TRAFFIC_CONTROL on EC2: the ec2 plugin selects
moto_server's instances, real rollout-agents (host identifiers: the
instances' ARNs) run the hooks, and BlockTraffic / AllowTraffic go through
the elb traffic plugin against moto's ELBv2 target group and classic load
balancer. A hook asks moto itself, during the install, which instances its
load balancers still route to: the instance it runs on must not be one."""

import glob
import json
import os

import pytest

from agent_helpers import make_bundle, script
from ec2_helpers import Ec2Env

pytestmark = pytest.mark.slow

HOOKS = ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]

# Run by the hook on the "instance": what moto says about the load balancers now.
PROBE = r'''
import json, os, sys
import boto3
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing",
          aws_secret_access_key="testing")
v2, clb = boto3.client("elbv2", **kw), boto3.client("elb", **kw)
tg = v2.describe_target_groups(Names=["web-tg"])["TargetGroups"][0]["TargetGroupArn"]
hs = v2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
lb = clb.describe_load_balancers(LoadBalancerNames=["classic-web"])["LoadBalancerDescriptions"][0]
rec = {"event": os.environ.get("LIFECYCLE_EVENT"),
       "tg": sorted(h["Target"]["Id"] for h in hs if h["TargetHealth"]["State"] != "unused"),
       "classic": sorted(i["InstanceId"] for i in lb["Instances"])}
with open(sys.argv[2], "a") as f:
    f.write(json.dumps(rec) + "\n")
'''


class TrafficEnv(Ec2Env):
    def __init__(self, tmp_path, daemon_factory):
        super().__init__(tmp_path, daemon_factory, extra_plugins=lambda url: {"elb": {
            "endpoint": url, "region": "us-east-1", "access_key_id": "testing", "secret_access_key": "testing",
            "max_attempts": "1", "timeout": "10s", "poll_interval": "100ms", "drain_slack": "1s",
            "ready_timeout": "20s"}})
        self.v2 = self.moto.client("elbv2")
        self.clb = self.moto.client("elb")

    def load_balancers(self, ids):
        vpc = self.ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"][0]["VpcId"]
        tg = self.v2.create_target_group(Name="web-tg", Protocol="HTTP", Port=80, VpcId=vpc,
                                         TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
        self.v2.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "1"}])
        self.v2.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for i in ids])
        self.clb.create_load_balancer(LoadBalancerName="classic-web", AvailabilityZones=["us-east-1a"],
                                      Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}])
        self.clb.register_instances_with_load_balancer(LoadBalancerName="classic-web",
                                                       Instances=[{"InstanceId": i} for i in ids])
        self.tg = tg

    def registered(self):
        hs = self.v2.describe_target_health(TargetGroupArn=self.tg)["TargetHealthDescriptions"]
        return sorted(h["Target"]["Id"] for h in hs if h["TargetHealth"]["State"] != "unused")

    def classic(self):
        lb = self.clb.describe_load_balancers(LoadBalancerNames=["classic-web"])["LoadBalancerDescriptions"][0]
        return sorted(i["InstanceId"] for i in lb["Instances"])

    def probe_revision(self, version="v1", fail=None):
        """Every hook records what the load balancers route to (probes.log next to the deployments)."""
        files = {"probe.py": PROBE}
        appspec = "version: 0.0\nos: linux\nhooks:\n"
        for ev in HOOKS:
            appspec += "  %s:\n    - location: scripts/%s.sh\n" % (ev, ev)
            body = ('d="$(dirname "$0")"\n/usr/bin/python3 "$d/../probe.py" %s "$d/../../../../probes.log"'
                    % self.moto.url)
            if fail == ev:
                body += "\nexit 3"
            files["scripts/%s.sh" % ev] = script(body)
        files["appspec.yml"] = appspec
        path = os.path.join(str(self.tmp), "probe-%s.tgz" % version)
        make_bundle(path, files)
        return path

    def deploy_probe(self, version="v1", config="CodeDeployDefault.OneAtATime", fail=None):
        from test_agent_rolloutd import upload_bundle
        rev = upload_bundle(self.daemon, self.daemon.admin, self.probe_revision(version, fail))
        return self.admin.call("CodeDeploy_20141006.CreateDeployment", {
            "applicationName": "app", "deploymentGroupName": "grp", "revision": rev,
            "deploymentConfigName": config})["deploymentId"]

    def probes(self, iid):
        out = []
        for path in glob.glob(os.path.join(self.agents[iid].root_dir, "**", "probes.log"), recursive=True):
            with open(path) as f:
                out += [json.loads(ln) for ln in f if ln.strip()]
        return out


@pytest.fixture
def env(tmp_path, daemon_factory):
    e = TrafficEnv(tmp_path, daemon_factory)
    yield e
    e.close()


def create_group_with_cli(env):
    env.daemon.aws(env.daemon.admin, "deploy", "create-deployment-group", "--application-name", "app",
                   "--deployment-group-name", "grp", "--service-role-arn", "arn:aws:iam::123456789012:role/cd",
                   "--ec2-tag-filters", "Key=env,Value=prod,Type=KEY_AND_VALUE",
                   "--deployment-style", "deploymentType=IN_PLACE,deploymentOption=WITH_TRAFFIC_CONTROL",
                   "--load-balancer-info",
                   json.dumps({"targetGroupInfoList": [{"name": "web-tg"}], "elbInfoList": [{"name": "classic-web"}]}))


def test_in_place_with_traffic_control_through_elb(env):
    ids = env.run_instances(3, {"env": "prod"})
    env.load_balancers(ids)
    create_group_with_cli(env)
    g = env.cd.get_deployment_group(applicationName="app", deploymentGroupName="grp")["deploymentGroupInfo"]
    assert g["deploymentStyle"]["deploymentOption"] == "WITH_TRAFFIC_CONTROL"
    env.start_agents(ids)
    dep = env.deploy_probe()
    info = env.wait(dep, timeout=120)
    assert info["status"] == "Succeeded", (info, [a.log()[-2000:] for a in env.agents.values()])
    for iid in ids:
        probes = env.probes(iid)
        assert [p["event"] for p in probes] == HOOKS, probes
        others = sorted(set(ids) - {iid})
        for p in probes:
            # while its hooks run, the instance is out of both load balancers; one at a time, so
            # the other two still serve
            assert p["tg"] == others, (iid, p)
            assert p["classic"] == others, (iid, p)
    # every instance is back behind both
    assert env.registered() == sorted(ids)
    assert env.classic() == sorted(ids)
    t = env.cd.get_deployment_target(deploymentId=dep, targetId=ids[0])["deploymentTarget"]["instanceTarget"]
    evs = [(e["lifecycleEventName"], e["status"]) for e in t["lifecycleEvents"]]
    names = [n for n, _ in evs]
    assert names.index("BeforeBlockTraffic") < names.index("BlockTraffic") < names.index("AfterBlockTraffic") \
        < names.index("ApplicationStop") < names.index("ValidateService") < names.index("BeforeAllowTraffic") \
        < names.index("AllowTraffic") < names.index("AfterAllowTraffic"), evs
    assert all(s == "Succeeded" for n, s in evs if n in ("BlockTraffic", "AllowTraffic")), evs


def test_failed_install_stays_blocked_and_unknown_target_group_fails(env):
    ids = env.run_instances(2, {"env": "prod"})
    env.load_balancers(ids)
    create_group_with_cli(env)
    env.start_agents(ids)
    # the hook fails on the first instance: it stays out of service (as on CodeDeploy), the other
    # one is never touched (OneAtATime stops at the first failure)
    dep = env.deploy_probe(fail="AfterInstall")
    info = env.wait(dep, timeout=120)
    assert info["status"] == "Failed", info
    failed = [i for i in ids if env.cd.get_deployment_target(deploymentId=dep, targetId=i)
              ["deploymentTarget"]["instanceTarget"]["status"] == "Failed"]
    assert len(failed) == 1, failed
    assert env.registered() == sorted(set(ids) - set(failed))
    assert env.classic() == sorted(set(ids) - set(failed))
    # a target group that does not exist fails BlockTraffic with the name in the message
    env.cd.update_deployment_group(applicationName="app", currentDeploymentGroupName="grp",
                                   loadBalancerInfo={"targetGroupInfoList": [{"name": "no-such-tg"}]})
    dep = env.deploy_probe("v2")
    info = env.wait(dep, timeout=120)
    assert info["status"] == "Failed", info
    assert info["errorInformation"]["code"] == "ELASTIC_LOAD_BALANCING_INVALID", info
    # OneAtATime: the first instance's BlockTraffic failed, whichever it was
    blocks = [e for i in ids for e in env.cd.get_deployment_target(deploymentId=dep, targetId=i)
              ["deploymentTarget"]["instanceTarget"]["lifecycleEvents"] if e["lifecycleEventName"] == "BlockTraffic"]
    failed = [e for e in blocks if e["status"] == "Failed"]
    assert len(failed) == 1 and "no-such-tg" in failed[0]["diagnostics"]["message"], blocks
