"""The s3 source plugin against moto_server S3, through the daemon's bundle
cache (sources-fetch: real config loader, plugin loader, host HTTP client with
SigV4 and the credential chain, cache and pre-flight)."""

import json

from sources_helpers import (app_files, clean_env, fetch, make_tgz, make_zip, moto, moto_server, route_server,  # noqa: F401
                             s3_client,
                             sha256, write_config)


def s3_conf(tmp_path, endpoint, **kw):
    s3 = {"endpoint": endpoint, "region": "us-east-1", "access_key_id": "AKIDTEST",
          "secret_access_key": "secret", "addressing": "path"}
    s3.update(kw)
    for k in [k for k, v in s3.items() if v is None]:
        del s3[k]
    return write_config(tmp_path, {"s3": s3})


def rev(bucket, key, **kw):
    loc = {"bucket": bucket, "key": key, "bundleType": "zip"}
    loc.update(kw)
    return {"revisionType": "S3", "s3Location": loc}


def versioned_bucket(c, name="rel"):
    c.create_bucket(Bucket=name)
    c.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def test_fetch_version_and_etag_then_served_from_cache(tmp_path, moto):
    c = s3_client(moto)
    versioned_bucket(c)
    body = make_zip(app_files())
    put = c.put_object(Bucket="rel", Key="app/v1.zip", Body=body)
    conf = s3_conf(tmp_path, moto)
    r = rev("rel", "app/v1.zip", version=put["VersionId"], eTag=put["ETag"].strip('"'))
    rc, res, err = fetch(conf, r)
    assert rc == 0, (res, err)
    assert res[0]["sha256"] == sha256(body)
    assert res[0]["size"] == len(body)
    assert res[0]["bundleType"] == "zip"
    with open(res[0]["path"], "rb") as f:
        assert f.read() == body
    # a pinned location is fetched once: with the object gone, the cache answers
    c.delete_object(Bucket="rel", Key="app/v1.zip", VersionId=put["VersionId"])
    rc, res2, err = fetch(conf, r)
    assert rc == 0, (res2, err)
    assert res2[0]["sha256"] == sha256(body)


def test_latest_object_is_refetched(tmp_path, moto):
    c = s3_client(moto)
    c.create_bucket(Bucket="plain")
    b1 = make_tgz(app_files())
    c.put_object(Bucket="plain", Key="app.tgz", Body=b1)
    conf = s3_conf(tmp_path, moto)
    rc, res, err = fetch(conf, rev("plain", "app.tgz", bundleType="tgz"))
    assert rc == 0, (res, err)
    assert res[0]["sha256"] == sha256(b1) and res[0]["bundleType"] == "tgz"
    files = app_files()
    files["app/extra.txt"] = (b"v2\n", 0o644)
    b2 = make_tgz(files)
    c.put_object(Bucket="plain", Key="app.tgz", Body=b2)
    rc, res, err = fetch(conf, rev("plain", "app.tgz", bundleType="tgz"))
    assert rc == 0, (res, err)
    assert res[0]["sha256"] == sha256(b2)


def test_etag_mismatch_is_invalid_revision(tmp_path, moto):
    c = s3_client(moto)
    c.create_bucket(Bucket="bkt")
    c.put_object(Bucket="bkt", Key="app.zip", Body=make_zip(app_files()))
    rc, res, _ = fetch(s3_conf(tmp_path, moto), rev("bkt", "app.zip", eTag="0123456789abcdef0123456789abcdef"))
    assert rc == 1
    assert res[0]["errorCode"] == "INVALID_REVISION"
    assert "0123456789abcdef0123456789abcdef" in res[0]["message"]
    assert "ETag" in res[0]["message"] and "register the revision again" in res[0]["message"]


def test_missing_key_bucket_and_version(tmp_path, moto):
    c = s3_client(moto)
    versioned_bucket(c, "ver")
    c.put_object(Bucket="ver", Key="app.zip", Body=make_zip(app_files()))
    conf = s3_conf(tmp_path, moto)
    rc, res, _ = fetch(conf, rev("ver", "nope.zip"))
    assert rc == 1 and res[0]["errorCode"] == "REVISION_MISSING"
    assert "s3://ver/nope.zip" in res[0]["message"] and "NoSuchKey" in res[0]["message"]
    rc, res, _ = fetch(conf, rev("nobucket", "app.zip"))
    assert rc == 1 and res[0]["errorCode"] == "REVISION_MISSING"
    assert "NoSuchBucket" in res[0]["message"]
    rc, res, _ = fetch(conf, rev("ver", "app.zip", version="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"))
    assert rc == 1 and res[0]["errorCode"] == "REVISION_MISSING"
    assert "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY" in res[0]["message"]


def test_bad_bundle_fails_preflight(tmp_path, moto):
    c = s3_client(moto)
    c.create_bucket(Bucket="bkt")
    # a hook script the appspec names is missing
    c.put_object(Bucket="bkt", Key="noscript.zip", Body=make_zip(app_files(scripts=("scripts/after.sh",))))
    # no appspec at all
    c.put_object(Bucket="bkt", Key="noappspec.zip", Body=make_zip({"index.html": (b"x", 0o644)}))
    # not an archive
    c.put_object(Bucket="bkt", Key="junk.zip", Body=b"this is not a zip file at all" * 10)
    # a script without execute bit
    c.put_object(Bucket="bkt", Key="noexec.zip", Body=make_zip(app_files(mode=0o644)))
    conf = s3_conf(tmp_path, moto)
    rc, res, _ = fetch(conf, rev("bkt", "noscript.zip"))
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION"
    assert "scripts/start.sh" in res[0]["message"]
    rc, res, _ = fetch(conf, rev("bkt", "noappspec.zip"))
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION"
    assert "appspec.yml" in res[0]["message"]
    rc, res, _ = fetch(conf, rev("bkt", "junk.zip"))
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION"
    rc, res, _ = fetch(conf, rev("bkt", "noexec.zip"))
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION"
    assert "scripts/after.sh" in res[0]["message"]


def test_bundle_type_checks(tmp_path, moto):
    c = s3_client(moto)
    c.create_bucket(Bucket="bkt")
    lambda_spec = b"version: 0.0\nResources:\n  - fn:\n      Type: AWS::Lambda::Function\n"
    c.put_object(Bucket="bkt", Key="appspec.yaml", Body=lambda_spec)
    conf = s3_conf(tmp_path, moto)
    # a Lambda/ECS AppSpec file is cached as is
    rc, res, err = fetch(conf, rev("bkt", "appspec.yaml", bundleType="YAML"), platform="Lambda")
    assert rc == 0, (res, err)
    assert res[0]["bundleType"] == "YAML" and res[0]["sha256"] == sha256(lambda_spec)
    # ...and refused for servers
    rc, res, _ = fetch(conf, rev("bkt", "appspec.yaml", bundleType="YAML"), platform="Server")
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION" and "zip, tar or tgz" in res[0]["message"]
    rc, res, _ = fetch(conf, rev("bkt", "appspec.yaml", bundleType="rar"))
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION" and "rar" in res[0]["message"]
    rc, res, _ = fetch(conf, {"revisionType": "S3", "s3Location": {"bucket": "bkt", "key": "x"}})
    assert rc == 1 and res[0]["errorCode"] == "INVALID_REVISION" and "bundleType" in res[0]["message"]


def test_credentials_from_env_and_profile(tmp_path, moto):
    c = s3_client(moto)
    c.create_bucket(Bucket="bkt")
    body = make_zip(app_files())
    c.put_object(Bucket="bkt", Key="app.zip", Body=body)
    conf = s3_conf(tmp_path, moto, access_key_id=None, secret_access_key=None)
    # nothing anywhere: a clear error naming what to set
    rc, res, _ = fetch(conf, rev("bkt", "app.zip"), env=clean_env())
    assert rc == 1 and res[0]["errorCode"] == "IAM_ROLE_MISSING"
    assert "plugins.s3" in res[0]["message"] and "AWS_ACCESS_KEY_ID" in res[0]["message"]
    # environment
    rc, res, err = fetch(conf, rev("bkt", "app.zip"),
                         env=clean_env(AWS_ACCESS_KEY_ID="AKIDENV", AWS_SECRET_ACCESS_KEY="s"))
    assert rc == 0, (res, err)
    # shared credentials file with a named profile
    cred = tmp_path / "credentials"
    cred.write_text("[deploy]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n")
    (tmp_path / "data2").mkdir()
    conf2 = s3_conf(tmp_path, moto, access_key_id=None, secret_access_key=None, profile="deploy",
                    credentials_file=str(cred))
    rc, res, err = fetch(conf2, rev("bkt", "app.zip"), env=clean_env())
    assert rc == 0, (res, err)
    assert res[0]["sha256"] == sha256(body)


def test_credentials_from_imdsv2(tmp_path, moto, route_server):
    c = s3_client(moto)
    c.create_bucket(Bucket="bkt")
    c.put_object(Bucket="bkt", Key="app.zip", Body=make_zip(app_files()))

    def imds(method, path, headers):
        if method == "PUT" and path == "/latest/api/token":
            return 200, {}, b"TOKEN123"
        if headers.get("X-aws-ec2-metadata-token") != "TOKEN123":
            return 401, {}, b""
        if path == "/latest/meta-data/iam/security-credentials/":
            return 200, {}, b"deploy-role"
        if path == "/latest/meta-data/iam/security-credentials/deploy-role":
            return 200, {}, json.dumps({"Code": "Success", "AccessKeyId": "ASIAIMDS", "SecretAccessKey": "s",
                                        "Token": "tok", "Expiration": "2099-01-01T00:00:00Z"}).encode()
        return 404, {}, b""
    srv = route_server(imds)
    conf = s3_conf(tmp_path, moto, access_key_id=None, secret_access_key=None)
    env = clean_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=srv.url)
    del env["AWS_EC2_METADATA_DISABLED"]
    rc, res, err = fetch(conf, rev("bkt", "app.zip"), env=env)
    assert rc == 0, (res, err)
    assert srv.rec.count(lambda r: r[0] == "PUT") >= 1
    assert srv.rec.count(lambda r: r[1].endswith("/deploy-role")) >= 1


def test_plugin_not_enabled(tmp_path):
    conf = write_config(tmp_path, {})
    rc, res, _ = fetch(conf, rev("bkt", "k"))
    assert rc == 1 and res[0]["errorCode"] == "REVISION_MISSING"
    # the core knows no type's plugin: it names the type and the types that are served
    assert "revisionType 'S3'" in res[0]["message"] and "enable a source plugin that declares it" in \
        res[0]["message"], res


def test_bad_config_is_refused(tmp_path, moto):
    conf = s3_conf(tmp_path, moto, addressing="sideways")
    rc, res, err = fetch(conf, rev("bkt", "k"))
    assert rc == 2 and "addressing" in err
