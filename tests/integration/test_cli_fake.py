"""rolloutctl against a scripted stand-in of rolloutd (cli_helpers.FakeAPI):
exactly what it sends for bundle uploads and deployments, the --wait views
(plain and terminal), failure and rollback reporting, logs, rollback and
status. The real-daemon side of the same flows is in test_cli_commands.py and
test_cli_quickstart.py."""

import fcntl
import hashlib
import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import tarfile
import termios
import time
import zipfile

import pytest

import harness
from cli_helpers import FakeError, fake_api, fake_ctl, rolloutctl_path  # noqa: F401

EVENTS = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
          "ValidateService"]


def summary(iid, status, done, current=None, failed=None, diag=None):
    evs = []
    for i, name in enumerate(EVENTS):
        ev = {"lifecycleEventName": name, "status": "Pending"}
        if i < done:
            ev.update(status="Succeeded", startTime=1000 + i, endTime=1001 + i)
        elif name == current:
            ev.update(status="InProgress", startTime=1000 + i)
        elif name == failed:
            ev.update(status="Failed", startTime=1000 + i, endTime=1001 + i, diagnostics=diag or {})
        evs.append(ev)
    return {"deploymentId": "d-X", "instanceId": iid, "status": status, "lifecycleEvents": evs}


class Script:
    """A deployment that moves one frame per GetDeployment call."""

    def __init__(self, fake, frames, group_info=None):
        self.frames = frames
        self.i = -1
        self.by_id = {}
        fake.ops["GetDeployment"] = self.get
        fake.ops["ListDeploymentInstances"] = self.list_instances
        fake.ops["BatchGetDeploymentInstances"] = self.batch_instances
        fake.ops["GetDeploymentConfig"] = lambda b: {"deploymentConfigInfo": {
            "deploymentConfigName": b["deploymentConfigName"],
            "minimumHealthyHosts": {"type": "MOST_CONCURRENCY", "value": 1}}}
        fake.ops["GetDeploymentGroup"] = lambda b: {"deploymentGroupInfo": group_info or {}}
        # the daemon's planner, which --wait asks for the batch size (OneAtATime: 1)
        fake.ops["PlanDeployment"] = lambda b: {
            "deploymentConfigName": b["deploymentConfigName"], "batchSize": 1, "minimumHealthy": len(frames[0][1]) - 1,
            "targets": [s["instanceId"] for s in frames[0][1]]}

    def frame(self, dep):
        if dep in self.by_id:
            return self.by_id[dep]
        return self.frames[max(self.i, 0)]

    def get(self, body):
        dep = body["deploymentId"]
        if dep not in self.by_id:
            self.i = min(self.i + 1, len(self.frames) - 1)
        info, _ = self.frame(dep)
        return {"deploymentInfo": dict(info, deploymentId=dep)}

    def list_instances(self, body):
        return {"instancesList": [s["instanceId"] for s in self.frame(body["deploymentId"])[1]]}

    def batch_instances(self, body):
        sums = self.frame(body["deploymentId"])[1]
        return {"instancesSummary": [s for s in sums if s["instanceId"] in body["instanceIds"]]}


def info(status, **kw):
    d = {"status": status, "applicationName": "web", "deploymentGroupName": "prod",
         "deploymentConfigName": "CodeDeployDefault.OneAtATime", "createTime": time.time() - 3}
    d.update(kw)
    return d


SUCCESS_FRAMES = [
    (info("InProgress"), [summary("h1", "InProgress", 0, current="ApplicationStop"), summary("h2", "Pending", 0)]),
    (info("InProgress"), [summary("h1", "InProgress", 5, current="ApplicationStart"), summary("h2", "Pending", 0)]),
    (info("InProgress"), [summary("h1", "Succeeded", 7), summary("h2", "InProgress", 6, current="ValidateService")]),
    (info("Succeeded", completeTime=time.time()), [summary("h1", "Succeeded", 7), summary("h2", "Succeeded", 7)]),
]


def make_app(tmp_path):
    d = tmp_path / "app"
    (d / "scripts").mkdir(parents=True)
    (d / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    # incompressible padding so that the bundle needs several 1 KiB parts
    (d / "scripts" / "start.sh").write_text("#!/bin/sh\necho start\n# " + os.urandom(2048).hex() + "\n")
    os.chmod(d / "scripts" / "start.sh", 0o755)
    return d


def test_deploy_directory_uploads_in_parts_and_waits(fake_api, fake_ctl, tmp_path):
    fake_api.ops["CreateDeployment"] = lambda b: {"deploymentId": "d-UPLOAD001"}
    Script(fake_api, SUCCESS_FRAMES)
    app = make_app(tmp_path)
    p = fake_ctl("deploy", "--app", "web", "--group", "prod", str(app), "--description", "v1", "--wait",
                 "--interval", "0.05")
    # the upload: one POST with the bundle's identity, then PUTs of at most partSize bytes in order
    ups = [(m, path, body) for (m, path, t, h, body) in fake_api.requests if path.startswith("/bundles/uploads")]
    assert ups[0][0] == "POST"
    (upload,) = fake_api.uploads.values()
    data = upload["data"]
    q = upload["query"]
    assert q["applicationName"] == "web" and q["bundleType"] == "zip"
    assert q["sha256"] == hashlib.sha256(data).hexdigest() and int(q["size"]) == len(data)
    puts = [u for u in ups if u[0] == "PUT"]
    assert len(puts) == (len(data) + 1023) // 1024 >= 3
    offsets = [int(u[1].split("offset=")[1]) for u in puts]
    assert offsets == list(range(0, len(data), 1024))
    # every request was SigV4-signed for codedeploy
    for (m, path, t, h, body) in fake_api.requests:
        assert "/us-east-1/codedeploy/aws4_request" in h["Authorization"], h
    # the bundle is a zip of the directory
    z = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(z.namelist()) == ["appspec.yml", "scripts/", "scripts/start.sh"]
    assert (z.getinfo("scripts/start.sh").external_attr >> 16) & 0o111
    # CreateDeployment got the revision the upload answered
    (create,) = fake_api.calls("CreateDeployment")
    assert create == {"applicationName": "web", "deploymentGroupName": "prod", "description": "v1",
                      "revision": {"revisionType": "Bundle", "bundleLocation": {
                          "sha256": q["sha256"], "bundleType": "zip", "size": len(data)}}}
    # plain progress: one line per change, then the verdict
    out = p.stdout
    assert "deployment d-UPLOAD001 created\n" in out
    assert "] deployment d-UPLOAD001 InProgress\n" in out
    assert "] h1 ApplicationStop InProgress (instance InProgress, 0/7 events)\n" in out
    assert "] h1 ApplicationStart InProgress (instance InProgress, 5/7 events)\n" in out
    assert "] h2 ValidateService InProgress (instance InProgress, 6/7 events)\n" in out
    assert "] deployment d-UPLOAD001 Succeeded\n" in out
    assert out.rstrip().splitlines()[-1].startswith("deployment d-UPLOAD001 succeeded in ")
    assert "\033[" not in out
    assert "uploaded Bundle:sha256:%s" % q["sha256"][:12] in p.stderr


def test_deploy_bundle_file_as_is_and_tgz_packing(fake_api, fake_ctl, tmp_path):
    fake_api.ops["CreateDeployment"] = lambda b: {"deploymentId": "d-FILE00001"}
    bundle = tmp_path / "release.tar.gz"
    with tarfile.open(bundle, "w:gz") as t:
        t.add(make_app(tmp_path), arcname=".")
    fake_ctl("deploy", "--app", "web", "--group", "prod", str(bundle))
    (up,) = fake_api.uploads.values()
    assert up["data"] == bundle.read_bytes() and up["query"]["bundleType"] == "tgz"
    # a directory packed as tgz
    fake_ctl("deploy", "--app", "web", "--group", "prod", str(tmp_path / "app"), "--bundle-type", "tgz")
    up = fake_api.uploads["u-2"]
    names = tarfile.open(fileobj=io.BytesIO(up["data"]), mode="r:gz").getnames()
    assert "appspec.yml" in names and "scripts/start.sh" in names
    # a directory without appspec.yml is refused before anything is sent
    (tmp_path / "empty").mkdir()
    n = len(fake_api.requests)
    p = fake_ctl("deploy", "--app", "web", "--group", "prod", str(tmp_path / "empty"), expect=1)
    assert "has no appspec.yml" in p.stderr and len(fake_api.requests) == n


def test_deploy_s3_and_github_send_standard_revisions(fake_api, fake_ctl):
    fake_api.ops["CreateDeployment"] = lambda b: {"deploymentId": "d-S3GH00001"}
    fake_ctl("deploy", "--app", "web", "--group", "prod", "s3://bkt/rel/app.tgz?version=7", "--config",
             "CodeDeployDefault.AllAtOnce", "--no-auto-rollback", "--file-exists", "OVERWRITE",
             "--ignore-stop-failures")
    fake_ctl("deploy", "--app", "web", "--group", "prod", "github:me/app@0123456789abcdef0123456789abcdef01234567")
    a, b = fake_api.calls("CreateDeployment")
    assert a == {"applicationName": "web", "deploymentGroupName": "prod",
                 "revision": {"revisionType": "S3", "s3Location": {"bucket": "bkt", "key": "rel/app.tgz",
                                                                   "bundleType": "tgz", "version": "7"}},
                 "deploymentConfigName": "CodeDeployDefault.AllAtOnce", "ignoreApplicationStopFailures": True,
                 "fileExistsBehavior": "OVERWRITE", "autoRollbackConfiguration": {"enabled": False, "events": []}}
    assert b["revision"] == {"revisionType": "GitHub", "gitHubLocation": {
        "repository": "me/app", "commitId": "0123456789abcdef0123456789abcdef01234567"}}
    assert not fake_api.uploads


def test_deploy_without_upload_route_says_what_to_do(fake_api, fake_ctl, tmp_path):
    fake_api.upload_route = False
    p = fake_ctl("deploy", "--app", "web", "--group", "prod", str(make_app(tmp_path)), expect=1)
    assert "does not accept bundle uploads" in p.stderr and "s3://BUCKET/KEY" in p.stderr
    assert not fake_api.calls("CreateDeployment")


def test_wait_failure_prints_the_failing_hook_and_follows_the_rollback(fake_api, fake_ctl):
    diag = {"errorCode": "ScriptFailed", "scriptName": "scripts/validate.sh",
            "message": "Script at specified location: scripts/validate.sh failed with exit code 1",
            "logTail": "[stdout]checking http://127.0.0.1:8080/health.txt\n[stderr]HTTP 404\n"}
    failed = info("Failed", completeTime=time.time(),
                  errorInformation={"code": "HEALTH_CONSTRAINTS", "message": "1 instance failed"},
                  rollbackInfo={"rollbackDeploymentId": "d-ROLLBACK1"},
                  autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]})
    frames = [
        (info("InProgress"), [summary("h1", "InProgress", 6, current="ValidateService")]),
        (failed, [summary("h1", "Failed", 6, failed="ValidateService", diag=diag)]),
    ]
    s = Script(fake_api, frames)
    s.by_id["d-ROLLBACK1"] = (info("Succeeded", creator="codeDeployRollback", completeTime=time.time()),
                              [summary("h1", "Succeeded", 7)])
    p = fake_ctl("wait", "d-BROKEN001", "--interval", "0.05", expect=1)
    assert "Deployment d-BROKEN001 Failed: HEALTH_CONSTRAINTS: 1 instance failed\n" in p.stderr
    assert "  instance h1 failed at ValidateService (ScriptFailed)\n" in p.stderr
    assert "    script:  scripts/validate.sh\n" in p.stderr
    assert "      | [stderr]HTTP 404\n" in p.stderr
    assert "automatic rollback: deployment d-ROLLBACK1" in p.stdout
    assert "] deployment d-ROLLBACK1 Succeeded" in p.stdout
    assert "rollback d-ROLLBACK1 succeeded" in p.stdout
    # -o json: one verdict object, no progress lines
    s.i = -1
    p = fake_ctl("wait", "d-BROKEN001", "--interval", "0.05", "--no-follow-rollback", "-o", "json", expect=1)
    assert json.loads(p.stdout) == {"deploymentId": "d-BROKEN001", "status": "Failed", "errorCode": "HEALTH_CONSTRAINTS",
                                    "errorMessage": "1 instance failed", "rollbackDeploymentId": "d-ROLLBACK1"}


def test_wait_timeout_exits_5(fake_api, fake_ctl):
    Script(fake_api, SUCCESS_FRAMES[:1])
    t = time.monotonic()
    p = fake_ctl("wait", "d-SLOW00001", "--timeout", "1s", "--interval", "0.1", expect=5)
    assert time.monotonic() - t < 5
    assert "still InProgress after" in p.stderr and "rolloutctl wait d-SLOW00001" in p.stderr


def run_on_pty(args, env, cols=100):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    proc = subprocess.Popen([rolloutctl_path(), *args], stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True)
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 10)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    rc = proc.wait(10)
    os.close(master)
    return rc, out.decode()


def test_wait_on_a_narrow_terminal_never_wraps(fake_api, fake_ctl):
    Script(fake_api, SUCCESS_FRAMES)
    env = fake_ctl.env()
    rc, text = run_on_pty(["wait", "d-NARROW001", "--interval", "0.05"], env, cols=40)
    assert rc == 0
    frames = re.split("\033\\[\\d+A\033\\[J", text.split("deployment d-NARROW001 succeeded")[0])
    assert len(frames) >= 3
    for f in frames:
        for line in f.split("\r\n"):
            assert len(re.sub("\033\\[[0-9;]*[A-Za-z]", "", line)) <= 39, repr(line)


def test_wait_on_a_terminal_redraws_in_place(fake_api, fake_ctl):
    Script(fake_api, SUCCESS_FRAMES)
    master, slave = pty.openpty()
    env = fake_ctl.env()
    env.pop("NO_COLOR")
    proc = subprocess.Popen([rolloutctl_path(), "wait", "d-TTY000001", "--interval", "0.05"], stdin=slave,
                            stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 10)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(10) == 0
    os.close(master)
    text = out.decode()
    frames = text.count("Deployment d-TTY000001  web/prod  CodeDeployDefault.OneAtATime")
    assert frames >= 3
    assert len(re.findall("\033\\[5A\033\\[J", text)) >= 2  # cursor up over the previous 5-line frame, clear, redraw
    assert "instances done" in text and "· batch " in text
    assert "\033[32mSucceeded" in text  # colour on a terminal
    assert "[#######] 7/7" in text
    assert "deployment d-TTY000001 succeeded in" in text


def test_logs_pages_and_follows(fake_api, fake_ctl):
    chunks = [
        {"Logs": [{"InstanceId": "h1", "LifecycleEventName": "ApplicationStart", "Data": "[stdout]one\n[stdout]two\n"}],
         "NextToken": "t1"},
        {"Logs": [{"InstanceId": "h2", "LifecycleEventName": "ValidateService", "Data": "[stderr]three\n"}],
         "NextToken": "t2"},
        {"Logs": [], "NextToken": "t2"},
        {"Logs": [], "NextToken": "t2", "DeploymentComplete": True},
    ]
    seen = []

    def get_logs(body):
        seen.append(body)
        return chunks[min(len(seen) - 1, len(chunks) - 1)]
    fake_api.ops["GetDeploymentLogs"] = get_logs
    p = fake_ctl("logs", "d-LOGS00001", "--instance", "h1", "-f", "--interval", "0.05")
    assert p.stdout == ("h1 ApplicationStart | [stdout]one\nh1 ApplicationStart | [stdout]two\n"
                        "h2 ValidateService | [stderr]three\n")
    assert seen[0] == {"DeploymentId": "d-LOGS00001", "InstanceId": "h1"}
    assert seen[1]["NextToken"] == "t1" and seen[2]["NextToken"] == "t2" and len(seen) == 4


def test_logs_fall_back_to_lifecycle_diagnostics(fake_api, fake_ctl):
    diag = {"errorCode": "ScriptFailed", "scriptName": "scripts/validate.sh", "message": "exit code 1",
            "logTail": "[stderr]HTTP 404\n"}
    Script(fake_api, [(info("Failed"), [summary("h1", "Failed", 6, failed="ValidateService", diag=diag),
                                        summary("h2", "Succeeded", 7)])])
    p = fake_ctl("logs", "d-OLD000001")
    assert "h1 ValidateService | Failed: \nh1 ValidateService | exit code 1\nh1 ValidateService | [stderr]HTTP 404\n" \
        in p.stdout
    assert "h2 ApplicationStart | Succeeded\n" in p.stdout
    p = fake_ctl("logs", "d-OLD000001", "--instance", "h2")
    assert "h1 " not in p.stdout


def test_rollback_redeploys_the_last_good_other_revision(fake_api, fake_ctl):
    rev = lambda k: {"revisionType": "S3", "s3Location": {"bucket": "b", "key": k, "bundleType": "zip"}}  # noqa: E731
    deps = {
        "d-3": {"deploymentId": "d-3", "status": "Failed", "createTime": 300, "revision": rev("v3.zip")},
        "d-2": {"deploymentId": "d-2", "status": "Succeeded", "createTime": 200, "revision": rev("v2.zip")},
        "d-1": {"deploymentId": "d-1", "status": "Succeeded", "createTime": 100, "revision": rev("v1.zip")},
    }
    fake_api.ops["GetDeploymentGroup"] = lambda b: {"deploymentGroupInfo": {"targetRevision": rev("v3.zip")}}
    fake_api.ops["ListDeployments"] = lambda b: {"deployments": list(deps)}
    fake_api.ops["BatchGetDeployments"] = lambda b: {"deploymentsInfo": [deps[i] for i in b["deploymentIds"]]}
    fake_api.ops["CreateDeployment"] = lambda b: {"deploymentId": "d-4"}
    p = fake_ctl("rollback", "--app", "web", "--group", "prod")
    (c,) = fake_api.calls("CreateDeployment")
    assert c["revision"] == rev("v2.zip")
    assert "deployment d-4 rolls web/prod back to s3://b/v2.zip (last deployed by d-2)" in p.stdout
    # when the current revision is the last good one, go one further back
    fake_api.ops["GetDeploymentGroup"] = lambda b: {"deploymentGroupInfo": {"targetRevision": rev("v2.zip")}}
    fake_ctl("rollback", "--app", "web", "--group", "prod")
    assert fake_api.calls("CreateDeployment")[1]["revision"] == rev("v1.zip")
    (q,) = {json.dumps(x) for x in fake_api.calls("ListDeployments")}
    assert json.loads(q) == {"applicationName": "web", "deploymentGroupName": "prod"}


def test_status_shows_the_revision_per_instance(fake_api, fake_ctl):
    rev = lambda k: {"revisionType": "S3", "s3Location": {"bucket": "b", "key": k, "bundleType": "zip"}}  # noqa: E731
    deps = {
        "d-2": {"deploymentId": "d-2", "status": "Failed", "createTime": 200, "revision": rev("v2.zip")},
        "d-1": {"deploymentId": "d-1", "status": "Succeeded", "createTime": 100, "completeTime": 150,
                "revision": rev("v1.zip")},
    }
    sums = {"d-2": [summary("h1", "Failed", 6, failed="ValidateService"), summary("h2", "Skipped", 0)],
            "d-1": [summary("h1", "Succeeded", 7), summary("h2", "Succeeded", 7)]}
    fake_api.ops["GetDeploymentGroup"] = lambda b: {"deploymentGroupInfo": {
        "onPremisesInstanceTagFilters": [{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}]}}
    fake_api.ops["ListOnPremisesInstances"] = lambda b: {"instanceNames": ["h1", "h2", "h3", "other"]}
    fake_api.ops["BatchGetOnPremisesInstances"] = lambda b: {"instanceInfos": [
        {"instanceName": n, "tags": [{"Key": "env", "Value": "prod" if n != "other" else "dev"}]}
        for n in b["instanceNames"]]}
    fake_api.ops["ListDeployments"] = lambda b: {"deployments": list(deps)}
    fake_api.ops["BatchGetDeployments"] = lambda b: {"deploymentsInfo": [deps[i] for i in b["deploymentIds"]]}
    fake_api.ops["ListDeploymentInstances"] = lambda b: {"instancesList": [s["instanceId"] for s in sums[b["deploymentId"]]]}
    fake_api.ops["BatchGetDeploymentInstances"] = lambda b: {"instancesSummary": sums[b["deploymentId"]]}
    st = fake_ctl.json("status", "--app", "web", "--group", "prod")
    by = {i["instanceName"]: i for i in st["instances"]}
    assert set(by) == {"h1", "h2", "h3"}
    assert by["h1"]["revision"] == rev("v1.zip") and by["h1"]["lastAttempt"] == {"deploymentId": "d-2", "status": "Failed"}
    assert by["h2"]["deploymentId"] == "d-1"
    assert "revision" not in by["h3"]
    out = fake_ctl("status", "--app", "web", "--group", "prod").stdout
    assert "h1        s3://b/v1.zip  d-1" in out and "d-2 Failed" in out and "h3        (none yet)" in out


def test_api_errors_are_shown_with_their_exception(fake_api, fake_ctl):
    def boom(body):
        raise FakeError("ApplicationDoesNotExistException", "no application 'nope'")
    fake_api.ops["GetApplication"] = boom
    p = fake_ctl("app", "get", "nope", expect=1)
    assert p.stderr == "error: GetApplication: ApplicationDoesNotExistException: no application 'nope'\n"


def test_logs_without_output_says_so(fake_api, fake_ctl):
    fake_api.ops["GetDeploymentLogs"] = lambda b: {"Logs": [], "NextToken": "0", "DeploymentComplete": True}
    p = fake_ctl("logs", "d-QUIET0001", "--instance", "h1")
    assert p.stdout == "" and p.stderr == "no hook output stored for d-QUIET0001 on h1 yet\n"


def test_https_endpoint_with_ca_file(fake_api, fake_ctl, tmp_path):
    """--ca-file / ROLLOUT_CA_FILE trust a private CA for an https endpoint;
    without it the certificate is refused."""
    import ssl
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    fake_api.server.socket = ctx.wrap_socket(fake_api.server.socket, server_side=True)
    fake_api.ops["ListApplications"] = lambda b: {"applications": []}
    fake_api.ops["BatchGetApplications"] = lambda b: {"applicationsInfo": []}
    https = fake_api.url.replace("http://", "https://")
    env = fake_ctl.env(ROLLOUT_ENDPOINT=https)
    p = subprocess.run([rolloutctl_path(), "app", "list"], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 4 and "cannot reach rolloutd at %s" % https in p.stderr, p.stderr
    p = subprocess.run([rolloutctl_path(), "--ca-file", str(cert), "app", "list", "-o", "json"], capture_output=True,
                       text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"applicationsInfo": []}
    env["ROLLOUT_CA_FILE"] = str(cert)
    p = subprocess.run([rolloutctl_path(), "app", "list"], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
