"""The control API's transport: routing, headers, errors, SigV4, policies."""

import datetime
import json

import pytest

from api_helpers import TARGET, call, error_code, raw_client, signed_request


def test_health_needs_no_signature(daemon):
    r = signed_request(daemon, None, method="GET", path="/health", sign=False)
    assert r.status == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["x-amzn-requestid"]


def test_success_headers(daemon):
    r = call(daemon, daemon.admin, "ListApplications", {})
    assert r.status == 200, r.body
    assert r.headers["content-type"] == "application/x-amz-json-1.1"
    assert len(r.headers["x-amzn-requestid"]) == 36
    assert r.json() == {"applications": []}


def test_error_wire_format(daemon):
    r = call(daemon, daemon.admin, "GetApplication", {"applicationName": "nope"})
    assert r.status == 400
    body = r.json()
    assert body["__type"] == "ApplicationDoesNotExistException"
    assert "nope" in body["message"]
    assert r.headers["x-amzn-errortype"] == "ApplicationDoesNotExistException"
    assert r.headers["x-amzn-requestid"]


def test_empty_body_is_empty_object(daemon):
    r = call(daemon, daemon.admin, "ListApplications", b"")
    assert r.status == 200, r.body


def test_unknown_operation(daemon):
    r = call(daemon, daemon.admin, "DoSomethingElse", {})
    assert (r.status, r.error_type) == (400, "UnknownOperationException")
    r = signed_request(daemon, daemon.admin, target="NoSuchService_2020.ListApplications")
    assert (r.status, r.error_type) == (400, "UnknownOperationException")
    r = signed_request(daemon, daemon.admin, target=None)
    assert (r.status, r.error_type) == (400, "UnknownOperationException")


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\"x\"", b"{\"a\": 1, \"a\": 2}", b"\xff\xfe"])
def test_malformed_json(daemon, body):
    r = call(daemon, daemon.admin, "ListApplications", body)
    assert (r.status, r.error_type) == (400, "SerializationException"), r.body


def test_wrong_member_types(daemon):
    for op, body in [("CreateApplication", {"applicationName": 5}),
                     ("BatchGetApplications", {"applicationNames": "x"}),
                     ("CreateDeploymentConfig", {"deploymentConfigName": "c",
                                                 "minimumHealthyHosts": {"type": "HOST_COUNT", "value": "1"}}),
                     ("ListDeployments", {"createTimeRange": {"start": "yesterday"}})]:
        r = call(daemon, daemon.admin, op, body)
        assert (r.status, r.error_type) == (400, "SerializationException"), (op, r.body)


def test_oversize_body(daemon):
    big = json.dumps({"applicationName": "a", "description": "x" * (1024 * 1024 + 10)}).encode()
    r = call(daemon, daemon.admin, "CreateApplication", big)
    assert r.status == 413
    assert r.error_type == "SerializationException"
    # the daemon is still fine
    assert call(daemon, daemon.admin, "ListApplications", {}).status == 200


def test_unsigned_request(daemon):
    r = call(daemon, None, "ListApplications", {}, sign=False)
    assert r.status == 403
    assert r.error_type == "MissingAuthenticationTokenException"


def test_unknown_key(daemon):
    r = call(daemon, {"AccessKeyId": "AKRDNOSUCHKEY0000000", "SecretAccessKey": "x" * 40}, "ListApplications", {})
    assert r.error_type == "UnrecognizedClientException"


def test_wrong_secret(daemon):
    keys = dict(daemon.admin, SecretAccessKey="wrong" * 8)
    r = call(daemon, keys, "ListApplications", {})
    assert r.error_type == "InvalidSignatureException"


def test_tampered_body(daemon):
    signed = json.dumps({"applicationName": "good"}).encode()
    sent = json.dumps({"applicationName": "evil"}).encode()
    r = call(daemon, daemon.admin, "CreateApplication", signed, send_body=sent)
    assert r.error_type == "InvalidSignatureException", r.body
    assert call(daemon, daemon.admin, "GetApplication", {"applicationName": "evil"}).status == 400


def test_tampered_header(daemon):
    r = call(daemon, daemon.admin, "ListApplications", {},
             extra_headers={"X-Amz-Target": "%s.ListApplications" % TARGET})
    assert r.status == 200
    # change the signed target after signing
    from api_helpers import signed_request as sr
    import http.client
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="POST", url=daemon.url + "/", data=b"{}",
                     headers={"Content-Type": "application/x-amz-json-1.1",
                              "X-Amz-Target": "%s.ListApplications" % TARGET})
    SigV4Auth(Credentials(daemon.admin["AccessKeyId"], daemon.admin["SecretAccessKey"]),
              "codedeploy", "us-east-1").add_auth(req)
    p = req.prepare()
    hdrs = dict(p.headers)
    hdrs["X-Amz-Target"] = "%s.ListDeploymentConfigs" % TARGET
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    conn.request("POST", "/", body=b"{}", headers=hdrs)
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert body["__type"] == "InvalidSignatureException"
    del sr


@pytest.mark.parametrize("minutes", [-16, 16])
def test_clock_skew(daemon, minutes):
    when = datetime.datetime.utcnow() + datetime.timedelta(minutes=minutes)
    r = call(daemon, daemon.admin, "ListApplications", {}, when=when)
    assert r.error_type == "InvalidSignatureException"
    msg = r.json()["message"]
    assert ("Signature expired" in msg) if minutes < 0 else ("not yet current" in msg)


def test_small_skew_accepted(daemon):
    when = datetime.datetime.utcnow() - datetime.timedelta(minutes=10)
    assert call(daemon, daemon.admin, "ListApplications", {}, when=when).status == 200


def test_any_region_accepted(daemon):
    assert call(daemon, daemon.admin, "ListApplications", {}, region="eu-west-3").status == 200


def test_wrong_service_scope(daemon):
    r = call(daemon, daemon.admin, "ListApplications", {}, service="codedeploy-commands")
    assert r.error_type == "InvalidSignatureException"
    assert "codedeploy" in r.json()["message"]


def test_policies(daemon_factory):
    d = daemon_factory(start=False)
    ro = d.create_access_key("ro", "readonly")
    dep = d.create_access_key("dep", "deployer")
    agent = d.create_access_key("ag", "agent", instance="host-1")
    d.start()
    # readonly: reads yes, writes no
    assert call(d, ro, "ListApplications", {}).status == 200
    assert call(d, ro, "GetDeploymentConfig", {"deploymentConfigName": "CodeDeployDefault.OneAtATime"}).status == 200
    assert call(d, ro, "BatchGetApplications", {"applicationNames": []}).status == 200
    r = call(d, ro, "CreateApplication", {"applicationName": "x"})
    assert r.error_type == "AccessDeniedException"
    assert "readonly" in r.json()["message"]
    # deployer: every CodeDeploy operation, but no access keys
    assert call(d, dep, "CreateApplication", {"applicationName": "x"}).status == 200
    r = signed_request(d, dep, target="Rolloutd_v1.ListAccessKeys")
    assert r.error_type == "AccessDeniedException"
    # agent: nothing of the control API
    assert call(d, agent, "ListApplications", {}).error_type == "AccessDeniedException"
    # admin: everything
    assert signed_request(d, d.admin, target="Rolloutd_v1.ListAccessKeys").status == 200


def test_access_key_operations(daemon):
    r = signed_request(daemon, daemon.admin, target="Rolloutd_v1.CreateAccessKey",
                       body=json.dumps({"Name": "ci", "Policy": "deployer"}).encode())
    assert r.status == 200, r.body
    k = r.json()
    assert k["AccessKeyId"].startswith("AKRD") and len(k["SecretAccessKey"]) == 40
    assert k["Policy"] == "deployer"
    # the new key works at once
    assert call(daemon, k, "ListApplications", {}).status == 200
    listed = signed_request(daemon, daemon.admin, target="Rolloutd_v1.ListAccessKeys").json()["AccessKeys"]
    ids = {x["AccessKeyId"]: x for x in listed}
    assert ids[k["AccessKeyId"]]["Name"] == "ci"
    assert all("SecretAccessKey" not in x for x in listed)
    # bad input
    r = signed_request(daemon, daemon.admin, target="Rolloutd_v1.CreateAccessKey",
                       body=json.dumps({"Name": "x", "Policy": "root"}).encode())
    assert r.error_type == "InvalidInputException"
    r = signed_request(daemon, daemon.admin, target="Rolloutd_v1.CreateAccessKey",
                       body=json.dumps({"Name": "x", "Policy": "agent"}).encode())
    assert r.error_type == "InvalidInputException" and "instance" in r.json()["message"]
    r = signed_request(daemon, daemon.admin, target="Rolloutd_v1.DeleteAccessKey",
                       body=json.dumps({"AccessKeyId": k["AccessKeyId"]}).encode())
    assert r.status == 200
    assert call(daemon, k, "ListApplications", {}).error_type == "UnrecognizedClientException"
    r = signed_request(daemon, daemon.admin, target="Rolloutd_v1.DeleteAccessKey",
                       body=json.dumps({"AccessKeyId": k["AccessKeyId"]}).encode())
    assert r.error_type == "ResourceNotFoundException"
    r = signed_request(daemon, daemon.admin, target="Rolloutd_v1.NoSuchThing")
    assert r.error_type == "UnknownOperationException"


def test_every_model_operation_is_served(daemon):
    """Each of the model's operations is known: {} never gives UnknownOperationException or a 5xx."""
    from api_helpers import model
    ops = model()["operations"]
    assert len(ops) == 47
    for op in ops:
        r = call(daemon, daemon.admin, op, {})
        assert r.status < 500, (op, r.status, r.body)
        assert r.error_type != "UnknownOperationException", op


REQUIRED_EXCEPTION = {
    "applicationName": "ApplicationNameRequiredException",
    "applicationNames": "ApplicationNameRequiredException",
    "deploymentGroupName": "DeploymentGroupNameRequiredException",
    "currentDeploymentGroupName": "DeploymentGroupNameRequiredException",
    "deploymentGroupNames": "DeploymentGroupNameRequiredException",
    "deploymentConfigName": "DeploymentConfigNameRequiredException",
    "deploymentId": "DeploymentIdRequiredException",
    "deploymentIds": "DeploymentIdRequiredException",
    "instanceName": "InstanceNameRequiredException",
    "instanceNames": "InstanceNameRequiredException",
    "tags": "TagRequiredException",
    "Tags": "TagRequiredException",
    "TagKeys": "TagRequiredException",
    "ResourceArn": "ResourceArnRequiredException",
    "instanceId": "InstanceIdRequiredException",
    "instanceIds": "InstanceIdRequiredException",
    "revision": "RevisionRequiredException",
    "revisions": "RevisionRequiredException",
    "serviceRoleArn": "RoleRequiredException",
}


def test_missing_required_members(daemon):
    """For every operation, each required member (model order) missing in turn gives its *RequiredException."""
    from api_helpers import model
    m = model()
    checked = 0
    for op, spec in m["operations"].items():
        shape = m["shapes"][spec["input"]["shape"]] if "input" in spec else {}
        required = shape.get("required", [])
        body = {}
        for member in required:
            r = call(daemon, daemon.admin, op, body)
            assert r.status == 400, (op, member, r.body)
            assert r.error_type == REQUIRED_EXCEPTION[member], (op, member, r.body)
            assert member in r.json()["message"]
            checked += 1
            # supply a well-typed value and move on to the next required member
            ms = m["shapes"][shape["members"][member]["shape"]]
            body[member] = {"string": "x", "list": [], "structure": {}}.get(ms["type"], "x")
    assert checked >= 40


def test_aws_cli_error_exit(daemon, aws):
    p, _ = aws("deploy", "get-application", "--application-name", "missing", check=False)
    assert p.returncode == 254
    assert "ApplicationDoesNotExistException" in p.stderr


def test_keep_alive_many_requests(daemon):
    c = raw_client(daemon, daemon.admin)
    for _ in range(50):
        assert c.list_applications()["applications"] == []
    assert error_code(c.get_application, applicationName="x") == "ApplicationDoesNotExistException"


def test_regions_allowed(daemon_factory):
    d = daemon_factory(settings={"regions_allowed": ["eu-west-1", "us-east-1"]})
    assert call(d, d.admin, "ListApplications", {}, region="eu-west-1").status == 200
    r = call(d, d.admin, "ListApplications", {}, region="ap-south-1")
    assert r.error_type == "InvalidSignatureException"
    assert "ap-south-1" in r.json()["message"]
