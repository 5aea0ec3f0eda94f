"""Helpers for the engine tests: a scripted host-command client
(FakeAgent) speaking the protocol of agent/PROTOCOL.md, signed with botocore
exactly as an agent signs, plus fleet set-up through the control API.

A FakeAgent runs in a thread: it long-polls, fetches the specification,
acknowledges and completes each command according to a behaviour function
behaviour(deployment_id, event) -> "ok" | "fail" | "noop" | "hang" | "silent",
and records what it did in .done (list of (deployment_id, event, result)).
"""

import hashlib
import hmac
import http.client
import io
import json
import os
import sqlite3
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import harness

CMD_PREFIX = "CodeDeployCommandService_v20141006"
EVENTS = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall",
          "ApplicationStart", "ValidateService"]


class CallError(Exception):
    def __init__(self, status, body):
        self.status = status
        self.body = body
        try:
            self.type = json.loads(body).get("__type")
        except ValueError:
            self.type = None
        super().__init__("HTTP %d: %s" % (status, body[:300]))


class Signed:
    """Signed AWS JSON 1.1 calls over one keep-alive connection."""

    def __init__(self, url, keys, service, timeout=90, ssl_context=None):
        """ssl_context: for an https url (default: trusting the CA of the daemon at url)."""
        self.url = url
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.ssl_context = ssl_context or harness.context_for(url)
        self.creds = Credentials(keys["AccessKeyId"], keys["SecretAccessKey"])
        self.service = service
        self.timeout = timeout
        self.conn = None
        self.fast_sign = False
        self._key_day = None
        self.extra_headers = {}  # sent (and signed) with every call

    def call(self, target, body, timeout=None, retry_for=0.0):
        """One call; with retry_for > 0, connection failures and 5xx answers
        are retried for that many seconds (as a real agent backs off)."""
        end = time.monotonic() + retry_for
        while True:
            try:
                return self._call(target, body, timeout)
            except CallError as e:
                if e.status < 500 or time.monotonic() > end:
                    raise
            except (http.client.HTTPException, ConnectionError, OSError):
                if time.monotonic() > end:
                    raise
            time.sleep(0.1)

    def _headers(self, target, data):
        """SigV4 headers. botocore's signer by default; a direct hashlib/hmac
        signer (same algorithm, ~20x cheaper) when fast_sign is set, for the
        benchmark where the client's CPU would otherwise dominate."""
        if not self.fast_sign:
            req = AWSRequest(method="POST", url=self.url + "/", data=data,
                             headers=dict({"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
                                          **self.extra_headers))
            SigV4Auth(self.creds, self.service, harness.REGION).add_auth(req)
            return dict(req.headers.items())
        now = time.gmtime()
        amzdate = time.strftime("%Y%m%dT%H%M%SZ", now)
        day = amzdate[:8]
        host = "%s:%d" % (self.host, self.port)
        payload = hashlib.sha256(data).hexdigest()
        signed = "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target"
        canon = "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:%s\nx-amz-content-sha256:%s\n" \
                "x-amz-date:%s\nx-amz-target:%s\n\n%s\n%s" % (host, payload, amzdate, target, signed, payload)
        scope = "%s/%s/%s/aws4_request" % (day, harness.REGION, self.service)
        sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amzdate, scope, hashlib.sha256(canon.encode()).hexdigest())
        if self._key_day != day:
            k = ("AWS4" + self.creds.secret_key).encode()
            for part in (day, harness.REGION, self.service, "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self._key, self._key_day = k, day
        sig = hmac.new(self._key, sts.encode(), hashlib.sha256).hexdigest()
        return {"Content-Type": "application/x-amz-json-1.1", "Host": host, "X-Amz-Date": amzdate,
                "X-Amz-Target": target, "X-Amz-Content-Sha256": payload,
                "Authorization": "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                % (self.creds.access_key, scope, signed, sig)}

    def _call(self, target, body, timeout=None):
        data = json.dumps(body).encode()
        headers = self._headers(target, data)
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    if self.ssl_context:
                        self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout or self.timeout,
                                                                context=self.ssl_context)
                    else:
                        self.conn = http.client.HTTPConnection(self.host, self.port,
                                                               timeout=timeout or self.timeout)
                self.conn.timeout = timeout or self.timeout
                if self.conn.sock is not None:
                    self.conn.sock.settimeout(timeout or self.timeout)
                self.conn.request("POST", "/", body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read().decode()
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn = None
                if attempt:
                    raise
        if r.status != 200:
            raise CallError(r.status, raw)
        return json.loads(raw) if raw.strip() else {}

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None


def dep_of(execution_id):
    return execution_id.rsplit("deployment/", 1)[1]


class FakeAgent(threading.Thread):
    def __init__(self, daemon, keys, host_identifier, behaviour=None, delay=0.0, name=None):
        super().__init__(daemon=True, name=name or host_identifier)
        self.d = daemon
        self.client = Signed(daemon.url, keys, "codedeploy-commands")
        self.hid = host_identifier
        self.behaviour = behaviour or (lambda dep, ev: "ok")
        self.delay = delay
        self.done = []
        self.errors = []
        self.running = []  # commands being run now (for concurrency checks)
        self.stop_flag = threading.Event()
        self.hung = []
        self.gates = {}  # event -> (threading.Event, "ack" | "complete"): wait there
        self.at_gate = []
        self.retry_for = 0.0  # retry Complete/Ack/Update/Spec this long across daemon restarts

    # one protocol call each
    def poll(self, timeout=90):
        return self.client.call(CMD_PREFIX + ".PollHostCommand", {"HostIdentifier": self.hid}, timeout=timeout)

    def spec(self, exec_id):
        return self.client.call(CMD_PREFIX + ".GetDeploymentSpecification",
                                {"DeploymentExecutionId": exec_id, "HostIdentifier": self.hid},
                                retry_for=self.retry_for)

    def ack(self, cid, noop=False):
        return self.client.call(CMD_PREFIX + ".PutHostCommandAcknowledgement", {
            "HostCommandIdentifier": cid,
            "Diagnostics": {"Format": "JSON", "Payload": json.dumps({"IsCommandNoop": noop})}},
            retry_for=self.retry_for)

    def update(self, cid, log=None, seq=None):
        body = {"HostCommandIdentifier": cid, "EstimatedCompletionTime": int(time.time()) + 60}
        if log is not None:
            body["Diagnostics"] = {"Format": "JSON", "Payload": json.dumps(
                {"seq": seq, "script_name": "scripts/run.sh", "log": log})}
        return self.client.call(CMD_PREFIX + ".PostHostCommandUpdate", body, retry_for=self.retry_for)

    def complete(self, cid, ok=True, code=None, message=None, log="", script=""):
        payload = {"error_code": 0 if ok else (4 if code is None else code), "script_name": script,
                   "message": message or ("Succeeded: " if ok else "Script at specified location: %s failed "
                                          "with exit code 1" % script),
                   "log": log}
        return self.client.call(CMD_PREFIX + ".PutHostCommandComplete", {
            "HostCommandIdentifier": cid, "CommandStatus": "Succeeded" if ok else "Failed",
            "Diagnostics": {"Format": "JSON", "Payload": json.dumps(payload)}},
            retry_for=self.retry_for)

    def run_one(self, hc):
        cid, ev = hc["HostCommandIdentifier"], hc["CommandName"]
        dep = dep_of(hc["DeploymentExecutionId"])
        assert self.hid.find(hc["HostIdentifier"]) >= 0, hc
        spec = self.spec(hc["DeploymentExecutionId"])
        env = spec["DeploymentSpecification"]["GenericEnvelope"]
        assert spec["DeploymentSystem"] == "CodeDeploy" and env["Format"] == "PKCS7/JSON", spec
        assert env["Payload"].startswith("-----BEGIN PKCS7-----"), env["Payload"][:40]
        what = self.behaviour(dep, ev)
        gate = self.gates.get(ev)
        if gate and gate[1] == "ack":
            self.at_gate.append((dep, ev))
            gate[0].wait(60)
        a = self.ack(cid, noop=(what == "noop"))
        if a.get("CommandStatus") in ("Succeeded", "Failed"):
            self.done.append((dep, ev, "skipped-by-server"))
            return
        if what == "silent":  # acknowledged, then the agent "dies"
            self.done.append((dep, ev, "silent"))
            self.stop_flag.set()
            return
        self.running.append(cid)
        try:
            if what == "hang":
                self.hung.append(cid)
                seq = 0
                while not self.stop_flag.is_set():
                    seq += 1
                    r = self.update(cid, log="[stdout]still working %d\n" % seq, seq=seq)
                    if r.get("CommandStatus") in ("Failed", "Succeeded"):
                        self.complete(cid, ok=False, code=5, message="stopped by rolloutd")
                        self.done.append((dep, ev, "stopped"))
                        return
                    time.sleep(0.2)
                return
            if gate and gate[1] == "complete":
                self.at_gate.append((dep, ev))
                gate[0].wait(60)
            if self.delay:
                time.sleep(self.delay)
            if what == "fail":
                self.complete(cid, ok=False, script="scripts/%s.sh" % ev, log="[stderr]boom\n")
            else:
                self.complete(cid, ok=True)
            self.done.append((dep, ev, what))
        finally:
            self.running.remove(cid)

    def run(self):
        while not self.stop_flag.is_set():
            try:
                r = self.poll()
            except Exception as e:  # daemon restarting or stopped
                self.errors.append(repr(e))
                time.sleep(0.2)
                continue
            hc = r.get("HostCommand")
            if not hc:
                continue
            try:
                self.run_one(hc)
            except Exception as e:
                self.errors.append(repr(e))
                time.sleep(0.2)

    def stop(self):
        self.stop_flag.set()
        self.client.close()


def kill9_and_restart(daemon):
    """kill -9 the daemon, then start it again on the same port and data."""
    daemon.proc.kill()
    daemon.proc.wait()
    daemon._log.close()
    daemon.proc = None
    daemon.start()


class Fleet:
    """An application, a deployment group selecting on-prem instances by tag,
    registered instances with agent keys, and FakeAgents for them."""

    def __init__(self, daemon, app="app", group="grp", config=None, n=3, tag=("env", "test"),
                 auto_rollback=None, start_agents=True, behaviours=None, delay=0.0, prefix="host"):
        self.d = daemon
        self.cd = daemon.boto3_client(daemon.admin)
        self.admin = Signed(daemon.url, daemon.admin, "codedeploy", timeout=30)
        self.app, self.group = app, group
        self.tag = tag
        self.agents = {}
        self.keys = {}
        self.revisions = {}
        try:
            self.cd.create_application(applicationName=app)
        except self.cd.exceptions.ApplicationAlreadyExistsException:
            pass
        kw = dict(applicationName=app, deploymentGroupName=group, serviceRoleArn="arn:aws:iam::000000000000:role/cd",
                  onPremisesInstanceTagFilters=[{"Key": tag[0], "Value": tag[1], "Type": "KEY_AND_VALUE"}])
        if config:
            kw["deploymentConfigName"] = config
        if auto_rollback:
            kw["autoRollbackConfiguration"] = auto_rollback
        self.cd.create_deployment_group(**kw)
        self.names = ["%s-%d" % (prefix, i) for i in range(n)]
        for name in self.names:
            self.add_instance(name, start=start_agents, behaviour=(behaviours or {}).get(name), delay=delay)

    def add_instance(self, name, start=True, behaviour=None, delay=0.0, tag=True):
        arn = "arn:aws:iam::000000000000:user/%s" % name
        self.cd.register_on_premises_instance(instanceName=name, iamUserArn=arn)
        self.keys[name] = self.admin.call("Rolloutd_v1.CreateAccessKey",
                                          {"Name": "agent-" + name, "Policy": "agent", "InstanceName": name})
        if tag:
            self.cd.add_tags_to_on_premises_instances(tags=[{"Key": self.tag[0], "Value": self.tag[1]}],
                                                      instanceNames=[name])
        a = FakeAgent(self.d, self.keys[name], arn, behaviour=behaviour, delay=delay)
        self.agents[name] = a
        if start:
            a.start()
        return a

    def revision(self, key):
        """The revision named `key`: a tiny bundle uploaded into the daemon's
        bundle cache (docs/api-extensions.md, revisionType Bundle), or an S3
        location passed through to the hosts when the daemon runs no cache."""
        if key not in self.revisions:
            path = os.path.join(self.d.dir, "bundle-%s.tgz" % key)
            make_tgz(path, {"appspec.yml": "version: 0.0\nos: linux\n", "VERSION": key + "\n"})
            rev = upload_bundle(self.d, self.d.admin, path)
            self.revisions[key] = rev or {"revisionType": "S3", "s3Location": {
                "bucket": "bkt", "key": key, "bundleType": "zip", "eTag": "e-" + key}}
        return self.revisions[key]

    def deploy(self, revision, **kw):
        """CreateDeployment; revision is s3_revision(KEY) (resolved by revision())
        or a RevisionLocation. Sent raw: boto3 refuses the Bundle extension."""
        if isinstance(revision, dict) and "_key" in revision:
            revision = self.revision(revision["_key"])
        body = {"applicationName": self.app, "deploymentGroupName": self.group, "revision": revision}
        body.update(kw)
        return self.admin.call("CodeDeploy_20141006.CreateDeployment", body)["deploymentId"]

    def wait(self, dep, timeout=30, statuses=("Succeeded", "Failed", "Stopped")):
        end = time.time() + timeout
        info = None
        while time.time() < end:
            info = self.cd.get_deployment(deploymentId=dep)["deploymentInfo"]
            if info["status"] in statuses:
                return info
            time.sleep(0.05)
        raise AssertionError("deployment %s still %s after %ds:\n%s" % (
            dep, info and info["status"], timeout, self.d.log_tail(40)))

    def target(self, dep, name):
        return self.cd.get_deployment_target(deploymentId=dep, targetId=name)["deploymentTarget"]["instanceTarget"]

    def events(self, dep, name):
        return {e["lifecycleEventName"]: e for e in self.target(dep, name)["lifecycleEvents"]}

    def stop(self):
        for a in self.agents.values():
            a.stop()


def s3_revision(key="app-v1.zip"):
    """A revision placeholder for Fleet.deploy(): see Fleet.revision()."""
    return {"_key": key}


def make_tgz(path, files):
    with tarfile.open(path, "w:gz") as tf:
        for rel, content in sorted(files.items()):
            data = content.encode()
            ti = tarfile.TarInfo(rel)
            ti.size = len(data)
            ti.mode = 0o644
            ti.mtime = 1700000000
            tf.addfile(ti, io.BytesIO(data))


def upload_bundle(d, keys, path):
    """Uploads a bundle (docs/api-extensions.md §2); its Bundle revision, or
    None when the daemon takes no uploads."""
    with open(path, "rb") as f:
        data = f.read()
    sha = hashlib.sha256(data).hexdigest()

    def signed(method, url, body=b""):
        req = AWSRequest(method=method, url=url, data=body)
        SigV4Auth(Credentials(keys["AccessKeyId"], keys["SecretAccessKey"]), "codedeploy",
                  harness.REGION).add_auth(req)
        r = urllib.request.Request(url, data=body if method != "GET" else None, method=method,
                                   headers=dict(req.headers.items()))
        try:
            with urllib.request.urlopen(r, timeout=30, context=harness.context_for(d.url)) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    st, body = signed("POST", "%s/bundles/uploads?sha256=%s&size=%d&bundleType=tgz" % (d.url, sha, len(data)))
    if st != 200:
        return None
    j = json.loads(body)
    off = j.get("offset", 0)
    while not j.get("complete"):
        st, body = signed("PUT", "%s/bundles/uploads/%s?offset=%d" % (d.url, j["uploadId"], off),
                          data[off:off + j.get("partSize", len(data))])
        assert st == 200, body
        j = json.loads(body)
        off = j["offset"]
    return j["revision"]


def db_rows(daemon, sql, args=()):
    """Reads the daemon's state.db (WAL: readable while it runs)."""
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(daemon.data_dir, "state.db"), uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()
