"""Several rolloutd on one PostgreSQL database (docs/cluster.md), for the
cluster tests: on a PostgreSQL server of pg_helpers, N daemons on a fresh database
of their own with one KEK and, optionally, one TLS certificate, each with its
own data_dir and listener, a short cluster.lease_ttl; `rolloutd cluster
status --json`; and a switchable TCP forwarder (Switch) that agents can be
pointed at, to move them from one daemon to another without restarting them
(an HAProxy in front is the production shape; Switch makes the test decide
which daemon an agent reaches); and an HAProxy (Balancer) in front of
the daemons, round robin, for agents and clients.

    # pg: pg_helpers' fixture (skips when PostgreSQL is not installed)
    c = Cluster(daemon_factory, pg, tmp_path, db_name(request), n=3, lease_ttl="2s")
    c.daemons[0].url ... c.status() ... c.daemon_id(c.daemons[0])
    lb = Balancer(tmp_path, c.daemons).start()   # lb.url; lb.stop()"""

import json
import os
import select
import socket
import subprocess
import threading
import time

import harness
from agent_helpers import wait_for
from pg_helpers import PASSWORD


class Cluster:
    """n daemons (named a, b, c, ...) on database db of pg, started in order;
    tls (a harness.make_pki() dict) and client_ca as daemon_factory takes them."""

    def __init__(self, daemon_factory, pg, tmp_path, db, n=3, lease_ttl="2s", tls=None, start=True,
                 client_ca=False, **more):
        self.pg, self.db = pg, db
        pg.psql('CREATE DATABASE "%s" OWNER rolloutd' % db)
        pwfile = tmp_path / ("store-password-" + db)
        pwfile.write_text(PASSWORD + "\n")
        pwfile.chmod(0o600)
        self.settings = {"long_poll": "5s",
                         "store": "postgresql://rolloutd@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=5" % (
                             pg.port, db),
                         "store_password_file": str(pwfile), "cluster": {"lease_ttl": lease_ttl}}
        self.settings.update(more)
        self.daemons = []
        for i in range(n):
            s = dict(self.settings)
            if self.daemons:
                s["kek_file"] = os.path.join(self.daemons[0].data_dir, "kek")
            self.daemons.append(daemon_factory(name="abcdefgh"[i], plugins={"onprem": {}}, settings=s, tls=tls,
                                               start=start, client_ca=client_ca))

    def psql(self, sql):
        return self.pg.psql(sql, db=self.db)

    def status(self, via=None):
        """`rolloutd cluster status --json` run with a daemon's config."""
        d = via or self.daemons[0]
        r = d.run("cluster", "status", "--json")
        return json.loads(r.stdout)

    def daemon_id(self, d):
        """The id of d's running incarnation (from its pid)."""
        rows = self.psql("SELECT id FROM cluster_daemons WHERE pid = %d AND state = 'alive'" % d.proc.pid)
        assert len(rows) == 1, rows
        return rows[0][0]

    def driver(self, dep):
        """The id of the daemon the lease of dep names, or None."""
        rows = self.psql("SELECT daemon_id FROM deployment_leases WHERE deployment_id = '%s'" % dep)
        return rows[0][0] if rows else None

    def wait_driver(self, dep, d, timeout=20):
        did = self.daemon_id(d)
        wait_for(lambda: self.driver(dep) == did, timeout=timeout)


def kill9(d):
    """kill -9 d; the fixture's teardown then leaves it alone."""
    d.proc.kill()
    d.proc.wait()
    d._log.close()
    d.proc = None


class Switch:
    """A TCP forwarder on 127.0.0.1:port to whichever daemon target names
    (host, port); connections open when the target changes keep theirs
    until they close."""

    def __init__(self, target):
        self.target = target
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def point(self, d):
        self.target = ("127.0.0.1", d.port)

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(c, self.target), daemon=True).start()

    @staticmethod
    def _pipe(c, target):
        try:
            s = socket.create_connection(target, timeout=5)
        except OSError:
            c.close()
            return
        socks = [c, s]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 120)
                if not r:
                    break
                for x in r:
                    data = x.recv(65536)
                    if not data:
                        return
                    (s if x is c else c).sendall(data)
        except OSError:
            pass
        finally:
            c.close()
            s.close()

    def stop(self):
        self.stopped = True
        self.sock.close()


HAPROXY = "/usr/sbin/haproxy"


class Balancer:
    """Debian's HAProxy on a free port of 127.0.0.1 in front of daemons
    (plain HTTP), round robin per request, as docs/cluster.md shows it: a
    daemon whose /health stops answering is taken out within half a second,
    a request that could not reach one is sent to another, and the server
    timeout outlasts a long-poll. url: what agents and clients are given."""

    def __init__(self, tmp_path, daemons, long_poll_s=5):
        self.dir = os.path.join(str(tmp_path), "balancer")
        os.makedirs(self.dir, exist_ok=True)
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.servers = ["  server %s 127.0.0.1:%d check inter 200ms fall 2 rise 1" % ("d%d" % i, d.port)
                        for i, d in enumerate(daemons)]
        self.long_poll_s = long_poll_s
        self.proc = self.port = None
        self.url = None

    def _config(self, port):
        lines = ["global", "  maxconn 2000",
                 "defaults", "  mode http", "  timeout connect 1s", "  timeout client %ds" % (self.long_poll_s + 30),
                 "  timeout server %ds" % (self.long_poll_s + 30), "  retries 3", "  option redispatch 1",
                 "  retry-on conn-failure empty-response",
                 "frontend rolloutd", "  bind 127.0.0.1:%d" % port, "  default_backend daemons",
                 "backend daemons", "  balance roundrobin", "  option httpchk GET /health"] + self.servers
        with open(self.cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        return [HAPROXY, "-f", self.cfg, "-db"]

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc, self.port = harness.start_on_free_port(self._config, stdout=self._log, stderr=subprocess.STDOUT,
                                                          stdin=subprocess.DEVNULL)
        self.url = "http://127.0.0.1:%d" % self.port
        return self

    def log(self):
        return harness.read_text(self.log_path)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc:
            self._log.close()
        self.proc = None


def until(pred, timeout=20, step=0.1):
    """pred() once it is truthy (its value), else an AssertionError after timeout."""
    end = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > end:
            raise AssertionError("timed out")
        time.sleep(step)
