"""rollout-agent and rolloutd across faults of the host-command calls: real
rollout-agent processes talk to a real rolloutd through a fault-injecting
proxy (fault_proxy.py) that refuses, resets or answers 503 to one call, or
kills rolloutd (-9) and starts it again at that point. Whatever happens, each
lifecycle event runs exactly once and the deployment succeeds; hook runs are
counted in a file every hook script appends to.

The seeded randomized kill test (slow) kills rolloutd at a random moment of
each of 20 deployments; its seed is printed (ROLLOUT_KILL_SEED replays one)."""

import os
import random
import threading
import time

import pytest

from agent_helpers import Agent, make_bundle, script
from engine_helpers import Fleet, db_rows, upload_bundle
from fault_proxy import FaultProxy

HOOKS = ["ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]
EVENTS = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
          "ValidateService"]
FINAL = ("Succeeded", "Failed", "Stopped")


class ProxiedFleet:
    """On-prem instances running real rollout-agent processes whose endpoint
    is a FaultProxy in front of rolloutd."""

    def __init__(self, d, tmp_path, n=2, config="CodeDeployDefault.AllAtOnce"):
        self.d = d
        self.tmp = str(tmp_path)
        self.proxy = FaultProxy(d.port)
        self.f = Fleet(d, n=n, start_agents=False, config=config)
        self.runs = os.path.join(self.tmp, "hook-runs.log")
        self.agents = {}
        self.restarts = []
        self.kills = 0  # kills whose restart thread is running (kill_and_restart_async)
        self.restart_errors = []
        for name in self.f.names:
            keys = self.f.keys[name]
            self.agents[name] = Agent(self.tmp, self.proxy.url, "arn:aws:iam::000000000000:user/%s" % name,
                                      keys["AccessKeyId"], keys["SecretAccessKey"],
                                      os.path.join(d.data_dir, "daemon.crt"), name="agent-" + name,
                                      heartbeat="2s").start()

    def revision(self, version="v1", hook_sleep=1.2):
        """A bundle whose hooks append "EVENT DEPLOYMENT_ID SCRIPT_PATH" to
        hook-runs.log (the path names the agent); ApplicationStart prints and
        sleeps so that live output goes out in a PostHostCommandUpdate."""
        files = {"VERSION": version + "\n"}
        spec = "version: 0.0\nos: linux\nhooks:\n"
        for ev in HOOKS:
            body = 'echo "$LIFECYCLE_EVENT $DEPLOYMENT_ID $0" >> %s\necho "%s ran"' % (self.runs, ev)
            if ev == "ApplicationStart":
                body += "\nsleep %s\necho done" % hook_sleep
            spec += "  %s:\n    - location: scripts/%s.sh\n" % (ev, ev)
            files["scripts/%s.sh" % ev] = script(body)
        files["appspec.yml"] = spec
        path = os.path.join(self.tmp, "rev-%s.tgz" % version)
        make_bundle(path, files)
        rev = upload_bundle(self.d, self.d.admin, path)
        assert rev, "this rolloutd takes no bundle uploads"
        return rev

    def runs_of(self, dep):
        """{(host, event): count} of hook runs for deployment dep."""
        out = {}
        if not os.path.exists(self.runs):
            return out
        with open(self.runs) as fh:
            for line in fh:
                ev, dep_id, path = line.split()
                if dep_id != dep:
                    continue
                host = next(n for n in self.f.names if "/agent-%s/" % n in path)
                out[(host, ev)] = out.get((host, ev), 0) + 1
        return out

    def kill_and_restart_async(self):
        """kill -9 rolloutd now; start it again in the background."""
        d = self.d
        d.proc.kill()
        d.proc.wait()
        d._log.close()
        d.proc = None
        t = threading.Thread(target=self._restart, daemon=True)
        t.start()
        self.restarts.append(t)
        self.kills += 1

    def _restart(self):
        # a resume under the sanitizers on a loaded machine can take a while;
        # a failed start is reported by settle(), not lost with the thread
        try:
            self.d.start(timeout=60)
        except Exception as e:  # noqa: BLE001 -- handed to the test's thread
            self.restart_errors.append(e)

    def settle(self):
        # the proxy records a kill before it calls on_kill: wait for the
        # restart of every kill it recorded to be under way
        end = time.time() + 30
        while self.kills < sum(1 for f in self.proxy.fired if f[2] == "kill") and time.time() < end:
            time.sleep(0.02)
        for t in self.restarts:
            t.join(90)
        self.restarts = []
        assert not self.restart_errors, self.restart_errors
        assert self.d.proc is not None and self.d.proc.poll() is None, self.d.log_tail(40)

    def agent_logs(self):
        return "\n".join("--- %s\n%s" % (n, a.log()[-3000:]) for n, a in self.agents.items())

    def stop(self):
        for a in self.agents.values():
            if a.proc:
                a.stop()
        self.proxy.close()


@pytest.fixture
def fleet(daemon_factory, tmp_path):
    made = []

    def make(**kw):
        d = daemon_factory(plugins={"onprem": {}}, settings={"long_poll": "2s"})
        pf = ProxiedFleet(d, tmp_path, **kw)
        made.append(pf)
        return pf

    yield make
    for pf in made:
        pf.settle()
        pf.stop()


def assert_ran_once(pf, dep, info):
    assert info["status"] == "Succeeded", (info, pf.d.log_tail(40), pf.agent_logs())
    runs = pf.runs_of(dep)
    for name in pf.f.names:
        evs = pf.f.events(dep, name)
        assert [evs[e]["status"] for e in EVENTS] == ["Skipped"] + ["Succeeded"] * 6, (name, evs)
        for ev in HOOKS[1:]:
            assert runs.get((name, ev)) == 1, (name, ev, runs)
        assert (name, "ApplicationStop") not in runs, runs
    rows = db_rows(pf.d, "SELECT target_id, command_name, status, COUNT(*) FROM host_commands"
                         " WHERE deployment_id = ? GROUP BY target_id, command_name", (dep,))
    assert len(rows) == len(pf.f.names) * len(EVENTS), rows
    assert all(r[3] == 1 for r in rows), rows
    assert all(r[2] == "Succeeded" for r in rows), rows


OPS = ["GetDeploymentSpecification", "PutHostCommandAcknowledgement", "PostHostCommandUpdate",
       "PutHostCommandComplete"]


def first_command(op):
    """The command whose first `op` call meets the fault: ApplicationStart,
    except for GetDeploymentSpecification, which rollout-agent asks once per
    deployment (its first command, ApplicationStop) and keeps."""
    return "ApplicationStop" if op == "GetDeploymentSpecification" else "ApplicationStart"


@pytest.mark.parametrize("kind", ["refuse", "reset", "503"])
@pytest.mark.parametrize("op", OPS)
def test_fault_on_first_call(fleet, op, kind):
    """The first call `op` of an ApplicationStart command meets `kind`: the
    agent retries it and the event runs exactly once on every host."""
    pf = fleet(n=2)
    cmd = first_command(op)
    pf.proxy.add_rule(op, kind, command=cmd)
    dep = pf.f.deploy(pf.revision())
    info = pf.f.wait(dep, timeout=90)
    assert pf.proxy.fired == [(op, cmd, kind)], (pf.proxy.fired, pf.proxy.calls)
    assert_ran_once(pf, dep, info)
    if op == "GetDeploymentSpecification":
        # the spec was fetched again, not given up: nothing was completed Failed
        assert "deployment specification" not in pf.agent_logs()


@pytest.mark.parametrize("op", OPS)
def test_rolloutd_killed_at_first_call(fleet, op):
    """rolloutd is killed -9 when the first call `op` of an ApplicationStart
    command reaches it, and started again at once: the real agents ride it
    out and every event runs exactly once."""
    pf = fleet(n=2)
    pf.proxy.on_kill = pf.kill_and_restart_async
    cmd = first_command(op)
    pf.proxy.add_rule(op, "kill", command=cmd)
    dep = pf.f.deploy(pf.revision())
    end = time.time() + 60
    while time.time() < end and not pf.proxy.fired:
        time.sleep(0.05)
    assert pf.proxy.fired == [(op, cmd, "kill")], (pf.proxy.fired, pf.proxy.calls)
    pf.settle()
    info = pf.f.wait(dep, timeout=90)
    assert_ran_once(pf, dep, info)


@pytest.mark.slow
def test_random_kills_during_deployments(fleet):
    """20 deployments to 3 hosts, rolloutd killed -9 at a random moment of
    each and started again: each ends final, none Succeeded with a host
    whose hooks did not all run, and no hook ran twice for one command."""
    seed = int(os.environ.get("ROLLOUT_KILL_SEED") or random.randrange(1 << 30))
    print("random kill test seed: %d (ROLLOUT_KILL_SEED=%d replays it)" % (seed, seed))
    rnd = random.Random(seed)
    pf = fleet(n=3, config="CodeDeployDefault.HalfAtATime")
    rev = pf.revision(hook_sleep=0.2)
    t0 = time.monotonic()
    assert pf.f.wait(pf.f.deploy(rev), timeout=60)["status"] == "Succeeded"
    span = time.monotonic() - t0  # how long one deployment takes here: kills land inside it
    results, kills = [], 0
    for i in range(20):
        dep = pf.f.deploy(rev)
        start = time.monotonic()
        for at in sorted(rnd.uniform(0.0, span) for _ in range(rnd.choice((1, 2)))):
            time.sleep(max(0.0, start + at - time.monotonic()))
            if pf.f.cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"] in FINAL:
                break
            pf.kill_and_restart_async()
            pf.settle()
            kills += 1
        info = pf.f.wait(dep, timeout=120)
        assert info["status"] in FINAL, (seed, i, info)
        runs = pf.runs_of(dep)
        twice = {k: v for k, v in runs.items() if v > 1}
        assert not twice, (seed, i, dep, twice)
        for name in pf.f.names:
            evs = pf.f.events(dep, name)
            for ev in HOOKS:
                ran = runs.get((name, ev), 0)
                if evs[ev]["status"] == "Succeeded":
                    assert ran == 1, (seed, i, dep, name, ev, evs[ev], runs)
                if info["status"] == "Succeeded":
                    assert evs[ev]["status"] in ("Succeeded", "Skipped"), (seed, i, dep, name, evs)
        results.append(info["status"])
    print("random kill test seed %d: %d kills, %s" % (seed, kills, results))
    assert kills >= 10, "most kills landed after their deployment ended: %d" % kills
