/* daemon/auth: signature verification with keys from a lookup function, and
 * the policy table. Requests are signed with lib/sigv4 as a client would. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "auth/auth.h"
#include "core/error.h"
#include "core/httpd.h"
#include "sigv4.h"

static const struct auth_key keys[] = {
    {.id = "AKRDADMIN", .secret = "admin-secret", .name = "root", .policy = "admin"},
    {.id = "AKRDDEPLOY", .secret = "deploy-secret", .name = "ci", .policy = "deployer"},
    {.id = "AKRDREAD", .secret = "read-secret", .name = "viewer", .policy = "readonly"},
    {.id = "AKRDAGENT", .secret = "agent-secret", .name = "h1", .policy = "agent", .instance = "host-1"},
    {.id = "AKRDBROKEN", .secret = "x", .name = "broken", .policy = "admin"},
    {.id = "AKRDOFF", .secret = "off-secret", .name = "off", .policy = "admin", .status = "Inactive"},
    {.id = "AKRDROT", .secret = "new-secret", .old_secret = "old-secret", .name = "rot", .policy = "deployer"},
    {.id = "AKRDWEB",
     .secret = "web-secret",
     .name = "web",
     .policy = "deployer",
     .applications = "[\"web\", \"api-*\"]"},
};

/* The applications of the deployments the scope tests name. */
static int deployment_application(void *userdata, const char *id, char *app, size_t len)
{
	(void)userdata;
	if (!strcmp(id, "d-WEB"))
		snprintf(app, len, "web");
	else if (!strcmp(id, "d-BILLING"))
		snprintf(app, len, "billing");
	else if (!strcmp(id, "d-BROKEN"))
		return -EIO;
	else
		return -ENOENT;
	return 0;
}

static int n_used;
static char last_used[64];

static void key_used(void *userdata, const char *id, int64_t when_ms)
{
	(void)userdata;
	(void)when_ms;
	n_used++;
	snprintf(last_used, sizeof(last_used), "%s", id);
}

static int lookup(void *userdata, const char *id, struct auth_key *ret)
{
	(void)userdata;
	if (!strcmp(id, "AKRDBROKEN"))
		return -EIO;		   /* the store cannot be read */
	if (!strncmp(id, "AKRDMANY", 8)) { /* a fleet's agent keys */
		memset(ret, 0, sizeof(*ret));
		snprintf(ret->id, sizeof(ret->id), "%s", id);
		snprintf(ret->secret, sizeof(ret->secret), "many-secret");
		snprintf(ret->policy, sizeof(ret->policy), "agent");
		snprintf(ret->instance, sizeof(ret->instance), "host-%s", id + 8);
		return 0;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(keys[i].id, id)) {
			*ret = keys[i];
			return 0;
		}
	return -ENOENT;
}

/* 2023-11-14T22:13:20Z */
#define NOW 1700000000
#define AMZ_DATE "20231114T221320Z"

/* A request signed by key for service and region, held with its headers. */
struct signed_req {
	struct sigv4_header h[4];
	char target[128], prefix[128], authz[512];
	struct auth_request req;
};

static void sign(struct signed_req *s, const char *key_id, const char *secret, const char *service, const char *region,
		 const char *target, const char *method, const char *path, const char *body)
{
	struct sigv4_auth au;
	char sig[65], err[256];

	memset(s, 0, sizeof(*s));
	snprintf(s->target, sizeof(s->target), "%s", target ? target : "");
	s->h[0] = (struct sigv4_header){"Host", "127.0.0.1:8740"};
	s->h[1] = (struct sigv4_header){"X-Amz-Date", AMZ_DATE};
	s->h[2] = (struct sigv4_header){"X-Amz-Target", s->target};
	s->req.signed_request = (struct sigv4_request){
	    .method = method, .path = path, .headers = s->h, .n_headers = 3, .body = body, .body_len = strlen(body)};
	memset(&au, 0, sizeof(au));
	snprintf(au.access_key, sizeof(au.access_key), "%s", key_id);
	memcpy(au.date, AMZ_DATE, 8);
	snprintf(au.region, sizeof(au.region), "%s", region);
	snprintf(au.service, sizeof(au.service), "%s", service);
	snprintf(au.signed_headers, sizeof(au.signed_headers), "host;x-amz-date;x-amz-target");
	assert_int_equal(sigv4_signature(&s->req.signed_request, &au, AMZ_DATE, secret, sig, err, sizeof(err)), 0);
	snprintf(s->authz, sizeof(s->authz),
		 "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s", key_id,
		 AMZ_DATE, region, service, au.signed_headers, sig);
	s->h[3] = (struct sigv4_header){"Authorization", s->authz};
	s->req.signed_request.n_headers = 4;
	s->req.service = service;
	if (target) {
		const char *dot = strrchr(target, '.');
		snprintf(s->prefix, sizeof(s->prefix), "%.*s", (int)(dot - target), target);
		s->req.target_prefix = s->prefix;
		s->req.operation = strrchr(s->target, '.') + 1;
	}
}

/* A control API call "CodeDeploy_20141006.<op>" signed with keys[i]. */
static void sign_op(struct signed_req *s, size_t i, const char *op)
{
	char target[128];

	snprintf(target, sizeof(target), "CodeDeploy_20141006.%s", op);
	sign(s, keys[i].id, keys[i].secret, "codedeploy", "us-east-1", target, "POST", "/", "{}");
}

static struct auth *new_auth(char *const *regions)
{
	struct auth *a = NULL;

	assert_int_equal(auth_new(lookup, NULL, regions, &a), 0);
	return a;
}

static void test_valid_signature(void **state)
{
	struct auth *a = new_auth(NULL);
	struct signed_req s;
	struct httpd_identity id;
	struct rd_error e = RD_ERROR_INIT;

	sign(&s, "AKRDAGENT", "agent-secret", "codedeploy-commands", "eu-west-3",
	     "CodeDeployCommandService_v20141006.PollHostCommand", "POST", "/", "{\"HostIdentifier\":\"x\"}");
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), 0);
	assert_string_equal(id.access_key_id, "AKRDAGENT");
	assert_string_equal(id.name, "h1");
	assert_string_equal(id.policy, "agent");
	assert_string_equal(id.instance, "host-1");
	assert_string_equal(id.region, "eu-west-3");
	/* within the allowed skew either way */
	assert_int_equal(auth_check(a, &s.req, NOW + 14 * 60, &id, &e), 0);
	assert_int_equal(auth_check(a, &s.req, NOW - 14 * 60, &id, &e), 0);
	auth_free(a);
}

static void test_tampered(void **state)
{
	struct auth *a = new_auth(NULL);
	struct signed_req s;
	struct httpd_identity id;
	struct rd_error e = RD_ERROR_INIT;

	sign_op(&s, 0, "CreateApplication");
	s.req.signed_request.body = "{\"applicationName\":\"other\"}";
	s.req.signed_request.body_len = strlen(s.req.signed_request.body);
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), -EPERM);
	assert_string_equal(e.code, "InvalidSignatureException");

	/* a signed header changed after signing */
	sign_op(&s, 0, "ListApplications");
	snprintf(s.target, sizeof(s.target), "CodeDeploy_20141006.DeleteApplication");
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), -EPERM);
	assert_string_equal(e.code, "InvalidSignatureException");

	/* signed with another key's secret */
	sign(&s, "AKRDADMIN", "deploy-secret", "codedeploy", "us-east-1", "CodeDeploy_20141006.ListApplications",
	     "POST", "/", "{}");
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), -EPERM);
	assert_string_equal(e.code, "InvalidSignatureException");
	auth_free(a);
}

static void test_unknown_key_and_lookup_failure(void **state)
{
	struct auth *a = new_auth(NULL);
	struct signed_req s;
	struct httpd_identity id;
	struct rd_error e = RD_ERROR_INIT;

	sign(&s, "AKRDNOBODY", "whatever", "codedeploy", "us-east-1", "CodeDeploy_20141006.ListApplications", "POST",
	     "/", "{}");
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), -EPERM);
	assert_string_equal(e.code, "UnrecognizedClientException");
	assert_non_null(strstr(e.message, "AKRDNOBODY"));

	/* a store that cannot be read is our fault, not the caller's */
	sign_op(&s, 4, "ListApplications");
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), -EIO);
	assert_string_equal(e.code, "InternalFailure");
	auth_free(a);
}

static void test_skew(void **state)
{
	struct auth *a = new_auth(NULL);
	struct signed_req s;
	struct httpd_identity id;
	struct rd_error e = RD_ERROR_INIT;

	sign_op(&s, 0, "ListApplications");
	assert_int_equal(auth_check(a, &s.req, NOW + 16 * 60, &id, &e), -EPERM);
	assert_string_equal(e.code, "InvalidSignatureException");
	assert_non_null(strstr(e.message, "Signature expired"));
	assert_int_equal(auth_check(a, &s.req, NOW - 16 * 60, &id, &e), -EPERM);
	assert_string_equal(e.code, "InvalidSignatureException");
	assert_non_null(strstr(e.message, "not yet current"));
	auth_free(a);
}

static void test_scope_and_missing(void **state)
{
	char *regions[] = {"us-east-1", NULL};
	struct auth *a = new_auth(regions);
	struct signed_req s;
	struct httpd_identity id;
	struct rd_error e = RD_ERROR_INIT;

	/* the route wants another service */
	sign(&s, "AKRDADMIN", "admin-secret", "codedeploy-commands", "us-east-1",
	     "CodeDeploy_20141006.ListApplications", "POST", "/", "{}");
	s.req.service = "codedeploy";
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), -EPERM);
	assert_string_equal(e.code, "InvalidSignatureException");
	assert_non_null(strstr(e.message, "'codedeploy'"));

	/* a region outside regions_allowed */
	sign(&s, "AKRDADMIN", "admin-secret", "codedeploy", "eu-west-3", "CodeDeploy_20141006.ListApplications", "POST",
	     "/", "{}");
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), -EPERM);
	assert_string_equal(e.code, "InvalidSignatureException");
	assert_non_null(strstr(e.message, "regions_allowed"));

	/* not signed at all, or signed with garbage */
	sign_op(&s, 0, "ListApplications");
	s.req.signed_request.n_headers = 3;
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), -EPERM);
	assert_string_equal(e.code, "MissingAuthenticationTokenException");
	s.h[3].value = "AWS4-HMAC-SHA256 Credential=nonsense";
	s.req.signed_request.n_headers = 4;
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), -EPERM);
	assert_string_equal(e.code, "IncompleteSignatureException");
	auth_free(a);
}

/* Each policy through the whole check: allowed calls pass, denied ones
 * answer AccessDeniedException naming the policies that would do. */
static void test_policies_end_to_end(void **state)
{
	static const struct {
		size_t key;
		const char *op;
		const char *who; /* NULL: allowed */
	} cases[] = {
	    {0, "CreateApplication", NULL},
	    {1, "CreateApplication", NULL},
	    {2, "CreateApplication", "deployer or admin"},
	    {3, "CreateApplication", "deployer or admin"},
	    {2, "ListApplications", NULL},
	    {2, "BatchGetApplications", NULL},
	    {2, "GetDeploymentConfig", NULL},
	    {3, "ListApplications", "deployer, readonly or admin"},
	};
	struct auth *a = new_auth(NULL);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct signed_req s;
		struct httpd_identity id;
		struct rd_error e = RD_ERROR_INIT;
		char want[256];
		int r;

		sign_op(&s, cases[i].key, cases[i].op);
		r = auth_check(a, &s.req, NOW, &id, &e);
		if (!cases[i].who) {
			assert_int_equal(r, 0);
			assert_string_equal(id.policy, keys[cases[i].key].policy);
			continue;
		}
		assert_int_equal(r, -EACCES);
		assert_string_equal(e.code, "AccessDeniedException");
		snprintf(want, sizeof(want), "User: %s (policy %s) is not authorized to perform: codedeploy:%s",
			 keys[cases[i].key].id, keys[cases[i].key].policy, cases[i].op);
		assert_non_null(strstr(e.message, want));
		snprintf(want, sizeof(want), "use an access key with policy %s", cases[i].who);
		assert_non_null(strstr(e.message, want));
	}

	/* a path route is named by method and path */
	struct signed_req s;
	struct httpd_identity id;
	struct rd_error e = RD_ERROR_INIT;
	sign(&s, "AKRDREAD", "read-secret", "codedeploy-commands", "us-east-1", NULL, "GET", "/bundles/abc", "");
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), -EACCES);
	assert_non_null(strstr(e.message, "codedeploy-commands:/bundles/abc"));
	assert_non_null(strstr(e.message, "policy agent, deployer or admin"));
	sign(&s, "AKRDAGENT", "agent-secret", "codedeploy-commands", "us-east-1", NULL, "GET", "/bundles/abc", "");
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), 0);
	auth_free(a);
}

/* The table, call by call, for every policy. */
static void test_policy_table(void **state)
{
	static const struct {
		const char *action;
		bool admin, deployer, readonly, agent;
	} cases[] = {
	    {"CodeDeploy_20141006.CreateDeployment", true, true, false, false},
	    {"CodeDeploy_20141006.StopDeployment", true, true, false, false},
	    {"CodeDeploy_20141006.ListDeployments", true, true, true, false},
	    {"CodeDeploy_20141006.BatchGetDeployments", true, true, true, false},
	    {"CodeDeploy_20141006.GetDeployment", true, true, true, false},
	    {"CodeDeploy_20141006.NoSuchOperation", true, true, false, false},
	    {"Rolloutd_v1.NoSuchOperation", true, true, false, false},
	    {"Rolloutd_v1.CreateAccessKey", true, false, false, false},
	    {"Rolloutd_v1.ListAccessKeys", true, false, false, false},
	    {"Rolloutd_v1.DeleteAccessKey", true, false, false, false},
	    {"CodeDeployCommandService_v20141006.PollHostCommand", true, false, false, true},
	    {"CodeDeployCommandService.PutHostCommandComplete", true, false, false, true},
	    {"GET /bundles/0123abcd", true, true, false, true},
	    {"HEAD /bundles/0123abcd", true, true, false, true},
	    {"POST /bundles/uploads", true, true, false, false},
	    {"PUT /bundles/uploads/u-1", true, true, false, false},
	    {"GET /elsewhere", true, false, false, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *a = cases[i].action;
		if (auth_policy_allows("admin", a) != cases[i].admin ||
		    auth_policy_allows("deployer", a) != cases[i].deployer ||
		    auth_policy_allows("readonly", a) != cases[i].readonly ||
		    auth_policy_allows("agent", a) != cases[i].agent)
			fail_msg("policy table disagrees on %s", a);
	}
	/* a key with a policy the table does not know may do nothing */
	assert_false(auth_policy_allows("root", "CodeDeploy_20141006.ListApplications"));
	assert_false(auth_policy_allows(NULL, "CodeDeploy_20141006.ListApplications"));

	char who[64];
	auth_policy_who_may("Rolloutd_v1.ListAccessKeys", who, sizeof(who));
	assert_string_equal(who, "admin");
	auth_policy_who_may("CodeDeployCommandService.PollHostCommand", who, sizeof(who));
	assert_string_equal(who, "agent or admin");
}

/* A control API call with a JSON body signed with key i. */
static int call_with(struct auth *a, size_t i, const char *prefix, const char *op, const char *body, struct rd_error *e)
{
	struct signed_req s;
	struct httpd_identity id;
	char target[128];

	snprintf(target, sizeof(target), "%s.%s", prefix, op);
	sign(&s, keys[i].id, keys[i].secret, "codedeploy", "us-east-1", target, "POST", "/", body);
	*e = (struct rd_error)RD_ERROR_INIT;
	return auth_check(a, &s.req, NOW, &id, e);
}

static void test_inactive_and_rotated_keys(void **state)
{
	struct auth *a = new_auth(NULL);
	struct signed_req s;
	struct httpd_identity id;
	struct rd_error e = RD_ERROR_INIT;

	sign_op(&s, 5, "ListApplications");
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), -EPERM);
	assert_string_equal(e.code, "UnrecognizedClientException");
	assert_non_null(strstr(e.message, "Inactive"));
	/* both secrets of a key being rotated sign; a third does not */
	sign(&s, "AKRDROT", "new-secret", "codedeploy", "us-east-1", "CodeDeploy_20141006.ListApplications", "POST",
	     "/", "{}");
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), 0);
	sign(&s, "AKRDROT", "old-secret", "codedeploy", "us-east-1", "CodeDeploy_20141006.ListApplications", "POST",
	     "/", "{}");
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), 0);
	sign(&s, "AKRDROT", "other-secret", "codedeploy", "us-east-1", "CodeDeploy_20141006.ListApplications", "POST",
	     "/", "{}");
	assert_int_equal(auth_check(a, &s.req, NOW, &id, &e), -EPERM);
	assert_string_equal(e.code, "InvalidSignatureException");
	auth_free(a);
}

static void test_verify_secret(void **state)
{
	struct auth *a = new_auth(NULL);
	struct httpd_identity id;

	assert_int_equal(auth_verify_secret(a, "AKRDDEPLOY", "deploy-secret", &id), 0);
	assert_string_equal(id.policy, "deployer");
	assert_int_equal(auth_verify_secret(a, "AKRDDEPLOY", "deploy-secreT", &id), -EPERM);
	assert_int_equal(auth_verify_secret(a, "AKRDDEPLOY", "", &id), -EPERM);
	assert_int_equal(auth_verify_secret(a, "AKRDNONE", "deploy-secret", &id), -EPERM);
	assert_int_equal(auth_verify_secret(a, "AKRDOFF", "off-secret", &id), -EPERM);
	assert_int_equal(auth_verify_secret(a, "AKRDROT", "old-secret", &id), 0);
	assert_int_equal(auth_verify_secret(a, "AKRDROT", "new-secret", &id), 0);
	assert_int_equal(auth_verify_secret(a, "AKRDBROKEN", "x", &id), -EIO);
	auth_free(a);
}

/* "Basic base64(user:password)" into buf. */
static const char *basic(char *buf, const char *user, const char *password)
{
	char plain[300];
	int n = snprintf(plain, sizeof(plain), "%s:%s", user, password);

	memcpy(buf, "Basic ", 6);
	EVP_EncodeBlock((unsigned char *)buf + 6, (const unsigned char *)plain, n);
	return buf;
}

/* GET /metrics with HTTP Basic credentials of an access key (Prometheus'
 * basic_auth): the key checked as auth_verify_secret does, then its policy. */
static void test_basic(void **state)
{
	struct auth *a = new_auth(NULL);
	struct httpd_identity id;
	struct rd_error e;
	char h[512];

	assert_int_equal(auth_check_basic(a, basic(h, "AKRDREAD", "read-secret"), "GET /metrics", &id, &e), 0);
	assert_string_equal(id.access_key_id, "AKRDREAD");
	assert_string_equal(id.policy, "readonly");
	assert_int_equal(auth_check_basic(a, basic(h, "AKRDADMIN", "admin-secret"), "GET /metrics", &id, &e), 0);
	assert_int_equal(auth_check_basic(a, basic(h, "AKRDROT", "old-secret"), "GET /metrics", &id, &e), -EACCES);
	assert_string_equal(e.code, "AccessDeniedException");
	assert_non_null(strstr(e.message, "readonly or admin"));
	/* wrong, unknown, inactive: one answer */
	assert_int_equal(auth_check_basic(a, basic(h, "AKRDREAD", "read-secreT"), "GET /metrics", &id, &e), -EPERM);
	assert_string_equal(e.code, "UnrecognizedClientException");
	assert_int_equal(auth_check_basic(a, basic(h, "AKRDNONE", "read-secret"), "GET /metrics", &id, &e), -EPERM);
	assert_int_equal(auth_check_basic(a, basic(h, "AKRDOFF", "off-secret"), "GET /metrics", &id, &e), -EPERM);
	assert_int_equal(auth_check_basic(a, basic(h, "", "read-secret"), "GET /metrics", &id, &e), -EPERM);
	assert_int_equal(auth_check_basic(a, basic(h, "AKRDBROKEN", "x"), "GET /metrics", &id, &e), -EIO);
	/* not Basic credentials of a key */
	assert_int_equal(auth_check_basic(a, NULL, "GET /metrics", &id, &e), -EPERM);
	assert_string_equal(e.code, "MissingAuthenticationTokenException");
	assert_int_equal(auth_check_basic(a, "Bearer abc", "GET /metrics", &id, &e), -EPERM);
	assert_int_equal(auth_check_basic(a, "Basic !!!!", "GET /metrics", &id, &e), -EPERM);
	assert_int_equal(auth_check_basic(a, "Basic QUtSRFJFQUQ=", "GET /metrics", &id, &e), -EPERM); /* no colon */
	assert_int_equal(auth_check_basic(a, "Basic ", "GET /metrics", &id, &e), -EPERM);
	auth_free(a);
}

/* A key's use is recorded once a minute, not per request. */
static void test_last_used_throttled(void **state)
{
	struct auth *a = new_auth(NULL);
	struct rd_error e;

	auth_set_key_used(a, key_used);
	n_used = 0;
	for (int i = 0; i < 50; i++)
		assert_int_equal(call_with(a, 1, "CodeDeploy_20141006", "ListApplications", "{}", &e), 0);
	assert_int_equal(n_used, 1);
	assert_string_equal(last_used, "AKRDDEPLOY");
	assert_int_equal(call_with(a, 2, "CodeDeploy_20141006", "ListApplications", "{}", &e), 0);
	assert_int_equal(n_used, 2);
	auth_free(a);
}

/* Also with as many keys as a large fleet has agents: each recorded once a
 * minute, however the key ids hash. */
static void test_last_used_throttled_many_keys(void **state)
{
	struct auth *a = new_auth(NULL);
	struct httpd_identity id;
	char kid[32];

	auth_set_key_used(a, key_used);
	n_used = 0;
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 10000; i++) {
			snprintf(kid, sizeof(kid), "AKRDMANY%05d", i);
			assert_int_equal(auth_verify_secret(a, kid, "many-secret", &id), 0);
		}
	assert_int_equal(n_used, 10000);
	auth_free(a);
}

static void test_application_scope(void **state)
{
	struct auth *a = new_auth(NULL);
	struct rd_error e;
	const char *cd = "CodeDeploy_20141006";

	auth_set_deployment_application(a, deployment_application);
	/* named applications */
	assert_int_equal(call_with(a, 7, cd, "CreateApplication", "{\"applicationName\":\"web\"}", &e), 0);
	assert_int_equal(call_with(a, 7, cd, "GetApplication", "{\"applicationName\":\"api-eu\"}", &e), 0);
	assert_int_equal(call_with(a, 7, cd, "CreateApplication", "{\"applicationName\":\"billing\"}", &e), -EACCES);
	assert_string_equal(e.code, "AccessDeniedException");
	assert_non_null(strstr(e.message, "application billing is outside the key's scope"));
	assert_int_equal(
	    call_with(a, 7, cd, "BatchGetApplications", "{\"applicationNames\":[\"web\",\"billing\"]}", &e), -EACCES);
	assert_int_equal(call_with(a, 7, cd, "BatchGetApplications", "{\"applicationNames\":[\"web\",\"api-x\"]}", &e),
			 0);
	/* renaming out of the scope */
	assert_int_equal(call_with(a, 7, cd, "UpdateApplication",
				   "{\"applicationName\":\"web\",\"newApplicationName\":\"billing\"}", &e),
			 -EACCES);
	assert_int_equal(call_with(a, 7, cd, "UpdateApplication", "{\"applicationName\":\"web\"}", &e), 0);
	/* deployments by their application */
	assert_int_equal(call_with(a, 7, cd, "StopDeployment", "{\"deploymentId\":\"d-WEB\"}", &e), 0);
	assert_int_equal(call_with(a, 7, cd, "StopDeployment", "{\"deploymentId\":\"d-BILLING\"}", &e), -EACCES);
	assert_non_null(strstr(e.message, "deployment d-BILLING belongs to an application outside"));
	assert_int_equal(
	    call_with(a, 7, cd, "BatchGetDeployments", "{\"deploymentIds\":[\"d-WEB\",\"d-BILLING\"]}", &e), -EACCES);
	assert_int_equal(call_with(a, 7, cd, "GetDeployment", "{\"deploymentId\":\"d-NONE\"}", &e), 0);
	assert_int_equal(call_with(a, 7, cd, "GetDeployment", "{\"deploymentId\":\"d-BROKEN\"}", &e), -EIO);
	assert_string_equal(e.code, "InternalFailure");
	assert_int_equal(call_with(a, 7, "Rolloutd_v1", "GetDeploymentLogs", "{\"DeploymentId\":\"d-BILLING\"}", &e),
			 -EACCES);
	/* ARNs */
	assert_int_equal(
	    call_with(a, 7, cd, "TagResource",
		      "{\"ResourceArn\":\"arn:aws:codedeploy:us-east-1:000000000000:deploymentgroup:web/prod\"}", &e),
	    0);
	assert_int_equal(
	    call_with(a, 7, cd, "TagResource",
		      "{\"ResourceArn\":\"arn:aws:codedeploy:us-east-1:000000000000:application:billing\"}", &e),
	    -EACCES);
	/* listings across applications: must name one, or refused */
	assert_int_equal(call_with(a, 7, cd, "ListDeployments", "{}", &e), -EACCES);
	assert_non_null(strstr(e.message, "must name one"));
	assert_int_equal(call_with(a, 7, cd, "ListDeployments", "{\"applicationName\":\"web\"}", &e), 0);
	assert_int_equal(call_with(a, 7, cd, "ListApplications", "{}", &e), -EACCES);
	/* shared resources: read, not changed */
	assert_int_equal(call_with(a, 7, cd, "ListDeploymentConfigs", "{}", &e), 0);
	assert_int_equal(call_with(a, 7, cd, "CreateDeploymentConfig", "{\"deploymentConfigName\":\"x\"}", &e),
			 -EACCES);
	assert_int_equal(call_with(a, 7, cd, "RegisterOnPremisesInstance", "{\"instanceName\":\"h\"}", &e), -EACCES);
	/* an unscoped deployer may do all of it */
	assert_int_equal(call_with(a, 1, cd, "CreateApplication", "{\"applicationName\":\"billing\"}", &e), 0);
	assert_int_equal(call_with(a, 1, cd, "ListApplications", "{}", &e), 0);
	auth_free(a);
}

static void test_scope_patterns(void **state)
{
	assert_true(auth_scope_allows(NULL, "anything"));
	assert_true(auth_scope_allows("", "anything"));
	assert_true(auth_scope_allows("[\"web\"]", "web"));
	assert_false(auth_scope_allows("[\"web\"]", "web2"));
	assert_true(auth_scope_allows("[\"web-*\"]", "web-eu"));
	assert_false(auth_scope_allows("[\"web-*\"]", "web"));
	assert_false(auth_scope_allows("[\"web\"]", NULL));
	assert_false(auth_scope_allows("not json", "web"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_signature),
	    cmocka_unit_test(test_inactive_and_rotated_keys),
	    cmocka_unit_test(test_verify_secret),
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_last_used_throttled),
	    cmocka_unit_test(test_last_used_throttled_many_keys),
	    cmocka_unit_test(test_application_scope),
	    cmocka_unit_test(test_scope_patterns),
	    cmocka_unit_test(test_tampered),
	    cmocka_unit_test(test_unknown_key_and_lookup_failure),
	    cmocka_unit_test(test_skew),
	    cmocka_unit_test(test_scope_and_missing),
	    cmocka_unit_test(test_policies_end_to_end),
	    cmocka_unit_test(test_policy_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
