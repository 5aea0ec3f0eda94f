"""Access keys at rest and in their life cycle: secrets sealed under the
key-encryption key (a copied state.db reveals none), the sealing of secrets
an older rolloutd stored in the clear, the permission checks on the KEK and
the signing key at start, and disable / enable / rotate / retire / delete
through the Rolloutd_v1 operations, rolloutctl and `rolloutd access-key`,
with boto3 and the aws CLI signing."""

import json
import os
import sqlite3
import stat
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

import api_helpers
import harness
from agent_helpers import wait_for
from cli_helpers import Ctl

EXT = "Rolloutd_v1"


def ext(daemon, keys, op, body=None):
    """One Rolloutd_v1 operation; (status, JSON)."""
    r = api_helpers.signed_request(daemon, keys, target="%s.%s" % (EXT, op),
                                   body=json.dumps(body or {}).encode())
    return r.status, r.json()


def works(daemon, keys):
    """Whether keys sign a request the daemon accepts; else the error code."""
    try:
        daemon.boto3_client(keys).list_deployment_configs()
        return True
    except ClientError as e:
        return e.response["Error"]["Code"]


def db_bytes(daemon):
    out = b""
    for suffix in ("", "-wal"):
        try:
            with open(os.path.join(daemon.data_dir, "state.db" + suffix), "rb") as f:
                out += f.read()
        except FileNotFoundError:
            pass
    return out


def test_secrets_sealed_at_rest(daemon_factory):
    d = daemon_factory()
    made = ext(d, d.admin, "CreateAccessKey", {"Name": "ci", "Policy": "deployer"})[1]
    assert works(d, made) is True
    kek = os.path.join(d.data_dir, "kek")
    assert stat.S_IMODE(os.stat(kek).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(d.data_dir, "daemon.key")).st_mode) == 0o600
    d.stop()
    data = db_bytes(d)
    assert data, "no state.db"
    for k in (d.admin, made):
        assert k["SecretAccessKey"].encode() not in data
        assert k["AccessKeyId"].encode() in data
    # the KEK is what opens them: another KEK does not
    os.rename(kek, kek + ".real")
    with open(kek, "w") as f:
        f.write("00" * 32 + "\n")
    os.chmod(kek, 0o600)
    d.start()
    assert works(d, made) == "UnrecognizedClientException" or works(d, made) == "InternalFailure"
    d.stop()
    os.replace(kek + ".real", kek)
    d.start()
    assert works(d, made) is True


def test_legacy_clear_secrets_are_sealed_at_start(daemon_factory):
    """An older rolloutd stored secrets in the clear: the first start seals
    them and leaves none of their bytes in state.db."""
    d = daemon_factory(start=False)
    legacy_secret = "LegacySecretLegacySecretLegacySecret0001"
    db = sqlite3.connect(os.path.join(d.data_dir, "state.db"))
    db.execute("INSERT INTO access_keys (id, secret, name, policy, create_time)"
               " VALUES ('AKRDLEGACY0000000001', ?, 'old', 'admin', 1000)", (legacy_secret,))
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    assert legacy_secret.encode() in db_bytes(d)
    d.start()
    legacy = {"AccessKeyId": "AKRDLEGACY0000000001", "SecretAccessKey": legacy_secret}
    assert works(d, legacy) is True
    d.stop()
    assert legacy_secret.encode() not in db_bytes(d)
    assert db_bytes(d).count(b"rdk1:") >= 2


def test_kek_and_signing_key_permissions_checked_at_start(daemon_factory):
    d = daemon_factory()
    d.stop()
    kek = os.path.join(d.data_dir, "kek")
    os.chmod(kek, 0o644)
    with pytest.raises(harness.HarnessError) as e:
        d.start()
    assert "chmod 600" in str(e.value) and kek in str(e.value)
    d.proc = None
    p = d.run("access-key", "list", check=False)
    assert p.returncode == 1 and "chmod 600" in p.stderr
    os.chmod(kek, 0o600)
    key = os.path.join(d.data_dir, "daemon.key")
    os.chmod(key, 0o640)
    with pytest.raises(harness.HarnessError) as e:
        d.start()
    assert "chmod 600" in str(e.value) and "daemon.key" in str(e.value)
    d.proc = None
    os.chmod(key, 0o600)
    # a lost KEK with sealed secrets in the store: refuse, do not mint a new one
    os.rename(kek, kek + ".lost")
    with pytest.raises(harness.HarnessError) as e:
        d.start()
    assert "no key-encryption key" in str(e.value) and "restore" in str(e.value)
    d.proc = None
    assert not os.path.exists(kek)
    os.rename(kek + ".lost", kek)
    d.start()


def test_kek_file_from_config(daemon_factory, tmp_path):
    path = str(tmp_path / "secrets" / "rolloutd.kek")
    os.makedirs(os.path.dirname(path), mode=0o700)
    d = daemon_factory(settings={"kek_file": path})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not os.path.exists(os.path.join(d.data_dir, "kek"))
    assert works(d, d.admin) is True


def test_key_lifecycle_operations(daemon_factory):
    d = daemon_factory()
    status, k = ext(d, d.admin, "CreateAccessKey", {"Name": "ci", "Policy": "deployer"})
    assert status == 200
    kid = k["AccessKeyId"]
    listed = ext(d, d.admin, "ListAccessKeys")[1]["AccessKeys"]
    assert all("SecretAccessKey" not in x for x in listed)
    assert k["SecretAccessKey"] not in json.dumps(listed) and d.admin["SecretAccessKey"] not in json.dumps(listed)
    row = [x for x in listed if x["AccessKeyId"] == kid][0]
    assert row["Status"] == "Active" and row["PreviousSecretActive"] is False and "LastUsed" not in row

    # LastUsed once the key signs something (written in batches, every 2 s)
    assert works(d, k) is True

    def last_used():
        row = [x for x in ext(d, d.admin, "ListAccessKeys")[1]["AccessKeys"] if x["AccessKeyId"] == kid][0]
        return row.get("LastUsed", 0) > 0

    wait_for(last_used, timeout=15, what="LastUsed recorded")

    # disabled keys are refused, enabled again accepted
    assert ext(d, d.admin, "UpdateAccessKey", {"AccessKeyId": kid, "Status": "Inactive"})[0] == 200
    assert works(d, k) == "UnrecognizedClientException"
    r = api_helpers.call(d, k, "ListApplications", {})
    assert r.status == 403 and "Inactive" in r.json()["message"]
    assert ext(d, d.admin, "UpdateAccessKey", {"AccessKeyId": kid, "Status": "Active"})[0] == 200
    assert works(d, k) is True
    status, err = ext(d, d.admin, "UpdateAccessKey", {"AccessKeyId": d.admin["AccessKeyId"], "Status": "Inactive"})
    assert status == 400 and "signed this request" in err["message"]
    status, err = ext(d, d.admin, "UpdateAccessKey", {"AccessKeyId": kid, "Status": "Paused"})
    assert status == 400 and "Active or Inactive" in err["message"]

    # rotation: both secrets work until the old one is retired
    status, rot = ext(d, d.admin, "RotateAccessKey", {"AccessKeyId": kid})
    assert status == 200 and rot["AccessKeyId"] == kid and rot["SecretAccessKey"] != k["SecretAccessKey"]
    assert works(d, k) is True and works(d, rot) is True
    status, err = ext(d, d.admin, "RotateAccessKey", {"AccessKeyId": kid})
    assert status == 400 and "retire it" in err["message"]
    row = [x for x in ext(d, d.admin, "ListAccessKeys")[1]["AccessKeys"] if x["AccessKeyId"] == kid][0]
    assert row["PreviousSecretActive"] is True and "PreviousSecretExpires" not in row
    assert ext(d, d.admin, "RetireAccessKeySecret", {"AccessKeyId": kid})[0] == 200
    assert works(d, k) == "InvalidSignatureException" and works(d, rot) is True
    status, err = ext(d, d.admin, "RetireAccessKeySecret", {"AccessKeyId": kid})
    assert status == 400 and "no previous secret" in err["message"]

    # rotation with a set time: the old secret stops by itself
    status, rot2 = ext(d, d.admin, "RotateAccessKey", {"AccessKeyId": kid, "RetireAfterSeconds": 1})
    assert status == 200 and rot2["PreviousSecretExpires"] > time.time()
    assert works(d, rot) is True and works(d, rot2) is True
    time.sleep(1.5)
    assert works(d, rot) == "InvalidSignatureException" and works(d, rot2) is True
    # a new rotation is allowed once the old secret expired
    status, rot3 = ext(d, d.admin, "RotateAccessKey", {"AccessKeyId": kid})
    assert status == 200 and works(d, rot2) is True and works(d, rot3) is True

    # a deployer may not manage keys, even its own
    status, err = ext(d, rot3, "RotateAccessKey", {"AccessKeyId": kid})
    assert status == 400 and err["__type"] == "AccessDeniedException"

    # deleted keys are refused
    assert ext(d, d.admin, "DeleteAccessKey", {"AccessKeyId": kid})[0] == 200
    assert works(d, rot3) == "UnrecognizedClientException"
    status, err = ext(d, d.admin, "UpdateAccessKey", {"AccessKeyId": kid, "Status": "Active"})
    assert status == 400 and err["__type"] == "ResourceNotFoundException"


def test_key_lifecycle_rolloutctl_and_aws_cli(daemon_factory):
    d = daemon_factory()
    ctl = Ctl(d.url, d.admin)
    made = ctl.json("access-key", "create", "--name", "ops", "--policy", "readonly")
    kid = made["AccessKeyId"]
    p, _ = d.aws(made, "deploy", "list-deployment-configs")
    assert p.returncode == 0
    ctl("access-key", "disable", kid)
    p, _ = d.aws(made, "deploy", "list-deployment-configs", check=False)
    assert p.returncode != 0 and "UnrecognizedClientException" in p.stderr
    ctl("access-key", "enable", kid)
    rot = ctl.json("access-key", "rotate", kid)
    assert rot["AccessKeyId"] == kid
    assert d.aws(made, "deploy", "list-deployment-configs")[0].returncode == 0
    assert d.aws(rot, "deploy", "list-deployment-configs")[0].returncode == 0
    table = ctl("access-key", "list").stdout
    assert kid in table and "Active" in table
    ctl("access-key", "retire", kid)
    p, _ = d.aws(made, "deploy", "list-deployment-configs", check=False)
    assert p.returncode != 0 and "InvalidSignatureException" in p.stderr
    assert d.aws(rot, "deploy", "list-deployment-configs")[0].returncode == 0
    p = ctl("access-key", "rotate", kid, "--retire-after", "soon", expect=2)
    assert "duration" in p.stderr
    ctl("access-key", "delete", kid)
    p, _ = d.aws(rot, "deploy", "list-deployment-configs", check=False)
    assert p.returncode != 0


def test_key_lifecycle_offline(daemon_factory):
    d = daemon_factory(start=False)
    made = d.create_access_key("ci", "deployer")
    kid = made["AccessKeyId"]
    d.run("access-key", "disable", kid)
    row = [x for x in json.loads(d.run("access-key", "list").stdout) if x["AccessKeyId"] == kid][0]
    assert row["Status"] == "Inactive"
    d.run("access-key", "enable", kid)
    rot = json.loads(d.run("access-key", "rotate", kid, "--retire-after", "1h").stdout)
    assert rot["AccessKeyId"] == kid and rot["SecretAccessKey"] != made["SecretAccessKey"]
    row = [x for x in json.loads(d.run("access-key", "list").stdout) if x["AccessKeyId"] == kid][0]
    assert row["PreviousSecretActive"] is True and row["PreviousSecretExpires"] > time.time()
    p = d.run("access-key", "rotate", kid, check=False)
    assert p.returncode == 1 and "retire it first" in p.stderr
    d.start()
    assert works(d, made) is True and works(d, rot) is True
    d.stop()
    d.run("access-key", "retire", kid)
    d.run("access-key", "scope", kid, "--applications", "web,api-*")
    row = [x for x in json.loads(d.run("access-key", "list").stdout) if x["AccessKeyId"] == kid][0]
    assert row["Applications"] == ["web", "api-*"]
    p = d.run("access-key", "disable", "AKRDNOSUCHKEY", check=False)
    assert p.returncode == 1 and "no such key" in p.stderr
    d.start()
    assert works(d, made) == "InvalidSignatureException" and works(d, rot) is True


def test_key_changed_by_another_process_while_running(daemon_factory):
    """The daemon keeps the keys it opened in memory; `rolloutd access-key`,
    a separate process writing the same state.db, disables, scopes, rotates,
    retires and deletes a key while the daemon runs, and the very next
    request sees each change."""
    d = daemon_factory()
    made = d.create_access_key("ops", "deployer")
    kid = made["AccessKeyId"]
    for _ in range(3):
        assert works(d, made) is True
    d.run("access-key", "disable", kid)
    assert works(d, made) == "UnrecognizedClientException"
    d.run("access-key", "enable", kid)
    assert works(d, made) is True
    d.run("access-key", "scope", kid, "--applications", "other-app")
    r = api_helpers.call(d, made, "GetApplication", {"applicationName": "web"})
    assert r.status == 400 and r.json()["__type"] == "AccessDeniedException", r.json()
    d.run("access-key", "scope", kid, "--all")
    r = api_helpers.call(d, made, "GetApplication", {"applicationName": "web"})
    assert r.json()["__type"] == "ApplicationDoesNotExistException", r.json()
    rot = json.loads(d.run("access-key", "rotate", kid).stdout)
    assert works(d, rot) is True and works(d, made) is True
    d.run("access-key", "retire", kid)
    assert works(d, made) == "InvalidSignatureException"
    assert works(d, rot) is True
    d.run("access-key", "delete", kid)
    assert works(d, rot) == "UnrecognizedClientException"
    # ids without a key are refused the same way, however many
    for i in range(5):
        assert works(d, {"AccessKeyId": "AKRDNOSUCHKEY%07d" % i,
                         "SecretAccessKey": "x" * 40}) == "UnrecognizedClientException"
