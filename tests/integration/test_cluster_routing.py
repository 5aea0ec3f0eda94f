"""Any daemon of a cluster answers any agent (docs/cluster.md, "How calls
reach the driving daemon"): three rolloutd on one PostgreSQL database, real
rollout-agents polling daemons that do not drive their deployment, directly
or through HAProxy (round robin). A command queued by the driver reaches an
agent long-polling another daemon at once (NOTIFY rolloutd_host, not the end
of a poll), its reports reach the driver through the relay, StopDeployment
sent to another daemon stops the deployment, a kill -9 of the driver in the
middle of a OneAtATime deployment behind HAProxy ends Succeeded with each
lifecycle event run once, and a forged X-Rolloutd-Relay header is refused
with the reason. Skipped when PostgreSQL or HAProxy is not installed."""

import hashlib
import hmac
import http.client
import json
import os
import time

import pytest

import harness
from agent_helpers import Agent, wait_for
from cluster_helpers import HAPROXY, Balancer, Cluster, kill9, until
from engine_helpers import Fleet, Signed
from pg_helpers import db_name, pg  # noqa: F401
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from test_agent_rolloutd import lines, revision

EVENTS = ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]
COMMANDS = 7  # ApplicationStop, DownloadBundle, Install and the four above
OVERWRITE = "file_exists_behavior: OVERWRITE\n"  # the agents of one machine share www


def agent(tmp_path, f, name, url, cert, **tls):
    k = f.keys[name]
    return Agent(tmp_path, url, "arn:aws:iam::000000000000:user/%s" % name, k["AccessKeyId"], k["SecretAccessKey"],
                 cert, name="agent-" + name, heartbeat="2s", **tls).start()


def finished(client, dep):
    info = client.call("CodeDeploy_20141006.GetDeployment", {"deploymentId": dep}, retry_for=10)["deploymentInfo"]
    return info if info["status"] in ("Succeeded", "Failed", "Stopped") else None


def metric(d, text):
    _, body = harness.http_get(d.url + "/metrics")
    return text.encode() in body


def commands_once(c, dep, hosts):
    rows = c.psql("SELECT host, command_name, COUNT(*) FROM host_commands WHERE deployment_id = '%s'"
                  " GROUP BY host, command_name" % dep)
    assert len(rows) == COMMANDS * hosts and all(r[2] == "1" for r in rows), rows


def signed(method, url, keys, data=b""):
    req = AWSRequest(method=method, url=url, data=data)
    SigV4Auth(Credentials(keys["AccessKeyId"], keys["SecretAccessKey"]), "codedeploy", harness.REGION).add_auth(req)
    r = urllib.request.Request(url, data=data, method=method, headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(r, timeout=30, context=harness.context_for(url)) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def upload_bundle(d, keys, path):
    """The tgz at path through /bundles/uploads (docs/api-extensions.md), over HTTP or HTTPS: its revision."""
    data = open(path, "rb").read()
    st, body = signed("POST", "%s/bundles/uploads?sha256=%s&size=%d&bundleType=tgz" % (
        d.url, hashlib.sha256(data).hexdigest(), len(data)), keys)
    assert st == 200, body
    j = json.loads(body)
    while not j.get("complete"):
        off = j.get("offset", 0)
        st, body = signed("PUT", "%s/bundles/uploads/%s?offset=%d" % (d.url, j["uploadId"], off), keys,
                          data[off:off + j.get("partSize", len(data))])
        assert st == 200, body
        j = json.loads(body)
    return j["revision"]


def ui_stop(d, dep):
    """StopDeployment from d's dashboard (signed in with its admin key): (status, body)."""
    def post(path, body, headers):
        ctx = harness.context_for(d.url)
        conn = (http.client.HTTPSConnection("127.0.0.1", d.port, timeout=10, context=ctx) if ctx
                else http.client.HTTPConnection("127.0.0.1", d.port, timeout=10))
        conn.request("POST", path, body=json.dumps(body), headers=dict({"Content-Type": "application/json"}, **headers))
        r = conn.getresponse()
        out = (r.status, r.getheader("Set-Cookie"), json.loads(r.read() or b"{}"))
        conn.close()
        return out

    st, cookie, j = post("/ui/signin", {"accessKeyId": d.admin["AccessKeyId"],
                                        "secretAccessKey": d.admin["SecretAccessKey"]}, {})
    assert st == 200, j
    st, _, j = post("/ui/api/CodeDeploy_20141006.StopDeployment", {"deploymentId": dep},
                    {"Cookie": cookie.split(";")[0], "X-Rolloutd-CSRF": j["csrfToken"]})
    return st, j


def relay_key(kek_hex):
    """HKDF-SHA256 (RFC 5869, no salt) of the KEK for "rolloutd relay v1", as auth_kek_derive makes it."""
    prk = hmac.new(b"\0" * 32, bytes.fromhex(kek_hex), hashlib.sha256).digest()
    return hmac.new(prk, b"rolloutd relay v1\x01", hashlib.sha256).digest()


def relay_header(key, authorization, frm="test", ts=None, hold=0, addr="127.0.0.9", cn=""):
    ts = int(time.time()) if ts is None else ts
    cnhex = cn.encode().hex()
    msg = "rolloutd-relay-v1\n%s\n%d\n%d\n%s\n%s\n%s" % (frm, ts, hold, addr, cnhex, authorization)
    mac = hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()
    return "v1;from=%s;ts=%d;hold=%d;addr=%s;cn=%s;mac=%s" % (frm, ts, hold, addr, cnhex, mac)


def raw_call(d, keys, target, body, extra):
    """A signed call with extra headers added after signing: (status, parsed body)."""
    s = Signed(d.url, keys, "codedeploy")
    s.fast_sign = True
    data = json.dumps(body).encode()
    h = s._headers(target, data)
    h.update(extra(h))
    if s.ssl_context:
        conn = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=10, context=s.ssl_context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    conn.request("POST", "/", body=data, headers=h)
    r = conn.getresponse()
    out = json.loads(r.read() or b"{}")
    conn.close()
    return r.status, out


def test_agents_polling_other_daemons(daemon_factory, pg, tmp_path, request):
    # HTTPS with client certificates: the relay pins the daemons' shared
    # certificate and carries the agent's certificate name. long_poll well
    # above the pick-up bound asserted below: a command that reached the
    # agent only when its poll ended would take 20 s
    names = ["host-0", "host-1"]
    pki = harness.make_pki(tmp_path / "pki", instances=names)
    c = Cluster(daemon_factory, pg, tmp_path, db_name(request), n=3, lease_ttl="4s", long_poll="20s", tls=pki,
                client_ca=True)
    a, b, cc = c.daemons
    cert = os.path.join(a.data_dir, "daemon.crt")
    www, events, started = str(tmp_path / "www"), str(tmp_path / "events.log"), str(tmp_path / "started")
    f = Fleet(a, n=2, start_agents=False, config="CodeDeployDefault.AllAtOnce")
    assert f.names == names
    tls = lambda n: dict(ca_file=pki["ca"], client_cert=pki["clients"][n][0], client_key=pki["clients"][n][1])
    # each agent polls a daemon that will not drive the deployment
    agents = [agent(tmp_path, f, names[0], b.url, cert, **tls(names[0])),
              agent(tmp_path, f, names[1], cc.url, cert, **tls(names[1]))]
    try:
        rev = upload_bundle(a, a.admin, revision(tmp_path, "v1", www, events, appspec_extra=OVERWRITE))
        time.sleep(1)  # both agents' polls are held by now
        t0 = time.time()
        dep = f.admin.call("CodeDeploy_20141006.CreateDeployment",
                           {"applicationName": f.app, "deploymentGroupName": f.group, "revision": rev})["deploymentId"]
        c.wait_driver(dep, a, timeout=10)
        info = until(lambda: finished(Signed(b.url, b.admin, "codedeploy"), dep), timeout=60, step=0.3)
        assert info["status"] == "Succeeded", (info, a.log_tail(30), agents[0].log()[-2000:])
        # the first command reached an agent polling another daemon at once
        first = int(c.psql("SELECT MIN(acked_time) FROM host_commands WHERE deployment_id = '%s'" % dep)[0][0])
        assert first / 1000.0 - t0 < 3.0, (first / 1000.0 - t0, b.log_tail(20))
        commands_once(c, dep, 2)
        for e in EVENTS:
            assert lines(events).count("%s v1 %s" % (e, dep)) == 2, lines(events)
        # the agents' reports went through the relay of the daemon they poll
        for d in (b, cc):
            assert metric(d, 'rolloutd_relayed_calls_total{operation="PutHostCommandComplete",result="ok"}'), \
                d.log_tail(20)

        # A second deployment, driven by B: the agents' polls now wait on A
        # (which drove the last commands for their hosts); B's notice makes A
        # answer them early and B and C route them again, to B, at once
        hooks = {e: 'echo "$LIFECYCLE_EVENT v2 $DEPLOYMENT_ID" >> %s' % events for e in EVENTS}
        hooks["BeforeInstall"] = "touch %s; sleep 30" % started
        rev2 = upload_bundle(b, b.admin, revision(tmp_path, "v2", www, events, hooks=hooks, appspec_extra=OVERWRITE))
        time.sleep(1)
        t0 = time.time()
        dep2 = Signed(b.url, b.admin, "codedeploy").call(
            "CodeDeploy_20141006.CreateDeployment",
            {"applicationName": f.app, "deploymentGroupName": f.group, "revision": rev2})["deploymentId"]
        c.wait_driver(dep2, b, timeout=10)
        wait_for(lambda: os.path.exists(started), timeout=30)
        # ApplicationStop, DownloadBundle and BeforeInstall's start, not a 20 s poll
        assert time.time() - t0 < 8, (time.time() - t0, a.log_tail(20), b.log_tail(20))
        assert metric(cc, 'rolloutd_relayed_calls_total{operation="PollHostCommand",result="rerouted"}'), \
            cc.log_tail(20)

        # the dashboard of a daemon that does not drive it has no signature to relay
        st, out = ui_stop(cc, dep2)
        assert st == 421 and out["__type"] == "MisdirectedRequestException" and b.url in out["message"], out
        # StopDeployment sent to a daemon that does not drive the deployment
        out = Signed(cc.url, cc.admin, "codedeploy").call("CodeDeploy_20141006.StopDeployment",
                                                          {"deploymentId": dep2})
        assert out["status"] in ("Pending", "Succeeded"), out
        info = until(lambda: finished(Signed(b.url, b.admin, "codedeploy"), dep2), timeout=30, step=0.3)
        assert info["status"] == "Stopped", info
        assert metric(cc, 'rolloutd_relayed_calls_total{operation="StopDeployment",result="ok"} 1')
    finally:
        for x in agents:
            x.stop()

    # the relay header: valid, forged, tampered, malformed
    key = relay_key(open(os.path.join(a.data_dir, "kek")).read().strip())
    ok = lambda h: {"X-Rolloutd-Relay": relay_header(key, h["Authorization"])}
    st, out = raw_call(b, b.admin, "CodeDeploy_20141006.ListApplications", {}, ok)
    assert st == 200 and f.app in out["applications"], out
    forged = lambda h: {"X-Rolloutd-Relay": relay_header(b"x" * 32, h["Authorization"])}
    st, out = raw_call(b, b.admin, "CodeDeploy_20141006.ListApplications", {}, forged)
    assert st == 403 and "does not authenticate" in out["message"] and "kek_file" in out["message"], out
    tampered = lambda h: {"X-Rolloutd-Relay": relay_header(key, h["Authorization"]).replace("hold=0", "hold=9")}
    st, out = raw_call(b, b.admin, "CodeDeploy_20141006.ListApplications", {}, tampered)
    assert st == 403 and "does not authenticate" in out["message"], out
    # bound to its request: a valid header on another request
    other = relay_header(key, "AWS4-HMAC-SHA256 Credential=other")
    st, out = raw_call(b, b.admin, "CodeDeploy_20141006.ListApplications", {}, lambda h: {"X-Rolloutd-Relay": other})
    assert st == 403 and "does not authenticate" in out["message"], out
    old = lambda h: {"X-Rolloutd-Relay": relay_header(key, h["Authorization"], ts=int(time.time()) - 3600)}
    st, out = raw_call(b, b.admin, "CodeDeploy_20141006.ListApplications", {}, old)
    assert st == 403 and "synchronise the daemons' clocks" in out["message"], out
    st, out = raw_call(b, b.admin, "CodeDeploy_20141006.ListApplications", {}, lambda h: {"X-Rolloutd-Relay": "x"})
    assert st == 403 and "not one rolloutd writes" in out["message"], out


def test_single_daemon_refuses_relay_header(daemon):
    st, out = raw_call(daemon, daemon.admin, "CodeDeploy_20141006.ListApplications", {},
                       lambda h: {"X-Rolloutd-Relay": relay_header(b"k" * 32, h["Authorization"])})
    assert st == 403 and "only between the daemons of a cluster" in out["message"], out


@pytest.mark.skipif(not os.access(HAPROXY, os.X_OK), reason="haproxy is not installed")
def test_behind_haproxy_driver_killed_mid_batch(daemon_factory, pg, tmp_path, request):
    c = Cluster(daemon_factory, pg, tmp_path, db_name(request), n=3, lease_ttl="2s")
    lb = Balancer(tmp_path, c.daemons).start()
    a = c.daemons[0]
    events, www = str(tmp_path / "events.log"), str(tmp_path / "www")
    started = str(tmp_path / "started")
    hooks = {e: 'echo "$LIFECYCLE_EVENT v1 $DEPLOYMENT_ID" >> %s' % events for e in EVENTS}
    # the first host's BeforeInstall holds the batch long enough for the kill to land in it
    hooks["BeforeInstall"] = 'if [ ! -e %s ]; then touch %s; sleep 3; fi; %s' % (started, started,
                                                                                 hooks["BeforeInstall"])
    f = Fleet(a, n=2, start_agents=False, config="CodeDeployDefault.OneAtATime")
    agents = [agent(tmp_path, f, n, lb.url, os.path.join(a.data_dir, "daemon.crt")) for n in f.names]
    client = Signed(lb.url, a.admin, "codedeploy", timeout=30)
    try:
        rev = upload_bundle(a, a.admin, revision(tmp_path, "v1", www, events, hooks=hooks, appspec_extra=OVERWRITE))
        dep = client.call("CodeDeploy_20141006.CreateDeployment",
                          {"applicationName": f.app, "deploymentGroupName": f.group, "revision": rev},
                          retry_for=10)["deploymentId"]
        drv = until(lambda: c.driver(dep), timeout=10)
        driver = [d for d in c.daemons if c.daemon_id(d) == drv][0]
        wait_for(lambda: os.path.exists(started), timeout=30)
        kill9(driver)
        until(lambda: c.driver(dep) not in (None, drv), timeout=15)
        info = until(lambda: finished(client, dep), timeout=60, step=0.3)
        live = [d for d in c.daemons if d is not driver]
        assert info["status"] == "Succeeded", (info, [d.log_tail(20) for d in live], agents[0].log()[-2000:])
        commands_once(c, dep, 2)
        for e in EVENTS:
            assert lines(events).count("%s v1 %s" % (e, dep)) == 2, lines(events)
    finally:
        for x in agents:
            x.stop()
        lb.stop()
