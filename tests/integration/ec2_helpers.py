"""EC2 deployments for the integration tests: moto_server with EC2 instances
and Auto Scaling groups, a rolloutd with the ec2 plugin pointed at it, and
real rollout-agent processes whose host identifiers are the moto instances'
ARNs, each with an agent key bound to its instance id.

    env = Ec2Env(tmp_path, daemon_factory)
    ids = env.run_instances(2, {"env": "prod"})
    env.group(ec2TagFilters=[{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}])
    env.start_agents(ids)
    info = env.wait(env.deploy())
"""

import os

from agent_helpers import Agent, make_bundle, script, wait_for
from engine_helpers import Signed
from health_helpers import Moto

ROLE = "arn:aws:iam::123456789012:role/codedeploy"
ACCOUNT = "123456789012"
REGION = "us-east-1"
SETTINGS = {"long_poll": "5s"}


def instance_arn(iid):
    return "arn:aws:ec2:%s:%s:instance/%s" % (REGION, ACCOUNT, iid)


class Ec2Env:
    def __init__(self, tmp_path, daemon_factory, plugin_settings=None, settings=None, onprem=False,
                 extra_plugins=None, moto=None):
        self.tmp = tmp_path
        self.moto = moto or Moto()
        self.ec2 = self.moto.client("ec2")
        self.asg = self.moto.client("autoscaling")
        self.ami = self.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        ps = {"endpoint": self.moto.url, "region": REGION, "access_key_id": "testing",
              "secret_access_key": "testing", "max_attempts": "1", "timeout": "10s"}
        ps.update(plugin_settings or {})
        plugins = {"ec2": ps}
        if onprem:
            plugins["onprem"] = {}
        if extra_plugins:  # a function of moto's URL: more plugins pointed at it
            plugins.update(extra_plugins(self.moto.url))
        s = dict(SETTINGS)
        s.update(settings or {})
        self.daemon = daemon_factory(plugins=plugins, settings=s)
        self.cd = self.daemon.boto3_client(self.daemon.admin)
        self.admin = Signed(self.daemon.url, self.daemon.admin, "codedeploy", timeout=30)
        self.cd.create_application(applicationName="app")
        self.agents = {}
        self.keys = {}

    def close(self):
        for a in self.agents.values():
            if a.proc:
                a.stop()
        self.moto.close()

    # ------------------------------------------------------------ EC2 and Auto Scaling

    def run_instances(self, n, tags):
        spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
        r = self.ec2.run_instances(ImageId=self.ami, MinCount=n, MaxCount=n, InstanceType="t3.micro",
                                   TagSpecifications=spec)
        return [i["InstanceId"] for i in r["Instances"]]

    def create_asg(self, name, size):
        lt = "lt-" + name
        self.ec2.create_launch_template(LaunchTemplateName=lt,
                                        LaunchTemplateData={"ImageId": self.ami, "InstanceType": "t3.micro"})
        subnet = self.ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        self.asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=10, DesiredCapacity=size,
                                           LaunchTemplate={"LaunchTemplateName": lt, "Version": "$Latest"},
                                           VPCZoneIdentifier=subnet)
        return self.asg_instances(name)

    def asg_instances(self, name):
        g = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        return sorted(i["InstanceId"] for i in g["Instances"])

    # ------------------------------------------------------------ rolloutd

    def group(self, name="grp", **kw):
        g = {"applicationName": "app", "deploymentGroupName": name, "serviceRoleArn": ROLE}
        g.update(kw)
        self.cd.create_deployment_group(**g)

    def agent_key(self, iid, name=None):
        return self.admin.call("Rolloutd_v1.CreateAccessKey",
                               {"Name": name or "agent-" + iid, "Policy": "agent", "InstanceName": iid})

    def start_agent(self, iid, keys=None, host_identifier=None, **settings):
        keys = keys or self.agent_key(iid)
        self.keys[iid] = keys
        a = Agent(self.tmp, self.daemon.url, host_identifier or instance_arn(iid), keys["AccessKeyId"],
                  keys["SecretAccessKey"], os.path.join(self.daemon.data_dir, "daemon.crt"), name="agent-" + iid,
                  heartbeat="2s", **settings)
        self.agents[iid] = a.start()
        return a

    def start_agents(self, ids):
        for iid in ids:
            self.start_agent(iid)

    def revision(self, version="v1", fail=None):
        """A tgz bundle recording each hook into the agent's own directory (events.log)."""
        hooks = ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]
        appspec = "version: 0.0\nos: linux\nhooks:\n"
        files = {}
        for ev in hooks:
            appspec += "  %s:\n    - location: scripts/%s.sh\n" % (ev, ev)
            body = 'echo "$LIFECYCLE_EVENT %s $DEPLOYMENT_ID" >> "$(dirname "$0")/../../../events.log"' % version
            if fail == ev:
                body += "\nexit 3"
            files["scripts/%s.sh" % ev] = script(body)
        files["appspec.yml"] = appspec
        path = os.path.join(str(self.tmp), "rev-%s.tgz" % version)
        make_bundle(path, files)
        return path

    def deploy(self, version="v1", group="grp", config="CodeDeployDefault.AllAtOnce", **kw):
        from test_agent_rolloutd import upload_bundle
        rev = upload_bundle(self.daemon, self.daemon.admin, self.revision(version))
        assert rev is not None, "this rolloutd takes no bundle uploads"
        body = {"applicationName": "app", "deploymentGroupName": group, "revision": rev,
                "deploymentConfigName": config}
        body.update(kw)
        return self.admin.call("CodeDeploy_20141006.CreateDeployment", body)["deploymentId"]

    def wait(self, dep, timeout=90):
        def done():
            info = self.cd.get_deployment(deploymentId=dep)["deploymentInfo"]
            return info if info["status"] in ("Succeeded", "Failed", "Stopped") else None
        return wait_for(done, timeout, interval=0.3, what="deployment %s to end" % dep)

    def wait_idle(self, group="grp", timeout=90):
        """Waits until no deployment of the group is active: a deployment the
        daemon started itself (to an instance Auto Scaling launched) blocks a
        new one, as in CodeDeploy (DeploymentLimitExceededException)."""
        def idle():
            return not self.cd.list_deployments(
                applicationName="app", deploymentGroupName=group,
                includeOnlyStatuses=["Created", "Queued", "InProgress", "Baking", "Ready"])["deployments"]
        wait_for(idle, timeout, interval=0.3, what="the deployments of %s to end" % group)

    def targets(self, dep):
        ids = self.cd.list_deployment_targets(deploymentId=dep)["targetIds"]
        if not ids:
            return {}
        got = self.cd.batch_get_deployment_targets(deploymentId=dep, targetIds=ids)["deploymentTargets"]
        return {t["instanceTarget"]["targetId"]: t["instanceTarget"] for t in got}


class FakeImds:
    """The instance metadata service of one EC2 instance (IMDSv2: a token from
    PUT /latest/api/token, then the instance identity document)."""

    def __init__(self, instance_id, region=REGION, account=ACCOUNT):
        import http.server
        import json as _json
        import threading
        doc = _json.dumps({"instanceId": instance_id, "region": region, "accountId": account}).encode()
        self.requests = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, body):
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                outer.requests.append(("PUT", self.path))
                if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    self._send(200, b"TOKEN-" + instance_id.encode())
                else:
                    self._send(400, b"")

            def do_GET(self):
                outer.requests.append(("GET", self.path))
                if self.headers.get("X-aws-ec2-metadata-token") != "TOKEN-" + instance_id:
                    self._send(401, b"")  # IMDSv2 only
                elif self.path == "/latest/dynamic/instance-identity/document":
                    self._send(200, doc)
                else:
                    self._send(404, b"")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
