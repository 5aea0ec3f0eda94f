"""rolloutctl against a real rolloutd: settings and exit codes, the
resource commands (cross-checked with boto3), access keys, register-instance,
plan, deployments and their failure reporting."""

import json
import os
import stat
import subprocess

import pytest
import yaml

import harness
from cli_helpers import Ctl, base_env, cli_daemon, ctl, rolloutctl_path  # noqa: F401


def run_plain(*args, env=None, timeout=30):
    return subprocess.run([rolloutctl_path(), *args], capture_output=True, text=True, timeout=timeout,
                          env=env or base_env())


# ---------------------------------------------------------------- command line, settings, exit codes

COMMANDS = ["deploy", "wait", "logs", "plan", "status", "stop", "rollback", "register-instance", "app", "group",
            "config", "revision", "deployment", "instance", "access-key"]


def test_help_lists_every_command_and_exit_codes(builddir):
    p = run_plain("--help")
    assert p.returncode == 0, p.stderr
    for c in COMMANDS:
        assert "\n  %s " % c in p.stdout, c
    assert "5 --wait timed out" in p.stdout


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_has_help_without_settings(builddir, cmd):
    p = run_plain(cmd, "--help")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Usage: rolloutctl " + cmd), p.stdout
    # "help CMD" says the same
    q = run_plain("help", cmd)
    assert q.returncode == 0 and q.stdout == p.stdout


def test_usage_errors_exit_2(builddir):
    p = run_plain("frobnicate")
    assert p.returncode == 2 and "unknown command 'frobnicate'" in p.stderr
    p = run_plain()
    assert p.returncode == 2
    env = base_env()
    env.update(ROLLOUT_ENDPOINT="http://127.0.0.1:1", AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b")
    p = run_plain("deploy", "--app", "a", env=env)
    assert p.returncode == 2 and "deploy needs --group GROUP" in p.stderr and "Usage:" in p.stderr
    p = run_plain("app", "list", "--bogus", env=env)
    assert p.returncode == 2 and "'--bogus'" in p.stderr
    p = run_plain("app", "list", "-o", "yaml", env=env)
    assert p.returncode == 2 and "json or table" in p.stderr
    p = run_plain("group", "create", "--app", "a", "g", "--tags", "=", env=env)
    assert p.returncode == 2 and "key=value" in p.stderr


def test_missing_endpoint_or_credentials_exit_3(builddir):
    p = run_plain("app", "list")
    assert p.returncode == 3
    assert "ROLLOUT_ENDPOINT" in p.stderr and "--endpoint" in p.stderr
    env = base_env()
    env["ROLLOUT_ENDPOINT"] = "http://127.0.0.1:1"
    p = run_plain("app", "list", env=env)
    assert p.returncode == 3
    assert "AWS_ACCESS_KEY_ID" in p.stderr and "access-key create" in p.stderr


def test_unreachable_endpoint_exit_4(builddir):
    env = base_env()
    env.update(AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b")
    port = harness.free_port()
    p = run_plain("--endpoint", "127.0.0.1:%d" % port, "app", "list", env=env)
    assert p.returncode == 4, p.stderr
    assert "cannot reach rolloutd at http://127.0.0.1:%d" % port in p.stderr
    assert "is rolloutd running?" in p.stderr


def test_wrong_secret_is_refused_with_a_hint(ctl):
    bad = Ctl(ctl.endpoint, {"AccessKeyId": ctl.keys["AccessKeyId"], "SecretAccessKey": "wrong"})
    p = bad("app", "list", expect=1)
    assert "ListApplications" in p.stderr and "hint: check AWS_ACCESS_KEY_ID" in p.stderr


def test_profile_from_shared_credentials_file(ctl, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text("[ops]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                     % (ctl.keys["AccessKeyId"], ctl.keys["SecretAccessKey"]))
    env = base_env()
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(creds), AWS_ACCESS_KEY_ID="AKWRONG", AWS_SECRET_ACCESS_KEY="x")
    p = run_plain("--profile", "ops", "--endpoint", ctl.endpoint, "app", "list", env=env)
    assert p.returncode == 0, p.stderr
    # without --profile the (wrong) environment keys are used and refused
    p = run_plain("--endpoint", ctl.endpoint, "app", "list", env=env)
    assert p.returncode == 1
    p = run_plain("--profile", "nope", "--endpoint", ctl.endpoint, "app", "list", env=env)
    assert p.returncode == 3 and "profile 'nope'" in p.stderr


# ---------------------------------------------------------------- resources, cross-checked with boto3

def test_applications(ctl, cli_daemon):
    cd = cli_daemon.boto3_client(cli_daemon.admin)
    p = ctl("app", "create", "web", "--tags", "team=blue")
    assert p.stdout.startswith("application web created (id ")
    ctl("app", "create", "api")
    assert cd.get_application(applicationName="web")["application"]["computePlatform"] == "Server"
    tags = cd.list_tags_for_resource(ResourceArn="arn:aws:codedeploy:us-east-1:000000000000:application:web")["Tags"]
    assert tags == [{"Key": "team", "Value": "blue"}]
    table = ctl("app", "list").stdout.splitlines()
    assert table[0].split() == ["APPLICATION", "NAME", "COMPUTE", "PLATFORM", "CREATE", "TIME", "APPLICATION", "ID"]
    assert [l.split()[0] for l in table[1:]] == ["api", "web"]
    data = ctl.json("app", "list")
    assert sorted(a["applicationName"] for a in data["applicationsInfo"]) == ["api", "web"]
    ctl("app", "rename", "api", "api2")
    assert cd.get_application(applicationName="api2")["application"]["applicationName"] == "api2"
    p = ctl("app", "create", "web", expect=1)
    assert "ApplicationAlreadyExistsException" in p.stderr
    ctl("app", "delete", "api2")
    p = ctl("app", "get", "api2", expect=1)
    assert "ApplicationDoesNotExistException" in p.stderr


def test_groups_tags_and_tag_sets(ctl, cli_daemon):
    cd = cli_daemon.boto3_client(cli_daemon.admin)
    ctl("app", "create", "web")
    ctl("group", "create", "--app", "web", "prod", "--tags", "env=prod,role,=blue", "--auto-rollback",
        "--config", "CodeDeployDefault.HalfAtATime")
    g = cd.get_deployment_group(applicationName="web", deploymentGroupName="prod")["deploymentGroupInfo"]
    assert g["onPremisesInstanceTagFilters"] == [
        {"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"},
        {"Key": "role", "Type": "KEY_ONLY"},
        {"Value": "blue", "Type": "VALUE_ONLY"}]
    assert g["deploymentConfigName"] == "CodeDeployDefault.HalfAtATime"
    assert g["autoRollbackConfiguration"]["enabled"] is True
    assert sorted(g["autoRollbackConfiguration"]["events"]) == ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]

    ctl("group", "create", "--app", "web", "canary", "--tag-set", "env=prod", "--tag-set", "role=web,role=api")
    g = cd.get_deployment_group(applicationName="web", deploymentGroupName="canary")["deploymentGroupInfo"]
    assert g["onPremisesTagSet"]["onPremisesTagSetList"] == [
        [{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}],
        [{"Key": "role", "Value": "web", "Type": "KEY_AND_VALUE"}, {"Key": "role", "Value": "api", "Type": "KEY_AND_VALUE"}]]
    assert g["deploymentConfigName"] == "CodeDeployDefault.OneAtATime"

    out = ctl("group", "list", "--app", "web").stdout
    assert "(env=prod) AND (role=web,role=api)" in out
    assert "env=prod,role,=blue" in out
    ctl("group", "update", "--app", "web", "prod", "--no-auto-rollback", "--config", "CodeDeployDefault.AllAtOnce")
    g = cd.get_deployment_group(applicationName="web", deploymentGroupName="prod")["deploymentGroupInfo"]
    assert g["autoRollbackConfiguration"]["enabled"] is False
    assert g["deploymentConfigName"] == "CodeDeployDefault.AllAtOnce"
    ctl("group", "delete", "--app", "web", "prod")
    assert [x["deploymentGroupName"] for x in ctl.json("group", "list", "--app", "web")["deploymentGroupsInfo"]] == ["canary"]
    p = ctl("group", "list", expect=2)
    assert "needs --app APP" in p.stderr
    p = ctl("group", "create", "--app", "web", "x", "--tags", "a=b", "--tag-set", "c=d", expect=2)
    assert "either --tags or --tag-set" in p.stderr


def test_group_rename(ctl, cli_daemon):
    cd = cli_daemon.boto3_client(cli_daemon.admin)
    ctl("app", "create", "web")
    ctl("group", "create", "--app", "web", "prod", "--tags", "env=prod")
    p = ctl("group", "update", "--app", "web", "prod", "--new-name", "production")
    assert p.stdout == "deployment group web/production updated\n"
    assert cd.get_deployment_group(applicationName="web", deploymentGroupName="production")["deploymentGroupInfo"]
    ctl("group", "get", "--app", "web", "prod", expect=1)


def test_deployment_configs(ctl, cli_daemon):
    cd = cli_daemon.boto3_client(cli_daemon.admin)
    out = ctl("config", "list").stdout
    assert "CodeDeployDefault.OneAtATime" in out and "min healthy MOST_CONCURRENCY 1" in out
    assert "CodeDeployDefault.LambdaLinear10PercentEvery1Minute" in out and "linear 10% every 1 min" in out
    assert len(ctl.json("config", "list")["deploymentConfigsInfo"]) == 17
    ctl("config", "create", "Two", "--min-healthy", "HOST_COUNT:2")
    ctl("config", "create", "Most", "--min-healthy", "75%")
    assert cd.get_deployment_config(deploymentConfigName="Two")["deploymentConfigInfo"]["minimumHealthyHosts"] == \
        {"type": "HOST_COUNT", "value": 2}
    assert cd.get_deployment_config(deploymentConfigName="Most")["deploymentConfigInfo"]["minimumHealthyHosts"] == \
        {"type": "FLEET_PERCENT", "value": 75}
    p = ctl("config", "create", "Bad", "--min-healthy", "lots", expect=2)
    assert "HOST_COUNT:N" in p.stderr
    p = ctl("config", "delete", "CodeDeployDefault.AllAtOnce", expect=1)
    assert "Exception" in p.stderr
    ctl("config", "delete", "Two")
    ctl("config", "get", "Two", expect=1)


def test_instances(ctl, cli_daemon):
    cd = cli_daemon.boto3_client(cli_daemon.admin)
    ctl("instance", "register", "web-1", "--tags", "env=prod,role=web")
    ctl("instance", "register", "db-1", "--tags", "env=prod,role=db", "--iam-session-arn",
        "arn:aws:sts::000000000000:assumed-role/r/db-1")
    info = cd.get_on_premises_instance(instanceName="web-1")["instanceInfo"]
    assert info["iamUserArn"] == "arn:aws:iam::000000000000:user/rollout/web-1"
    assert sorted((t["Key"], t["Value"]) for t in info["tags"]) == [("env", "prod"), ("role", "web")]
    ctl("instance", "tag", "db-1", "tier=2")
    ctl("instance", "untag", "db-1", "role=db")
    tags = cd.get_on_premises_instance(instanceName="db-1")["instanceInfo"]["tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "prod"), ("tier", "2")]
    out = ctl("instance", "list").stdout.splitlines()
    assert [l.split()[0] for l in out[1:]] == ["db-1", "web-1"]
    names = [i["instanceName"] for i in ctl.json("instance", "list", "--tags", "role=web")["instanceInfos"]]
    assert names == ["web-1"]
    ctl("instance", "deregister", "db-1")
    assert [i["instanceName"] for i in ctl.json("instance", "list", "--status", "Registered")["instanceInfos"]] == ["web-1"]


def test_access_keys(ctl, cli_daemon):
    p = ctl("access-key", "create", "--name", "ci", "--policy", "deployer")
    kid = p.stdout.split("AccessKeyId:")[1].split()[0]
    secret = p.stdout.split("SecretAccessKey:")[1].split()[0]
    assert "cannot show it again" in p.stderr
    deployer = Ctl(ctl.endpoint, {"AccessKeyId": kid, "SecretAccessKey": secret})
    deployer("app", "list")
    keys = ctl.json("access-key", "list")["AccessKeys"]
    assert {k["AccessKeyId"]: k["Policy"] for k in keys}[kid] == "deployer"
    assert "ci" in ctl("access-key", "list").stdout
    p = ctl("access-key", "create", "--name", "a", "--policy", "agent", expect=2)
    assert "--instance NAME" in p.stderr
    ctl("access-key", "delete", kid)
    deployer("app", "list", expect=1)


def test_register_instance_writes_a_ready_agent_config(ctl, cli_daemon, tmp_path):
    cert = os.path.join(cli_daemon.data_dir, "daemon.crt")
    conf = tmp_path / "web-1.yaml"
    p = ctl("register-instance", "web-1", "--tags", "env=prod,role=web", "--agent-config", str(conf),
            "--root-dir", str(tmp_path / "root"), "--log-dir", str(tmp_path / "log"), "--daemon-cert", cert)
    assert "rollout-agent --config %s" % conf in p.stdout
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o600
    c = yaml.safe_load(conf.read_text())
    assert set(c) == {"endpoint", "host_identifier", "access_key_id", "secret_access_key", "region", "root_dir",
                      "log_dir", "daemon_cert"}
    assert c["endpoint"] == cli_daemon.url
    assert c["host_identifier"] == "arn:aws:iam::000000000000:user/rollout/web-1"
    assert c["region"] == "us-east-1"
    assert c["root_dir"] == str(tmp_path / "root") and c["daemon_cert"] == os.path.realpath(cert)
    keys = ctl.json("access-key", "list")["AccessKeys"]
    k = [k for k in keys if k["AccessKeyId"] == c["access_key_id"]]
    assert k and k[0]["Policy"] == "agent" and k[0]["InstanceName"] == "web-1"
    cd = cli_daemon.boto3_client(cli_daemon.admin)
    tags = cd.get_on_premises_instance(instanceName="web-1")["instanceInfo"]["tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "prod"), ("role", "web")]
    # the agent accepts the file as it is: it starts and keeps running (a bad config exits at once)
    agent = subprocess.Popen([harness.binary("rollout-agent"), "--config", str(conf)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            agent.wait(1.5)
    finally:
        agent.terminate()
        out = agent.communicate(timeout=15)[0]
    assert "missing" not in out and "unknown setting" not in out, out
    # a second registration of the same name fails and says so; no file is written
    conf2 = tmp_path / "again.yaml"
    p = ctl("register-instance", "web-1", "--agent-config", str(conf2), expect=1)
    assert "InstanceNameAlreadyRegisteredException" in p.stderr
    assert not conf2.exists()


def test_plan_shows_batches_without_deploying(ctl, cli_daemon):
    ctl("app", "create", "web")
    for name, tags in [("web-1", "env=prod"), ("web-2", "env=prod"), ("web-3", "env=prod"),
                       ("web-4", "env=prod"), ("dev-1", "env=dev")]:
        ctl("instance", "register", name, "--tags", tags)
    ctl("group", "create", "--app", "web", "prod", "--tags", "env=prod", "--config", "CodeDeployDefault.HalfAtATime")
    plan = ctl.json("plan", "--app", "web", "--group", "prod")
    assert plan["targets"] == ["web-1", "web-2", "web-3", "web-4"]
    assert plan["batches"] == [["web-1", "web-2"], ["web-3", "web-4"]]
    assert plan["minimumHealthy"] == 2
    assert plan["excluded"] == [{"instance": "dev-1", "reason": "its tags match none of the group's tag filters"}]
    out = ctl("plan", "--app", "web", "--group", "prod", "--config", "CodeDeployDefault.OneAtATime").stdout
    assert "4 target instances, 1 at a time; at least 3 must stay healthy" in out
    assert "  batch 4: web-4\n" in out and "dev-1: its tags match none" in out
    p = ctl("plan", "--app", "web", "--group", "prod", "--config", "CodeDeployDefault.LambdaAllAtOnce", expect=1)
    assert "not a server" in p.stderr
    cd = cli_daemon.boto3_client(cli_daemon.admin)
    assert cd.list_deployments(applicationName="web", deploymentGroupName="prod")["deployments"] == []


def test_deploy_uploads_a_bundle_of_several_parts_to_rolloutd(ctl, cli_daemon, tmp_path):
    """A bundle larger than one upload part goes up in signed parts of several MiB each
    (rolloutd's verifier checks every one) and becomes the deployment's revision."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    (app / "blob.bin").write_bytes(os.urandom(9 << 20))  # incompressible: the zip stays over 8 MiB
    ctl("app", "create", "web")
    ctl("group", "create", "--app", "web", "prod", "--tags", "env=prod")
    p = ctl("deploy", "--app", "web", "--group", "prod", str(app), timeout=120)
    assert "uploaded Bundle:sha256:" in p.stderr, p.stderr
    dep = p.stdout.split()[1]
    loc = ctl.json("deployment", "get", dep)["deploymentInfo"]["revision"]["bundleLocation"]
    assert loc["bundleType"] == "zip" and loc["size"] > 8 << 20
    assert "uploaded Bundle:sha256:%s" % loc["sha256"][:12] in p.stderr


def test_revisions_and_s3_deployment_lifecycle(ctl, cli_daemon):
    cd = cli_daemon.boto3_client(cli_daemon.admin)
    ctl("app", "create", "web")
    ctl("revision", "register", "--app", "web", "s3://bkt/web-1.zip", "--description", "first")
    ctl("revision", "register", "--app", "web", "github:me/web@0123456789abcdef0123456789abcdef01234567")
    revs = ctl.json("revision", "list", "--app", "web")["revisions"]
    assert len(revs) == 2
    out = ctl("revision", "list", "--app", "web").stdout
    assert "s3://bkt/web-1.zip" in out and "github:me/web@0123456789ab" in out and "first" in out
    p = ctl("revision", "register", "--app", "web", "github:me/web@main", expect=2)
    assert "full commit id" in p.stderr

    # An S3 revision this daemon cannot fetch (no s3 plugin): created, listed, described, and
    # --wait / wait report the failure with the engine's error.
    ctl("instance", "register", "web-1", "--tags", "env=prod")
    ctl("group", "create", "--app", "web", "prod", "--tags", "env=prod")
    p = ctl("deploy", "--app", "web", "--group", "prod", "s3://bkt/web-1.zip", "--description", "v1")
    dep = p.stdout.split()[1]
    assert dep.startswith("d-") and "rolloutctl wait %s" % dep in p.stdout
    info = cd.get_deployment(deploymentId=dep)["deploymentInfo"]
    assert info["revision"] == {"revisionType": "S3", "s3Location": {"bucket": "bkt", "key": "web-1.zip",
                                                                     "bundleType": "zip"}}
    assert info["description"] == "v1"
    listed = ctl.json("deployment", "list", "--app", "web", "--group", "prod")["deploymentsInfo"]
    assert [d["deploymentId"] for d in listed] == [dep]
    out = ctl("deployment", "get", dep).stdout
    assert "Deployment:   %s" % dep in out and "Revision:     s3://bkt/web-1.zip" in out
    p = ctl("wait", dep, "--timeout", "60s", "--interval", "0.1", expect=1)
    final = cd.get_deployment(deploymentId=dep)["deploymentInfo"]
    assert final["status"] == "Failed"
    assert "Deployment %s Failed: %s" % (dep, final["errorInformation"]["code"]) in p.stderr
    # stopping a finished deployment is refused with the API's reason
    p = ctl("stop", dep, expect=1)
    assert "DeploymentAlreadyCompletedException" in p.stderr
    # nothing succeeded yet: nothing to roll back to
    p = ctl("rollback", "--app", "web", "--group", "prod", expect=1)
    assert "nothing to roll back to" in p.stderr
    st = ctl.json("status", "--app", "web", "--group", "prod")
    assert st["instances"][0]["instanceName"] == "web-1"
    assert "revision" not in st["instances"][0]


def test_deploy_directory_then_stop_it(ctl, cli_daemon):
    """A directory is packed and uploaded; with no agent running the deployment
    waits for its host, and stop --wait ends it."""
    cd = cli_daemon.boto3_client(cli_daemon.admin)
    ctl("app", "create", "hello")
    ctl("instance", "register", "web-1", "--tags", "env=prod")
    ctl("group", "create", "--app", "hello", "prod", "--tags", "env=prod")
    src = os.path.join(harness.srcdir(), "examples", "hello-web")
    p = ctl("deploy", "--app", "hello", "--group", "prod", src)
    dep = p.stdout.split()[1]
    # (boto3 drops the extension members it does not know: read the raw JSON)
    rev = ctl.json("deployment", "get", dep)["deploymentInfo"]["revision"]
    assert rev["revisionType"] == "Bundle" and len(rev["bundleLocation"]["sha256"]) == 64
    assert "uploaded Bundle:sha256:%s" % rev["bundleLocation"]["sha256"][:12] in p.stderr
    # the upload registered the revision with the application
    revs = ctl.json("revision", "list", "--app", "hello")["revisions"]
    assert [r["revisionLocation"] for r in revs] == [rev]
    p = ctl("stop", dep, "--no-rollback", "--wait", "--timeout", "30s", "--interval", "0.1")
    assert "stop of %s" % dep in p.stdout and "deployment %s Stopped" % dep in p.stdout
    assert cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"] == "Stopped"
    p = ctl("wait", dep, expect=1)
    assert "Deployment %s Stopped" % dep in p.stderr and "MANUAL_STOP" in p.stderr


def test_deploy_wait_reports_a_deployment_that_fails(ctl, cli_daemon):
    """A group whose tags match no instance: the engine fails the deployment
    and --wait exits 1 with the error."""
    ctl("app", "create", "web")
    ctl("group", "create", "--app", "web", "empty", "--tags", "env=nowhere")
    p = ctl("deploy", "--app", "web", "--group", "empty", "s3://bkt/web-1.zip", "--wait", "--timeout", "60s",
            "--interval", "0.1", expect=1)
    assert "Failed" in p.stdout
    assert "NO_INSTANCES" in p.stderr or "no instance" in p.stderr.lower(), p.stderr


def test_register_instance_without_daemon_cert_says_what_to_add(ctl, tmp_path):
    conf = tmp_path / "web-2.yaml"
    p = ctl("register-instance", "web-2", "--agent-config", str(conf))
    assert "no --daemon-cert" in p.stderr and str(conf) in p.stderr
    c = yaml.safe_load(conf.read_text())
    assert "daemon_cert" not in c
    assert c["root_dir"] == "/var/lib/rollout-agent/deployment-root"
    assert c["log_dir"] == "/var/log/rollout-agent"
    assert "# daemon_cert:" in conf.read_text()
