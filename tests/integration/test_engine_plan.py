"""Rolloutd_v1.PlanDeployment: the batches it answers are the batches a real
deployment then runs (scripted agents hold each batch at ApplicationStop
until the test has seen exactly that batch in flight), failed hosts first,
up-to-date hosts skipped, and the errors and would-fail answers it gives."""

import threading
import time

import pytest

from engine_helpers import CallError, Fleet, Signed, s3_revision

SETTINGS = {"long_poll": "2s"}


@pytest.fixture
def d(daemon_factory):
    return daemon_factory(plugins={"onprem": {}}, settings=SETTINGS)


def plan(f, **kw):
    body = {"applicationName": f.app, "deploymentGroupName": f.group}
    body.update(kw)
    return f.admin.call("Rolloutd_v1.PlanDeployment", body)


def gate_all(f):
    """Every agent stops at ApplicationStop until its gate opens."""
    gates = {}
    for n, a in f.agents.items():
        gates[n] = threading.Event()
        a.at_gate.clear()
        a.gates = {"ApplicationStop": (gates[n], "complete")}
    return gates


def started(f, dep):
    return {n for n, a in f.agents.items() if (dep, "ApplicationStop") in a.at_gate}


def wait_started(f, dep, count, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        s = started(f, dep)
        if len(s) >= count:
            return s
        time.sleep(0.02)
    raise AssertionError("only %s started of %d:\n%s" % (sorted(started(f, dep)), count, f.d.log_tail(30)))


def run_and_check_batches(f, dep, batches):
    """Releases the deployment batch by batch, asserting that the hosts in
    flight at each step are exactly the planned batch."""
    gates = gate_all(f)
    seen = set()
    for b in batches:
        now = wait_started(f, dep, len(seen) + len(b))
        assert now - seen == set(b), (batches, sorted(now - seen))
        seen = now
        for n in b:
            gates[n].set()
    for g in gates.values():
        g.set()


def test_plan_batches_are_the_deployment_batches(d):
    f = Fleet(d, config="CodeDeployDefault.HalfAtATime", n=4,
              behaviours={"host-2": lambda dep, ev: "fail" if ev == "ApplicationStart" else "ok"})
    f.add_instance("other-0", tag=False)
    try:
        dep1 = f.deploy(s3_revision("v1"))
        info = f.wait(dep1)
        assert info["status"] == "Succeeded" and info["deploymentOverview"]["Failed"] == 1, info
        f.agents["host-2"].behaviour = lambda dep, ev: "ok"

        p = plan(f)
        assert p["computePlatform"] == "Server"
        assert p["deploymentConfigName"] == "CodeDeployDefault.HalfAtATime"
        assert p["minimumHealthyHosts"] == {"type": "FLEET_PERCENT", "value": 50}
        assert p["minimumHealthy"] == 2 and p["batchSize"] == 2
        # the host that failed last time goes first, then by name
        assert p["failedFirst"] == ["host-2"]
        assert p["targets"] == ["host-2", "host-0", "host-1", "host-3"]
        assert p["batches"] == [["host-2", "host-0"], ["host-1", "host-3"]]
        assert p["excluded"] == [{"instance": "other-0", "reason": "its tags match none of the group's tag filters"}]
        assert "errorInformation" not in p

        # the real deployment runs exactly these batches, in this order
        dep2 = f.deploy(s3_revision("v2"))
        run_and_check_batches(f, dep2, p["batches"])
        info = f.wait(dep2)
        assert info["status"] == "Succeeded", info
        assert info["deploymentOverview"]["Succeeded"] == 4, info

        # OneAtATime: one host per batch, the deployment follows it host by host
        p = plan(f, deploymentConfigName="CodeDeployDefault.OneAtATime")
        assert p["batches"] == [["host-0"], ["host-1"], ["host-2"], ["host-3"]]
        assert p["minimumHealthy"] == 3 and p["batchSize"] == 1 and p["failedFirst"] == []
        dep3 = f.deploy(s3_revision("v3"), deploymentConfigName="CodeDeployDefault.OneAtATime")
        run_and_check_batches(f, dep3, p["batches"])
        assert f.wait(dep3)["status"] == "Succeeded"
    finally:
        f.stop()


def test_plan_skips_up_to_date_instances_like_the_deployment(d):
    # host-2 fails v1, so only it is outdated afterwards (a host new to the
    # group would get v1 from the engine's auto-update at once)
    f = Fleet(d, config="CodeDeployDefault.AllAtOnce", n=3,
              behaviours={"host-2": lambda dep, ev: "fail" if ev == "Install" else "ok"})
    try:
        rev = f.revision("v1")
        assert f.wait(f.deploy(rev))["status"] == "Succeeded"
        f.agents["host-2"].behaviour = lambda dep, ev: "ok"
        p = plan(f, updateOutdatedInstancesOnly=True, revision=rev)
        assert p["targets"] == ["host-2"] and p["batches"] == [["host-2"]] and p["failedFirst"] == ["host-2"], p
        skipped = {x["instance"]: x["reason"] for x in p["excluded"]}
        assert set(skipped) == {"host-0", "host-1"}, p
        assert all("already runs the revision" in r for r in skipped.values()), p
        # without a revision the group's current one (targetRevision) is compared
        assert plan(f, updateOutdatedInstancesOnly=True)["targets"] == ["host-2"]

        dep = f.deploy(rev, updateOutdatedInstancesOnly=True)
        info = f.wait(dep)
        assert info["status"] == "Succeeded", info
        assert f.target(dep, "host-2")["status"] == "Succeeded"
        assert f.target(dep, "host-0")["status"] == "Skipped"
        assert f.target(dep, "host-1")["status"] == "Skipped"
    finally:
        f.stop()


def test_plan_errors_and_would_fail_answers(d):
    f = Fleet(d, n=2, start_agents=False)
    cd = f.cd
    # a deployment that would fail before its first batch says why, as the deployment would
    cd.create_deployment_group(applicationName=f.app, deploymentGroupName="empty",
                               serviceRoleArn="arn:aws:iam::000000000000:role/cd",
                               onPremisesInstanceTagFilters=[{"Key": "env", "Value": "none",
                                                              "Type": "KEY_AND_VALUE"}])
    p = plan(f, deploymentGroupName="empty")
    assert p["errorInformation"]["code"] == "NO_INSTANCES" and p["batches"] == [], p
    cd.create_deployment_config(deploymentConfigName="AllHealthy",
                                minimumHealthyHosts={"type": "HOST_COUNT", "value": 2})
    p = plan(f, deploymentConfigName="AllHealthy")
    assert p["errorInformation"]["code"] == "HEALTH_CONSTRAINTS_INVALID", p
    assert p["targets"] == ["host-0", "host-1"] and p["batches"] == [], p

    def refused(body, exc, keys=None):
        c = Signed(d.url, keys, "codedeploy") if keys else f.admin
        with pytest.raises(CallError) as e:
            c.call("Rolloutd_v1.PlanDeployment", body)
        assert e.value.type == exc, e.value.body
        return e.value.body

    refused({"applicationName": f.app}, "InvalidInputException")
    refused({"applicationName": f.app, "deploymentGroupName": "nope"}, "DeploymentGroupDoesNotExistException")
    refused({"applicationName": "nope", "deploymentGroupName": f.group}, "ApplicationDoesNotExistException")
    body = refused({"applicationName": f.app, "deploymentGroupName": f.group,
                    "deploymentConfigName": "CodeDeployDefault.LambdaAllAtOnce"},
                   "InvalidDeploymentConfigNameException")
    assert "not a server" in body
    refused({"applicationName": f.app, "deploymentGroupName": f.group,
             "targetInstances": {"tagFilters": [{"Key": "env", "Value": "test", "Type": "KEY_AND_VALUE"}]}},
            "InvalidTargetInstancesException")
    refused({"applicationName": f.app, "deploymentGroupName": f.group, "updateOutdatedInstancesOnly": "yes"},
            "SerializationException")
    # readonly keys may plan (it deploys nothing); agent keys may not
    ro = f.admin.call("Rolloutd_v1.CreateAccessKey", {"Name": "ro", "Policy": "readonly"})
    assert Signed(d.url, ro, "codedeploy").call("Rolloutd_v1.PlanDeployment", {
        "applicationName": f.app, "deploymentGroupName": f.group})["targets"] == ["host-0", "host-1"]
    refused({"applicationName": f.app, "deploymentGroupName": f.group}, "AccessDeniedException", keys=f.keys["host-0"])
    # nothing was deployed by any of this
    assert cd.list_deployments(applicationName=f.app, deploymentGroupName=f.group)["deployments"] == []
