"""Engine: rollback, stop, auto-update, liveness, ordering and the
per-deployment options, with scripted agents."""

import json
import time

import pytest

from engine_helpers import Fleet, db_rows, s3_revision

def stored_revision(d, dep):
    """The deployment's RevisionLocation as stored (GetDeployment shows only
    the members of the CodeDeploy model)."""
    return json.loads(db_rows(d, "SELECT revision FROM deployments WHERE id = ?", (dep,))[0][0])


ROLLBACK_ON_FAILURE = {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}


@pytest.fixture
def d(daemon_factory, monkeypatch):
    monkeypatch.setenv("ROLLOUTD_PICKUP_TIMEOUT_MS", "1500")
    monkeypatch.setenv("ROLLOUTD_HEARTBEAT_TIMEOUT_MS", "1500")
    return daemon_factory(plugins={"onprem": {}}, settings={"long_poll": "1s"})


def fail_on(dep_holder, event):
    """Behaviour failing `event` only in the deployment id stored in dep_holder['bad']."""
    return lambda dep, ev: "fail" if dep == dep_holder.get("bad") and ev == event else "ok"


def test_failure_rolls_back_to_last_good_revision(d):
    bad = {}
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=3, auto_rollback=ROLLBACK_ON_FAILURE,
              behaviours={n: fail_on(bad, "ValidateService") for n in ("host-0", "host-1", "host-2")})
    try:
        good = f.deploy(s3_revision("v1.zip"))
        assert f.wait(good)["status"] == "Succeeded"
        # the agents fail v2's ValidateService everywhere
        f.cd.create_deployment  # noqa: B018
        second = f.deploy(s3_revision("v2.zip"))
        bad["bad"] = second
        info = f.wait(second)
        assert info["status"] == "Failed", info
        rb = info["rollbackInfo"]["rollbackDeploymentId"]
        rinfo = f.wait(rb)
        assert rinfo["status"] == "Succeeded", rinfo
        assert rinfo["creator"] == "codeDeployRollback"
        assert rinfo["rollbackInfo"]["rollbackTriggeringDeploymentId"] == second
        assert stored_revision(d, rb) == f.revisions["v1.zip"]
        # the group's last good deployment is the rollback now
        g = f.cd.get_deployment_group(applicationName=f.app, deploymentGroupName=f.group)["deploymentGroupInfo"]
        assert g["lastSuccessfulDeployment"]["deploymentId"] == rb
    finally:
        f.stop()


def test_no_rollback_without_an_earlier_good_revision(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=2, auto_rollback=ROLLBACK_ON_FAILURE,
              behaviours={"host-0": lambda dep, ev: "fail" if ev == "Install" else "ok",
                          "host-1": lambda dep, ev: "fail" if ev == "Install" else "ok"})
    try:
        dep = f.deploy(s3_revision())
        info = f.wait(dep)
        assert info["status"] == "Failed"
        ri = info["rollbackInfo"]
        assert "rollbackDeploymentId" not in ri
        assert "no earlier successful deployment" in ri["rollbackMessage"]
        assert len(f.cd.list_deployments(applicationName=f.app, deploymentGroupName=f.group)["deployments"]) == 1
    finally:
        f.stop()


def test_failure_without_auto_rollback_leaves_it_failed(d):
    bad = {}
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=1, behaviours={"host-0": fail_on(bad, "AfterInstall")})
    try:
        assert f.wait(f.deploy(s3_revision("v1.zip")))["status"] == "Succeeded"
        bad["bad"] = second = f.deploy(s3_revision("v2.zip"))
        info = f.wait(second)
        assert info["status"] == "Failed" and not info.get("rollbackInfo", {}).get("rollbackDeploymentId")
        # a manual redeploy of the old revision works
        again = f.deploy(s3_revision("v1.zip"))
        assert f.wait(again)["status"] == "Succeeded"
    finally:
        f.stop()


def test_stop_ends_hooks_and_rolls_back_on_request(d):
    hold = {}
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=2,
              behaviours={n: (lambda dep, ev: "hang" if dep == hold.get("dep") and ev == "BeforeInstall" else "ok")
                          for n in ("host-0", "host-1")})
    try:
        assert f.wait(f.deploy(s3_revision("v1.zip")))["status"] == "Succeeded"
        hold["dep"] = dep = f.deploy(s3_revision("v2.zip"))
        end = time.time() + 10
        while time.time() < end and not all(a.hung for a in f.agents.values()):
            time.sleep(0.05)
        assert all(a.hung for a in f.agents.values())
        r = f.cd.stop_deployment(deploymentId=dep, autoRollbackEnabled=True)
        assert r["status"] == "Succeeded", r
        info = f.wait(dep)
        assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "MANUAL_STOP"
        rb = info["rollbackInfo"]["rollbackDeploymentId"]
        assert f.wait(rb)["status"] == "Succeeded"
        # the hanging hooks were told to stop through PostHostCommandUpdate
        end = time.time() + 5
        while time.time() < end and not all(any(x[2] == "stopped" for x in a.done) for a in f.agents.values()):
            time.sleep(0.05)
        assert all(any(x[2] == "stopped" for x in a.done) for a in f.agents.values())
        ev = f.events(dep, "host-0")
        assert ev["BeforeInstall"]["status"] == "Failed" and ev["Install"]["status"] == "Skipped"
        # a second stop is refused
        with pytest.raises(f.cd.exceptions.DeploymentAlreadyCompletedException):
            f.cd.stop_deployment(deploymentId=dep)
    finally:
        f.stop()


def test_stop_without_rollback(d):
    hold = {}
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=1, auto_rollback={
        "enabled": True, "events": ["DEPLOYMENT_STOP_ON_REQUEST"]},
        behaviours={"host-0": lambda dep, ev: "hang" if dep == hold.get("dep") else "ok"})
    try:
        assert f.wait(f.deploy(s3_revision("v1.zip")))["status"] == "Succeeded"
        hold["dep"] = dep = f.deploy(s3_revision("v2.zip"))
        end = time.time() + 10
        while time.time() < end and not f.agents["host-0"].hung:
            time.sleep(0.05)
        f.cd.stop_deployment(deploymentId=dep, autoRollbackEnabled=False)
        info = f.wait(dep)
        assert info["status"] == "Stopped"
        assert not info.get("rollbackInfo", {}).get("rollbackDeploymentId")
    finally:
        f.stop()


def test_failed_instances_go_first(d):
    bad = {}
    f = Fleet(d, n=4, behaviours={"host-3": fail_on(bad, "Install")})
    try:
        bad["bad"] = first = f.deploy(s3_revision("v1.zip"))
        info = f.wait(first)
        # host-3 is last in name order: OneAtATime tolerates the last failure
        assert info["status"] == "Succeeded" and info["deploymentOverview"]["Failed"] == 1
        second = f.deploy(s3_revision("v2.zip"))
        assert f.wait(second)["status"] == "Succeeded"
        rows = db_rows(d, "SELECT target_id FROM host_commands WHERE deployment_id = ? ORDER BY id LIMIT 1",
                       (second,))
        assert rows[0][0] == "host-3", rows
    finally:
        f.stop()


def test_new_instance_gets_last_good_revision(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=2)
    try:
        good = f.deploy(s3_revision("v1.zip"))
        assert f.wait(good)["status"] == "Succeeded"
        f.add_instance("late-1")
        end = time.time() + 15
        auto = None
        while time.time() < end and not auto:
            for dep in f.cd.list_deployments(applicationName=f.app, deploymentGroupName=f.group)["deployments"]:
                info = f.cd.get_deployment(deploymentId=dep)["deploymentInfo"]
                if info["creator"] == "CodeDeployAutoUpdate":
                    auto = info
            time.sleep(0.1)
        assert auto, "no auto-update deployment:\n" + d.log_tail(30)
        auto = f.wait(auto["deploymentId"])
        assert auto["status"] == "Succeeded"
        assert stored_revision(d, auto["deploymentId"]) == f.revisions["v1.zip"]
        assert f.cd.list_deployment_targets(deploymentId=auto["deploymentId"])["targetIds"] == ["late-1"]
        # the old hosts were not redeployed
        assert all(x[0] != auto["deploymentId"] for a in ("host-0", "host-1") for x in f.agents[a].done)
    finally:
        f.stop()


def test_unpicked_command_fails_with_agent_issue(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=1, start_agents=False)
    dep = f.deploy(s3_revision())
    info = f.wait(dep, timeout=20)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "AGENT_ISSUE", info
    ev = f.events(dep, "host-0")["ApplicationStop"]
    assert ev["status"] == "Failed" and "did not pick up" in ev["diagnostics"]["message"]


def test_silent_agent_fails_within_heartbeat_window(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=1,
              behaviours={"host-0": lambda dep, ev: "silent" if ev == "BeforeInstall" else "ok"})
    try:
        dep = f.deploy(s3_revision())
        t0 = time.time()
        info = f.wait(dep, timeout=20)
        assert info["status"] == "Failed" and info["errorInformation"]["code"] == "AGENT_ISSUE", info
        assert time.time() - t0 < 6
        ev = f.events(dep, "host-0")["BeforeInstall"]
        assert "stopped reporting" in ev["diagnostics"]["message"]
    finally:
        f.stop()


def test_ignore_application_stop_failures(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=1,
              behaviours={"host-0": lambda dep, ev: "fail" if ev == "ApplicationStop" else "ok"})
    try:
        plain = f.deploy(s3_revision("v1.zip"))
        assert f.wait(plain)["status"] == "Failed"
        dep = f.deploy(s3_revision("v1.zip"), ignoreApplicationStopFailures=True)
        info = f.wait(dep)
        assert info["status"] == "Succeeded", info
        ev = f.events(dep, "host-0")
        assert ev["ApplicationStop"]["status"] == "Failed" and ev["ValidateService"]["status"] == "Succeeded"
    finally:
        f.stop()


def test_update_outdated_instances_only(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=2)
    try:
        assert f.wait(f.deploy(s3_revision("v1.zip")))["status"] == "Succeeded"
        f.add_instance("new-1")
        # wait out the auto-update so the group is idle
        end = time.time() + 10
        while time.time() < end:
            infos = [f.cd.get_deployment(deploymentId=x)["deploymentInfo"]
                     for x in f.cd.list_deployments(applicationName=f.app, deploymentGroupName=f.group)["deployments"]]
            if all(i["status"] in ("Succeeded", "Failed", "Stopped") for i in infos) and len(infos) >= 2:
                break
            time.sleep(0.1)
        f.cd.deregister_on_premises_instance(instanceName="new-1")
        f.add_instance("new-2", tag=False)
        f.cd.add_tags_to_on_premises_instances(tags=[{"Key": "env", "Value": "test"}], instanceNames=["new-2"])
        time.sleep(0.5)
        dep = f.deploy(s3_revision("v1.zip"), updateOutdatedInstancesOnly=True)
        info = f.wait(dep)
        assert info["status"] == "Succeeded"
        st = {n: f.target(dep, n)["status"] for n in f.cd.list_deployment_targets(deploymentId=dep)["targetIds"]}
        assert st["host-0"] == "Skipped" and st["host-1"] == "Skipped", st
    finally:
        f.stop()


def test_file_exists_behavior_reaches_the_spec(d):
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=1, start_agents=False)
    a = f.agents["host-0"]
    dep = f.deploy(s3_revision(), fileExistsBehavior="RETAIN")
    hc = a.poll(timeout=10)["HostCommand"]
    pem = a.spec(hc["DeploymentExecutionId"])["DeploymentSpecification"]["GenericEnvelope"]["Payload"]
    import subprocess
    import json
    out = subprocess.run(["openssl", "cms", "-verify", "-noverify", "-inform", "PEM", "-binary"],
                         input=pem.replace("PKCS7", "CMS").encode(), capture_output=True, check=True).stdout
    spec = json.loads(out)
    assert spec["DeploymentId"] == dep
    assert spec["AgentActionOverrides"]["AgentOverrides"]["FileExistsBehavior"] == "RETAIN"
    rev = f.revisions["app-v1.zip"]
    if rev["revisionType"] == "Bundle":
        # the daemon's bundle cache serves it: RolloutBundle names it
        assert spec["RolloutBundle"]["Sha256"] == rev["bundleLocation"]["sha256"]
        assert spec["RolloutBundle"]["Url"] == "/bundles/" + rev["bundleLocation"]["sha256"]
    else:
        assert spec["Revision"]["S3Revision"]["Key"] == "app-v1.zip"
    f.stop()
