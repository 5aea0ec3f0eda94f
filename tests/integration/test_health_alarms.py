"""Alarm polling (daemon/health/alarms.c) with real plugins, without the engine:
health-driver watch starts a watch as the engine does and reports whether
and why it would stop the deployment."""

import json
import time

import pytest

from health_helpers import (Exporter, HealthServer, Moto, Prometheus, Watch, aws_env, driver, group_doc,
                            write_config)


@pytest.fixture
def prom(tmp_path):
    ex = Exporter()
    p = Prometheus(tmp_path, [ex.port])
    p.exporter = ex
    yield p
    p.close()
    ex.close()


def test_prometheus_alarm_fires_mid_watch(tmp_path, prom):
    cfg = write_config(tmp_path, {"prometheus": {"url": prom.url}}, alarms={
        "error-rate": {"plugin": "prometheus", "query": "app_error_ratio", "threshold": "0.1",
                       "interval": "300ms"}})
    prom.exporter.set_error_ratio(0.0)
    prom.wait_value("app_error_ratio", lambda v: v == 0.0)
    w = Watch(cfg, group_doc(["error-rate"]), seconds=30)
    assert w.started == {"watching": True}
    time.sleep(1.5)  # several OK polls: nothing happens
    assert w.proc.poll() is None
    raised = time.monotonic()
    prom.exporter.set_error_ratio(0.6)
    r = w.result()
    assert r["fired"] and r["rollback"], r
    assert "Alarm error-rate is in ALARM state" in r["message"] and "above the threshold 0.1" in r["message"], r
    # scrape (500 ms) + poll interval (300 ms) + slack
    assert time.monotonic() - raised < 5, time.monotonic() - raised


def test_no_rollback_unless_stop_on_alarm_listed(tmp_path, prom):
    cfg = write_config(tmp_path, {"prometheus": {"url": prom.url}}, alarms={
        "error-rate": {"plugin": "prometheus", "query": "app_error_ratio", "threshold": "0.1",
                       "interval": "200ms"}})
    prom.exporter.set_error_ratio(0.9)
    prom.wait_value("app_error_ratio", lambda v: v > 0.5)
    w = Watch(cfg, group_doc(["error-rate"], rollback_on_alarm=False), seconds=20)
    r = w.result()
    assert r["fired"] and not r["rollback"], r


def test_insufficient_data_does_not_pass_silently(tmp_path, prom):
    cfg = write_config(tmp_path, {"prometheus": {"url": prom.url}}, alarms={
        "silent": {"plugin": "prometheus", "query": "app_not_exported_total", "threshold": "0",
                   "interval": "200ms"}})
    # ignorePollAlarmFailure false: the deployment is stopped, saying why
    w = Watch(cfg, group_doc(["silent"]), seconds=20)
    r = w.result()
    assert r["fired"], r
    assert "Alarm silent has INSUFFICIENT_DATA" in r["message"] and "min_samples 1" in r["message"], r
    assert "ignorePollAlarmFailure" in r["message"]
    # ignorePollAlarmFailure true: polling goes on, and the log says so
    w = Watch(cfg, group_doc(["silent"], ignore=True), seconds=2)
    r = w.result()
    assert r == {"fired": False}
    assert "alarm silent (prometheus) is INSUFFICIENT_DATA" in w.stderr, w.stderr
    # on_insufficient_data: continue -- only that alarm's INSUFFICIENT_DATA goes on
    cfg = write_config(tmp_path, {"prometheus": {"url": prom.url}}, alarms={
        "silent": {"plugin": "prometheus", "query": "app_not_exported_total", "threshold": "0",
                   "interval": "200ms", "on_insufficient_data": "continue"},
        "broken": {"plugin": "prometheus", "query": "sum((", "interval": "200ms",
                   "on_insufficient_data": "continue"}}, name="r2.yml")
    w = Watch(cfg, group_doc(["silent"]), seconds=2)
    assert w.result() == {"fired": False}
    assert "alarm silent (prometheus) is INSUFFICIENT_DATA" in w.stderr, w.stderr
    # ... a failed poll still stops it
    w = Watch(cfg, group_doc(["broken"]), seconds=10)
    r = w.result()
    assert r["fired"] and "Could not poll alarm broken" in r["message"], r


def test_disabled_and_override(tmp_path, prom):
    cfg = write_config(tmp_path, {"prometheus": {"url": prom.url}}, alarms={
        "bad": {"plugin": "prometheus", "query": "app_error_ratio", "threshold": "-1", "interval": "200ms"}})
    # a disabled configuration is not polled at all
    w = Watch(cfg, group_doc(["bad"], enabled=False), seconds=1)
    assert w.started == {"watching": False}
    assert w.result() == {"fired": False}
    # a deployment's overrideAlarmConfiguration replaces the group's
    w = Watch(cfg, group_doc(["bad"]), {"overrideAlarmConfiguration": {"enabled": False, "alarms": []}},
              seconds=1)
    assert w.started == {"watching": False}
    w.result()
    w = Watch(cfg, group_doc([], enabled=False),
              {"overrideAlarmConfiguration": {"enabled": True, "alarms": [{"name": "bad"}]}}, seconds=10)
    assert w.started == {"watching": True}
    assert w.result()["fired"]


def test_cloudwatch_fallback_flip_mid_watch(tmp_path):
    moto = Moto()
    try:
        cw = moto.client("cloudwatch")
        cw.put_metric_alarm(AlarmName="p99-latency", MetricName="Latency", Namespace="App", Statistic="Average",
                            Period=60, EvaluationPeriods=1, Threshold=1.0,
                            ComparisonOperator="GreaterThanThreshold")
        cfg = write_config(tmp_path, {"cloudwatch": {"endpoint": moto.url}},
                           settings={"alarm_fallback_plugin": "cloudwatch"})
        env = aws_env(ROLLOUTD_ALARM_INTERVAL_MS=300)
        # p99-latency has no definition: the fallback plugin (cloudwatch) reads it by name
        w = Watch(cfg, group_doc(["p99-latency"]), seconds=30, env=env)
        assert w.started == {"watching": True}
        time.sleep(1.0)
        assert w.proc.poll() is None
        cw.set_alarm_state(AlarmName="p99-latency", StateValue="ALARM", StateReason="latency 3s")
        r = w.result()
        assert r["fired"] and r["rollback"] and "latency 3s" in r["message"], r
        # an unknown alarm with ignorePollAlarmFailure: never fires
        w = Watch(cfg, group_doc(["nope"], ignore=True), seconds=2, env=env)
        assert w.result() == {"fired": False}
        assert "no alarm named 'nope'" in w.stderr
    finally:
        moto.close()


def gate(cfg, group, instance):
    rc, out, err = driver(cfg, "gate", json.dumps(group), "--instance", instance)
    assert rc == 0 and len(out) == 1, (rc, out, err)
    return out[0]


def test_per_instance_gate(tmp_path):
    """alarms_gate_instance: the ValidateService extension the engine can run
    after an instance's ApplicationStart."""
    warm = HealthServer(unhealthy_first=2)
    dead = HealthServer(status=500)
    other = HealthServer()
    try:
        cfg = write_config(tmp_path, {"http-check": {"timeout": "1s"}}, alarms={
            "web-gate": {"plugin": "http-check", "url": "http://{host}/health", "hosts": ["127.0.0.1:1"],
                         "gate": "true", "gate_timeout": "4s"},
            "strict-gate": {"plugin": "http-check", "url": "http://{host}/health", "hosts": ["127.0.0.1:1"],
                            "gate": "true"},
            "not-a-gate": {"plugin": "http-check", "url": "http://127.0.0.1:%d/health" % other.port}})
        g = group_doc(["web-gate", "not-a-gate"])
        # comes up after two 503s: passes within its gate_timeout, checking only that instance
        r = gate(cfg, g, "127.0.0.1:%d" % warm.port)
        assert r["passed"] and warm.hits == 3 and r["afterMs"] >= 1500, r
        assert other.hits == 0  # only gate alarms are checked
        # never healthy: fails at the end of gate_timeout, naming the gate and the answer
        r = gate(cfg, g, "127.0.0.1:%d" % dead.port)
        assert not r["passed"] and r["afterMs"] >= 3500, r
        assert "Health gate web-gate is ALARM for instance 127.0.0.1:%d" % dead.port in r["reason"], r
        assert "answered 500" in r["reason"], r
        # no gate_timeout: one check
        r = gate(cfg, group_doc(["strict-gate"]), "127.0.0.1:%d" % dead.port)
        assert not r["passed"] and r["afterMs"] < 1500, r
        # a disabled configuration gates nothing
        assert gate(cfg, group_doc(["strict-gate"], enabled=False), "127.0.0.1:%d" % dead.port)["passed"]
    finally:
        for s in (warm, dead, other):
            s.close()
