"""The SDK: `make install` into a scratch DESTDIR, then the SDK examples
built out of tree against that installed SDK using nothing but
`pkg-config rollout-plugin`, loaded by rolloutd; a plugin unit test built
against the installed test host (rollout/testing.h, `pkg-config
rollout-plugin-testing`); and a third-party source plugin's own revisionType
deployed end to end with a real rollout-agent."""

import glob
import hashlib
import os
import shutil
import subprocess

import pytest

import harness
from agent_helpers import make_bundle, script
from engine_helpers import CallError


@pytest.fixture(scope="module")
def installed(tmp_path_factory, builddir):
    """DESTDIR with the whole project installed; returns (destdir, prefix).
    scripts/test installs before pytest runs and passes ROLLOUT_DESTDIR;
    otherwise this installs into a scratch directory itself."""
    dest = os.environ.get("ROLLOUT_DESTDIR")
    if not dest:
        dest = str(tmp_path_factory.mktemp("destdir"))
        p = subprocess.run(["make", "-C", builddir, "install", "DESTDIR=" + dest],
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    with open(os.path.join(builddir, "config.status")) as f:
        text = f.read()
    prefix = "/usr/local"
    for line in text.splitlines():
        if line.startswith("S[\"prefix\"]="):
            prefix = line.split("=", 1)[1].strip('"')
    return dest, prefix


def pkg_env(dest, prefix):
    env = dict(os.environ)
    dirs = glob.glob(os.path.join(dest + prefix, "lib*", "pkgconfig")) + \
        glob.glob(os.path.join(dest + prefix, "lib", "*", "pkgconfig"))
    assert dirs, "no pkgconfig directory installed under %s" % (dest + prefix)
    env["PKG_CONFIG_PATH"] = ":".join(dirs)
    env["PKG_CONFIG_SYSROOT_DIR"] = dest
    env.pop("PKG_CONFIG_LIBDIR", None)
    return env


@pytest.fixture(scope="module")
def examples(installed, tmp_path_factory):
    """The example sources and their Makefile copied alone (no source tree
    headers) and built with `make -f Makefile.example`; returns (dir, make's
    output, environment)."""
    dest, prefix = installed
    env = pkg_env(dest, prefix)
    work = tmp_path_factory.mktemp("examples")
    src = os.path.join(harness.srcdir(), "sdk", "examples")
    for f in glob.glob(os.path.join(src, "*.c")) + [os.path.join(src, "Makefile.example")]:
        shutil.copy(f, work)
    p = subprocess.run(["make", "-f", "Makefile.example", "CFLAGS=-O2 -Wall -Wextra -Werror -Wno-unused-parameter"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return work, p.stdout, env


def test_make_install_layout(installed, builddir):
    dest, prefix = installed
    root = dest + prefix
    assert os.access(os.path.join(root, "sbin", "rolloutd"), os.X_OK)
    assert os.access(os.path.join(root, "bin", "rollout-agent"), os.X_OK)
    assert os.access(os.path.join(root, "bin", "rolloutctl"), os.X_OK)
    assert os.path.isfile(os.path.join(root, "include", "rollout", "plugin.h"))
    assert os.path.isfile(os.path.join(root, "include", "rollout", "testing.h"))
    assert glob.glob(os.path.join(root, "lib*", "**", "librollout-testing.a"), recursive=True)
    pcs = glob.glob(os.path.join(root, "lib*", "**", "rollout-plugin.pc"), recursive=True)
    assert len(pcs) == 1, pcs
    text = open(pcs[0]).read()
    assert "plugindir=${libdir}/rolloutd/plugins" in text, text
    assert "rollout/testing.h" in text and "rollout-plugin-testing" in text, text
    tpcs = glob.glob(os.path.join(root, "lib*", "**", "rollout-plugin-testing.pc"), recursive=True)
    assert len(tpcs) == 1, tpcs
    assert "-lrollout-testing" in open(tpcs[0]).read()
    # every in-tree plugin that was built is installed into the plugin dir
    built = sorted(os.path.basename(p) for p in glob.glob(os.path.join(builddir, "plugins", "*", ".libs", "*.so")))
    inst = sorted(os.path.basename(p) for p in glob.glob(os.path.join(root, "lib*", "rolloutd", "plugins", "*.so")))
    assert built == inst, (built, inst)
    # and each exports exactly the entry symbol
    for so in glob.glob(os.path.join(root, "lib*", "rolloutd", "plugins", "*.so")):
        syms = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True).stdout.split()
        assert [s for s in syms if s.startswith("rollout")] == ["rollout_plugin_v1"], (so, syms)


def test_examples_build_out_of_tree_with_pkg_config_only(installed, examples, tmp_path):
    dest, prefix = installed
    work, out, env = examples
    cflags = subprocess.run(["pkg-config", "--cflags", "rollout-plugin"], env=env, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert cflags == "-I%s%s/include" % (dest, prefix), cflags
    plugindir = subprocess.run(["pkg-config", "--variable=plugindir", "rollout-plugin"], env=env,
                               capture_output=True, text=True, check=True).stdout.strip()
    assert plugindir.endswith("/rolloutd/plugins"), plugindir
    assert "-I%s%s/include" % (dest, prefix) in out, out
    names = ["example-platform", "example-source", "example-health", "example-traffic", "example-shift"]
    for n in names:
        so = work / (n + ".so")
        assert so.exists(), out
        syms = subprocess.run(["nm", "-D", "--defined-only", str(so)], capture_output=True, text=True).stdout
        assert "rollout_plugin_v1" in syms

    # The daemon loads the out-of-tree builds.
    d = harness.Daemon(tmp_path, plugins={
        "example-platform": {"targets": "a"},
        "example-source": {"root": str(tmp_path)},
        "example-health": None,
        "example-traffic": None,
        "example-shift": {"dir": str(tmp_path)},
    }, settings={"plugin_dir": str(work)})
    r = d.run("--check-config", check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "%s: configuration OK" % d.config_path


def test_plugin_unit_test_against_installed_testing_h(installed, examples):
    """A plugin author's unit test (the example's) builds against the
    installed rollout/testing.h and test host alone, and passes."""
    dest, prefix = installed
    work, _, env = examples
    p = subprocess.run(["make", "-f", "Makefile.example", "check",
                        "CFLAGS=-O2 -Wall -Wextra -Werror -Wno-unused-parameter"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "rollout-testing" in p.stdout and "%s%s/include" % (dest, prefix) in p.stdout, p.stdout
    assert "example-health: all tests passed" in p.stdout, p.stdout


def test_third_party_revision_type_end_to_end(installed, examples, daemon_factory, tmp_path):
    """The example source plugin, built out of tree, declares its own
    revisionType (ExampleDir). With it loaded, rolloutd accepts the type,
    caches its bundle and a real rollout-agent deploys it; a type no loaded
    plugin declares is refused naming the loaded ones. No core change knows
    the type."""
    from test_agent_rolloutd import RealFleet, lines
    work, _, _ = examples
    pdir = tmp_path / "plugins"
    pdir.mkdir()
    os.symlink(harness.built_plugins()["onprem"], str(pdir / "onprem.so"))
    os.symlink(str(work / "example-source.so"), str(pdir / "example-source.so"))
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    www, events = str(tmp_path / "www"), str(tmp_path / "events.log")
    rec = 'echo "$LIFECYCLE_EVENT $DEPLOYMENT_ID" >> %s' % events
    make_bundle(str(shelf / "app-1.tgz"), {
        "appspec.yml": "version: 0.0\nos: linux\nfiles:\n  - source: /web\n    destination: %s\nhooks:\n"
                       "  AfterInstall:\n    - location: scripts/after.sh\n" % www,
        "web/index.html": "hello from the shelf\n",
        "scripts/after.sh": script(rec)}, prefix="app-1/")
    sha = hashlib.sha256(open(str(shelf / "app-1.tgz"), "rb").read()).hexdigest()

    d = daemon_factory(plugins={"onprem": {}, "example-source": {"root": str(shelf)}},
                       settings={"plugin_dir": str(pdir), "long_poll": "5s"})
    f = RealFleet(d, tmp_path, n=1)
    try:
        cd = f.f.admin

        def deploy(rev):
            return cd.call("CodeDeploy_20141006.CreateDeployment", {
                "applicationName": f.f.app, "deploymentGroupName": f.f.group, "revision": rev})["deploymentId"]

        rev = {"revisionType": "ExampleDir", "exampleDirLocation": {"path": "app-1.tgz", "sha256": sha}}
        dep = deploy(rev)
        info = f.wait(dep)
        assert info["status"] == "Succeeded", (info, f.agents[f.f.names[0]].log()[-3000:])
        # (boto3 drops members its model does not know: read the raw answer)
        raw = cd.call("CodeDeploy_20141006.GetDeployment", {"deploymentId": dep})["deploymentInfo"]
        assert raw["revision"] == rev, raw
        with open(os.path.join(www, "index.html")) as fh:
            assert fh.read() == "hello from the shelf\n"
        assert lines(events) == ["AfterInstall %s" % dep]
        # registered like any revision, and listed back as given
        cd.call("CodeDeploy_20141006.RegisterApplicationRevision", {"applicationName": f.f.app, "revision": rev})
        got = cd.call("CodeDeploy_20141006.GetApplicationRevision", {"applicationName": f.f.app, "revision": rev})
        assert got["revision"] == rev, got

        # the plugin judges its own locations: refused at the API, before any deployment
        with pytest.raises(CallError) as e:
            deploy({"revisionType": "ExampleDir", "exampleDirLocation": {"path": "../etc/passwd"}})
        assert e.value.type == "InvalidRevisionException" and "must not contain '..'" in e.value.body, e.value.body
        # a type nobody declares: refused, naming what is served
        with pytest.raises(CallError) as e:
            deploy({"revisionType": "Floppy", "floppyLocation": {"drive": "A:"}})
        assert e.value.type == "InvalidRevisionException", e.value.body
        assert "revisionType 'Floppy' is not served by this rolloutd" in e.value.body, e.value.body
        assert "ExampleDir (example-source)" in e.value.body, e.value.body
    finally:
        f.stop()


def test_third_party_shift_platform_end_to_end(installed, examples, daemon_factory, tmp_path):
    """The example platform that shifts traffic itself (ABI 1.1), built out
    of tree, runs a Lambda deployment: the AppSpec's route moves 50 %, then
    100 % to the target version, its BeforeAllowTraffic hook is dropped into
    the spool with the execution id rolloutd generated, and the deployment
    goes on once PutLifecycleEventHookExecutionStatus answers it."""
    import json
    import time
    from api_helpers import call
    work, _, _ = examples
    pdir = tmp_path / "plugins"
    pdir.mkdir()
    os.symlink(str(work / "example-shift.so"), str(pdir / "example-shift.so"))
    routes = tmp_path / "routes"
    routes.mkdir()
    (routes / "web.route").write_text('{"version": "1"}')
    d = daemon_factory(plugins={"example-shift": {"dir": str(routes)}}, settings={"plugin_dir": str(pdir)})
    cd = d.boto3_client(d.admin)
    cd.create_application(applicationName="app", computePlatform="Lambda")
    cd.create_deployment_group(applicationName="app", deploymentGroupName="g", serviceRoleArn="arn:aws:iam::1:role/r",
                               deploymentStyle={"deploymentType": "BLUE_GREEN",
                                                "deploymentOption": "WITH_TRAFFIC_CONTROL"})
    r = call(d, d.admin, "CreateDeploymentConfig", {
        "deploymentConfigName": "half", "computePlatform": "Lambda",
        "trafficRoutingConfig": {"type": "TimeBasedLinear",
                                 "timeBasedLinear": {"linearPercentage": 50, "linearIntervalInSeconds": 1}}})
    assert r.status == 200, r.body
    spec = ("version: 0.0\nResources:\n  - web:\n      Type: Example::Route\n"
            "      Properties: {Name: web, CurrentVersion: \"1\", TargetVersion: \"2\"}\n"
            "Hooks:\n  - BeforeAllowTraffic: check-web\n")
    dep = cd.create_deployment(applicationName="app", deploymentGroupName="g", deploymentConfigName="half",
                               revision={"revisionType": "String", "string": {"content": spec}})["deploymentId"]
    end = time.monotonic() + 30
    while time.monotonic() < end and not list((routes / "hooks").glob("*.json")):
        time.sleep(0.05)
    hooks = list((routes / "hooks").glob("*.json"))
    assert len(hooks) == 1, d.log_tail()
    inv = json.loads(hooks[0].read_text())
    assert inv["DeploymentId"] == dep and inv["Function"] == "check-web" and inv["Event"] == "BeforeAllowTraffic"
    assert json.loads((routes / "web.route").read_text()) == {"version": "1"}  # nothing moved before the hook
    cd.put_lifecycle_event_hook_execution_status(deploymentId=dep, status="Succeeded",
                                                 lifecycleEventHookExecutionId=inv["LifecycleEventHookExecutionId"])
    while time.monotonic() < end and cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"] == "InProgress":
        time.sleep(0.05)
    assert cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"] == "Succeeded", d.log_tail()
    assert json.loads((routes / "web.route").read_text()) == {"version": "2", "weights": {}}
    log = d.log()
    assert log.index("route web sends 50% to version 2") < log.index("route web sends 100% to version 2")
    t = cd.get_deployment_target(deploymentId=dep, targetId="web")["deploymentTarget"]
    assert t["deploymentTargetType"] == "LambdaTarget"
    assert t["lambdaTarget"]["lambdaFunctionInfo"]["targetVersionWeight"] == 1.0
