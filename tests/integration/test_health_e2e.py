"""Issue 9 end to end: rolloutd with the engine, real rollout-agent processes
on three registered on-prem instances, and an alarm that fires after the
first batch of a OneAtATime deployment: the deployment stops with
ALARM_ACTIVE, the automatic rollback redeploys the previous revision, and
every host ends on it. Once with a real Prometheus scraping a test exporter
whose error rate the test raises, once with CloudWatch on moto_server
(set_alarm_state), and an INSUFFICIENT_DATA alarm that stops the deployment
instead of passing silently. Triggers of the group report it all to a
webhook."""

import json
import os
import time

import pytest

from agent_helpers import Agent, make_bundle, script
from engine_helpers import Fleet, db_rows
from health_helpers import Exporter, Moto, Prometheus, WebhookReceiver, wait_for

STOP_ON_ALARM = {"enabled": True, "events": ["DEPLOYMENT_STOP_ON_ALARM"]}
ALL_TRIGGER_EVENTS = ["DeploymentStart", "DeploymentSuccess", "DeploymentFailure", "DeploymentStop",
                      "DeploymentRollback", "InstanceStart", "InstanceSuccess", "InstanceFailure"]


def s3_revision(moto, path):
    """Puts the tgz into moto's S3; the daemon's s3 plugin fetches it into the
    bundle cache and agents download it from /bundles/<sha256>."""
    s3 = moto.client("s3")
    try:
        s3.create_bucket(Bucket="revisions")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    key = os.path.basename(path)
    with open(path, "rb") as f:
        s3.put_object(Bucket="revisions", Key=key, Body=f.read())
    return {"revisionType": "S3", "s3Location": {"bucket": "revisions", "key": key, "bundleType": "tgz"}}


def s3_plugin(moto):
    return {"endpoint": moto.url, "access_key_id": "testing", "secret_access_key": "testing"}


def bundle(tmp_path, version, state_dir, slow=0):
    """A hooks-only revision: ApplicationStart records `version` as the
    host's current revision (state_dir/<host>); BeforeInstall sleeps `slow`
    seconds so that later batches are still running when the alarm fires."""
    record = ('h=$(echo "$0" | sed -n "s#.*/agent-\\([^/]*\\)/.*#\\1#p"); echo %s > %s/$h; '
              'echo "$LIFECYCLE_EVENT %s $h" >> %s/events.log' % (version, state_dir, version, state_dir))
    hooks = {"BeforeInstall": "sleep %s" % slow if slow else "true", "ApplicationStart": record,
             "ValidateService": 'echo "$LIFECYCLE_EVENT %s $(echo "$0" | sed -n "s#.*/agent-\\([^/]*\\)/.*#\\1#p")"'
                                ' >> %s/events.log' % (version, state_dir)}
    appspec = "version: 0.0\nos: linux\nhooks:\n"
    files = {}
    for ev, body in hooks.items():
        appspec += "  %s:\n    - location: scripts/%s.sh\n      timeout: 60\n" % (ev, ev)
        files["scripts/%s.sh" % ev] = script(body)
    files["appspec.yml"] = appspec
    path = os.path.join(str(tmp_path), "rev-%s.tgz" % version)
    make_bundle(path, files)
    return path


class AlarmFleet:
    """Three on-prem instances running rollout-agent, a OneAtATime group
    with the given alarm configuration and a webhook trigger."""

    def __init__(self, d, tmp_path, moto, alarms, ignore=False, n=3):
        self.d = d
        self.moto = moto
        self.tmp = tmp_path
        self.state = str(tmp_path / "state")
        os.makedirs(self.state, exist_ok=True)
        self.hook = WebhookReceiver()
        self.f = Fleet(d, n=n, start_agents=False, config="CodeDeployDefault.OneAtATime",
                       auto_rollback=STOP_ON_ALARM)
        # deploymentConfigName given explicitly: UpdateDeploymentGroup without it reads
        # freed memory in daemon/api/api_group.c (reported to the API area)
        self.f.cd.update_deployment_group(
            applicationName=self.f.app, currentDeploymentGroupName=self.f.group,
            deploymentConfigName="CodeDeployDefault.OneAtATime",
            alarmConfiguration={"enabled": True, "ignorePollAlarmFailure": ignore,
                                "alarms": [{"name": a} for a in alarms]},
            triggerConfigurations=[{"triggerName": "hook", "triggerTargetArn": self.hook.url,
                                    "triggerEvents": ALL_TRIGGER_EVENTS}])
        self.agents = {}
        for name in self.f.names:
            keys = self.f.keys[name]
            a = Agent(tmp_path, d.url, "arn:aws:iam::000000000000:user/%s" % name, keys["AccessKeyId"],
                      keys["SecretAccessKey"], os.path.join(d.data_dir, "daemon.crt"), name="agent-" + name,
                      heartbeat="2s")
            self.agents[name] = a.start()

    def deploy(self, version, slow=0):
        rev = s3_revision(self.moto, bundle(self.tmp, version, self.state, slow=slow))
        body = {"applicationName": self.f.app, "deploymentGroupName": self.f.group, "revision": rev}
        return self.f.admin.call("CodeDeploy_20141006.CreateDeployment", body)["deploymentId"]

    def versions(self):
        out = {}
        for n in self.f.names:
            p = os.path.join(self.state, n)
            out[n] = open(p).read().strip() if os.path.exists(p) else None
        return out

    def events(self):
        p = os.path.join(self.state, "events.log")
        return open(p).read().split("\n")[:-1] if os.path.exists(p) else []

    def wait(self, dep, timeout=90):
        return self.f.wait(dep, timeout=timeout)

    def close(self):
        for a in self.agents.values():
            if a.proc:
                a.stop()
        self.hook.close()


@pytest.fixture
def made(request):
    objs = []
    yield objs
    for o in reversed(objs):
        o.close()


def run_alarm_scenario(d, fl, fire):
    """v1 everywhere; then v2 OneAtATime, `fire()` once the first host runs v2;
    returns (v2 deployment info, rollback deployment info)."""
    v1 = fl.deploy("v1")
    info = fl.wait(v1)
    assert info["status"] == "Succeeded", (info, d.log_tail(40))
    assert fl.versions() == {n: "v1" for n in fl.f.names}

    v2 = fl.deploy("v2", slow=4)
    # the first batch (one host) finishes v2 ...
    first = wait_for(lambda: [l for l in fl.events() if l.startswith("ValidateService v2")], timeout=60,
                     what="the first host to validate v2")
    assert len(first) == 1, fl.events()
    # ... then the alarm fires while the second host is still in BeforeInstall (sleep 4)
    fire()
    info = fl.wait(v2)
    assert info["status"] == "Stopped", (info, d.log_tail(60))
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE", info
    ov = info["deploymentOverview"]
    assert ov["Succeeded"] == 1 and ov["Succeeded"] + ov["Failed"] + ov["Skipped"] == 3, ov
    rb = info["rollbackInfo"]["rollbackDeploymentId"]
    rinfo = fl.wait(rb, timeout=120)
    assert rinfo["status"] == "Succeeded", (rinfo, d.log_tail(60))
    assert rinfo["creator"] == "codeDeployRollback"
    assert rinfo["rollbackInfo"]["rollbackTriggeringDeploymentId"] == v2
    # every host ends on the previous revision
    wait_for(lambda: fl.versions() == {n: "v1" for n in fl.f.names}, timeout=10,
             what="every host back on v1 (%s)" % fl.versions())
    assert sum(1 for l in fl.events() if l.startswith("ValidateService v2")) == 1, fl.events()
    return v1, v2, info, rb, rinfo


def check_triggers(d, fl, v1, v2, rb):
    def got():
        return [(m["eventType"], m["deploymentId"], m.get("instanceId")) for m in fl.hook.json_bodies()]
    wait_for(lambda: ("DeploymentSuccess", rb, None) in got(), timeout=15, what="the rollback's trigger")
    g = got()
    assert ("DeploymentStart", v2, None) in g and ("DeploymentStop", v2, None) in g, g
    assert ("DeploymentRollback", v2, None) in g and ("DeploymentSuccess", v1, None) in g, g
    assert sum(1 for e in g if e[0] == "InstanceSuccess" and e[1] == v1) == 3, g
    stop = [m for m in fl.hook.json_bodies() if m["eventType"] == "DeploymentStop"][0]
    assert stop["status"] == "STOPPED" and json.loads(stop["errorInformation"])["code"] == "ALARM_ACTIVE", stop
    rows = db_rows(d, "SELECT event, status FROM trigger_deliveries WHERE deployment_id = ?", (v2,))
    assert rows and all(st == "Delivered" for _, st in rows), rows


def test_prometheus_alarm_stops_and_rolls_back(daemon_factory, tmp_path, made):
    moto = Moto()
    made.append(moto)
    ex = Exporter()
    made.append(ex)
    prom = Prometheus(tmp_path, [ex.port])
    made.append(prom)
    d = daemon_factory(plugins={"onprem": {}, "s3": s3_plugin(moto), "prometheus": {"url": prom.url}},
                       settings={"long_poll": "5s"},
                       alarms={"error-rate": {"plugin": "prometheus", "interval": "500ms",
                                              "query": "sum(rate(app_errors_total[3s])) / "
                                                       "sum(rate(app_requests_total[3s]))",
                                              "threshold": "0.05"}})
    prom.wait_value("sum(rate(app_requests_total[3s]))", lambda v: v > 0)
    fl = AlarmFleet(d, tmp_path, moto, ["error-rate"])
    made.append(fl)
    raised = []

    def fire():
        raised.append(time.monotonic())
        ex.set_error_ratio(0.5)

    v1, v2, info, rb, rinfo = run_alarm_scenario(d, fl, fire)
    assert "Alarm error-rate is in ALARM state" in info["errorInformation"]["message"], info
    assert "above the threshold 0.05" in info["errorInformation"]["message"], info
    check_triggers(d, fl, v1, v2, rb)


def test_cloudwatch_alarm_stops_and_rolls_back(daemon_factory, tmp_path, made, monkeypatch):
    moto = Moto()
    made.append(moto)
    cw = moto.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="web-5xx", MetricName="5xx", Namespace="Web", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=10.0, ComparisonOperator="GreaterThanThreshold")
    monkeypatch.setenv("ROLLOUTD_ALARM_INTERVAL_MS", "500")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # web-5xx has no definition under alarms: the fallback plugin (cloudwatch) reads it by name
    d = daemon_factory(plugins={"onprem": {}, "s3": s3_plugin(moto), "cloudwatch": s3_plugin(moto)},
                       settings={"long_poll": "5s", "alarm_fallback_plugin": "cloudwatch"})
    fl = AlarmFleet(d, tmp_path, moto, ["web-5xx"])
    made.append(fl)

    def fire():
        cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx above 10 after v2")

    v1, v2, info, rb, rinfo = run_alarm_scenario(d, fl, fire)
    assert "Alarm web-5xx is in ALARM state" in info["errorInformation"]["message"], info
    assert "5xx above 10 after v2" in info["errorInformation"]["message"], info
    check_triggers(d, fl, v1, v2, rb)


def test_insufficient_data_stops_the_deployment(daemon_factory, tmp_path, made):
    moto = Moto()
    made.append(moto)
    ex = Exporter()
    made.append(ex)
    prom = Prometheus(tmp_path, [ex.port])
    made.append(prom)
    d = daemon_factory(plugins={"onprem": {}, "s3": s3_plugin(moto), "prometheus": {"url": prom.url}},
                       settings={"long_poll": "5s"},
                       alarms={"latency": {"plugin": "prometheus", "interval": "500ms",
                                           "query": "histogram_quantile(0.99, rate(app_latency_bucket[1m]))",
                                           "threshold": "0.5"}})
    fl = AlarmFleet(d, tmp_path, moto, ["latency"], n=2)
    made.append(fl)
    dep = fl.deploy("v1", slow=2)
    info = fl.wait(dep)
    # no sample at all: not a silent OK
    assert info["status"] == "Stopped", (info, d.log_tail(40))
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
    msg = info["errorInformation"]["message"]
    assert "Alarm latency has INSUFFICIENT_DATA" in msg and "min_samples 1" in msg, msg
    assert "ignorePollAlarmFailure" in msg
    # nothing to roll back to: said so
    assert "no earlier successful deployment" in info["rollbackInfo"]["rollbackMessage"], info
    # with ignorePollAlarmFailure the deployment goes on, and the daemon log says why
    fl.f.cd.update_deployment_group(applicationName=fl.f.app, currentDeploymentGroupName=fl.f.group,
                                    deploymentConfigName="CodeDeployDefault.OneAtATime",
                                    alarmConfiguration={"enabled": True, "ignorePollAlarmFailure": True,
                                                        "alarms": [{"name": "latency"}]})
    dep2 = fl.deploy("v2")
    info = fl.wait(dep2)
    assert info["status"] == "Succeeded", (info, d.log_tail(40))
    assert "alarm latency (prometheus) is INSUFFICIENT_DATA" in d.log()


def test_alarm_watch_survives_a_daemon_crash(daemon_factory, tmp_path, made, monkeypatch):
    """kill -9 while a deployment runs: after the restart its alarms are
    polled again, and an alarm that fires then still stops it."""
    import threading
    from engine_helpers import kill9_and_restart

    moto = Moto()
    made.append(moto)
    cw = moto.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="web-5xx", MetricName="5xx", Namespace="Web", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=10.0, ComparisonOperator="GreaterThanThreshold")
    monkeypatch.setenv("ROLLOUTD_ALARM_INTERVAL_MS", "300")
    d = daemon_factory(plugins={"onprem": {}, "s3": s3_plugin(moto), "cloudwatch": s3_plugin(moto)},
                       settings={"long_poll": "1s", "alarm_fallback_plugin": "cloudwatch"})
    gate = threading.Event()
    f = Fleet(d, n=2, config="CodeDeployDefault.OneAtATime", auto_rollback=STOP_ON_ALARM)
    try:
        f.cd.update_deployment_group(applicationName=f.app, currentDeploymentGroupName=f.group,
                                     deploymentConfigName="CodeDeployDefault.OneAtATime",
                                     alarmConfiguration={"enabled": True, "alarms": [{"name": "web-5xx"}]})
        for a in f.agents.values():
            a.retry_for = 30
            a.gates["BeforeInstall"] = (gate, "complete")
        dep = f.deploy(s3_revision(moto, bundle(tmp_path, "v1", str(tmp_path))))
        wait_for(lambda: any(a.at_gate for a in f.agents.values()), timeout=20,
                 what="the first host to hold BeforeInstall")
        kill9_and_restart(d)
        # the resumed deployment is watched again by the new process
        wait_for(lambda: d.log().count("%s: polling 1 alarm(s)" % dep) == 2, timeout=10,
                 what="the resumed deployment's alarm watch (log: %s)" % d.log_tail(10))
        cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="after the restart")
        info = f.wait(dep, timeout=20)
        assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "ALARM_ACTIVE", info
        assert "after the restart" in info["errorInformation"]["message"], info
    finally:
        gate.set()
        f.stop()
