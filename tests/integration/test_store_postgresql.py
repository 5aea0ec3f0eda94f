"""rolloutd on the PostgreSQL store (store: postgresql://...): a real
PostgreSQL server from Debian's packages (initdb into a temporary
directory, 127.0.0.1 on a free port, password authentication), a real
rollout-agent, a deployment created through the control API, rolloutd
killed with SIGKILL in the middle of it and started again: the deployment
resumes from what PostgreSQL committed and ends Succeeded with every
lifecycle hook run once. The password (from store_password_file) never
reaches the log. Skipped when the PostgreSQL server binaries are absent
(apt-get install postgresql, or scripts/install-deps)."""

import os

import pytest

import harness
from agent_helpers import wait_for
from engine_helpers import kill9_and_restart
from pg_helpers import PASSWORD, db_name, pg  # noqa: F401
from test_agent_rolloutd import RealFleet, lines, revision


@pytest.fixture
def d(daemon_factory, pg, tmp_path, request):
    db = db_name(request)
    pg.psql('CREATE DATABASE "%s" OWNER rolloutd' % db)
    pwfile = tmp_path / "store-password"
    pwfile.write_text(PASSWORD + "\n")
    pwfile.chmod(0o600)
    d = daemon_factory(plugins={"onprem": {}}, settings={
        "long_poll": "5s",
        "store": "postgresql://rolloutd@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=5" % (pg.port, db),
        "store_password_file": str(pwfile)})
    d.db = db
    return d


def test_deployment_resumes_after_kill9_on_postgresql(d, pg, tmp_path):
    www, events, started = str(tmp_path / "www"), str(tmp_path / "events.log"), str(tmp_path / "started")
    rec = 'echo "$LIFECYCLE_EVENT v1 $DEPLOYMENT_ID" >> %s' % events
    hooks = {e: rec for e in ["ApplicationStop", "AfterInstall", "ApplicationStart", "ValidateService"]}
    # BeforeInstall holds the deployment long enough for the kill to land in its middle
    hooks["BeforeInstall"] = "touch %s; sleep 2; %s" % (started, rec)
    f = RealFleet(d, tmp_path, n=1)
    try:
        dep = f.deploy_local(revision(tmp_path, "v1", www, events, hooks=hooks))
        wait_for(lambda: os.path.exists(started), timeout=30)
        assert f.f.cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"] == "InProgress"
        kill9_and_restart(d)
        info = f.wait(dep, timeout=90)
        a = f.agents[f.f.names[0]]
        assert info["status"] == "Succeeded", (info, d.log_tail(40), a.log()[-3000:])
        # every hook ran once, in order, and every command was queued once
        assert lines(events) == ["%s v1 %s" % (e, dep) for e in
                                 ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]]
        rows = pg.psql("SELECT command_name, COUNT(*) FROM host_commands WHERE deployment_id = '%s'"
                       " GROUP BY command_name" % dep, db=d.db)
        assert len(rows) == 7 and all(r[1] == "1" for r in rows), rows
        with open(os.path.join(www, "index.html")) as fh:
            assert fh.read() == "hello v1\n"
    finally:
        f.stop()
    # the state is in PostgreSQL, not in data_dir
    assert not os.path.exists(os.path.join(d.data_dir, "state.db"))
    with open(d.log_path, "rb") as fh:
        log = fh.read().decode(errors="replace")
    assert "store: PostgreSQL postgresql://rolloutd@127.0.0.1:%d/%s" % (pg.port, d.db) in log
    assert PASSWORD not in log


def test_backup_and_restore_point_to_pg_dump(d):
    r = d.run("backup", os.path.join(d.dir, "b.db"), check=False)
    assert r.returncode == 1 and "pg_dump" in r.stderr, r.stderr
    r = d.run("restore", os.path.join(d.dir, "b.db"), check=False)
    assert r.returncode == 1 and "pg_restore" in r.stderr, r.stderr


def test_wrong_password_is_a_clear_error_without_the_password(pg, tmp_path):
    pwfile = tmp_path / "wrong"
    pwfile.write_text("not-the-password-%d\n" % os.getpid())
    pwfile.chmod(0o600)
    d = harness.Daemon(tmp_path, name="wrongpw", settings={
        "store": "postgresql://rolloutd@127.0.0.1:%d/postgres?sslmode=disable" % pg.port,
        "store_password_file": str(pwfile)})
    r = d.run("access-key", "list", check=False)
    assert r.returncode != 0
    assert "cannot connect to the PostgreSQL store" in r.stderr and "password authentication failed" in r.stderr, \
        r.stderr
    assert "not-the-password" not in r.stderr
