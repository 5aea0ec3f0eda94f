"""Pre-flight through the real daemon: a deployment of a bad revision fails
before any lifecycle event with errorInformation INVALID_REVISION /
REVISION_MISSING / MISSING_GITHUB_TOKEN and a message a user can act on.
Uses raw signed API calls, since AWS SDKs refuse the rolloutd revision-type
extensions client-side."""

import json
import time
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import harness
from sources_helpers import GOOD_APPSPEC, app_files, make_zip, route_server, sha256  # noqa: F401


def api(d, op, body, keys=None):
    keys = keys or d.admin
    data = json.dumps(body).encode()
    req = AWSRequest(method="POST", url=d.url + "/", data=data, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "CodeDeploy_20141006." + op})
    SigV4Auth(Credentials(keys["AccessKeyId"], keys["SecretAccessKey"]), "codedeploy", "us-east-1").add_auth(req)
    p = req.prepare()
    r = urllib.request.Request(p.url, data=data, method="POST", headers=dict(p.headers))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def cache_running(d):
    req = AWSRequest(method="GET", url=d.url + "/bundles/" + "0" * 64)
    SigV4Auth(Credentials(d.admin["AccessKeyId"], d.admin["SecretAccessKey"]), "codedeploy-commands",
              "us-east-1").add_auth(req)
    p = req.prepare()
    try:
        urllib.request.urlopen(urllib.request.Request(p.url, headers=dict(p.headers)), timeout=10).read()
    except urllib.error.HTTPError as e:
        return b"no such resource" not in e.read()
    return True


@pytest.fixture
def deployer(tmp_path, route_server):
    """A daemon with onprem, http and github plugins, an application 'web' and
    a group 'prod' targeting one registered instance."""
    bundles = {}
    srv = route_server(lambda m, p, h: (200, {}, bundles[p]) if p in bundles else
                       (404, {"Content-Type": "application/json"}, b'{"message": "Not Found"}'))
    d = harness.Daemon(tmp_path, plugins={"onprem": None, "http": None,
                                          "github": {"api_url": srv.url}})
    d.admin = d.create_access_key("admin", "admin")
    d.start()
    if not cache_running(d):
        d.stop()
        pytest.skip("this rolloutd does not start the bundle cache (daemon/main.c does not call bundles_start)")
    st, r = api(d, "CreateApplication", {"applicationName": "web"})
    assert st == 200, r
    st, r = api(d, "RegisterOnPremisesInstance", {"instanceName": "web-1",
                                                   "iamUserArn": "arn:aws:iam::000000000000:user/web-1"})
    assert st == 200, r
    api(d, "AddTagsToOnPremisesInstances", {"instanceNames": ["web-1"], "tags": [{"Key": "env", "Value": "prod"}]})
    st, r = api(d, "CreateDeploymentGroup", {
        "applicationName": "web", "deploymentGroupName": "prod",
        "serviceRoleArn": "arn:aws:iam::000000000000:role/deploy",
        "onPremisesInstanceTagFilters": [{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}]})
    assert st == 200, r
    d.bundle_server, d.bundles = srv, bundles
    yield d
    d.stop()


def deploy_and_wait(d, revision):
    st, r = api(d, "CreateDeployment", {"applicationName": "web", "deploymentGroupName": "prod",
                                        "revision": revision})
    msg = r.get("message", "")
    if st == 400 and r.get("__type") == "InvalidRevisionException" and (
            "not %s" % revision["revisionType"] in msg or "'%s' is not one of" % revision["revisionType"] in msg):
        pytest.skip("this rolloutd's API does not accept %s revisions yet (api_model_gen.py, api_revision.c)"
                    % revision["revisionType"])
    assert st == 200, r
    dep = r["deploymentId"]
    end = time.time() + 30
    while time.time() < end:
        st, r = api(d, "GetDeployment", {"deploymentId": dep})
        assert st == 200, r
        info = r["deploymentInfo"]
        if info["status"] in ("Failed", "Succeeded", "Stopped"):
            if "bundle cache is not running" in info.get("errorInformation", {}).get("message", ""):
                pytest.skip("this rolloutd does not start the bundle cache (daemon/main.c)")
            return dep, info
        time.sleep(0.1)
    pytest.fail("deployment %s still %s after 30 s" % (dep, info["status"]))


def no_host_touched(d, dep):
    st, r = api(d, "ListDeploymentTargets", {"deploymentId": dep})
    ids = r.get("targetIds", []) if st == 200 else []
    for t in ids:
        st, r = api(d, "GetDeploymentTarget", {"deploymentId": dep, "targetId": t})
        for ev in r.get("deploymentTarget", {}).get("instanceTarget", {}).get("lifecycleEvents", []):
            assert ev.get("status") in ("Pending", "Skipped", None), ev


def test_missing_hook_script_fails_before_any_host(deployer):
    d = deployer
    spec = GOOD_APPSPEC + "  ValidateService:\n    - location: scripts/validate.sh\n"
    body = make_zip(app_files(appspec=spec))
    d.bundles["/bad.zip"] = body
    dep, info = deploy_and_wait(d, {"revisionType": "HTTP", "httpLocation": {
        "url": d.bundle_server.url + "/bad.zip", "sha256": sha256(body), "bundleType": "zip"}})
    if info["status"] != "Failed" and "errorInformation" not in info:
        pytest.skip("this rolloutd's engine does not run pre-flight yet")
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "INVALID_REVISION"
    assert "scripts/validate.sh" in info["errorInformation"]["message"]
    no_host_touched(d, dep)


def test_invalid_appspec_and_missing_bundle(deployer):
    d = deployer
    body = make_zip(app_files(appspec="version: 0.0\nos: windows\n"))
    d.bundles["/win.zip"] = body
    dep, info = deploy_and_wait(d, {"revisionType": "HTTP", "httpLocation": {
        "url": d.bundle_server.url + "/win.zip", "sha256": sha256(body), "bundleType": "zip"}})
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "INVALID_REVISION"
    assert "os" in info["errorInformation"]["message"]
    dep, info = deploy_and_wait(d, {"revisionType": "Bundle", "bundleLocation": {"sha256": "c" * 64,
                                                                                "bundleType": "zip"}})
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "REVISION_MISSING"
    assert "upload it again" in info["errorInformation"]["message"]


def test_github_without_token(deployer):
    d = deployer
    dep, info = deploy_and_wait(d, {"revisionType": "GitHub", "gitHubLocation": {
        "repository": "acme/private", "commitId": "a" * 40}})
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "MISSING_GITHUB_TOKEN"
    assert "plugins.github.token" in info["errorInformation"]["message"]
