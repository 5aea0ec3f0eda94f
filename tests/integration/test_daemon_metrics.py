"""GET /metrics: the Prometheus text format (checked by promtool), the
families operators need after a real deployment, a real Prometheus scraping
it and answering a query on every family (a deployment through real
plugins of each kind: onprem, s3 against moto_server, http-check answering
an alarm, haproxy in front of the instances), the metrics_listen and
metrics_require_key settings (a real Prometheus scraping with basic_auth),
and contrib/'s alert rules (promtool check rules) and Grafana dashboard
(every metric it names exists)."""

import json
import os
import re
import shutil
import subprocess
import urllib.request

import pytest

import base64

import harness
import traffic_helpers as th
from engine_helpers import Fleet, s3_revision
from health_helpers import HealthServer, Moto, Prometheus

FAMILIES = {
    "rolloutd_deployments": "gauge",
    "rolloutd_deployment_duration_seconds": "histogram",
    "rolloutd_lifecycle_event_duration_seconds": "histogram",
    "rolloutd_agents_connected": "gauge",
    "rolloutd_long_polls_held": "gauge",
    "rolloutd_http_connections": "gauge",
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
    assert re.search(r'^rolloutd_agent_last_seen_age_seconds\{instance_name="host-0"\} ', text, re.M)
    assert re.search(r'^rolloutd_agents_connected 2$', text, re.M)
    assert re.search(r'^rolloutd_store_transaction_rows_count [1-9]', text, re.M)
    assert re.search(r'^rolloutd_bundle_cache_bytes [1-9]', text, re.M)  # the uploaded bundle


@pytest.fixture
def stack(daemon_factory, tmp_path):
    """rolloutd with a plugin of each kind, each talking to a real peer:
    onprem (platform), s3 on moto_server (source), http-check against a
    local /health (health, the group's alarm) and haproxy (traffic, the
    group's load balancer, one server per instance)."""
    if not os.access(th.HAPROXY, os.X_OK):
        pytest.fail("haproxy is missing: run scripts/install-deps", pytrace=False)
    made = []
    try:
        moto = Moto()
        made.append(moto)
        health = HealthServer()
        made.append(health)
        names = ["host-0", "host-1"]
        hx = th.Haproxy(tmp_path, {"web": [(n, harness.free_port()) for n in names]}, checks=False).start()
        made.append(hx)
        d = daemon_factory(plugins={"onprem": {}, "http-check": {"timeout": "2s"}, "haproxy": {"socket": hx.socket},
                                    "s3": {"endpoint": moto.url, "access_key_id": "testing",
                                           "secret_access_key": "testing"}},
                           alarms={"site": {"plugin": "http-check", "interval": "200ms",
                                            "url": "http://127.0.0.1:%d/health" % health.port}},
                           settings={"long_poll": "2s"})
        s3 = moto.client("s3")
        s3.create_bucket(Bucket="revs")
        path = str(tmp_path / "app.tgz")
        from engine_helpers import make_tgz
        make_tgz(path, {"appspec.yml": "version: 0.0\nos: linux\n", "VERSION": "v1\n"})
        etag = s3.put_object(Bucket="revs", Key="app.tgz", Body=open(path, "rb").read())["ETag"].strip('"')
        f = Fleet(d, n=len(names), delay=0.15, config="CodeDeployDefault.OneAtATime")
        made.append(f)
        f.cd.update_deployment_group(
            applicationName=f.app, currentDeploymentGroupName=f.group,
            deploymentConfigName="CodeDeployDefault.OneAtATime",
            deploymentStyle={"deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            loadBalancerInfo={"targetGroupInfoList": [{"name": "web"}]},
            alarmConfiguration={"enabled": True, "alarms": [{"name": "site"}]})
        yield d, f, etag
    finally:
        for o in reversed(made):
            o.stop() if hasattr(o, "stop") else o.close()


def s3_rev(key, etag=None):
    """An S3 revision; one with its eTag pins its content, so the cache serves it again."""
    loc = {"bucket": "revs", "key": key, "bundleType": "tgz"}
    if etag:
        loc["eTag"] = etag
    return {"revisionType": "S3", "s3Location": loc}


def test_real_prometheus_queries_every_family(stack, tmp_path):
    d, f, etag = stack
    # the same revision twice (a fetch, then a cache hit), then one S3 does not have
    for _ in range(2):
        dep = f.deploy(s3_rev("app.tgz", etag))
        info = f.wait(dep, timeout=60)
        assert info["status"] == "Succeeded", (info, d.log_tail(40))
    assert "BlockTraffic" in f.events(dep, "host-0")
    try:  # refused at once by the revision's pre-flight, or failed when fetched
        info = f.wait(f.deploy(s3_rev("missing.tgz")), timeout=60)
        assert info["status"] == "Failed", info
    except harness.HarnessError:
        raise
    except Exception as e:  # noqa: B902 (the refusal, as the signing client raises it)
        assert "missing.tgz" in str(e) or "NoSuchKey" in str(e) or "Revision" in str(e), e
    prom = Prometheus(tmp_path, [d.port])
    try:
        prom.wait_value('up{job="app"}', lambda v: v == 1)
        queries = {
            # deployments by status, application and platform; their durations
            'rolloutd_deployments{status="Succeeded",application="app",platform="Server"}': lambda v: v == 2,
            'sum(rolloutd_deployment_duration_seconds_count{status="Succeeded"})': lambda v: v == 2,
            'histogram_quantile(0.5, sum by (le) (rolloutd_lifecycle_event_duration_seconds_bucket'
            '{event="BlockTraffic"}))': lambda v: 0 <= v < 60,
            # agents
            'rolloutd_agents_connected': lambda v: v == 2,
            'rolloutd_long_polls_held': lambda v: 0 <= v <= 2,
            'rolloutd_agent_last_seen_age_seconds{instance_name="host-1"}': lambda v: 0 <= v < 60,
            # API requests by operation and result, latency
            'sum(rolloutd_api_requests_total{operation="CreateDeployment"})': lambda v: v == 3,
            'histogram_quantile(0.9, sum by (le) (rolloutd_api_request_duration_seconds_bucket'
            '{operation="PutHostCommandComplete"}))': lambda v: 0 <= v < 60,
            # the bundle cache
            'rolloutd_bundle_cache_bytes': lambda v: v > 0,
            'rolloutd_bundle_cache_hits_total{source="s3"}': lambda v: v >= 1,
            'rolloutd_bundle_cache_misses_total{source="s3"}': lambda v: v >= 1,
            'sum(rolloutd_bundle_fetch_duration_seconds_count{source="s3"})': lambda v: v >= 1,
            # alarm checks by result
            'rolloutd_alarm_checks_total{result="OK"}': lambda v: v >= 1,
            # plugin calls of every kind, and errors
            'rolloutd_plugin_op_duration_seconds_count{plugin="onprem",op="resolve"}': lambda v: v >= 2,
            'rolloutd_plugin_op_duration_seconds_count{plugin="s3",op="fetch"}': lambda v: v >= 1,
            'rolloutd_plugin_op_duration_seconds_count{plugin="http-check",op="check"}': lambda v: v >= 1,
            'rolloutd_plugin_op_duration_seconds_count{plugin="haproxy",op="block"}': lambda v: v >= 4,
            'rolloutd_plugin_op_duration_seconds_count{plugin="haproxy",op="allow"}': lambda v: v >= 4,
            'rolloutd_plugin_op_errors_total{plugin="s3",op="fetch"}': lambda v: v >= 1,
            # store transactions: latency and size
            'histogram_quantile(0.99, sum by (le) (rolloutd_store_transaction_duration_seconds_bucket))':
                lambda v: 0 <= v < 60,
            'rolloutd_store_transaction_rows_sum': lambda v: v > 0,
        }
        for q, pred in queries.items():
            try:
                prom.wait_value(q, pred)
            except AssertionError:
                print(scrape(d.url))
                raise
    finally:
        prom.close()


def test_metrics_listen_moves_it(daemon_factory):
    port = harness.free_port()
    d = daemon_factory(settings={"metrics_listen": "127.0.0.1:%d" % port})
    st, _ = harness.http_get(d.url + "/metrics")
    assert st == 404
    text = scrape("http://127.0.0.1:%d" % port)
    assert "# TYPE rolloutd_deployments gauge" in text
    # it serves the metrics only (GET / is answered by every listener: the
    # official agent's reachability probe)
    for path in ("/ui/", "/bundles/x", "/nothing"):
        st, _ = harness.http_get("http://127.0.0.1:%d%s" % (port, path))
        assert st == 404, path


def get_metrics(url, user=None, secret=None):
    """(status, headers, body) of GET url/metrics, with Basic credentials when given."""
    req = urllib.request.Request(url + "/metrics")
    if user is not None:
        req.add_header("Authorization",
                       "Basic " + base64.b64encode(("%s:%s" % (user, secret)).encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def test_metrics_require_key(daemon_factory):
    d = daemon_factory(settings={"metrics_require_key": True}, start=False)
    ro = d.create_access_key("scraper", "readonly")
    dep = d.create_access_key("ci", "deployer")
    d.start()
    st, hdr, body = get_metrics(d.url)
    assert st == 401 and hdr["WWW-Authenticate"].startswith("Basic "), (st, body)
    assert "MissingAuthenticationToken" in body
    st, hdr, body = get_metrics(d.url, ro["AccessKeyId"], ro["SecretAccessKey"] + "x")
    assert st == 401 and "UnrecognizedClient" in body, (st, body)
    st, _, body = get_metrics(d.url, "AKIANOSUCHKEY", ro["SecretAccessKey"])
    assert st == 401 and "UnrecognizedClient" in body, (st, body)
    st, _, body = get_metrics(d.url, dep["AccessKeyId"], dep["SecretAccessKey"])
    assert st == 403 and "AccessDenied" in body and "readonly" in body, (st, body)
    for k in (ro, d.admin):
        st, hdr, body = get_metrics(d.url, k["AccessKeyId"], k["SecretAccessKey"])
        assert st == 200 and hdr["Content-Type"].startswith("text/plain; version=0.0.4"), (st, body)
        assert "# TYPE rolloutd_deployments gauge" in body
    # the rest stays as it was: /health public, the API signed
    assert harness.http_get(d.url + "/health")[0] == 200


def test_real_prometheus_scrapes_with_a_key(daemon_factory, tmp_path):
    port = harness.free_port()
    d = daemon_factory(settings={"metrics_listen": "127.0.0.1:%d" % port, "metrics_require_key": True},
                       start=False)
    ro = d.create_access_key("prometheus", "readonly")
    d.start()
    assert get_metrics("http://127.0.0.1:%d" % port)[0] == 401
    good = Prometheus(tmp_path, [port], basic_auth=(ro["AccessKeyId"], ro["SecretAccessKey"]))
    try:
        good.wait_value('up{job="app"}', lambda v: v == 1)
        good.wait_value('rolloutd_api_requests_total{operation="/metrics",result="ok"}', lambda v: v >= 1)
    finally:
        good.close()
    bad = Prometheus(tmp_path, [port], basic_auth=(ro["AccessKeyId"], "wrong"))
    try:
        bad.wait_value('up{job="app"}', lambda v: v == 0)
    finally:
        bad.close()


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
