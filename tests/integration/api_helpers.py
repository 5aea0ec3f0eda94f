"""Helpers for the control-API tests (test_api_*.py): raw signed requests
(botocore signs; never our code), clients without client-side parameter
validation (so the server's own validation is what is tested), and the
botocore model the tests read instead of hard-coding operations."""

import http.client
import json
import os
from unittest import mock

import boto3
import botocore.config
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import harness

REGION = "us-east-1"
MODEL_DIR = "/usr/lib/python3/dist-packages/botocore/data/codedeploy/2014-10-06"
TARGET = "CodeDeploy_20141006"


def model():
    with open(os.path.join(MODEL_DIR, "service-2.json")) as f:
        return json.load(f)


def raw_client(daemon, keys):
    """boto3 client that sends whatever it is given (no client-side validation)."""
    return boto3.client(
        "codedeploy", endpoint_url=daemon.url, region_name=REGION, verify=daemon.ca_file,
        aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"],
        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1},
                                      read_timeout=30))


def error_code(fn, *args, **kwargs):
    """Calls fn and returns the error code of the ClientError it raises (fails if none)."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("expected an error from %s" % getattr(fn, "__name__", fn))


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def error_type(self):
        try:
            return self.json().get("__type")
        except ValueError:
            return None


def signed_request(daemon, keys, target=None, body=b"{}", send_body=None, service="codedeploy",
                   region=REGION, when=None, method="POST", path="/", extra_headers=None, sign=True,
                   ssl_context=None):
    """Signs with botocore's SigV4Auth and sends over http.client. send_body
    replaces the body after signing (tampering); when (datetime) fakes the
    signing clock."""
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target:
        headers["X-Amz-Target"] = target
    headers.update(extra_headers or {})
    req = AWSRequest(method=method, url=daemon.url + path, data=body if method == "POST" else None,
                     headers=headers)
    if sign:
        signer = SigV4Auth(Credentials(keys["AccessKeyId"], keys["SecretAccessKey"]), service, region)
        if when is not None:
            with mock.patch("botocore.auth.datetime") as dt:
                dt.datetime.utcnow.return_value = when
                signer.add_auth(req)
        else:
            signer.add_auth(req)
    prepared = req.prepare()
    if daemon.url.startswith("https://"):
        conn = http.client.HTTPSConnection("127.0.0.1", daemon.port, timeout=30,
                                           context=ssl_context or harness.context_for(daemon.url))
    else:
        conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    payload = prepared.body if send_body is None else send_body
    hdrs = dict(prepared.headers)
    if payload is not None:
        hdrs["Content-Length"] = str(len(payload))
    conn.request(method, path, body=payload, headers=hdrs)
    r = conn.getresponse()
    resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    conn.close()
    return resp


def call(daemon, keys, op, body, **kw):
    """POST one CodeDeploy operation with a raw JSON (or bytes) body."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return signed_request(daemon, keys, target="%s.%s" % (TARGET, op), body=data, **kw)
