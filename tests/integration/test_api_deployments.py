"""Control API: revisions, deployments, their targets (read side), on-premises
instances; boto3 and /usr/bin/aws against a real rolloutd."""

import datetime
import json
import os
import re
import sqlite3
import time

import pytest

from api_helpers import call, error_code, model, raw_client

ROLE = "arn:aws:iam::123456789012:role/CodeDeploy"
S3 = lambda key, bucket="bkt": {"revisionType": "S3", "s3Location": {  # noqa: E731
    "bucket": bucket, "key": key, "bundleType": "zip", "eTag": "abc"}}
STATUSES = set(model()["shapes"]["DeploymentStatus"]["enum"])


ACTIVE = {"Created", "Queued", "InProgress", "Baking", "Ready"}


def wait_idle(cd, did, timeout=20):
    """Waits until the engine has finished did (with no platform plugin loaded it fails at once)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cd.get_deployment(deploymentId=did)["deploymentInfo"]["status"] not in ACTIVE:
            return
        time.sleep(0.05)
    raise AssertionError("deployment %s still active after %ds" % (did, timeout))


def insert_deployments(daemon, group, n, status="Succeeded", prefix="d-BULK"):
    """Adds n finished deployments straight to the store (fast fixtures for the read side)."""
    db = sqlite3.connect(os.path.join(daemon.data_dir, "state.db"), timeout=10)
    now = int(time.time() * 1000)
    ids = ["%s%0*d" % (prefix, 11 - len(prefix), i) for i in range(n)]
    with db:
        for i, did in enumerate(ids):
            db.execute("INSERT INTO deployments (id, application, deployment_group, deployment_config,"
                       " compute_platform, status, creator, create_time, revision, doc) VALUES (?, 'app', ?,"
                       " 'CodeDeployDefault.OneAtATime', 'Server', ?, 'user', ?, ?, '{}')",
                       (did, group, status, now + i, json.dumps(S3("v%d.zip" % i))))
    db.close()
    return ids


@pytest.fixture
def cd(daemon):
    c = raw_client(daemon, daemon.admin)
    c.create_application(applicationName="app")
    c.create_deployment_group(applicationName="app", deploymentGroupName="grp", serviceRoleArn=ROLE)
    return c


# ---------------------------------------------------------------- revisions

def test_revisions(cd):
    cd.register_application_revision(applicationName="app", revision=S3("a/v1.zip"), description="first")
    time.sleep(0.01)
    cd.register_application_revision(applicationName="app", revision=S3("a/v2.zip"))
    cd.register_application_revision(applicationName="app", revision=S3("b/v3.zip", bucket="other"))
    cd.register_application_revision(applicationName="app", revision={
        "revisionType": "GitHub", "gitHubLocation": {"repository": "me/repo", "commitId": "abc123"}})
    r = cd.get_application_revision(applicationName="app", revision=S3("a/v1.zip"))
    assert r["applicationName"] == "app"
    assert r["revision"] == S3("a/v1.zip")
    assert r["revisionInfo"]["description"] == "first"
    assert r["revisionInfo"]["deploymentGroups"] == []
    assert "firstUsedTime" not in r["revisionInfo"]
    assert error_code(cd.get_application_revision, applicationName="app", revision=S3("zzz.zip")) == \
        "RevisionDoesNotExistException"
    got = cd.batch_get_application_revisions(applicationName="app", revisions=[S3("a/v1.zip"), S3("nope.zip")])
    assert [x["revisionLocation"] for x in got["revisions"]] == [S3("a/v1.zip")]
    assert got["errorMessage"]
    assert error_code(cd.batch_get_application_revisions, applicationName="app",
                      revisions=[S3("k%d" % i) for i in range(26)]) == "BatchLimitExceededException"
    revs = cd.list_application_revisions(applicationName="app")["revisions"]
    assert len(revs) == 4
    asc = cd.list_application_revisions(applicationName="app", sortBy="registerTime",
                                        sortOrder="ascending")["revisions"]
    desc = cd.list_application_revisions(applicationName="app", sortBy="registerTime",
                                         sortOrder="descending")["revisions"]
    assert asc == list(reversed(desc)) and asc[0] == S3("a/v1.zip")
    only = cd.list_application_revisions(applicationName="app", s3Bucket="bkt", s3KeyPrefix="a/")["revisions"]
    assert only == [S3("a/v1.zip"), S3("a/v2.zip")]
    assert error_code(cd.list_application_revisions, applicationName="app", s3KeyPrefix="a/") == \
        "BucketNameFilterRequiredException"
    assert error_code(cd.list_application_revisions, applicationName="app", sortBy="size") == \
        "InvalidSortByException"
    assert error_code(cd.list_application_revisions, applicationName="app", sortOrder="up") == \
        "InvalidSortOrderException"
    assert error_code(cd.list_application_revisions, applicationName="app", deployed="maybe") == \
        "InvalidDeployedStateFilterException"
    # deploying marks a revision used
    cd.create_deployment(applicationName="app", deploymentGroupName="grp", revision=S3("a/v2.zip"))
    used = cd.list_application_revisions(applicationName="app", deployed="include")["revisions"]
    assert used == [S3("a/v2.zip")]
    assert len(cd.list_application_revisions(applicationName="app", deployed="exclude")["revisions"]) == 3
    info = cd.get_application_revision(applicationName="app", revision=S3("a/v2.zip"))["revisionInfo"]
    assert info["deploymentGroups"] == ["grp"] and info["firstUsedTime"] and info["lastUsedTime"]
    for bad in [{"revisionType": "S3"}, {"revisionType": "S3", "s3Location": {"bucket": "b"}},
                {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k", "bundleType": "rar"}},
                {"revisionType": "GitHub", "gitHubLocation": {"repository": "norepo"}},
                {"revisionType": "String", "string": {"content": "version: 0.0"}},
                {"revisionType": "Floppy"}, {}]:
        assert error_code(cd.register_application_revision, applicationName="app", revision=bad) == \
            "InvalidRevisionException", bad
    assert error_code(cd.register_application_revision, applicationName="ghost", revision=S3("x")) == \
        "ApplicationDoesNotExistException"
    assert error_code(cd.register_application_revision, applicationName="app", revision=S3("x"),
                      description="d" * 9000) == "DescriptionTooLongException"


def test_aws_cli_revisions(aws, cd):
    aws("deploy", "register-application-revision", "--application-name", "app",
        "--s3-location", "bucket=b,key=k.zip,bundleType=zip,eTag=e1", "--description", "cli")
    _, out = aws("deploy", "list-application-revisions", "--application-name", "app")
    assert out["revisions"] == [{"revisionType": "S3", "s3Location": {
        "bucket": "b", "key": "k.zip", "bundleType": "zip", "eTag": "e1"}}]


# ---------------------------------------------------------------- deployments

def test_create_and_get_deployment(daemon, cd):
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
    dep = cd.create_deployment(applicationName="app", deploymentGroupName="grp", revision=S3("v1.zip"),
                               description="ship it", ignoreApplicationStopFailures=True,
                               fileExistsBehavior="OVERWRITE",
                               autoRollbackConfiguration={"enabled": False, "events": ["DEPLOYMENT_FAILURE"]},
                               overrideAlarmConfiguration={"enabled": False, "alarms": [{"name": "x"}]})
    did = dep["deploymentId"]
    assert re.fullmatch(r"d-[A-Z0-9]{9}", did)
    info = cd.get_deployment(deploymentId=did)["deploymentInfo"]
    assert info["deploymentId"] == did
    assert info["applicationName"] == "app" and info["deploymentGroupName"] == "grp"
    assert info["deploymentConfigName"] == "CodeDeployDefault.OneAtATime"
    assert info["revision"] == S3("v1.zip")
    assert info["status"] in STATUSES
    assert info["creator"] == "user"
    assert info["description"] == "ship it"
    assert info["ignoreApplicationStopFailures"] is True
    assert info["fileExistsBehavior"] == "OVERWRITE"
    assert info["autoRollbackConfiguration"] == {"enabled": False, "events": ["DEPLOYMENT_FAILURE"]}
    assert info["overrideAlarmConfiguration"] == {"enabled": False, "alarms": [{"name": "x"}]}
    assert info["computePlatform"] == "Server"
    assert info["deploymentStyle"]["deploymentType"] == "IN_PLACE"
    assert info["createTime"] >= before
    assert set(info["deploymentOverview"]) == {"Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"}
    # the raw wire form: epoch seconds as numbers
    resp = call(daemon, daemon.admin, "GetDeployment", {"deploymentId": did})
    # epoch seconds with at most millisecond digits, like AWS's 1411081164.379
    assert re.search(rb'"createTime":\d{10}(\.\d{1,3})?[,}]', resp.body), resp.body
    raw = resp.json()["deploymentInfo"]
    assert isinstance(raw["createTime"], (int, float)) and abs(raw["createTime"] - time.time()) < 60
    # the group remembers it
    g = cd.get_deployment_group(applicationName="app", deploymentGroupName="grp")["deploymentGroupInfo"]
    assert g["lastAttemptedDeployment"]["deploymentId"] == did
    assert g["targetRevision"] == S3("v1.zip")
    # a second deployment without a revision reuses the group's target revision
    wait_idle(cd, did)
    d2 = cd.create_deployment(applicationName="app", deploymentGroupName="grp",
                              deploymentConfigName="CodeDeployDefault.AllAtOnce")["deploymentId"]
    i2 = cd.get_deployment(deploymentId=d2)["deploymentInfo"]
    assert i2["revision"] == S3("v1.zip") and i2["deploymentConfigName"] == "CodeDeployDefault.AllAtOnce"
    got = cd.batch_get_deployments(deploymentIds=[did, d2, "d-AAAAAAAAA"])["deploymentsInfo"]
    assert sorted(x["deploymentId"] for x in got) == sorted([did, d2])


def test_create_deployment_errors(cd):
    cd.create_application(applicationName="fn", computePlatform="Lambda")
    cd.create_deployment_group(applicationName="fn", deploymentGroupName="g", serviceRoleArn=ROLE)
    base = dict(applicationName="app", deploymentGroupName="grp", revision=S3("x.zip"))
    cases = [
        ({"applicationName": "ghost"}, "ApplicationDoesNotExistException"),
        ({"deploymentGroupName": None}, "DeploymentGroupNameRequiredException"),
        ({"deploymentGroupName": "ghost"}, "DeploymentGroupDoesNotExistException"),
        ({"revision": None}, "RevisionRequiredException"),
        ({"revision": {"revisionType": "S3", "s3Location": {"bucket": "b"}}}, "InvalidRevisionException"),
        ({"revision": {"revisionType": "String", "string": {"content": "x"}}}, "InvalidRevisionException"),
        ({"deploymentConfigName": "Nope"}, "DeploymentConfigDoesNotExistException"),
        ({"deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce"}, "InvalidDeploymentConfigNameException"),
        ({"fileExistsBehavior": "CLOBBER"}, "InvalidFileExistsBehaviorException"),
        ({"overrideAlarmConfiguration": {"enabled": True, "alarms": [{"name": "a%d" % i} for i in range(11)]}},
         "AlarmsLimitExceededException"),
        ({"autoRollbackConfiguration": {"enabled": True}}, "InvalidAutoRollbackConfigException"),
        ({"targetInstances": {"autoScalingGroups": ["asg"]}}, "InvalidTargetInstancesException"),
        ({"description": "d" * 9000}, "DescriptionTooLongException"),
        ({"ignoreApplicationStopFailures": "yes"}, "SerializationException"),
    ]
    for extra, exc in cases:
        args = {k: v for k, v in dict(base, **extra).items() if v is not None}
        assert error_code(cd.create_deployment, **args) == exc, extra
    # Lambda takes AppSpec content, not GitHub
    assert error_code(cd.create_deployment, applicationName="fn", deploymentGroupName="g", revision={
        "revisionType": "GitHub", "gitHubLocation": {"repository": "a/b", "commitId": "c"}}) == \
        "InvalidRevisionException"
    d = cd.create_deployment(applicationName="fn", deploymentGroupName="g", revision={
        "revisionType": "AppSpecContent", "appSpecContent": {"content": "version: 0.0", "sha256": "00"}})
    info = cd.get_deployment(deploymentId=d["deploymentId"])["deploymentInfo"]
    assert info["computePlatform"] == "Lambda"
    assert info["deploymentConfigName"] == "CodeDeployDefault.LambdaAllAtOnce"


def test_one_active_deployment_per_group(daemon, cd):
    insert_deployments(daemon, "grp", 1, status="InProgress", prefix="d-ACTIVE")
    r = error_code(cd.create_deployment, applicationName="app", deploymentGroupName="grp", revision=S3("x.zip"))
    assert r == "DeploymentLimitExceededException"
    # another group is not affected
    cd.create_deployment_group(applicationName="app", deploymentGroupName="g2", serviceRoleArn=ROLE)
    assert cd.create_deployment(applicationName="app", deploymentGroupName="g2", revision=S3("x.zip"))


def test_deployment_id_errors(cd):
    assert error_code(cd.get_deployment, deploymentId="d-AAAAAAAAA") == "DeploymentDoesNotExistException"
    assert error_code(cd.get_deployment, deploymentId="nonsense") == "InvalidDeploymentIdException"
    assert error_code(cd.get_deployment) == "DeploymentIdRequiredException"
    assert error_code(cd.batch_get_deployments, deploymentIds=["d-AAAAAAAAA"] * 26) == "BatchLimitExceededException"
    assert error_code(cd.stop_deployment, deploymentId="d-AAAAAAAAA") == "DeploymentDoesNotExistException"
    assert error_code(cd.continue_deployment, deploymentId="d-AAAAAAAAA") == "DeploymentDoesNotExistException"
    assert error_code(cd.continue_deployment, deploymentId="d-1", deploymentWaitType="LATER") == \
        "InvalidDeploymentWaitTypeException"
    assert error_code(cd.continue_deployment) == "DeploymentIdRequiredException"
    assert error_code(cd.skip_wait_time_for_instance_termination, deploymentId="d-AAAAAAAAA") == \
        "DeploymentDoesNotExistException"
    assert error_code(cd.skip_wait_time_for_instance_termination) == "DeploymentIdRequiredException"


def test_list_deployments_filters_and_pages(daemon, cd):
    cd.create_deployment_group(applicationName="app", deploymentGroupName="other", serviceRoleArn=ROLE)
    first = cd.create_deployment(applicationName="app", deploymentGroupName="grp", revision=S3("v.zip"))
    wait_idle(cd, first["deploymentId"])
    ids = [first["deploymentId"]] + insert_deployments(daemon, "grp", 104)
    other = cd.create_deployment(applicationName="app", deploymentGroupName="other",
                                 revision=S3("o.zip"))["deploymentId"]
    everything = [i for p in cd.get_paginator("list_deployments").paginate() for i in p["deployments"]]
    assert sorted(everything) == sorted(ids + [other])
    page = cd.list_deployments(applicationName="app", deploymentGroupName="grp")
    assert len(page["deployments"]) == 100 and page["nextToken"]
    rest = cd.list_deployments(applicationName="app", deploymentGroupName="grp", nextToken=page["nextToken"])
    assert sorted(page["deployments"] + rest["deployments"]) == sorted(ids)
    assert cd.list_deployments(applicationName="app", deploymentGroupName="other")["deployments"] == [other]
    assert error_code(cd.list_deployments, applicationName="app") == "DeploymentGroupNameRequiredException"
    assert error_code(cd.list_deployments, deploymentGroupName="grp") == "ApplicationNameRequiredException"
    assert error_code(cd.list_deployments, applicationName="ghost", deploymentGroupName="g") == \
        "ApplicationDoesNotExistException"
    assert error_code(cd.list_deployments, applicationName="app", deploymentGroupName="ghost") == \
        "DeploymentGroupDoesNotExistException"
    assert error_code(cd.list_deployments, includeOnlyStatuses=["Sleeping"]) == "InvalidDeploymentStatusException"
    assert error_code(cd.list_deployments, nextToken="bogus") == "InvalidNextTokenException"
    now = datetime.datetime.now(datetime.timezone.utc)
    assert cd.list_deployments(createTimeRange={"start": now + datetime.timedelta(hours=1)})["deployments"] == []
    assert len([i for p in cd.get_paginator("list_deployments").paginate(
        createTimeRange={"start": now - datetime.timedelta(hours=1), "end": now + datetime.timedelta(hours=1)})
        for i in p["deployments"]]) == 106
    assert error_code(cd.list_deployments, createTimeRange={"start": now, "end": now - datetime.timedelta(hours=1)}) \
        == "InvalidTimeRangeException"
    statuses = {cd.get_deployment(deploymentId=i)["deploymentInfo"]["status"] for i in ids[:3]}
    some = statuses.pop()
    listed = [i for p in cd.get_paginator("list_deployments").paginate(includeOnlyStatuses=[some])
              for i in p["deployments"]]
    assert set(ids[:3]) & set(listed)
    none_status = sorted(STATUSES - {some} - statuses)[0]
    assert not set(ids[:3]) & set(cd.list_deployments(includeOnlyStatuses=[none_status])["deployments"])


def test_aws_cli_deployments(aws, cd):
    _, out = aws("deploy", "create-deployment", "--application-name", "app", "--deployment-group-name", "grp",
                 "--s3-location", "bucket=b,key=app.zip,bundleType=zip", "--description", "from cli")
    did = out["deploymentId"]
    _, out = aws("deploy", "get-deployment", "--deployment-id", did)
    assert out["deploymentInfo"]["description"] == "from cli"
    assert out["deploymentInfo"]["revision"]["s3Location"]["key"] == "app.zip"
    _, out = aws("deploy", "list-deployments", "--application-name", "app", "--deployment-group-name", "grp")
    assert out["deployments"] == [did]
    p, _ = aws("deploy", "get-deployment", "--deployment-id", "d-NOTTHERE0", check=False)
    assert p.returncode == 254 and "DeploymentDoesNotExistException" in p.stderr


# ---------------------------------------------------------------- targets (rows the engine writes)

def _insert_targets(daemon, did):
    db = sqlite3.connect(os.path.join(daemon.data_dir, "state.db"), timeout=10)
    now = int(time.time() * 1000)
    with db:
        db.execute("INSERT INTO deployments (id, application, deployment_group, deployment_config, compute_platform,"
                   " status, creator, create_time, doc) VALUES (?, 'app', 'grp', 'CodeDeployDefault.OneAtATime',"
                   " 'Server', 'Succeeded', 'user', ?, '{}')", (did, now))
        for i, (t, st) in enumerate([("host-a", "Succeeded"), ("host-b", "Failed"), ("host-c", "Succeeded")]):
            db.execute("INSERT INTO deployment_targets (deployment_id, target_id, seq, target_type, target_arn,"
                       " status, last_updated) VALUES (?, ?, ?, 'InstanceTarget', ?, ?, ?)",
                       (did, t, i, "arn:aws:codedeploy:us-east-1:000000000000:instance/" + t, st, now))
            for j, ev in enumerate(["ApplicationStop", "DownloadBundle", "Install"]):
                diag = json.dumps({"errorCode": "Success", "scriptName": "", "message": "ok", "logTail": ""})
                db.execute("INSERT INTO lifecycle_events (deployment_id, target_id, seq, name, status, start_time,"
                           " end_time, diagnostics) VALUES (?, ?, ?, ?, 'Succeeded', ?, ?, ?)",
                           (did, t, j, ev, now, now + 5, diag))
    db.close()


def test_batch_get_targets_as_get_target(daemon, cd):
    """BatchGetDeploymentTargets writes its reply as text from the stored
    rows (diagnostics spliced in as stored): each target in it is exactly
    what GetDeploymentTarget answers, whatever the times' fractions, the
    characters in the diagnostics, or a diagnostics that is not JSON."""
    did = "d-TARGETS02"
    base = 1764993151000
    db = sqlite3.connect(os.path.join(daemon.data_dir, "state.db"), timeout=10)
    with db:
        db.execute("INSERT INTO deployments (id, application, deployment_group, deployment_config, compute_platform,"
                   " status, creator, create_time, doc) VALUES (?, 'app', 'grp', 'CodeDeployDefault.OneAtATime',"
                   " 'Server', 'Failed', 'user', ?, '{}')", (did, base))
        diags = [json.dumps({"errorCode": "ScriptFailed", "message": 'a "quoted"\\ line\nand \u00e9\u2603\t',
                             "logTail": "\u0001"}), "not json", None, json.dumps({"errorCode": "Success"})]
        for i, t in enumerate(["host-a", "host-b"]):
            db.execute("INSERT INTO deployment_targets (deployment_id, target_id, seq, target_type, target_arn,"
                       " status, instance_label, last_updated, doc) VALUES (?, ?, ?, 'InstanceTarget', ?, 'Failed',"
                       " ?, ?, ?)", (did, t, i, "arn:aws:codedeploy:us-east-1:000000000000:instance/" + t,
                                     "Blue" if i else None, base + 7, json.dumps({"extra": [1, "x"]}) if i else "{}"))
            for j, (frac, diag) in enumerate(zip([0, 500, 50, 5], diags)):
                db.execute("INSERT INTO lifecycle_events (deployment_id, target_id, seq, name, status, start_time,"
                           " end_time, diagnostics) VALUES (?, ?, ?, ?, 'Failed', ?, ?, ?)",
                           (did, t, j, "Ev%d" % j, base + frac if j != 2 else None, base + 1000 + frac * 3, diag))
    db.close()
    r = call(daemon, daemon.admin, "BatchGetDeploymentTargets",
             {"deploymentId": did, "targetIds": ["host-b", "host-a", "host-b"]})
    assert r.status == 200, r.body
    got = r.json()["deploymentTargets"]
    assert len(got) == 3
    for want_id, item in zip(["host-b", "host-a", "host-b"], got):
        one = call(daemon, daemon.admin, "GetDeploymentTarget", {"deploymentId": did, "targetId": want_id})
        assert item == one.json()["deploymentTarget"]
    events = got[1]["instanceTarget"]["lifecycleEvents"]
    assert events[0]["diagnostics"]["message"] == 'a "quoted"\\ line\nand \u00e9\u2603\t'
    assert "diagnostics" not in events[1] and "diagnostics" not in events[2]
    assert events[1]["startTime"] == 1764993151.5 and events[3]["startTime"] == 1764993151.005
    assert "startTime" not in events[2]
    assert got[0]["instanceTarget"]["instanceLabel"] == "Blue" and got[0]["instanceTarget"]["extra"] == [1, "x"]
    r = call(daemon, daemon.admin, "BatchGetDeploymentTargets", {"deploymentId": did, "targetIds": ["host-a", "ghost"]})
    assert r.status == 400 and r.json()["__type"] == "DeploymentTargetDoesNotExistException"
    assert "ghost" in r.json()["message"]


def test_deployment_targets_read_side(daemon, cd):
    did = "d-TARGETS01"
    _insert_targets(daemon, did)
    info = cd.get_deployment(deploymentId=did)["deploymentInfo"]
    assert info["deploymentOverview"]["Succeeded"] == 2 and info["deploymentOverview"]["Failed"] == 1
    assert cd.list_deployment_targets(deploymentId=did)["targetIds"] == ["host-a", "host-b", "host-c"]
    assert cd.list_deployment_targets(deploymentId=did, targetFilters={"TargetStatus": ["Failed"]})[
        "targetIds"] == ["host-b"]
    t = cd.get_deployment_target(deploymentId=did, targetId="host-a")["deploymentTarget"]
    assert t["deploymentTargetType"] == "InstanceTarget"
    it = t["instanceTarget"]
    assert it["targetId"] == "host-a" and it["status"] == "Succeeded" and it["deploymentId"] == did
    assert it["targetArn"].endswith("instance/host-a")
    assert [e["lifecycleEventName"] for e in it["lifecycleEvents"]] == ["ApplicationStop", "DownloadBundle", "Install"]
    assert it["lifecycleEvents"][0]["diagnostics"]["errorCode"] == "Success"
    got = cd.batch_get_deployment_targets(deploymentId=did, targetIds=["host-a", "host-c"])["deploymentTargets"]
    assert [x["instanceTarget"]["targetId"] for x in got] == ["host-a", "host-c"]
    assert error_code(cd.batch_get_deployment_targets, deploymentId=did, targetIds=["h%d" % i for i in range(26)]) \
        == "DeploymentTargetListSizeExceededException"
    assert error_code(cd.get_deployment_target, deploymentId=did, targetId="ghost") == \
        "DeploymentTargetDoesNotExistException"
    assert error_code(cd.list_deployment_targets, deploymentId=did, targetFilters={"Color": ["x"]}) == \
        "InvalidTargetFilterNameException"
    # the deprecated instance API reads the same rows
    assert cd.list_deployment_instances(deploymentId=did, instanceStatusFilter=["Succeeded"])["instancesList"] == \
        ["host-a", "host-c"]
    s = cd.get_deployment_instance(deploymentId=did, instanceId="host-b")["instanceSummary"]
    assert s["status"] == "Failed" and len(s["lifecycleEvents"]) == 3
    b = cd.batch_get_deployment_instances(deploymentId=did, instanceIds=["host-a", "ghost"])
    assert [x["instanceId"] for x in b["instancesSummary"]] == ["host-a"]
    assert error_code(cd.get_deployment_instance, deploymentId=did, instanceId="ghost") == \
        "InstanceDoesNotExistException"
    assert error_code(cd.list_deployment_instances, deploymentId=did, instanceStatusFilter=["Asleep"]) == \
        "InvalidInstanceStatusException"
    assert error_code(cd.list_deployment_targets, deploymentId="d-AAAAAAAAA") == "DeploymentDoesNotExistException"
    assert error_code(cd.stop_deployment, deploymentId=did) == "DeploymentAlreadyCompletedException"
    assert error_code(cd.continue_deployment, deploymentId=did) == "DeploymentAlreadyCompletedException"
    assert error_code(cd.skip_wait_time_for_instance_termination, deploymentId=did) == \
        "DeploymentAlreadyCompletedException"
    # a deployment the engine has not started has no targets yet
    db = sqlite3.connect(os.path.join(daemon.data_dir, "state.db"), timeout=10)
    with db:
        db.execute("INSERT INTO deployments (id, application, deployment_group, deployment_config, compute_platform,"
                   " status, creator, create_time, doc) VALUES ('d-NOTSTART1', 'app', 'grp',"
                   " 'CodeDeployDefault.OneAtATime', 'Server', 'Created', 'user', 0, '{}')")
    db.close()
    assert error_code(cd.continue_deployment, deploymentId="d-NOTSTART1") == "DeploymentIsNotInReadyStateException"
    for fn, kw in [(cd.list_deployment_targets, {}), (cd.get_deployment_target, {"targetId": "x"}),
                   (cd.batch_get_deployment_targets, {"targetIds": ["x"]}), (cd.list_deployment_instances, {}),
                   (cd.get_deployment_instance, {"instanceId": "x"})]:
        assert error_code(fn, deploymentId="d-NOTSTART1", **kw) == "DeploymentNotStartedException", fn


def test_lifecycle_hook_status_errors(cd):
    did = cd.create_deployment(applicationName="app", deploymentGroupName="grp", revision=S3("x.zip"))["deploymentId"]
    assert error_code(cd.put_lifecycle_event_hook_execution_status, deploymentId=did,
                      lifecycleEventHookExecutionId="h", status="Succeeded") == \
        "UnsupportedActionForDeploymentTypeException"
    assert error_code(cd.put_lifecycle_event_hook_execution_status, deploymentId=did,
                      lifecycleEventHookExecutionId="h", status="Pending") == \
        "InvalidLifecycleEventHookExecutionStatusException"


# ---------------------------------------------------------------- on-premises instances

USER_ARN = "arn:aws:iam::123456789012:user/host-%s"
SESSION_ARN = "arn:aws:sts::123456789012:assumed-role/CodeDeployHosts/host-%s"


def test_on_premises_instances(cd):
    cd.register_on_premises_instance(instanceName="web-1", iamUserArn=USER_ARN % 1)
    cd.register_on_premises_instance(instanceName="web-2", iamSessionArn=SESSION_ARN % 2)
    cd.register_on_premises_instance(instanceName="db-1", iamUserArn=USER_ARN % 3)
    assert error_code(cd.register_on_premises_instance, instanceName="x") == "IamArnRequiredException"
    assert error_code(cd.register_on_premises_instance, instanceName="x", iamUserArn=USER_ARN % 9,
                      iamSessionArn=SESSION_ARN % 9) == "MultipleIamArnsProvidedException"
    assert error_code(cd.register_on_premises_instance, instanceName="web-1", iamUserArn=USER_ARN % 8) == \
        "InstanceNameAlreadyRegisteredException"
    assert error_code(cd.register_on_premises_instance, instanceName="web-9", iamUserArn=USER_ARN % 1) == \
        "IamUserArnAlreadyRegisteredException"
    assert error_code(cd.register_on_premises_instance, instanceName="web-9", iamSessionArn=SESSION_ARN % 2) == \
        "IamSessionArnAlreadyRegisteredException"
    assert error_code(cd.register_on_premises_instance, instanceName="x", iamUserArn="arn:aws:iam::1:user/u") == \
        "InvalidIamUserArnException"
    assert error_code(cd.register_on_premises_instance, instanceName="x", iamSessionArn="arn:aws:iam::1:role/r") == \
        "InvalidIamSessionArnException"
    assert error_code(cd.register_on_premises_instance, instanceName="bad name!", iamUserArn=USER_ARN % 7) == \
        "InvalidInstanceNameException"
    info = cd.get_on_premises_instance(instanceName="web-1")["instanceInfo"]
    assert info["instanceName"] == "web-1" and info["iamUserArn"] == USER_ARN % 1
    assert info["instanceArn"] == "arn:aws:codedeploy:us-east-1:000000000000:instance/web-1"
    assert info["registerTime"] and info["tags"] == [] and "deregisterTime" not in info
    cd.add_tags_to_on_premises_instances(instanceNames=["web-1", "web-2"],
                                         tags=[{"Key": "role", "Value": "web"}, {"Key": "env", "Value": "prod"}])
    cd.add_tags_to_on_premises_instances(instanceNames=["db-1"], tags=[{"Key": "role", "Value": "db"}])
    assert error_code(cd.add_tags_to_on_premises_instances, instanceNames=["ghost"],
                      tags=[{"Key": "a", "Value": "b"}]) == "InstanceNotRegisteredException"
    assert error_code(cd.add_tags_to_on_premises_instances, instanceNames=["web-1"],
                      tags=[{"Key": "k%d" % i, "Value": "v"} for i in range(11)]) == "TagLimitExceededException"
    assert error_code(cd.add_tags_to_on_premises_instances, instanceNames=["web-1"], tags=[]) == \
        "TagRequiredException"
    assert cd.get_on_premises_instance(instanceName="web-2")["instanceInfo"]["tags"] == [
        {"Key": "env", "Value": "prod"}, {"Key": "role", "Value": "web"}]
    ls = lambda **kw: cd.list_on_premises_instances(**kw)["instanceNames"]  # noqa: E731
    assert ls() == ["db-1", "web-1", "web-2"]
    assert ls(tagFilters=[{"Key": "role", "Value": "web", "Type": "KEY_AND_VALUE"}]) == ["web-1", "web-2"]
    assert ls(tagFilters=[{"Value": "db", "Type": "VALUE_ONLY"}]) == ["db-1"]
    assert ls(tagFilters=[{"Key": "env", "Type": "KEY_ONLY"}]) == ["web-1", "web-2"]
    # without a Type: {Key} alone is KEY_ONLY, {Value} alone VALUE_ONLY, both KEY_AND_VALUE
    assert ls(tagFilters=[{"Key": "role"}]) == ["db-1", "web-1", "web-2"]
    assert ls(tagFilters=[{"Value": "prod"}]) == ["web-1", "web-2"]
    assert ls(tagFilters=[{"Key": "role", "Value": "db"}]) == ["db-1"]
    assert ls(tagFilters=[{"Key": "role", "Value": "db"}, {"Key": "env"}]) == ["db-1", "web-1", "web-2"]
    assert ls(tagFilters=[{"Key": "nope"}]) == []
    assert error_code(cd.list_on_premises_instances, tagFilters=[{"Type": "KEY_ONLY"}]) == \
        "InvalidTagFilterException"
    assert error_code(cd.list_on_premises_instances, tagFilters=[{"Type": "VALUE_ONLY"}]) == \
        "InvalidTagFilterException"
    cd.remove_tags_from_on_premises_instances(instanceNames=["web-2"], tags=[{"Key": "role", "Value": "web"}])
    assert ls(tagFilters=[{"Key": "role", "Value": "web", "Type": "KEY_AND_VALUE"}]) == ["web-1"]
    cd.deregister_on_premises_instance(instanceName="web-1")
    assert error_code(cd.deregister_on_premises_instance, instanceName="web-1") == "InstanceNotRegisteredException"
    assert ls(registrationStatus="Registered") == ["db-1", "web-2"]
    assert ls(registrationStatus="Deregistered") == ["web-1"]
    assert error_code(cd.list_on_premises_instances, registrationStatus="Gone") == \
        "InvalidRegistrationStatusException"
    gone = cd.get_on_premises_instance(instanceName="web-1")["instanceInfo"]
    assert gone["deregisterTime"] >= gone["registerTime"]
    # the name and ARN are free again
    cd.register_on_premises_instance(instanceName="web-1", iamUserArn=USER_ARN % 1)
    got = cd.batch_get_on_premises_instances(instanceNames=["web-1", "db-1", "ghost"])["instanceInfos"]
    assert sorted(i["instanceName"] for i in got) == ["db-1", "web-1"]
    assert error_code(cd.batch_get_on_premises_instances, instanceNames=["i%d" % i for i in range(26)]) == \
        "BatchLimitExceededException"
    assert error_code(cd.get_on_premises_instance, instanceName="ghost") == "InstanceNotRegisteredException"


def test_aws_cli_on_premises(aws):
    aws("deploy", "register-on-premises-instance", "--instance-name", "cli-1", "--iam-user-arn", USER_ARN % "c")
    aws("deploy", "add-tags-to-on-premises-instances", "--instance-names", "cli-1", "--tags", "Key=env,Value=qa")
    _, out = aws("deploy", "list-on-premises-instances", "--tag-filters", "Key=env,Value=qa,Type=KEY_AND_VALUE")
    assert out["instanceNames"] == ["cli-1"]
    _, out = aws("deploy", "get-on-premises-instance", "--instance-name", "cli-1")
    assert out["instanceInfo"]["tags"] == [{"Key": "env", "Value": "qa"}]


def test_github_tokens_and_external_ids(cd):
    assert cd.list_git_hub_account_token_names()["tokenNameList"] == []
    assert error_code(cd.delete_git_hub_account_token, tokenName="t") == "GitHubAccountTokenDoesNotExistException"
    cd.delete_resources_by_external_id(externalId="stack-1")


def test_deployment_logs(daemon, cd):
    from api_helpers import signed_request
    did = "d-LOGS00001"
    _insert_targets(daemon, did)
    db = sqlite3.connect(os.path.join(daemon.data_dir, "state.db"), timeout=10)
    with db:
        for i, (t, ev, data) in enumerate([("host-a", "Install", "copying\n"), ("host-b", "Install", "oops\n"),
                                           ("host-a", "ApplicationStart", "started\n")]):
            db.execute("INSERT INTO hook_logs (deployment_id, target_id, lifecycle_event, seq, time, chunk)"
                       " VALUES (?, ?, ?, ?, ?, ?)", (did, t, ev, i, 1700000000000 + i, data))
    db.close()

    def logs(**kw):
        r = signed_request(daemon, daemon.admin, target="Rolloutd_v1.GetDeploymentLogs",
                           body=json.dumps(dict(DeploymentId=did, **kw)).encode())
        assert r.status == 200, r.body
        return r.json()

    out = logs()
    assert [(x["InstanceId"], x["LifecycleEventName"], x["Data"]) for x in out["Logs"]] == [
        ("host-a", "Install", "copying\n"), ("host-b", "Install", "oops\n"), ("host-a", "ApplicationStart", "started\n")]
    assert out["DeploymentComplete"] is True and out["NextToken"]
    assert logs(NextToken=out["NextToken"])["Logs"] == []
    assert [x["Data"] for x in logs(InstanceId="host-b")["Logs"]] == ["oops\n"]
    r = signed_request(daemon, daemon.admin, target="Rolloutd_v1.GetDeploymentLogs",
                       body=json.dumps({"DeploymentId": "d-AAAAAAAAA"}).encode())
    assert r.error_type == "DeploymentDoesNotExistException"
    r = signed_request(daemon, daemon.admin, target="Rolloutd_v1.GetDeploymentLogs",
                       body=json.dumps({"DeploymentId": did, "NextToken": "zzz"}).encode())
    assert r.error_type == "InvalidNextTokenException"
