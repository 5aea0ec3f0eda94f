"""rollout-agent against an in-process fake of the host-command service
(agent_helpers.FakeCommandService, following agent/PROTOCOL.md). These pin the
agent's side of the protocol; test_agent_rolloutd.py runs the same scenarios
against the real rolloutd."""

import json
import os
import subprocess
import time

import pytest

import harness
from agent_helpers import (LIFECYCLE, Agent, FakeCommandService, Signer, diag, make_bundle, script, spec_for,
                           wait_for)

HOST = "arn:aws:iam::000000000000:user/host-1"


@pytest.fixture
def fake(tmp_path):
    f = FakeCommandService(tmp_path)
    yield f
    f.close()


@pytest.fixture
def agent(tmp_path, fake):
    made = []

    def make(name="agent", env=None, **settings):
        a = Agent(tmp_path, fake.url, HOST, "AKIDFAKE", "secretfake", fake.signer.cert, name=name, **settings)
        if env:
            old = dict(os.environ)
            os.environ.update(env)
            try:
                a.start()
            finally:
                os.environ.clear()
                os.environ.update(old)
        else:
            a.start()
        made.append(a)
        return a

    yield make
    for a in made:
        if a.proc:
            a.stop()


def app_bundle(tmp_path, fake, version, www, events, extra_files=None, appspec_extra="", hooks=None, name=None):
    """A tgz revision whose hooks append '<event> <version> <DEPLOYMENT_ID>' to events."""
    rec = 'echo "$LIFECYCLE_EVENT %s $DEPLOYMENT_ID" >> %s' % (version, events)
    hooks = hooks or {e: rec for e in ["ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart",
                                       "ValidateService"]}
    appspec = "version: 0.0\nos: linux\nfiles:\n  - source: /web\n    destination: %s\n%shooks:\n" % (www,
                                                                                                  appspec_extra)
    files = {"web/index.html": "hello %s\n" % version}
    for ev, body in hooks.items():
        timeout = ""
        if isinstance(body, tuple):
            body, t = body
            timeout = "\n      timeout: %d" % t
        appspec += "  %s:\n    - location: scripts/%s.sh%s\n" % (ev, ev, timeout)
        files["scripts/%s.sh" % ev] = script(body)
    files["appspec.yml"] = appspec
    files.update(extra_files or {})
    path = os.path.join(str(tmp_path), name or "bundle-%s.tgz" % version)
    sha, size = make_bundle(path, files, prefix="app-%s/" % version)
    with open(path, "rb") as f:
        fake.bundles[sha] = f.read()
    return sha, size


def deploy(fake, dep_id, sha, size, commands=LIFECYCLE, **kw):
    """Runs the commands in order; returns {command: (status, diagnostics)}; stops at the first failure."""
    out = {}
    for c in commands:
        st, d = fake.run(c, spec_for(dep_id, sha, size, **kw))
        out[c] = (st, d)
        if st != "Succeeded":
            break
    return out


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().split("\n")[:-1]


def test_inplace_deployment_end_to_end(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    envdump = str(tmp_path / "env.txt")
    hooks = {"BeforeInstall": 'echo "$LIFECYCLE_EVENT v1 $DEPLOYMENT_ID" >> %s; env > %s; echo to-stderr >&2' % (
        events, envdump)}
    for e in ["AfterInstall", "ApplicationStart", "ValidateService"]:
        hooks[e] = 'echo "$LIFECYCLE_EVENT v1 $DEPLOYMENT_ID" >> %s' % events
    sha, size = app_bundle(tmp_path, fake, "v1", www, events, hooks=hooks)
    a = agent(env={"AWS_SECRET_ACCESS_KEY": "leak-me", "AWS_ACCESS_KEY_ID": "AKIDLEAK"})
    res = deploy(fake, "d-AAAAAAAA1", sha, size)
    assert {c: s for c, (s, _) in res.items()} == {c: "Succeeded" for c in LIFECYCLE}, res
    assert res["Install"][1] == {"error_code": 0, "script_name": "", "message": "Succeeded: ", "log": ""}
    assert lines(events) == ["%s v1 d-AAAAAAAA1" % e for e in
                             ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]]
    with open(os.path.join(www, "index.html")) as f:
        assert f.read() == "hello v1\n"
    # first deployment: ApplicationStop has no previous revision -> acknowledged as a noop
    acks = {json.loads(v["Diagnostics"]["Payload"])["IsCommandNoop"]: k for k, v in fake.acks.items()}
    assert any(k.endswith("ApplicationStop") for k in [acks.get(True, "")])
    assert not json.loads(fake.acks[[k for k in fake.acks if k.endswith("DownloadBundle")][0]]
                          ["Diagnostics"]["Payload"])["IsCommandNoop"]
    # official environment, never the agent's credentials
    env = dict(l.split("=", 1) for l in lines(envdump) if "=" in l)
    assert env["DEPLOYMENT_ID"] == "d-AAAAAAAA1" and env["DEPLOYMENT_GROUP_ID"] == "dg-1"
    assert env["APPLICATION_NAME"] == "app" and env["DEPLOYMENT_GROUP_NAME"] == "web"
    assert env["BUNDLE_BUCKET"] == "bkt" and env["BUNDLE_KEY"] == "app.tgz" and env["BUNDLE_ETAG"] == "etag1"
    assert "BUNDLE_VERSION" not in env
    assert "AWS_SECRET_ACCESS_KEY" not in env and "AWS_ACCESS_KEY_ID" not in env
    # layout like the official agent's
    dep = a.dep_dir("dg-1", "d-AAAAAAAA1")
    assert os.path.exists(os.path.join(dep, "deployment-archive", "appspec.yml"))  # leading dir stripped
    assert not os.path.exists(os.path.join(dep, "bundle.tar"))  # one copy only
    instr = os.path.join(a.root_dir, "deployment-instructions")
    with open(os.path.join(instr, "dg-1_last_successful_install")) as f:
        assert f.read() == dep
    with open(os.path.join(instr, "dg-1-cleanup")) as f:
        assert os.path.join(www, "index.html") in f.read().split("\n")
    slog = a.scripts_log("dg-1", "d-AAAAAAAA1")
    assert "LifecycleEvent - BeforeInstall" in slog and "[stderr]to-stderr" in slog
    with open(os.path.join(a.root_dir, "deployment-logs", "codedeploy-agent-deployments.log")) as f:
        assert "] [d-AAAAAAAA1][stderr]to-stderr\n" in f.read()
    wait_for(lambda: os.listdir(os.path.join(a.root_dir, "ongoing-deployment")) == [], 5,
             what="the tracking file to be removed after Complete")
    # signed requests with the official headers
    target, headers, _ = fake.requests[0]
    assert headers["X-Amz-Codedeploy-Agent-Version"].startswith("ROLLOUT_AGENT_")
    assert "x-amz-content-sha256" in headers["Authorization"]


def test_redeploy_runs_application_stop_of_previous_revision(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    sha1, size1 = app_bundle(tmp_path, fake, "v1", www, events)
    sha2, size2 = app_bundle(tmp_path, fake, "v2", www, events)
    agent()
    assert deploy(fake, "d-AAAAAAAA1", sha1, size1)["ValidateService"][0] == "Succeeded"
    os.unlink(events)
    res = deploy(fake, "d-AAAAAAAA2", sha2, size2)
    assert res["ValidateService"][0] == "Succeeded", res
    got = lines(events)
    # ApplicationStop: the last successful revision's script, with the new deployment's environment
    assert got[0] == "ApplicationStop v1 d-AAAAAAAA2"
    assert got[1:] == ["%s v2 d-AAAAAAAA2" % e for e in
                       ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]]
    with open(os.path.join(www, "index.html")) as f:
        assert f.read() == "hello v2\n"


def test_file_exists_behaviors(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    os.makedirs(www)
    foreign = os.path.join(www, "index.html")
    with open(foreign, "w") as f:
        f.write("not ours\n")
    sha, size = app_bundle(tmp_path, fake, "v1", www, events)
    agent()
    cmds = ["DownloadBundle", "Install"]
    # default DISALLOW
    res = deploy(fake, "d-FEB000001", sha, size, commands=cmds)
    st, d = res["Install"]
    assert st == "Failed" and d["error_code"] == 5
    assert "a specified file already exists at this location: %s" % foreign in d["message"]
    assert open(foreign).read() == "not ours\n"
    # RETAIN through the deployment override (lower case is upper-cased like the official agent)
    res = deploy(fake, "d-FEB000002", sha, size, commands=cmds, feb="retain")
    assert res["Install"][0] == "Succeeded", res
    assert open(foreign).read() == "not ours\n"
    # OVERWRITE
    res = deploy(fake, "d-FEB000003", sha, size, commands=cmds, feb="OVERWRITE")
    assert res["Install"][0] == "Succeeded", res
    assert open(foreign).read() == "hello v1\n"
    # the appspec's value wins over the deployment's override
    with open(os.path.join(www, "extra.txt"), "w") as f:
        f.write("x")
    sha3, size3 = app_bundle(tmp_path, fake, "v3", www, events, appspec_extra="file_exists_behavior: DISALLOW\n",
                             extra_files={"web/extra.txt": "new"})
    res = deploy(fake, "d-FEB000005", sha3, size3, commands=cmds, feb="OVERWRITE")
    assert res["Install"][0] == "Failed" and "already exists" in res["Install"][1]["message"], res


def test_timed_out_hook(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    pidfile = str(tmp_path / "escapee.pid")
    hooks = {"ApplicationStart": ("echo starting; setsid sh -c 'echo $$ > %s; exec sleep 120' & sleep 120" % pidfile,
                                  2)}
    sha, size = app_bundle(tmp_path, fake, "v1", www, events, hooks=hooks)
    agent()
    t0 = time.monotonic()
    res = deploy(fake, "d-TIMEOUT01", sha, size, commands=["DownloadBundle", "Install", "ApplicationStart"])
    took = time.monotonic() - t0
    st, d = res["ApplicationStart"]
    assert st == "Failed"
    assert d["error_code"] == 3
    assert d["script_name"] == "scripts/ApplicationStart.sh"
    assert d["message"] == "Script at specified location: scripts/ApplicationStart.sh failed to complete in 2 seconds"
    assert "[stdout]starting" in d["log"]
    assert took < 15
    pid = int(open(pidfile).read())
    wait_for(lambda: not os.path.exists("/proc/%d" % pid) or "Z" in open("/proc/%d/stat" % pid).read().split()[2],
             5, what="the setsid escapee to be killed")


def test_failed_script_reports_tail(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    hooks = {"AfterInstall": "i=0; while [ $i -lt 100 ]; do printf '%043d\\n' $i; i=$((i+1)); done; exit 7"}
    sha, size = app_bundle(tmp_path, fake, "v1", www, events, hooks=hooks)
    agent()
    res = deploy(fake, "d-FAILTAIL1", sha, size, commands=["DownloadBundle", "Install", "AfterInstall"])
    st, d = res["AfterInstall"]
    assert st == "Failed" and d["error_code"] == 4
    assert d["message"] == "Script at specified location: scripts/AfterInstall.sh failed with exit code 7"
    # 100 lines of 52 characters ("[stdout]" + 43 + "\n"): the newest 39 (2028 characters)
    assert len(d["log"]) == 2028 and d["log"].count("\n") == 39
    assert d["log"].endswith("[stdout]%043d\n" % 99)


def test_missing_and_not_executable_scripts(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    sha, size = app_bundle(tmp_path, fake, "v1", www, events, hooks={"AfterInstall": "true"},
                           extra_files={"appspec.yml": "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n"
                                                       "    - location: scripts/nope.sh\n"
                                                       "  ApplicationStart:\n    - location: scripts/plain.sh\n",
                                        "scripts/plain.sh": ("echo no shebang\n", 0o644)})
    agent()
    res = deploy(fake, "d-MISSING01", sha, size, commands=["DownloadBundle", "Install", "AfterInstall"])
    st, d = res["AfterInstall"]
    assert st == "Failed" and d["error_code"] == 1 and "Script does not exist at specified location" in d["message"]
    # not executable: chmod +x like the official agent, then it fails to exec (no #! line) -> ScriptFailed
    st, d = fake.run("ApplicationStart", spec_for("d-MISSING01", sha, size))
    assert st == "Failed" and d["error_code"] == 4 and "no '#!' interpreter line" in d["message"]


def test_spec_rejections(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    sha, size = app_bundle(tmp_path, fake, "v1", www, events)
    a = agent()
    spec = spec_for("d-REJECT001", sha, size)

    def tamper(pem):
        # flip a character inside the signed JSON ("bkt" -> "bku") of the base64 body
        import base64
        body = "".join(pem.strip().split("\n")[1:-1])
        der = bytearray(base64.b64decode(body))
        i = der.find(b'"bkt"')
        der[i + 3] ^= 1
        b = base64.b64encode(bytes(der)).decode()
        return "-----BEGIN PKCS7-----\n" + "\n".join(b[i:i + 64] for i in range(0, len(b), 64)) + "\n-----END PKCS7-----\n"

    other = Signer(str(tmp_path / "other-signer"), cn="evil")
    cases = {
        "unsigned": fake.envelope(spec, fmt="TEXT/JSON"),
        "tampered": fake.envelope(spec, tamper=tamper),
        "other-signer": {"DeploymentSystem": "CodeDeploy", "DeploymentSpecification": {"GenericEnvelope": {
            "Format": "PKCS7/JSON", "Payload": other.sign(json.dumps(spec))}}},
    }
    for name, env in cases.items():
        for cmd in ["DownloadBundle", "BeforeInstall"]:
            c = fake.wait_complete(fake.queue(cmd, envelope=env, deployment_id="d-REJECT001"))
            d = diag(c)
            assert c["CommandStatus"] == "Failed", name
            assert d["error_code"] == 5 and d["message"].startswith("deployment specification rejected"), (name, d)
    assert "TEXT/JSON deployment specification refused" in a.log()
    assert "does not verify against daemon_cert" in a.log()
    assert not os.path.exists(os.path.join(a.root_dir, "dg-1"))
    assert not os.path.exists(events)


def test_developer_mode_accepts_text_json(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    sha, size = app_bundle(tmp_path, fake, "v1", www, events)
    agent(developer_mode=True)
    c = fake.wait_complete(fake.queue("DownloadBundle", envelope=fake.envelope(spec_for("d-DEVMODE01", sha, size),
                                                                              fmt="TEXT/JSON")))
    assert c["CommandStatus"] == "Succeeded", diag(c)


def test_crash_recovery_reports_error_code_7(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    started = str(tmp_path / "started")
    sha, size = app_bundle(tmp_path, fake, "v1", www, events, hooks={"ApplicationStart": "touch %s; sleep 60" % started})
    a = agent()
    deploy(fake, "d-CRASH0001", sha, size, commands=["DownloadBundle", "Install"])
    hcid = fake.queue("ApplicationStart", spec_for("d-CRASH0001", sha, size))
    wait_for(lambda: os.path.exists(started), what="the hook to start")
    a.kill9()
    assert hcid not in fake.completes
    a.start()
    c = fake.wait_complete(hcid, timeout=15)
    d = diag(c)
    assert c["CommandStatus"] == "Failed" and d["error_code"] == 7
    assert d["message"] == "Failing in-progress lifecycle event after an agent restart."
    wait_for(lambda: os.listdir(os.path.join(a.root_dir, "ongoing-deployment")) == [], 5,
             what="the tracking file to be removed")


def test_live_output_heartbeats_and_stop(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    hooks = {"ApplicationStart": "for i in 1 2 3; do echo line$i; sleep 1; done",
             "ValidateService": "echo waiting; sleep 60"}
    sha, size = app_bundle(tmp_path, fake, "v1", www, events, hooks=hooks)
    agent(heartbeat="1s")
    deploy(fake, "d-LIVE00001", sha, size, commands=["DownloadBundle", "Install"])
    hcid = fake.queue("ApplicationStart", spec_for("d-LIVE00001", sha, size))
    c = fake.wait_complete(hcid)
    assert c["CommandStatus"] == "Succeeded"
    ups = [u for h, u in fake.updates if h == hcid]
    logs = [json.loads(u["Diagnostics"]["Payload"]) for u in ups if "Diagnostics" in u]
    assert [l["seq"] for l in logs] == list(range(1, len(logs) + 1))
    assert "".join(l["log"] for l in logs) == "[stdout]line1\n[stdout]line2\n[stdout]line3\n"
    assert len(logs) >= 2  # sent as it came, not at the end
    assert all(l["script_name"] == "scripts/ApplicationStart.sh" for l in logs)
    assert all(u["EstimatedCompletionTime"] > time.time() for u in ups)
    # the server answers an update with Failed (e.g. StopDeployment): the hook is ended
    hcid = fake.queue("ValidateService", spec_for("d-LIVE00001", sha, size))
    fake.update_status[hcid] = "Failed"
    t0 = time.monotonic()
    c = fake.wait_complete(hcid)
    assert c["CommandStatus"] == "Failed" and "stopped by rolloutd" in diag(c)["message"]
    assert time.monotonic() - t0 < 10


def test_bundle_download_resumes_and_checks_sha(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    sha, size = app_bundle(tmp_path, fake, "v1", www, events,
                           extra_files={"web/big.bin": os.urandom(300000)})
    fake.cut_first_download.add(sha)
    agent()
    st, d = fake.run("DownloadBundle", spec_for("d-RESUME001", sha, size))
    assert st == "Succeeded", d
    assert fake.ranges and fake.ranges[0].startswith("bytes=") and fake.ranges[0] != "bytes=0-"
    # wrong sha256 in the spec: refused
    st, d = fake.run("DownloadBundle", spec_for("d-RESUME002", sha, size, extra={
        "RolloutBundle": {"Url": "/bundles/" + sha, "Sha256": "0" * 64, "Size": size}}))
    assert st == "Failed" and "sha256" in d["message"]


def test_hostile_bundle_is_refused(tmp_path, fake, agent):
    import io
    import tarfile
    path = str(tmp_path / "evil.tar")
    with tarfile.open(path, "w") as tf:
        ti = tarfile.TarInfo("../../escaped.txt")
        ti.size = 4
        tf.addfile(ti, io.BytesIO(b"evil"))
    data = open(path, "rb").read()
    import hashlib
    sha = hashlib.sha256(data).hexdigest()
    fake.bundles[sha] = data
    a = agent()
    st, d = fake.run("DownloadBundle", spec_for("d-EVIL00001", sha, len(data)))
    assert st == "Failed" and "contains '..'" in d["message"]
    assert not os.path.exists(os.path.join(a.root_dir, "dg-1", "escaped.txt"))
    assert not os.path.exists(os.path.join(a.root_dir, "escaped.txt"))


def test_local_revisions_and_retention(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    app_bundle(tmp_path, fake, "v1", www, events, name="local.tgz")
    src = str(tmp_path / "localdir")
    os.makedirs(os.path.join(src, "web"))
    with open(os.path.join(src, "appspec.yml"), "w") as f:
        f.write("version: 0.0\nos: linux\nfiles:\n  - source: /web\n    destination: %s\n" % www)
    with open(os.path.join(src, "web", "index.html"), "w") as f:
        f.write("from dir\n")
    a = agent(max_revisions=2)
    ids = []
    for i in range(4):
        dep = "d-LOCAL000%d" % i
        ids.append(dep)
        if i % 2:
            kw = dict(local=src, local_type="directory")
        else:
            kw = dict(local=str(tmp_path / "local.tgz"), local_type="tgz")
        res = deploy(fake, dep, None, None, commands=["DownloadBundle", "Install"], feb="OVERWRITE", **kw)
        assert res["Install"][0] == "Succeeded", res
        time.sleep(0.05)
    # max_revisions 2: the current one plus one more
    assert sorted(os.listdir(os.path.join(a.root_dir, "dg-1"))) == ids[2:]
    # the last successful one survives even when it is the oldest: fail Install of two newer ones
    fake.run("DownloadBundle", spec_for("d-LOCAL0009", None, None, local="/nonexistent.tgz"))
    assert "d-LOCAL0003" in os.listdir(os.path.join(a.root_dir, "dg-1"))
    fake.run("DownloadBundle", spec_for("d-LOCAL0010", None, None, local="/nonexistent.tgz"))
    assert "d-LOCAL0003" in os.listdir(os.path.join(a.root_dir, "dg-1"))


@pytest.fixture
def request_cleanup():
    fns = []
    yield fns
    for f in fns:
        f()


def test_runas_switches_user_without_a_shell(tmp_path, fake, agent, request_cleanup):
    import pwd
    if os.geteuid() != 0:
        pytest.skip("runas needs the agent to run as root")
    import shutil
    import tempfile
    nobody = pwd.getpwnam("nobody")
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    # pytest's tmp dirs are 0700: the deployment root and the output must be reachable for nobody
    shared = tempfile.mkdtemp(prefix="rollout-runas-")
    request_cleanup.append(lambda: shutil.rmtree(shared, ignore_errors=True))
    os.chmod(shared, 0o755)
    out = os.path.join(shared, "out")
    os.makedirs(out)
    os.chmod(out, 0o777)
    appspec_hooks = ("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/who.sh\n"
                     "      runas: nobody\n")
    sha, size = app_bundle(tmp_path, fake, "v1", www, events, hooks={"AfterInstall": "true"}, extra_files={
        "appspec.yml": appspec_hooks,
        "scripts/who.sh": script('echo "$(id -u) $(id -g) $HOME $USER" > %s/who' % out)})
    a = agent(hook_timeout_cap="30s", root_dir=os.path.join(shared, "root"))
    res = deploy(fake, "d-RUNAS0001", sha, size, commands=["DownloadBundle", "Install", "AfterInstall"])
    assert res["AfterInstall"][0] == "Succeeded", res
    assert open(os.path.join(out, "who")).read().split() == [str(nobody.pw_uid), str(nobody.pw_gid),
                                                             nobody.pw_dir, "nobody"]
    # an unknown user is a clear ScriptFailed, nothing runs
    sha2, size2 = app_bundle(tmp_path, fake, "v2", www, events, hooks={"AfterInstall": "true"}, extra_files={
        "appspec.yml": appspec_hooks.replace("nobody", "no-such-user-42"),
        "scripts/who.sh": script("touch %s/ran" % out)})
    res = deploy(fake, "d-RUNAS0002", sha2, size2, commands=["DownloadBundle", "Install", "AfterInstall"])
    st, d = res["AfterInstall"]
    assert st == "Failed" and d["error_code"] == 4 and "runas user 'no-such-user-42' does not exist" in d["message"]
    assert not os.path.exists(os.path.join(out, "ran"))


def test_config_errors(tmp_path):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("endpoint: http://127.0.0.1:1\nhost_identifier: h\naccess_key_id: a\n"
                   "secret_access_key: s\ndaemon_cert: /x\nbogus_key: 1\n")
    p = subprocess.run([harness.binary("rollout-agent"), "--config", str(cfg)], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 1
    assert "%s:6:1: unknown setting 'bogus_key'" % cfg in p.stderr
    cfg.write_text("endpoint: http://127.0.0.1:1\nhost_identifier: h\naccess_key_id: a\nsecret_access_key: s\n")
    p = subprocess.run([harness.binary("rollout-agent"), "--config", str(cfg)], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 1 and "'daemon_cert' is missing" in p.stderr


def test_sigterm_during_a_hook_ends_it_and_reports(tmp_path, fake, agent):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    started = str(tmp_path / "started")
    sha, size = app_bundle(tmp_path, fake, "v1", www, events,
                           hooks={"ApplicationStart": "touch %s; trap '' TERM; sleep 60" % started})
    a = agent()
    deploy(fake, "d-SIGTERM01", sha, size, commands=["DownloadBundle", "Install"])
    hcid = fake.queue("ApplicationStart", spec_for("d-SIGTERM01", sha, size))
    wait_for(lambda: os.path.exists(started), what="the hook to start")
    t0 = time.monotonic()
    a.stop(timeout=15)
    assert time.monotonic() - t0 < 8  # TERM, 1 s grace (kill_grace), KILL, Complete
    d = diag(fake.wait_complete(hcid, timeout=1))
    assert d["error_code"] == 5 and "rollout-agent is shutting down" in d["message"]


def test_backoff_and_clean_shutdown(tmp_path):
    port = harness.free_port()
    a = Agent(tmp_path, "http://127.0.0.1:%d" % port, HOST, "a", "s", "/nonexistent", developer_mode=True)
    a.start()
    # nobody listens: a fault, retried on the short schedule 1, 2, 4, 8, 10 s (PROTOCOL.md, Errors)
    wait_for(lambda: "retrying in 4 s" in a.log(), 10, what="the third back-off")
    log = a.log()
    assert log.index("retrying in 1 s") < log.index("retrying in 2 s") < log.index("retrying in 4 s"), log
    t0 = time.monotonic()
    a.stop()
    assert time.monotonic() - t0 < 3
