"""Blue/green deployments on EC2 end to end: moto_server's instances, Auto
Scaling groups and ELBv2 target group, rolloutd with the ec2 platform plugin
and the elb traffic plugin, and real rollout-agents whose host identifiers are
the moto instances' ARNs.

 - DISCOVER_EXISTING: the green fleet is the deployment's targetInstances; the
   original instances are terminated (TERMINATE) or kept, out of the target
   group (KEEP_ALIVE).
 - COPY_AUTO_SCALING_GROUP: rolloutd copies the group's Auto Scaling group as
   CodeDeploy_<group>_<deployment id>; the test starts an agent on each of its
   instances once moto reports them. Traffic moves to the copy, the group then
   names it, and the original group is deleted (TERMINATE) or kept (KEEP_ALIVE).
 - A stop during the termination wait routes traffic back to the original
   instances and deletes the copy.
 - ContinueDeployment(TERMINATION_WAIT) (aws deploy continue-deployment) and
   SkipWaitTimeForInstanceTermination end the termination wait at once; both
   are refused while the deployment does not wait to terminate.
 - The automatic rollback of a failed blue/green deployment returns to the
   original instances (AllowTraffic events only): no second copy of the Auto
   Scaling group, nothing deployed to the replacement instances."""

import threading
import time

import pytest

from agent_helpers import wait_for
from ec2_helpers import Ec2Env, instance_arn

pytestmark = pytest.mark.slow

MINUTE_MS = 1000


@pytest.fixture
def env(tmp_path, daemon_factory, monkeypatch):
    monkeypatch.setenv("ROLLOUTD_TRAFFIC_MINUTE_MS", str(MINUTE_MS))
    monkeypatch.setenv("ROLLOUTD_TRAFFIC_DRAIN_TIMEOUT_MS", "10000")
    def elb(url):  # the elb traffic plugin on the same moto
        return {"elb": {"endpoint": url, "region": "us-east-1", "access_key_id": "testing",
                        "secret_access_key": "testing", "max_attempts": "1", "timeout": "10s",
                        "poll_interval": "100ms", "drain_slack": "1s"}}
    e = Ec2Env(tmp_path, daemon_factory, plugin_settings={"fleet_poll_interval": "200ms"}, extra_plugins=elb)
    e.v2 = e.moto.client("elbv2")
    vpc = e.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in e.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "Subnets"]][:2]
    e.tg = e.v2.create_target_group(Name="web-tg", Protocol="HTTP", Port=80, VpcId=vpc,
                                    TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    lb = e.v2.create_load_balancer(Name="web-alb", Subnets=subnets)["LoadBalancers"][0]
    e.v2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                         DefaultActions=[{"Type": "forward", "TargetGroupArn": e.tg}])
    yield e
    e.close()


def registered(env):
    hs = env.v2.describe_target_health(TargetGroupArn=env.tg)["TargetHealthDescriptions"]
    return sorted(h["Target"]["Id"] for h in hs if h["TargetHealth"]["State"] in ("healthy", "initial"))


def states(env, ids):
    r = env.ec2.describe_instances(InstanceIds=ids)
    return {i["InstanceId"]: i["State"]["Name"] for res in r["Reservations"] for i in res["Instances"]}


def bg_config(action="TERMINATE", wait=0, provisioning="DISCOVER_EXISTING"):
    return {"terminateBlueInstancesOnDeploymentSuccess": {"action": action, "terminationWaitTimeInMinutes": wait},
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
            "greenFleetProvisioningOption": {"action": provisioning}}


BG_STYLE = {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}
LB_INFO = {"targetGroupInfoList": [{"name": "web-tg"}]}


def check_fleets(env, dep, blue, green):
    t = env.targets(dep)
    assert sorted(t) == sorted(blue + green), t
    for iid in green:
        assert t[iid]["instanceLabel"] == "Green" and t[iid]["status"] == "Succeeded", t[iid]
        assert t[iid]["targetArn"] == instance_arn(iid)
    for iid in blue:
        assert t[iid]["instanceLabel"] == "Blue", t[iid]
        assert [e["lifecycleEventName"] for e in t[iid]["lifecycleEvents"]] == [
            "BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic"], t[iid]


def test_discover_existing_terminate_via_aws_cli(env):
    blue = env.run_instances(2, {"fleet": "blue"})
    green = env.run_instances(2, {"fleet": "green"})
    env.v2.register_targets(TargetGroupArn=env.tg, Targets=[{"Id": i} for i in blue])
    env.daemon.aws(env.daemon.admin, "deploy", "create-deployment-group", "--application-name", "app",
                   "--deployment-group-name", "grp", "--service-role-arn", "arn:aws:iam::123456789012:role/cd",
                   "--ec2-tag-filters", "Key=fleet,Value=blue,Type=KEY_AND_VALUE",
                   "--deployment-style", "deploymentType=BLUE_GREEN,deploymentOption=WITH_TRAFFIC_CONTROL",
                   "--load-balancer-info", "targetGroupInfoList=[{name=web-tg}]",
                   "--blue-green-deployment-configuration",
                   "terminateBlueInstancesOnDeploymentSuccess={action=TERMINATE,terminationWaitTimeInMinutes=0},"
                   "deploymentReadyOption={actionOnTimeout=CONTINUE_DEPLOYMENT},"
                   "greenFleetProvisioningOption={action=DISCOVER_EXISTING}")
    env.start_agents(blue + green)
    dep = env.deploy(targetInstances={"tagFilters": [{"Key": "fleet", "Value": "green", "Type": "KEY_AND_VALUE"}]})
    info = env.wait(dep)
    assert info["status"] == "Succeeded", (info, env.daemon.log_tail(40))
    assert registered(env) == sorted(green)
    check_fleets(env, dep, blue, green)
    st = states(env, blue + green)
    assert all(st[i] in ("shutting-down", "terminated") for i in blue), st
    assert all(st[i] == "running" for i in green), st
    # the group still selects by its tags: nothing left of the original fleet
    g = env.cd.get_deployment_group(applicationName="app", deploymentGroupName="grp")["deploymentGroupInfo"]
    assert g["blueGreenDeploymentConfiguration"]["greenFleetProvisioningOption"]["action"] == "DISCOVER_EXISTING"


def test_discover_existing_keep_alive(env):
    blue = env.run_instances(1, {"fleet": "blue"})
    green = env.run_instances(2, {"fleet": "green"})
    env.v2.register_targets(TargetGroupArn=env.tg, Targets=[{"Id": i} for i in blue])
    env.group(ec2TagFilters=[{"Key": "fleet", "Value": "blue", "Type": "KEY_AND_VALUE"}], deploymentStyle=BG_STYLE,
              loadBalancerInfo=LB_INFO, blueGreenDeploymentConfiguration=bg_config("KEEP_ALIVE"))
    env.start_agents(blue + green)
    dep = env.deploy(targetInstances={"tagFilters": [{"Key": "fleet", "Value": "green", "Type": "KEY_AND_VALUE"}]})
    info = env.wait(dep)
    assert info["status"] == "Succeeded", (info, env.daemon.log_tail(40))
    assert registered(env) == sorted(green)
    check_fleets(env, dep, blue, green)
    st = states(env, blue + green)
    assert all(v == "running" for v in st.values()), st


class CopyWatcher:
    """Starts an agent on every instance of the deployment's copied Auto Scaling
    group as soon as moto reports it (the role enrollment plays on AWS)."""

    def __init__(self, env, name):
        self.env, self.name, self.ids, self.stop = env, name, [], False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            gs = self.env.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[self.name])["AutoScalingGroups"]
            if gs:
                for i in gs[0]["Instances"]:
                    if i["InstanceId"] not in self.ids:
                        self.env.start_agent(i["InstanceId"])
                        self.ids.append(i["InstanceId"])
                if self.ids and len(self.ids) >= gs[0]["DesiredCapacity"]:
                    return
            time.sleep(0.2)

    def join(self):
        self.thread.join(60)
        assert not self.thread.is_alive()


def copy_setup(env, action, wait=0):
    lt = env.ec2.create_launch_template(LaunchTemplateName="web-lt", LaunchTemplateData={
        "ImageId": env.ami, "InstanceType": "t3.micro"})["LaunchTemplate"]["LaunchTemplateId"]
    subnet = env.ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    env.asg.create_auto_scaling_group(AutoScalingGroupName="web-asg", MinSize=1, MaxSize=5, DesiredCapacity=2,
                                      LaunchTemplate={"LaunchTemplateId": lt, "Version": "$Latest"},
                                      VPCZoneIdentifier=subnet, TargetGroupARNs=[env.tg],
                                      Tags=[{"Key": "app", "Value": "web", "PropagateAtLaunch": True}])
    blue = env.asg_instances("web-asg")
    assert registered(env) == blue  # moto registers an attached group's instances
    env.group(autoScalingGroups=["web-asg"], deploymentStyle=BG_STYLE, loadBalancerInfo=LB_INFO,
              blueGreenDeploymentConfiguration=bg_config(action, wait, "COPY_AUTO_SCALING_GROUP"))
    env.start_agents(blue)
    return blue, lt


def deploy_copy(env, version="v1", fail=None):
    """A deployment whose copied group gets its agents from a watcher."""
    from test_agent_rolloutd import upload_bundle
    rev = upload_bundle(env.daemon, env.daemon.admin, env.revision(version, fail=fail))
    dep = env.admin.call("CodeDeploy_20141006.CreateDeployment", {
        "applicationName": "app", "deploymentGroupName": "grp", "revision": rev,
        "deploymentConfigName": "CodeDeployDefault.AllAtOnce"})["deploymentId"]
    return dep, CopyWatcher(env, "CodeDeploy_grp_%s" % dep)


@pytest.mark.parametrize("action", ["TERMINATE", "KEEP_ALIVE"])
def test_copy_auto_scaling_group(env, action):
    blue, lt = copy_setup(env, action)
    dep, w = deploy_copy(env)
    info = env.wait(dep, timeout=120)
    w.stop = True
    assert info["status"] == "Succeeded", (info, env.daemon.log_tail(60))
    name = "CodeDeploy_grp_%s" % dep
    green = env.asg_instances(name)
    assert len(green) == 2 and sorted(w.ids) == green
    check_fleets(env, dep, blue, green)
    assert registered(env) == green
    copy = env.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    assert copy["LaunchTemplate"]["LaunchTemplateId"] == lt
    assert (copy["MinSize"], copy["MaxSize"], copy["DesiredCapacity"]) == (1, 5, 2)
    tags = {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in copy["Tags"]}
    assert tags["app"] == ("web", True) and tags["CodeDeployProvisioningDeploymentId"] == (dep, True), tags
    # the copy took over the load balancer attachment, and the group names it
    assert copy["TargetGroupARNs"] == [env.tg]
    g = env.cd.get_deployment_group(applicationName="app", deploymentGroupName="grp")["deploymentGroupInfo"]
    assert [a["name"] for a in g["autoScalingGroups"]] == [name], g
    old = env.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web-asg"])["AutoScalingGroups"]
    st = states(env, blue)
    if action == "TERMINATE":
        assert old == []
        assert all(v in ("shutting-down", "terminated") for v in st.values()), st
    else:
        assert [o["AutoScalingGroupName"] for o in old] == ["web-asg"]
        assert old[0]["TargetGroupARNs"] == []
        assert all(v == "running" for v in st.values()), st
    plan = env.admin.call("Rolloutd_v1.PlanDeployment", {"applicationName": "app", "deploymentGroupName": "grp"})
    assert "errorInformation" not in plan or plan["errorInformation"]["code"] != "INTERNAL_ERROR", plan


def test_stop_during_termination_wait_routes_back_and_deletes_copy(env):
    blue, _ = copy_setup(env, "TERMINATE", wait=60)  # 60 "minutes" of MINUTE_MS
    dep, w = deploy_copy(env)
    name = "CodeDeploy_grp_%s" % dep
    # traffic moved to the copy: the deployment waits before it deletes the original group
    wait_for(lambda: w.ids and registered(env) == sorted(w.ids), 90, interval=0.2,
             what="traffic on the copied group")
    w.stop = True
    env.cd.stop_deployment(deploymentId=dep, autoRollbackEnabled=True)
    info = env.wait(dep)
    assert info["status"] == "Stopped", info
    # back on the original instances, which still run in their group; the copy is gone
    wait_for(lambda: registered(env) == blue, 30, interval=0.2, what="traffic back on the original instances")
    assert env.asg_instances("web-asg") == blue
    assert all(v == "running" for v in states(env, blue).values())
    wait_for(lambda: env.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"] == [],
             30, interval=0.2, what="the copied group deleted")
    g = env.cd.get_deployment_group(applicationName="app", deploymentGroupName="grp")["deploymentGroupInfo"]
    assert [a["name"] for a in g["autoScalingGroups"]] == ["web-asg"], g


def dep_info(env, dep):
    return env.cd.get_deployment(deploymentId=dep)["deploymentInfo"]


def wait_termination_wait(env, dep):
    """Until the deployment waits to terminate its original instances
    (instanceTerminationWaitTimeStarted), still InProgress."""
    def waiting():
        info = dep_info(env, dep)
        assert info["status"] in ("Created", "InProgress"), (info, env.daemon.log_tail(40))
        return info.get("instanceTerminationWaitTimeStarted") is True
    wait_for(waiting, 90, interval=0.2, what="the termination wait")


def test_continue_termination_wait_via_aws_cli(env):
    blue = env.run_instances(2, {"fleet": "blue"})
    green = env.run_instances(1, {"fleet": "green"})
    env.v2.register_targets(TargetGroupArn=env.tg, Targets=[{"Id": i} for i in blue])
    # 600 "minutes" (10 minutes at MINUTE_MS): only ContinueDeployment ends the wait in time
    env.group(ec2TagFilters=[{"Key": "fleet", "Value": "blue", "Type": "KEY_AND_VALUE"}], deploymentStyle=BG_STYLE,
              loadBalancerInfo=LB_INFO, blueGreenDeploymentConfiguration=bg_config("TERMINATE", 600))
    env.start_agents(blue + green)
    dep = env.deploy(targetInstances={"tagFilters": [{"Key": "fleet", "Value": "green", "Type": "KEY_AND_VALUE"}]})
    # not waiting to terminate yet (the green fleet is being deployed): refused as CodeDeploy refuses it
    with pytest.raises(env.cd.exceptions.DeploymentIsNotInReadyStateException):
        env.cd.continue_deployment(deploymentId=dep, deploymentWaitType="TERMINATION_WAIT")
    wait_termination_wait(env, dep)
    assert registered(env) == sorted(green)
    assert all(v == "running" for v in states(env, blue).values())
    # as on CodeDeploy, every lifecycle event ran before the wait: AfterBlockTraffic on the
    # original instances while they still exist
    check_fleets(env, dep, blue, green)
    for iid, t in env.targets(dep).items():
        assert t["status"] == "Succeeded" and all(
            e["status"] in ("Succeeded", "Skipped") for e in t["lifecycleEvents"]), t
    t0 = time.time()
    env.daemon.aws(env.daemon.admin, "deploy", "continue-deployment", "--deployment-id", dep,
                   "--deployment-wait-type", "TERMINATION_WAIT")
    info = env.wait(dep, timeout=30)
    assert info["status"] == "Succeeded", (info, env.daemon.log_tail(40))
    assert time.time() - t0 < 20
    assert info["instanceTerminationWaitTimeStarted"] is True
    st = states(env, blue + green)
    assert all(st[i] in ("shutting-down", "terminated") for i in blue), st
    assert st[green[0]] == "running", st
    check_fleets(env, dep, blue, green)
    with pytest.raises(env.cd.exceptions.DeploymentAlreadyCompletedException):
        env.cd.continue_deployment(deploymentId=dep, deploymentWaitType="TERMINATION_WAIT")


def test_skip_wait_time_for_instance_termination_copied_group(env):
    blue, _ = copy_setup(env, "TERMINATE", wait=600)
    dep, w = deploy_copy(env)
    name = "CodeDeploy_grp_%s" % dep
    with pytest.raises(env.cd.exceptions.DeploymentNotStartedException):
        env.cd.skip_wait_time_for_instance_termination(deploymentId=dep)
    wait_termination_wait(env, dep)
    w.stop = True
    assert registered(env) == sorted(w.ids)
    assert [g["AutoScalingGroupName"] for g in env.asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=["web-asg"])["AutoScalingGroups"]] == ["web-asg"]
    t0 = time.time()
    env.cd.skip_wait_time_for_instance_termination(deploymentId=dep)
    info = env.wait(dep, timeout=30)
    assert info["status"] == "Succeeded", (info, env.daemon.log_tail(40))
    assert time.time() - t0 < 20
    # the original group deleted, the deployment group names the copy
    assert env.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web-asg"])["AutoScalingGroups"] == []
    assert all(v in ("shutting-down", "terminated") for v in states(env, blue).values())
    g = env.cd.get_deployment_group(applicationName="app", deploymentGroupName="grp")["deploymentGroupInfo"]
    assert [a["name"] for a in g["autoScalingGroups"]] == [name], g


def test_keep_alive_has_no_termination_wait(env):
    blue = env.run_instances(1, {"fleet": "blue"})
    green = env.run_instances(1, {"fleet": "green"})
    env.v2.register_targets(TargetGroupArn=env.tg, Targets=[{"Id": i} for i in blue])
    env.group(ec2TagFilters=[{"Key": "fleet", "Value": "blue", "Type": "KEY_AND_VALUE"}], deploymentStyle=BG_STYLE,
              loadBalancerInfo=LB_INFO, blueGreenDeploymentConfiguration=bg_config("KEEP_ALIVE"))
    env.start_agents(blue + green)
    dep = env.deploy(targetInstances={"tagFilters": [{"Key": "fleet", "Value": "green", "Type": "KEY_AND_VALUE"}]})
    with pytest.raises(env.cd.exceptions.DeploymentIsNotInReadyStateException):
        env.cd.continue_deployment(deploymentId=dep, deploymentWaitType="TERMINATION_WAIT")
    info = env.wait(dep)
    assert info["status"] == "Succeeded", (info, env.daemon.log_tail(40))
    assert info.get("instanceTerminationWaitTimeStarted") in (None, False), info


@pytest.mark.parametrize("provisioning", ["COPY_AUTO_SCALING_GROUP", "DISCOVER_EXISTING"])
def test_rollback_returns_to_original_fleet(env, provisioning):
    if provisioning == "COPY_AUTO_SCALING_GROUP":
        blue, _ = copy_setup(env, "TERMINATE")
        green = []
    else:
        blue = env.run_instances(2, {"fleet": "blue"})
        green = env.run_instances(1, {"fleet": "green"})
        env.v2.register_targets(TargetGroupArn=env.tg, Targets=[{"Id": i} for i in blue])
        env.group(ec2TagFilters=[{"Key": "fleet", "Value": "blue", "Type": "KEY_AND_VALUE"}],
                  deploymentStyle=BG_STYLE, loadBalancerInfo=LB_INFO,
                  blueGreenDeploymentConfiguration=bg_config("TERMINATE", 0, provisioning))
        env.start_agents(blue + green)
    # v1 on the original instances first (in place): the revision a rollback returns to
    env.cd.update_deployment_group(applicationName="app", currentDeploymentGroupName="grp", deploymentStyle={
        "deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"})
    info = env.wait(env.deploy("v1"))
    assert info["status"] == "Succeeded", (info, env.daemon.log_tail(40))
    env.cd.update_deployment_group(applicationName="app", currentDeploymentGroupName="grp",
                                   deploymentStyle=BG_STYLE, autoRollbackConfiguration={
                                       "enabled": True, "events": ["DEPLOYMENT_FAILURE"]})
    # v2 fails on the replacement instances
    if provisioning == "COPY_AUTO_SCALING_GROUP":
        dep, w = deploy_copy(env, "v2", fail="AfterInstall")
    else:
        dep = env.admin.call("CodeDeploy_20141006.CreateDeployment", {
            "applicationName": "app", "deploymentGroupName": "grp", "revision": upload_rev(env, "v2", "AfterInstall"),
            "deploymentConfigName": "CodeDeployDefault.AllAtOnce", "targetInstances": {
                "tagFilters": [{"Key": "fleet", "Value": "green", "Type": "KEY_AND_VALUE"}]}})["deploymentId"]
    info = env.wait(dep, timeout=120)
    assert info["status"] == "Failed", (info, env.daemon.log_tail(40))
    rb = info["rollbackInfo"]["rollbackDeploymentId"]
    rinfo = env.wait(rb, timeout=60)
    assert rinfo["status"] == "Succeeded", (rinfo, env.daemon.log_tail(60))
    assert rinfo["creator"] == "codeDeployRollback" and rinfo["rollbackInfo"]["rollbackTriggeringDeploymentId"] == dep
    assert rinfo.get("instanceTerminationWaitTimeStarted") in (None, False), rinfo
    # the rollback ran on the original instances only: AllowTraffic events, nothing installed
    t = env.targets(rb)
    assert sorted(t) == sorted(blue), t
    for iid in blue:
        assert t[iid]["instanceLabel"] == "Blue", t[iid]
        # the revision has no traffic hooks: those events are Skipped, as on CodeDeploy
        assert [(e["lifecycleEventName"], e["status"]) for e in t[iid]["lifecycleEvents"]] == [
            ("BeforeAllowTraffic", "Skipped"), ("AllowTraffic", "Succeeded"),
            ("AfterAllowTraffic", "Skipped")], t[iid]
    assert registered(env) == sorted(blue)
    assert all(v == "running" for v in states(env, blue + green).values())
    names = lambda: sorted(g["AutoScalingGroupName"] for g in env.asg.describe_auto_scaling_groups()[
        "AutoScalingGroups"])
    if provisioning == "COPY_AUTO_SCALING_GROUP":
        w.stop = True
        # the failed deployment's copy deleted, and no copy made for the rollback
        wait_for(lambda: names() == ["web-asg"], 30, interval=0.2, what="only the original group left")
        assert not any(rb in n for n in names())
        g = env.cd.get_deployment_group(applicationName="app", deploymentGroupName="grp")["deploymentGroupInfo"]
        assert [a["name"] for a in g["autoScalingGroups"]] == ["web-asg"], g


def upload_rev(env, version, fail=None):
    from test_agent_rolloutd import upload_bundle
    return upload_bundle(env.daemon, env.daemon.admin, env.revision(version, fail=fail))


def test_copy_needs_one_auto_scaling_group(env):
    env.run_instances(1, {"fleet": "blue"})
    env.group(ec2TagFilters=[{"Key": "fleet", "Value": "blue", "Type": "KEY_AND_VALUE"}], deploymentStyle=BG_STYLE,
              loadBalancerInfo=LB_INFO, blueGreenDeploymentConfiguration=bg_config(
                  provisioning="COPY_AUTO_SCALING_GROUP"))
    info = env.wait(env.deploy())
    assert info["status"] == "Failed", info
    assert info["errorInformation"]["code"] == "AUTO_SCALING_CONFIGURATION", info
    assert "autoScalingGroups" in info["errorInformation"]["message"], info
