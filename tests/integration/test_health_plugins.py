"""Health plugins as real .so files through the daemon's config and plugin
loader (health-driver check): http-check against local HTTP servers,
prometheus against a real Prometheus scraping a test exporter, cloudwatch
against moto_server."""

import pytest

from health_helpers import (Exporter, HealthServer, Moto, Prometheus, aws_env, check, driver, write_config)


# ---------------------------------------------------------------- http-check

@pytest.fixture
def web():
    s = [HealthServer(), HealthServer()]
    yield s
    for x in s:
        x.close()


def test_http_check_status_body_and_hosts(tmp_path, web):
    a, b = web
    cfg = write_config(tmp_path, {"http-check": {"timeout": "2s"}}, alarms={
        "fixed": {"plugin": "http-check", "url": "http://127.0.0.1:%d/health" % a.port},
        "body": {"plugin": "http-check", "url": "http://127.0.0.1:%d/health" % a.port,
                 "body_match": '"status": *"ok"'},
        "per-host": {"plugin": "http-check", "url": "http://{host}/health",
                     "hosts": ["127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port], "expected_status": "2xx"},
        "down": {"plugin": "http-check", "url": "http://127.0.0.1:1/health", "timeout": "500ms"},
        "down-soft": {"plugin": "http-check", "url": "http://127.0.0.1:1/health", "unreachable": "insufficient_data"},
    })
    r = check(cfg, "fixed")
    assert r["state"] == "OK" and "answered 200" in r["reason"], r
    assert check(cfg, "body")["state"] == "OK"
    assert check(cfg, "per-host")["state"] == "OK"
    hits = b.hits

    b.status = 503
    r = check(cfg, "per-host")
    assert r["state"] == "ALARM", r
    assert "1 of 2 hosts unhealthy" in r["reason"] and ":%d/health answered 503" % b.port in r["reason"], r
    assert b.hits == hits + 1
    # the gate after ApplicationStart checks one instance only
    assert check(cfg, "per-host", instance="127.0.0.1:%d" % a.port)["state"] == "OK"
    assert check(cfg, "per-host", instance="127.0.0.1:%d" % b.port)["state"] == "ALARM"

    a.body = '{"status": "degraded"}'
    r = check(cfg, "body")
    assert r["state"] == "ALARM" and "does not match" in r["reason"], r
    assert check(cfg, "fixed")["state"] == "OK"  # no body rule there

    r = check(cfg, "down")
    assert r["state"] == "ALARM" and "failed" in r["reason"], r
    assert check(cfg, "down-soft")["state"] == "INSUFFICIENT_DATA"


def test_http_check_bad_settings_refused_at_start(tmp_path):
    cfg = write_config(tmp_path, {"http-check": {}}, alarms={
        "bad": {"plugin": "http-check", "url": "http://{host}/health"}})
    rc, out, err = driver(cfg, "check", "bad")
    assert rc == 2 and out == [], (rc, out, err)
    # FILE:LINE:COL of the alarm, then what is wrong and how to fix it
    assert "rolloutd.yml:" in err and "alarms.bad" in err and "hosts" in err, err

    cfg = write_config(tmp_path, {"http-check": {}}, alarms={
        "bad": {"plugin": "http-check", "url": "http://x/", "interval": "often"}}, name="r2.yml")
    rc, out, err = driver(cfg, "check", "bad")
    assert rc == 2 and "alarms.bad.interval" in err, err


# ---------------------------------------------------------------- prometheus

@pytest.fixture
def prom(tmp_path):
    ex = Exporter()
    p = Prometheus(tmp_path, [ex.port])
    p.exporter = ex
    yield p
    p.close()
    ex.close()


RATE = 'sum(rate(app_errors_total[3s])) / sum(rate(app_requests_total[3s]))'


def test_prometheus_threshold_raised_error_rate(tmp_path, prom):
    cfg = write_config(tmp_path, {"prometheus": {"url": prom.url}}, alarms={
        "error-rate": {"plugin": "prometheus", "query": RATE, "threshold": "0.1"},
        "ratio-gauge": {"plugin": "prometheus", "query": "app_error_ratio", "threshold": "0.1",
                        "url": prom.url},
        "missing": {"plugin": "prometheus", "query": "no_such_metric_total", "threshold": "0"},
        "two-needed": {"plugin": "prometheus", "query": "app_error_ratio", "threshold": "0.1",
                       "min_samples": "2"},
        "alert": {"plugin": "prometheus", "query": "app_error_ratio > 0.2"},
        "broken": {"plugin": "prometheus", "query": "sum(("},
    })
    prom.exporter.set_error_ratio(0.01)
    prom.wait_value(RATE, lambda v: v < 0.05)
    r = check(cfg, "error-rate")
    assert r["state"] == "OK" and "none above 0.1" in r["reason"], r
    assert check(cfg, "ratio-gauge")["state"] == "OK"
    assert check(cfg, "alert")["state"] == "OK"

    # too few samples is INSUFFICIENT_DATA, never a silent OK
    r = check(cfg, "missing")
    assert r["state"] == "INSUFFICIENT_DATA" and "0 sample(s)" in r["reason"], r
    r = check(cfg, "two-needed")
    assert r["state"] == "INSUFFICIENT_DATA" and "min_samples 2" in r["reason"], r
    # a query Prometheus rejects is a failed poll with its error
    rc, out, _ = driver(cfg, "check", "broken")
    assert rc == 1 and "rejected the query" in out[0]["reason"] and "parse error" in out[0]["reason"], out

    prom.exporter.set_error_ratio(0.5)
    prom.wait_value(RATE, lambda v: v > 0.3)
    r = check(cfg, "error-rate")
    assert r["state"] == "ALARM" and "above the threshold 0.1" in r["reason"], r
    r = check(cfg, "alert")
    assert r["state"] == "ALARM" and 'app="web"' in r["reason"], r


def test_prometheus_unreachable_is_a_failed_poll(tmp_path):
    cfg = write_config(tmp_path, {"prometheus": {"timeout": "1s"}}, alarms={
        "p": {"plugin": "prometheus", "url": "http://127.0.0.1:1", "query": "up", "threshold": "0"}})
    rc, out, _ = driver(cfg, "check", "p")
    assert rc == 1 and "cannot query Prometheus at http://127.0.0.1:1" in out[0]["reason"], out


# ---------------------------------------------------------------- cloudwatch

@pytest.fixture
def moto(tmp_path):
    m = Moto()
    yield m
    m.close()


def put_alarm(cw, name):
    cw.put_metric_alarm(AlarmName=name, MetricName="Errors", Namespace="App", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")


def test_cloudwatch_state_flips(tmp_path, moto):
    cw = moto.client("cloudwatch")
    put_alarm(cw, "prod-errors")
    cfg = write_config(tmp_path, {"cloudwatch": {"endpoint": moto.url, "region": "us-east-1"}}, alarms={
        "errors": {"plugin": "cloudwatch", "alarm_name": "prod-errors"}}, settings={"alarm_fallback_plugin": "cloudwatch"})
    r = check(cfg, "errors")
    assert r["state"] == "OK", r
    cw.set_alarm_state(AlarmName="prod-errors", StateValue="ALARM", StateReason="errors above 1")
    r = check(cfg, "errors")
    assert r["state"] == "ALARM" and "errors above 1" in r["reason"], r
    cw.set_alarm_state(AlarmName="prod-errors", StateValue="INSUFFICIENT_DATA", StateReason="no data")
    assert check(cfg, "errors")["state"] == "INSUFFICIENT_DATA"

    # a name with no definition goes to the alarm_fallback_plugin (cloudwatch) by that name
    put_alarm(cw, "undefined-here")
    cw.set_alarm_state(AlarmName="undefined-here", StateValue="ALARM", StateReason="fallback works")
    r = check(cfg, "undefined-here")
    assert r["state"] == "ALARM" and "fallback works" in r["reason"], r
    # a name CloudWatch does not know either: a failed poll saying so
    rc, out, _ = driver(cfg, "check", "nobody-knows")
    assert rc == 1 and "no alarm named 'nobody-knows'" in out[0]["reason"], out


def test_cloudwatch_credentials_required(tmp_path, moto):
    cfg = write_config(tmp_path, {"cloudwatch": {"endpoint": moto.url}}, settings={"alarm_fallback_plugin": "cloudwatch"})
    env = aws_env()
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    rc, out, _ = driver(cfg, "check", "x", env=env)
    assert rc == 1 and "credentials" in out[0]["reason"].lower(), out


def test_undefined_alarm_without_cloudwatch(tmp_path):
    cfg = write_config(tmp_path, {"http-check": {}})
    rc, out, _ = driver(cfg, "check", "ghost")
    assert rc == 1 and "alarm 'ghost' is not defined" in out[0]["reason"], out


def test_undefined_alarm_without_fallback_setting(tmp_path, moto):
    """Enabling a plugin that can look alarms up by name is not enough: the
    core asks no plugin it is not told to (alarm_fallback_plugin)."""
    cw = moto.client("cloudwatch")
    put_alarm(cw, "known-to-cloudwatch")
    cfg = write_config(tmp_path, {"cloudwatch": {"endpoint": moto.url, "region": "us-east-1"}})
    rc, out, _ = driver(cfg, "check", "known-to-cloudwatch")
    assert rc == 1 and "alarm 'known-to-cloudwatch' is not defined" in out[0]["reason"], out
    assert "alarm_fallback_plugin" in out[0]["reason"], out


def test_alarm_fallback_plugin_must_be_health(tmp_path):
    """FILE:LINE:COL errors for a fallback that is not a loaded health plugin."""
    import subprocess
    import harness
    for plugins, want in [({"http-check": {}}, "alarm_fallback_plugin: plugin 'cloudwatch' is not enabled"),
                          ({"http-check": {}, "onprem": {}},
                           "'onprem' is not a health plugin (expected a plugin of kind health")]:
        fallback = "onprem" if "onprem" in plugins else "cloudwatch"
        cfg = write_config(tmp_path, plugins, name="fb-%s.yml" % fallback,
                           settings={"alarm_fallback_plugin": fallback})
        p = subprocess.run([harness.binary("rolloutd"), "--config", cfg, "--check-config"], capture_output=True,
                           text=True, timeout=30)
        assert p.returncode != 0, p.stderr
        assert "fb-%s.yml:" % fallback in p.stderr and want in p.stderr, p.stderr


def test_daemon_check_config_refuses_bad_alarms(tmp_path):
    """rolloutd --check-config runs every alarm's validation: FILE:LINE:COL,
    the alarm, what is wrong and what is accepted."""
    import subprocess
    import harness
    cfg = write_config(tmp_path, {"prometheus": {"url": "http://127.0.0.1:9090"}}, alarms={
        "error-rate": {"plugin": "prometheus", "query": "up", "treshold": "0.5"}})
    p = subprocess.run([harness.binary("rolloutd"), "--config", cfg, "--check-config"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0
    assert "rolloutd.yml:" in p.stderr and "alarms.error-rate" in p.stderr, p.stderr
    assert "unknown setting 'treshold'" in p.stderr and "threshold" in p.stderr, p.stderr
    cfg = write_config(tmp_path, {"prometheus": {"url": "http://127.0.0.1:9090"}}, alarms={
        "error-rate": {"plugin": "prometheus", "query": "up", "threshold": "0.5", "gate": "sometimes"}},
        name="r2.yml")
    p = subprocess.run([harness.binary("rolloutd"), "--config", cfg, "--check-config"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0 and "gate must be true or false" in p.stderr, p.stderr
    cfg = write_config(tmp_path, {"prometheus": {"url": "http://127.0.0.1:9090"}}, alarms={
        "error-rate": {"plugin": "prometheus", "query": "up", "threshold": "0.5", "interval": "5s"}},
        name="r3.yml")
    p = subprocess.run([harness.binary("rolloutd"), "--config", cfg, "--check-config"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
