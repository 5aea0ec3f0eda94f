"""GET /metrics: the Prometheus text format (checked by promtool), the
families operators need after a real deployment, a real Prometheus scraping
it and answering one query of each kind (counter, gauge, histogram), the
metrics_listen setting, and contrib/'s alert rules (promtool check rules)
and Grafana dashboard (every metric it names exists)."""

import json
import os
import re
import shutil
import subprocess
import urllib.request

import pytest

import harness
from engine_helpers import Fleet, s3_revision
from health_helpers import Prometheus

FAMILIES = {
    "rolloutd_deployments": "gauge",
    "rolloutd_deployment_duration_seconds": "histogram",
    "rolloutd_lifecycle_event_duration_seconds": "histogram",
    "rolloutd_agents_connected": "gauge",
    "rolloutd_long_polls_held": "gauge",
    "rolloutd_agent_last_seen_age_seconds": "gauge",
    "rolloutd_api_requests_total": "counter",
    "rolloutd_api_request_duration_seconds": "histogram",
    "rolloutd_bundle_cache_bytes": "gauge",
    "rolloutd_bundle_cache_hits_total": "counter",
    "rolloutd_bundle_cache_misses_total": "counter",
    "rolloutd_bundle_fetch_duration_seconds": "histogram",
    "rolloutd_alarm_checks_total": "counter",
    "rolloutd_plugin_op_duration_seconds": "histogram",
    "rolloutd_plugin_op_errors_total": "counter",
    "rolloutd_store_transaction_duration_seconds": "histogram",
    "rolloutd_store_transaction_rows": "histogram",
}
CONTRIB = os.path.join(harness.srcdir(), "contrib")


def scrape(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


def promtool(*args, input=None):
    if not shutil.which("promtool"):
        pytest.fail("promtool is missing: run scripts/install-deps (Debian package prometheus)", pytrace=False)
    return subprocess.run(["promtool", *args], input=input, capture_output=True, text=True, timeout=60)


def types(text):
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


@pytest.fixture
def d(daemon_factory):
    return daemon_factory(plugins={"onprem": {}}, settings={"long_poll": "2s"})


def test_metrics_after_a_deployment(d, tmp_path):
    f = Fleet(d, n=2, behaviours={"host-0": lambda dep, ev: "fail" if ev == "ValidateService" else "ok"})
    try:
        dep = f.deploy(s3_revision())
        assert f.wait(dep)["status"] == "Failed"
        text = scrape(d.url)  # no signature, like /health
    finally:
        f.stop()
    p = promtool("check", "metrics", input=text)
    assert p.returncode == 0, p.stdout + p.stderr
    got = types(text)
    for name, kind in FAMILIES.items():
        assert got.get(name) == kind, (name, got.get(name))
    assert re.search(r'^rolloutd_deployments\{status="Failed",application="app",platform="Server"\} 1$', text, re.M)
    assert re.search(r'^rolloutd_deployment_duration_seconds_count\{status="Failed"\} 1$', text, re.M)
    assert re.search(r'^rolloutd_lifecycle_event_duration_seconds_count\{event="ValidateService",status="Failed"\} 1$',
                     text, re.M), text
    assert re.search(r'^rolloutd_api_requests_total\{operation="CreateDeployment",result="ok"\} 1$', text, re.M)
    assert re.search(r'^rolloutd_agent_last_seen_age_seconds\{instance="host-0"\} ', text, re.M)
    assert re.search(r'^rolloutd_agents_connected 2$', text, re.M)
    assert re.search(r'^rolloutd_store_transaction_rows_count [1-9]', text, re.M)
    assert re.search(r'^rolloutd_bundle_cache_bytes [1-9]', text, re.M)  # the uploaded bundle


def test_real_prometheus_scrapes_it(d, tmp_path):
    f = Fleet(d, n=2)
    try:
        dep = f.deploy(s3_revision())
        assert f.wait(dep)["status"] == "Succeeded"
        prom = Prometheus(tmp_path, [d.port])
        try:
            prom.wait_value('up{job="app"}', lambda v: v == 1)
            # a counter, a gauge and a histogram, each through PromQL
            prom.wait_value('sum(rolloutd_api_requests_total{operation="PollHostCommand"})', lambda v: v >= 2)
            prom.wait_value('rolloutd_deployments{status="Succeeded"}', lambda v: v == 1)
            prom.wait_value('histogram_quantile(0.5, sum by (le) '
                            '(rolloutd_lifecycle_event_duration_seconds_bucket{status="Succeeded"}))',
                            lambda v: 0 <= v < 60)
        finally:
            prom.close()
    finally:
        f.stop()


def test_metrics_listen_moves_it(daemon_factory):
    port = harness.free_port()
    d = daemon_factory(settings={"metrics_listen": "127.0.0.1:%d" % port})
    st, _ = harness.http_get(d.url + "/metrics")
    assert st == 404
    text = scrape("http://127.0.0.1:%d" % port)
    assert "# TYPE rolloutd_deployments gauge" in text
    st, _ = harness.http_get("http://127.0.0.1:%d/" % port)
    assert st == 404


def test_contrib_rules_and_dashboard(d):
    rules = os.path.join(CONTRIB, "prometheus", "rolloutd-rules.yml")
    p = promtool("check", "rules", rules)
    assert p.returncode == 0, p.stdout + p.stderr
    known = set(FAMILIES) | {"up", "rolloutd_agent_last_seen_timestamp_seconds", "rolloutd_bundle_cache_bundles"}
    exposed = set(types(scrape(d.url)))
    dash = json.load(open(os.path.join(CONTRIB, "grafana", "rolloutd-dashboard.json")))
    exprs = [t["expr"] for pnl in dash["panels"] for t in pnl["targets"]]
    exprs += re.findall(r"expr: (.*)", open(rules).read())
    assert len(exprs) > 10
    for e in exprs:
        for name in re.findall(r"\b(rolloutd_[a-z_]+?)(?:_bucket|_count|_sum)?\b", e):
            assert name in known and name in exposed | {"up"}, (name, e)
