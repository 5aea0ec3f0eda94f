"""rolloutd over HTTPS: `tls: {cert, key}` on every listener (TLS 1.2+, AEAD
suites), the certificate reloaded on SIGHUP while a connection stays open,
the warning for plain HTTP beyond loopback, agent client certificates
(`tls.client_ca`) on the host-command and bundle routes bound to the
instance, and every client over HTTPS with CA pinning: boto3 verify=, aws
--ca-bundle, rolloutctl --ca-file and a real rollout-agent deploying with
its client certificate. The certificates are made by `rolloutctl tls init`."""

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
import warnings

import pytest
from botocore.exceptions import SSLError

import harness
from agent_helpers import Agent, make_bundle, script, wait_for
from api_helpers import signed_request
from cli_helpers import Ctl
from engine_helpers import CallError, Fleet, Signed, upload_bundle
from sources_helpers import (app_files, clean_env, fetch, make_zip, moto, moto_server, route_server,  # noqa: F401
                             s3_client, sha256, write_config)

POLL = "CodeDeployCommandService_v20141006.PollHostCommand"


@pytest.fixture
def pki(tmp_path):
    return harness.make_pki(tmp_path / "pki", instances=("host-0", "host-1"))


def peer_der(host, port, ca, **kw):
    """The certificate a new TLS connection sees (DER)."""
    ctx = harness.ssl_context(ca)
    for k, v in kw.items():
        setattr(ctx, k, v)
    with socket.create_connection((host, port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            return t.getpeercert(binary_form=True)


def pem_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def test_https_serving_and_protocols(daemon_factory, pki, tmp_path):
    mport = harness.free_port()
    d = daemon_factory(tls=pki, settings={"metrics_listen": "127.0.0.1:%d" % mport})
    assert d.url.startswith("https://")
    assert "https" in d.log()
    # /health and the official agent's probe GET / answer over TLS, trusting only our CA
    assert harness.http_get(d.url + "/health")[0] == 200
    st, body = harness.http_get(d.url + "/")
    assert st == 200, body
    # the metrics listener is HTTPS too
    st, body = harness.http_get("https://127.0.0.1:%d/metrics" % mport, context=harness.ssl_context(pki["ca"]))
    assert st == 200 and b"rolloutd_api_requests_total" in body
    # the system store does not know our CA: refused
    ctx = ssl.create_default_context()
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
            ctx.wrap_socket(s, server_hostname="127.0.0.1")
    # plain HTTP on the TLS port gets no HTTP answer
    assert harness.http_get("http://127.0.0.1:%d/health" % d.port)[0] == 0
    # TLS 1.1 and below are refused; TLS 1.2 and 1.3 work
    ctx = harness.ssl_context(pki["ca"])
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
            ctx.wrap_socket(s, server_hostname="127.0.0.1")
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        assert peer_der("127.0.0.1", d.port, pki["ca"], minimum_version=v, maximum_version=v) == \
            pem_der(pki["server_cert"])
    # TLS 1.2 without forward secrecy or AEAD (static RSA, CBC) is not offered
    ctx = harness.ssl_context(pki["ca"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA:AES128-SHA:AES256-SHA256")
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
            ctx.wrap_socket(s, server_hostname="127.0.0.1")


def test_tls_config_errors(builddir, pki, tmp_path):
    d = harness.Daemon(tmp_path, settings={"tls": {"cert": pki["server_cert"]}}, name="nokey")
    p = d.run("--check-config", check=False)
    assert p.returncode != 0 and "tls: both cert and key are required" in p.stderr
    # files that cannot be used: refused at start, naming the file and why
    cases = [({"cert": pki["server_cert"], "key": pki["ca_key"]}, "does not belong to the certificate"),
             ({"cert": str(tmp_path / "missing.pem"), "key": pki["server_key"]}, "tls.cert: cannot use"),
             ({"cert": pki["server_cert"], "key": pki["server_cert"]}, "tls.key: cannot use"),
             ({"cert": pki["server_cert"], "key": pki["server_key"], "client_ca": pki["server_key"]},
              "tls.client_ca: cannot use")]
    for i, (tls, msg) in enumerate(cases):
        d = harness.Daemon(tmp_path, settings={"tls": tls}, name="bad%d" % i)
        with pytest.raises(harness.HarnessError) as e:
            d.start(timeout=10)
        d._log.close()
        assert msg in str(e.value), str(e.value)


def test_warning_for_plain_http_beyond_loopback(daemon_factory):
    d = daemon_factory(start=False, settings={"listen": "0.0.0.0:%d" % harness.free_port()})
    d.url = "http://127.0.0.1:%s" % d.config()["listen"].split(":")[1]
    d.start()
    assert "serves plain HTTP beyond this machine" in d.log()
    assert "set tls: {cert: FILE, key: FILE}" in d.log()
    local = daemon_factory()
    assert "plain HTTP" not in local.log()


def test_sighup_reloads_the_certificate_keeping_connections(daemon_factory, pki, tmp_path):
    d = daemon_factory(tls=pki)
    old = pem_der(pki["server_cert"])
    conn = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=10, context=harness.ssl_context(pki["ca"]))
    conn.request("GET", "/health")
    assert conn.getresponse().read() == b'{"status":"ok"}'
    sock = conn.sock
    assert sock.getpeercert(binary_form=True) == old
    # a renewed server certificate (same CA, new key) in the same files
    harness.make_pki(tmp_path / "pki", server_names=("127.0.0.1", "renewed.example"))
    new = pem_der(pki["server_cert"])
    assert new != old
    n = d.log().count("reloaded the TLS certificate")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.log().count("reloaded the TLS certificate") > n, 10, what="the reload")
    # the open connection carries on with its certificate...
    conn.request("GET", "/health")
    assert conn.getresponse().read() == b'{"status":"ok"}'
    assert conn.sock is sock and sock.getpeercert(binary_form=True) == old
    # ...new ones get the renewed one
    assert peer_der("127.0.0.1", d.port, pki["ca"]) == new
    # a broken key on reload: refused, the current certificate stays
    with open(pki["server_key"], "w") as f:
        f.write("not a key\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "still serving the previous certificate" in d.log(), 10, what="the refused reload")
    assert "tls.key: cannot use" in d.log()
    assert peer_der("127.0.0.1", d.port, pki["ca"]) == new
    conn.request("GET", "/health")
    assert conn.getresponse().status == 200 and conn.sock is sock
    conn.close()


def test_aws_cli_boto3_and_rolloutctl_over_https(daemon_factory, pki, tmp_path):
    d = daemon_factory(tls=pki, plugins={"onprem": {}})
    cd = d.boto3_client(d.admin)
    cd.create_application(applicationName="tls-app")
    # aws --endpoint-url https://… --ca-bundle (harness adds it)
    _, out = d.aws(d.admin, "deploy", "list-applications")
    assert "tls-app" in out["applications"]
    # AWS_CA_BUNDLE alone also works for the aws cli
    env = d.env(d.admin)
    p = subprocess.run([harness.AWS_CLI, "deploy", "list-applications", "--endpoint-url", d.url, "--output", "json"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "tls-app" in p.stdout, p.stderr
    # without our CA both refuse the server
    env.pop("AWS_CA_BUNDLE")
    p = subprocess.run([harness.AWS_CLI, "deploy", "list-applications", "--endpoint-url", d.url, "--output", "json"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "SSL" in p.stderr
    import boto3
    bare = boto3.client("codedeploy", endpoint_url=d.url, region_name=harness.REGION,
                        aws_access_key_id=d.admin["AccessKeyId"], aws_secret_access_key=d.admin["SecretAccessKey"])
    with pytest.raises(SSLError):
        bare.list_applications()
    # rolloutctl: --ca-file, ROLLOUT_CA_FILE, AWS_CA_BUNDLE
    ctl = Ctl(d.url, d.admin)
    assert "tls-app" in ctl("--ca-file", pki["ca"], "app", "list").stdout
    assert "tls-app" in ctl("app", "list", env=ctl.env(ROLLOUT_CA_FILE=pki["ca"])).stdout
    assert "tls-app" in ctl("app", "list", env=ctl.env(AWS_CA_BUNDLE=pki["ca"])).stdout
    p = ctl("app", "list", expect=None)
    assert p.returncode == 4, p.stderr
    # a CA that did not sign the server's certificate is not trusted (pinning)
    other = harness.make_pki(tmp_path / "other", ca_name="other CA")
    p = ctl("--ca-file", other["ca"], "app", "list", expect=None)
    assert p.returncode == 4, p.stderr
    assert "not signed by a CA in " + other["ca"] in p.stderr, p.stderr


def test_rolloutctl_tls_init(tmp_path):
    pki = harness.make_pki(tmp_path / "p", instances=("web-1",), server_names=("deploy.example", "10.1.2.3"))
    for k in ("ca_key", "server_key"):
        assert os.stat(pki[k]).st_mode & 0o777 == 0o600
    assert os.stat(pki["clients"]["web-1"][1]).st_mode & 0o777 == 0o600
    text = subprocess.run(["openssl", "x509", "-in", pki["server_cert"], "-noout", "-text"], capture_output=True,
                          text=True, check=True).stdout
    assert "DNS:deploy.example" in text and "IP Address:10.1.2.3" in text and "TLS Web Server Authentication" in text
    text = subprocess.run(["openssl", "x509", "-in", pki["clients"]["web-1"][0], "-noout", "-subject", "-ext",
                           "extendedKeyUsage"], capture_output=True, text=True, check=True).stdout
    assert "CN = web-1" in text and "TLS Web Client Authentication" in text
    for cert, purpose in ((pki["server_cert"], "sslserver"), (pki["clients"]["web-1"][0], "sslclient")):
        p = subprocess.run(["openssl", "verify", "-CAfile", pki["ca"], "-purpose", purpose, cert],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
    # a second run keeps the CA and adds an agent
    ca = open(pki["ca"]).read()
    more = harness.make_pki(tmp_path / "p", instances=("web-2",))
    assert open(more["ca"]).read() == ca
    p = subprocess.run(["openssl", "verify", "-CAfile", pki["ca"], more["clients"]["web-2"][0]], capture_output=True)
    assert p.returncode == 0
    p = subprocess.run([harness.binary("rolloutctl"), "tls", "init", "--dir", str(tmp_path / "p"), "--agent", "a/b"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "not an instance name" in p.stderr


def test_dashboard_session_cookie_is_secure_over_https(daemon_factory, pki):
    d = daemon_factory(tls=pki)
    conn = http.client.HTTPSConnection("127.0.0.1", int(d.url.rsplit(":", 1)[1]), timeout=30,
                                       context=harness.ssl_context(pki["ca"]))

    def post(path, body, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        conn.request("POST", path, body=json.dumps(body), headers=h)
        r = conn.getresponse()
        return r.status, r.getheader("Set-Cookie"), json.loads(r.read() or b"{}")

    st, raw, j = post("/ui/signin", {"accessKeyId": d.admin["AccessKeyId"],
                                     "secretAccessKey": d.admin["SecretAccessKey"]})
    assert st == 200, j
    attrs = [a.strip() for a in raw.split(";")]
    # a browser sends it back over HTTPS only: never in the clear to a plain-HTTP look-alike
    assert "Secure" in attrs and "HttpOnly" in attrs and "SameSite=Strict" in attrs, raw
    st, raw, j = post("/ui/signout", {}, {"Cookie": attrs[0], "X-Rolloutd-CSRF": j["csrfToken"]})
    assert st == 200, j
    assert "Secure" in [a.strip() for a in raw.split(";")] and "Max-Age=0" in raw, raw
    conn.close()


def test_plugins_http_client_pins_ca_file(tmp_path, route_server):
    """The host's HTTP client (what plugins call) trusts a plugin's ca_file:
    the http source fetching a bundle from an artifact server with a
    private CA."""
    pki = harness.make_pki(tmp_path / "pki")
    other = harness.make_pki(tmp_path / "other", ca_name="other CA")
    z = make_zip(app_files())
    srv = route_server(lambda method, path, headers: (200, {}, z) if path == "/app.zip" else (404, {}, b""))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["server_cert"], pki["server_key"])
    srv.httpd.socket = ctx.wrap_socket(srv.httpd.socket, server_side=True)
    rev = {"revisionType": "HTTP",
           "httpLocation": {"url": "https://127.0.0.1:%d/app.zip" % srv.port, "bundleType": "zip", "sha256": sha256(z)}}

    def run(settings, name):
        conf = write_config(tmp_path / name, {"http": settings}, data_dir=tmp_path / name / "data")
        return fetch(conf, rev)

    (tmp_path / "a").mkdir()
    rc, res, err = run({"ca_file": pki["ca"]}, "a")
    assert rc == 0, (res, err)
    assert res[0]["sha256"] == sha256(z)
    # the system's CAs do not know ours; another CA is not ours: refused, saying what to set
    for name, settings, says in (("b", None, "for a private CA set ca_file"),
                                 ("c", {"ca_file": other["ca"]}, "not signed by a CA in " + other["ca"]),
                                 ("d", {"ca_file": str(tmp_path / "none.pem")}, "ca_file %s cannot be read"
                                  % (tmp_path / "none.pem"))):
        (tmp_path / name).mkdir()
        rc, res, err = run(settings, name)
        assert rc == 1, (name, res, err)
        assert says in res[0]["message"], (name, res)


class TlsProxy:
    """HTTPS in front of a plain HTTP server (moto_server speaks only HTTP):
    each connection is decrypted with pki's server certificate and relayed."""

    def __init__(self, pki, upstream_port):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki["server_cert"], pki["server_key"])
        self.upstream = upstream_port
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            t = self.ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            c.close()  # a client that does not trust us leaves during the handshake
            return
        u = socket.create_connection(("127.0.0.1", self.upstream))

        def pump(a, b):
            try:
                while True:
                    data = a.recv(65536)
                    if not data:
                        break
                    b.sendall(data)
            except OSError:
                pass
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=pump, args=(u, t), daemon=True).start()
        pump(t, u)

    def close(self):
        self.sock.close()


def test_aws_plugin_over_https_with_ca_file_or_aws_ca_bundle(tmp_path, moto):
    """An AWS-calling plugin (s3) against an HTTPS S3 endpoint with a private
    CA: trusted through its ca_file, or through AWS_CA_BUNDLE as the AWS SDKs
    read it; refused without either."""
    pki = harness.make_pki(tmp_path / "pki")
    c = s3_client(moto)
    c.create_bucket(Bucket="rel")
    body = make_zip(app_files())
    c.put_object(Bucket="rel", Key="app.zip", Body=body)
    proxy = TlsProxy(pki, int(moto.rsplit(":", 1)[1]))
    rev = {"revisionType": "S3", "s3Location": {"bucket": "rel", "key": "app.zip", "bundleType": "zip"}}
    try:
        def run(name, env, **extra):
            s3 = {"endpoint": "https://127.0.0.1:%d" % proxy.port, "region": "us-east-1", "addressing": "path",
                  "access_key_id": "AKIDTEST", "secret_access_key": "secret"}
            s3.update(extra)
            (tmp_path / name).mkdir()
            conf = write_config(tmp_path / name, {"s3": s3}, data_dir=tmp_path / name / "data")
            return fetch(conf, rev, env=env)

        rc, res, err = run("ca_file", clean_env(), ca_file=pki["ca"])
        assert rc == 0, (res, err)
        assert res[0]["sha256"] == sha256(body)
        rc, res, err = run("env", clean_env(AWS_CA_BUNDLE=pki["ca"]))
        assert rc == 0, (res, err)
        rc, res, err = run("none", clean_env())
        assert rc == 1 and "for a private CA set ca_file" in res[0]["message"], (res, err)
    finally:
        proxy.close()


# ------------------------------------------------------------------ mTLS

def mtls_fleet(daemon_factory, pki):
    d = daemon_factory(tls=pki, client_ca=True, plugins={"onprem": {}}, settings={"long_poll": "1s"})
    return d, Fleet(d, n=2, start_agents=False, config="CodeDeployDefault.AllAtOnce")


def poll(d, f, name, cert=None, key=None, as_host=None):
    ctx = harness.ssl_context(d.ca_file, cert, key)
    s = Signed(d.url, f.keys[name], "codedeploy-commands", timeout=20, ssl_context=ctx)
    try:
        return s.call(POLL, {"HostIdentifier": "arn:aws:iam::000000000000:user/%s" % (as_host or name)})
    finally:
        s.close()


def refused(fn):
    with pytest.raises(CallError) as e:
        fn()
    return e.value


def test_mtls_agent_routes_need_the_instances_certificate(daemon_factory, pki, tmp_path):
    d, f = mtls_fleet(daemon_factory, pki)
    c0, c1 = pki["clients"]["host-0"], pki["clients"]["host-1"]
    # no client certificate
    e = refused(lambda: poll(d, f, "host-0"))
    assert e.status == 403 and e.type == "AccessDeniedException" and "needs a client certificate" in e.body
    # a certificate from another CA (named like the instance)
    other = harness.make_pki(tmp_path / "other", instances=("host-0",), ca_name="other CA")
    e = refused(lambda: poll(d, f, "host-0", *other["clients"]["host-0"]))
    assert e.status == 403 and "client certificate was refused" in e.body, e.body
    # a valid certificate naming another instance than the key's
    e = refused(lambda: poll(d, f, "host-0", *c1))
    assert e.status == 403 and "names instance host-1" in e.body and "bound to instance host-0" in e.body
    # the server certificate is not a client certificate
    e = refused(lambda: poll(d, f, "host-0", pki["server_cert"], pki["server_key"]))
    assert e.status == 403 and "refused" in e.body
    # the instance's own certificate
    assert poll(d, f, "host-0", *c0) == {}
    assert poll(d, f, "host-1", *c1) == {}
    # a key bound to no instance (agent keys always are; an admin key is not) is bound by the
    # certificate: host-0's certificate cannot poll as host-1
    f.keys["any"] = d.admin
    assert poll(d, f, "any", *c0, as_host="host-0") == {}
    e = refused(lambda: poll(d, f, "any", *c0, as_host="host-1"))
    assert e.type == "AccessDeniedException" and "host-0" in e.body
    # bundles: the same rule on GET /bundles/
    path = str(tmp_path / "b.tgz")
    make_bundle(path, {"appspec.yml": "version: 0.0\nos: linux\n"})
    rev = upload_bundle(d, d.admin, path)
    sha = rev["bundleLocation"]["sha256"]
    # (with its own certificate, host-0 gets past TLS to the bundle route's own rule: the bundle
    # must belong to a deployment to host-0, which the end-to-end test below satisfies)
    for cert, why in ((None, "needs a client certificate"), (c1, "names instance host-1"),
                      (c0, "is not a target of a running deployment")):
        ctx = harness.ssl_context(d.ca_file, *(cert or (None, None)))
        r = signed_request(d, f.keys["host-0"], method="GET", path="/bundles/" + sha, body=None,
                           service="codedeploy-commands", ssl_context=ctx)
        assert r.status == 403 and why in r.body.decode(), (cert, r.status, r.body[:300])
    # the SigV4 API and /health need no client certificate
    assert d.boto3_client(d.admin).list_applications()["applications"] == ["app"]
    assert harness.http_get(d.url + "/health")[0] == 200


def test_deployment_over_https_with_a_real_agent(daemon_factory, pki, tmp_path):
    d, f = mtls_fleet(daemon_factory, pki)
    www = str(tmp_path / "www")
    events = str(tmp_path / "events")
    path = str(tmp_path / "rev.tgz")
    appspec = ("version: 0.0\nos: linux\nfiles:\n  - source: /web\n    destination: %s\nhooks:\n"
               "  AfterInstall:\n    - location: hook.sh\n" % www)
    make_bundle(path, {"appspec.yml": appspec, "web/index.html": "over https\n",
                       "hook.sh": script('echo "$LIFECYCLE_EVENT $DEPLOYMENT_ID" >> %s' % events)})
    rev = upload_bundle(d, d.admin, path)
    agents = []
    for name in f.names:
        cert, key = pki["clients"][name]
        a = Agent(tmp_path, d.url, "arn:aws:iam::000000000000:user/%s" % name, f.keys[name]["AccessKeyId"],
                  f.keys[name]["SecretAccessKey"], os.path.join(d.data_dir, "daemon.crt"), name="agent-" + name,
                  heartbeat="2s", ca_file=pki["ca"], client_cert=cert, client_key=key)
        agents.append(a.start())
    try:
        # with distinct destinations per host the hook file would clash: one host deploys
        f.cd.remove_tags_from_on_premises_instances(tags=[{"Key": "env", "Value": "test"}],
                                                    instanceNames=["host-1"])
        dep = f.deploy(rev)
        info = f.wait(dep, timeout=90)
        assert info["status"] == "Succeeded", (info, agents[0].log()[-3000:], d.log_tail(40))
        with open(os.path.join(www, "index.html")) as fh:
            assert fh.read() == "over https\n"
        with open(events) as fh:
            assert fh.read().split() == ["AfterInstall", dep]
        assert "https://127.0.0.1" in agents[0].log()
    finally:
        for a in agents:
            a.stop()
    # an agent without its certificate is refused with the daemon's reason in its log
    name = "host-0"
    a = Agent(tmp_path, d.url, "arn:aws:iam::000000000000:user/%s" % name, f.keys[name]["AccessKeyId"],
              f.keys[name]["SecretAccessKey"], os.path.join(d.data_dir, "daemon.crt"), name="agent-nocert",
              heartbeat="2s", ca_file=pki["ca"])
    a.start(wait=False)
    try:
        wait_for(lambda: "needs a client certificate" in a.log(), 30, what="the refusal in the agent's log")
    finally:
        a.stop()
    # an agent pinned to another CA does not trust the daemon, and says which ca_file to fix
    other = harness.make_pki(tmp_path / "other", ca_name="other CA")
    a = Agent(tmp_path, d.url, "arn:aws:iam::000000000000:user/%s" % name, f.keys[name]["AccessKeyId"],
              f.keys[name]["SecretAccessKey"], os.path.join(d.data_dir, "daemon.crt"), name="agent-otherca",
              heartbeat="2s", ca_file=other["ca"], client_cert=pki["clients"][name][0],
              client_key=pki["clients"][name][1])
    a.start(wait=False)
    try:
        wait_for(lambda: "not signed by a CA in " + other["ca"] in a.log(), 30, what="the CA error in the agent's log")
    finally:
        a.stop()
