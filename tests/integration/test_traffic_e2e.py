"""End to end: rolloutd with the onprem and haproxy plugins, a real HAProxy
on loopback in front of four instances, each a real rollout-agent whose hooks
run a small HTTP app (traffic_app.py) on the instance's own port, and a client
sending requests through HAProxy throughout. Prints requests sent, failures
and how the traffic split over time."""

import os
import time

import pytest

import harness
import traffic_helpers as th

pytestmark = pytest.mark.skipif(not os.access(th.HAPROXY, os.X_OK), reason="haproxy is not installed")

NAMES = ["web-0", "web-1", "web-2", "web-3"]


@pytest.fixture
def stack(tmp_path, daemon_factory, monkeypatch):
    ports = {n: harness.free_port() for n in NAMES}
    s3 = th.S3()
    hx = th.Haproxy(tmp_path, {"web": [(n, p) for n, p in ports.items()]}).start()
    monkeypatch.setenv("ROLLOUTD_TRAFFIC_DRAIN_TIMEOUT_MS", "20000")
    fleet = None
    try:
        d = daemon_factory(plugins={"onprem": {}, "s3": s3.plugin_settings(),
                                    "haproxy": {"socket": hx.socket, "timeout": "2s"}},
                           settings={"long_poll": "5s"})
        if not th.serves_bundles(d):
            pytest.skip("this rolloutd does not run its bundle cache (GET /bundles/ is not routed), so real "
                        "agents cannot get a revision from it")
        fleet = th.AppFleet(d, tmp_path, ports, s3, config="CodeDeployDefault.OneAtATime")
        yield d, hx, fleet
    finally:
        if fleet:
            fleet.stop()
        hx.stop()
        s3.stop()


def version_of(body):
    return body.split()[1]


def test_in_place_one_at_a_time_with_traffic_control_no_failed_requests(stack):
    d, hx, fleet = stack
    # v1 everywhere (no client yet: nothing serves before this)
    dep1 = fleet.deploy("v1")
    info = fleet.wait(dep1)
    assert info["status"] == "Succeeded", (info, d.log_tail(60))
    ev = fleet.events(dep1, "web-0")
    if "BlockTraffic" not in [e for e, _ in ev]:
        pytest.skip("this engine runs no BlockTraffic/AllowTraffic events yet (in-place traffic control "
                    "not integrated): %s" % ev)
    hx.wait_up("web", NAMES)

    c = th.Client(hx.port).start()
    time.sleep(0.5)
    c.mark("deploy v2 (OneAtATime)")
    dep2 = fleet.deploy("v2")
    info = fleet.wait(dep2, timeout=180)
    c.mark("v2 %s" % info["status"])
    time.sleep(0.5)
    c.stop()
    c.report("in-place OneAtATime with traffic control", bucket=1.0, key=version_of)
    assert info["status"] == "Succeeded", (info, d.log_tail(60))
    assert len(c.results) > 300
    assert not c.failures(), c.failures()[:5]
    # CodeDeploy's order, with BlockTraffic/AllowTraffic run by rolloutd
    want = ["BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic", "ApplicationStop", "DownloadBundle",
            "BeforeInstall", "Install", "AfterInstall", "ApplicationStart", "ValidateService",
            "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
    for n in NAMES:
        ev = fleet.events(dep2, n)
        assert [e for e, _ in ev] == want, ev
        st = dict(ev)
        assert all(s in ("Succeeded", "Skipped") for _, s in ev), ev  # Skipped: no script for it
        for e in ("BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic", "ApplicationStop", "ApplicationStart",
                  "ValidateService", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"):
            assert st[e] == "Succeeded", ev
        # the agent ran the traffic hooks around rolloutd's Block/AllowTraffic
        log = [ln for ln in fleet.hook_log(n) if ln]
        assert log[-7:] == ["BeforeBlockTraffic v1", "AfterBlockTraffic v1", "ApplicationStop v1",
                            "ApplicationStart v2", "ValidateService v2", "BeforeAllowTraffic v2",
                            "AfterAllowTraffic v2"], log
    # one at a time: never more than one server out of the pool, so v1 and v2 served side by side
    mixed = [counts for _, counts in c.split(1.0, version_of) if "v1" in counts and "v2" in counts]
    assert mixed, "no moment with both versions serving"
    last = c.counts(c.results[-1][0] - 0.4, 1e9, version_of)
    assert set(last) == {"v2"}, last
    st = hx.server_states("web")
    assert all(st[n][0] == 0 for n in NAMES), st  # everyone back in service


# ---------------------------------------------------------------------------
# Blue/green and weighted canary (rolloutd extensions for servers)

BLUE, GREEN = ["web-0", "web-1"], ["web-2", "web-3"]
FLEET_TAGS = {n: {"fleet": "a" if n in BLUE else "b"} for n in NAMES}
MINUTE_MS = 3000


def fleet_filter(value):
    return {"tagFilters": [{"Key": "fleet", "Value": value, "Type": "KEY_AND_VALUE"}]}


@pytest.fixture
def bg_stack(tmp_path, daemon_factory, monkeypatch):
    ports = {n: harness.free_port() for n in NAMES}
    s3 = th.S3()
    hx = th.Haproxy(tmp_path, {"web": [(n, p) for n, p in ports.items()]}).start()
    alarm = os.path.join(str(tmp_path), "alarm-flag")
    monkeypatch.setenv("ROLLOUTD_TRAFFIC_DRAIN_TIMEOUT_MS", "20000")
    monkeypatch.setenv("ROLLOUTD_TRAFFIC_MINUTE_MS", str(MINUTE_MS))
    fleet = None
    try:
        d = daemon_factory(plugins={"onprem": {}, "s3": s3.plugin_settings(), "example-health": {},
                                    "haproxy": {"socket": hx.socket, "timeout": "2s"}},
                           alarms={"canary-errors": {"plugin": "example-health", "file": alarm}},
                           settings={"long_poll": "5s"})
        if not th.serves_bundles(d):
            pytest.skip("this rolloutd does not run its bundle cache (GET /bundles/ is not routed), so real "
                        "agents cannot get a revision from it")
        group_kw = {
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "blueGreenDeploymentConfiguration": {
                "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "KEEP_ALIVE"},
                "greenFleetProvisioningOption": {"action": "DISCOVER_EXISTING"}},
            "alarmConfiguration": {"enabled": True, "alarms": [{"name": "canary-errors"}]},
            # no automatic redeploys to the idle fleet: it is the next green
            "outdatedInstancesStrategy": "IGNORE",
        }
        fleet = th.AppFleet(d, tmp_path, ports, s3, group_kw=group_kw, tags=FLEET_TAGS)
        # v1 on fleet a, which then takes all the traffic (fleet b idle)
        dep = fleet.deploy("v1", targetInstances=fleet_filter("a"))
        info = fleet.wait(dep)
        if info["status"] != "Succeeded" and "not run by this" in str(info.get("errorInformation")):
            pytest.skip("this engine runs no blue/green deployments yet: %s" % info["errorInformation"])
        assert info["status"] == "Succeeded", (info, d.log_tail(80))
        if "AllowTraffic" not in [e for e, _ in fleet.events(dep, BLUE[0])]:
            pytest.skip("this engine runs no blue/green traffic control yet (no AllowTraffic event): %s"
                        % fleet.events(dep, BLUE[0]))
        hx.wait_up("web", BLUE)
        st = hx.server_states("web")
        assert all(st[n][0] == 0 for n in BLUE) and all(st[n][0] & 0x01 for n in GREEN), st
        yield d, hx, fleet, alarm
    finally:
        if fleet:
            fleet.stop()
        hx.stop()
        s3.stop()


def fleet_version(body):
    name, version = body.split()
    return ("a " if name in BLUE else "b ") + version


def test_blue_green_no_failed_requests(bg_stack):
    d, hx, fleet, alarm = bg_stack
    c = th.Client(hx.port).start()
    time.sleep(0.5)
    c.mark("deploy v2 to fleet b (blue/green)")
    dep = fleet.deploy("v2", targetInstances=fleet_filter("b"))
    info = fleet.wait(dep, timeout=180)
    c.mark("v2 %s" % info["status"])
    time.sleep(0.6)
    c.stop()
    c.report("blue/green: fleet a v1 -> fleet b v2", bucket=1.0, key=fleet_version)
    assert info["status"] == "Succeeded", (info, d.log_tail(60))
    assert not c.failures(), c.failures()[:5]
    # fleet b was deployed while fleet a alone served; then all traffic moved at once:
    # only "a v1" before the switch, only "b v2" after it, overlapping at most while a drains
    assert set(c.counts(0, 1e9, fleet_version)) == {"a v1", "b v2"}
    last_a = max(t for t, st, body in c.results if st == 200 and fleet_version(body) == "a v1")
    first_b = min(t for t, st, body in c.results if st == 200 and fleet_version(body) == "b v2")
    print("switch: first b v2 at %.2fs, last a v1 at %.2fs" % (first_b, last_a))
    assert last_a - first_b < 1.0, (first_b, last_a)
    assert set(c.counts(c.marks[1][0], 1e9, fleet_version)) == {"b v2"}
    for n in GREEN:
        ev = [e for e, _ in fleet.events(dep, n)]
        assert "BlockTraffic" not in ev and ev[-3:] == ["BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"], ev
        assert dict(fleet.events(dep, n))["AllowTraffic"] == "Succeeded"
    st = hx.server_states("web")
    assert all(st[n][0] & 0x01 for n in BLUE), st  # original fleet out of the pool, kept alive
    assert all(st[n][0] == 0 for n in GREEN), st


@pytest.mark.parametrize("how", ["alarm", "stop"])
def test_weighted_canary_rolled_back_on_alarm_no_failed_requests(bg_stack, how):
    """how: the canary-errors alarm goes to ALARM, or StopDeployment is called, mid-canary."""
    d, hx, fleet, alarm = bg_stack
    try:
        fleet.cd.create_deployment_config(
            deploymentConfigName="Canary25Percent1Minute", computePlatform="Server",
            minimumHealthyHosts={"type": "HOST_COUNT", "value": 0},
            trafficRoutingConfig={"type": "TimeBasedCanary",
                                  "timeBasedCanary": {"canaryPercentage": 25, "canaryInterval": 1}})
    except fleet.cd.exceptions.InvalidDeploymentConfigNameException:
        raise
    except Exception as e:  # noqa: BLE001
        if "InvalidTrafficRoutingConfiguration" in str(e):
            pytest.skip("the control API refuses trafficRoutingConfig on Server deployment configs: %s" % e)
        raise
    c = th.Client(hx.port, interval=0.003).start()
    time.sleep(0.5)
    c.mark("deploy v2 to fleet b, canary 25%% for 1 minute (%d ms)" % MINUTE_MS)
    dep = fleet.deploy("v2", targetInstances=fleet_filter("b"), deploymentConfigName="Canary25Percent1Minute")

    # raise the alarm once the canary takes traffic
    def canary_seen():
        return c.counts(c.marks[0][0], 1e9, fleet_version).get("b v2", 0) > 60
    th.wait_until(canary_seen, 120, "the canary to take traffic")
    if how == "alarm":
        c.mark("canary serving; alarm canary-errors -> ALARM")
        open(alarm, "w").close()
    else:
        c.mark("canary serving; StopDeployment")
        fleet.cd.stop_deployment(deploymentId=dep, autoRollbackEnabled=False)
    info = fleet.wait(dep, timeout=60)
    c.mark("v2 %s" % info["status"])
    # the traffic phase notices within a poll interval (1 s) and flips back
    th.wait_until(lambda: all(hx.server_states("web")[n][0] & 0x01 for n in GREEN), 10, "green out of the pool")
    c.mark("green out of the pool")
    time.sleep(0.8)
    c.stop()
    c.report("weighted canary 25%% rolled back (%s)" % how, bucket=0.5, key=fleet_version)
    if how == "alarm":
        # an alarm stops the deployment (CodeDeploy: Stopped, ALARM_ACTIVE)
        assert info["status"] in ("Stopped", "Failed"), info
        assert info["errorInformation"]["code"] == "ALARM_ACTIVE", info
    else:
        assert info["status"] == "Stopped", info
    assert not c.failures(), c.failures()[:5]
    during = c.counts(c.marks[0][0], c.marks[1][0], fleet_version)
    t_canary = next(t for t, _, body in c.results if t > c.marks[0][0] and fleet_version(body) == "b v2")
    window = c.counts(t_canary + 0.3, c.marks[1][0], fleet_version)
    share = window.get("b v2", 0) / float(sum(window.values()) or 1)
    print("canary share of requests while it served: %.1f%% of %d (whole deploy window: %s)"
          % (100 * share, sum(window.values()), during))
    assert 0.12 <= share <= 0.38, window
    assert set(c.counts(c.marks[3][0] + 0.2, 1e9, fleet_version)) == {"a v1"}
    st = hx.server_states("web")
    assert all(st[n][0] == 0 and st[n][1] == 100 for n in BLUE), st  # blue back, full weight
    assert all(st[n][0] & 0x01 for n in GREEN), st


def test_blue_green_green_fleet_from_group_tags(bg_stack):
    """The group names its green fleet (greenFleetProvisioningOption.onPremisesInstanceTagFilters,
    a rolloutd extension); a deployment without targetInstances goes there."""
    d, hx, fleet, alarm = bg_stack
    bg = fleet.cd.get_deployment_group(applicationName=fleet.app, deploymentGroupName=fleet.group)[
        "deploymentGroupInfo"]["blueGreenDeploymentConfiguration"]
    bg["greenFleetProvisioningOption"] = {"action": "DISCOVER_EXISTING", "onPremisesInstanceTagFilters": [
        {"Key": "fleet", "Value": "b", "Type": "KEY_AND_VALUE"}]}
    # boto3 validates against AWS's model, which lacks the extension: send it raw
    fleet.admin.call("CodeDeploy_20141006.UpdateDeploymentGroup", {
        "applicationName": fleet.app, "currentDeploymentGroupName": fleet.group,
        "blueGreenDeploymentConfiguration": bg})
    got = fleet.admin.call("CodeDeploy_20141006.GetDeploymentGroup", {
        "applicationName": fleet.app, "deploymentGroupName": fleet.group})["deploymentGroupInfo"]
    if "onPremisesInstanceTagFilters" not in got["blueGreenDeploymentConfiguration"].get(
            "greenFleetProvisioningOption", {}):
        pytest.skip("the control API drops greenFleetProvisioningOption.onPremisesInstanceTagFilters "
                    "(the extension is not in its model yet)")
    c = th.Client(hx.port).start()
    time.sleep(0.4)
    c.mark("deploy v2 (green fleet from the group's tags)")
    dep = fleet.deploy("v2")
    info = fleet.wait(dep, timeout=180)
    c.mark("v2 %s" % info["status"])
    time.sleep(0.5)
    c.stop()
    c.report("blue/green, green fleet by the group's tags", bucket=1.0, key=fleet_version)
    assert info["status"] == "Succeeded", (info, d.log_tail(60))
    assert not c.failures(), c.failures()[:5]
    # the green fleet is the deployed one; the original (blue) fleet is listed too, labelled Blue, as on CodeDeploy
    targets = fleet.cd.list_deployment_targets(deploymentId=dep, targetFilters={"ServerInstanceLabel": ["Green"]})[
        "targetIds"]
    assert sorted(targets) == GREEN, targets
    targets = fleet.cd.list_deployment_targets(deploymentId=dep)["targetIds"]
    assert sorted(targets) == sorted(BLUE + GREEN), targets
    assert set(c.counts(c.marks[1][0], 1e9, fleet_version)) == {"b v2"}
