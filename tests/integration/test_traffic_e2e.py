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
