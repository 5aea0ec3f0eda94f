"""A fault-injecting HTTP proxy for tests: sits between rollout-agent and
rolloutd on 127.0.0.1 and forwards every request unchanged (SigV4 signs the
Host header, so that header is kept: rolloutd checks the signature, not the
port), except the ones a rule picks.

    p = FaultProxy(daemon.port)
    p.add_rule("GetDeploymentSpecification", "reset", command="AfterInstall")
    agent endpoint = p.url
    ...
    assert p.fired == [("GetDeploymentSpecification", "AfterInstall", "reset")]

A rule fires on the first request (or the first `count`) for that operation
of the host-command service, optionally only for one CommandName (learned
from PollHostCommand answers: HostIdentifier -> command for the
specification call, HostCommandIdentifier -> command for the others).

Fault kinds:
  refuse  no answer, and the listening socket is closed for `refuse_s`, so
          the retries meet ECONNREFUSED
  reset   the connection is reset (RST) without an answer
  503     HTTP 503 with a ServerException body
  kill    on_kill() is called (the test kills rolloutd -9 and restarts it),
          then the request is forwarded to wherever rolloutd is now, which
          usually means nowhere: the client sees its connection closed

While rolloutd is down, any request is answered by closing the connection
(what a client sees when the server dies with its connection open).
"""

import json
import socket
import struct
import threading
import time

TARGET_PREFIX = "CodeDeployCommandService_v20141006."


class FaultProxy:
    def __init__(self, upstream_port, port=0, refuse_s=1.5):
        self.upstream_port = upstream_port
        self.refuse_s = refuse_s
        self.rules = []
        self.fired = []
        self.calls = []  # (op, command) of every request seen
        self.on_kill = None
        self.lock = threading.Lock()
        self.host_cmd = {}  # HostIdentifier -> CommandName of the last command handed out
        self.hcid_cmd = {}  # HostCommandIdentifier -> CommandName
        self.closed = False
        self.lsock = self._listen(port)
        self.port = self.lsock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def add_rule(self, op, kind, command=None, count=1):
        with self.lock:
            self.rules.append({"op": op, "kind": kind, "command": command, "left": count})

    def close(self):
        self.closed = True
        try:
            if self.lsock:
                self.lsock.close()
        except OSError:
            pass

    # ------------------------------------------------------------ plumbing

    def _listen(self, port):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        s.settimeout(0.2)
        return s

    def _accept_loop(self):
        while not self.closed:
            ls = self.lsock
            if ls is None:  # refusing for a while
                time.sleep(0.05)
                continue
            try:
                c, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                if self.closed:
                    return
                time.sleep(0.05)  # the listener is being replaced (refuse)
                continue
            c.settimeout(None)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _refuse_for_a_while(self):
        old = self.lsock
        self.lsock = None
        old.close()
        time.sleep(self.refuse_s)
        while not self.closed:
            try:
                self.lsock = self._listen(self.port)
                return
            except OSError:
                time.sleep(0.05)

    @staticmethod
    def _read_request(c, buf):
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return None, buf
            buf += d
        head, rest = buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(rest) < length:
            d = c.recv(65536)
            if not d:
                return None, b""
            rest += d
        return (head, rest[:length]), rest[length:]

    @staticmethod
    def _header(head, name):
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == name:
                return v.strip().decode()
        return ""

    def _command_of(self, op, body):
        try:
            j = json.loads(body or b"{}")
        except ValueError:
            return None
        if op == "GetDeploymentSpecification":
            return self.host_cmd.get(j.get("HostIdentifier"))
        return self.hcid_cmd.get(j.get("HostCommandIdentifier"))

    def _pick(self, op, command):
        with self.lock:
            self.calls.append((op, command))
            for r in self.rules:
                if r["left"] > 0 and r["op"] == op and r["command"] in (None, command):
                    r["left"] -= 1
                    self.fired.append((op, command, r["kind"]))
                    return r["kind"]
        return None

    def _learn(self, op, body, resp_body):
        if op != "PollHostCommand":
            return
        try:
            hc = json.loads(resp_body).get("HostCommand")
            hid = json.loads(body).get("HostIdentifier")
        except (ValueError, AttributeError):
            return
        if hc:
            with self.lock:
                self.host_cmd[hid] = hc.get("CommandName")
                self.hcid_cmd[hc.get("HostCommandIdentifier")] = hc.get("CommandName")

    @staticmethod
    def _reset(c):
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()

    def _forward(self, head, body):
        """(raw response, response body) from rolloutd, or None when it is down."""
        lines = head.split(b"\r\n")
        kept = [lines[0]] + [x for x in lines[1:] if x.split(b":", 1)[0].strip().lower() != b"connection"]
        raw = b"\r\n".join(kept) + b"\r\nConnection: close\r\n\r\n" + body
        try:
            u = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=120)
        except OSError:
            return None
        try:
            u.sendall(raw)
            chunks = []
            while True:
                d = u.recv(65536)
                if not d:
                    break
                chunks.append(d)
        except OSError:
            return None
        finally:
            u.close()
        resp = b"".join(chunks)
        if not resp:
            return None
        return resp, resp.split(b"\r\n\r\n", 1)[-1]

    def _serve(self, c):
        buf = b""
        try:
            while True:
                req, buf = self._read_request(c, buf)
                if req is None:
                    return
                head, body = req
                target = self._header(head, b"x-amz-target")
                op = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else None
                kind = self._pick(op, self._command_of(op, body)) if op else None
                if kind == "reset":
                    self._reset(c)
                    return
                if kind == "refuse":
                    c.close()
                    self._refuse_for_a_while()
                    return
                if kind == "503":
                    data = b'{"__type":"ServerException","message":"injected fault; retry"}'
                    c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-amz-json-1.1\r\n"
                              b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
                    continue
                if kind == "kill" and self.on_kill:
                    self.on_kill()
                got = self._forward(head, body)
                if got is None:
                    c.close()
                    return
                resp, resp_body = got
                self._learn(op, body, resp_body)
                # rolloutd answered "Connection: close" to us; the client may keep
                # its connection, but simplest is to close it after this answer
                c.sendall(resp)
                c.close()
                return
        except OSError:
            try:
                c.close()
            except OSError:
                pass
