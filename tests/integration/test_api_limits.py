"""Limits under abuse: request size caps, read timeouts, the failed-signature
limit per source address, and other clients still answered while one floods
(limits: in the daemon config; README "Configuration reference")."""

import json
import socket
import threading
import time

import pytest

import harness

from api_helpers import TARGET, call, signed_request


def health_ok(daemon, timeout=10.0):
    r = signed_request(daemon, None, method="GET", path="/health", sign=False)
    return r.status == 200


def raw_connect(daemon, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=timeout)
    return s


def read_status(s):
    """The status code of the first response on s, or None when the server closed it without one."""
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return None
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_100mb_body_refused_before_it_is_read(daemon):
    """A JSON operation declaring a 100 MB body is answered 413 after at most
    the first megabyte, without waiting for the rest."""
    s = raw_connect(daemon)
    s.sendall(("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
               "X-Amz-Target: %s.ListApplications\r\nContent-Length: %d\r\n\r\n" % (TARGET, 100 * 1024 * 1024)).encode())
    sent = 0
    status = None
    s.settimeout(0.5)
    try:
        while sent < 1024 * 1024:
            s.sendall(b"x" * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    s.settimeout(10)
    try:
        status = read_status(s)
    except ConnectionResetError:
        status = None
    s.close()
    # answered (or reset) while 99 MB are still unsent: a server reading the
    # whole body first would leave read_status() waiting until its timeout
    assert status in (413, None), status
    assert call(daemon, daemon.admin, "ListApplications", {}).status == 200


def test_body_max_configurable(daemon_factory):
    d = daemon_factory(settings={"limits": {"body_max": "4KiB"}})
    big = json.dumps({"applicationName": "a", "description": "x" * 5000}).encode()
    r = call(d, d.admin, "CreateApplication", big)
    assert (r.status, r.error_type) == (413, "SerializationException"), r.body
    assert "limits.body_max" in r.json()["message"]
    small = json.dumps({"applicationName": "a"}).encode()
    assert call(d, d.admin, "CreateApplication", small).status == 200


def test_header_max(daemon_factory):
    d = daemon_factory(settings={"limits": {"header_max": "8KiB"}})
    s = raw_connect(d)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 16384 + b"\r\n\r\n")
    try:
        status = read_status(s)
    except ConnectionResetError:
        status = None
    s.close()
    assert status != 200, "a 16 KiB header was accepted with header_max 8KiB"
    assert health_ok(d)
    # headers under the cap are fine
    r = call(d, d.admin, "ListApplications", {}, extra_headers={"X-Pad": "b" * 2000})
    assert r.status == 200, r.body


def test_slowloris_does_not_stop_other_clients(daemon_factory):
    """500 half-sent requests held open: /health and signed calls are still
    answered, and the stalled connections are dropped after request_timeout."""
    d = daemon_factory(settings={"long_poll": "2s", "limits": {"request_timeout": "4s"}})
    socks = []
    try:
        for i in range(500):
            s = raw_connect(d)
            # half a request: headers not finished, or a body promised and not sent
            if i % 2:
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: %s.ListApplications\r\n" % TARGET.encode())
            else:
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
            socks.append(s)
        for _ in range(5):
            assert health_ok(d)
            assert call(d, d.admin, "ListApplications", {}).status == 200
        # the daemon drops them: each stalled socket sees the server close it
        deadline = time.monotonic() + 30
        closed = 0
        for s in socks:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                while s.recv(4096):
                    pass
                closed += 1
            except ConnectionResetError:
                closed += 1
            except socket.timeout:
                pass
        assert closed == len(socks), "%d of %d stalled connections still open after 30 s" % (
            len(socks) - closed, len(socks))
    finally:
        for s in socks:
            s.close()
    assert call(d, d.admin, "ListApplications", {}).status == 200


def connections_gauge(d, listener="listen"):
    """rolloutd_http_connections of a listener, read through the metrics listener."""
    st, body = harness.http_get(d.metrics_url + "/metrics")
    assert st == 200
    for line in body.decode().splitlines():
        if line.startswith('rolloutd_http_connections{listener="%s"}' % listener):
            return float(line.split()[-1])
    return 0.0


def wait_for(pred, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def test_connection_cap(daemon_factory, tmp_path):
    """limits.max_connections: at the cap the daemon stops accepting (new
    clients wait in the backlog, not refused) and takes them as soon as a
    connection closes, however it closes: after a request, half-way
    through one, without sending anything, or dropped by request_timeout."""
    mport = harness.free_port()
    d = daemon_factory(settings={"long_poll": "2s", "metrics_listen": "127.0.0.1:%d" % mport,
                                 "limits": {"max_connections": 20, "request_timeout": "3s"}})
    d.metrics_url = "http://127.0.0.1:%d" % mport
    assert connections_gauge(d) == 0
    socks = []
    try:
        # 20 idle connections, each closing a different way later
        for i in range(20):
            s = raw_connect(d)
            if i % 4 == 1:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_status(s) == 200  # kept alive afterwards
            elif i % 4 == 2:
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # half a request
            socks.append(s)
        wait_for(lambda: connections_gauge(d) == 20, what="20 open connections")
        # the 21st waits: connected (the kernel's backlog) but not answered
        late = raw_connect(d)
        late.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        late.settimeout(1.0)
        with pytest.raises(socket.timeout):
            late.recv(1)
        # one closing (without having sent a byte) lets it in
        socks.pop(0).close()
        late.settimeout(10)
        assert read_status(late) == 200
        late.close()
        # the rest close every way; request_timeout drops the half-sent ones
        for s in socks[::2]:
            s.close()
        wait_for(lambda: connections_gauge(d) == 0, timeout=20, what="every connection counted as closed")
    finally:
        for s in socks:
            s.close()
    assert call(d, d.admin, "ListApplications", {}).status == 200
    st, body = harness.http_get(d.metrics_url + "/metrics")
    assert b'rolloutd_http_connection_cap_reached_total{listener="listen"}' in body


def test_long_polls_per_key(daemon_factory):
    """limits.long_polls_per_key: an admin key may poll for any instance, but
    holds at most that many polls at once; other keys are not affected, and
    a poll of the same host by the same key replaces the held one."""
    from engine_helpers import CMD_PREFIX, CallError, Fleet, Signed
    d = daemon_factory(settings={"long_poll": "3s", "limits": {"long_polls_per_key": 2}})
    f = Fleet(d, n=3, start_agents=False)
    admin = [Signed(d.url, d.admin, "codedeploy-commands") for _ in range(3)]
    hid = {n: "arn:aws:iam::000000000000:user/%s" % n for n in f.names}

    def poll(client, name):
        return client.call(CMD_PREFIX + ".PollHostCommand", {"HostIdentifier": hid[name]}, timeout=30)

    held = [threading.Thread(target=poll, args=(admin[i], f.names[i]), daemon=True) for i in range(2)]
    for t in held:
        t.start()
    time.sleep(1.0)  # both held (long_poll 3 s)
    t0 = time.monotonic()
    with pytest.raises(CallError) as ei:
        poll(admin[2], f.names[2])
    assert ei.value.type == "ThrottlingException", ei.value
    assert "long_polls_per_key" in str(ei.value)
    assert time.monotonic() - t0 < 2.0  # refused at once, not held
    # the instance's own key is another key
    own = Signed(d.url, f.keys[f.names[2]], "codedeploy-commands")
    poll(own, f.names[2])  # held, then answered empty: no error
    for t in held:
        t.join(10)
    # released when answered: the admin key may hold two again
    poll(admin[2], f.names[2])


def test_failed_signatures_throttled_per_address(daemon_factory):
    d = daemon_factory(settings={"limits": {"failed_auth_per_minute": 5}})
    wrong = dict(d.admin, SecretAccessKey="wrong" * 8)
    kinds = [call(d, wrong, "ListApplications", {}).error_type for _ in range(5)]
    assert kinds == ["InvalidSignatureException"] * 5
    r = call(d, wrong, "ListApplications", {})
    assert (r.status, r.error_type) == (400, "ThrottlingException"), r.body
    assert "limits.failed_auth_per_minute" in r.json()["message"]
    # the address is refused before its signatures are checked, the right key too
    assert call(d, d.admin, "ListApplications", {}).error_type == "ThrottlingException"
    # /health needs no signature and stays up
    assert health_ok(d)


def test_failed_signature_limit_zero_disables(daemon_factory):
    d = daemon_factory(settings={"limits": {"failed_auth_per_minute": 0}})
    wrong = dict(d.admin, SecretAccessKey="wrong" * 8)
    for _ in range(70):
        assert call(d, wrong, "ListApplications", {}).error_type == "InvalidSignatureException"
    assert call(d, d.admin, "ListApplications", {}).status == 200


def test_flood_from_one_client_leaves_others_answered(daemon):
    """Eight threads flood the API with bad requests (unknown targets, 404s,
    oversized bodies) while another client keeps calling: every call of the
    other client is answered 200 (within the request's own 30 s timeout)."""
    stop = threading.Event()
    sent = [0]

    def flood():
        while not stop.is_set():
            try:
                s = raw_connect(daemon, timeout=5)
                for req in (b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
                            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Nope.X\r\nContent-Length: 2\r\n\r\n{}",
                            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"):
                    s.sendall(req)
                    read_status(s)
                    sent[0] += 1
                s.close()
            except OSError:
                pass

    threads = [threading.Thread(target=flood, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        for _ in range(20):
            r = call(daemon, daemon.admin, "ListApplications", {})
            assert r.status == 200, r.body
            assert health_ok(daemon)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert sent[0] > 0


@pytest.mark.parametrize("limits,word", [
    ({"nope": 1}, "nope"),
    ({"body_max": "10B"}, "body_max"),
    ({"header_max": "lots"}, "header_max"),
    ({"request_timeout": "10s"}, "long_poll"),
    ({"failed_auth_per_minute": -1}, "failed_auth_per_minute"),
    ({"max_connections": 3}, "max_connections"),
    ({"long_polls_per_key": -1}, "long_polls_per_key"),
])
def test_bad_limits_refused(tmp_path, limits, word):
    d = harness.Daemon(tmp_path, settings={"limits": limits})
    p = d.run("--check-config", check=False)
    assert p.returncode != 0
    assert word in p.stderr, p.stderr
