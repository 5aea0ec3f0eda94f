"""Engine end to end with real rollout-agent processes: 4 on-prem
hosts on loopback, each with its own agent key and deployment root, a
revision uploaded into the daemon's bundle cache and downloaded by the agents
from /bundles/<sha256>. Skips when this rolloutd cannot deliver bundles.

Hook scripts record "<event> <version> <deployment>" into <root>/events.log
of the agent that runs them (they find their root from their own path)."""

import os
import time

import pytest

import harness
from agent_helpers import Agent, make_bundle, script
from engine_helpers import EVENTS, Fleet, db_rows, kill9_and_restart

HOOKS = ["ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]
REC = ('R=$(cd "$(dirname "$0")/../../../.." && pwd)\n'
       'echo "$LIFECYCLE_EVENT %s $DEPLOYMENT_ID" >> "$R/events.log"')


@pytest.fixture
def d(daemon_factory):
    try:
        harness.binary("rollout-agent")
    except harness.HarnessError as e:
        pytest.skip(str(e))
    return daemon_factory(plugins={"onprem": {}}, settings={"long_poll": "5s"})


def make_revision(tmp_path, version, fail=None, slow=None):
    """A tgz with appspec.yml and five recording hooks; `fail` names a hook
    that exits 1, `slow` one that sleeps 30 s."""
    appspec = "version: 0.0\nos: linux\nhooks:\n"
    files = {}
    for ev in HOOKS:
        body = REC % version
        if ev == fail:
            body += "\necho failing on purpose >&2\nexit 1"
        if ev == slow:
            body += "\nsleep 30"
        appspec += "  %s:\n    - location: scripts/%s.sh\n      timeout: 60\n" % (ev, ev)
        files["scripts/%s.sh" % ev] = script(body)
    files["appspec.yml"] = appspec
    path = os.path.join(str(tmp_path), "rev-%s.tgz" % version)
    make_bundle(path, files)
    return path


class RealAgents:
    def __init__(self, d, tmp_path, n=4, config="CodeDeployDefault.AllAtOnce", **kw):
        self.d, self.tmp = d, tmp_path
        self.f = Fleet(d, n=n, start_agents=False, config=config, **kw)
        self.agents = {}
        for name in self.f.names:
            self.start(name)

    def start(self, name):
        keys = self.f.keys[name]
        a = Agent(self.tmp, self.d.url, "arn:aws:iam::000000000000:user/%s" % name, keys["AccessKeyId"],
                  keys["SecretAccessKey"], os.path.join(self.d.data_dir, "daemon.crt"), name="agent-" + name,
                  heartbeat="2s")
        self.agents[name] = a.start()
        return a

    def upload(self, path):
        from test_agent_rolloutd import upload_bundle  # the agent tests' uploader (docs/api-extensions.md §2)
        rev = upload_bundle(self.d, self.d.admin, path)
        if rev is None:
            pytest.skip("this rolloutd takes no bundle uploads yet (bundle cache not started)")
        return rev

    def deploy(self, path, **kw):
        body = {"applicationName": self.f.app, "deploymentGroupName": self.f.group, "revision": self.upload(path)}
        body.update(kw)
        try:
            return self.f.admin.call("CodeDeploy_20141006.CreateDeployment", body)["deploymentId"]
        except Exception as e:
            if "InvalidRevisionException" in str(e):
                pytest.skip("this rolloutd refuses Bundle revisions for servers yet: %s" % e)
            raise

    def recorded(self, name):
        p = os.path.join(self.agents[name].root_dir, "events.log")
        if not os.path.exists(p):
            return []
        with open(p) as f:
            return [ln.split() for ln in f.read().splitlines()]

    def wait(self, dep, timeout=60):
        info = self.f.wait(dep, timeout=timeout)
        return info

    def logs(self):
        return "\n".join("--- %s\n%s" % (n, a.log()[-1500:]) for n, a in self.agents.items())

    def stop(self):
        for a in self.agents.values():
            if a.proc:
                a.stop()


@pytest.fixture
def fleet(d, tmp_path):
    made = []

    def make(**kw):
        f = RealAgents(d, tmp_path, **kw)
        made.append(f)
        return f
    yield make
    for f in made:
        f.stop()


def test_builtin_and_custom_configs_with_real_agents(d, fleet, tmp_path):
    cd = d.boto3_client(d.admin)
    cd.create_deployment_config(deploymentConfigName="ThreeQuarters",
                                minimumHealthyHosts={"type": "FLEET_PERCENT", "value": 75})
    f = fleet(n=4)
    v1 = make_revision(tmp_path, "v1")
    for cfg in ["CodeDeployDefault.AllAtOnce", "CodeDeployDefault.HalfAtATime", "CodeDeployDefault.OneAtATime",
                "ThreeQuarters"]:
        dep = f.deploy(v1, deploymentConfigName=cfg)
        info = f.wait(dep)
        assert info["status"] == "Succeeded", (cfg, info, f.logs())
        assert info["deploymentOverview"]["Succeeded"] == 4
        for n in f.f.names:
            got = [r for r in f.recorded(n) if r[2] == dep]
            # the first deployment has no previous revision: its ApplicationStop is a noop
            want = HOOKS if cfg != "CodeDeployDefault.AllAtOnce" else HOOKS[1:]
            assert [r[0] for r in got] == want, (cfg, n, got)
            ev = f.f.events(dep, n)
            assert ev["DownloadBundle"]["status"] == "Succeeded" and ev["Install"]["status"] == "Succeeded"
        # concurrency as configured: hosts overlapping in time
        rows = db_rows(d, "SELECT target_id, MIN(create_time), MAX(complete_time) FROM host_commands"
                          " WHERE deployment_id = ? GROUP BY target_id", (dep,))
        spans = [(r[1], r[2]) for r in rows]
        peak = max(sum(1 for (s, e) in spans if s <= t < e) for (t, _) in spans)
        limit = {"CodeDeployDefault.AllAtOnce": 4, "CodeDeployDefault.HalfAtATime": 2,
                 "CodeDeployDefault.OneAtATime": 1, "ThreeQuarters": 1}[cfg]
        assert peak <= limit, (cfg, spans)


def test_failing_hook_rolls_back_with_real_agents(d, fleet, tmp_path):
    f = fleet(n=3, auto_rollback={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]})
    good = f.deploy(make_revision(tmp_path, "v1"))
    assert f.wait(good)["status"] == "Succeeded", f.logs()
    bad = f.deploy(make_revision(tmp_path, "v2", fail="ValidateService"))
    info = f.wait(bad)
    assert info["status"] == "Failed", info
    diag = f.f.events(bad, info and f.f.names[0])["ValidateService"]["diagnostics"]
    assert diag["errorCode"] == "ScriptFailed" and "failing on purpose" in diag["logTail"], diag
    rb = info["rollbackInfo"]["rollbackDeploymentId"]
    rinfo = f.wait(rb)
    assert rinfo["status"] == "Succeeded" and rinfo["creator"] == "codeDeployRollback", (rinfo, f.logs())
    for n in f.f.names:
        got = [r for r in f.recorded(n) if r[2] == rb]
        assert [r[1] for r in got if r[0] != "ApplicationStop"] == ["v1"] * 4, got


def test_failing_hook_without_rollback_one_at_a_time(d, fleet, tmp_path):
    f = fleet(n=3, config="CodeDeployDefault.OneAtATime")
    dep = f.deploy(make_revision(tmp_path, "v1", fail="AfterInstall"))
    info = f.wait(dep)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    assert not info.get("rollbackInfo", {}).get("rollbackDeploymentId")
    ov = info["deploymentOverview"]
    assert ov["Failed"] == 1 and ov["Skipped"] == 2, ov


def test_stop_ends_a_running_hook(d, fleet, tmp_path):
    f = fleet(n=2)
    dep = f.deploy(make_revision(tmp_path, "v1", slow="BeforeInstall"))
    end = time.time() + 20
    while time.time() < end:
        if all(any(r[0] == "BeforeInstall" for r in f.recorded(n)) for n in f.f.names):
            break
        time.sleep(0.05)
    t0 = time.time()
    assert f.f.cd.stop_deployment(deploymentId=dep)["status"] == "Succeeded"
    info = f.wait(dep)
    assert info["status"] == "Stopped"
    # the agents ended the sleeping hook (told by PostHostCommandUpdate) well before its 30 s
    end = time.time() + 15
    while time.time() < end and not all("stopped by rolloutd" in a.log() for a in f.agents.values()):
        time.sleep(0.1)
    assert all("stopped by rolloutd" in a.log() for a in f.agents.values()), f.logs()
    assert time.time() - t0 < 15, f.logs()
    for n in f.f.names:
        ev = f.f.events(dep, n)
        assert ev["BeforeInstall"]["status"] == "Failed" and ev["ApplicationStart"]["status"] == "Skipped", ev
        assert not any(r[0] == "AfterInstall" for r in f.recorded(n))


def test_new_instance_auto_update_with_real_agent(d, fleet, tmp_path):
    f = fleet(n=2)
    good = f.deploy(make_revision(tmp_path, "v1"))
    assert f.wait(good)["status"] == "Succeeded", f.logs()
    f.f.add_instance("late-0", start=False)
    f.start("late-0")
    end = time.time() + 30
    while time.time() < end:
        got = f.recorded("late-0")
        if any(r[0] == "ValidateService" for r in got):
            break
        time.sleep(0.1)
    got = f.recorded("late-0")
    assert [r[0] for r in got] == HOOKS[1:] and all(r[1] == "v1" for r in got), (got, f.logs())
    auto = got[0][2]
    info = f.wait(auto)
    assert info["creator"] == "CodeDeployAutoUpdate" and info["status"] == "Succeeded"


def test_daemon_crash_with_real_agents(d, fleet, tmp_path):
    f = fleet(n=3, config="CodeDeployDefault.OneAtATime")
    dep = f.deploy(make_revision(tmp_path, "v1"))
    time.sleep(0.4)
    kill9_and_restart(d)
    time.sleep(0.6)
    kill9_and_restart(d)
    info = f.wait(dep, timeout=90)
    assert info["status"] == "Succeeded", (info, f.logs(), d.log_tail(40))
    rows = db_rows(d, "SELECT target_id, command_name, COUNT(*) FROM host_commands WHERE deployment_id = ?"
                      " GROUP BY target_id, command_name", (dep,))
    assert len(rows) == 3 * len(EVENTS) and all(r[2] == 1 for r in rows), rows
    for n in f.f.names:
        hooks = [r[0] for r in f.recorded(n) if r[2] == dep]
        assert hooks == HOOKS[1:], (n, hooks)
