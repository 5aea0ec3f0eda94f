"""The elb traffic plugin and daemon/traffic/traffic.c against moto_server's
ELBv2 and Classic ELB, driven through tests/integration/traffic-ctl (real
config and plugin loaders, no engine). moto's targets are healthy at once
and never drain, so the waits are exercised through aws_proxy.py, which
answers DescribeTargetHealth with scripted states (the rest is moto's)."""

import json
import os
import subprocess

import pytest

import harness
import traffic_helpers as th
from aws_proxy import AwsProxy
from health_helpers import Moto, aws_env

ACCOUNT = "123456789012"
pytestmark = pytest.mark.slow


class ElbCtl:
    """traffic-ctl with a rolloutd config naming the elb plugin."""

    def __init__(self, tmp_path, endpoint, settings=None):
        self.dir = os.path.join(str(tmp_path), "traffic-ctl")
        os.makedirs(self.dir, exist_ok=True)
        pdir = os.path.join(self.dir, "plugins")
        if not os.path.exists(pdir):
            harness.plugin_dir(pdir, ["elb"])
        s = {"endpoint": endpoint, "region": "us-east-1", "access_key_id": "testing",
             "secret_access_key": "testing", "timeout": "5s", "max_attempts": "1", "poll_interval": "50ms",
             "drain_slack": "1s"}
        s.update(settings or {})
        self.config = os.path.join(self.dir, "rolloutd.yaml")
        with open(self.config, "w") as f:
            json.dump({"data_dir": os.path.join(self.dir, "data"), "plugin_dir": pdir, "plugins": {"elb": s}}, f)

    def run(self, group, *args, check=True, timeout=120):
        p = subprocess.run([th.traffic_ctl_path(), "--config", self.config, "--group", json.dumps(group), *args],
                           capture_output=True, text=True, timeout=timeout, env=aws_env())
        lines = [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]
        if check and p.returncode != 0:
            raise harness.HarnessError("traffic-ctl %s failed (%d): %s %s" % (" ".join(args), p.returncode, lines,
                                                                             p.stderr))
        return p.returncode, lines


def group(tgs=(), elbs=(), blue_green=False):
    return {"deploymentStyle": {"deploymentType": "BLUE_GREEN" if blue_green else "IN_PLACE",
                                "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "loadBalancerInfo": {"targetGroupInfoList": [{"name": n} for n in tgs],
                                 "elbInfoList": [{"name": n} for n in elbs]}}


class Env:
    def __init__(self, tmp_path, n=3):
        self.moto = Moto()
        self.proxy = AwsProxy(self.moto.url)
        self.ec2 = self.moto.client("ec2")
        self.v2 = self.moto.client("elbv2")
        self.clb = self.moto.client("elb")
        ami = self.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        res = self.ec2.run_instances(ImageId=ami, MinCount=n, MaxCount=n, InstanceType="t3.micro")
        self.ids = [i["InstanceId"] for i in res["Instances"]]
        self.vpc = res["Instances"][0]["VpcId"]
        subnets = [s["SubnetId"] for s in self.ec2.describe_subnets(
            Filters=[{"Name": "vpc-id", "Values": [self.vpc]}])["Subnets"]][:2]
        self.tgs = {}
        for name in ("web-tg", "api-tg"):
            tg = self.v2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=self.vpc,
                                             TargetType="instance")["TargetGroups"][0]
            self.tgs[name] = tg["TargetGroupArn"]
            self.v2.modify_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"], Attributes=[
                {"Key": "deregistration_delay.timeout_seconds", "Value": "2"}])
            self.v2.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": i} for i in self.ids])
        lb = self.v2.create_load_balancer(Name="web-alb", Subnets=subnets)["LoadBalancers"][0]
        self.v2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                                DefaultActions=[{"Type": "forward", "TargetGroupArn": self.tgs["web-tg"]}])
        self.clb.create_load_balancer(LoadBalancerName="classic-web", AvailabilityZones=["us-east-1a"],
                                      Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80,
                                                  "InstancePort": 80}])
        self.clb.register_instances_with_load_balancer(LoadBalancerName="classic-web",
                                                       Instances=[{"InstanceId": i} for i in self.ids])

    def registered(self, tg):
        hs = self.v2.describe_target_health(TargetGroupArn=self.tgs[tg])["TargetHealthDescriptions"]
        return sorted(h["Target"]["Id"] for h in hs if h["TargetHealth"]["State"] != "unused")

    def classic_members(self):
        d = self.clb.describe_load_balancers(LoadBalancerNames=["classic-web"])["LoadBalancerDescriptions"][0]
        return sorted(i["InstanceId"] for i in d["Instances"])

    def close(self):
        self.proxy.close()
        self.moto.close()


@pytest.fixture
def env(tmp_path, builddir):
    e = Env(tmp_path)
    yield e
    e.close()


def test_block_allow_target_groups_and_classic(tmp_path, env):
    ctl = ElbCtl(tmp_path, env.proxy.url)
    g = group(tgs=["web-tg", "api-tg"], elbs=["classic-web"])
    a, b, c = env.ids
    assert ctl.run(g, "state", a)[1][-1]["states"] == ["ALLOWED"] * 3
    ctl.run(g, "block", a)
    # deregistered from every target group and the classic load balancer, the others untouched
    assert env.registered("web-tg") == sorted([b, c])
    assert env.registered("api-tg") == sorted([b, c])
    assert env.classic_members() == sorted([b, c])
    assert ctl.run(g, "state", a)[1][-1]["states"] == ["BLOCKED"] * 3
    assert ctl.run(g, "state", b)[1][-1]["states"] == ["ALLOWED"] * 3
    # blocking again is a no-op (deregistering an unregistered target is refused by the API)
    ctl.run(g, "block", a)
    ctl.run(g, "allow", a)
    assert env.registered("web-tg") == sorted(env.ids)
    assert env.registered("api-tg") == sorted(env.ids)
    assert env.classic_members() == sorted(env.ids)
    assert ctl.run(g, "state", a)[1][-1]["states"] == ["ALLOWED"] * 3
    calls = [x[0] for x in env.proxy.actions()]
    assert "DeregisterTargets" in calls and "DeregisterInstancesFromLoadBalancer" in calls
    assert "RegisterTargets" in calls and "RegisterInstancesWithLoadBalancer" in calls
    # the target group was looked up by name once per process, not per call
    dereg = env.proxy.actions("DeregisterTargets")
    assert {p["TargetGroupArn"] for _, p in dereg} == {env.tgs["web-tg"], env.tgs["api-tg"]}
    assert all(p["Targets.member.1.Id"] == a for _, p in dereg)


def test_instance_arn_is_the_instance(tmp_path, env):
    ctl = ElbCtl(tmp_path, env.proxy.url)
    g = group(tgs=["web-tg"])
    arn = "arn:aws:ec2:us-east-1:%s:instance/%s" % (ACCOUNT, env.ids[0])
    ctl.run(g, "block", arn)
    assert env.ids[0] not in env.registered("web-tg")
    ctl.run(g, "allow", arn)
    assert env.ids[0] in env.registered("web-tg")
    rc, lines = ctl.run(g, "block", "web-1.example.com", check=False)
    assert rc == 1 and lines[-1]["errorCode"] == "ELB_INVALID_INSTANCE", lines
    assert "not an EC2 instance id or instance ARN" in lines[-1]["message"]


def test_block_waits_while_draining(tmp_path, env):
    ctl = ElbCtl(tmp_path, env.proxy.url)
    g = group(tgs=["web-tg"])
    a = env.ids[0]
    env.proxy.script_health(a, [("draining", "Target.DeregistrationInProgress")] * 4)
    ctl.run(g, "block", a)
    # the plugin asked until the target group stopped saying draining
    asked = [p for _, p in env.proxy.actions("DescribeTargetHealth") if p.get("Targets.member.1.Id") == a]
    assert len(asked) >= 5, asked
    assert env.proxy.health[a][0] == []
    assert a not in env.registered("web-tg")


def test_drain_bounded_by_deregistration_delay(tmp_path, env):
    ctl = ElbCtl(tmp_path, env.proxy.url, {"drain_slack": "200ms"})
    g = group(tgs=["web-tg"])
    a = env.ids[0]
    env.proxy.script_health(a, [("draining", "Target.DeregistrationInProgress")], forever=True)
    rc, lines = ctl.run(g, "block", a, "--drain-ms", "600000", check=False)
    assert rc == 1, lines
    err = lines[-1]
    assert err["errorCode"] == "ELASTIC_LOAD_BALANCING_INVALID", err
    # the bound is the target group's delay (2 s) plus the slack, not the engine's 10 minutes
    assert "still draining from web-tg after 2200 ms" in err["message"], err
    assert "deregistration delay 2 s" in err["message"], err


def test_allow_waits_until_healthy(tmp_path, env):
    ctl = ElbCtl(tmp_path, env.proxy.url)
    g = group(tgs=["web-tg"])
    a = env.ids[0]
    ctl.run(g, "block", a)
    env.proxy.script_health(a, [("initial", "Elb.RegistrationInProgress")] * 3 +
                            [("unhealthy", "Target.FailedHealthChecks")] * 2)
    ctl.run(g, "allow", a)
    assert env.proxy.health[a][0] == []  # every scripted answer was read
    assert a in env.registered("web-tg")


def test_allow_times_out_when_never_healthy(tmp_path, env):
    ctl = ElbCtl(tmp_path, env.proxy.url, {"ready_timeout": "1s"})
    g = group(tgs=["web-tg"])
    a = env.ids[0]
    env.proxy.script_health(a, [("unhealthy", "Target.FailedHealthChecks")], forever=True)
    rc, lines = ctl.run(g, "allow", a, check=False)
    assert rc == 1
    m = lines[-1]["message"]
    assert lines[-1]["errorCode"] == "ELASTIC_LOAD_BALANCING_INVALID"
    assert "not healthy after 1 s (state unhealthy: Target.FailedHealthChecks)" in m, m
    assert "plugins.elb.ready_timeout" in m


def test_missing_target_group_is_named(tmp_path, env):
    ctl = ElbCtl(tmp_path, env.proxy.url)
    rc, lines = ctl.run(group(tgs=["web-tg", "no-such-tg"]), "block", env.ids[0], check=False)
    assert rc == 1
    assert lines[-1]["errorCode"] == "ELASTIC_LOAD_BALANCING_INVALID"
    assert "no target group and no Classic Load Balancer named 'no-such-tg'" in lines[-1]["message"], lines


def test_stopped_instance_cannot_be_registered(tmp_path, env):
    ctl = ElbCtl(tmp_path, env.proxy.url)
    g = group(tgs=["web-tg"])
    a = env.ids[2]
    ctl.run(g, "block", a)
    env.ec2.stop_instances(InstanceIds=[a])
    env.ec2.describe_instances(InstanceIds=[a])  # moto: stopping -> stopped
    rc, lines = ctl.run(g, "allow", a, check=False)
    assert rc == 1
    assert lines[-1]["errorCode"] == "ELB_INVALID_INSTANCE", lines
    assert "registering %s with web-tg was refused" % a in lines[-1]["message"]


def test_retries_are_bounded(tmp_path, env):
    g = group(tgs=["web-tg"])
    a = env.ids[0]
    ctl = ElbCtl(tmp_path, env.proxy.url, {"max_attempts": "3"})
    env.proxy.fail("DeregisterTargets", 503, "ServiceUnavailable", times=2)
    ctl.run(g, "block", a)
    assert len(env.proxy.actions("DeregisterTargets")) == 3
    assert a not in env.registered("web-tg")
    env.proxy.fail("RegisterTargets", 400, "Throttling", times=5)
    rc, lines = ctl.run(g, "allow", a, check=False)
    assert rc == 1
    assert lines[-1]["errorCode"] == "THROTTLED", lines
    assert len(env.proxy.actions("RegisterTargets")) == 3  # max_attempts, not more
    # a refusal that cannot pass by retrying is not retried
    env.proxy.failures.clear()
    env.proxy.fail("RegisterTargets", 403, "AccessDenied", times=1)
    rc, lines = ctl.run(g, "allow", a, check=False)
    assert lines[-1]["errorCode"] == "IAM_ROLE_PERMISSIONS", lines
    assert "elasticloadbalancing:" in lines[-1]["message"]
    assert len(env.proxy.actions("RegisterTargets")) == 4


def test_blue_green_reroute_and_flip_back(tmp_path, env):
    ctl = ElbCtl(tmp_path, env.proxy.url)
    g = group(tgs=["web-tg"], elbs=["classic-web"], blue_green=True)
    blue, green = env.ids[0], ",".join(env.ids[1:])
    ctl.run(g, "prepare", "--green", green)
    assert env.registered("web-tg") == [blue] and env.classic_members() == [blue]
    ctl.run(g, "reroute", "--blue", blue, "--green", green)
    assert env.registered("web-tg") == sorted(env.ids[1:]) and env.classic_members() == sorted(env.ids[1:])
    ctl.run(g, "flipback", "--blue", blue, "--green", green)
    assert env.registered("web-tg") == [blue] and env.classic_members() == [blue]
    # weighted shifts need per-target weights, which Elastic Load Balancing has only per target group
    rc, lines = ctl.run(g, "shift", "--blue", blue, "--green", green, "--routing",
                        json.dumps({"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 10,
                                                                                    "canaryInterval": 1}}),
                        check=False)
    assert rc == 1 and "cannot set weights" in lines[-1]["message"], lines


def test_config_errors(tmp_path, builddir):
    ctl = ElbCtl(tmp_path, "ftp://nowhere")
    rc, lines = ctl.run(group(tgs=["web-tg"]), "state", "i-1", check=False)
    assert rc == 2
