"""rollout-agent against the real rolloutd: on-prem instances
registered through the control API, agent keys bound to them, real
rollout-agent processes verifying the daemon-signed specification, and
deployments created with boto3.

The revision is uploaded into the daemon's bundle cache (docs/api-extensions.md
§2) and the agents download it from /bundles/<sha256> (SigV4, agent grant,
sha256/size checked); a daemon without uploads falls back to a "Local File"
revision, and the tests skip when neither is available."""

import hashlib
import json
import os
import time
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import harness

from agent_helpers import Agent, make_bundle, script, wait_for
from engine_helpers import Fleet, db_rows

SETTINGS = {"long_poll": "5s"}
LIFECYCLE = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
             "ValidateService"]


@pytest.fixture
def d(daemon_factory):
    return daemon_factory(plugins={"onprem": {}}, settings=SETTINGS)


class RealFleet:
    """A Fleet (engine_helpers) whose instances run real rollout-agent processes."""

    def __init__(self, d, tmp_path, n=1, **kw):
        self.d = d
        self.tmp = tmp_path
        self.f = Fleet(d, n=n, start_agents=False, config="CodeDeployDefault.AllAtOnce", **kw)
        self.agents = {}
        for name in self.f.names:
            self.start_agent(name)

    def start_agent(self, name, **settings):
        keys = self.f.keys[name]
        a = Agent(self.tmp, self.d.url, "arn:aws:iam::000000000000:user/%s" % name, keys["AccessKeyId"],
                  keys["SecretAccessKey"], os.path.join(self.d.data_dir, "daemon.crt"), name="agent-" + name,
                  heartbeat="2s", **settings)
        self.agents[name] = a.start()
        return a

    def deploy_local(self, path, **kw):
        """Deploys the tgz at path: uploaded to the daemon's bundle cache when it takes uploads (the agent
        then downloads /bundles/<sha256>), else as a "Local File" revision; skips when neither works."""
        rev = upload_bundle(self.d, self.d.admin, path)
        if rev is None:
            rev = {"revisionType": "Local File", "localLocation": {"location": path, "bundleType": "tgz"}}
        # boto3 validates revision types client-side: send the extensions raw
        body = {"applicationName": self.f.app, "deploymentGroupName": self.f.group, "revision": rev}
        body.update(kw)
        try:
            return self.f.admin.call("CodeDeploy_20141006.CreateDeployment", body)["deploymentId"]
        except Exception as e:
            if "InvalidRevisionException" in str(e):
                pytest.skip("this rolloutd can deliver no bundle to an agent yet: no /bundles/uploads and "
                            "revisionType 'Local File' refused (%s)" % e)
            raise

    def wait(self, dep, timeout=60):
        return self.f.wait(dep, timeout=timeout)

    def events(self, dep, name=None):
        return self.f.events(dep, name or self.f.names[0])

    def stop(self):
        for a in self.agents.values():
            if a.proc:
                a.stop()


def signed(method, url, keys, data=b""):
    req = AWSRequest(method=method, url=url, data=data)
    SigV4Auth(Credentials(keys["AccessKeyId"], keys["SecretAccessKey"]), "codedeploy", harness.REGION).add_auth(req)
    r = urllib.request.Request(url, data=data if method != "GET" else None, method=method,
                               headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def upload_bundle(d, keys, path):
    """docs/api-extensions.md §2; None when the daemon takes no uploads."""
    with open(path, "rb") as f:
        data = f.read()
    sha = hashlib.sha256(data).hexdigest()
    st, body = signed("POST", "%s/bundles/uploads?sha256=%s&size=%d&bundleType=tgz" % (d.url, sha, len(data)), keys)
    if st != 200:
        return None
    j = json.loads(body)
    upload_id, off = j.get("uploadId"), j.get("offset", 0)
    while not j.get("complete"):
        part = data[off:off + j.get("partSize", len(data))]
        st, body = signed("PUT", "%s/bundles/uploads/%s?offset=%d" % (d.url, upload_id, off), keys, part)
        assert st == 200, body
        j = json.loads(body)
        off = j["offset"]
    return j["revision"]


@pytest.fixture
def fleet(d, tmp_path):
    made = []

    def make(**kw):
        f = RealFleet(d, tmp_path, **kw)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


def revision(tmp_path, version, www, events, hooks=None, appspec_extra="", extra_files=None):
    rec = 'echo "$LIFECYCLE_EVENT %s $DEPLOYMENT_ID" >> %s' % (version, events)
    hooks = hooks or {e: rec for e in ["ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart",
                                       "ValidateService"]}
    appspec = "version: 0.0\nos: linux\nfiles:\n  - source: /web\n    destination: %s\n%shooks:\n" % (
        www, appspec_extra)
    files = {"web/index.html": "hello %s\n" % version}
    for ev, body in hooks.items():
        t = ""
        if isinstance(body, tuple):
            body, secs = body
            t = "\n      timeout: %d" % secs
        appspec += "  %s:\n    - location: scripts/%s.sh%s\n" % (ev, ev, t)
        files["scripts/%s.sh" % ev] = script(body)
    files["appspec.yml"] = appspec
    files.update(extra_files or {})
    path = os.path.join(str(tmp_path), "rev-%s.tgz" % version)
    make_bundle(path, files, prefix="app-%s/" % version)
    return path


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().split("\n")[:-1]


def test_inplace_deployment_end_to_end(d, fleet, tmp_path):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    f = fleet(n=1)
    dep = f.deploy_local(revision(tmp_path, "v1", www, events))
    info = f.wait(dep)
    a = f.agents[f.f.names[0]]
    assert info["status"] == "Succeeded", (info, a.log()[-3000:])
    ev = f.events(dep)
    # first deployment to the host: ApplicationStop has no previous revision (a noop, Skipped)
    assert [ev[e]["status"] for e in LIFECYCLE] == ["Skipped"] + ["Succeeded"] * 6, ev
    assert lines(events) == ["%s v1 %s" % (e, dep) for e in
                             ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]]
    with open(os.path.join(www, "index.html")) as fh:
        assert fh.read() == "hello v1\n"
    # the agent verified the daemon-signed spec (a spec it could not verify would fail every event)
    assert "deployment specification rejected" not in a.log()


def test_redeploy_runs_application_stop_of_previous_revision(d, fleet, tmp_path):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    f = fleet(n=1)
    dep1 = f.deploy_local(revision(tmp_path, "v1", www, events))
    assert f.wait(dep1)["status"] == "Succeeded", f.agents[f.f.names[0]].log()[-3000:]
    os.unlink(events)
    dep2 = f.deploy_local(revision(tmp_path, "v2", www, events))
    info = f.wait(dep2)
    assert info["status"] == "Succeeded", info
    got = lines(events)
    assert got[0] == "ApplicationStop v1 %s" % dep2
    assert got[1:] == ["%s v2 %s" % (e, dep2) for e in
                       ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]]
    assert f.events(dep2)["ApplicationStop"]["status"] == "Succeeded"
    with open(os.path.join(www, "index.html")) as fh:
        assert fh.read() == "hello v2\n"


def extract_helpers_of(pid):
    """Command lines of the rollout-agent-extract processes whose parent is pid (zombies have none)."""
    found = []
    for p in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % p) as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % p, "rb") as fh:
                argv = fh.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and argv and argv[0].endswith(b"rollout-agent-extract"):
            found.append(b" ".join(argv).strip().decode())
    return found


def test_extraction_helper_waits_from_application_stop(d, fleet, tmp_path):
    """The extraction helper is started when ApplicationStop arrives, so its libraries are loaded by the
    time DownloadBundle has the bundle; it unpacks that bundle and a fresh one waits for the next
    deployment's, until the agent goes idle (2 s without a command): then it is ended. After a failed
    ApplicationStop (no DownloadBundle follows) the unused helper is ended at idle too."""
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    seen = tmp_path / "children-at-stop"
    f = fleet(n=1)
    a = f.agents[f.f.names[0]]
    record = 'ps -o args= --ppid "$PPID" > %s' % seen
    dep1 = f.deploy_local(revision(tmp_path, "v1", www, events, hooks={"ApplicationStop": record}))
    assert f.wait(dep1)["status"] == "Succeeded", a.log()[-3000:]
    assert not seen.exists()  # the first deployment's ApplicationStop has no previous revision to run
    dep2 = f.deploy_local(revision(tmp_path, "v2", www, events, hooks={"ApplicationStop": "exit 3"}))
    assert f.wait(dep2)["status"] == "Succeeded", a.log()[-3000:]
    # while v1's ApplicationStop ran, the helper waited for its paths ("-": they come on stdin)
    helpers = [ln.strip() for ln in seen.read_text().splitlines() if "rollout-agent-extract" in ln]
    assert len(helpers) == 1 and helpers[0].endswith("/rollout-agent-extract -"), seen.read_text()
    with open(os.path.join(www, "index.html")) as fh:
        assert fh.read() == "hello v2\n"
    wait_for(lambda: extract_helpers_of(a.proc.pid) == [], timeout=10, what="the idle agent to end the helper")
    # v2's ApplicationStop fails: no DownloadBundle comes, and the helper started for it is ended
    dep3 = f.deploy_local(revision(tmp_path, "v3", www, events))
    info = f.wait(dep3)
    assert info["status"] == "Failed" and f.events(dep3)["ApplicationStop"]["status"] == "Failed", info
    wait_for(lambda: extract_helpers_of(a.proc.pid) == [], timeout=10, what="the unused helper to end")


@pytest.mark.parametrize("how,expect_status,expect_content", [
    ("default", "Failed", "not ours\n"),          # DISALLOW
    ("OVERWRITE", "Succeeded", "hello v1\n"),
    ("RETAIN", "Succeeded", "not ours\n"),
    ("appspec-RETAIN", "Succeeded", "not ours\n"),  # the appspec wins over the deployment's OVERWRITE
])
def test_file_exists_behavior(d, fleet, tmp_path, how, expect_status, expect_content):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    os.makedirs(www)
    with open(os.path.join(www, "index.html"), "w") as fh:
        fh.write("not ours\n")
    f = fleet(n=1)
    kw = {}
    extra = ""
    if how in ("OVERWRITE", "RETAIN"):
        kw["fileExistsBehavior"] = how
    if how == "appspec-RETAIN":
        extra = "file_exists_behavior: RETAIN\n"
        kw["fileExistsBehavior"] = "OVERWRITE"
    dep = f.deploy_local(revision(tmp_path, "v1", www, events, appspec_extra=extra), **kw)
    info = f.wait(dep)
    assert info["status"] == expect_status, info
    with open(os.path.join(www, "index.html")) as fh:
        assert fh.read() == expect_content
    if expect_status == "Failed":
        ev = f.events(dep)["Install"]
        assert ev["status"] == "Failed"
        assert ev["diagnostics"]["errorCode"] == "UnknownError"
        assert "a specified file already exists at this location" in ev["diagnostics"]["message"]


def test_timed_out_hook(d, fleet, tmp_path):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    f = fleet(n=1)
    hooks = {"ApplicationStart": ("echo starting; sleep 120", 2)}
    t0 = time.monotonic()
    dep = f.deploy_local(revision(tmp_path, "v1", www, events, hooks=hooks))
    info = f.wait(dep)
    assert info["status"] == "Failed"
    assert time.monotonic() - t0 < 30
    ev = f.events(dep)["ApplicationStart"]
    assert ev["status"] == "Failed"
    assert ev["diagnostics"]["errorCode"] == "ScriptTimedOut"
    assert ev["diagnostics"]["scriptName"] == "scripts/ApplicationStart.sh"
    assert "failed to complete in 2 seconds" in ev["diagnostics"]["message"]
    assert "[stdout]starting" in ev["diagnostics"]["logTail"]


def test_spec_signed_by_another_daemon_is_refused(d, fleet, tmp_path):
    """The agent pins daemon_cert: with another certificate configured, every command of a real
    deployment is refused before anything runs, and rolloutd records why."""
    import subprocess
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    other = os.path.join(str(tmp_path), "other.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", other + ".key", "-out", other, "-days", "1", "-subj", "/CN=rolloutd"], check=True,
                   capture_output=True)
    f = fleet(n=1)
    name = f.f.names[0]
    f.agents[name].stop()
    keys = f.f.keys[name]
    f.agents[name] = Agent(tmp_path, d.url, "arn:aws:iam::000000000000:user/%s" % name, keys["AccessKeyId"],
                           keys["SecretAccessKey"], other, name="agent-other-cert").start()
    dep = f.deploy_local(revision(tmp_path, "v1", www, events))
    info = f.wait(dep)
    assert info["status"] == "Failed"
    bad = [e for e in f.events(dep).values() if e["status"] == "Failed"]
    assert bad and bad[0]["diagnostics"]["message"].startswith("deployment specification rejected"), bad
    assert "does not verify against daemon_cert" in bad[0]["diagnostics"]["message"]
    assert not os.path.exists(events) and not os.path.exists(www)


def test_live_output_reaches_rolloutd(d, fleet, tmp_path):
    """Hook output is sent while the hook runs and rolloutd stores it per instance and event."""
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    f = fleet(n=1)
    hooks = {"ApplicationStart": "for i in 1 2 3 4; do echo tick$i; sleep 0.7; done"}
    dep = f.deploy_local(revision(tmp_path, "v1", www, events, hooks=hooks))
    info = f.wait(dep)
    assert info["status"] == "Succeeded", info
    ev = f.events(dep)["ApplicationStart"]
    # the success diagnostics carry the tail too (rolloutd maps log -> logTail)
    assert "[stdout]tick4" in ev["diagnostics"].get("logTail", ""), ev
    # stored live, in order, in more than one update (about once a second while the hook ran)
    rows = db_rows(d, "SELECT seq, chunk FROM hook_logs WHERE deployment_id = ? AND lifecycle_event = ? ORDER BY seq",
                   (dep, "ApplicationStart"))
    assert "".join(c for _, c in rows) == "".join("[stdout]tick%d\n" % i for i in range(1, 5)), rows
    assert [q for q, _ in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 2, rows
