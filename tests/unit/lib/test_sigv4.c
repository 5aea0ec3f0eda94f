/* lib/sigv4: verification against known vectors (the AWS SigV4 test suite's
 * get-vanilla / post-vanilla / query-order, the IAM ListUsers example of the
 * AWS docs, and a CodeDeploy request signed by botocore), and the negative
 * paths. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cryptoutil.h"
#include "sigv4.h"
#include "util.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T_2015 1440938160 /* 20150830T123600Z */

static int64_t now_2015(void)
{
	int64_t t = 0;
	assert_int_equal(sigv4_parse_amz_date("20150830T123600Z", &t), 0);
	assert_int_equal(t, T_2015);
	return t;
}

static void check_vector(const char *method, const char *path, const char *query, struct sigv4_header *h, size_t nh,
			 const char *body, const char *authz, const char *secret)
{
	struct sigv4_auth au;
	struct sigv4_request req = {.method = method,
				    .path = path,
				    .query = query,
				    .headers = h,
				    .n_headers = nh,
				    .body = body,
				    .body_len = body ? strlen(body) : 0};
	char err[512];

	assert_int_equal(sigv4_parse_authorization(authz, &au, err, sizeof(err)), 0);
	assert_int_equal(sigv4_verify(&req, &au, secret, now_2015(), SIGV4_MAX_SKEW_S, err, sizeof(err)), 0);
	/* a different secret fails, though the signing key of this scope is
	 * remembered now; the right one still passes (from the remembered key) */
	assert_int_equal(sigv4_verify(&req, &au, "nope", now_2015(), SIGV4_MAX_SKEW_S, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "signature"));
	assert_int_equal(sigv4_verify(&req, &au, secret, now_2015(), SIGV4_MAX_SKEW_S, err, sizeof(err)), 0);
	assert_int_equal(sigv4_verify(&req, &au, "nope", now_2015(), SIGV4_MAX_SKEW_S, err, sizeof(err)), -EACCES);
}

static void test_get_vanilla(void **state)
{
	struct sigv4_header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
	check_vector(
	    "GET", "/", NULL, h, 2, NULL,
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	    "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	    SECRET);
}

static void test_post_vanilla(void **state)
{
	struct sigv4_header h[] = {{"host", "example.amazonaws.com"}, {"x-amz-date", "20150830T123600Z"}};
	check_vector(
	    "POST", "/", NULL, h, 2, "",
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	    "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
	    SECRET);
}

static void test_query_order(void **state)
{
	struct sigv4_header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
	check_vector(
	    "GET", "/", "Param2=value2&Param1=value1", h, 2, NULL,
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	    "SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
	    SECRET);
}

static void test_iam_docs_example(void **state)
{
	/* value whitespace is trimmed and collapsed */
	struct sigv4_header h[] = {{"Content-Type", "  application/x-www-form-urlencoded;   charset=utf-8 "},
				   {"Host", "iam.amazonaws.com"},
				   {"X-Amz-Date", "20150830T123600Z"}};
	check_vector("GET", "/", "Action=ListUsers&Version=2010-05-08", h, 3, NULL,
		     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
		     "SignedHeaders=content-type;host;x-amz-date, "
		     "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
		     SECRET);
}

static struct sigv4_header cd_headers[] = {
    {"Host", "127.0.0.1:18081"},
    {"Content-Type", "application/x-amz-json-1.1"},
    {"X-Amz-Target", "CodeDeploy_20141006.CreateApplication"},
    {"X-Amz-Date", "20150830T123600Z"},
    {"User-Agent", "unsigned/1.0"},
};
#define CD_AUTHZ                                                                                                       \
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/codedeploy/aws4_request, "                         \
	"SignedHeaders=content-type;host;x-amz-date;x-amz-target, "                                                    \
	"Signature=bca2c9b64a22286f8e0a0f5a31e2a332824ca32e8f37e7286d00596d55a0cd9c"

static void test_codedeploy_botocore(void **state)
{
	struct sigv4_auth au;
	char err[512];

	check_vector("POST", "/", NULL, cd_headers, 5, "{\"applicationName\": \"x\"}", CD_AUTHZ, SECRET);
	assert_int_equal(sigv4_parse_authorization(CD_AUTHZ, &au, err, sizeof(err)), 0);
	assert_string_equal(au.access_key, "AKIDEXAMPLE");
	assert_string_equal(au.region, "eu-west-1");
	assert_string_equal(au.service, "codedeploy");
	assert_string_equal(au.date, "20150830");
}

static void test_tampered(void **state)
{
	struct sigv4_auth au;
	struct sigv4_request req = {.method = "POST", .path = "/", .headers = cd_headers, .n_headers = 5};
	char err[512];

	assert_int_equal(sigv4_parse_authorization(CD_AUTHZ, &au, err, sizeof(err)), 0);
	req.body = "{\"applicationName\": \"y\"}";
	req.body_len = strlen(req.body);
	assert_int_equal(sigv4_verify(&req, &au, SECRET, T_2015, SIGV4_MAX_SKEW_S, err, sizeof(err)), -EACCES);
	/* another signed header value */
	struct sigv4_header h2[5];
	memcpy(h2, cd_headers, sizeof(h2));
	h2[2].value = "CodeDeploy_20141006.DeleteApplication";
	req.headers = h2;
	req.body = "{\"applicationName\": \"x\"}";
	req.body_len = strlen(req.body);
	assert_int_equal(sigv4_verify(&req, &au, SECRET, T_2015, SIGV4_MAX_SKEW_S, err, sizeof(err)), -EACCES);
	/* a signed header missing */
	req.headers = cd_headers + 1;
	req.n_headers = 4;
	assert_int_equal(sigv4_verify(&req, &au, SECRET, T_2015, SIGV4_MAX_SKEW_S, err, sizeof(err)), -EINVAL);
}

static void test_skew(void **state)
{
	struct sigv4_auth au;
	struct sigv4_request req = {.method = "POST",
				    .path = "/",
				    .headers = cd_headers,
				    .n_headers = 5,
				    .body = "{\"applicationName\": \"x\"}"};
	char err[512];

	req.body_len = strlen(req.body);
	assert_int_equal(sigv4_parse_authorization(CD_AUTHZ, &au, err, sizeof(err)), 0);
	assert_int_equal(sigv4_verify(&req, &au, SECRET, T_2015 + 14 * 60, SIGV4_MAX_SKEW_S, err, sizeof(err)), 0);
	assert_int_equal(sigv4_verify(&req, &au, SECRET, T_2015 + 16 * 60, SIGV4_MAX_SKEW_S, err, sizeof(err)),
			 -ETIMEDOUT);
	assert_non_null(strstr(err, "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z"));
	assert_int_equal(sigv4_verify(&req, &au, SECRET, T_2015 - 16 * 60, SIGV4_MAX_SKEW_S, err, sizeof(err)),
			 -ETIMEDOUT);
	assert_non_null(strstr(err, "not yet current"));
}

static void test_content_sha256(void **state)
{
	const char *body = "{\"host_identifier\": \"h\"}";
	char hash[65], sig[65], authz[512], err[512];
	struct sigv4_auth au;

	rd_sha256_hex(body, strlen(body), hash);
	struct sigv4_header h[] = {
	    {"Host", "d:8740"}, {"X-Amz-Date", "20150830T123600Z"}, {"X-Amz-Content-Sha256", hash}};
	struct sigv4_request req = {
	    .method = "POST", .path = "/", .headers = h, .n_headers = 3, .body = body, .body_len = strlen(body)};
	memset(&au, 0, sizeof(au));
	strcpy(au.access_key, "AK");
	strcpy(au.date, "20150830");
	strcpy(au.region, "us-east-1");
	strcpy(au.service, "codedeploy-commands");
	strcpy(au.signed_headers, "host;x-amz-content-sha256;x-amz-date");
	assert_int_equal(sigv4_signature(&req, &au, "20150830T123600Z", "s", sig, err, sizeof(err)), 0);
	snprintf(authz, sizeof(authz),
		 "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/codedeploy-commands/aws4_request, "
		 "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s",
		 sig);
	assert_int_equal(sigv4_parse_authorization(authz, &au, err, sizeof(err)), 0);
	assert_int_equal(sigv4_verify(&req, &au, "s", T_2015, SIGV4_MAX_SKEW_S, err, sizeof(err)), 0);
	/* the body no longer matches the signed hash */
	req.body = "{\"host_identifier\": \"evil\"}";
	req.body_len = strlen(req.body);
	assert_int_equal(sigv4_verify(&req, &au, "s", T_2015, SIGV4_MAX_SKEW_S, err, sizeof(err)), -EBADMSG);
}

static void test_malformed_authorization(void **state)
{
	static const char *const bad[] = {
	    "",
	    "Basic dXNlcjpwYXNz",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/codedeploy, SignedHeaders=host, Signature=00",
	    "AWS4-HMAC-SHA256 Credential=AK/2015/us-east-1/codedeploy/aws4_request, SignedHeaders=host, "
	    "Signature=0000000000000000000000000000000000000000000000000000000000000000",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/codedeploy/aws4_request, SignedHeaders=host",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/codedeploy/aws4_request, SignedHeaders=host, "
	    "Signature=abc",
	    "AWS4-HMAC-SHA256 Foo=bar",
	};
	struct sigv4_auth au;
	char err[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(sigv4_parse_authorization(bad[i], &au, err, sizeof(err)), -EINVAL);
		assert_true(strlen(err) > 10);
	}
	assert_int_equal(sigv4_parse_authorization(NULL, &au, err, sizeof(err)), -EINVAL);
	int64_t t;
	assert_int_equal(sigv4_parse_amz_date("2015-08-30T12:36:00Z", &t), -EINVAL);
	assert_int_equal(sigv4_parse_amz_date("20151330T123600Z", &t), -EINVAL);
}

/* A fleet's keys, each with its own secret, verified twice over from four
 * threads at once: every signature is checked against the key derived from
 * its own secret (a remembered one included), and a request signed with
 * another key's secret fails though both keys are remembered. */
#define FLEET 3000

static void fleet_request(struct sigv4_request *req, struct sigv4_auth *au, int i, char *body, size_t len)
{
	static struct sigv4_header h[] = {{"Host", "127.0.0.1"}, {"X-Amz-Date", "20150830T123600Z"}};
	char secret[64];

	snprintf(body, len, "{\"n\": %d}", i);
	*req = (struct sigv4_request){
	    .method = "POST", .path = "/", .headers = h, .n_headers = 2, .body = body, .body_len = strlen(body)};
	memset(au, 0, sizeof(*au));
	snprintf(au->access_key, sizeof(au->access_key), "KEY%d", i);
	strcpy(au->date, "20150830");
	strcpy(au->region, "us-east-1");
	strcpy(au->service, "codedeploy-commands");
	strcpy(au->signed_headers, "host;x-amz-date");
	snprintf(secret, sizeof(secret), "secret-of-key-%d", i);
	assert_int_equal(sigv4_signature(req, au, "20150830T123600Z", secret, au->signature, NULL, 0), 0);
}

static void *fleet_verify(void *arg)
{
	int start = *(int *)arg, bad = 0;

	for (int pass = 0; pass < 2; pass++)
		for (int n = 0; n < FLEET; n++) {
			int i = (start + n) % FLEET;
			struct sigv4_request req;
			struct sigv4_auth au;
			char body[32], secret[64], other[64];
			fleet_request(&req, &au, i, body, sizeof(body));
			snprintf(secret, sizeof(secret), "secret-of-key-%d", i);
			snprintf(other, sizeof(other), "secret-of-key-%d", (i + 1) % FLEET);
			if (sigv4_verify(&req, &au, secret, T_2015, SIGV4_MAX_SKEW_S, NULL, 0) != 0)
				bad++;
			if (sigv4_verify(&req, &au, other, T_2015, SIGV4_MAX_SKEW_S, NULL, 0) != -EACCES)
				bad++;
		}
	return (void *)(intptr_t)bad;
}

static void test_many_keys(void **state)
{
	pthread_t t[4];
	int start[4];
	void *bad;

	(void)state;
	for (int i = 0; i < 4; i++) {
		start[i] = i * FLEET / 4;
		assert_int_equal(pthread_create(&t[i], NULL, fleet_verify, &start[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_int_equal((intptr_t)bad, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_vanilla),
	    cmocka_unit_test(test_post_vanilla),
	    cmocka_unit_test(test_query_order),
	    cmocka_unit_test(test_iam_docs_example),
	    cmocka_unit_test(test_codedeploy_botocore),
	    cmocka_unit_test(test_tampered),
	    cmocka_unit_test(test_skew),
	    cmocka_unit_test(test_content_sha256),
	    cmocka_unit_test(test_malformed_authorization),
	    cmocka_unit_test(test_many_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
