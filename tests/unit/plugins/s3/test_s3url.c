/* The s3 plugin's GetObject URLs (path-style and virtual-hosted addressing,
 * custom endpoints, key and version encoding) and the source plugins' shared
 * helpers (their XML through the SDK's test host, rollout/testing.h), and
 * what the plugin tells the daemon about S3 locations (describe). Compiles
 * plugins/s3/s3.c into the test. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rollout/testing.h>

#include "srcutil.h"

int s3_object_url(const char *endpoint, const char *region, const char *addressing, const char *bucket, const char *key,
		  const char *version, char *out, size_t outlen);

static void test_addressing(void **state)
{
	char u[4096];

	/* AWS, auto: virtual-hosted for DNS-compatible names */
	assert_int_equal(s3_object_url(NULL, "eu-west-1", "auto", "my-bucket", "app/v1.zip", NULL, u, sizeof(u)), 0);
	assert_string_equal(u, "https://my-bucket.s3.eu-west-1.amazonaws.com/app/v1.zip");
	/* AWS, auto, a bucket with dots: path style (TLS wildcard covers one label) */
	assert_int_equal(s3_object_url(NULL, "us-east-1", "auto", "my.bucket", "k", NULL, u, sizeof(u)), 0);
	assert_string_equal(u, "https://s3.us-east-1.amazonaws.com/my.bucket/k");
	/* custom endpoint, auto: path style; trailing slash dropped */
	assert_int_equal(s3_object_url("http://127.0.0.1:9000/", NULL, "auto", "rel", "a/b.tgz", NULL, u, sizeof(u)),
			 0);
	assert_string_equal(u, "http://127.0.0.1:9000/rel/a/b.tgz");
	/* custom endpoint, virtual requested */
	assert_int_equal(s3_object_url("https://minio.example:9000", NULL, "virtual", "rel", "k", NULL, u, sizeof(u)),
			 0);
	assert_string_equal(u, "https://rel.minio.example:9000/k");
	/* path requested on AWS */
	assert_int_equal(s3_object_url(NULL, "us-west-2", "path", "rel", "k", NULL, u, sizeof(u)), 0);
	assert_string_equal(u, "https://s3.us-west-2.amazonaws.com/rel/k");
	/* a name that cannot be a host name */
	assert_int_equal(s3_object_url(NULL, "us-east-1", "virtual", "Bad_Bucket", "k", NULL, u, sizeof(u)), -EINVAL);
}

static void test_encoding(void **state)
{
	char u[4096];

	assert_int_equal(
	    s3_object_url("http://h:1", NULL, "path", "b", "dir/my app+1 é.zip", "3/L4kq=Jl", u, sizeof(u)), 0);
	assert_string_equal(u, "http://h:1/b/dir/my%20app%2B1%20%C3%A9.zip?versionId=3%2FL4kq%3DJl");
	assert_int_equal(s3_object_url("http://h:1", NULL, "path", "b", "k", NULL, u, 10), -ENOSPC);
}

static void test_srcutil(void **state)
{
	struct rollout_testing *t = rollout_testing_new("s3", NULL);
	const struct rollout_host *host = rollout_testing_host(t);
	struct rollout_handle *h = rollout_testing_handle(t);
	char out[64], code[64];

	src_aws_error(host, h, "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>", code, sizeof(code), out,
		      sizeof(out));
	assert_string_equal(code, "NoSuchKey");
	assert_string_equal(out, "gone");
	src_aws_error(host, h, "<Error></Error>", code, sizeof(code), out, sizeof(out));
	assert_string_equal(code, "");
	src_aws_error(host, h, "<Error><Code>Trunc", code, sizeof(code), out, sizeof(out));
	assert_string_equal(code, "");
	src_error_text(host, h, "{\"message\": \"Bad credentials\", \"x\": 1}", out, sizeof(out));
	assert_string_equal(out, "Bad credentials");
	src_error_text(host, h, "<Error><Message>Access Denied</Message></Error>", out, sizeof(out));
	assert_string_equal(out, "Access Denied");
	src_error_text(host, h, "PK\x03\x04\x01binary", out, sizeof(out));
	assert_string_equal(out, "");
	src_error_text(host, h, "Service Unavailable\r\nmore", out, sizeof(out));
	assert_string_equal(out, "Service Unavailable");
	/* on an ABI 1.0 daemon there is no XML helper: no code, no crash */
	rollout_testing_set_abi_minor(t, 0);
	src_aws_error(host, h, "<Error><Code>NoSuchKey</Code></Error>", code, sizeof(code), out, sizeof(out));
	assert_string_equal(code, "");
	rollout_testing_free(t);
	assert_true(src_full_commit("0123456789abcdef0123456789ABCDEF01234567"));
	assert_false(src_full_commit("0123456"));
	assert_false(src_full_commit("main"));
	assert_string_equal(src_type_from_name("a/b.tar.gz"), "tgz");
	assert_string_equal(src_type_from_name("B.ZIP"), "zip");
	assert_string_equal(src_type_from_name("x.tar"), "tar");
	assert_null(src_type_from_name("x.rar"));
	assert_true(src_valid_type("tgz"));
	assert_false(src_valid_type("YAML"));
	assert_int_equal(src_strip_slash("https://x///", out, sizeof(out)), 0);
	assert_string_equal(out, "https://x");
}

/* What the daemon asks before fetching: which S3 locations pin their content. */
static void test_describe(void **state)
{
	const struct rollout_source_ops *ops = rollout_plugin_v1()->ops.source;
	struct rollout_revision_info info;
	struct rollout_error e = {.size = sizeof(e)};

	assert_string_equal(ops->location_members[0], "s3Location");
#define DESCRIBE(json)                                                                                                 \
	(info = (struct rollout_revision_info){.size = sizeof(info)}, ops->describe(NULL, json, &info, &e))
	assert_int_equal(DESCRIBE("{\"revisionType\":\"S3\",\"s3Location\":{\"bucket\":\"b\",\"key\":\"k.zip\"}}"), 0);
	assert_false(info.pinned);
	assert_int_equal(
	    DESCRIBE("{\"revisionType\":\"S3\",\"s3Location\":{\"bucket\":\"b\",\"key\":\"k\",\"version\":\"v1\"}}"),
	    0);
	assert_true(info.pinned);
	assert_int_equal(
	    DESCRIBE("{\"revisionType\":\"S3\",\"s3Location\":{\"bucket\":\"b\",\"key\":\"k\",\"eTag\":\"e\"}}"), 0);
	assert_true(info.pinned);
	assert_string_equal(info.sha256, "");
	assert_int_equal(DESCRIBE("{\"revisionType\":\"S3\",\"s3Location\":{\"bucket\":\"b\"}}"), -EINVAL);
	assert_string_equal(e.code, "INVALID_REVISION");
	assert_non_null(strstr(e.message, "needs s3Location with bucket and key"));
#undef DESCRIBE
}

/* A fake S3 object: answers 304 to If-None-Match with its ETag. */
struct fake_object {
	const char *body;
	char etag_hdr[80];
	const char *headers[3];
};

static int fake_s3(void *userdata, const struct rollout_testing_request *req, struct rollout_testing_answer *ret)
{
	struct fake_object *o = userdata;
	char want[100];

	snprintf(want, sizeof(want), "If-None-Match: %s", o->etag_hdr + strlen("ETag: "));
	o->headers[0] = o->etag_hdr;
	o->headers[1] = "Last-Modified: Sun, 06 Dec 2026 01:00:00 GMT";
	o->headers[2] = NULL;
	ret->headers = o->headers;
	if (strstr(req->headers, want)) {
		ret->status = 304;
		ret->body = "";
	} else {
		ret->status = 200;
		ret->body = o->body;
	}
	return 0;
}

static long file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	return n;
}

/* Revalidation: fetch keeps the validators, fetch_if_changed asks with
 * them, a 304 is "not modified" with nothing written, a changed object is
 * downloaded with its new ETag; a location with an eTag is never asked
 * conditionally. */
static void test_revalidation(void **state)
{
	struct rollout_testing *t =
	    rollout_testing_new("s3", "endpoint: http://s3.test\naddressing: path\nregion: us-east-1\n"
				      "access_key_id: AKID\nsecret_access_key: secret\n");
	const struct rollout_plugin *desc = rollout_plugin_v1();
	const struct rollout_source_ops *ops = desc->ops.source;
	struct fake_object obj = {.body = "PK\x03\x04version-1", .etag_hdr = "ETag: \"e1\""};
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.compute_platform = "Server", .region = "us-east-1");
	const char *rev = "{\"revisionType\":\"S3\",\"s3Location\":{\"bucket\":\"b\",\"key\":\"app.zip\"}}";
	const char *pinned =
	    "{\"revisionType\":\"S3\",\"s3Location\":{\"bucket\":\"b\",\"key\":\"app.zip\",\"eTag\":\"e1\"}}";
	struct rollout_fetch_result res;
	struct rollout_fetch_cached held = {.size = sizeof(held), .sha256 = "x", .etag = "e1"};
	struct rollout_error e = {.size = sizeof(e)};
	char dest[] = "/tmp/rd-s3-XXXXXX", err[256];
	void *st = NULL;
	int fd = mkstemp(dest);

	assert_true(fd >= 0);
	close(fd);
	assert_non_null(t);
	assert_int_equal(rollout_testing_init(t, desc, &st, err, sizeof(err)), 0);
	assert_non_null(ops->fetch_if_changed);
	rollout_testing_set_responder(t, fake_s3, &obj);

	res = (struct rollout_fetch_result){.size = sizeof(res)};
	assert_int_equal(ops->fetch(st, &dep, rev, dest, 10000, &res, &e), 0);
	assert_string_equal(res.etag, "e1");
	assert_string_equal(res.last_modified, "Sun, 06 Dec 2026 01:00:00 GMT");
	assert_false(res.not_modified);
	assert_int_equal(file_size(dest), (long)strlen(obj.body));
	assert_null(strstr(rollout_testing_last_request(t)->headers, "If-None-Match"));

	/* unchanged: If-None-Match, 304, nothing written */
	res = (struct rollout_fetch_result){.size = sizeof(res)};
	assert_int_equal(ops->fetch_if_changed(st, &dep, rev, &held, dest, 10000, &res, &e), 0);
	assert_non_null(strstr(rollout_testing_last_request(t)->headers, "If-None-Match: \"e1\""));
	assert_true(res.not_modified);
	assert_int_equal(file_size(dest), 0);

	/* changed: downloaded, with its new ETag */
	obj.body = "PK\x03\x04version-two";
	snprintf(obj.etag_hdr, sizeof(obj.etag_hdr), "ETag: \"e2\"");
	res = (struct rollout_fetch_result){.size = sizeof(res)};
	assert_int_equal(ops->fetch_if_changed(st, &dep, rev, &held, dest, 10000, &res, &e), 0);
	assert_false(res.not_modified);
	assert_string_equal(res.etag, "e2");
	assert_int_equal(file_size(dest), (long)strlen(obj.body));

	/* no ETag held: If-Modified-Since */
	held.etag = NULL;
	held.last_modified = "Sun, 06 Dec 2026 01:00:00 GMT";
	res = (struct rollout_fetch_result){.size = sizeof(res)};
	assert_int_equal(ops->fetch_if_changed(st, &dep, rev, &held, dest, 10000, &res, &e), 0);
	assert_non_null(
	    strstr(rollout_testing_last_request(t)->headers, "If-Modified-Since: Sun, 06 Dec 2026 01:00:00 GMT"));

	/* a location that names its eTag is checked against it, never asked conditionally */
	held.etag = "e1";
	res = (struct rollout_fetch_result){.size = sizeof(res)};
	assert_int_equal(ops->fetch_if_changed(st, &dep, pinned, &held, dest, 10000, &res, &e), -EBADMSG);
	assert_null(strstr(rollout_testing_last_request(t)->headers, "If-"));

	/* a result from an older daemon (without the validators) is not written past its size */
	res = (struct rollout_fetch_result){.size = offsetof(struct rollout_fetch_result, etag)};
	memset(res.etag, 'Z', sizeof(res.etag));
	assert_int_equal(ops->fetch(st, &dep, rev, dest, 10000, &res, &e), 0);
	assert_int_equal(res.etag[0], 'Z');

	desc->destroy(st);
	rollout_testing_free(t);
	unlink(dest);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addressing), cmocka_unit_test(test_encoding),	    cmocka_unit_test(test_srcutil),
	    cmocka_unit_test(test_describe),   cmocka_unit_test(test_revalidation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
