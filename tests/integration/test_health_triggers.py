"""Trigger notifications (daemon/health/triggers.c) without the engine: health-driver
trigger fires one event for a deployment group, waits for the deliveries and
prints what the store recorded. SNS Publish is signed and sent to moto_server,
and read back through an SQS queue subscribed to the topic; webhooks go to
a local receiver."""

import hashlib
import hmac
import json

import pytest

from health_helpers import Moto, WebhookReceiver, aws_env, driver, free_port, write_config

GROUP = {"applicationName": "shop", "deploymentGroupName": "web"}
INFO = {"deploymentId": "d-TRIG00001", "status": "FAILED",
        "errorInformation": {"code": "ALARM_ACTIVE", "message": "Alarm error-rate is in ALARM state"}}


@pytest.fixture
def moto(tmp_path):
    m = Moto()
    yield m
    m.close()


def fire(tmp_path, event, group, info, env, seconds=20):
    cfg = write_config(tmp_path, {"http-check": {}})
    rc, out, err = driver(cfg, "--seconds", str(seconds), "trigger", event, json.dumps(group), json.dumps(info),
                          env=env)
    assert rc == 0, err
    return out[0], err


def test_sns_publish_on_moto(tmp_path, moto):
    sns, sqs = moto.client("sns"), moto.client("sqs")
    topic = sns.create_topic(Name="deployments")["TopicArn"]
    q = sqs.create_queue(QueueName="deploy-events")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    group = dict(GROUP, triggerConfigurations=[
        {"triggerName": "to-sns", "triggerTargetArn": topic,
         "triggerEvents": ["DeploymentFailure", "DeploymentRollback"]},
        {"triggerName": "not-this-event", "triggerTargetArn": topic, "triggerEvents": ["InstanceStart"]}])
    rows, _ = fire(tmp_path, "DeploymentFailure", group, INFO, aws_env(moto))
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["status"] == "Delivered" and row["attempts"] == 1, row
    assert row["triggerName"] == "to-sns" and row["target"] == topic and row["deploymentId"] == "d-TRIG00001"
    assert row["response"].startswith("MessageId ") and len(row["response"]) > 15, row

    msgs = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    assert len(msgs) == 1, msgs
    envelope = json.loads(msgs[0]["Body"])
    assert envelope["TopicArn"] == topic
    assert envelope["Subject"] == "FAILED: rolloutd DeploymentFailure d-TRIG00001 in us-east-1 to shop"
    m = json.loads(envelope["Message"])
    assert m["eventTriggerName"] == "to-sns" and m["applicationName"] == "shop" and m["deploymentGroupName"] == "web"
    assert m["deploymentId"] == "d-TRIG00001" and m["status"] == "FAILED"
    assert json.loads(m["errorInformation"])["code"] == "ALARM_ACTIVE"
    assert m["eventType"] == "DeploymentFailure"
    assert str(row["id"]) and json.loads(row["message"]) == m


def test_sns_missing_topic_fails_recorded(tmp_path, moto):
    group = dict(GROUP, triggerConfigurations=[
        {"triggerName": "gone", "triggerTargetArn": "arn:aws:sns:us-east-1:123456789012:no-such-topic",
         "triggerEvents": ["DeploymentStart"]}])
    rows, err = fire(tmp_path, "DeploymentStart", group, {"deploymentId": "d-TRIG00002"},
                     aws_env(moto, ROLLOUTD_TRIGGER_RETRY_BASE_MS=50))
    assert len(rows) == 1 and rows[0]["status"] == "Failed", rows
    # a 4xx answer is not retried
    assert rows[0]["attempts"] == 1 and "NotFound" in rows[0]["lastError"], rows
    assert "NOT delivered" in err


def test_webhook_retries_with_backoff(tmp_path):
    rx = WebhookReceiver(fail_first=2)
    try:
        group = dict(GROUP, triggerConfigurations=[
            {"triggerName": "hook", "triggerTargetArn": rx.url,
             "triggerEvents": ["InstanceFailure", "InstanceSuccess"]}])
        info = {"deploymentId": "d-TRIG00003", "instanceId": "web-2", "instanceStatus": "Failed",
                "status": "IN_PROGRESS"}
        rows, err = fire(tmp_path, "InstanceFailure", group, info, aws_env(ROLLOUTD_TRIGGER_RETRY_BASE_MS=100))
        assert len(rows) == 1, rows
        row = rows[0]
        assert row["status"] == "Delivered" and row["attempts"] == 3 and row["response"] == "HTTP 200", row
        assert row["instanceId"] == "web-2" and row["event"] == "InstanceFailure"
        assert len(rx.received) == 3
        bodies = rx.json_bodies()
        assert all(b == bodies[0] for b in bodies)  # the same message each attempt
        assert bodies[0]["instanceId"] == "web-2" and bodies[0]["eventType"] == "InstanceFailure"
        h = rx.received[-1]["headers"]
        assert h["Content-Type"] == "application/json" and h["X-Rolloutd-Event"] == "InstanceFailure"
        assert h["X-Rolloutd-Delivery"] == str(row["id"])
        assert "retry in 100 ms" in err and "retry in 200 ms" in err, err
    finally:
        rx.close()


def test_webhook_gives_up_after_max_attempts(tmp_path):
    rx = WebhookReceiver(fail_first=100)
    try:
        group = dict(GROUP, triggerConfigurations=[
            {"triggerName": "hook", "triggerTargetArn": rx.url, "triggerEvents": ["DeploymentSuccess"]}])
        rows, _ = fire(tmp_path, "DeploymentSuccess", group, {"deploymentId": "d-TRIG00004"},
                       aws_env(ROLLOUTD_TRIGGER_RETRY_BASE_MS=20, ROLLOUTD_TRIGGER_MAX_ATTEMPTS=4))
        assert rows[0]["status"] == "Failed" and rows[0]["attempts"] == 4, rows
        assert "answered HTTP 500" in rows[0]["lastError"] and len(rx.received) == 4
    finally:
        rx.close()


def test_webhook_signature(tmp_path):
    rx = WebhookReceiver()
    try:
        group = dict(GROUP, triggerConfigurations=[
            {"triggerName": "hook", "triggerTargetArn": rx.url, "triggerEvents": ["DeploymentSuccess"]}])
        rows, _ = fire(tmp_path, "DeploymentSuccess", group, {"deploymentId": "d-TRIG00005"},
                       aws_env(ROLLOUTD_WEBHOOK_SECRET="s3cret"))
        assert rows[0]["status"] == "Delivered", rows
        r = rx.received[0]
        want = hmac.new(b"s3cret", r["body"], hashlib.sha256).hexdigest()
        assert r["headers"]["X-Rolloutd-Signature"] == "sha256=" + want, r["headers"]
    finally:
        rx.close()


def test_pending_deliveries_resume_after_restart(tmp_path):
    port = free_port()  # nothing listens there yet
    url = "http://127.0.0.1:%d/hook" % port
    group = dict(GROUP, triggerConfigurations=[
        {"triggerName": "late", "triggerTargetArn": url, "triggerEvents": ["DeploymentStop"]}])
    # first run: one failed attempt, the retry is a minute away, the process stops
    rows, err = fire(tmp_path, "DeploymentStop", group, {"deploymentId": "d-TRIG00006", "status": "STOPPED"},
                     aws_env(ROLLOUTD_TRIGGER_RETRY_BASE_MS=60000), seconds=1)
    assert len(rows) == 1 and rows[0]["status"] == "Pending" and rows[0]["attempts"] == 1, rows
    assert "Couldn't connect" in rows[0]["lastError"] or "connect" in rows[0]["lastError"].lower(), rows
    # next start: the receiver is up, the pending delivery goes out
    rx = WebhookReceiver(port=port)
    try:
        cfg = write_config(tmp_path, {"http-check": {}})
        rc, out, err = driver(cfg, "--seconds", "10", "resume")
        assert rc == 0, err
        rows = out[0]
        assert rows[0]["status"] == "Delivered" and rows[0]["attempts"] == 2, rows
        assert rx.json_bodies()[0]["deploymentId"] == "d-TRIG00006"
        assert rx.received[0]["headers"]["X-Rolloutd-Delivery"] == str(rows[0]["id"])
        assert "resuming 1 pending trigger deliveries" in err
    finally:
        rx.close()
