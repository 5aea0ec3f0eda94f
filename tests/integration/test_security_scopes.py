"""Access keys scoped to applications, end to end with boto3 and the aws
CLI: a deployer key for `web` deploys `web` and cannot see or touch
`billing` (applications, groups, deployments, ARNs), cross-application
listings are refused, shared resources are read-only to it."""

import json

import pytest
from botocore.exceptions import ClientError

import api_helpers
from engine_helpers import Fleet, s3_revision


def code(fn, *args, **kw):
    try:
        fn(*args, **kw)
        return "OK"
    except ClientError as e:
        return e.response["Error"]["Code"]


def ext(daemon, keys, op, body):
    r = api_helpers.signed_request(daemon, keys, target="Rolloutd_v1." + op, body=json.dumps(body).encode())
    return r.status, r.json()


@pytest.fixture
def two_apps(daemon_factory):
    d = daemon_factory(plugins={"onprem": {}}, settings={"long_poll": "1s"})
    web = Fleet(d, app="web", group="prod", n=1, prefix="web")
    billing = Fleet(d, app="billing", group="prod", n=1, prefix="bill", tag=("env", "billing"))
    status, key = ext(d, d.admin, "CreateAccessKey", {"Name": "web-ci", "Policy": "deployer", "Applications": ["web"]})
    assert status == 200 and key["Applications"] == ["web"]
    yield d, web, billing, key
    web.stop()
    billing.stop()


def test_scoped_deployer(two_apps):
    d, web, billing, key = two_apps
    bdep = billing.deploy(s3_revision("b1"))
    assert billing.wait(bdep)["status"] == "Succeeded"
    cd = d.boto3_client(key)

    # its own application: everything a deployer does
    assert cd.get_application(applicationName="web")["application"]["applicationName"] == "web"
    assert cd.list_deployment_groups(applicationName="web")["deploymentGroups"] == ["prod"]
    dep = api_helpers.call(d, key, "CreateDeployment", {
        "applicationName": "web", "deploymentGroupName": "prod", "revision": web.revision("w1")})
    assert dep.status == 200, dep.json()
    wdep = dep.json()["deploymentId"]
    assert web.wait(wdep)["status"] == "Succeeded"
    assert cd.get_deployment(deploymentId=wdep)["deploymentInfo"]["applicationName"] == "web"
    assert cd.list_deployments(applicationName="web", deploymentGroupName="prod")["deployments"] == [wdep]
    assert code(cd.create_deployment_group, applicationName="web", deploymentGroupName="canary",
                serviceRoleArn="arn:aws:iam::000000000000:role/cd") == "OK"

    # the other application: nothing
    assert code(cd.get_application, applicationName="billing") == "AccessDeniedException"
    assert code(cd.delete_application, applicationName="billing") == "AccessDeniedException"
    assert code(cd.batch_get_applications, applicationNames=["web", "billing"]) == "AccessDeniedException"
    assert code(cd.get_deployment_group, applicationName="billing", deploymentGroupName="prod") == "AccessDeniedException"
    assert code(cd.get_deployment, deploymentId=bdep) == "AccessDeniedException"
    assert code(cd.batch_get_deployments, deploymentIds=[wdep, bdep]) == "AccessDeniedException"
    assert code(cd.stop_deployment, deploymentId=bdep) == "AccessDeniedException"
    assert code(cd.list_deployment_targets, deploymentId=bdep) == "AccessDeniedException"
    assert code(cd.create_deployment, applicationName="billing", deploymentGroupName="prod",
                revision={"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k", "bundleType": "zip"}}) \
        == "AccessDeniedException"
    assert code(cd.update_application, applicationName="web", newApplicationName="billing2") == "AccessDeniedException"
    arn = "arn:aws:codedeploy:us-east-1:000000000000:application:billing"
    assert code(cd.tag_resource, ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}]) == "AccessDeniedException"
    assert code(cd.list_tags_for_resource, ResourceArn=arn) == "AccessDeniedException"
    status, err = ext(d, key, "GetDeploymentLogs", {"DeploymentId": bdep})
    assert status == 400 and err["__type"] == "AccessDeniedException"
    r = api_helpers.call(d, key, "GetApplication", {"applicationName": "billing"})
    assert r.status == 400 and "application billing is outside the key's scope" in r.json()["message"]

    # listings across applications: refused, not filtered
    assert code(cd.list_applications) == "AccessDeniedException"
    assert code(cd.list_deployments) == "AccessDeniedException"
    # shared resources: read, not changed
    assert "CodeDeployDefault.OneAtATime" in cd.list_deployment_configs()["deploymentConfigsList"]
    assert code(cd.list_on_premises_instances) == "OK"
    assert code(cd.create_deployment_config, deploymentConfigName="mine",
                minimumHealthyHosts={"type": "HOST_COUNT", "value": 0}) == "AccessDeniedException"
    assert code(cd.deregister_on_premises_instance, instanceName="bill-0") == "AccessDeniedException"

    # the aws CLI sees the same
    p, _ = d.aws(key, "deploy", "get-application", "--application-name", "billing", check=False)
    assert p.returncode != 0 and "AccessDeniedException" in p.stderr
    p, out = d.aws(key, "deploy", "get-application", "--application-name", "web")
    assert out["application"]["applicationName"] == "web"

    # billing is untouched
    admin = d.boto3_client(d.admin)
    assert admin.get_application(applicationName="billing")["application"]["applicationName"] == "billing"
    assert admin.list_applications()["applications"] == ["billing", "web"]


def test_scope_patterns_and_changes(two_apps):
    d, web, billing, key = two_apps
    cd = d.boto3_client(key)
    assert code(cd.create_application, applicationName="web-eu") == "AccessDeniedException"
    # widen the scope with a pattern: takes effect on the next request
    status, _ = ext(d, d.admin, "UpdateAccessKey", {"AccessKeyId": key["AccessKeyId"], "Applications": ["web", "web-*"]})
    assert status == 200
    assert code(cd.create_application, applicationName="web-eu") == "OK"
    assert code(cd.get_application, applicationName="billing") == "AccessDeniedException"
    # every application again
    status, _ = ext(d, d.admin, "UpdateAccessKey", {"AccessKeyId": key["AccessKeyId"], "Applications": None})
    assert status == 200
    assert code(cd.get_application, applicationName="billing") == "OK"
    listed = ext(d, d.admin, "ListAccessKeys", {})[1]["AccessKeys"]
    assert "Applications" not in [k for k in listed if k["AccessKeyId"] == key["AccessKeyId"]][0]
    # agent keys cannot be scoped
    status, err = ext(d, d.admin, "CreateAccessKey", {"Name": "a", "Policy": "agent", "InstanceName": "web-0",
                                                       "Applications": ["web"]})
    assert status == 400 and "agent" in err["message"]
    # a scoped readonly key reads its application only, and never the keys
    status, ro = ext(d, d.admin, "CreateAccessKey", {"Name": "ro", "Policy": "readonly", "Applications": ["billing"]})
    rcd = d.boto3_client(ro)
    assert code(rcd.get_application, applicationName="billing") == "OK"
    assert code(rcd.get_application, applicationName="web") == "AccessDeniedException"
    assert code(rcd.create_application, applicationName="billing2") == "AccessDeniedException"
    assert ext(d, ro, "ListAccessKeys", {})[1]["__type"] == "AccessDeniedException"
