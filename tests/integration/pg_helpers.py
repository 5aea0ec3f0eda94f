"""A PostgreSQL server from Debian's packages for the tests and benches that
run rolloutd on the PostgreSQL store: initdb into a temporary directory
(under /tmp: the server's user must reach it), 127.0.0.1 on a free port,
password authentication for the role rolloutd (password PASSWORD). The
`pg` fixture starts one per test module (import it into the test file); db_name() gives
each test a database of its own."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from harness import free_port

PASSWORD = "pg-s3cret-%d" % os.getpid()


class PgServer:
    """A PostgreSQL server in base (initdb, a free port on 127.0.0.1). durable:
    fsync and full-page writes on, as in production (bench/cluster-bench);
    the tests turn them off, which keeps every guarantee but a power cut's."""

    def __init__(self, base, durable=False):
        initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not initdb:
            pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
        self.bin = os.path.dirname(initdb[-1])
        self.dir = str(base)
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:  # initdb refuses root
            user = "postgres"
            try:
                pw = pwd.getpwnam(user)
            except KeyError:
                user, pw = "nobody", pwd.getpwnam("nobody")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", user, "--"]
        data = os.path.join(self.dir, "data")
        self.run("initdb", "-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
                 "--no-locale", "-E", "UTF8", "--no-sync")
        self.options = "-k %s -p %d -c listen_addresses=127.0.0.1" % (self.dir, self.port)
        if not durable:
            self.options += " -c fsync=off -c full_page_writes=off"
        self.data = data
        self.start()

    def start(self):
        self.run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w", "-o", self.options,
                 "start")

    def run(self, prog, *args):
        subprocess.run(self.as_user + [os.path.join(self.bin, prog)] + list(args), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")

    def psql(self, sql, db="postgres"):
        """Runs sql as the superuser over the unix socket; the rows, tab-separated."""
        out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", self.dir,
                              "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [r.split("\t") for r in out.splitlines() if r]

    def stop(self):
        subprocess.run(self.as_user + [os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w",
                                       "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")


@pytest.fixture(scope="module")
def pg():
    """One PostgreSQL server for a test module; each test makes its database (db_name)."""
    s = start_pg()
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(s.dir, ignore_errors=True)


def start_pg(durable=False):
    """A PostgreSQL server with the role rolloutd (password PASSWORD); skips when it is not installed."""
    s = PgServer(tempfile.mkdtemp(prefix="rollout-pg-"), durable=durable)
    s.psql("CREATE ROLE rolloutd LOGIN PASSWORD '%s'" % PASSWORD)
    return s


def pg_restart(pg):
    """PostgreSQL stopped at once (every connection cut) and started again on the same port."""
    pg.stop()
    pg.start()


def db_name(request):
    """A database name of the running test's own."""
    return "rd_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_").lower()[:50]
