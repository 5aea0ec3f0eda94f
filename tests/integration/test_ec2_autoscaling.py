"""Auto Scaling scale-out against moto_server with real rollout-agents whose
host identifiers are moto's instances: an instance launched into a
deployment group's Auto Scaling group gets the group's last successful
revision (a deployment with creator autoscaling), found by polling the
groups or through a lifecycle message in the user's SQS queue. moto sends
no lifecycle messages and does not implement CompleteLifecycleAction /
RecordLifecycleActionHeartbeat: the test puts Auto Scaling's message into
moto's queue itself, and aws_proxy.py answers and records those two calls
(the ec2 plugin calls Auto Scaling through it)."""

import json
import os
import subprocess
import time
import uuid

import pytest

from agent_helpers import make_bundle, script, wait_for
from aws_proxy import AwsProxy
from ec2_helpers import ACCOUNT, REGION, Ec2Env
from health_helpers import Moto, aws_env

pytestmark = pytest.mark.slow

HOOKS = ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]
FINAL = ("Succeeded", "Failed", "Stopped")


class AsgEnv(Ec2Env):
    def __init__(self, tmp_path, daemon_factory, queue=False, elb=False, **plugin_settings):
        self.ctl = os.path.join(str(tmp_path), "ctl")
        os.makedirs(self.ctl, exist_ok=True)
        self.hooks = HOOKS
        self.proxy = None
        moto = None
        if queue:
            # moto, the proxy in front of its Auto Scaling and SQS, then the daemon; a message
            # not deleted is delivered again after 1 s
            moto = Moto()
            self.proxy = AwsProxy(moto.url)
            self.queue_url = moto.client("sqs").create_queue(
                QueueName="launches", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
            plugin_settings.update({"autoscaling_endpoint": self.proxy.url, "sqs_endpoint": self.proxy.url,
                                    "lifecycle_queue": self.queue_url,
                                    "lifecycle_role_arn": "arn:aws:iam::%s:role/asg-to-sqs" % ACCOUNT,
                                    "lifecycle_queue_wait": "0s", "lifecycle_queue_pause": "200ms"})
        extra = None
        if elb:
            extra = lambda url: {"elb": {  # noqa: E731
                "endpoint": url, "region": REGION, "access_key_id": "testing", "secret_access_key": "testing",
                "max_attempts": "1", "timeout": "10s", "poll_interval": "100ms", "drain_slack": "1s",
                "ready_timeout": "20s"}}
        super().__init__(tmp_path, daemon_factory, plugin_settings=plugin_settings, moto=moto, extra_plugins=extra)

    def close(self):
        super().close()
        if self.proxy:
            self.proxy.close()

    def aws_moto(self, *args):
        p = subprocess.run(["/usr/bin/aws", *args, "--endpoint-url", self.moto.url, "--region", REGION,
                            "--output", "json"], env=aws_env(), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout) if p.stdout.strip() else None

    def scale_to(self, name, n):
        before = set(self.asg_instances(name))
        self.aws_moto("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", name,
                      "--desired-capacity", str(n))
        new = sorted(set(self.asg_instances(name)) - before)
        assert new, "moto launched no instance"
        return new

    def revision(self, version="v1", fail=None, hooks=None):
        """Each hook records itself in its agent's root (events.log). BeforeInstall waits while
        ctl/hold-VERSION exists until ctl/release-VERSION does, and fails when the agent's root
        holds a file FAIL."""
        appspec = "version: 0.0\nos: linux\nhooks:\n"
        files = {}
        for ev in hooks or self.hooks:
            appspec += "  %s:\n    - location: scripts/%s.sh\n" % (ev, ev)
            body = ('root="$(cd "$(dirname "$0")/../../../.." && pwd)"\n'
                    'echo "$LIFECYCLE_EVENT %s $DEPLOYMENT_ID" >> "$root/events.log"\n' % version)
            if ev == "BeforeInstall":
                body += ('if [ -e %(c)s/hold-%(v)s ]; then n=0; while [ ! -e %(c)s/release-%(v)s ] && '
                         '[ $n -lt 900 ]; do sleep 0.1; n=$((n+1)); done; fi\n'
                         'if [ -e "$root/FAIL" ]; then exit 3; fi\n' % {"c": self.ctl, "v": version})
            files["scripts/%s.sh" % ev] = script(body)
        files["appspec.yml"] = appspec
        path = os.path.join(str(self.tmp), "rev-%s.tgz" % version)
        make_bundle(path, files)
        return path

    def ctl_file(self, name):
        open(os.path.join(self.ctl, name), "w").close()

    def events(self, iid):
        path = os.path.join(self.agents[iid].root_dir, "events.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [ln.split() for ln in f.read().splitlines()]

    def versions(self, iid):
        """The revisions the instance's hooks ran, in order, once each."""
        out = []
        for ev, v, _ in self.events(iid):
            if ev == "ValidateService":
                out.append(v)
        return out

    def deployments(self):
        ids = self.cd.list_deployments(applicationName="app", deploymentGroupName="grp")["deployments"]
        out = []
        for i in range(0, len(ids), 25):
            out += self.cd.batch_get_deployments(deploymentIds=ids[i:i + 25])["deploymentsInfo"]
        return out

    def wait_deployment_of(self, creator, iid, timeout=90):
        def find():
            for d in self.deployments():
                if d["creator"] == creator and d["status"] in FINAL and \
                        iid in self.cd.list_deployment_instances(deploymentId=d["deploymentId"])["instancesList"]:
                    return d
            return None
        return wait_for(find, timeout, interval=0.5, what="a %s deployment to %s" % (creator, iid))

    def lifecycle_message(self, asg, iid, hook, token, transition="autoscaling:EC2_INSTANCE_LAUNCHING"):
        """Auto Scaling's message for a launch, as it puts it into the queue."""
        body = {"Origin": "EC2", "Destination": "AutoScalingGroup", "Progress": 50, "AccountId": ACCOUNT,
                "Description": "Launching a new EC2 instance: %s" % iid, "RequestId": str(uuid.uuid4()),
                "EndTime": "", "StartTime": "", "Service": "AWS Auto Scaling",
                "Time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "AutoScalingGroupName": asg, "LifecycleHookName": hook, "EC2InstanceId": iid,
                "LifecycleActionToken": token, "LifecycleTransition": transition,
                "NotificationMetadata": "{}"}
        self.moto.client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))


def first_deployment(env, asg="web-asg", size=1, **group):
    ids = env.create_asg(asg, size)
    env.group(autoScalingGroups=[asg], **group)
    env.start_agents(ids)
    dep = env.deploy("v1")
    info = env.wait(dep)
    assert info["status"] == "Succeeded", (info, [a.log()[-2000:] for a in env.agents.values()])
    return ids, info


@pytest.fixture
def polled(tmp_path, daemon_factory):
    e = AsgEnv(tmp_path, daemon_factory, asg_poll_interval="1s")
    yield e
    e.close()


def test_scale_out_by_polling_gets_the_last_revision(polled):
    env = polled
    ids, _ = first_deployment(env)
    new = env.scale_to("web-asg", 2)
    env.start_agent(new[0])
    d = env.wait_deployment_of("autoscaling", new[0])
    assert d["status"] == "Succeeded", d
    assert env.cd.list_deployment_instances(deploymentId=d["deploymentId"])["instancesList"] == new
    assert env.versions(new[0]) == ["v1"]
    assert env.versions(ids[0]) == ["v1"]  # the instance that was there already got nothing new
    # the group's last successful revision stays v1's, and one deployment per new instance
    assert len([x for x in env.deployments() if x["creator"] == "autoscaling"]) == 1


@pytest.mark.parametrize("strategy", ["UPDATE", "IGNORE"])
def test_instance_launched_during_a_deployment(tmp_path, daemon_factory, strategy):
    env = AsgEnv(tmp_path, daemon_factory, asg_poll_interval="1s")
    try:
        ids, first = first_deployment(env, outdatedInstancesStrategy=strategy)
        env.ctl_file("hold-v2")
        v2 = env.deploy("v2")  # held in BeforeInstall on the first instance
        wait_for(lambda: any(e[0] == "BeforeInstall" and e[1] == "v2" for e in env.events(ids[0])), 60,
                 what="v2 to reach BeforeInstall")
        new = env.scale_to("web-asg", 2)
        env.start_agent(new[0])
        # while v2 runs, the new instance gets the last SUCCESSFUL revision, v1, beside it
        d = env.wait_deployment_of("autoscaling", new[0])
        assert d["status"] == "Succeeded" and d["revision"] == first["revision"], (d, first)
        assert env.versions(new[0]) == ["v1"]
        assert env.cd.get_deployment(deploymentId=v2)["deploymentInfo"]["status"] == "InProgress"
        env.ctl_file("release-v2")
        info = env.wait(v2)
        assert info["status"] == "Succeeded", info
        assert new[0] not in env.cd.list_deployment_instances(deploymentId=v2)["instancesList"]
        if strategy == "UPDATE":
            # the follow-on deployment brings the outdated instance to v2
            up = env.wait_deployment_of("CodeDeployAutoUpdate", new[0])
            assert up["status"] == "Succeeded", up
            assert env.cd.list_deployment_instances(deploymentId=up["deploymentId"])["instancesList"] == new
            assert env.versions(new[0]) == ["v1", "v2"]
        else:
            # IGNORE: it keeps v1; nothing else is deployed (the scan after v2 found nothing to do)
            time.sleep(4)
            assert [x["creator"] for x in env.deployments() if x["creator"] not in ("user", "autoscaling")] == []
            assert env.versions(new[0]) == ["v1"]
        g = env.cd.get_deployment_group(applicationName="app", deploymentGroupName="grp")["deploymentGroupInfo"]
        assert g["targetRevision"] == info["revision"]  # v2, although the scale-out (v1) ended later
    finally:
        env.close()


@pytest.fixture
def queued(tmp_path, daemon_factory):
    e = AsgEnv(tmp_path, daemon_factory, queue=True, lifecycle_heartbeat="1s", asg_poll_interval="1s")
    yield e
    e.close()


def test_lifecycle_message_continue_abandon_and_hooks(queued):
    env = queued
    ids = env.create_asg("web-asg", 1)
    env.daemon.aws(env.daemon.admin, "deploy", "create-deployment-group", "--application-name", "app",
                   "--deployment-group-name", "grp", "--service-role-arn", "arn:aws:iam::%s:role/cd" % ACCOUNT,
                   "--auto-scaling-groups", "web-asg")
    g = env.cd.get_deployment_group(applicationName="app", deploymentGroupName="grp")["deploymentGroupInfo"]
    hook = g["autoScalingGroups"][0]["hook"]
    assert hook.startswith("CodeDeploy-managed-automatic-launch-deployment-hook-grp-"), g
    installed = env.asg.describe_lifecycle_hooks(AutoScalingGroupName="web-asg")["LifecycleHooks"]
    assert [(h["LifecycleHookName"], h["LifecycleTransition"], h["DefaultResult"]) for h in installed] == \
        [(hook, "autoscaling:EC2_INSTANCE_LAUNCHING", "ABANDON")]
    put = env.proxy.actions("PutLifecycleHook")[0][1]
    assert put["NotificationTargetARN"] == "arn:aws:sqs:%s:%s:launches" % (REGION, ACCOUNT)
    assert put["RoleARN"] == "arn:aws:iam::%s:role/asg-to-sqs" % ACCOUNT
    env.start_agents(ids)
    first = env.deploy("v1")
    assert env.wait(first)["status"] == "Succeeded"

    # a launch: held in BeforeInstall until the proxy saw a heartbeat of its lifecycle action
    env.ctl_file("hold-v1")
    new = env.scale_to("web-asg", 2)
    env.start_agent(new[0])
    token = str(uuid.uuid4())
    env.lifecycle_message("web-asg", new[0], hook, token)
    wait_for(lambda: env.proxy.actions("RecordLifecycleActionHeartbeat"), 60, what="a lifecycle heartbeat")
    env.ctl_file("release-v1")
    d = env.wait_deployment_of("autoscaling", new[0])
    assert d["status"] == "Succeeded", d
    assert env.versions(new[0]) == ["v1"]
    hb = env.proxy.actions("RecordLifecycleActionHeartbeat")[0][1]
    assert (hb["LifecycleActionToken"], hb["LifecycleHookName"], hb["AutoScalingGroupName"]) == \
        (token, hook, "web-asg")
    done = wait_for(lambda: env.proxy.actions("CompleteLifecycleAction"), 30, what="CompleteLifecycleAction")
    c = done[0][1]
    assert (c["LifecycleActionResult"], c["LifecycleActionToken"], c["InstanceId"], c["LifecycleHookName"]) == \
        ("CONTINUE", token, new[0], hook), c

    # a launch whose deployment fails: ABANDON (Auto Scaling replaces the instance)
    os.remove(os.path.join(env.ctl, "hold-v1"))
    bad = env.scale_to("web-asg", 3)
    env.start_agent(bad[0])
    open(os.path.join(env.agents[bad[0]].root_dir, "FAIL"), "w").close()
    token2 = str(uuid.uuid4())
    env.lifecycle_message("web-asg", bad[0], hook, token2)
    d = env.wait_deployment_of("autoscaling", bad[0])
    assert d["status"] == "Failed", d
    done = wait_for(lambda: [p for _, p in env.proxy.actions("CompleteLifecycleAction")
                             if p["LifecycleActionToken"] == token2], 30, what="ABANDON")
    assert done[0]["LifecycleActionResult"] == "ABANDON" and done[0]["InstanceId"] == bad[0], done

    # the group stops naming the Auto Scaling group: its hook goes
    out = env.cd.update_deployment_group(applicationName="app", currentDeploymentGroupName="grp",
                                         autoScalingGroups=[])
    assert out["hooksNotCleanedUp"] == []
    assert env.asg.describe_lifecycle_hooks(AutoScalingGroupName="web-asg")["LifecycleHooks"] == []
    # named again: a new hook (new name); deleting the group removes it
    env.cd.update_deployment_group(applicationName="app", currentDeploymentGroupName="grp",
                                   autoScalingGroups=["web-asg"])
    g = env.cd.get_deployment_group(applicationName="app", deploymentGroupName="grp")["deploymentGroupInfo"]
    assert g["autoScalingGroups"][0]["hook"] != hook
    assert len(env.asg.describe_lifecycle_hooks(AutoScalingGroupName="web-asg")["LifecycleHooks"]) == 1
    out = env.cd.delete_deployment_group(applicationName="app", deploymentGroupName="grp")
    assert out["hooksNotCleanedUp"] == []
    assert env.asg.describe_lifecycle_hooks(AutoScalingGroupName="web-asg")["LifecycleHooks"] == []


def test_launch_before_any_success_and_termination_hook(queued):
    env = queued
    env.create_asg("web-asg", 1)
    # (the system's botocore predates terminationHookEnabled: the API call as is)
    env.admin.call("CodeDeploy_20141006.CreateDeploymentGroup", {
        "applicationName": "app", "deploymentGroupName": "grp", "serviceRoleArn": "arn:aws:iam::%s:role/cd" % ACCOUNT,
        "autoScalingGroups": ["web-asg"], "terminationHookEnabled": True})
    g = env.admin.call("CodeDeploy_20141006.GetDeploymentGroup", {
        "applicationName": "app", "deploymentGroupName": "grp"})["deploymentGroupInfo"]
    hook, term = g["autoScalingGroups"][0]["hook"], g["autoScalingGroups"][0]["terminationHook"]
    assert term.startswith("CodeDeploy-managed-automatic-termination-deployment-hook-grp-"), g
    installed = env.asg.describe_lifecycle_hooks(AutoScalingGroupName="web-asg")["LifecycleHooks"]
    assert sorted((h["LifecycleHookName"], h["LifecycleTransition"]) for h in installed) == sorted(
        [(hook, "autoscaling:EC2_INSTANCE_LAUNCHING"), (term, "autoscaling:EC2_INSTANCE_TERMINATING")])
    new = env.scale_to("web-asg", 2)
    env.lifecycle_message("web-asg", new[0], hook, "tok-1")
    done = wait_for(lambda: env.proxy.actions("CompleteLifecycleAction"), 30, what="CompleteLifecycleAction")
    # nothing ever succeeded in the group: nothing to deploy, the launch goes on
    assert (done[0][1]["LifecycleActionResult"], done[0][1]["LifecycleActionToken"]) == ("CONTINUE", "tok-1")
    assert env.deployments() == []
    # a termination with no revision to stop: let go at once, no termination deployment
    env.lifecycle_message("web-asg", new[0], term, "tok-2", transition="autoscaling:EC2_INSTANCE_TERMINATING")
    done = wait_for(lambda: [p for _, p in env.proxy.actions("CompleteLifecycleAction")
                             if p["LifecycleActionToken"] == "tok-2"], 30, what="termination CONTINUE")
    assert done[0]["LifecycleActionResult"] == "CONTINUE" and done[0]["LifecycleHookName"] == term
    assert env.deployments() == []
    # turning the termination hook off removes only it
    out = env.admin.call("CodeDeploy_20141006.UpdateDeploymentGroup", {
        "applicationName": "app", "currentDeploymentGroupName": "grp", "terminationHookEnabled": False})
    assert out["hooksNotCleanedUp"] == []
    installed = env.asg.describe_lifecycle_hooks(AutoScalingGroupName="web-asg")["LifecycleHooks"]
    assert [h["LifecycleHookName"] for h in installed] == [hook]


STOP_HOOKS = ["ApplicationStop", "BeforeBlockTraffic", "AfterBlockTraffic"] + HOOKS


def completions(env, token):
    return [p for _, p in env.proxy.actions("CompleteLifecycleAction") if p["LifecycleActionToken"] == token]


def test_termination_deployment_stops_and_deregisters(tmp_path, daemon_factory):
    env = AsgEnv(tmp_path, daemon_factory, queue=True, elb=True, lifecycle_heartbeat="1s")
    try:
        env.hooks = STOP_HOOKS
        ids = env.create_asg("web-asg", 1)
        iid = ids[0]
        v2 = env.moto.client("elbv2")
        vpc = env.ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"][0]["VpcId"]
        tg = v2.create_target_group(Name="web-tg", Protocol="HTTP", Port=80, VpcId=vpc,
                                    TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
        v2.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "1"}])

        def registered():
            hs = v2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
            return sorted(h["Target"]["Id"] for h in hs if h["TargetHealth"]["State"] != "unused")

        env.admin.call("CodeDeploy_20141006.CreateDeploymentGroup", {
            "applicationName": "app", "deploymentGroupName": "grp",
            "serviceRoleArn": "arn:aws:iam::%s:role/cd" % ACCOUNT, "autoScalingGroups": ["web-asg"],
            "terminationHookEnabled": True,
            "deploymentStyle": {"deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "loadBalancerInfo": {"targetGroupInfoList": [{"name": "web-tg"}]}})
        g = env.admin.call("CodeDeploy_20141006.GetDeploymentGroup", {
            "applicationName": "app", "deploymentGroupName": "grp"})["deploymentGroupInfo"]
        term = g["autoScalingGroups"][0]["terminationHook"]
        env.start_agents(ids)
        first = env.deploy("v1")
        assert env.wait(first)["status"] == "Succeeded"
        assert registered() == [iid]  # AllowTraffic put it in

        # scale-in: Auto Scaling's message, delivered twice (SQS delivers at least once)
        env.lifecycle_message("web-asg", iid, term, "tok-term", transition="autoscaling:EC2_INSTANCE_TERMINATING")
        env.lifecycle_message("web-asg", iid, term, "tok-term", transition="autoscaling:EC2_INSTANCE_TERMINATING")
        d = env.wait_deployment_of("autoscalingTermination", iid)
        assert d["status"] == "Succeeded", d
        assert d["revision"] == env.cd.get_deployment(deploymentId=first)["deploymentInfo"]["revision"]
        dep = d["deploymentId"]
        # the last revision's hooks ran, traffic first, and nothing was installed
        mine = [e[0] for e in env.events(iid) if e[2] == dep]
        assert mine == ["BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop"], env.events(iid)
        assert all(e[1] == "v1" for e in env.events(iid) if e[2] == dep)
        t = env.cd.get_deployment_target(deploymentId=dep, targetId=iid)["deploymentTarget"]["instanceTarget"]
        assert [(e["lifecycleEventName"], e["status"]) for e in t["lifecycleEvents"]] == [
            ("BeforeBlockTraffic", "Succeeded"), ("BlockTraffic", "Succeeded"),
            ("AfterBlockTraffic", "Succeeded"), ("ApplicationStop", "Succeeded")]
        assert registered() == []  # BlockTraffic took it out of the target group
        # the action is completed with CONTINUE, once; one termination deployment
        done = wait_for(lambda: completions(env, "tok-term"), 30, what="termination CONTINUE")
        assert (done[0]["LifecycleActionResult"], done[0]["InstanceId"], done[0]["LifecycleHookName"]) == \
            ("CONTINUE", iid, term)
        time.sleep(2.5)  # past the queue's visibility timeout: nothing comes again
        assert len(completions(env, "tok-term")) == 1
        assert [x["creator"] for x in env.deployments()].count("autoscalingTermination") == 1
        # the CLI a user types shows it
        _, out = env.daemon.aws(env.daemon.admin, "deploy", "get-deployment", "--deployment-id", dep)
        assert out["deploymentInfo"]["creator"] == "autoscalingTermination"
    finally:
        env.close()


def test_termination_deployment_fails_and_still_continues(queued):
    env = queued
    env.hooks = STOP_HOOKS
    ids = env.create_asg("web-asg", 1)
    env.admin.call("CodeDeploy_20141006.CreateDeploymentGroup", {
        "applicationName": "app", "deploymentGroupName": "grp", "serviceRoleArn": "arn:aws:iam::%s:role/cd" % ACCOUNT,
        "autoScalingGroups": ["web-asg"], "terminationHookEnabled": True,
        "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}})
    term = env.admin.call("CodeDeploy_20141006.GetDeploymentGroup", {
        "applicationName": "app", "deploymentGroupName": "grp"})["deploymentGroupInfo"]["autoScalingGroups"][0][
            "terminationHook"]
    env.start_agents(ids)
    assert env.wait(env.deploy("v1"))["status"] == "Succeeded"
    # without traffic control only ApplicationStop; the instance's agent is gone: it fails
    env.agents[ids[0]].stop()
    env.lifecycle_message("web-asg", ids[0], term, "tok-gone", transition="autoscaling:EC2_INSTANCE_TERMINATING")
    dep = wait_for(lambda: [x for x in env.deployments() if x["creator"] == "autoscalingTermination"], 30,
                   what="the termination deployment")[0]["deploymentId"]

    def started():
        try:
            t = env.cd.get_deployment_target(deploymentId=dep, targetId=ids[0])["deploymentTarget"]
        except env.cd.exceptions.DeploymentTargetDoesNotExistException:
            return None
        return t["instanceTarget"]["lifecycleEvents"][0]["status"] == "InProgress"
    wait_for(started, 30, what="ApplicationStop to start")
    env.cd.stop_deployment(deploymentId=dep)
    info = env.wait(dep)
    assert info["status"] == "Stopped", info
    t = env.cd.get_deployment_target(deploymentId=dep, targetId=ids[0])["deploymentTarget"]["instanceTarget"]
    assert [e["lifecycleEventName"] for e in t["lifecycleEvents"]] == ["ApplicationStop"]
    # Auto Scaling terminates it anyway: CONTINUE; and no rollback of the group
    done = wait_for(lambda: completions(env, "tok-gone"), 30, what="CONTINUE")
    assert done[0]["LifecycleActionResult"] == "CONTINUE"
    assert [x["creator"] for x in env.deployments() if x["creator"] == "codeDeployRollback"] == []


def test_launch_action_survives_kill9(queued):
    from engine_helpers import kill9_and_restart
    env = queued
    ids = env.create_asg("web-asg", 1)
    env.group(autoScalingGroups=["web-asg"])
    hook = env.cd.get_deployment_group(applicationName="app", deploymentGroupName="grp")[
        "deploymentGroupInfo"]["autoScalingGroups"][0]["hook"]
    env.start_agents(ids)
    assert env.wait(env.deploy("v1"))["status"] == "Succeeded"
    # the first DeleteMessage is lost (as if the daemon stopped right after storing the
    # deployment): the message comes again after the visibility timeout
    env.proxy.fail("DeleteMessage", 500, "InternalError", times=1)
    env.ctl_file("hold-v1")
    new = env.scale_to("web-asg", 2)
    env.start_agent(new[0])
    env.lifecycle_message("web-asg", new[0], hook, "tok-kill")
    wait_for(lambda: any(e[0] == "BeforeInstall" for e in env.events(new[0])), 60, what="BeforeInstall")
    wait_for(lambda: len(env.proxy.actions("DeleteMessage")) >= 2, 30, what="the message read again and deleted")
    kill9_and_restart(env.daemon)
    env.ctl_file("release-v1")
    d = env.wait_deployment_of("autoscaling", new[0])
    assert d["status"] == "Succeeded", d
    done = wait_for(lambda: completions(env, "tok-kill"), 30, what="CONTINUE after the restart")
    assert done[0]["LifecycleActionResult"] == "CONTINUE" and done[0]["InstanceId"] == new[0]
    time.sleep(2.5)
    assert len(completions(env, "tok-kill")) == 1
    assert [x["creator"] for x in env.deployments()].count("autoscaling") == 1
