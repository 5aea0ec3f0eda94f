"""Engine: deployments to on-prem fleets driven through the
host-command protocol by scripted agents (engine_helpers.FakeAgent)."""

import time

import pytest

from engine_helpers import EVENTS, CallError, Fleet, db_rows, s3_revision

SETTINGS = {"long_poll": "2s"}


@pytest.fixture
def d(daemon_factory):
    return daemon_factory(plugins={"onprem": {}}, settings=SETTINGS)


def test_all_at_once_succeeds_with_every_event_recorded(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=3)
    try:
        dep = f.deploy(s3_revision())
        info = f.wait(dep)
        assert info["status"] == "Succeeded", info
        assert info["deploymentOverview"]["Succeeded"] == 3
        assert info["creator"] == "user"
        for n in f.names:
            t = f.target(dep, n)
            assert t["status"] == "Succeeded"
            evs = [e["lifecycleEventName"] for e in t["lifecycleEvents"]]
            assert evs == EVENTS
            for e in t["lifecycleEvents"]:
                assert e["status"] == "Succeeded", e
                assert e["diagnostics"]["errorCode"] == "Success"
                assert e["startTime"] and e["endTime"]
            # each event ran exactly once on each host
            assert sorted(ev for (dd, ev, _) in f.agents[n].done if dd == dep) == sorted(EVENTS)
        # one host command per event, all Succeeded
        rows = db_rows(d, "SELECT target_id, command_name, COUNT(*), MIN(status) FROM host_commands"
                          " WHERE deployment_id = ? GROUP BY target_id, command_name", (dep,))
        assert len(rows) == 21 and all(r[2] == 1 and r[3] == "Succeeded" for r in rows), rows
    finally:
        f.stop()


def test_noop_events_are_skipped(d):
    noop = {"BeforeInstall", "AfterInstall", "ApplicationStop"}
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=2,
              behaviours={"host-0": lambda dep, ev: "noop" if ev in noop else "ok",
                          "host-1": lambda dep, ev: "noop"})
    try:
        dep = f.deploy(s3_revision())
        assert f.wait(dep)["status"] == "Succeeded"
        ev = f.events(dep, "host-0")
        for name in EVENTS:
            assert ev[name]["status"] == ("Skipped" if name in noop else "Succeeded"), (name, ev[name])
        # DownloadBundle and Install are never noops: the daemon runs them anyway
        ev = f.events(dep, "host-1")
        assert ev["DownloadBundle"]["status"] == "Succeeded" and ev["Install"]["status"] == "Succeeded"
        assert ev["ValidateService"]["status"] == "Skipped"
    finally:
        f.stop()


def test_one_at_a_time_runs_hosts_in_turn_and_tolerates_last_failure(d):
    last = "host-2"
    f = Fleet(d, n=3, behaviours={last: lambda dep, ev: "fail" if ev == "ApplicationStart" else "ok"})
    try:
        dep = f.deploy(s3_revision())
        info = f.wait(dep)
        # the last instance may fail under OneAtATime
        assert info["status"] == "Succeeded", info
        assert info["deploymentOverview"]["Failed"] == 1 and info["deploymentOverview"]["Succeeded"] == 2
        ev = f.events(dep, last)
        assert ev["ApplicationStart"]["status"] == "Failed"
        diag = ev["ApplicationStart"]["diagnostics"]
        assert diag["errorCode"] == "ScriptFailed" and diag["scriptName"] == "scripts/ApplicationStart.sh"
        assert "boom" in diag["logTail"]
        assert ev["ValidateService"]["status"] == "Skipped"
        # strictly one host at a time: command creation times never interleave
        rows = db_rows(d, "SELECT target_id FROM host_commands WHERE deployment_id = ? ORDER BY id", (dep,))
        order = [r[0] for r in rows]
        assert order == sorted(order, key=lambda n: order.index(n)), order
        assert len([i for i in range(1, len(order)) if order[i] != order[i - 1]]) == 2, order
    finally:
        f.stop()


def test_one_at_a_time_first_failure_fails_and_skips_the_rest(d):
    f = Fleet(d, n=3, behaviours={"host-0": lambda dep, ev: "fail" if ev == "BeforeInstall" else "ok"})
    try:
        dep = f.deploy(s3_revision())
        info = f.wait(dep)
        assert info["status"] == "Failed"
        assert info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
        assert f.target(dep, "host-0")["status"] == "Failed"
        for n in ("host-1", "host-2"):
            t = f.target(dep, n)
            assert t["status"] == "Skipped"
            assert {e["status"] for e in t["lifecycleEvents"]} == {"Skipped"}
        assert info["rollbackInfo"]["rollbackMessage"] if info.get("rollbackInfo") else True
    finally:
        f.stop()


def test_half_at_a_time_batches(d):
    # 5 hosts: minimum 3 healthy (50% rounded up), so at most 2 in flight
    peak = {"n": 0}
    f = Fleet(d, config="CodeDeployDefault.HalfAtATime", n=5, delay=0.05)
    inflight = set()

    def watch(name):
        def b(dep, ev):
            inflight.add(name)
            peak["n"] = max(peak["n"], len(inflight))
            if ev == "ValidateService":
                inflight.discard(name)
            return "ok"
        return b
    for n, a in f.agents.items():
        a.behaviour = watch(n)
    try:
        dep = f.deploy(s3_revision())
        assert f.wait(dep)["status"] == "Succeeded"
        assert peak["n"] == 2, peak
    finally:
        f.stop()


def test_custom_host_count_fails_when_minimum_cannot_hold(d):
    cd = d.boto3_client(d.admin)
    cd.create_deployment_config(deploymentConfigName="Keep3",
                                minimumHealthyHosts={"type": "HOST_COUNT", "value": 3})
    # 4 hosts, keep 3 healthy: one at a time; one failure exhausts the budget
    f = Fleet(d, config="Keep3", n=4, behaviours={"host-0": lambda dep, ev: "fail" if ev == "Install" else "ok"})
    try:
        dep = f.deploy(s3_revision())
        info = f.wait(dep)
        assert info["status"] == "Failed" and info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS", info
        ov = info["deploymentOverview"]
        assert ov["Failed"] == 1 and ov["Skipped"] == 3, ov
    finally:
        f.stop()


def test_minimum_larger_than_fleet_is_health_constraints_invalid(d):
    cd = d.boto3_client(d.admin)
    cd.create_deployment_config(deploymentConfigName="Keep9",
                                minimumHealthyHosts={"type": "HOST_COUNT", "value": 9})
    f = Fleet(d, config="Keep9", n=2)
    try:
        info = f.wait(f.deploy(s3_revision()))
        assert info["status"] == "Failed"
        assert info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS_INVALID"
        assert "requires 9 healthy" in info["errorInformation"]["message"]
    finally:
        f.stop()


def test_no_instances(d):
    f = Fleet(d, n=0)
    info = f.wait(f.deploy(s3_revision()))
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "NO_INSTANCES"


def test_deregistered_instance_is_never_a_target(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=3)
    try:
        f.cd.deregister_on_premises_instance(instanceName="host-1")
        dep = f.deploy(s3_revision())
        assert f.wait(dep)["status"] == "Succeeded"
        ids = f.cd.list_deployment_targets(deploymentId=dep)["targetIds"]
        assert sorted(ids) == ["host-0", "host-2"]
    finally:
        f.stop()


def test_complete_is_idempotent_and_keys_are_bound(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=2, start_agents=False)
    try:
        dep = f.deploy(s3_revision())
        a0, a1 = f.agents["host-0"], f.agents["host-1"]
        hc = a0.poll(timeout=10)["HostCommand"]
        assert hc["CommandName"] == "ApplicationStop"
        # host-1's key cannot poll as host-0 nor report on host-0's command
        with pytest.raises(CallError) as ei:
            a1.client.call("CodeDeployCommandService_v20141006.PollHostCommand", {"HostIdentifier": a0.hid})
        assert ei.value.type == "AccessDeniedException"
        with pytest.raises(CallError) as ei:
            a1.complete(hc["HostCommandIdentifier"], ok=True)
        assert ei.value.type == "AccessDeniedException"
        a0.spec(hc["DeploymentExecutionId"])
        assert a0.ack(hc["HostCommandIdentifier"])["CommandStatus"] == "InProgress"
        a0.complete(hc["HostCommandIdentifier"], ok=True)
        # the official agent's second Complete (error_code 5) does not change the result
        a0.complete(hc["HostCommandIdentifier"], ok=False, code=5)
        ev = f.events(dep, "host-0")["ApplicationStop"]
        assert ev["status"] == "Succeeded", ev
        # one command at a time: the next event is only now offered
        hc2 = a0.poll(timeout=10)["HostCommand"]
        assert hc2["CommandName"] == "DownloadBundle"
    finally:
        f.stop()


def test_long_poll_answers_as_soon_as_a_command_is_queued(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=1, start_agents=False)
    a = f.agents["host-0"]
    import threading
    got = {}

    def poller():
        t0 = time.monotonic()
        got["r"] = a.poll(timeout=10)
        got["t"] = time.monotonic() - t0
    th = threading.Thread(target=poller)
    th.start()
    time.sleep(0.5)
    t1 = time.monotonic()
    f.deploy(s3_revision())
    th.join(10)
    assert "HostCommand" in got["r"], got
    # answered promptly after the deployment was created, not at the 2 s hold's end
    assert time.monotonic() - t1 < 1.0, got
    # an idle poll is held (~2 s here) and answered {}
    t0 = time.monotonic()
    b = f.add_instance("idle-1", start=False, tag=False)
    assert b.poll(timeout=10) == {}
    assert 1.5 < time.monotonic() - t0 < 4.0
    f.stop()


def test_live_output_is_stored_per_event(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=1, start_agents=False)
    a = f.agents["host-0"]
    try:
        dep = f.deploy(s3_revision())
        hc = a.poll(timeout=10)["HostCommand"]
        cid = hc["HostCommandIdentifier"]
        a.spec(hc["DeploymentExecutionId"])
        a.ack(cid)
        assert a.update(cid, log="[stdout]one\n", seq=1)["CommandStatus"] == "InProgress"
        a.update(cid, log="[stdout]one\n", seq=1)  # a retried update is dropped
        a.update(cid, log="[stderr]two\n", seq=2)
        # live output is durable within the engine's light-transaction window (25 ms)
        end = time.time() + 5
        while True:
            rows = db_rows(d, "SELECT lifecycle_event, seq, chunk FROM hook_logs WHERE deployment_id = ?"
                              " ORDER BY seq", (dep,))
            if len(rows) >= 2 or time.time() > end:
                break
            time.sleep(0.02)
        assert rows == [("ApplicationStop", 1, "[stdout]one\n"), ("ApplicationStop", 2, "[stderr]two\n")], rows
    finally:
        f.stop()


def test_aws_cli_create_deployment_and_wait(d):
    f = Fleet(d, config="CodeDeployDefault.OneAtATime", n=3)
    try:
        # the group's target revision (set by a first deployment) is what the
        # CLI deploys when no revision is given; with the daemon's bundle cache
        # it is an uploaded bundle the CLI could not name itself
        assert f.wait(f.deploy(s3_revision("cli.zip")))["status"] == "Succeeded"
        p, out = d.aws(d.admin, "deploy", "create-deployment", "--application-name", f.app,
                       "--deployment-group-name", f.group)
        dep = out["deploymentId"]
        t0 = time.monotonic()
        p, _ = d.aws(d.admin, "deploy", "wait", "deployment-successful", "--deployment-id", dep, timeout=120)
        assert p.returncode == 0
        assert time.monotonic() - t0 < 40
        p, out = d.aws(d.admin, "deploy", "get-deployment", "--deployment-id", dep)
        assert out["deploymentInfo"]["status"] == "Succeeded"
        assert out["deploymentInfo"]["deploymentOverview"]["Succeeded"] == 3
        # a failed deployment makes the waiter fail
        f.agents["host-0"].behaviour = lambda dep_, ev: "fail" if ev == "Install" else "ok"
        p, out = d.aws(d.admin, "deploy", "create-deployment", "--application-name", f.app,
                       "--deployment-group-name", f.group)
        p, _ = d.aws(d.admin, "deploy", "wait", "deployment-successful", "--deployment-id", out["deploymentId"],
                     check=False, timeout=120)
        assert p.returncode == 255 and "terminal failure state" in p.stderr, p.stderr
    finally:
        f.stop()
