"""The official AWS CodeDeploy agent (Ruby) deploys from rolloutd over HTTPS.

The agent's source is taken at test time from a checkout named by
CODEDEPLOY_AGENT_SRC (a directory, or a git directory whose HEAD is
exported into the test's temporary directory); nothing of it is in this
tree. It trusts rolloutd's private CA only through the environment its TLS
stack reads (SSL_CERT_FILE: its start-up probe of GET / uses Net::HTTP, its
API client the AWS SDK for Ruby over OpenSSL's default paths), talks to
rolloutd through `:deploy_control_endpoint:` and fetches the S3 revision
from moto_server through `:s3_endpoint_override:`.

Its command-line front end (lib/codedeploy-agent.rb) needs the gem gli,
which Debian 12 does not package, and daemonizes; the agent is started
instead by a launcher of a few lines that does what the front end's `start`
does (load the config, start the master), in the foreground, with the
vendored gems on the load path (their gemspecs name gli). The test skips,
naming what is missing, when ruby, a gem or the source is absent."""

import os
import shutil
import subprocess
import time

import pytest

import harness
from engine_helpers import Fleet
from sources_helpers import make_zip, moto, moto_server, s3_client  # noqa: F401

pytestmark = pytest.mark.slow

# where the development machine keeps a read-only mirror of it
DEFAULT_SRC = "/work/.mirror/aws+aws-codedeploy-agent/repo"
# what the agent's gemspec requires at run time, as Ruby require names
# (the Debian package that gives each, for the skip message)
GEMS = (("aws-sdk-core", "ruby-aws-sdk-core"), ("aws-sdk-s3", "ruby-aws-sdk-s3"), ("zip", "ruby-zip"),
        ("logging", "ruby-logging"), ("concurrent", "ruby-concurrent"),
        ("archive/tar/minitar", "ruby-minitar"), ("rexml/document", "ruby (rexml)"))

LAUNCHER = """\
# the vendored gems straight from the load path (their gemspecs name gli),
# after the agent's own lib (both have a core_ext.rb)
Dir[File.join(ARGV[0], 'vendor', 'gems', '*', 'lib')].each { |d| $:.unshift d }
$:.unshift File.join(ARGV[0], 'lib')
require 'instance_agent'
InstanceAgent::Config.config(:config_file => ARGV[1])
InstanceAgent::Platform.util = InstanceAgent::LinuxUtil
InstanceAgent::Config.load_config
InstanceAgent::Runner::Master.new.start
"""


def ruby_has(name):
    p = subprocess.run(["ruby", "-e", "require %r" % name], capture_output=True, timeout=60)
    return p.returncode == 0


def agent_source(tmp_path):
    src = os.environ.get("CODEDEPLOY_AGENT_SRC", DEFAULT_SRC)
    if os.path.isfile(os.path.join(src, "lib", "instance_agent.rb")):
        return src
    if os.path.isdir(src) and os.path.exists(os.path.join(src, "HEAD")):
        out = tmp_path / "codedeploy-agent"
        out.mkdir()
        git = subprocess.Popen(["git", "--git-dir", src, "archive", "HEAD"], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(out)], stdin=git.stdout, check=True, timeout=120)
        if git.wait(60) == 0 and os.path.isfile(out / "lib" / "instance_agent.rb"):
            return str(out)
    pytest.skip("the official agent's source (github.com/aws/aws-codedeploy-agent) is not at %s; "
                "set CODEDEPLOY_AGENT_SRC to a checkout or its git directory" % src)


def require_ruby():
    if not shutil.which("ruby"):
        pytest.skip("ruby is not installed (scripts/install-deps installs ruby and the agent's gems "
                    "Debian 12 packages)")
    missing = ["%s (%s)" % (name, pkg) for name, pkg in GEMS if not ruby_has(name)]
    if missing:
        pytest.skip("ruby lacks the official agent's gems: " + ", ".join(missing))


def test_official_agent_deploys_over_https(daemon_factory, moto, tmp_path):
    require_ruby()
    src = agent_source(tmp_path)
    pki = harness.make_pki(tmp_path / "pki")
    # rolloutd checks the S3 revision itself; the agent fetches it from the same S3
    d = daemon_factory(tls=pki, settings={"long_poll": "5s"},
                       plugins={"onprem": {}, "s3": {"endpoint": moto, "access_key_id": "AKIDTEST",
                                                     "secret_access_key": "secret"}})
    f = Fleet(d, n=1, start_agents=False, config="CodeDeployDefault.AllAtOnce")
    name = f.names[0]
    key = f.keys[name]

    www = tmp_path / "www"
    events = tmp_path / "events"
    appspec = ("version: 0.0\nos: linux\nfiles:\n  - source: /web\n    destination: %s\nhooks:\n"
               "  AfterInstall:\n    - location: hook.sh\n      timeout: 60\n" % www)
    hook = "#!/bin/sh\necho \"$LIFECYCLE_EVENT $DEPLOYMENT_ID $APPLICATION_NAME\" >> %s\n" % events
    bundle = make_zip({"appspec.yml": (appspec.encode(), 0o644), "web/index.html": (b"from the official agent\n", 0o644),
                       "hook.sh": (hook.encode(), 0o755)})
    s3 = s3_client(moto)
    s3.create_bucket(Bucket="releases")
    etag = s3.put_object(Bucket="releases", Key="app.zip", Body=bundle)["ETag"].strip('"')

    home = tmp_path / "cda"
    for sub in ("log", "pid", "root"):
        (home / sub).mkdir(parents=True)
    onprem = home / "codedeploy.onpremises.yml"
    onprem.write_text("---\nregion: %s\naws_access_key_id: %s\naws_secret_access_key: %s\n"
                      "iam_user_arn: arn:aws:iam::000000000000:user/%s\n"
                      % (harness.REGION, key["AccessKeyId"], key["SecretAccessKey"], name))
    conf = home / "codedeployagent.yml"
    conf.write_text("---\n:log_aws_wire: false\n:log_dir: '%s'\n:pid_dir: '%s'\n:program_name: codedeploy-agent\n"
                    ":root_dir: '%s'\n:verbose: true\n:wait_between_runs: 1\n:wait_after_error: 1\n"
                    ":max_revisions: 2\n:http_read_timeout: 30\n:on_premises_config_file: '%s'\n"
                    ":deploy_control_endpoint: '%s'\n:s3_endpoint_override: '%s'\n"
                    % (home / "log", home / "pid", home / "root", onprem, d.url, moto))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # the only trust in rolloutd's CA: the variables the agent's TLS stack reads
    env.update(SSL_CERT_FILE=pki["ca"], AWS_EC2_METADATA_DISABLED="true", HOME=str(home))
    launcher = home / "launch.rb"
    launcher.write_text(LAUNCHER)
    cmd = ["ruby", str(launcher), src, str(conf)]
    out = open(home / "stdout.log", "w")
    agent = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    log = home / "log" / "codedeploy-agent.log"

    def agent_log():
        text = ""
        for p in (home / "stdout.log", log):
            if p.exists():
                text += p.read_text(errors="replace")
        return text[-6000:]

    try:
        dep = f.deploy({"revisionType": "S3", "s3Location": {"bucket": "releases", "key": "app.zip",
                                                             "bundleType": "zip", "eTag": etag}})
        end = time.time() + 240
        while True:
            info = f.cd.get_deployment(deploymentId=dep)["deploymentInfo"]
            if info["status"] in ("Succeeded", "Failed", "Stopped") or time.time() > end:
                break
            assert agent.poll() is None, "the official agent ended:\n" + agent_log()
            time.sleep(1)
        assert info["status"] == "Succeeded", (info.get("errorInformation"), agent_log(), d.log_tail(40))
        assert (www / "index.html").read_text() == "from the official agent\n"
        assert events.read_text().split() == ["AfterInstall", dep, f.app]
        # it reached rolloutd over HTTPS, trusting the private CA (its start-up probe passed)
        text = log.read_text(errors="replace")
        assert "CodeDeploy endpoint: " + d.url in text and "Error validating the SSL configuration" not in text
    finally:
        os.killpg(agent.pid, 15)
        try:
            agent.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(agent.pid, 9)
            agent.wait(10)
        out.close()


def test_official_agent_refuses_rolloutd_without_its_ca(daemon_factory, tmp_path):
    """Without SSL_CERT_FILE naming rolloutd's CA the agent's probe fails and it does not start."""
    require_ruby()
    src = agent_source(tmp_path)
    pki = harness.make_pki(tmp_path / "pki")
    d = daemon_factory(tls=pki)
    home = tmp_path / "cda"
    for sub in ("log", "pid", "root"):
        (home / sub).mkdir(parents=True)
    onprem = home / "codedeploy.onpremises.yml"
    onprem.write_text("---\nregion: %s\naws_access_key_id: AK\naws_secret_access_key: SK\n"
                      "iam_user_arn: arn:aws:iam::000000000000:user/x\n" % harness.REGION)
    conf = home / "codedeployagent.yml"
    conf.write_text("---\n:log_dir: '%s'\n:pid_dir: '%s'\n:program_name: codedeploy-agent\n:root_dir: '%s'\n"
                    ":verbose: true\n:on_premises_config_file: '%s'\n:deploy_control_endpoint: '%s'\n"
                    % (home / "log", home / "pid", home / "root", onprem, d.url))
    launcher = home / "launch.rb"
    launcher.write_text(LAUNCHER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "SSL_CERT_FILE"}
    env.update(AWS_EC2_METADATA_DISABLED="true", HOME=str(home))
    p = subprocess.Popen(["ruby", str(launcher), src, str(conf)], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    log = home / "log" / "codedeploy-agent.log"
    try:
        end = time.time() + 60
        while time.time() < end and p.poll() is None:
            if log.exists() and "Error during certificate verification" in log.read_text(errors="replace"):
                break
            time.sleep(0.5)
        text = log.read_text(errors="replace") if log.exists() else ""
        assert "Error during certificate verification on codedeploy endpoint " + d.url in text, text[-3000:]
    finally:
        if p.poll() is None:
            os.killpg(p.pid, 9)
        p.wait(10)
