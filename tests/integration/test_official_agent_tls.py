"""The official AWS CodeDeploy agent (Ruby) deploys from rolloutd over HTTPS.

The agent comes from its own source (official_agent.py says where from and how
it is launched without its front end). It trusts rolloutd's private CA only
through the environment its TLS stack reads (SSL_CERT_FILE), talks to rolloutd
through `:deploy_control_endpoint:` and fetches the S3 revision from
moto_server through `:s3_endpoint_override:`. The tests skip, naming what is
missing, when ruby, a gem or the source is absent."""

import time

import pytest

import harness
import official_agent
from engine_helpers import Fleet
from official_agent import OfficialAgent
from sources_helpers import make_zip, moto, moto_server, s3_client  # noqa: F401

pytestmark = pytest.mark.slow


def agent_source(tmp_path):
    why = official_agent.missing()
    if why:
        pytest.skip("; ".join(why))
    return official_agent.export_source(tmp_path / "codedeploy-agent")


def test_official_agent_deploys_over_https(daemon_factory, moto, tmp_path):
    src = agent_source(tmp_path)
    pki = harness.make_pki(tmp_path / "pki")
    # rolloutd checks the S3 revision itself; the agent fetches it from the same S3
    d = daemon_factory(tls=pki, settings={"long_poll": "5s"},
                       plugins={"onprem": {}, "s3": {"endpoint": moto, "access_key_id": "AKIDTEST",
                                                     "secret_access_key": "secret"}})
    f = Fleet(d, n=1, start_agents=False, config="CodeDeployDefault.AllAtOnce")
    name = f.names[0]

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

    agent = OfficialAgent(tmp_path / "cda", src, d.url, pki["ca"], keys=f.keys[name], instance=name,
                          s3_endpoint=moto,
                          settings={"log_aws_wire": False, "verbose": True, "wait_between_runs": 1,
                                    "wait_after_error": 1, "max_revisions": 2, "http_read_timeout": 30})
    agent.start()
    try:
        dep = f.deploy({"revisionType": "S3", "s3Location": {"bucket": "releases", "key": "app.zip",
                                                             "bundleType": "zip", "eTag": etag}})
        end = time.time() + 240
        while True:
            info = f.cd.get_deployment(deploymentId=dep)["deploymentInfo"]
            if info["status"] in ("Succeeded", "Failed", "Stopped") or time.time() > end:
                break
            assert agent.running(), "the official agent ended:\n" + agent.output_tail()
            time.sleep(1)
        assert info["status"] == "Succeeded", (info.get("errorInformation"), agent.output_tail(), d.log_tail(40))
        assert (www / "index.html").read_text() == "from the official agent\n"
        assert events.read_text().split() == ["AfterInstall", dep, f.app]
        # it reached rolloutd over HTTPS, trusting the private CA (its start-up probe passed)
        text = agent.log()
        assert "CodeDeploy endpoint: " + d.url in text and "Error validating the SSL configuration" not in text
    finally:
        agent.stop()


def test_official_agent_refuses_rolloutd_without_its_ca(daemon_factory, tmp_path):
    """Without SSL_CERT_FILE naming rolloutd's CA the agent's probe fails and it does not start."""
    src = agent_source(tmp_path)
    pki = harness.make_pki(tmp_path / "pki")
    d = daemon_factory(tls=pki)
    agent = OfficialAgent(tmp_path / "cda", src, d.url, None, settings={"verbose": True})
    agent.start()
    try:
        end = time.time() + 60
        while time.time() < end and agent.running():
            if "Error during certificate verification" in agent.log():
                break
            time.sleep(0.5)
        text = agent.log()
        assert "Error during certificate verification on codedeploy endpoint " + d.url in text, text[-3000:]
    finally:
        agent.stop(timeout=10)
