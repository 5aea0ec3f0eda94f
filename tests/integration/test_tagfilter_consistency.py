"""One tag-filter rule everywhere: for every filter form (KEY_ONLY,
VALUE_ONLY, KEY_AND_VALUE, {Key} alone, {Value} alone, blank values, OR-ed
lists, AND-ed tag sets), ListOnPremisesInstances, `rolloutctl plan` and a
real deployment (rolloutd's engine and onprem plugin, agents speaking the
host-command protocol) select the same registered instances, and the ones
the rule says."""

import json

import pytest

from cli_helpers import Ctl
from engine_helpers import Fleet

# instance -> its tags. "x" is deregistered: never selected.
INSTANCES = {
    "a": [("env", "prod"), ("role", "web")],
    "b": [("env", "staging"), ("role", "web")],
    "c": [("env", "prod"), ("role", "db")],
    "d": [("owner", "prod")],
    "e": [("note", "")],
    "f": [],
    "g": [("Env", "prod")],
}
DEREGISTERED = {"x": [("env", "prod"), ("role", "web")]}

# (what, onPremisesInstanceTagFilters, the instances the rule selects)
FILTERS = [
    ("KEY_ONLY", [{"Key": "env", "Type": "KEY_ONLY"}], "abc"),
    ("VALUE_ONLY", [{"Value": "prod", "Type": "VALUE_ONLY"}], "acdg"),
    ("KEY_AND_VALUE", [{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}], "ac"),
    ("{Key} alone is KEY_ONLY", [{"Key": "role"}], "abc"),
    ("{Value} alone is VALUE_ONLY", [{"Value": "web"}], "ab"),
    ("{Key, Value} is KEY_AND_VALUE", [{"Key": "env", "Value": "prod"}], "ac"),
    ("{Key, Value: ''} is KEY_ONLY", [{"Key": "note", "Value": ""}], "e"),
    ("VALUE_ONLY '' selects empty values", [{"Value": "", "Type": "VALUE_ONLY"}], "e"),
    ("KEY_AND_VALUE without Value is the empty value", [{"Key": "note", "Type": "KEY_AND_VALUE"}], "e"),
    ("filters are OR-ed", [{"Key": "role", "Value": "db"}, {"Value": "staging"}], "bc"),
    ("exact and case-sensitive", [{"Key": "Env"}], "g"),
    ("no wildcards", [{"Key": "env", "Value": "pro*"}], ""),
]

# (what, onPremisesTagSet lists, the instances the rule selects): sets have no
# ListOnPremisesInstances form, so plan and deployment are compared.
TAG_SETS = [
    ("AND of OR-groups", [[{"Key": "env", "Value": "prod"}], [{"Key": "role", "Value": "web"},
                                                             {"Key": "role", "Value": "db"}]], "ac"),
    ("{Key} and {Value} groups", [[{"Key": "role"}], [{"Value": "staging"}]], "b"),
]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, builddir):
    import harness
    d = harness.Daemon(tmp_path_factory.mktemp("tagfilter"), plugins={"onprem": {}}, settings={"long_poll": "2s"})
    d.admin = d.create_access_key("test-admin", "admin")
    d.start()
    f = Fleet(d, n=0, config="CodeDeployDefault.AllAtOnce")
    for name, tags in INSTANCES.items():
        f.add_instance(name, tag=False)
        if tags:
            f.cd.add_tags_to_on_premises_instances(tags=[{"Key": k, "Value": v} for k, v in tags],
                                                   instanceNames=[name])
    for name, tags in DEREGISTERED.items():
        f.cd.register_on_premises_instance(instanceName=name, iamUserArn="arn:aws:iam::000000000000:user/" + name)
        f.cd.add_tags_to_on_premises_instances(tags=[{"Key": k, "Value": v} for k, v in tags], instanceNames=[name])
        f.cd.deregister_on_premises_instance(instanceName=name)
    f.ctl = Ctl(d.url, d.admin)
    yield f
    f.stop()
    d.stop()


def listed(f, filters):
    """ListOnPremisesInstances' registered instances for these tagFilters."""
    names, token = [], None
    while True:
        body = {"registrationStatus": "Registered", "tagFilters": filters}
        if token:
            body["nextToken"] = token
        r = f.admin.call("CodeDeploy_20141006.ListOnPremisesInstances", body)
        names += r["instanceNames"]
        token = r.get("nextToken")
        if not token:
            return set(names)


def select(f, **group):
    """Sets the group's selection, then returns (rolloutctl plan's targets,
    the targets of a real deployment)."""
    # UpdateDeploymentGroup drops the tag set when filters are given, and the
    # filters when a tag set is
    body = {"applicationName": f.app, "currentDeploymentGroupName": f.group}
    body.update(group)
    f.admin.call("CodeDeploy_20141006.UpdateDeploymentGroup", body)
    p = f.ctl("plan", "--app", f.app, "--group", f.group, "-o", "json", expect=None)
    planned = set(json.loads(p.stdout)["targets"]) if p.returncode == 0 else set()
    assert p.returncode == 0 or "no instance" in (p.stdout + p.stderr).lower(), p.stdout + p.stderr
    try:
        dep = f.deploy(f.revision("v1"))
    except Exception as e:  # a selection of no instance may be refused outright
        assert "instance" in str(e).lower(), e
        return planned, set()
    info = f.wait(dep, timeout=60)
    ids = f.admin.call("CodeDeploy_20141006.ListDeploymentTargets", {"deploymentId": dep})["targetIds"]
    assert info["status"] == "Succeeded" or not ids, info
    return planned, set(ids)


@pytest.mark.parametrize("what,filters,want", FILTERS, ids=[w for w, _, _ in FILTERS])
def test_filter_forms_select_the_same_hosts(fleet, what, filters, want):
    want = set(want)
    in_list = listed(fleet, filters)
    planned, deployed = select(fleet, onPremisesInstanceTagFilters=filters)
    assert in_list == want, ("ListOnPremisesInstances", what, in_list)
    assert planned == want, ("rolloutctl plan", what, planned)
    assert deployed == want, ("deployment", what, deployed)


@pytest.mark.parametrize("what,sets,want", TAG_SETS, ids=[w for w, _, _ in TAG_SETS])
def test_tag_sets_select_the_same_hosts(fleet, what, sets, want):
    planned, deployed = select(fleet, onPremisesTagSet={"onPremisesTagSetList": sets})
    assert planned == set(want), ("rolloutctl plan", what, planned)
    assert deployed == set(want), ("deployment", what, deployed)


def test_filters_that_select_nothing_are_refused_alike(fleet):
    """A filter with nothing to compare is refused by ListOnPremisesInstances
    and by the deployment group alike, not saved to select nothing."""
    from engine_helpers import CallError
    for bad in ([{"Value": ""}], [{"Key": "", "Type": "KEY_ONLY"}], [{"Key": "env", "Type": "VALUE_ONLY"}]):
        with pytest.raises(CallError) as e:
            fleet.admin.call("CodeDeploy_20141006.ListOnPremisesInstances", {"tagFilters": bad})
        assert e.value.type == "InvalidTagFilterException", e.value.body
        with pytest.raises(CallError) as e:
            fleet.admin.call("CodeDeploy_20141006.UpdateDeploymentGroup", {
                "applicationName": fleet.app, "currentDeploymentGroupName": fleet.group,
                "onPremisesInstanceTagFilters": bad})
        assert e.value.type == "InvalidTagException", e.value.body
