/* lambda plugin: AppSpec resources, pre-checks, alias weights, hooks,
 * retries and the target view, against a small fake Lambda API behind the
 * host table's http_request (the plugin calls nothing else). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "plugins/lambda/lambda.c"

#include <rollout/testing.h>

/* ------------------------------------------------------------------------ */
/* The fake Lambda behind the test host's responder: one function "fn" with */
/* versions 1..nversions and an alias "live".                               */
/* ------------------------------------------------------------------------ */

static struct {
	bool fn_exists, alias_exists;
	int nversions;
	char alias_version[8];
	char extra_version[8];
	double extra_weight;
	const char *target_state; /* State of the versions */
	/* scripted faults, consumed one per request: -errno = transport, else HTTP status */
	int faults[8];
	int nfaults;
	/* Invoke: how the hook answers */
	bool invoke_fn_error;
	int invoke_status;
	int puts, invokes;
	char body[1024];
} F;

static struct rollout_testing *T;
static int fake_lambda(void *userdata, const struct rollout_testing_request *req, struct rollout_testing_answer *a);

static void fake_reset(void)
{
	rollout_testing_set_responder(T, fake_lambda, NULL); /* also counts requests from 0 */
	memset(&F, 0, sizeof(F));
	F.fn_exists = F.alias_exists = true;
	F.nversions = 2;
	strcpy(F.alias_version, "1");
	F.target_state = "Active";
}

static const char *const not_found_hdr[] = {"X-Amzn-ErrorType: ResourceNotFoundException:http://internal.amazon.com/",
					    NULL};
static const char *const throttled_hdr[] = {"X-Amzn-ErrorType: TooManyRequestsException", NULL};
static const char *const service_hdr[] = {"X-Amzn-ErrorType: ServiceException", NULL};
static const char *const fn_error_hdr[] = {"X-Amz-Function-Error: Unhandled", NULL};

static int answer(struct rollout_testing_answer *a, long status, const char *const *headers, const char *body)
{
	snprintf(F.body, sizeof(F.body), "%s", body);
	a->status = status;
	a->headers = headers;
	a->body = F.body;
	return 0;
}

static bool version_exists(const char *v)
{
	int n = atoi(v);

	return n >= 1 && n <= F.nversions;
}

static int alias_answer(struct rollout_testing_answer *a, long status)
{
	json_t *w = json_object(), *o;
	char *txt;
	int r;

	if (F.extra_version[0])
		json_object_set_new(w, F.extra_version, json_real(F.extra_weight));
	o = json_pack("{s:s, s:s, s:s, s:{s:o}}", "AliasArn", "arn:aws:lambda:us-east-1:123456789012:function:fn:live",
		      "Name", "live", "FunctionVersion", F.alias_version, "RoutingConfig", "AdditionalVersionWeights",
		      w);
	txt = json_dumps(o, JSON_COMPACT);
	r = answer(a, status, NULL, txt);
	free(txt);
	json_decref(o);
	return r;
}

static int fake_lambda(void *userdata, const struct rollout_testing_request *req, struct rollout_testing_answer *a)
{
	const char *path = strstr(req->url, LAM_API);
	char body[256];

	(void)userdata;
	if (F.nfaults > 0) {
		int f = F.faults[0];
		memmove(F.faults, F.faults + 1, sizeof(F.faults) - sizeof(F.faults[0]));
		F.nfaults--;
		if (f < 0)
			return f;
		return answer(a, f, f == 429 ? throttled_hdr : service_hdr, "{\"message\":\"injected\"}");
	}
	if (!path)
		return -EINVAL;
	path += strlen(LAM_API);
	if (strncmp(path, "fn/", 3) != 0 || !F.fn_exists) {
		snprintf(body, sizeof(body), "{\"Type\":\"User\",\"Message\":\"Function not found: %.100s\"}", path);
		return answer(a, 404, not_found_hdr, body);
	}
	path += 3;
	if (strncmp(path, "configuration", 13) == 0) {
		const char *q = strstr(path, "Qualifier=");
		if (q && !version_exists(q + 10))
			return answer(a, 404, not_found_hdr, "{\"Message\":\"Function not found\"}");
		snprintf(body, sizeof(body), "{\"FunctionName\":\"fn\",\"Version\":\"%s\",\"State\":\"%s\"}",
			 q ? q + 10 : "$LATEST", F.target_state);
		return answer(a, 200, NULL, body);
	}
	if (strcmp(path, "aliases/live") == 0) {
		if (!F.alias_exists)
			return answer(a, 404, not_found_hdr, "{\"message\":\"Cannot find alias arn\"}");
		if (strcmp(req->method, "PUT") == 0) {
			json_t *o = json_loads(req->body, 0, NULL), *w, *v;
			const char *k;
			F.puts++;
			snprintf(F.alias_version, sizeof(F.alias_version), "%s",
				 json_string_value(json_object_get(o, "FunctionVersion")));
			F.extra_version[0] = '\0';
			w = json_object_get(json_object_get(o, "RoutingConfig"), "AdditionalVersionWeights");
			json_object_foreach(w, k, v)
			{
				snprintf(F.extra_version, sizeof(F.extra_version), "%s", k);
				F.extra_weight = json_number_value(v);
			}
			json_decref(o);
			return alias_answer(a, 200);
		}
		return alias_answer(a, 201); /* moto answers GetAlias with 201 */
	}
	if (strcmp(path, "invocations") == 0) {
		F.invokes++;
		if (F.invoke_fn_error)
			return answer(a, 200, fn_error_hdr, "{\"errorMessage\":\"boom\",\"errorType\":\"ValueError\"}");
		return answer(a, F.invoke_status ? F.invoke_status : 200, NULL, "null");
	}
	return answer(a, 404, not_found_hdr, "{}");
}

/* ------------------------------------------------------------------------ */

#define APPSPEC_YAML_STYLE                                                                                             \
	"{\"version\":\"0.0\",\"Resources\":[{\"myFn\":{\"Type\":\"AWS::Lambda::Function\",\"Properties\":"            \
	"{\"Name\":\"fn\",\"Alias\":\"live\",\"CurrentVersion\":\"1\",\"TargetVersion\":\"2\"}}}],"                    \
	"\"Hooks\":[{\"BeforeAllowTraffic\":\"hook\"}]}"

#define CONFIG                                                                                                         \
	"endpoint: http://moto:5000/\nregion: us-east-1\naccess_key_id: a\nsecret_access_key: b\nmax_attempts: 3\n"    \
	"timeout: 10s\n"

static struct lam *S;

struct fixture {
	struct rollout_deployment dep;
	struct rollout_shift_call call;
	struct rollout_error err;
	char *state;
};

static void fx_init(struct fixture *fx, const char *appspec)
{
	memset(fx, 0, sizeof(*fx));
	fx->dep =
	    (struct rollout_deployment)ROLLOUT_DEPLOYMENT_INIT(.deployment_id = "d-ABCDEFGHI",
							       .compute_platform = "Lambda", .region = "us-east-1",
							       .account_id = "123456789012", .appspec_json = appspec);
	fx->call = (struct rollout_shift_call)ROLLOUT_SHIFT_CALL_INIT(.dep = &fx->dep, .group_json = "{}",
								      .state_json = "{}", .timeout_ms = 5000);
	fx->err.size = sizeof(fx->err);
	fake_reset();
}

static int calls(void)
{
	return rollout_testing_calls(T);
}

static const struct rollout_testing_request *last(void)
{
	return rollout_testing_last_request(T);
}

/* prepare, keeping the state in fx->state */
static int fx_prepare(struct fixture *fx)
{
	char *st = NULL;
	int r = lam_prepare(S, &fx->call, &st, &fx->err);

	if (r == 0) {
		free(fx->state);
		fx->state = st;
		fx->call.state_json = fx->state;
	}
	return r;
}

static int fx_op(struct fixture *fx, rollout_shift_op op, unsigned percent)
{
	char *st = NULL;
	int r;

	fx->call.percent = percent;
	r = op(S, &fx->call, &st, &fx->err);
	if (st) {
		free(fx->state);
		fx->state = st;
		fx->call.state_json = fx->state;
	}
	return r;
}

static void fx_done(struct fixture *fx)
{
	free(fx->state);
}

/* ------------------------------------------------------------------------ */

static void test_appspec(void **unused)
{
	struct rollout_error e = {.size = sizeof(e)};
	struct lam_res r;
	(void)unused;

	assert_int_equal(lam_parse_appspec(APPSPEC_YAML_STYLE, &r, &e), 0);
	assert_string_equal(r.name, "fn");
	assert_string_equal(r.alias, "live");
	assert_string_equal(r.current, "1");
	assert_string_equal(r.target, "2");
	/* lower-case keys, as in AWS's resources reference, and numbers */
	assert_int_equal(lam_parse_appspec("{\"version\":0.0,\"resources\":[{\"f\":{\"type\":\"AWS::Lambda::Function\","
					   "\"properties\":{\"name\":\"arn:aws:lambda:us-east-1:1:function:g\","
					   "\"alias\":\"a\",\"currentversion\":3,\"targetversion\":\"12\"}}}]}",
					   &r, &e),
			 0);
	assert_string_equal(r.name, "arn:aws:lambda:us-east-1:1:function:g");
	assert_string_equal(r.current, "3");
	assert_string_equal(r.target, "12");

	assert_int_equal(lam_parse_appspec(NULL, &r, &e), -EINVAL);
	assert_non_null(strstr(e.message, "has no AppSpec"));
	assert_int_equal(lam_parse_appspec("{\"Resources\":[]}", &r, &e), -EINVAL);
	assert_string_equal(e.code, "INVALID_REVISION");
	assert_non_null(strstr(e.message, "exactly one AWS::Lambda::Function (found 0"));
	assert_int_equal(lam_parse_appspec("{\"Resources\":[{\"f\":{\"Type\":\"AWS::ECS::Service\"}}]}", &r, &e),
			 -EINVAL);
	assert_non_null(strstr(e.message, "f.Type must be AWS::Lambda::Function, not AWS::ECS::Service"));
	assert_int_equal(lam_parse_appspec("{\"Resources\":[{\"f\":{\"Type\":\"AWS::Lambda::Function\",\"Properties\":"
					   "{\"Name\":\"fn\",\"CurrentVersion\":\"1\",\"TargetVersion\":\"2\"}}}]}",
					   &r, &e),
			 -EINVAL);
	assert_non_null(strstr(e.message, "f.Properties.Alias is missing"));
	assert_int_equal(lam_parse_appspec("{\"Resources\":[{\"f\":{\"Type\":\"AWS::Lambda::Function\",\"Properties\":"
					   "{\"Name\":\"fn\",\"Alias\":\"a\",\"CurrentVersion\":\"$LATEST\","
					   "\"TargetVersion\":\"2\"}}}]}",
					   &r, &e),
			 -EINVAL);
	assert_non_null(strstr(e.message, "published version numbers"));
	assert_int_equal(lam_parse_appspec("{\"Resources\":[{\"f\":{\"Type\":\"AWS::Lambda::Function\",\"Properties\":"
					   "{\"Name\":\"fn\",\"Alias\":\"a\",\"CurrentVersion\":\"2\","
					   "\"TargetVersion\":\"2\"}}}]}",
					   &r, &e),
			 -EINVAL);
	assert_string_equal(e.code, "INVALID_LAMBDA_CONFIGURATION");
	assert_non_null(strstr(e.message, "both 2"));
}

static void test_resolve(void **unused)
{
	struct fixture fx;
	char *t = NULL;
	(void)unused;

	fx_init(&fx, APPSPEC_YAML_STYLE);
	assert_int_equal(lam_resolve(S, &fx.dep, "{}", &t, &fx.err), 0);
	assert_string_equal(t,
			    "[{\"targetId\":\"fn\",\"targetArn\":\"arn:aws:lambda:us-east-1:123456789012:function:fn:"
			    "live\",\"instanceType\":\"Lambda\"}]");
	free(t);
	/* no AppSpec (a preview of the group): no target yet */
	fx.dep.size = offsetof(struct rollout_deployment, appspec_json); /* a 1.0 daemon's */
	assert_int_equal(lam_resolve(S, &fx.dep, "{}", &t, &fx.err), 0);
	assert_string_equal(t, "[]");
	free(t);
	assert_int_equal(calls(), 0);
}

static void test_prepare(void **unused)
{
	struct fixture fx;
	(void)unused;

	fx_init(&fx, APPSPEC_YAML_STYLE);
	assert_int_equal(fx_prepare(&fx), 0);
	assert_string_equal(fx.state,
			    "{\"alias\":\"live\",\"aliasArn\":\"arn:aws:lambda:us-east-1:123456789012:function:"
			    "fn:live\",\"currentVersion\":\"1\",\"function\":\"fn\",\"targetVersion\":\"2\","
			    "\"weight\":0}");
	assert_string_equal(last()->aws_service, "lambda");
	assert_int_equal(F.puts, 0); /* prepare changes nothing */
	fx_done(&fx);

	fx_init(&fx, APPSPEC_YAML_STYLE);
	F.fn_exists = false;
	assert_int_equal(fx_prepare(&fx), -ENOENT);
	assert_string_equal(fx.err.code, "INVALID_LAMBDA_FUNCTION");
	assert_non_null(strstr(fx.err.message, "function fn does not exist in region us-east-1"));

	fx_init(&fx, APPSPEC_YAML_STYLE);
	F.nversions = 1;
	assert_int_equal(fx_prepare(&fx), -ENOENT);
	assert_string_equal(fx.err.code, "INVALID_LAMBDA_CONFIGURATION");
	assert_non_null(strstr(fx.err.message, "version 2 (TargetVersion) of function fn does not exist"));

	fx_init(&fx, APPSPEC_YAML_STYLE);
	F.alias_exists = false;
	assert_int_equal(fx_prepare(&fx), -ENOENT);
	assert_non_null(strstr(fx.err.message, "alias live of function fn does not exist"));

	fx_init(&fx, APPSPEC_YAML_STYLE);
	strcpy(F.alias_version, "2");
	assert_int_equal(fx_prepare(&fx), -EINVAL);
	assert_string_equal(fx.err.code, "INVALID_LAMBDA_CONFIGURATION");
	assert_non_null(strstr(fx.err.message, "The Lambda function alias version does not match the current version "
					       "in AppSpec file"));

	fx_init(&fx, APPSPEC_YAML_STYLE);
	strcpy(F.extra_version, "2");
	F.extra_weight = 0.3;
	assert_int_equal(fx_prepare(&fx), -EBUSY);
	assert_string_equal(fx.err.code, "INVALID_LAMBDA_CONFIGURATION");
	assert_non_null(strstr(fx.err.message, "already splits traffic (version 1 and 30% to version 2)"));

	fx_init(&fx, APPSPEC_YAML_STYLE);
	F.target_state = "Failed";
	assert_int_equal(fx_prepare(&fx), -EINVAL);
	assert_string_equal(fx.err.code, "INVALID_LAMBDA_FUNCTION");
}

static void test_shift(void **unused)
{
	struct fixture fx;
	char *view = NULL;
	(void)unused;

	fx_init(&fx, APPSPEC_YAML_STYLE);
	assert_int_equal(fx_prepare(&fx), 0);
	assert_int_equal(fx_op(&fx, lam_weight, 10), 0);
	assert_string_equal(last()->method, "PUT");
	assert_string_equal(last()->body, "{\"FunctionVersion\":\"1\",\"RoutingConfig\":{\"AdditionalVersionWeights\":"
					  "{\"2\":0.1}}}");
	assert_non_null(strstr(fx.state, "\"weight\":10"));
	/* the same step again (after a restart) finds it done: no second UpdateAlias */
	assert_int_equal(F.puts, 1);
	assert_int_equal(fx_op(&fx, lam_weight, 10), 0);
	assert_int_equal(F.puts, 1);
	assert_string_equal(F.extra_version, "2");
	assert_true(F.extra_weight > 0.09 && F.extra_weight < 0.11);
	assert_int_equal(fx_op(&fx, lam_wait_ready, 0), 0);
	fx.call.percent = 10; /* the engine passes the share it applied */
	assert_int_equal(lam_describe(S, &fx.call, &view, &fx.err), 0);
	assert_string_equal(view, "{\"targetArn\":\"arn:aws:lambda:us-east-1:123456789012:function:fn:live\","
				  "\"lambdaFunctionInfo\":{\"functionName\":\"fn\",\"functionAlias\":\"live\","
				  "\"currentVersion\":\"1\",\"targetVersion\":\"2\",\"targetVersionWeight\":0.1}}");
	free(view);
	assert_int_equal(fx_op(&fx, lam_weight, 100), 0);
	assert_string_equal(last()->body,
			    "{\"FunctionVersion\":\"2\",\"RoutingConfig\":{\"AdditionalVersionWeights\":{}}}");
	assert_int_equal(fx_op(&fx, lam_commit, 0), 0);
	assert_int_equal(F.puts, 2); /* the commit after the last weight changes nothing */
	assert_string_equal(F.alias_version, "2");
	assert_string_equal(F.extra_version, "");
	/* rollback puts it back on the current version, from any point */
	assert_int_equal(fx_op(&fx, lam_route_back, 0), 0);
	assert_string_equal(last()->body,
			    "{\"FunctionVersion\":\"1\",\"RoutingConfig\":{\"AdditionalVersionWeights\":{}}}");
	assert_non_null(strstr(fx.state, "\"weight\":0"));
	assert_int_equal(fx_op(&fx, lam_route_back, 0), 0);

	/* someone moved the alias meanwhile: no blind overwrite */
	strcpy(F.alias_version, "7");
	assert_int_equal(fx_op(&fx, lam_weight, 20), -ESTALE);
	assert_string_equal(fx.err.code, "INVALID_LAMBDA_CONFIGURATION");
	assert_non_null(strstr(fx.err.message, "changed outside this deployment (it points at version 7)"));

	/* a version still Pending is not ready yet */
	strcpy(F.alias_version, "1");
	F.target_state = "Pending";
	assert_int_equal(fx_op(&fx, lam_wait_ready, 0), -EAGAIN);
	fx_done(&fx);
}

static void test_hooks(void **unused)
{
	struct fixture fx;
	(void)unused;

	fx_init(&fx, APPSPEC_YAML_STYLE);
	fx.call.hook_event = "BeforeAllowTraffic";
	fx.call.hook_function = "fn";
	fx.call.hook_execution_id = "exec-1";
	assert_int_equal(fx_op(&fx, lam_invoke_hook, 0), 0);
	assert_string_equal(last()->method, "POST");
	assert_string_equal(last()->url, "http://moto:5000/2015-03-31/functions/fn/invocations");
	assert_string_equal(last()->body,
			    "{\"DeploymentId\":\"d-ABCDEFGHI\",\"LifecycleEventHookExecutionId\":\"exec-1\"}");
	assert_non_null(strstr(last()->headers, "X-Amz-Invocation-Type: RequestResponse"));

	/* the function's own error fails the event at once */
	F.invoke_fn_error = true;
	assert_int_equal(fx_op(&fx, lam_invoke_hook, 0), -EIO);
	assert_string_equal(fx.err.code, "HOOK_EXECUTION_FAILURE");
	assert_non_null(
	    strstr(fx.err.message, "BeforeAllowTraffic hook function fn failed (Unhandled): ValueError: boom"));

	/* a missing hook function too */
	fx.call.hook_function = "nope";
	assert_int_equal(fx_op(&fx, lam_invoke_hook, 0), -ENOENT);
	assert_string_equal(fx.err.code, "HOOK_EXECUTION_FAILURE");
	assert_non_null(strstr(fx.err.message, "hook function nope does not exist"));

	/* an invocation is never repeated on a 5xx (the function may have run) */
	fake_reset();
	fx.call.hook_function = "fn";
	F.faults[0] = 503;
	F.nfaults = 1;
	assert_int_equal(fx_op(&fx, lam_invoke_hook, 0), -EIO);
	assert_int_equal(calls(), 1);
	/* a RequestResponse call that outlives its timeout is running: its status decides */
	fake_reset();
	F.faults[0] = -ETIMEDOUT;
	F.nfaults = 1;
	assert_int_equal(fx_op(&fx, lam_invoke_hook, 0), 0);
	assert_int_equal(calls(), 1);
	/* throttling, though, is retried */
	fake_reset();
	F.faults[0] = 429;
	F.nfaults = 1;
	assert_int_equal(fx_op(&fx, lam_invoke_hook, 0), 0);
	assert_int_equal(F.invokes, 1);
	assert_int_equal(calls(), 2);

	/* Event invocations */
	S->hook_invocation = "Event";
	F.invoke_status = 202;
	assert_int_equal(fx_op(&fx, lam_invoke_hook, 0), 0);
	assert_non_null(strstr(last()->headers, "X-Amz-Invocation-Type: Event"));
	S->hook_invocation = "RequestResponse";
}

static void test_retries(void **unused)
{
	struct fixture fx;
	(void)unused;

	fx_init(&fx, APPSPEC_YAML_STYLE);
	F.faults[0] = 500;
	F.faults[1] = -ECONNREFUSED;
	F.nfaults = 2;
	assert_int_equal(fx_prepare(&fx), 0);
	assert_int_equal(calls(), 3 + 3); /* two faults, then function, 2 versions, alias */
	fx_done(&fx);

	fx_init(&fx, APPSPEC_YAML_STYLE);
	for (int i = 0; i < 3; i++)
		F.faults[i] = 503;
	F.nfaults = 3;
	assert_int_equal(fx_prepare(&fx), -EIO);
	assert_int_equal(calls(), 3); /* max_attempts */
	assert_non_null(strstr(fx.err.message, "HTTP 503"));

	fx_init(&fx, APPSPEC_YAML_STYLE);
	F.faults[0] = 403;
	F.nfaults = 1;
	assert_int_equal(fx_prepare(&fx), -EACCES);
	assert_string_equal(fx.err.code, "IAM_ROLE_PERMISSIONS");
	assert_int_equal(calls(), 1);
	fx_done(&fx);
}

static void test_init(void **unused)
{
	struct rollout_testing *t = rollout_testing_new("lambda", "hook_invocation: Sometimes\n");
	void *state = NULL;
	char err[512];
	(void)unused;

	assert_int_equal(rollout_testing_init(t, &lam_plugin, &state, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "plugins.lambda.hook_invocation: 'Sometimes' is not RequestResponse or Event"));
	rollout_testing_free(t);
	t = rollout_testing_new("lambda", "endpoint: ftp://x\n");
	assert_int_equal(rollout_testing_init(t, &lam_plugin, &state, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "plugins.lambda.endpoint"));
	rollout_testing_free(t);
	t = rollout_testing_new("lambda", "max_attempts: 0\n");
	assert_int_equal(rollout_testing_init(t, &lam_plugin, &state, err, sizeof(err)), -EINVAL);
	rollout_testing_free(t);
	/* the ops the loader insists on for a platform that shifts traffic */
	assert_non_null(lam_ops.shift_prepare);
	assert_non_null(lam_ops.shift_weight);
	assert_non_null(lam_ops.shift_commit);
	assert_non_null(lam_ops.shift_route_back);
	assert_non_null(lam_ops.shift_invoke_hook);
	assert_non_null(lam_ops.shift_describe);
	assert_null(lam_ops.shift_install);
}

static int setup(void **unused)
{
	char err[512];
	void *state = NULL;
	(void)unused;

	T = rollout_testing_new("lambda", CONFIG);
	if (!T || rollout_testing_init(T, &lam_plugin, &state, err, sizeof(err)) < 0) {
		fprintf(stderr, "init: %s\n", err);
		return -1;
	}
	S = state;
	return 0;
}

static int teardown(void **unused)
{
	(void)unused;
	lam_plugin.destroy(S);
	T = rollout_testing_free(T);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init),    cmocka_unit_test(test_appspec), cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_prepare), cmocka_unit_test(test_shift),   cmocka_unit_test(test_hooks),
	    cmocka_unit_test(test_retries),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
