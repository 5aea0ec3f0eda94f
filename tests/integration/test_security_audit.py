"""The audit trail: mutating calls (allowed or failed) and refused calls
(bad or disabled credentials, outside the policy or the application scope)
are recorded in the store and logged as one line each; reads and agents'
host-command calls are not. Read back with Rolloutd_v1.ListAuditEvents and
`rolloutctl audit` (filters by key, application, time); removed after the
configured retention."""

import json
import os
import sqlite3
import time

import api_helpers
from cli_helpers import Ctl
from engine_helpers import Signed


def ext(daemon, keys, op, body=None):
    r = api_helpers.signed_request(daemon, keys, target="Rolloutd_v1." + op, body=json.dumps(body or {}).encode())
    return r.status, r.json()


def events(daemon, **filters):
    status, out = ext(daemon, daemon.admin, "ListAuditEvents", filters)
    assert status == 200, out
    return out["AuditEvents"]


def wait_events(daemon, n, timeout=10, **filters):
    """The writer is asynchronous: wait until at least n records match."""
    end = time.monotonic() + timeout
    while True:
        got = events(daemon, **filters)
        if len(got) >= n or time.monotonic() > end:
            return got
        time.sleep(0.05)


def test_mutating_and_refused_calls_are_recorded(daemon_factory):
    d = daemon_factory(plugins={"onprem": {}}, settings={"long_poll": "1s"})
    admin = d.boto3_client(d.admin)
    admin.create_application(applicationName="web")
    admin.create_application(applicationName="billing")
    r = api_helpers.call(d, d.admin, "CreateApplication", {"applicationName": "web"})  # exists: Failed
    assert r.status == 400
    for _ in range(5):
        admin.list_applications()  # reads: not recorded
        admin.get_application(applicationName="web")
    status, key = ext(d, d.admin, "CreateAccessKey", {"Name": "web-ci", "Policy": "deployer", "Applications": ["web"]})
    assert status == 200
    kid = key["AccessKeyId"]
    # refused: outside the scope, outside the policy, a wrong secret, no signature at all, a disabled key
    assert api_helpers.call(d, key, "DeleteApplication", {"applicationName": "billing"}).status == 400
    assert api_helpers.call(d, key, "GetApplication", {"applicationName": "billing"}).status == 400
    assert ext(d, key, "ListAccessKeys")[0] == 400
    bad = {"AccessKeyId": kid, "SecretAccessKey": "x" * 40}
    assert api_helpers.call(d, bad, "ListApplications", {}).status == 403
    assert api_helpers.call(d, key, "ListApplications", {}, sign=False).status == 403
    assert ext(d, d.admin, "UpdateAccessKey", {"AccessKeyId": kid, "Status": "Inactive"})[0] == 200
    assert api_helpers.call(d, key, "GetApplication", {"applicationName": "web"}).status == 403
    # an agent's host-command calls are not recorded
    admin.register_on_premises_instance(instanceName="h1", iamUserArn="arn:aws:iam::000000000000:user/h1")
    status, agent = ext(d, d.admin, "CreateAccessKey", {"Name": "a", "Policy": "agent", "InstanceName": "h1"})
    poll = Signed(d.url, agent, "codedeploy-commands", timeout=10)
    poll.call("CodeDeployCommandService_v20141006.PollHostCommand", {"HostIdentifier": "arn:aws:iam::000000000000:user/h1"})

    evs = wait_events(d, 13)
    by_op = {}
    for e in evs:
        by_op.setdefault(e["Operation"], []).append(e)
    ops = set(by_op)
    assert not any(".List" in o or ".Get" in o or "PollHostCommand" in o for o in ops
                   if by_op[o][0]["Result"] != "Refused"), ops
    created = by_op["CodeDeploy_20141006.CreateApplication"]
    assert sorted(e["Result"] for e in created) == ["Allowed", "Allowed", "Failed"]
    failed = [e for e in created if e["Result"] == "Failed"][0]
    assert failed["ErrorCode"] == "ApplicationAlreadyExistsException" and failed["ApplicationName"] == "web"
    ok = [e for e in created if e["Result"] == "Allowed"][0]
    assert ok["AccessKeyId"] == d.admin["AccessKeyId"] and ok.get("Policy") == "admin", ok
    assert ok["SourceAddress"] == "127.0.0.1" and ok["Status"] == 200 and ok["RequestId"]
    assert ok["Time"] > time.time() - 60
    made = by_op["Rolloutd_v1.CreateAccessKey"]
    assert sorted(e["Resource"] for e in made) == ["a", "web-ci"]
    assert by_op["CodeDeploy_20141006.RegisterOnPremisesInstance"][0]["Resource"] == "h1" and key["SecretAccessKey"] not in json.dumps(evs)
    assert by_op["Rolloutd_v1.UpdateAccessKey"][0]["Resource"] == kid

    refused = [e for e in evs if e["Result"] == "Refused"]
    codes = sorted(e["ErrorCode"] for e in refused)
    assert codes == sorted(["AccessDeniedException", "AccessDeniedException", "AccessDeniedException",
                            "InvalidSignatureException", "MissingAuthenticationTokenException",
                            "UnrecognizedClientException"]), refused
    scope = [e for e in refused if e["Operation"] == "CodeDeploy_20141006.DeleteApplication"][0]
    assert scope["AccessKeyId"] == kid and scope["Policy"] == "deployer"
    assert scope["ApplicationName"] == "billing" and "outside the key's scope" in scope["ErrorMessage"]
    sig = [e for e in refused if e["ErrorCode"] == "InvalidSignatureException"][0]
    assert sig["AccessKeyId"] == kid and "Policy" not in sig  # claimed, not authenticated
    assert not [e for e in refused if e["ErrorCode"] == "MissingAuthenticationTokenException"][0].get("AccessKeyId")

    # filters: key, application, result, operation, time, paging
    assert {e["AccessKeyId"] for e in events(d, AccessKeyId=kid)} == {kid}
    assert len(events(d, AccessKeyId=kid)) == 5
    assert {e["ApplicationName"] for e in events(d, ApplicationName="billing")} == {"billing"}
    assert len(events(d, Result="Refused")) == 6
    assert len(events(d, Operation="CreateApplication")) == 3
    assert events(d, StartTime=time.time() + 60) == []
    assert len(events(d, EndTime=time.time() + 60)) == len(evs)
    status, page = ext(d, d.admin, "ListAuditEvents", {"MaxResults": 2})
    assert len(page["AuditEvents"]) == 2 and page["NextToken"]
    status, page2 = ext(d, d.admin, "ListAuditEvents", {"MaxResults": 2, "NextToken": page["NextToken"]})
    assert page2["AuditEvents"][0]["Time"] <= page["AuditEvents"][-1]["Time"]
    assert [e["RequestId"] for e in page["AuditEvents"] + page2["AuditEvents"]] == \
        [e["RequestId"] for e in evs[:4]]
    # readable by admin only
    status, err = ext(d, d.create_access_key("ro", "readonly"), "ListAuditEvents")
    assert status == 400 and err["__type"] == "AccessDeniedException"

    # one structured line each in the log
    log = d.log()
    line = [ln for ln in log.splitlines() if "[audit] CodeDeploy_20141006.DeleteApplication" in ln][0]
    assert "result=Refused" in line and "key=" + kid in line and "application=billing" in line
    assert "source=127.0.0.1" in line and "error=AccessDeniedException" in line


def test_rolloutctl_audit(daemon_factory):
    d = daemon_factory()
    ctl = Ctl(d.url, d.admin)
    ctl("app", "create", "web")
    ctl("app", "create", "billing")
    other = ctl.json("access-key", "create", "--name", "ci", "--policy", "deployer")
    Ctl(d.url, other)("app", "create", "shop")
    wait_events(d, 4)
    out = ctl.json("audit")["AuditEvents"]
    assert [e["Operation"] for e in out][:4] == ["CodeDeploy_20141006.CreateApplication",
                                                  "Rolloutd_v1.CreateAccessKey",
                                                  "CodeDeploy_20141006.CreateApplication",
                                                  "CodeDeploy_20141006.CreateApplication"]
    mine = ctl.json("audit", "--key", other["AccessKeyId"])["AuditEvents"]
    assert [e["ApplicationName"] for e in mine] == ["shop"]
    assert [e["ApplicationName"] for e in ctl.json("audit", "--app", "billing")["AuditEvents"]] == ["billing"]
    assert ctl.json("audit", "--since", "1h", "--app", "web")["AuditEvents"][0]["ApplicationName"] == "web"
    assert ctl.json("audit", "--until", "1h")["AuditEvents"] == []
    assert ctl.json("audit", "--since", "2000-01-01T00:00:00Z", "--limit", "2")["AuditEvents"].__len__() == 2
    assert len(ctl.json("audit", "--name", "CreateApplication")["AuditEvents"]) == 3
    table = ctl("audit", "--app", "web").stdout
    assert "CreateApplication" in table and "Allowed" in table and "127.0.0.1" in table
    p = ctl("audit", "--since", "yesterday-ish", expect=2)
    assert "--since" in p.stderr
    p = Ctl(d.url, other)("audit", expect=None)
    assert p.returncode != 0 and "AccessDeniedException" in p.stderr


def test_audit_retention(daemon_factory):
    d = daemon_factory(settings={"retention": {"audit": "1h", "interval": "1s"}})
    d.boto3_client(d.admin).create_application(applicationName="web")
    wait_events(d, 1)
    d.stop()
    db = sqlite3.connect(os.path.join(d.data_dir, "state.db"))
    db.execute("INSERT INTO audit_log (time, operation, result, status) VALUES (1000, 'Old.Op', 'Allowed', 200)")
    db.execute("INSERT INTO audit_log (time, operation, result, status) VALUES (?, 'Recent.Op', 'Allowed', 200)",
               (int((time.time() - 1800) * 1000),))
    db.commit()
    db.close()
    d.start()
    end = time.monotonic() + 10
    while any(e["Operation"] == "Old.Op" for e in events(d)) and time.monotonic() < end:
        time.sleep(0.1)
    ops = [e["Operation"] for e in events(d)]
    assert "Old.Op" not in ops and "Recent.Op" in ops and "CodeDeploy_20141006.CreateApplication" in ops
    assert "removed 1 audit record" in d.log()
