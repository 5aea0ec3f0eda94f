"""Engine: kill -9 of rolloutd at several points of a deployment,
then restart. The deployment must end where it would have, with every
lifecycle event recorded exactly once."""

import random
import threading
import time

import pytest

from engine_helpers import EVENTS, Fleet, db_rows, kill9_and_restart, s3_revision


@pytest.fixture
def d(daemon_factory):
    return daemon_factory(plugins={"onprem": {}}, settings={"long_poll": "1s"})


def assert_exactly_once(d, f, dep, names, status="Succeeded"):
    info = f.wait(dep, timeout=40)
    assert info["status"] == status, (info, d.log_tail(40))
    rows = db_rows(d, "SELECT target_id, command_name, COUNT(*) FROM host_commands WHERE deployment_id = ?"
                      " GROUP BY target_id, command_name", (dep,))
    assert all(r[2] == 1 for r in rows), rows
    assert len(rows) == len(names) * len(EVENTS), rows
    for n in names:
        evs = f.target(dep, n)["lifecycleEvents"]
        assert [e["lifecycleEventName"] for e in evs] == EVENTS
        assert all(e["status"] == "Succeeded" for e in evs), evs
        ran = [ev for (x, ev, _) in f.agents[n].done if x == dep]
        assert sorted(ran) == sorted(EVENTS), (n, ran)
    return info


def test_kill_right_after_create(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=3)
    for a in f.agents.values():
        a.retry_for = 30
    try:
        dep = f.deploy(s3_revision())
        kill9_and_restart(d)
        assert_exactly_once(d, f, dep, f.names)
    finally:
        f.stop()


@pytest.mark.parametrize("where", ["ack", "complete"])
def test_kill_with_commands_in_flight(d, where):
    """Every host holds BeforeInstall before acknowledging it, or after
    acknowledging and before completing; the daemon dies meanwhile."""
    gate = threading.Event()
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=3)
    for a in f.agents.values():
        a.retry_for = 30
        a.gates["BeforeInstall"] = (gate, where)
    try:
        dep = f.deploy(s3_revision())
        end = time.time() + 15
        while time.time() < end and not all(a.at_gate for a in f.agents.values()):
            time.sleep(0.02)
        assert all(a.at_gate for a in f.agents.values()), d.log_tail(30)
        kill9_and_restart(d)
        gate.set()
        assert_exactly_once(d, f, dep, f.names)
    finally:
        gate.set()
        f.stop()


def test_kill_repeatedly_during_one_at_a_time(d):
    f = Fleet(d, n=3, delay=0.03)
    for a in f.agents.values():
        a.retry_for = 30
    rnd = random.Random(6)
    try:
        dep = f.deploy(s3_revision())
        for _ in range(3):
            time.sleep(rnd.uniform(0.15, 0.4))
            if f.cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"] != "InProgress":
                break
            kill9_and_restart(d)
        assert_exactly_once(d, f, dep, f.names)
    finally:
        f.stop()


def test_kill_during_failure_keeps_the_rollback_decision(d):
    """The failing report is durable before it is answered: after a crash the
    deployment is Failed and exactly one rollback deployment exists."""
    bad = {}
    gate = threading.Event()
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=2,
              auto_rollback={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
              behaviours={n: (lambda dep, ev: "fail" if dep == bad.get("d") and ev == "ApplicationStart" else "ok")
                          for n in ("host-0", "host-1")})
    for a in f.agents.values():
        a.retry_for = 30
    try:
        assert f.wait(f.deploy(s3_revision("v1.zip")))["status"] == "Succeeded"
        for a in f.agents.values():
            a.gates["ApplicationStart"] = (gate, "complete")
        bad["d"] = dep = f.deploy(s3_revision("v2.zip"))
        end = time.time() + 15
        while time.time() < end and not all(a.at_gate for a in f.agents.values()):
            time.sleep(0.02)
        kill9_and_restart(d)
        gate.set()
        info = f.wait(dep, timeout=40)
        assert info["status"] == "Failed"
        rb = info["rollbackInfo"]["rollbackDeploymentId"]
        assert f.wait(rb, timeout=40)["status"] == "Succeeded"
        rollbacks = [x for x in f.cd.list_deployments(applicationName=f.app, deploymentGroupName=f.group)["deployments"]
                     if f.cd.get_deployment(deploymentId=x)["deploymentInfo"]["creator"] == "codeDeployRollback"]
        assert rollbacks == [rb]
    finally:
        gate.set()
        f.stop()


def _one_rollout_agent(d):
    """A fleet of one host whose scripted agent, not started, says it is
    rollout-agent (which polls only between commands)."""
    f = Fleet(d, n=1, start_agents=False)
    a = f.agents[f.names[0]]
    a.client.extra_headers["X-Amz-Codedeploy-Agent-Version"] = "ROLLOUT_AGENT_test"
    return f, a


def _first_command(agent, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        hc = agent.poll(timeout=10).get("HostCommand")
        if hc:
            return hc
    raise AssertionError("no command offered within %ds" % timeout)


def test_completion_without_acknowledgement_is_accepted(d):
    """The official agent completes a command Failed without acknowledging it
    when its specification call raises: rolloutd takes that report and the
    deployment follows the normal failure rules."""
    f = Fleet(d, n=1, start_agents=False)
    a = f.agents[f.names[0]]
    try:
        dep = f.deploy(s3_revision())
        hc = _first_command(a)
        a.complete(hc["HostCommandIdentifier"], ok=False, code=5,
                   message="cannot get the deployment specification: boom")
        info = f.wait(dep)
        assert info["status"] == "Failed", info
        ev = f.events(dep, f.names[0])[hc["CommandName"]]
        assert ev["status"] == "Failed" and "cannot get the deployment specification" in ev["diagnostics"]["message"]
    finally:
        f.stop()


@pytest.mark.parametrize("restart", [False, True])
def test_unacknowledged_command_is_offered_again_to_rollout_agent(d, restart):
    """rollout-agent polls only between commands: a command it was handed but
    never acknowledged (it could not fetch the specification, or the answer
    was lost in a crash) is offered again on its next poll, with or without
    a daemon restart in between, and its specification is served again for
    the same DeploymentExecutionId; then it runs to the end."""
    f, a = _one_rollout_agent(d)
    try:
        dep = f.deploy(s3_revision())
        hc = _first_command(a)
        time.sleep(0.2)  # the hand-out is durable (written in the poll's batch)
        if restart:
            a.client.close()
            kill9_and_restart(d)
        again = _first_command(a, timeout=5)
        assert again["HostCommandIdentifier"] == hc["HostCommandIdentifier"]
        assert again["DeploymentExecutionId"] == hc["DeploymentExecutionId"]
        spec = a.spec(again["DeploymentExecutionId"])
        assert spec["DeploymentSpecification"]["GenericEnvelope"]["Format"] == "PKCS7/JSON"
        a.start()
        info = f.wait(dep)
        assert info["status"] == "Succeeded", (info, a.errors)
        rows = db_rows(d, "SELECT command_name, COUNT(*) FROM host_commands WHERE deployment_id = ?"
                          " GROUP BY command_name", (dep,))
        assert all(r[1] == 1 for r in rows) and len(rows) == len(EVENTS), rows
    finally:
        f.stop()


def test_noop_acknowledgement_is_answered_once_committed(d):
    """An acknowledgement with IsCommandNoop ends the command: its answer
    (Succeeded, "do not run it") is the completion, so it goes out only once
    the event's result is in the store. A kill -9 right after it must not
    offer the event again after the agent moved on to the next one."""
    f, a = _one_rollout_agent(d)
    try:
        dep = f.deploy(s3_revision())
        hc = _first_command(a)
        assert hc["CommandName"] == "ApplicationStop"
        a.spec(hc["DeploymentExecutionId"])
        assert a.ack(hc["HostCommandIdentifier"], noop=True)["CommandStatus"] == "Succeeded"
        rows = db_rows(d, "SELECT status FROM host_commands WHERE deployment_id = ? AND command_name = ?",
                       (dep, "ApplicationStop"))
        assert rows == [("Succeeded",)], rows
        a.client.close()
        kill9_and_restart(d)
        nxt = _first_command(a, timeout=10)
        assert nxt["CommandName"] == "DownloadBundle", nxt
        a.start()
        info = f.wait(dep)
        assert info["status"] == "Succeeded", (info, a.errors)
        ev = f.events(dep, f.names[0])["ApplicationStop"]
        assert ev["status"] == "Skipped", ev
    finally:
        f.stop()


def test_specification_of_an_unknown_deployment_is_not_found(d):
    f = Fleet(d, n=1, start_agents=False)
    a = f.agents[f.names[0]]
    try:
        with pytest.raises(Exception) as ei:
            a.spec("CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:000000000000:deployment/d-NOSUCH000")
        assert getattr(ei.value, "type", "").endswith("DeploymentDoesNotExistException"), ei.value
    finally:
        f.stop()


def test_rollout_agent_polling_with_an_unreported_command_fails_it(d):
    """rollout-agent polls only between commands: a poll while its command
    is acknowledged means it gave up reporting it (rolloutd unreachable for
    its whole retry window). The event fails at once instead of waiting for
    ever behind the agent's held polls, and is not offered again."""
    f, a = _one_rollout_agent(d)
    try:
        dep = f.deploy(s3_revision())
        hc = _first_command(a)
        a.spec(hc["DeploymentExecutionId"])
        assert a.ack(hc["HostCommandIdentifier"])["CommandStatus"] == "InProgress"
        assert a.poll(timeout=10) == {}
        info = f.wait(dep)
        assert info["status"] == "Failed", info
        ev = f.events(dep, f.names[0])[hc["CommandName"]]
        assert ev["status"] == "Failed" and "without reporting" in ev["diagnostics"]["message"], ev
    finally:
        f.stop()
