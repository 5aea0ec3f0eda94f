"""The per-instance health gate in the engine (docs/health.md): an http-check
alarm with `gate: true` is checked for each instance right after its
ApplicationStart (on a worker); a healthy instance goes on to ValidateService,
an unhealthy one fails its ValidateService with the gate's reason and never
runs the hook. rolloutd + real rollout-agents, S3 revisions on moto."""

import http.server
import os
import time

import pytest

from health_helpers import Moto, serve
from test_health_e2e import AlarmFleet, s3_plugin  # noqa: F401


class PerHost:
    """GET /health/<instance>: 200, or 500 for the names in self.bad; counts hits per name."""

    def __init__(self):
        self.bad = set()
        self.hits = {}
        ph = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                ph.hits[name] = ph.hits.get(name, 0) + 1
                st = 500 if name in ph.bad else 200
                b = b"down" if st == 500 else b"ok"
                self.send_response(st)
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def log_message(self, *a):
                pass

        self.srv, self.port = serve(H)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def made():
    objs = []
    yield objs
    for o in reversed(objs):
        o.close()


def target_events(fl, dep, name):
    t = fl.f.cd.get_deployment_target(deploymentId=dep, targetId=name)["deploymentTarget"]["instanceTarget"]
    return {e["lifecycleEventName"]: e for e in t["lifecycleEvents"]}


def test_http_check_gate_fails_validate_service(daemon_factory, tmp_path, made):
    moto = Moto()
    made.append(moto)
    hs = PerHost()
    made.append(hs)
    d = daemon_factory(plugins={"onprem": {}, "s3": s3_plugin(moto), "http-check": {"timeout": "1s"}},
                       settings={"long_poll": "5s"},
                       alarms={"web-gate": {"plugin": "http-check", "interval": "500ms",
                                            "url": "http://127.0.0.1:%d/health/{host}" % hs.port,
                                            # the deployment-wide poll asks a host that stays healthy
                                            "hosts": ["fleet"], "gate": "true", "gate_timeout": "2s"}})
    fl = AlarmFleet(d, tmp_path, moto, ["web-gate"])
    made.append(fl)
    names = fl.f.names

    # every instance healthy: the gate passes each one after its ApplicationStart
    v1 = fl.deploy("v1")
    info = fl.wait(v1)
    assert info["status"] == "Succeeded", (info, d.log_tail(40))
    assert all(hs.hits.get(n, 0) >= 1 for n in names), hs.hits
    for n in names:
        ev = target_events(fl, v1, n)
        assert ev["ApplicationStart"]["status"] == "Succeeded" and ev["ValidateService"]["status"] == "Succeeded", ev
    assert sum(1 for ln in fl.events() if ln.startswith("ValidateService v1")) == 3, fl.events()

    # the second instance's health endpoint fails: its ValidateService fails with the gate's reason
    bad = names[1]
    hs.bad.add(bad)
    t0 = time.monotonic()
    v2 = fl.deploy("v2")
    info = fl.wait(v2)
    assert info["status"] == "Failed", (info, d.log_tail(40))
    ev = target_events(fl, v2, bad)
    assert ev["ApplicationStart"]["status"] == "Succeeded", ev
    vs = ev["ValidateService"]
    assert vs["status"] == "Failed", ev
    msg = vs["diagnostics"]["message"]
    assert "Health gate web-gate is ALARM for instance %s" % bad in msg, vs
    assert "500" in msg, vs
    # gate_timeout 2s: retried about once a second before giving up
    assert hs.hits[bad] >= 2 + 1, hs.hits
    assert time.monotonic() - t0 >= 2
    # the hook never ran on the unhealthy instance; the healthy one before it passed
    assert not any(ln == "ValidateService v2 %s" % bad for ln in fl.events()), fl.events()
    assert target_events(fl, v2, names[0])["ValidateService"]["status"] == "Succeeded"
    t = fl.f.cd.get_deployment_target(deploymentId=v2, targetId=bad)["deploymentTarget"]["instanceTarget"]
    assert t["status"] == "Failed", t
