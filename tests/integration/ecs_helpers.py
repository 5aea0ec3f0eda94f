"""ECS deployments for the integration tests: moto_server with a FARGATE
cluster, a task definition (containers with cpu/memory, as moto needs), a
service with the EXTERNAL controller, an ALB with two target groups and a
production and a test listener; the proxy of lambda_proxy.py in front of it
(it plays the hook functions, records every ModifyListener and the ECS
calls); and a rolloutd with the ecs plugin pointed at the proxy.

    env = EcsEnv(tmp_path, daemon_factory, hooks=("pre",))
    dep = env.deploy(env.appspec(2), config="CodeDeployDefault.ECSAllAtOnce")
    info = env.wait(dep)
"""

import hashlib
import json
import time
import urllib.request

import botocore.exceptions

from api_helpers import call
from health_helpers import Moto
from lambda_helpers import _zip
from lambda_proxy import LambdaProxy

ROLE = "arn:aws:iam::123456789012:role/codedeploy"
BLUE_GREEN = {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}


def until(pred, what="condition never held", timeout=30):
    """Waits until pred() holds, else fails with what."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(what)


def _post(url, doc):
    req = urllib.request.Request(url, method="POST", data=json.dumps(doc).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()


class EcsEnv:
    def __init__(self, tmp_path, daemon_factory, hooks=(), controller="EXTERNAL", first=True, test_listener=True,
                 settings=None, alarms=None, plugins=None, group_settings=None, term_wait=0):
        self.moto = Moto()
        _post(self.moto.url + "/moto-api/config", {"lambda": {"use_docker": False}})
        # moto advances a task's state at every describe unless pinned
        _post(self.moto.url + "/moto-api/state-manager/set-transition",
              {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000000}})
        ec2, self.ecs, self.elb = self.moto.client("ec2"), self.moto.client("ecs"), self.moto.client("elbv2")
        self.lam = self.moto.client("lambda")
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        self.subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
        self.sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
        lb = self.elb.create_load_balancer(Name="alb", Subnets=self.subnets, SecurityGroups=[self.sg],
                                           Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
        self.tg = {}
        for n in ("tg-blue", "tg-green"):
            self.tg[n] = self.elb.create_target_group(Name=n, Protocol="HTTP", Port=80, VpcId=vpc,
                                                      TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        fwd = [{"Type": "forward", "TargetGroupArn": self.tg["tg-blue"]}]
        self.prod = self.elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                                             DefaultActions=fwd)["Listeners"][0]["ListenerArn"]
        self.test = self.elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=8080,
                                             DefaultActions=fwd)["Listeners"][0]["ListenerArn"]
        self.ecs.create_cluster(clusterName="c1")
        self.td = [None] + [self._task_def(i) for i in (1, 2, 3)]
        self.ecs.create_service(cluster="c1", serviceName="web", desiredCount=2,
                                deploymentController={"type": controller})
        if first:
            # the service's current version: a primary task set on tg-blue
            ts = self.ecs.create_task_set(
                cluster="c1", service="web", taskDefinition=self.td[1], externalId="setup", launchType="FARGATE",
                networkConfiguration={"awsvpcConfiguration": {"subnets": self.subnets, "securityGroups": [self.sg]}},
                loadBalancers=[{"targetGroupArn": self.tg["tg-blue"], "containerName": "web", "containerPort": 80}],
                scale={"value": 100, "unit": "PERCENT"})["taskSet"]
            self.ecs.update_service_primary_task_set(cluster="c1", service="web", primaryTaskSet=ts["taskSetArn"])
        role = self.moto.client("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        for h in hooks:
            self.lam.create_function(FunctionName=h, Runtime="python3.11", Role=role, Handler="index.handler",
                                     Code={"ZipFile": _zip(h)})
        ps = {"endpoint": "PROXY", "elbv2_endpoint": "PROXY", "lambda_endpoint": "PROXY", "region": "us-east-1",
              "access_key_id": "testing", "secret_access_key": "testing", "max_attempts": "2", "timeout": "10s"}
        all_plugins = {"ecs": ps}
        for name, p in (plugins or {}).items():
            all_plugins[name] = {k: (self.moto.url if v == "MOTO" else v) for k, v in (p or {}).items()}
        self.daemon = daemon_factory(plugins=all_plugins, alarms=alarms, settings=settings, start=False)
        self.deployer = self.daemon.create_access_key("hooks", "deployer")
        self.proxy = LambdaProxy(self.moto.url, self.daemon.url, self.deployer)
        for k in ("endpoint", "elbv2_endpoint", "lambda_endpoint"):
            self.daemon.plugins["ecs"][k] = self.proxy.url
        self.daemon.write_config()
        self.daemon.start()
        self.cd = self.daemon.boto3_client(self.daemon.admin)
        self.cd.create_application(applicationName="app", computePlatform="ECS")
        pair = {"targetGroups": [{"name": "tg-blue"}, {"name": "tg-green"}],
                "prodTrafficRoute": {"listenerArns": [self.prod]}}
        if test_listener:
            pair["testTrafficRoute"] = {"listenerArns": [self.test]}
        g = {"applicationName": "app", "deploymentGroupName": "grp", "serviceRoleArn": ROLE,
             "deploymentStyle": BLUE_GREEN, "ecsServices": [{"serviceName": "web", "clusterName": "c1"}],
             "loadBalancerInfo": {"targetGroupPairInfoList": [pair]},
             "blueGreenDeploymentConfiguration": {
                 "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
                 "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                               "terminationWaitTimeInMinutes": term_wait}}}
        g.update(group_settings or {})
        self.cd.create_deployment_group(**g)

    def _task_def(self, i):
        return self.ecs.register_task_definition(
            family="web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": "web", "image": "nginx:%d" % i, "cpu": 256, "memory": 512,
                                   "portMappings": [{"containerPort": 80}]}])["taskDefinition"]["taskDefinitionArn"]

    def close(self):
        self.proxy.close()
        self.moto.close()

    # ------------------------------------------------------------ AppSpecs and configs

    def appspec(self, version, hooks=None, container="web", port=80, network=False, launch_type=None,
                task_definition=None):
        props = ("        TaskDefinition: \"%s\"\n"
                 "        LoadBalancerInfo:\n"
                 "          ContainerName: \"%s\"\n"
                 "          ContainerPort: %d\n") % (task_definition or self.td[version], container, port)
        if launch_type:
            props += "        LaunchType: %s\n" % launch_type
        if network:
            props += ("        NetworkConfiguration:\n"
                      "          AwsvpcConfiguration:\n"
                      "            Subnets: [%s]\n"
                      "            SecurityGroups: [%s]\n"
                      "            AssignPublicIp: DISABLED\n") % (", ".join(self.subnets), self.sg)
        text = ("version: 0.0\n"
                "Resources:\n"
                "  - TargetService:\n"
                "      Type: AWS::ECS::Service\n"
                "      Properties:\n" + props)
        if hooks:
            text += "Hooks:\n" + "".join("  - %s: %s\n" % (ev, fn) for ev, fn in hooks.items())
        return text

    def config(self, name, kind, percent, seconds):
        """A custom config whose interval is in seconds (rolloutd's extension)."""
        sub = ("timeBasedCanary", "canary") if kind == "TimeBasedCanary" else ("timeBasedLinear", "linear")
        r = call(self.daemon, self.daemon.admin, "CreateDeploymentConfig", {
            "deploymentConfigName": name, "computePlatform": "ECS",
            "trafficRoutingConfig": {"type": kind, sub[0]: {sub[1] + "Percentage": percent,
                                                            sub[1] + "IntervalInSeconds": seconds}}})
        assert r.status == 200, r.body
        return name

    # ------------------------------------------------------------ deployments

    def revision(self, content):
        return {"revisionType": "AppSpecContent",
                "appSpecContent": {"content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()}}

    def deploy(self, content, config=None, **kw):
        args = {"applicationName": "app", "deploymentGroupName": "grp", "revision": self.revision(content)}
        if config:
            args["deploymentConfigName"] = config
        args.update(kw)
        return self.cd.create_deployment(**args)["deploymentId"]

    def info(self, dep):
        return self.cd.get_deployment(deploymentId=dep)["deploymentInfo"]

    def wait(self, dep, timeout=60, statuses=("Succeeded", "Failed", "Stopped")):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            info = self.info(dep)
            if info["status"] in statuses:
                return info
            time.sleep(0.1)
        raise AssertionError("deployment %s still %s after %ss:\n%s" % (dep, info["status"], timeout,
                                                                         self.daemon.log_tail(40)))

    def target(self, dep):
        return self.cd.get_deployment_target(deploymentId=dep, targetId="c1:web")["deploymentTarget"]

    def events(self, dep):
        return {e["lifecycleEventName"]: e["status"] for e in self.target(dep)["ecsTarget"]["lifecycleEvents"]}

    def wait_weight(self, dep, weight, timeout=30):
        """Waits until rolloutd reports (so has committed) the replacement's trafficWeight."""
        end = time.monotonic() + timeout
        seen = None
        while time.monotonic() < end:
            try:
                t = self.target(dep)["ecsTarget"]
            except botocore.exceptions.ClientError as e:
                if e.response["Error"]["Code"] not in ("DeploymentTargetDoesNotExistException",
                                                       "DeploymentNotStartedException"):
                    raise
                time.sleep(0.05)
                continue
            green = [s for s in t.get("taskSetsInfo", []) if s["taskSetLabel"] == "Green"]
            seen = green[0]["trafficWeight"] if green else None
            if seen is not None and abs(seen - weight) < 1e-6:
                return t
            time.sleep(0.05)
        raise AssertionError("trafficWeight never became %s (last %s)" % (weight, seen))

    def wait_event(self, dep, event, status="InProgress", timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if self.events(dep).get(event) == status:
                    return
            except botocore.exceptions.ClientError:
                pass
            time.sleep(0.05)
        raise AssertionError("%s never became %s" % (event, status))

    # ------------------------------------------------------------ what moto holds

    def shares(self, listener):
        """{target group name: percent} the listener forwards now."""
        from lambda_proxy import listener_weights
        w = listener_weights(self.elb.describe_listeners(ListenerArns=[listener])["Listeners"][0])
        return self._named(w)

    def _named(self, w):
        names = {v: k for k, v in self.tg.items()}
        total = sum(w.values()) or 1
        return {names.get(k, k): round(v * 100 / total) for k, v in w.items() if v}

    def prod_history(self):
        """The production listener's shares after each ModifyListener."""
        return [self._named(w) for arn, w in self.proxy.listener_history if arn == self.prod]

    def test_history(self):
        return [self._named(w) for arn, w in self.proxy.listener_history if arn == self.test]

    def task_sets(self):
        return self.ecs.describe_task_sets(cluster="c1", service="web")["taskSets"]

    def primary(self):
        p = [t for t in self.task_sets() if t["status"] == "PRIMARY"]
        return p[0] if p else None
