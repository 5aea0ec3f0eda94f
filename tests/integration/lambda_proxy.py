"""A test-only HTTP proxy in front of moto_server's Lambda API.

moto stores functions, versions and aliases but runs no function, so a
deployment's hook functions would never call back. This proxy forwards
every request to moto unchanged, except an Invoke of a function named in
`hooks`: it plays that function, the way a real CodeDeploy hook does, by
calling rolloutd's PutLifecycleEventHookExecutionStatus (signed with boto3)
with the DeploymentId and LifecycleEventHookExecutionId of the payload.

    proxy = LambdaProxy(moto_url, rolloutd_url, deployer_keys)
    proxy.hooks["CodeDeployHook_pre"] = "Succeeded"   # or "Failed", "never",
                                                      # "error" (the function fails),
                                                      # "manual" (recorded; the test answers)
    plugin endpoint = proxy.url
    ...
    proxy.invocations   -> [{"function", "payload", "type", "answered"}]
    proxy.alias_history -> [(function, alias, FunctionVersion, {version: weight})]
                           what moto holds after each UpdateAlias, in order
    proxy.listener_history -> [(listener ARN, {target group ARN: weight})]
                           what moto holds after each ELBv2 ModifyListener
    proxy.ecs_calls     -> the ECS operations sent through the proxy, in order

A RequestResponse invocation is answered after the status was sent (the
function calls back before it returns); an Event invocation is answered
202 at once and the status follows from a thread.
"""

import http.client
import http.server
import json
import re
import threading
import urllib.parse

INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
ALIAS = re.compile(r"^/2015-03-31/functions/([^/]+)/aliases/([^/?]+)$")
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def listener_weights(listener):
    """{target group ARN: weight} of a listener's forward action (a plain
    TargetGroupArn is weight 1)."""
    for a in listener.get("DefaultActions", []):
        if a.get("Type") != "forward":
            continue
        tgs = (a.get("ForwardConfig") or {}).get("TargetGroups")
        if tgs:
            return {t["TargetGroupArn"]: t.get("Weight", 1) for t in tgs}
        return {a["TargetGroupArn"]: 1}
    return {}


class LambdaProxy:
    def __init__(self, moto_url, rolloutd_url=None, keys=None, region="us-east-1"):
        u = urllib.parse.urlparse(moto_url)
        self.moto_host, self.moto_port = u.hostname, u.port
        self.rolloutd_url = rolloutd_url
        self.keys = keys
        self.region = region
        self.hooks = {}
        self.invocations = []
        self.alias_history = []
        self.listener_history = []
        self.ecs_calls = []
        self.status_errors = []  # PutLifecycleEventHookExecutionStatus calls rolloutd refused
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _any(self):
                body = self._body()
                path = urllib.parse.urlparse(self.path).path
                m = INVOKE.match(path)
                if self.command == "POST" and m:
                    fn = urllib.parse.unquote(m.group(1))
                    if fn in proxy.hooks:
                        return proxy._play_hook(self, fn, body)
                target = self.headers.get("X-Amz-Target") or ""
                if target.startswith("AmazonEC2ContainerService"):
                    with proxy.cond:
                        proxy.ecs_calls.append(target.split(".")[-1])
                status, headers, data = proxy._forward(self.command, self.path, self.headers, body)
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace")) if self.command == "POST" else {}
                if form.get("Action") == ["ModifyListener"] and status < 300:
                    proxy._record_listener(form["ListenerArn"][0])
                m = ALIAS.match(path)
                if self.command == "PUT" and m and status < 300:
                    proxy._record_alias(urllib.parse.unquote(m.group(1)), urllib.parse.unquote(m.group(2)))
                self._send(status, headers, data)

            def _send(self, status, headers, data):
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in HOP and k.lower() not in ("content-length", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------ moto

    def _forward(self, method, path, headers, body):
        c = http.client.HTTPConnection(self.moto_host, self.moto_port, timeout=30)
        try:
            h = {k: v for k, v in headers.items() if k.lower() not in HOP}
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            c.close()

    def _record_alias(self, fn, alias):
        import boto3
        from botocore.config import Config
        lam = boto3.client("lambda", endpoint_url="http://%s:%d" % (self.moto_host, self.moto_port),
                           region_name=self.region, aws_access_key_id="testing", aws_secret_access_key="testing",
                           config=Config(retries={"max_attempts": 1}))
        a = lam.get_alias(FunctionName=fn, Name=alias)
        weights = ((a.get("RoutingConfig") or {}).get("AdditionalVersionWeights")) or {}
        with self.cond:
            self.alias_history.append((fn, alias, a["FunctionVersion"], dict(weights)))
            self.cond.notify_all()

    def _record_listener(self, arn):
        import boto3
        from botocore.config import Config
        elb = boto3.client("elbv2", endpoint_url="http://%s:%d" % (self.moto_host, self.moto_port),
                           region_name=self.region, aws_access_key_id="testing", aws_secret_access_key="testing",
                           config=Config(retries={"max_attempts": 1}))
        weights = listener_weights(elb.describe_listeners(ListenerArns=[arn])["Listeners"][0])
        with self.cond:
            self.listener_history.append((arn, weights))
            self.cond.notify_all()

    # ------------------------------------------------------------ hooks

    def _play_hook(self, handler, fn, body):
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {}
        itype = handler.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        behaviour = self.hooks[fn]
        inv = {"function": fn, "payload": payload, "type": itype, "answered": None}
        with self.cond:
            self.invocations.append(inv)
            self.cond.notify_all()
        if behaviour == "error":
            data = json.dumps({"errorMessage": "hook %s crashed" % fn, "errorType": "RuntimeError"}).encode()
            return handler._send(200, [("Content-Type", "application/json"),
                                       ("X-Amz-Function-Error", "Unhandled")], data)
        if behaviour in ("Succeeded", "Failed"):
            if itype == "Event":
                threading.Thread(target=self.answer, args=(inv, behaviour), daemon=True).start()
            else:
                self.answer(inv, behaviour)
        data = b"null"
        handler._send(202 if itype == "Event" else 200, [("Content-Type", "application/json")], data)

    def answer(self, inv, status):
        """Sends PutLifecycleEventHookExecutionStatus for an invocation, as its function would."""
        import boto3
        import botocore.exceptions
        from botocore.config import Config
        cd = boto3.client("codedeploy", endpoint_url=self.rolloutd_url, region_name=self.region,
                          aws_access_key_id=self.keys["AccessKeyId"],
                          aws_secret_access_key=self.keys["SecretAccessKey"],
                          config=Config(retries={"max_attempts": 1}, read_timeout=60))
        try:
            cd.put_lifecycle_event_hook_execution_status(
                deploymentId=inv["payload"].get("DeploymentId", ""),
                lifecycleEventHookExecutionId=inv["payload"].get("LifecycleEventHookExecutionId", ""),
                status=status)
            result = status
        except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError) as e:
            result = "refused: %s" % e
            with self.cond:
                self.status_errors.append((inv["function"], str(e)))
        with self.cond:
            inv["answered"] = result
            self.cond.notify_all()
        return result

    def wait_invocations(self, n, timeout=30):
        """Blocks until at least n hook invocations were seen; returns them."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.invocations) >= n, timeout):
                raise AssertionError("expected %d hook invocations, saw %r" % (n, self.invocations))
            return list(self.invocations)

    def wait_alias(self, pred, timeout=30):
        """Blocks until an UpdateAlias leaves moto in a state pred(version, weights) accepts."""
        with self.cond:
            ok = self.cond.wait_for(lambda: any(pred(v, w) for _, _, v, w in self.alias_history), timeout)
            if not ok:
                raise AssertionError("alias never reached the expected state: %r" % self.alias_history)
            return list(self.alias_history)
