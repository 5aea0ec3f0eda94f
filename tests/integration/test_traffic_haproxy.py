"""The haproxy traffic plugin and daemon/traffic/traffic.c against a real HAProxy
(Debian's), driven through tests/integration/traffic-ctl (real config and
plugin loaders, no engine): drain with a session waiting, maint, ready,
weights, state, errors; then rolling, blue/green and weighted-canary
traffic moves with a client sending requests throughout and no failures."""

import os
import subprocess
import threading
import time
import http.client

import pytest

import harness
import traffic_helpers as th

pytestmark = pytest.mark.skipif(not os.access(th.HAPROXY, os.X_OK), reason="haproxy is not installed")


@pytest.fixture
def fleet(tmp_path, builddir):
    """Four apps (b1, b2 = v1 "blue"; g1, g2 = v1 "green") behind one HAProxy backend `web`."""
    apps = {n: th.App(n).start() for n in ("b1", "b2", "g1", "g2")}
    hx = th.Haproxy(tmp_path, {"web": [(n, a.port) for n, a in apps.items()]}).start()
    hx.wait_up("web", list(apps))
    yield hx, apps
    hx.stop()
    for a in apps.values():
        a.stop()


def slow_request(port, ms, out):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/slow?ms=%d" % ms, headers={"Connection": "close"})
    r = c.getresponse()
    out.append((r.status, r.read().decode().strip(), time.monotonic()))


def test_block_waits_for_open_sessions_then_maint(tmp_path, fleet):
    hx, apps = fleet
    ctl = th.TrafficCtl(tmp_path, hx, th.group_json(["web-tg"]), {"backends": {"web-tg": "web"}})
    # only b1 in service so the slow request surely lands on it
    for n in ("b2", "g1", "g2"):
        ctl.run("block", n)
        assert ctl.run("state", n)[1][-1]["states"] == ["BLOCKED"]
    assert hx.server_states("web")["b2"][0] & 0x01  # maint after draining
    out = []
    t = threading.Thread(target=slow_request, args=(hx.port, 1500, out))
    t.start()
    time.sleep(0.3)
    _, lines = ctl.run("state", "b1")
    assert lines[-1]["states"] == ["ALLOWED"]
    t0 = time.monotonic()
    seen = {}

    def watch():
        time.sleep(0.4)
        seen["mid"] = ctl.run("state", "b1")[1][-1]["states"]
        seen["admin"] = hx.server_states("web")["b1"][0]

    w = threading.Thread(target=watch)
    w.start()
    ctl.run("block", "b1", "--drain-ms", "10000")
    took = time.monotonic() - t0
    w.join()
    t.join()
    # block returned only once the slow session ended, and it ended well
    assert out and out[0][0] == 200 and out[0][1] == "b1 v1", out
    assert out[0][2] <= time.monotonic()
    assert took >= 0.9, "block returned after %.2fs, before the 1.5 s session ended" % took
    assert seen["mid"] == ["DRAINING"], seen
    assert seen["admin"] & 0x08, seen  # drain while the session ran
    assert hx.server_states("web")["b1"][0] & 0x01  # then maint
    assert ctl.run("state", "b1")[1][-1]["states"] == ["BLOCKED"]
    print("block waited %.2fs for an open 1.5 s session" % took)

    # ready again
    ctl.run("allow", "b1")
    assert hx.server_states("web")["b1"][0] == 0
    assert ctl.run("state", "b1")[1][-1]["states"] == ["ALLOWED"]


def test_drain_timeout_leaves_session_alone(tmp_path, fleet):
    hx, apps = fleet
    ctl = th.TrafficCtl(tmp_path, hx, th.group_json(["web"]))
    for n in ("b2", "g1", "g2"):
        ctl.run("block", n)
    out = []
    t = threading.Thread(target=slow_request, args=(hx.port, 2000, out))
    t.start()
    time.sleep(0.3)
    rc, lines = ctl.run("block", "b1", "--drain-ms", "400", check=False)
    assert rc == 1
    assert lines[-1]["errorCode"] == "ELASTIC_LOAD_BALANCING_INVALID"
    assert "web/b1 still has 1 sessions" in lines[-1]["message"], lines
    assert "raise the drain timeout" in lines[-1]["message"]
    t.join()
    assert out[0][0] == 200  # draining never cuts a session
    assert ctl.run("state", "b1")[1][-1]["states"] == ["BLOCKED"]


def test_weights_split_traffic(tmp_path, fleet):
    hx, apps = fleet
    ctl = th.TrafficCtl(tmp_path, hx, th.group_json(["web"]))
    ctl.run("weight", "b1", "100")
    ctl.run("weight", "b2", "100")
    ctl.run("weight", "g1", "0")
    ctl.run("weight", "g2", "0")
    assert hx.server_states("web")["g1"][1] == 0
    c = th.Client(hx.port, interval=0).start()
    time.sleep(0.8)
    c.mark("changing weights")
    for n, w in (("g1", 100), ("b1", 0), ("b2", 0)):
        ctl.run("weight", n, str(w))
    c.mark("g1 weight 100, others 0")
    time.sleep(0.8)
    c.stop()
    c.report("weights", bucket=0.4, key=lambda b: b.split()[0])
    before = c.counts(0, c.marks[0][0], key=lambda b: b.split()[0])
    after = c.counts(c.marks[1][0] + 0.05, 1e9, key=lambda b: b.split()[0])
    assert set(before) == {"b1", "b2"}, before
    assert set(after) == {"g1"}, after
    assert not c.failures()
    rc, lines = ctl.run("weight", "b1", "257", check=False)
    assert rc == 1 and "over HAProxy's maximum 256" in lines[-1]["message"]


def test_errors_name_the_fix(tmp_path, fleet):
    hx, apps = fleet
    ctl = th.TrafficCtl(tmp_path, hx, th.group_json(["api"]))
    rc, lines = ctl.run("block", "b1", check=False)
    assert rc == 1
    assert lines[-1]["errorCode"] == "ELASTIC_LOAD_BALANCING_INVALID"
    assert "HAProxy has no backend 'api'" in lines[-1]["message"]
    assert "plugins.haproxy.backends" in lines[-1]["message"]
    rc, lines = ctl.run("state", "b1", check=False)
    assert rc == 1 and "no backend 'api'" in lines[-1]["message"]

    ctl = th.TrafficCtl(tmp_path, hx, th.group_json(["web"]), {"servers": {"web-1.example.com": "s9"}})
    rc, lines = ctl.run("allow", "web-1.example.com", check=False)
    assert rc == 1
    assert lines[-1]["errorCode"] == "ELB_INVALID_INSTANCE"
    assert "backend 'web' has no server 's9' (for instance 'web-1.example.com')" in lines[-1]["message"]
    assert ctl.run("state", "ghost")[1][-1]["states"] == ["ABSENT"]

    ctl = th.TrafficCtl(tmp_path, hx, th.group_json(["web"]), {"socket": os.path.join(str(tmp_path), "nope.sock")})
    rc, lines = ctl.run("block", "b1", check=False)
    assert rc == 1
    assert "cannot connect to HAProxy's Runtime API" in lines[-1]["message"]
    assert "level admin" in lines[-1]["message"]

    ctl = th.TrafficCtl(tmp_path, hx, {"deploymentStyle": {"deploymentOption": "WITH_TRAFFIC_CONTROL"}})
    rc, lines = ctl.run("block", "b1", check=False)
    assert rc == 1 and lines[-1]["errorCode"] == "MISSING_ELB_INFORMATION"

    # a plugin config error stops the tool the way it stops rolloutd
    ctl = th.TrafficCtl(tmp_path, hx, th.group_json(["web"]), {"after_drain": "kill"})
    p = subprocess.run([th.traffic_ctl_path(), "--config", ctl.config, "--group", ctl.group, "state", "b1"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert "after_drain is 'kill'; use maint or drain" in p.stderr


def test_user_level_socket_is_refused_clearly(tmp_path, builddir):
    app = th.App("b1").start()
    hx = th.Haproxy(tmp_path, {"web": [("b1", app.port)]}, stats_level="user").start()
    try:
        ctl = th.TrafficCtl(tmp_path, hx, th.group_json(["web"]))
        rc, lines = ctl.run("block", "b1", check=False)
        assert rc == 1
        assert "not at admin level" in lines[-1]["message"], lines
        assert "level admin" in lines[-1]["message"]
    finally:
        hx.stop()
        app.stop()


# ---------------------------------------------------------------------------
# Traffic moves under load: no failed request


def test_rolling_block_replace_allow_no_failed_requests(tmp_path, fleet):
    """What an in-place OneAtATime deployment with traffic control does to
    each server: BlockTraffic, stop, install v2, start, AllowTraffic."""
    hx, apps = fleet
    ctl = th.TrafficCtl(tmp_path, hx, th.group_json(["web"]))
    c = th.Client(hx.port).start()
    time.sleep(0.3)
    for n in ("b1", "b2", "g1", "g2"):
        c.mark("BlockTraffic %s" % n)
        ctl.run("block", n)
        apps[n].stop()
        time.sleep(0.1)  # the server is gone for a while
        apps[n].start(version="v2")
        c.mark("AllowTraffic %s" % n)
        ctl.run("allow", n)
        hx.wait_up("web", [n])
        time.sleep(0.2)
    time.sleep(0.3)
    c.stop()
    c.report("rolling block/replace/allow", bucket=0.5, key=lambda b: b.split()[1])
    assert len(c.results) > 200
    assert not c.failures(), c.failures()[:5]
    last = c.counts(c.results[-1][0] - 0.25, 1e9, key=lambda b: b.split()[1])
    assert set(last) == {"v2"}, last


def test_blue_green_reroute_and_flip_back_no_failed_requests(tmp_path, fleet):
    hx, apps = fleet
    ctl = th.TrafficCtl(tmp_path, hx, th.group_json(["web"], blue_green=True))
    fleets = ["--blue", "b1,b2", "--green", "g1,g2"]
    c = th.Client(hx.port).start()
    # each state is checked from when traffic-ctl returned (plus the time a
    # request in flight takes), not from when it was started: on a busy
    # machine starting it takes longer than the margin
    c.mark("prepare green")
    ctl.run("prepare", "--green", "g1,g2")
    c.mark("green prepared")
    for n in ("g1", "g2"):  # deploy v2 to green while it gets no traffic
        apps[n].stop()
        apps[n].start(version="v2")
    time.sleep(0.4)
    c.mark("reroute to green")
    ctl.run("reroute", *fleets)
    c.mark("rerouted")
    time.sleep(0.6)
    c.mark("flip back to blue")
    ctl.run("flipback", *fleets)
    c.mark("flipped back")
    time.sleep(0.6)
    c.stop()
    fleet_of = lambda b: ("green " if b.split()[0].startswith("g") else "blue ") + b.split()[1]  # noqa: E731
    c.report("blue/green reroute + flip back", bucket=0.3, key=fleet_of)
    assert not c.failures(), c.failures()[:5]
    m = dict((label, t) for t, label in c.marks)
    assert set(c.counts(m["green prepared"] + 0.1, m["reroute to green"], fleet_of)) == {"blue v1"}
    assert set(c.counts(m["rerouted"] + 0.15, m["flip back to blue"], fleet_of)) == {"green v2"}
    assert set(c.counts(m["flipped back"] + 0.15, 1e9, fleet_of)) == {"blue v1"}


def test_weighted_canary_flips_back_on_alarm_no_failed_requests(tmp_path, fleet):
    hx, apps = fleet
    ctl = th.TrafficCtl(tmp_path, hx, th.group_json(["web"], blue_green=True))
    ctl.run("prepare", "--green", "g1,g2")
    for n in ("g1", "g2"):
        apps[n].stop()
        apps[n].start(version="v2")
    alarm = os.path.join(str(tmp_path), "alarm")
    c = th.Client(hx.port, interval=0.002).start()
    time.sleep(0.3)

    def on_line(o):
        if "percent" in o:
            c.mark("green at %d%%" % o["percent"])
            if o["percent"] == 25:
                # the alarm fires 1.5 s into the canary's interval
                threading.Timer(1.5, lambda: (open(alarm, "w").close(), c.mark("ALARM"))).start()

    routing = '{"type":"TimeBasedCanary","timeBasedCanary":{"canaryPercentage":25,"canaryInterval":1}}'
    rc, lines = ctl.run("shift", "--blue", "b1,b2", "--green", "g1,g2", "--routing", routing,
                        "--minute-ms", "4000", "--poll-ms", "100", "--alarm-file", alarm, check=False,
                        on_line=on_line)
    time.sleep(0.5)
    c.stop()
    c.report("weighted canary 25% -> ALARM -> flip back", bucket=0.25, key=lambda b: b.split()[1])
    assert rc == 1
    assert lines[-1]["errorCode"] == "ALARM_ACTIVE"
    assert "flipped back to blue" in lines[-1]["message"]
    assert [o["percent"] for o in lines if "percent" in o] == [25, 0]
    assert not c.failures(), c.failures()[:5]
    m = dict((label, t) for t, label in c.marks)
    during = c.counts(m["green at 25%"] + 0.1, m["ALARM"], key=lambda b: b.split()[1])
    share = during.get("v2", 0) / float(sum(during.values()))
    print("green share during the canary: %.1f%% of %d requests" % (100 * share, sum(during.values())))
    assert 0.15 <= share <= 0.35, during
    assert set(c.counts(m["green at 0%"] + 0.15, 1e9, key=lambda b: b.split()[1])) == {"v1"}
    st = hx.server_states("web")
    assert st["g1"][0] & 0x01 and st["g2"][0] & 0x01  # green out
    assert st["b1"] == (0, 100) and st["b2"] == (0, 100)  # blue in, full weight


def test_weighted_linear_to_completion(tmp_path, fleet):
    hx, apps = fleet
    ctl = th.TrafficCtl(tmp_path, hx, th.group_json(["web"], blue_green=True))
    ctl.run("prepare", "--green", "g1,g2")
    for n in ("g1", "g2"):
        apps[n].stop()
        apps[n].start(version="v2")
    c = th.Client(hx.port, interval=0.002).start()
    routing = '{"type":"TimeBasedLinear","timeBasedLinear":{"linearPercentage":50,"linearInterval":1}}'
    rc, lines = ctl.run("shift", "--blue", "b1,b2", "--green", "g1,g2", "--routing", routing,
                        "--minute-ms", "1500", "--poll-ms", "100",
                        on_line=lambda o: "percent" in o and c.mark("green at %d%%" % o["percent"]))
    time.sleep(0.4)
    c.stop()
    c.report("weighted linear 50% steps", bucket=0.25, key=lambda b: b.split()[1])
    assert [o["percent"] for o in lines if "percent" in o] == [50, 100]
    assert not c.failures(), c.failures()[:5]
    m = dict((label, t) for t, label in c.marks)
    half = c.counts(m["green at 50%"] + 0.1, m["green at 100%"], key=lambda b: b.split()[1])
    share = half.get("v2", 0) / float(sum(half.values()))
    assert 0.4 <= share <= 0.6, half
    assert set(c.counts(m["green at 100%"] + 0.15, 1e9, key=lambda b: b.split()[1])) == {"v2"}
    st = hx.server_states("web")
    assert st["b1"][0] & 0x01 and st["b2"][0] & 0x01  # blue retired from the pool
