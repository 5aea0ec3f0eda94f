"""Three rolloutd on one PostgreSQL database (docs/cluster.md, "Leases and
takeover"): a deployment is driven by the daemon whose engine took it in (the
one it was created through), `rolloutd cluster status` says so; kill -9 of
that daemon in the middle of the deployment: another one takes it over
within lease_ttl and a round, and it ends Succeeded with every lifecycle hook
run once. The real rollout-agent reaches the daemons through a switchable
forwarder (cluster_helpers.Switch) pointed at whichever daemon drives. Each
cluster-wide job is held by one daemon. Skipped when the PostgreSQL server
binaries are absent."""

import os
import time

import harness
from agent_helpers import Agent, wait_for
from cluster_helpers import Cluster, Switch, kill9, until
from engine_helpers import Fleet
from pg_helpers import db_name, pg, pg_restart  # noqa: F401
from test_agent_rolloutd import lines, revision, upload_bundle

EVENTS = ["ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]


def test_takeover_after_kill9_runs_each_hook_once(daemon_factory, pg, tmp_path, request):
    c = Cluster(daemon_factory, pg, tmp_path, db_name(request), n=3, lease_ttl="2s")
    a, b, _ = c.daemons
    www, events, started = str(tmp_path / "www"), str(tmp_path / "events.log"), str(tmp_path / "started")
    rec = 'echo "$LIFECYCLE_EVENT v1 $DEPLOYMENT_ID" >> %s' % events
    hooks = {e: rec for e in EVENTS}
    # BeforeInstall holds the deployment long enough for the kill to land in its middle
    hooks["BeforeInstall"] = "touch %s; sleep 3; %s" % (started, rec)
    f = Fleet(b, n=1, start_agents=False, config="CodeDeployDefault.OneAtATime")
    sw = Switch(("127.0.0.1", a.port))
    name = f.names[0]
    agent = Agent(tmp_path, sw.url, "arn:aws:iam::000000000000:user/%s" % name, f.keys[name]["AccessKeyId"],
                  f.keys[name]["SecretAccessKey"], os.path.join(a.data_dir, "daemon.crt"), name="agent",
                  heartbeat="2s").start()
    try:
        path = revision(tmp_path, "v1", www, events, hooks=hooks)
        rev = upload_bundle(a, a.admin, path)
        assert rev is not None
        from engine_helpers import Signed
        dep = Signed(a.url, a.admin, "codedeploy", timeout=30).call(
            "CodeDeploy_20141006.CreateDeployment",
            {"applicationName": f.app, "deploymentGroupName": f.group, "revision": rev})["deploymentId"]
        # driven by A, the daemon it was created through
        c.wait_driver(dep, a, timeout=10)
        st = c.status(via=b)
        ids = {d["id"]: d for d in st["daemons"]}
        assert len([d for d in st["daemons"] if d["state"] == "alive"]) == 3, st
        row = ([x for x in st["deployments"] if x["deployment_id"] == dep] or [st])[0]
        assert row.get("daemon_id") == c.daemon_id(a) and ids[row["daemon_id"]]["url"] == a.url, (st, c.psql("SELECT * FROM deployments"), a.log_tail(20))
        out = b.run("cluster", "status").stdout
        assert dep in out and c.daemon_id(a) in out and "DAEMONS" in out, out

        wait_for(lambda: os.path.exists(started), timeout=30)
        a_id = c.daemon_id(a)
        t0 = time.time()
        kill9(a)
        # another daemon takes it over within lease_ttl and a round
        new = until(lambda: (c.driver(dep) != a_id and c.driver(dep)), timeout=15)
        took = time.time() - t0
        assert took < 2 + 2 + 2, took  # ttl, a heartbeat round (ttl/3) and slack
        taker = [d for d in c.daemons[1:] if c.daemon_id(d) == new][0]
        sw.point(taker)
        cd = taker.boto3_client(taker.admin)
        info = until(lambda: (lambda i: i if i["status"] in ("Succeeded", "Failed", "Stopped") else None)(
            cd.get_deployment(deploymentId=dep)["deploymentInfo"]), timeout=90, step=0.5)
        assert info["status"] == "Succeeded", (info, taker.log_tail(40), agent.log()[-3000:])
        # (no ApplicationStop: nothing was deployed there before)
        assert lines(events) == ["%s v1 %s" % (e, dep) for e in EVENTS[1:]]
        rows = c.psql("SELECT command_name, COUNT(*) FROM host_commands WHERE deployment_id = '%s'"
                      " GROUP BY command_name" % dep)
        assert len(rows) == 7 and all(r[1] == "1" for r in rows), rows
        gen = c.psql("SELECT generation FROM deployment_leases WHERE deployment_id = '%s'" % dep)
        assert gen == [["2"]], gen
        assert "taken over" in taker.log()
        assert c.psql("SELECT state FROM cluster_daemons WHERE id = '%s'" % a_id) == [["expired"]]
        # the takeover counter
        _, body = harness.http_get(taker.url + "/metrics")
        assert b"rolloutd_cluster_takeovers_total 1" in body, body[-2000:]
    finally:
        agent.stop()
        sw.stop()


def test_jobs_held_once_status_and_clean_leave(daemon_factory, pg, tmp_path, request):
    c = Cluster(daemon_factory, pg, tmp_path, db_name(request), n=3, lease_ttl="2s",
                retention={"deployments": "1h", "interval": "1s"})
    st = c.status()
    names = {j["name"]: j["daemon_id"] for j in st["jobs"]}
    for job in ("retention", "autoscale", "autoupdate", "triggers"):
        assert job in names, st
    alive = {d["id"] for d in st["daemons"] if d["state"] == "alive"}
    assert len(alive) == 3 and set(names.values()) <= alive, st
    # each job runs on one daemon: its leader gauge is 1 there and 0 elsewhere
    holder = names["retention"]
    for d in c.daemons:
        _, body = harness.http_get(d.url + "/metrics")
        mine = b'rolloutd_cluster_job_leader{job="retention"} 1' in body
        assert mine == (c.daemon_id(d) == holder), (d.url, holder, body[-1500:])
    # a daemon that stops leaves at once: stopped, its jobs given back and taken by another
    leaver = [d for d in c.daemons if c.daemon_id(d) == holder][0]
    lid = holder
    leaver.stop()
    assert c.psql("SELECT state FROM cluster_daemons WHERE id = '%s'" % lid) == [["stopped"]]
    until(lambda: (lambda r: r and r[0][0] != lid)(
        c.psql("SELECT daemon_id FROM cluster_leases WHERE name = 'retention'")), timeout=10)


def test_cluster_status_on_sqlite_is_a_clear_error(tmp_path):
    d = harness.Daemon(tmp_path, name="lite")
    d.write_config()
    r = d.run("cluster", "status", check=False)
    assert r.returncode == 1 and "cluster status needs store: postgresql://" in r.stderr, r.stderr
    r = d.run("cluster", "frobnicate", check=False)
    assert r.returncode == 2 and "usage: cluster status" in r.stderr, r.stderr


def test_postgresql_restart_while_a_deployment_waits(daemon_factory, pg, tmp_path, request):
    c = Cluster(daemon_factory, pg, tmp_path, db_name(request), n=1, lease_ttl="2s")
    (a,) = c.daemons
    www, events, started = str(tmp_path / "www"), str(tmp_path / "events.log"), str(tmp_path / "started")
    rec = 'echo "$LIFECYCLE_EVENT v1 $DEPLOYMENT_ID" >> %s' % events
    hooks = {e: rec for e in EVENTS}
    hooks["BeforeInstall"] = "touch %s; sleep 4; %s" % (started, rec)
    f = Fleet(a, n=1, start_agents=False, config="CodeDeployDefault.OneAtATime")
    name = f.names[0]
    agent = Agent(tmp_path, a.url, "arn:aws:iam::000000000000:user/%s" % name, f.keys[name]["AccessKeyId"],
                  f.keys[name]["SecretAccessKey"], os.path.join(a.data_dir, "daemon.crt"), name="agent",
                  heartbeat="2s").start()
    try:
        rev = upload_bundle(a, a.admin, revision(tmp_path, "v1", www, events, hooks=hooks))
        dep = f.admin.call("CodeDeploy_20141006.CreateDeployment",
                           {"applicationName": f.app, "deploymentGroupName": f.group, "revision": rev})["deploymentId"]
        wait_for(lambda: os.path.exists(started), timeout=30)
        pg_restart(pg)
        cd = a.boto3_client(a.admin)
        info = until(lambda: (lambda i: i if i["status"] in ("Succeeded", "Failed", "Stopped") else None)(
            cd.get_deployment(deploymentId=dep)["deploymentInfo"]), timeout=60, step=0.5)
        assert info["status"] == "Succeeded", (info, a.log_tail(40), agent.log()[-3000:])
        assert lines(events) == ["%s v1 %s" % (e, dep) for e in EVENTS[1:]]
        # and the daemon writes again without a restart: another deployment goes through
        dep2 = f.admin.call("CodeDeploy_20141006.CreateDeployment",
                            {"applicationName": f.app, "deploymentGroupName": f.group, "revision": rev})[
            "deploymentId"]
        info = until(lambda: (lambda i: i if i["status"] in ("Succeeded", "Failed", "Stopped") else None)(
            cd.get_deployment(deploymentId=dep2)["deploymentInfo"]), timeout=60, step=0.5)
        assert info["status"] == "Succeeded", (info, a.log_tail(40))
    finally:
        agent.stop()
