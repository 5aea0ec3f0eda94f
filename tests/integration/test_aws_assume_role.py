"""The deployment group's service role, assumed through STS: with
`assume_service_role: true` the ec2 plugin signs the AWS calls it makes for a
deployment with temporary credentials of the group's serviceRoleArn (moto's
STS AssumeRole, made with the plugin's own credentials and cached), and a
role that cannot be assumed fails the deployment with IAM_ROLE_PERMISSIONS.
A test proxy in front of moto records which key signed each call and refuses
AssumeRole on demand (moto assumes any role)."""

import urllib.parse

import pytest

from aws_proxy import AwsProxy
from ec2_helpers import Ec2Env

pytestmark = pytest.mark.slow

ROLE = "arn:aws:iam::123456789012:role/deployer"


@pytest.fixture
def env(tmp_path, daemon_factory):
    proxy = AwsProxy("http://127.0.0.1:9")  # its upstream is set once moto runs
    e = Ec2Env(tmp_path, daemon_factory, plugin_settings={"endpoint": proxy.url, "assume_service_role": "true"})
    u = urllib.parse.urlparse(e.moto.url)
    proxy.moto_host, proxy.moto_port = u.hostname, u.port
    e.proxy = proxy
    yield e
    proxy.close()
    e.close()


def test_service_role_assumed_once_and_signs_the_calls(env):
    ids = env.run_instances(1, {"env": "prod"})
    env.group(ec2TagFilters=[{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}], serviceRoleArn=ROLE)
    env.start_agents(ids)
    for v in ("v1", "v2"):
        info = env.wait(env.deploy(v))
        assert info["status"] == "Succeeded", (info, env.daemon.log_tail(30))
    assumed = env.proxy.actions("AssumeRole")
    # two deployments, one AssumeRole: the credentials are cached until shortly before they expire
    assert len(assumed) == 1, assumed
    assert assumed[0][1]["RoleArn"] == ROLE and assumed[0][1]["RoleSessionName"] == "rolloutd-ec2"
    signers = dict(env.proxy.signers)
    assert signers["AssumeRole"] == "testing"  # the plugin's own credentials assume the role
    ec2_keys = {k for a, k in env.proxy.signers if a == "DescribeInstances"}
    assert len(ec2_keys) == 1 and ec2_keys != {"testing"}, env.proxy.signers
    # moto's temporary keys
    assert next(iter(ec2_keys)).startswith("ASIA"), ec2_keys


def test_role_that_cannot_be_assumed_fails_the_deployment(env):
    env.run_instances(1, {"env": "prod"})
    env.group(ec2TagFilters=[{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}], serviceRoleArn=ROLE)
    env.proxy.fail("AssumeRole", 403, "AccessDenied", times=10)
    info = env.wait(env.deploy())
    assert info["status"] == "Failed", info
    e = info["errorInformation"]
    assert e["code"] == "IAM_ROLE_PERMISSIONS", e
    assert ROLE in e["message"] and "AccessDenied" in e["message"], e
    # refused at once: no retries of a refusal, and no EC2 call made without the role
    assert len(env.proxy.actions("AssumeRole")) == 1
    assert env.proxy.actions("DescribeInstances") == []
