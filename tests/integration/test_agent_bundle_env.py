"""BUNDLE_* variables in hook scripts for rolloutd's extension revision types
(docs/api-extensions.md §1.2-1.4): the spec's Revision carries the original
RevisionLocation under "Location", and the agent exports
  Bitbucket  BUNDLE_COMMIT (like GitHub)
  HTTP       BUNDLE_URL, BUNDLE_SHA256
  Bundle     BUNDLE_SHA256
and none of the S3 ones. Against the scripted host-command service of
test_agent_fake.py."""

import hashlib

import pytest

from agent_helpers import spec_for
from test_agent_fake import agent, app_bundle, fake, lines  # noqa: F401

COMMIT = "0123456789abcdef0123456789abcdef01234567"
URL = "https://files.example.com/rel/app-1.4.tgz?token=abc"


@pytest.mark.parametrize("kind", ["Bitbucket", "HTTP", "Bundle"])
def test_extension_revisions_set_bundle_variables(tmp_path, fake, agent, kind):
    envdump = str(tmp_path / "env.txt")
    sha, size = app_bundle(tmp_path, fake, "v1", str(tmp_path / "www"), str(tmp_path / "events.log"),
                           hooks={"BeforeInstall": "env > %s" % envdump})
    loc = {
        "Bitbucket": {"revisionType": "Bitbucket",
                      "bitbucketLocation": {"repository": "team/site", "commitId": COMMIT, "bundleType": "tgz"}},
        "HTTP": {"revisionType": "HTTP", "httpLocation": {"url": URL, "sha256": sha, "bundleType": "tgz"}},
        "Bundle": {"revisionType": "Bundle", "bundleLocation": {"sha256": sha, "bundleType": "tgz", "size": size}},
    }[kind]
    agent()
    for c in ["DownloadBundle", "BeforeInstall"]:
        st, d = fake.run(c, spec_for("d-ENV000001", sha, size,
                                     extra={"Revision": {"RevisionType": kind, "Location": loc}}))
        assert st == "Succeeded", (c, d)
    env = dict(l.split("=", 1) for l in lines(envdump) if "=" in l)
    bundle = {k: v for k, v in env.items() if k.startswith("BUNDLE_")}
    want = {
        "Bitbucket": {"BUNDLE_COMMIT": COMMIT},
        "HTTP": {"BUNDLE_URL": URL, "BUNDLE_SHA256": sha},
        "Bundle": {"BUNDLE_SHA256": sha},
    }[kind]
    assert bundle == want
    assert env["DEPLOYMENT_ID"] == "d-ENV000001"


def test_uploaded_bundle_through_rolloutd_sets_bundle_sha256(daemon_factory, tmp_path):
    """End to end: a Bundle revision uploaded to a real rolloutd, deployed by a
    real rollout-agent, whose hook sees BUNDLE_SHA256 (from the spec the daemon
    signed)."""
    from test_agent_rolloutd import RealFleet, revision

    d = daemon_factory(plugins={"onprem": {}}, settings={"long_poll": "5s"})
    envdump = str(tmp_path / "env-real.txt")
    path = revision(tmp_path, "v1", str(tmp_path / "www"), str(tmp_path / "events.log"),
                    hooks={"BeforeInstall": "env > %s" % envdump})
    f = RealFleet(d, tmp_path, n=1)
    try:
        dep = f.deploy_local(path)
        info = f.wait(dep)
        assert info["status"] == "Succeeded", info
        with open(path, "rb") as fh:
            sha = hashlib.sha256(fh.read()).hexdigest()
        env = dict(l.split("=", 1) for l in lines(envdump) if "=" in l)
        assert {k: v for k, v in env.items() if k.startswith("BUNDLE_")} == {"BUNDLE_SHA256": sha}
    finally:
        f.stop()
