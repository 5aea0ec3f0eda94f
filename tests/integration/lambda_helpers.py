"""Lambda deployments for the integration tests: moto_server with real
Lambda functions, versions and aliases (its simple backend, no Docker), the
hook proxy of lambda_proxy.py in front of it, and a rolloutd with the
lambda plugin pointed at the proxy.

    env = LambdaEnv(tmp_path, daemon_factory, versions=3)
    env.proxy.hooks["pre"] = "Succeeded"
    dep = env.deploy(env.appspec(1, 2, before="pre"), config="CodeDeployDefault.LambdaAllAtOnce")
    info = env.wait(dep)
"""

import hashlib
import io
import json
import time
import urllib.request
import zipfile

import botocore.exceptions

from api_helpers import call
from health_helpers import Moto
from lambda_proxy import LambdaProxy

ROLE = "arn:aws:iam::123456789012:role/codedeploy"
BLUE_GREEN = {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}


def _zip(text):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return %r\n" % text)
    return b.getvalue()


class LambdaEnv:
    def __init__(self, tmp_path, daemon_factory, fn="fn", alias="live", versions=2, hooks=(), settings=None,
                 alarms=None, plugins=None, plugin_settings=None, group_settings=None, start_version="1"):
        self.moto = Moto()
        # the simple backend must be chosen before any function exists
        req = urllib.request.Request(self.moto.url + "/moto-api/config", method="POST",
                                     data=json.dumps({"lambda": {"use_docker": False}}).encode(),
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
        self.fn, self.alias = fn, alias
        self.lam = self.moto.client("lambda")
        role = self.moto.client("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self.role = role
        self.lam.create_function(FunctionName=fn, Runtime="python3.11", Role=role, Handler="index.handler",
                                 Code={"ZipFile": _zip("v0")})
        for v in range(1, versions + 1):
            if v > 1:
                self.lam.update_function_code(FunctionName=fn, ZipFile=_zip("v%d" % v))
            assert self.lam.publish_version(FunctionName=fn)["Version"] == str(v)
        self.lam.create_alias(FunctionName=fn, Name=alias, FunctionVersion=start_version)
        for h in hooks:
            self.add_function(h)
        lam_settings = {"endpoint": "PROXY", "region": "us-east-1", "access_key_id": "testing",
                        "secret_access_key": "testing", "max_attempts": "2", "timeout": "10s"}
        lam_settings.update(plugin_settings or {})
        all_plugins = {"lambda": lam_settings}
        for name, ps in (plugins or {}).items():  # "MOTO" stands for moto_server's URL
            all_plugins[name] = {k: (self.moto.url if v == "MOTO" else v) for k, v in (ps or {}).items()}
        self.daemon = daemon_factory(plugins=all_plugins, alarms=alarms, settings=settings, start=False)
        self.deployer = self.daemon.create_access_key("hooks", "deployer")
        self.proxy = LambdaProxy(self.moto.url, self.daemon.url, self.deployer)
        self.daemon.plugins["lambda"]["endpoint"] = self.proxy.url
        self.daemon.write_config()
        self.daemon.start()
        self.cd = self.daemon.boto3_client(self.daemon.admin)
        self.cd.create_application(applicationName="app", computePlatform="Lambda")
        g = {"applicationName": "app", "deploymentGroupName": "grp", "serviceRoleArn": ROLE,
             "deploymentStyle": BLUE_GREEN}
        g.update(group_settings or {})
        self.cd.create_deployment_group(**g)

    def add_function(self, name):
        self.lam.create_function(FunctionName=name, Runtime="python3.11", Role=self.role, Handler="index.handler",
                                 Code={"ZipFile": _zip(name)})

    def close(self):
        self.proxy.close()
        self.moto.close()

    # ------------------------------------------------------------ AppSpecs and configs

    def appspec(self, current, target, before=None, after=None, name=None, alias=None):
        hooks = ""
        if before or after:
            hooks = "Hooks:\n"
            if before:
                hooks += "  - BeforeAllowTraffic: %s\n" % before
            if after:
                hooks += "  - AfterAllowTraffic: %s\n" % after
        return ("version: 0.0\n"
                "Resources:\n"
                "  - myFunction:\n"
                "      Type: AWS::Lambda::Function\n"
                "      Properties:\n"
                "        Name: %s\n"
                "        Alias: %s\n"
                "        CurrentVersion: \"%s\"\n"
                "        TargetVersion: \"%s\"\n%s") % (name or self.fn, alias or self.alias, current, target, hooks)

    def config(self, name, kind, percent, seconds):
        """A custom config whose interval is in seconds (rolloutd's extension)."""
        sub = ("timeBasedCanary", "canary") if kind == "TimeBasedCanary" else ("timeBasedLinear", "linear")
        r = call(self.daemon, self.daemon.admin, "CreateDeploymentConfig", {
            "deploymentConfigName": name, "computePlatform": "Lambda",
            "trafficRoutingConfig": {"type": kind, sub[0]: {sub[1] + "Percentage": percent,
                                                            sub[1] + "IntervalInSeconds": seconds}}})
        assert r.status == 200, r.body
        return name

    # ------------------------------------------------------------ deployments

    def revision(self, content, sha=True):
        rev = {"revisionType": "AppSpecContent", "appSpecContent": {"content": content}}
        if sha:
            rev["appSpecContent"]["sha256"] = hashlib.sha256(content.encode()).hexdigest()
        return rev

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
        return self.cd.get_deployment_target(deploymentId=dep, targetId=self.fn)["deploymentTarget"]

    def events(self, dep):
        return {e["lifecycleEventName"]: e["status"] for e in self.target(dep)["lambdaTarget"]["lifecycleEvents"]}

    def wait_weight(self, dep, weight, timeout=30):
        """Waits until rolloutd reports (and so has committed) targetVersionWeight == weight."""
        end = time.monotonic() + timeout
        seen = None
        while time.monotonic() < end:
            try:
                t = self.target(dep)["lambdaTarget"]
            except botocore.exceptions.ClientError as e:
                # no target before the deployment's start has run
                if e.response["Error"]["Code"] not in ("DeploymentTargetDoesNotExistException",
                                                       "DeploymentNotStartedException"):
                    raise
                time.sleep(0.05)
                continue
            seen = t.get("lambdaFunctionInfo", {}).get("targetVersionWeight")
            if seen is not None and abs(seen - weight) < 1e-6:
                return t
            time.sleep(0.05)
        raise AssertionError("targetVersionWeight never became %s (last %s)" % (weight, seen))

    def alias_now(self):
        a = self.lam.get_alias(FunctionName=self.fn, Name=self.alias)
        return a["FunctionVersion"], dict(((a.get("RoutingConfig") or {}).get("AdditionalVersionWeights")) or {})

    def shifts(self):
        """The alias states moto held after each UpdateAlias, as (version, weights)."""
        return [(v, w) for _, _, v, w in self.proxy.alias_history]
