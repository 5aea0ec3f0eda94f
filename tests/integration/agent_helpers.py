"""Agent fixtures for integration tests: write a rollout-agent config, start and
stop rollout-agent processes, build bundles, and a small in-process fake of the
five host-command operations (FakeCommandService) for tests of the agent alone.

The fake follows agent/PROTOCOL.md; the tests against the real rolloutd live in
test_agent_rolloutd.py and use harness.Daemon instead.
"""

import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness


def wait_for(pred, timeout=20.0, interval=0.05, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))


# --------------------------------------------------------------------------
# bundles

def make_bundle(path, files, prefix="", fmt="tgz"):
    """files: {relpath: (content str/bytes, mode)} or {relpath: content}. Writes a tgz/tar."""
    mode = "w:gz" if fmt == "tgz" else "w"
    with tarfile.open(path, mode) as tf:
        for rel, spec in sorted(files.items()):
            content, fmode = spec if isinstance(spec, tuple) else (spec, 0o644)
            data = content.encode() if isinstance(content, str) else content
            ti = tarfile.TarInfo(prefix + rel)
            ti.size = len(data)
            ti.mode = fmode
            ti.mtime = int(time.time())
            tf.addfile(ti, io.BytesIO(data))
    with open(path, "rb") as f:
        data = f.read()
    return hashlib.sha256(data).hexdigest(), len(data)


def script(body):
    """An executable hook script."""
    return ("#!/bin/sh\n" + body + "\n", 0o755)


# --------------------------------------------------------------------------
# signing (openssl CLI, as rolloutd's own daemon.crt/daemon.key would)

class Signer:
    def __init__(self, d, cn="fake-rolloutd"):
        os.makedirs(d, exist_ok=True)
        self.cert = os.path.join(d, "daemon.crt")
        self.key = os.path.join(d, "daemon.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", "/CN=" + cn],
                       check=True, capture_output=True)

    def sign(self, text):
        p = subprocess.run(["openssl", "smime", "-sign", "-binary", "-nodetach", "-outform", "PEM",
                            "-signer", self.cert, "-inkey", self.key],
                           input=text.encode(), check=True, capture_output=True)
        return p.stdout.decode()


# --------------------------------------------------------------------------
# the fake command service

class FakeCommandService:
    """Serves PollHostCommand & co. on 127.0.0.1:<port>, plus GET /bundles/<sha256>.

    queue(command, spec) hands out one command; completes / updates / acks are
    recorded; wait_complete(hcid) returns the Complete request body."""

    def __init__(self, tmp, hold=2.0):
        self.signer = Signer(os.path.join(str(tmp), "fake-signer"))
        self.hold = hold
        self.lock = threading.Condition()
        self.pending = []          # [(hcid, command, exec_id)]
        self.specs = {}            # exec_id -> envelope dict (whole response)
        self.acks = {}             # hcid -> request
        self.ack_status = {}       # hcid -> CommandStatus to answer
        self.update_status = {}    # hcid -> CommandStatus to answer updates
        self.updates = []          # (hcid, request)
        self.completes = {}        # hcid -> [requests]
        self.polls = 0
        self.bundles = {}          # sha -> bytes
        self.cut_first_download = set()  # shas whose first GET is cut halfway
        self.ranges = []           # Range headers seen
        self.requests = []         # (target, headers) for signature checks
        self.n = 0
        svc = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, code, body, ctype="application/x-amz-json-1.1", extra=None):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                sha = self.path.rsplit("/", 1)[-1]
                data = svc.bundles.get(sha)
                if data is None:
                    return self._send(404, {"__type": "ResourceNotFoundException", "message": "no bundle"})
                if "codedeploy-commands" not in self.headers.get("Authorization", ""):
                    return self._send(403, {"__type": "AccessDeniedException", "message": "unsigned"})
                rng = self.headers.get("Range")
                start = 0
                if rng:
                    svc.ranges.append(rng)
                    start = int(rng.split("=")[1].split("-")[0])
                body = data[start:]
                if sha in svc.cut_first_download:
                    svc.cut_first_download.discard(sha)
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                target = self.headers.get("X-Amz-Target", "")
                with svc.lock:
                    svc.requests.append((target, dict(self.headers), raw))
                if hashlib.sha256(raw).hexdigest() != self.headers.get("X-Amz-Content-Sha256"):
                    return self._send(400, {"__type": "InvalidSignatureException", "message": "body hash"})
                auth = self.headers.get("Authorization", "")
                if "codedeploy-commands/aws4_request" not in auth:
                    return self._send(400, {"__type": "InvalidSignatureException", "message": "scope"})
                # every signed header must be present (as rolloutd checks)
                signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";") if "SignedHeaders=" in auth else []
                missing = [h for h in signed if h not in {k.lower() for k in self.headers.keys()}]
                if missing or "x-amz-content-sha256" not in signed or "x-amz-target" not in signed:
                    return self._send(400, {"__type": "IncompleteSignatureException",
                                            "message": "signed headers %s missing or incomplete" % missing})
                body = json.loads(raw or b"{}")
                op = target.split(".")[-1]
                if not target.startswith("CodeDeployCommandService_v20141006."):
                    return self._send(400, {"__type": "UnknownOperationException", "message": target})
                self._send(200, getattr(svc, "op_" + op)(body))

        self.server = ThreadingHTTPServer(("127.0.0.1", harness.free_port()), H)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # -- operations
    def op_PollHostCommand(self, body):
        end = time.monotonic() + self.hold
        with self.lock:
            self.polls += 1
            while not self.pending:
                left = end - time.monotonic()
                if left <= 0:
                    return {}
                self.lock.wait(left)
            hcid, command, exec_id = self.pending.pop(0)
        return {"HostCommand": {"HostCommandIdentifier": hcid, "HostIdentifier": body["HostIdentifier"],
                                "DeploymentExecutionId": exec_id, "CommandName": command, "Nonce": 1}}

    def op_GetDeploymentSpecification(self, body):
        return self.specs[body["DeploymentExecutionId"]]

    def op_PutHostCommandAcknowledgement(self, body):
        with self.lock:
            self.acks[body["HostCommandIdentifier"]] = body
        return {"CommandStatus": self.ack_status.get(body["HostCommandIdentifier"], "InProgress")}

    def op_PostHostCommandUpdate(self, body):
        with self.lock:
            self.updates.append((body["HostCommandIdentifier"], body))
        return {"CommandStatus": self.update_status.get(body["HostCommandIdentifier"], "InProgress")}

    def op_PutHostCommandComplete(self, body):
        with self.lock:
            self.completes.setdefault(body["HostCommandIdentifier"], []).append(body)
            self.lock.notify_all()
        return {}

    # -- test side
    def envelope(self, spec, fmt="PKCS7/JSON", tamper=False):
        text = json.dumps(spec)
        if fmt == "PKCS7/JSON":
            payload = self.signer.sign(text)
            if tamper:
                payload = tamper(payload) if callable(tamper) else payload
        else:
            payload = text
        return {"DeploymentSystem": "CodeDeploy",
                "DeploymentSpecification": {"GenericEnvelope": {"Format": fmt, "Payload": payload}}}

    def queue(self, command, spec=None, envelope=None, deployment_id=None):
        """Queues one command; returns its HostCommandIdentifier."""
        with self.lock:
            self.n += 1
            dep = deployment_id or (spec or {}).get("DeploymentId", "d-FAKE00000")
            exec_id = "CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:000000000000:deployment/%s" % dep
            self.specs[exec_id] = envelope or self.envelope(spec)
            hcid = "hc-%d-%s" % (self.n, command)
            self.pending.append((hcid, command, exec_id))
            self.lock.notify_all()
        return hcid

    def wait_complete(self, hcid, timeout=30.0):
        end = time.monotonic() + timeout
        with self.lock:
            while hcid not in self.completes:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("no PutHostCommandComplete for %s after %.0fs" % (hcid, timeout))
                self.lock.wait(left)
            return self.completes[hcid][0]

    def run(self, command, spec, timeout=30.0):
        """Queues a command and returns (CommandStatus, diagnostics payload dict)."""
        c = self.wait_complete(self.queue(command, spec), timeout)
        return c["CommandStatus"], json.loads(c["Diagnostics"]["Payload"])


def diag(complete):
    return json.loads(complete["Diagnostics"]["Payload"])


LIFECYCLE = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall",
             "ApplicationStart", "ValidateService"]


def spec_for(deployment_id, bundle_sha=None, bundle_size=None, group="dg-1", local=None, local_type="tgz",
             feb=None, extra=None):
    s = {"DeploymentId": deployment_id, "DeploymentGroupId": group, "DeploymentGroupName": "web",
         "ApplicationName": "app", "DeploymentCreator": "user", "DeploymentType": "IN_PLACE",
         "AppSpecFilename": "appspec.yml",
         "Revision": {"RevisionType": "S3", "S3Revision": {"Bucket": "bkt", "Key": "app.tgz", "BundleType": "tgz",
                                                           "ETag": "etag1"}}}
    if bundle_sha:
        s["RolloutBundle"] = {"Url": "/bundles/" + bundle_sha, "Sha256": bundle_sha, "Size": bundle_size}
    if local:
        s["Revision"] = {"RevisionType": "Local File" if local_type != "directory" else "Local Directory",
                         "LocalRevision": {"Location": local, "BundleType": local_type}}
    if feb:
        s["AgentActionOverrides"] = {"AgentOverrides": {"FileExistsBehavior": feb}}
    s.update(extra or {})
    return s


# --------------------------------------------------------------------------
# rollout-agent processes

class Agent:
    """One rollout-agent with its own root_dir, log_dir and config."""

    def __init__(self, tmp_path, endpoint, host_identifier, access_key_id, secret_access_key, daemon_cert,
                 name="agent", **settings):
        self.dir = os.path.join(str(tmp_path), name)
        os.makedirs(self.dir, exist_ok=True)
        self.root_dir = os.path.join(self.dir, "root")
        self.log_dir = os.path.join(self.dir, "log")
        self.config_path = os.path.join(self.dir, "agent.yaml")
        self.log_path = os.path.join(self.log_dir, "rollout-agent.log")
        cfg = {"endpoint": endpoint, "host_identifier": host_identifier, "access_key_id": access_key_id,
               "secret_access_key": secret_access_key, "region": harness.REGION, "root_dir": self.root_dir,
               "log_dir": self.log_dir, "log_level": "debug", "kill_grace": "1s"}
        if daemon_cert:
            cfg["daemon_cert"] = daemon_cert
        cfg.update(settings)
        with open(self.config_path, "w") as f:
            json.dump(cfg, f, indent=2)
        self.proc = None

    def start(self, wait=True):
        """Starts the agent; with wait, returns once it is polling (its signal handlers are set)."""
        before = len(self.log())
        self.proc = subprocess.Popen([harness.binary("rollout-agent"), "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if wait:
            wait_for(lambda: " polling " in self.log()[before:] or self.proc.poll() is not None, 20,
                     what="rollout-agent to start")
            assert self.proc.poll() is None, "rollout-agent exited at start: %s" % self.proc.stderr.read().decode()
        return self

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("rollout-agent did not stop within %ds; log:\n%s" % (timeout, self.log()[-3000:]))
            assert rc == 0, "rollout-agent exited %d; log:\n%s" % (rc, self.log()[-3000:])
        self.proc = None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def dep_dir(self, group, deployment_id):
        return os.path.join(self.root_dir, group, deployment_id)

    def scripts_log(self, group, deployment_id):
        with open(os.path.join(self.dep_dir(group, deployment_id), "logs", "scripts.log")) as f:
            return f.read()
