"""A test-only HTTP proxy in front of moto_server's query APIs (Elastic Load
Balancing, Auto Scaling, EC2, SQS).

moto keeps load balancers and groups but nothing happens in them over time:
targets are healthy the moment they are registered and gone the moment they
are deregistered. This proxy forwards every request to moto unchanged and
records the query API's Action and parameters, except:

    proxy.script_health("i-123", [("draining", "Target.DeregistrationInProgress")] * 3)
        the next three DescribeTargetHealth answers for that target say
        draining (forever=True: until script_health(id, []) again); then moto
        answers again
    proxy.fail("RegisterTargets", 503, "ServiceUnavailable", times=1)
        the next call of that Action is answered with that error
    Auto Scaling's CompleteLifecycleAction and RecordLifecycleActionHeartbeat,
        which moto does not implement (HTTP 500), are answered with success
        and only recorded: proxy.actions("CompleteLifecycleAction")

    plugin endpoint = proxy.url
    proxy.calls -> [(action, {param: value})] in arrival order
    proxy.signers -> [(action, the access key id that signed it)]
"""

import http.client
import http.server
import threading
import urllib.parse
import uuid

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
ELBV2_NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
ASG_NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
LIFECYCLE_ACTIONS = ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat")


class AwsProxy:
    def __init__(self, moto_url):
        u = urllib.parse.urlparse(moto_url)
        self.moto_host, self.moto_port = u.hostname, u.port
        self.calls = []
        self.signers = []  # (action, access key id of its SigV4 Authorization header)
        self.health = {}  # target id -> [list of (state, reason)], forever flag
        self.failures = {}  # action -> [(status, code)]
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                status, headers, data = proxy._handle(self.command, self.path, self.headers, body)
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

    # ------------------------------------------------------------ scripting

    def script_health(self, target_id, states, forever=False):
        with self.lock:
            self.health[target_id] = (list(states), forever)

    def fail(self, action, status, code, times=1):
        with self.lock:
            self.failures.setdefault(action, []).extend([(status, code)] * times)

    def actions(self, name=None):
        with self.lock:
            return [(a, p) for a, p in self.calls if name is None or a == name]

    # ------------------------------------------------------------ handling

    def _handle(self, method, path, headers, body):
        form = {}
        q = urllib.parse.urlparse(path).query
        for src in (q, body.decode("utf-8", "replace") if method == "POST" else ""):
            for k, v in urllib.parse.parse_qsl(src, keep_blank_values=True):
                form[k] = v
        action = form.get("Action")
        if action:
            auth = headers.get("Authorization") or ""
            key = auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else None
            with self.lock:
                self.calls.append((action, form))
                self.signers.append((action, key))
                fails = self.failures.get(action)
                failure = fails.pop(0) if fails else None
            if failure:
                return self._error(*failure)
            if action in LIFECYCLE_ACTIONS:
                data = ('<%sResponse xmlns="%s"><%sResult/><ResponseMetadata><RequestId>%s</RequestId>'
                        '</ResponseMetadata></%sResponse>' % (action, ASG_NS, action, uuid.uuid4(), action)).encode()
                return 200, [("Content-Type", "text/xml")], data
            if action == "DescribeTargetHealth":
                tid = form.get("Targets.member.1.Id")
                with self.lock:
                    script = self.health.get(tid)
                    st = None
                    if script and script[0]:
                        st = script[0][0] if script[1] else script[0].pop(0)
                if st:
                    return self._target_health(tid, *st)
        return self._forward(method, path, headers, body)

    def _forward(self, method, path, headers, body):
        c = http.client.HTTPConnection(self.moto_host, self.moto_port, timeout=30)
        try:
            h = {k: v for k, v in headers.items() if k.lower() not in HOP}
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            c.close()

    @staticmethod
    def _error(status, code):
        data = ('<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>injected by the test proxy'
                '</Message></Error><RequestId>%s</RequestId></ErrorResponse>' % (code, uuid.uuid4())).encode()
        return status, [("Content-Type", "text/xml")], data

    @staticmethod
    def _target_health(tid, state, reason):
        reason_xml = "<Reason>%s</Reason>" % reason if reason else ""
        data = ('<DescribeTargetHealthResponse xmlns="%s"><DescribeTargetHealthResult><TargetHealthDescriptions>'
                '<member><Target><Id>%s</Id></Target><TargetHealth><State>%s</State>%s</TargetHealth></member>'
                '</TargetHealthDescriptions></DescribeTargetHealthResult><ResponseMetadata><RequestId>%s'
                '</RequestId></ResponseMetadata></DescribeTargetHealthResponse>'
                % (ELBV2_NS, tid, state, reason_xml, uuid.uuid4())).encode()
        return 200, [("Content-Type", "text/xml")], data
