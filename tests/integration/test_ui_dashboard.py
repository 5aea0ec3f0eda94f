"""The web dashboard (/ui/) in headless Chromium against a real rolloutd with real
rollout-agents: sign-in and its session cookie, CSRF and session refusals, the
failed sign-in limit, a readonly key without actions, a deployment followed live
to Succeeded, a failed one with its log tail, stopping one and continuing a
blue/green one from the page. Screenshots of each page go to
<builddir>/test-results/ui/."""

import http.client as httpclient
import json
import os
import threading
import urllib.parse

import pytest

import harness
from agent_helpers import wait_for
from browser import Browser, chromium_path
from test_agent_rolloutd import RealFleet, revision

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not chromium_path(), reason="chromium is not installed (scripts/install-deps)")]

SETTINGS = {"long_poll": "5s"}


def shots(name):
    return os.path.join(harness.builddir(), "test-results", "ui", name + ".png")


def http(d, method, path, body=None, headers=None):
    u = urllib.parse.urlparse(d.url)
    c = httpclient.HTTPConnection(u.hostname, u.port, timeout=30)
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        j = json.loads(raw) if raw else {}
    except ValueError:
        j = raw
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.getheader("Set-Cookie"), j


def sign_in_http(d, keys):
    st, _, cookie, j = http(d, "POST", "/ui/signin", {"accessKeyId": keys["AccessKeyId"],
                                                       "secretAccessKey": keys["SecretAccessKey"]})
    assert st == 200, j
    return cookie.split(";")[0], j["csrfToken"], cookie


def sign_in(b, d, keys):
    b.goto(d.url + "/ui/")
    b.wait("!document.getElementById('signin').hidden || !document.getElementById('nav').hidden")
    if not b.js("document.getElementById('nav').hidden"):
        b.click("#signout")
        b.wait("!document.getElementById('signin').hidden")
    b.fill("#key-id", keys["AccessKeyId"])
    b.fill("#key-secret", keys["SecretAccessKey"])
    b.js("document.getElementById('signin-form').requestSubmit()")
    b.wait("!document.getElementById('nav').hidden", what="the signed-in page")
    # the secret is gone from the page once signed in
    assert b.js("document.getElementById('key-secret').value") == ""
    assert keys["SecretAccessKey"] not in b.js("document.documentElement.outerHTML")
    assert keys["SecretAccessKey"] not in b.js("location.href")


def open_deployment(b, d, dep):
    b.goto("%s/ui/#/deployment/%s" % (d.url, dep))
    b.wait("document.querySelector('#page h1') && document.querySelector('#page h1').textContent.includes(%s)"
           % json.dumps(dep), what="the deployment page")


def status_shown(b):
    return b.js("(document.querySelector('#page h1 .badge') || {}).textContent")


@pytest.fixture
def d(daemon_factory):
    return daemon_factory(plugins={"onprem": {}}, settings=SETTINGS)


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


def test_pages_sessions_and_refusals(d):
    # the page itself: strict CSP, nothing from another site, no framing
    st, h, _, body = http(d, "GET", "/ui/")
    assert st == 200 and b"<script src=\"/ui/app.js\"" in body
    csp = h["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert h["x-content-type-options"] == "nosniff"
    assert b"http://" not in body and b"https://" not in body
    for asset in ("/ui/app.js", "/ui/app.css"):
        st, h, _, body = http(d, "GET", asset)
        assert st == 200 and b"https://" not in body and b"http://" not in body.replace(b"http://www.w3.org", b"")
    assert http(d, "GET", "/ui")[0] == 302

    # sign-in: a cookie for /ui/ only, HttpOnly, SameSite=Strict, expiring; no Secure over plain HTTP
    cookie, csrf, raw = sign_in_http(d, d.admin)
    attrs = [a.strip() for a in raw.split(";")]
    assert "HttpOnly" in attrs and "SameSite=Strict" in attrs and "Path=/ui/" in attrs, raw
    assert any(a.startswith("Max-Age=") and int(a[8:]) > 0 for a in attrs), raw
    assert "Secure" not in attrs
    assert d.admin["SecretAccessKey"] not in raw

    op = "/ui/api/CodeDeploy_20141006.ListApplications"
    ok = http(d, "POST", op, {}, {"Cookie": cookie, "X-Rolloutd-CSRF": csrf})
    assert ok[0] == 200 and ok[3] == {"applications": []}, ok
    # no session, a forged session, no CSRF token, a forged one: refused, and nothing is created
    create = "/ui/api/CodeDeploy_20141006.CreateApplication"
    forged = "rolloutd_session=" + "0" * 64
    for hdrs, want in [({}, 401), ({"X-Rolloutd-CSRF": csrf}, 401), ({"Cookie": forged, "X-Rolloutd-CSRF": csrf}, 401),
                       ({"Cookie": cookie}, 403), ({"Cookie": cookie, "X-Rolloutd-CSRF": "f" * 64}, 403),
                       ({"Cookie": cookie, "X-Rolloutd-CSRF": csrf[:-1] + "x"}, 403)]:
        st, _, _, j = http(d, "POST", create, {"applicationName": "forged"}, hdrs)
        assert st == want, (hdrs, st, j)
    assert http(d, "POST", op, {}, {"Cookie": cookie, "X-Rolloutd-CSRF": csrf})[3] == {"applications": []}
    # the same call with the token goes to the API's own handler, as the signed-in key
    st, _, _, j = http(d, "POST", create, {"applicationName": "made-in-ui"}, {"Cookie": cookie, "X-Rolloutd-CSRF": csrf})
    assert st == 200 and "applicationId" in j, j
    assert "POST CreateApplication -> 200" in d.log() and d.admin["AccessKeyId"] in d.log()
    # the API's own validation answers
    st, _, _, j = http(d, "POST", create, {}, {"Cookie": cookie, "X-Rolloutd-CSRF": csrf})
    assert st == 400 and j["__type"] == "ApplicationNameRequiredException", j
    # a cross-site form cannot sign in (no JSON content type)
    st, _, _, j = http(d, "POST", "/ui/signin", b"accessKeyId=x", {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 415, j

    # sign-out revokes the session
    assert http(d, "POST", "/ui/signout", {}, {"Cookie": cookie, "X-Rolloutd-CSRF": csrf})[0] == 200
    assert http(d, "POST", op, {}, {"Cookie": cookie, "X-Rolloutd-CSRF": csrf})[0] == 401
    assert http(d, "GET", "/ui/session", None, {"Cookie": cookie})[0] == 401

    # an agent's key cannot sign in; a deleted key's session ends
    agent = d.create_access_key("an-agent", "agent", instance="host-x")
    st, _, _, j = http(d, "POST", "/ui/signin", {"accessKeyId": agent["AccessKeyId"],
                                                 "secretAccessKey": agent["SecretAccessKey"]})
    assert st == 400 and j["__type"] == "AccessDeniedException", j
    temp = d.create_access_key("temp", "admin")
    tcookie, tcsrf, _ = sign_in_http(d, temp)
    cookie2, csrf2, _ = sign_in_http(d, d.admin)
    st, _, _, j = http(d, "POST", "/ui/api/Rolloutd_v1.DeleteAccessKey", {"AccessKeyId": temp["AccessKeyId"]},
                       {"Cookie": cookie2, "X-Rolloutd-CSRF": csrf2})
    assert st == 200, j
    assert http(d, "POST", op, {}, {"Cookie": tcookie, "X-Rolloutd-CSRF": tcsrf})[0] == 401

    # failed sign-ins are limited per client: after 5, even the right secret waits
    bad = {"accessKeyId": d.admin["AccessKeyId"], "secretAccessKey": "wrong"}
    for _ in range(5):
        st, _, _, j = http(d, "POST", "/ui/signin", bad)
        assert st == 401 and j["__type"] == "UnrecognizedClientException", j
    st, h, _, j = http(d, "POST", "/ui/signin", {"accessKeyId": d.admin["AccessKeyId"],
                                                 "secretAccessKey": d.admin["SecretAccessKey"]})
    assert st == 429 and j["__type"] == "ThrottlingException" and int(h["retry-after"]) > 0, j


def test_readonly_key_sees_no_actions(d, fleet, tmp_path):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    f = fleet(n=1)
    dep = f.deploy_local(revision(tmp_path, "v1", www, events))
    assert f.wait(dep)["status"] == "Succeeded"
    ro = d.create_access_key("viewer", "readonly")
    with Browser() as b:
        sign_in(b, d, d.admin)
        open_deployment(b, d, dep)
        b.wait("!!document.getElementById('act-redeploy')", what="the admin's redeploy button")
        sign_in(b, d, ro)
        assert "readonly" in b.text("#who")
        open_deployment(b, d, dep)
        b.wait("document.querySelectorAll('.tl-row').length == 1", what="the target row")
        assert b.js("document.querySelectorAll('.actions button').length") == 0
        # keyboard: a target row takes the focus and Enter opens its events
        b.js("document.querySelector('.tl-row').focus()")
        b.key("Enter", vk=13, text="\r")
        b.wait("!document.getElementById('target-detail').hidden", what="the target's events after Enter")
        assert "ValidateService" in b.text("#target-detail")
        b.screenshot(shots("deployment-readonly"))
        # and the route refuses what the page does not offer
        r = b.js("fetch('/ui/api/CodeDeploy_20141006.StopDeployment', {method: 'POST', headers: {'Content-Type': "
                 "'application/json', 'X-Rolloutd-CSRF': S.session.csrfToken}, body: JSON.stringify({deploymentId: "
                 "%s})}).then(r => r.json().then(j => [r.status, j.__type]))" % json.dumps(dep))
        assert r == [400, "AccessDeniedException"], r
        # the other pages render for a readonly key too
        for page in ("apps", "deployments", "instances"):
            b.goto("%s/ui/#/%s" % (d.url, page))
            b.wait("document.querySelector('#page h1') && !document.querySelector('#page .muted')?.textContent"
                   ".startsWith('Loading')", what="the %s page" % page)
            b.wait("!document.body.innerText.includes('Loading…')", what="the %s page loaded" % page)
            b.screenshot(shots(page))
        assert "host-0" in b.text("main") and "connected" in b.text("main")
    # a phone's screen: the same pages, laid out for it
    with Browser(width=390, height=844) as b:
        sign_in(b, d, ro)
        open_deployment(b, d, dep)
        b.wait("document.querySelectorAll('.tl-row').length == 1")
        assert b.js("document.documentElement.scrollWidth <= window.innerWidth + 1")
        b.screenshot(shots("deployment-phone"))
        b.goto("%s/ui/#/deployments" % d.url)
        b.wait("document.querySelector('#page table')", what="the deployments table")
        b.screenshot(shots("deployments-phone"))


def test_running_deployment_live_then_failed_with_log_tail(d, fleet, tmp_path):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    f = fleet(n=1)
    gate = str(tmp_path / "gate")
    slow = {"BeforeInstall": "echo before", "AfterInstall": "echo waiting-for-gate; while [ ! -e %s ]; do sleep 0.2; done" % gate,
            "ApplicationStart": "echo start", "ValidateService": "echo ok"}
    dep = f.deploy_local(revision(tmp_path, "v1", www, events, hooks=slow))
    with Browser() as b:
        sign_in(b, d, d.admin)
        open_deployment(b, d, dep)
        b.js("window.__noReload = 1")
        b.wait("document.querySelector('.tl-row .seg.InProgress')", timeout=60, what="a running event on the timeline")
        assert status_shown(b) == "InProgress"
        # live hook output of the running event
        b.click(".tl-row")
        b.wait("document.getElementById('live-log').textContent.includes('waiting-for-gate')", timeout=30,
               what="the running hook's output")
        assert "live: AfterInstall" in b.text("#target-detail")
        b.screenshot(shots("deployment-running"))
        open(gate, "w").close()
        b.wait("document.querySelector('#page h1 .badge').textContent == 'Succeeded'", timeout=60,
               what="Succeeded without a reload")
        assert b.js("window.__noReload") == 1
        assert b.js("document.querySelectorAll('.tl-row').length") == 1
        # every event drawn, to scale: widths add up within the track
        segs = b.js("[...document.querySelectorAll('.tl-row')[0].querySelectorAll('.seg')].map(s => s.title)")
        assert any(s.startswith("AfterInstall: Succeeded") for s in segs), segs
        b.screenshot(shots("deployment-succeeded"))

        # a failing hook: the page shows the error code, the script and the log tail
        failing = {"BeforeInstall": "echo fine", "ApplicationStart": "echo boom-marker-42 >&2; exit 3"}
        dep2 = f.deploy_local(revision(tmp_path, "v2", www, events, hooks=failing))
        assert f.wait(dep2)["status"] == "Failed"
        open_deployment(b, d, dep2)
        assert status_shown(b) == "Failed"
        b.wait("document.querySelector('.tl-row .seg.Failed')", what="a failed event")
        b.fill("#tl-filter", "failed")
        b.wait("document.querySelectorAll('.tl-row').length >= 1")
        b.click(".tl-row")
        b.wait("document.getElementById('target-detail').innerText.includes('boom-marker-42')",
               what="the log tail")
        detail = b.text("#target-detail")
        assert "ScriptFailed" in detail and "ApplicationStart.sh" in detail, detail
        b.screenshot(shots("deployment-failed"))


def test_stop_from_the_page(d, fleet, tmp_path):
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    f = fleet(n=1)
    hang = {"AfterInstall": ("echo hanging; sleep 120", 300)}
    dep = f.deploy_local(revision(tmp_path, "v1", www, events, hooks=hang))
    with Browser() as b:
        sign_in(b, d, d.admin)
        open_deployment(b, d, dep)
        b.wait("document.querySelector('.tl-row .seg.InProgress')", timeout=60)
        b.click("#act-stop")
        b.wait("document.getElementById('confirm').open", what="the confirmation")
        b.screenshot(shots("stop-confirm"))
        # cancelling does nothing
        b.click("#confirm-cancel")
        b.wait("!document.getElementById('confirm').open")
        assert d.boto3_client(d.admin).get_deployment(deploymentId=dep)["deploymentInfo"]["status"] == "InProgress"
        b.click("#act-stop")
        b.wait("document.getElementById('confirm').open")
        b.click("#confirm-ok")
        b.wait("document.querySelector('#page h1 .badge').textContent == 'Stopped'", timeout=60,
               what="Stopped on the page")
        b.screenshot(shots("deployment-stopped"))
    # recorded like the API call, under the signed-in key
    assert any("POST StopDeployment -> 200" in ln and d.admin["AccessKeyId"] in ln for ln in d.log().splitlines())


def test_continue_blue_green_from_the_page(bg_stack):
    d, hx, bgfleet, alarm = bg_stack
    set_ready_option(bgfleet, {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 20})
    dep = bgfleet.deploy("v2", targetInstances=fleet_filter("b"))
    wait_status(bgfleet, dep, "Ready")
    with Browser() as b:
        sign_in(b, d, d.admin)
        open_deployment(b, d, dep)
        b.wait("!!document.getElementById('act-continue')", what="the continue button")
        assert "Ready" == status_shown(b)
        b.wait("document.querySelectorAll('.tl-row').length == 4")
        assert "(Blue)" in b.text(".tl-viewport") and "(Green)" in b.text(".tl-viewport")
        b.screenshot(shots("bluegreen-ready"))
        b.click("#act-continue")
        b.wait("document.getElementById('confirm').open")
        b.click("#confirm-ok")
        b.wait("document.querySelector('#page h1 .badge').textContent == 'Succeeded'", timeout=120,
               what="the blue/green deployment to finish")
        b.screenshot(shots("bluegreen-succeeded"))
    assert any("POST ContinueDeployment -> 200" in ln for ln in d.log().splitlines())


from test_traffic_bg_ready import set_ready_option, wait_status  # noqa: E402
from test_traffic_e2e import bg_stack, fleet_filter  # noqa: E402,F401


def test_wait_is_answered_by_a_change(d, fleet, tmp_path):
    """/ui/wait, the page's live updates: held until the engine commits a
    change of the deployment, answered with the same counter at its timeout."""
    cookie, csrf, _ = sign_in_http(d, d.admin)
    hdrs = {"Cookie": cookie, "X-Rolloutd-CSRF": csrf}
    # the session and its token are needed, and a well-formed body
    assert http(d, "POST", "/ui/wait", {"deploymentId": "d-NONE", "seq": -1})[0] == 401
    assert http(d, "POST", "/ui/wait", {"deploymentId": "d-NONE", "seq": -1}, {"Cookie": cookie})[0] == 403
    st, _, _, j = http(d, "POST", "/ui/wait", {"deploymentId": 5, "seq": 0}, hdrs)
    assert st == 400 and j["__type"] == "ValidationException" and "deploymentId" in j["message"], j
    # nothing changes: the timeout answers with the counter asked about
    assert http(d, "POST", "/ui/wait", {"deploymentId": "d-NONE", "seq": 0, "timeoutMs": 200}, hdrs)[3] == {"seq": 0}

    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    gate, waiting = str(tmp_path / "gate"), str(tmp_path / "waiting")
    hooks = {"AfterInstall": "touch %s; while [ ! -e %s ]; do sleep 0.2; done" % (waiting, gate)}
    f = fleet(n=1)
    dep = f.deploy_local(revision(tmp_path, "v1", www, events, hooks=hooks))
    wait_for(lambda: os.path.exists(waiting), timeout=60, what="the hook waiting for its gate")
    seq = http(d, "POST", "/ui/wait", {"deploymentId": dep, "seq": -1, "timeoutMs": 100}, hdrs)[3]["seq"]
    assert seq > 0  # the deployment's events so far were announced

    held = {}

    def hold():
        held["r"] = http(d, "POST", "/ui/wait", {"deploymentId": dep, "seq": seq, "timeoutMs": 30000}, hdrs)

    t = threading.Thread(target=hold)
    t.start()
    open(gate, "w").close()
    t.join(60)
    st, _, _, j = held["r"]
    # answered by the change (a timeout would repeat seq)
    assert st == 200 and j["seq"] > seq, j
    assert f.wait(dep)["status"] == "Succeeded"
