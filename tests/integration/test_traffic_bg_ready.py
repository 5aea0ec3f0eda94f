"""Blue/green with deploymentReadyOption STOP_DEPLOYMENT, end to end (the stack of
test_traffic_e2e.py: rolloutd, real HAProxy, four real rollout-agents running an
HTTP app, a client sending requests throughout). The green fleet is deployed,
the deployment is Ready and traffic stays on blue until ContinueDeployment; without
it the deployment is Stopped after waitTimeInMinutes (CodeDeploy's behaviour). With
TERMINATE, ContinueDeployment(TERMINATION_WAIT) ends terminationWaitTimeInMinutes, whose
start and end are stored across a kill -9; the After* hooks run before that wait, and a
failed AfterAllowTraffic routes traffic back to the original fleet."""

import os
import time

import pytest

import traffic_helpers as th
from test_traffic_e2e import BLUE, GREEN, MINUTE_MS, bg_stack, fleet_filter, fleet_version  # noqa: F401

pytestmark = pytest.mark.skipif(not os.access(th.HAPROXY, os.X_OK), reason="haproxy is not installed")


def set_ready_option(fleet, option):
    bg = fleet.cd.get_deployment_group(applicationName=fleet.app, deploymentGroupName=fleet.group)[
        "deploymentGroupInfo"]["blueGreenDeploymentConfiguration"]
    bg["deploymentReadyOption"] = option
    fleet.cd.update_deployment_group(applicationName=fleet.app, currentDeploymentGroupName=fleet.group,
                                     blueGreenDeploymentConfiguration=bg)


def set_terminate_option(fleet, option):
    bg = fleet.cd.get_deployment_group(applicationName=fleet.app, deploymentGroupName=fleet.group)[
        "deploymentGroupInfo"]["blueGreenDeploymentConfiguration"]
    bg["terminateBlueInstancesOnDeploymentSuccess"] = option
    fleet.cd.update_deployment_group(applicationName=fleet.app, currentDeploymentGroupName=fleet.group,
                                     blueGreenDeploymentConfiguration=bg)


def wait_status(fleet, dep, want, timeout=120):
    seen = []
    end = time.time() + timeout
    while time.time() < end:
        st = fleet.cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"]
        if not seen or seen[-1] != st:
            seen.append(st)
        if st == want:
            return seen
        assert st not in ("Succeeded", "Failed", "Stopped"), (want, seen, fleet.d.log_tail(60))
        time.sleep(0.1)
    raise AssertionError("deployment %s never %s: %s\n%s" % (dep, want, seen, fleet.d.log_tail(60)))


def check_labels(fleet, dep):
    """Targets of a blue/green deployment: the replacement fleet labelled Green, the
    original one Blue (GetDeploymentTarget, BatchGetDeploymentTargets,
    ListDeploymentInstances / GetDeploymentInstance as on CodeDeploy)."""
    cd = fleet.cd
    for n in BLUE + GREEN:
        t = cd.get_deployment_target(deploymentId=dep, targetId=n)["deploymentTarget"]["instanceTarget"]
        assert t["instanceLabel"] == ("Blue" if n in BLUE else "Green"), t
    got = cd.batch_get_deployment_targets(deploymentId=dep, targetIds=BLUE + GREEN)["deploymentTargets"]
    assert {t["instanceTarget"]["targetId"]: t["instanceTarget"]["instanceLabel"] for t in got} == \
        {n: "Blue" if n in BLUE else "Green" for n in BLUE + GREEN}, got
    assert sorted(cd.list_deployment_instances(deploymentId=dep)["instancesList"]) == sorted(BLUE + GREEN)
    assert sorted(cd.list_deployment_instances(deploymentId=dep, instanceTypeFilter=["Green"])[
        "instancesList"]) == GREEN
    assert sorted(cd.list_deployment_instances(deploymentId=dep, instanceTypeFilter=["Blue"])[
        "instancesList"]) == BLUE
    assert sorted(cd.list_deployment_targets(deploymentId=dep, targetFilters={"ServerInstanceLabel": ["Blue"]})[
        "targetIds"]) == BLUE
    s = cd.get_deployment_instance(deploymentId=dep, instanceId=BLUE[0])["instanceSummary"]
    assert s["instanceType"] == "Blue", s
    for n in BLUE:
        # CodeDeploy's order for the original instances of a blue/green deployment
        ev = fleet.events(dep, n)
        assert ev == [("BeforeBlockTraffic", "Succeeded"), ("BlockTraffic", "Succeeded"),
                      ("AfterBlockTraffic", "Succeeded")], ev
        # the hooks of blue's last successful revision (v1); blue never installs v2
        log = [ln for ln in fleet.hook_log(n) if ln]
        assert log[-2:] == ["BeforeBlockTraffic v1", "AfterBlockTraffic v1"], log
        assert not any("v2" in ln for ln in log), log
    return got


def test_blue_green_ready_then_continue_no_failed_requests(bg_stack):
    d, hx, fleet, alarm = bg_stack
    # 20 "minutes" of ready wait (60 s at MINUTE_MS): only ContinueDeployment moves traffic
    set_ready_option(fleet, {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 20})
    c = th.Client(hx.port).start()
    time.sleep(0.4)
    c.mark("deploy v2 to fleet b (STOP_DEPLOYMENT)")
    dep = fleet.deploy("v2", targetInstances=fleet_filter("b"))
    seen = wait_status(fleet, dep, "Ready")
    c.mark("Ready")
    for n in GREEN:
        ev = dict(fleet.events(dep, n))
        assert ev["BeforeAllowTraffic"] == "Succeeded" and ev["AllowTraffic"] == "InProgress", ev
    for n in BLUE:  # the original fleet is not touched before ContinueDeployment
        assert all(st == "Pending" for _, st in fleet.events(dep, n)), fleet.events(dep, n)
        assert not any("BlockTraffic" in ln for ln in fleet.hook_log(n)), fleet.hook_log(n)
    # a Ready deployment keeps serving from blue
    time.sleep(1.5)
    assert fleet.cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"] == "Ready"
    assert set(c.counts(0, 1e9, fleet_version)) == {"a v1"}, c.counts(0, 1e9, fleet_version)
    st = hx.server_states("web")
    assert all(st[n][0] & 0x01 for n in GREEN), st
    c.mark("ContinueDeployment")
    fleet.cd.continue_deployment(deploymentId=dep, deploymentWaitType="READY_WAIT")
    info = fleet.wait(dep, timeout=60)
    c.mark("v2 %s" % info["status"])
    time.sleep(0.5)
    c.stop()
    c.report("blue/green STOP_DEPLOYMENT: Ready, ContinueDeployment, fleet a v1 -> fleet b v2", bucket=1.0,
             key=fleet_version)
    print("statuses seen: %s -> %s" % (seen, info["status"]))
    assert info["status"] == "Succeeded", (info, d.log_tail(60))
    assert not c.failures(), c.failures()[:5]
    # traffic moved only after ContinueDeployment
    assert set(c.counts(0, c.marks[2][0], fleet_version)) == {"a v1"}
    first_b = min(t for t, s, body in c.results if s == 200 and fleet_version(body) == "b v2")
    assert first_b >= c.marks[2][0], (first_b, c.marks)
    assert set(c.counts(c.marks[3][0], 1e9, fleet_version)) == {"b v2"}
    for n in GREEN:
        assert dict(fleet.events(dep, n))["AllowTraffic"] == "Succeeded"
    st = hx.server_states("web")
    assert all(st[n][0] & 0x01 for n in BLUE), st
    assert all(st[n][0] == 0 for n in GREEN), st
    check_labels(fleet, dep)
    # a finished deployment cannot be continued again
    with pytest.raises(fleet.cd.exceptions.DeploymentAlreadyCompletedException):
        fleet.cd.continue_deployment(deploymentId=dep, deploymentWaitType="READY_WAIT")


def test_blue_green_ready_wait_times_out_stopped(bg_stack):
    d, hx, fleet, alarm = bg_stack
    set_ready_option(fleet, {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 1})  # 3 s
    c = th.Client(hx.port).start()
    time.sleep(0.3)
    dep = fleet.deploy("v2", targetInstances=fleet_filter("b"))
    wait_status(fleet, dep, "Ready")
    info = fleet.wait(dep, timeout=30)
    time.sleep(0.3)
    c.stop()
    assert info["status"] == "Stopped", (info, d.log_tail(40))
    assert info["errorInformation"]["code"] == "TIMEOUT", info
    assert "ContinueDeployment" in info["errorInformation"]["message"], info
    assert not c.failures(), c.failures()[:5]
    assert set(c.counts(0, 1e9, fleet_version)) == {"a v1"}
    for n in BLUE:  # never continued: blue ran none of its traffic hooks
        assert all(st == "Skipped" for _, st in fleet.events(dep, n)), fleet.events(dep, n)
    st = hx.server_states("web")
    assert all(st[n][0] == 0 for n in BLUE), st
    assert all(st[n][0] & 0x01 for n in GREEN), st



def test_blue_green_ready_survives_kill9(bg_stack):
    """Ready is stored: rolloutd killed while green waits comes back Ready, and
    ContinueDeployment after the restart moves traffic as before."""
    from engine_helpers import kill9_and_restart
    d, hx, fleet, alarm = bg_stack
    set_ready_option(fleet, {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 20})
    c = th.Client(hx.port).start()
    time.sleep(0.3)
    dep = fleet.deploy("v2", targetInstances=fleet_filter("b"))
    wait_status(fleet, dep, "Ready")
    kill9_and_restart(d)
    fleet.cd = d.boto3_client(d.admin)
    assert fleet.cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"] == "Ready"
    wait_status(fleet, dep, "Ready")
    time.sleep(0.5)
    assert set(c.counts(0, 1e9, fleet_version)) == {"a v1"}
    c.mark("ContinueDeployment after restart")
    fleet.cd.continue_deployment(deploymentId=dep, deploymentWaitType="READY_WAIT")
    info = fleet.wait(dep, timeout=60)
    time.sleep(0.4)
    c.stop()
    assert info["status"] == "Succeeded", (info, d.log_tail(60))
    assert not c.failures(), c.failures()[:5]
    assert set(c.counts(c.marks[-1][0], 1e9, fleet_version)) <= {"a v1", "b v2"}
    assert c.results[-1][2].startswith("web-2") or c.results[-1][2].startswith("web-3"), c.results[-1]
    check_labels(fleet, dep)


def test_blue_green_termination_wait_continued_after_kill9(bg_stack):
    """TERMINATE waits terminationWaitTimeInMinutes after the reroute; the wait is
    stored (instanceTerminationWaitTimeStarted), survives kill -9 of rolloutd, and
    `aws deploy continue-deployment --deployment-wait-type TERMINATION_WAIT` ends
    it at once; refused before the wait began."""
    from engine_helpers import kill9_and_restart
    d, hx, fleet, alarm = bg_stack
    set_terminate_option(fleet, {"action": "TERMINATE", "terminationWaitTimeInMinutes": 20})  # 60 s
    dep = fleet.deploy("v2", targetInstances=fleet_filter("b"))
    with pytest.raises(fleet.cd.exceptions.DeploymentIsNotInReadyStateException):
        fleet.cd.continue_deployment(deploymentId=dep, deploymentWaitType="TERMINATION_WAIT")
    end = time.time() + 60
    while not fleet.cd.get_deployment(deploymentId=dep)["deploymentInfo"].get("instanceTerminationWaitTimeStarted"):
        assert time.time() < end, d.log_tail(60)
        assert fleet.cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"] == "InProgress"
        time.sleep(0.1)
    st = hx.server_states("web")
    assert all(st[n][0] & 0x01 for n in BLUE) and all(st[n][0] == 0 for n in GREEN), st
    kill9_and_restart(d)
    fleet.cd = d.boto3_client(d.admin)
    info = fleet.cd.get_deployment(deploymentId=dep)["deploymentInfo"]
    assert info["status"] == "InProgress" and info["instanceTerminationWaitTimeStarted"] is True, info
    t0 = time.time()
    while True:  # the resumed traffic phase waits again, for what is left of the stored wait
        p, _ = d.aws(d.admin, "deploy", "continue-deployment", "--deployment-id", dep,
                     "--deployment-wait-type", "TERMINATION_WAIT", check=False)
        if p.returncode == 0:
            break
        assert "DeploymentIsNotInReadyStateException" in p.stderr, p.stderr
        assert time.time() - t0 < 30, d.log_tail(60)
        time.sleep(0.3)
    info = fleet.wait(dep, timeout=30)
    assert info["status"] == "Succeeded", (info, d.log_tail(60))
    assert time.time() - t0 < 30  # not the 60 s of the wait
    st = hx.server_states("web")
    assert all(st[n][0] & 0x01 for n in BLUE) and all(st[n][0] == 0 for n in GREEN), st


def test_blue_green_after_allow_traffic_failure_routes_back(bg_stack):
    """AfterAllowTraffic runs after the reroute and before the termination wait; when it
    fails, the original fleet (not yet retired) gets the traffic back."""
    d, hx, fleet, alarm = bg_stack
    set_terminate_option(fleet, {"action": "TERMINATE", "terminationWaitTimeInMinutes": 20})  # 60 s
    for n in GREEN:
        open(os.path.join(fleet.agents[n].root_dir, "fail-AfterAllowTraffic"), "w").close()
    t0 = time.time()
    dep = fleet.deploy("v2", targetInstances=fleet_filter("b"))
    info = fleet.wait(dep, timeout=60)
    assert info["status"] == "Failed", (info, d.log_tail(60))
    assert time.time() - t0 < 40  # it failed before the termination wait, not after it
    assert not info.get("instanceTerminationWaitTimeStarted"), info
    for n in GREEN:
        ev = dict(fleet.events(dep, n))
        assert ev["AllowTraffic"] == "Succeeded" and ev["AfterAllowTraffic"] == "Failed", ev
    # back on blue, green out of service
    def back():
        st = hx.server_states("web")
        return all(st[n][0] == 0 for n in BLUE) and all(st[n][0] & 0x01 for n in GREEN)
    end = time.time() + 20
    while not back():
        assert time.time() < end, hx.server_states("web")
        time.sleep(0.1)
