/* awsjson, the AWS JSON-protocol calls the lambda and ecs plugins share:
 * what a JSON 1.1 and a REST-JSON request carry, how an answer's error is
 * read and named, which failures are retried and how often, the hook
 * Invoke, and the endpoint option; against the SDK's test host, whose
 * http_request a scripted responder answers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "awsjson.h"

#include <rollout/testing.h>

/* The script: one answer per request, the last one repeated. An answer
 * with a negative status is a transport error (-errno). */
struct step {
	long status;
	const char *const *headers;
	const char *body;
};

static struct {
	struct step steps[8];
	int nsteps, at;
	bool stop; /* what call->stopping answers */
} S;

static struct rollout_testing *T;
static struct awsj Q;

static int responder(void *userdata, const struct rollout_testing_request *req, struct rollout_testing_answer *a)
{
	const struct step *s = &S.steps[S.at < S.nsteps ? S.at : S.nsteps - 1];

	(void)userdata;
	(void)req;
	S.at++;
	if (s->status < 0)
		return (int)s->status;
	a->status = s->status;
	a->headers = s->headers;
	a->body = s->body;
	return 0;
}

static void script(int n, ...)
{
	va_list ap;

	memset(&S, 0, sizeof(S));
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		S.steps[i] = va_arg(ap, struct step);
	va_end(ap);
	S.nsteps = n;
	rollout_testing_set_responder(T, responder, NULL);
}

static int setup(void **state)
{
	(void)state;
	T = rollout_testing_new("ecs", "endpoint: http://127.0.0.1:5000//\nelbv2_endpoint: ftp://x\n");
	assert_non_null(T);
	Q = (struct awsj){
	    .host = rollout_testing_host(T), .h = rollout_testing_handle(T), .timeout_ms = 30000, .max_attempts = 3};
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	T = rollout_testing_free(T);
	return 0;
}

static bool stopping(const struct rollout_shift_call *call)
{
	(void)call;
	return S.stop;
}

static const struct awsj_service ECS = {
    .sigv4 = "ecs", .target = "AmazonEC2ContainerServiceV20141113.", .endpoint = "http://127.0.0.1:5000"};
static const struct awsj_service LAMBDA = {.sigv4 = "lambda"};

/* A JSON 1.1 call: POST to the endpoint with X-Amz-Target, signed for the
 * deployment's region; the answer's object is handed back. */
static void test_json11_call(void **state)
{
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.deployment_id = "d-1", .region = "eu-west-1");
	struct rollout_shift_call call = ROLLOUT_SHIFT_CALL_INIT(.dep = &dep, .timeout_ms = 10000);
	struct awsj_answer a = {0};
	struct rollout_error err = {.size = sizeof(err)};
	const struct rollout_testing_request *req;
	json_t *out = NULL;

	(void)state;
	script(1, (struct step){200, NULL, "{\"services\":[{\"serviceName\":\"web\"}]}"});
	assert_int_equal(awsj_call(&Q, &ECS, &call, "DescribeServices", json_pack("{s:s}", "cluster", "c1"), true,
				   "ECS_UPDATE_ERROR", &out, &a, &err),
			 0);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(json_object_get(out, "services"), 0), "serviceName")),
	    "web");
	req = rollout_testing_last_request(T);
	assert_string_equal(req->method, "POST");
	assert_string_equal(req->url, "http://127.0.0.1:5000/");
	assert_string_equal(req->body, "{\"cluster\":\"c1\"}");
	assert_non_null(strstr(req->headers, "X-Amz-Target: AmazonEC2ContainerServiceV20141113.DescribeServices"));
	assert_non_null(strstr(req->headers, "Content-Type: application/x-amz-json-1.1"));
	assert_string_equal(req->aws_service, "ecs");
	assert_string_equal(req->aws_region, "eu-west-1");
	json_decref(out);

	/* a 2xx answer that is no JSON object is an error of the caller's code */
	script(1, (struct step){200, NULL, "<html>"});
	assert_int_equal(
	    awsj_call(&Q, &ECS, &call, "DescribeServices", json_object(), true, "ECS_UPDATE_ERROR", &out, &a, &err),
	    -EIO);
	assert_null(out);
	assert_string_equal(err.code, "ECS_UPDATE_ERROR");
	assert_non_null(strstr(err.message, "DescribeServices answered no JSON object"));
	awsj_answer_clear(&a);
}

/* The error's type from __type (namespace dropped) or X-Amzn-ErrorType
 * (its ":http..." tail dropped), the message from message or Message. */
static void test_error_read_and_named(void **state)
{
	static const char *const hdr[] = {"X-Amzn-ErrorType: ResourceNotFoundException:http://internal.amazon.com/",
					  NULL};
	struct awsj_answer a = {0};
	struct rollout_error err = {.size = sizeof(err)};
	json_t *out = NULL;

	(void)state;
	script(1, (struct step){400, NULL,
				"{\"__type\":\"com.amazonaws.ecs#ClusterNotFoundException\",\"message\":\"no c9\"}"});
	assert_int_equal(
	    awsj_call(&Q, &ECS, NULL, "DescribeServices", json_object(), true, "ECS_UPDATE_ERROR", &out, &a, &err), 0);
	assert_int_equal(a.status, 400);
	assert_string_equal(a.type, "ClusterNotFoundException");
	assert_string_equal(a.text, "no c9");
	assert_int_equal(awsj_fail(&a, "DescribeServices web", "INVALID_ECS_SERVICE", "(hint)", &err), -EIO);
	assert_string_equal(err.code, "INVALID_ECS_SERVICE");
	assert_string_equal(err.message, "DescribeServices web failed: HTTP 400 ClusterNotFoundException: no c9");

	script(1, (struct step){404, hdr, "{\"Type\":\"User\",\"Message\":\"Function not found: fn\"}"});
	assert_int_equal(
	    awsj_rest(&Q, &LAMBDA, NULL, "GET", "/2015-03-31/functions/fn/configuration", NULL, NULL, &a, &err), 0);
	assert_string_equal(a.type, "ResourceNotFoundException");
	assert_string_equal(a.text, "Function not found: fn");
	/* no endpoint: AWS's own, in the client's default region */
	assert_string_equal(rollout_testing_last_request(T)->url,
			    "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/fn/configuration");

	/* refused credentials: IAM_ROLE_PERMISSIONS and the caller's hint */
	script(1, (struct step){403, NULL, "{\"__type\":\"AccessDeniedException\",\"Message\":\"not allowed\"}"});
	assert_int_equal(
	    awsj_call(&Q, &ECS, NULL, "CreateTaskSet", json_object(), false, "ECS_UPDATE_ERROR", &out, &a, &err), 0);
	assert_int_equal(awsj_fail(&a, "CreateTaskSet", "ECS_UPDATE_ERROR", "(allow ecs:CreateTaskSet)", &err),
			 -EACCES);
	assert_string_equal(err.code, "IAM_ROLE_PERMISSIONS");
	assert_non_null(strstr(err.message, "AccessDeniedException: not allowed (allow ecs:CreateTaskSet)"));

	/* a body without JSON: its first line is the message */
	script(1, (struct step){502, NULL, "Bad Gateway\r\nmore"});
	Q.max_attempts = 1;
	assert_int_equal(
	    awsj_call(&Q, &ECS, NULL, "DescribeServices", json_object(), true, "ECS_UPDATE_ERROR", &out, &a, &err), 0);
	Q.max_attempts = 3;
	assert_string_equal(a.text, "Bad Gateway");
	awsj_answer_clear(&a);
}

/* 5xx and transport errors are retried for idempotent calls only,
 * throttling for every call, at most max_attempts times in all. */
static void test_retries(void **state)
{
	static const char *const throttled[] = {"X-Amzn-ErrorType: TooManyRequestsException", NULL};
	struct awsj_answer a = {0};
	struct rollout_error err = {.size = sizeof(err)};
	json_t *out = NULL;

	(void)state;
	/* idempotent: a 500 then an answer */
	script(2, (struct step){500, NULL, "{\"message\":\"oops\"}"}, (struct step){200, NULL, "{}"});
	assert_int_equal(
	    awsj_call(&Q, &ECS, NULL, "DescribeTaskSets", json_object(), true, "ECS_UPDATE_ERROR", &out, &a, &err), 0);
	assert_int_equal(a.status, 200);
	assert_int_equal(rollout_testing_calls(T), 2);
	json_decref(out);

	/* not idempotent: a 500 may have been applied, so once only */
	script(2, (struct step){500, NULL, "{\"message\":\"oops\"}"}, (struct step){200, NULL, "{}"});
	assert_int_equal(
	    awsj_call(&Q, &ECS, NULL, "CreateTaskSet", json_object(), false, "ECS_UPDATE_ERROR", &out, &a, &err), 0);
	assert_int_equal(a.status, 500);
	assert_int_equal(rollout_testing_calls(T), 1);

	/* throttling is retried also when not idempotent, and named THROTTLED */
	script(1, (struct step){429, throttled, "{\"message\":\"slow down\"}"});
	assert_int_equal(
	    awsj_rest(&Q, &LAMBDA, NULL, "POST", "/2015-03-31/functions/fn/invocations", "{}", NULL, &a, &err), 0);
	assert_int_equal(rollout_testing_calls(T), 3);
	assert_int_equal(awsj_fail(&a, "Invoke fn", "HOOK_EXECUTION_FAILURE", NULL, &err), -EAGAIN);
	assert_string_equal(err.code, "THROTTLED");

	/* transport errors: a refused connection is retried; the last error
	 * is named with the service and the URL */
	script(1, (struct step){-ECONNREFUSED, NULL, NULL});
	assert_int_equal(
	    awsj_call(&Q, &ECS, NULL, "CreateTaskSet", json_object(), false, "ECS_UPDATE_ERROR", &out, &a, &err),
	    -ECONNREFUSED);
	assert_int_equal(rollout_testing_calls(T), 3);
	assert_string_equal(err.code, "INTERNAL_ERROR");
	assert_non_null(strstr(err.message, "cannot reach ecs at http://127.0.0.1:5000/"));

	/* a timeout of a call that is not idempotent may have arrived: once */
	script(1, (struct step){-ETIMEDOUT, NULL, NULL});
	assert_int_equal(
	    awsj_call(&Q, &ECS, NULL, "CreateTaskSet", json_object(), false, "ECS_UPDATE_ERROR", &out, &a, &err),
	    -ETIMEDOUT);
	assert_int_equal(rollout_testing_calls(T), 1);

	/* no credentials: never retried, IAM_ROLE_MISSING */
	script(1, (struct step){-ENOKEY, NULL, NULL});
	assert_int_equal(
	    awsj_call(&Q, &ECS, NULL, "DescribeTaskSets", json_object(), true, "ECS_UPDATE_ERROR", &out, &a, &err),
	    -ENOKEY);
	assert_int_equal(rollout_testing_calls(T), 1);
	assert_string_equal(err.code, "IAM_ROLE_MISSING");

	/* a step asked to stop makes no further attempt */
	{
		struct rollout_shift_call call = ROLLOUT_SHIFT_CALL_INIT(.timeout_ms = 10000, .stopping = stopping);
		script(1, (struct step){503, NULL, "{}"});
		S.stop = true;
		assert_int_equal(awsj_call(&Q, &ECS, &call, "DescribeTaskSets", json_object(), true, "ECS_UPDATE_ERROR",
					   &out, &a, &err),
				 0);
		assert_int_equal(rollout_testing_calls(T), 1);
	}
	awsj_answer_clear(&a);
}

/* The hook Invoke: the payload CodeDeploy sends, the invocation type, and
 * what a missing function or a function error makes of the event. */
static void test_invoke_hook(void **state)
{
	static const char *const fn_error[] = {"X-Amz-Function-Error: Unhandled", NULL};
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.deployment_id = "d-ABC");
	struct rollout_shift_call call =
	    ROLLOUT_SHIFT_CALL_INIT(.dep = &dep, .timeout_ms = 10000, .hook_event = "AfterInstall",
				    .hook_function = "CodeDeployHook_x y", .hook_execution_id = "e-1");
	struct awsj_service lam = {.sigv4 = "lambda", .endpoint = "http://127.0.0.1:5001"};
	struct rollout_error err = {.size = sizeof(err)};
	const struct rollout_testing_request *req;

	(void)state;
	script(1, (struct step){200, NULL, "null"});
	assert_int_equal(awsj_invoke_hook(&Q, &lam, &call, false, &err), 0);
	req = rollout_testing_last_request(T);
	assert_string_equal(req->url, "http://127.0.0.1:5001/2015-03-31/functions/CodeDeployHook_x%20y/invocations");
	assert_string_equal(req->body, "{\"DeploymentId\":\"d-ABC\",\"LifecycleEventHookExecutionId\":\"e-1\"}");
	assert_non_null(strstr(req->headers, "X-Amz-Invocation-Type: RequestResponse"));

	script(1, (struct step){202, NULL, ""});
	assert_int_equal(awsj_invoke_hook(&Q, &lam, &call, true, &err), 0);
	assert_non_null(strstr(rollout_testing_last_request(T)->headers, "X-Amz-Invocation-Type: Event"));

	script(1, (struct step){404, NULL, "{\"Message\":\"Function not found\"}"});
	assert_int_equal(awsj_invoke_hook(&Q, &lam, &call, false, &err), -ENOENT);
	assert_string_equal(err.code, "HOOK_EXECUTION_FAILURE");
	assert_non_null(strstr(err.message, "AfterInstall hook function CodeDeployHook_x y does not exist"));

	script(1, (struct step){200, fn_error, "{\"errorType\":\"ValueError\",\"errorMessage\":\"bad input\"}"});
	assert_int_equal(awsj_invoke_hook(&Q, &lam, &call, false, &err), -EIO);
	assert_string_equal(err.code, "HOOK_EXECUTION_FAILURE");
	assert_non_null(strstr(err.message, "failed (Unhandled): ValueError: bad input"));

	/* a hook still running after the call's timeout reports itself */
	script(1, (struct step){-ETIMEDOUT, NULL, NULL});
	assert_int_equal(awsj_invoke_hook(&Q, &lam, &call, false, &err), 0);
	assert_int_equal(rollout_testing_calls(T), 1);

	/* an Invoke refused for the credentials fails the hook's event */
	script(1, (struct step){403, NULL, "{\"Message\":\"denied\"}"});
	assert_int_equal(awsj_invoke_hook(&Q, &lam, &call, false, &err), -EACCES);
	assert_string_equal(err.code, "HOOK_EXECUTION_FAILURE");
	assert_non_null(strstr(err.message, "lambda:InvokeFunction"));
}

/* The endpoint options: trailing slashes dropped, unset is AWS's own, and
 * anything but an http(s) URL refused with the option's name. */
static void test_endpoint_option(void **state)
{
	char buf[64], err[256];
	const char *ep = "x";

	(void)state;
	assert_int_equal(awsj_endpoint_option(rollout_testing_host(T), rollout_testing_handle(T), "ecs", "endpoint",
					      buf, sizeof(buf), &ep, err, sizeof(err)),
			 0);
	assert_string_equal(ep, "http://127.0.0.1:5000");
	assert_int_equal(awsj_endpoint_option(rollout_testing_host(T), rollout_testing_handle(T), "ecs",
					      "lambda_endpoint", buf, sizeof(buf), &ep, err, sizeof(err)),
			 0);
	assert_null(ep);
	assert_int_equal(awsj_endpoint_option(rollout_testing_host(T), rollout_testing_handle(T), "ecs",
					      "elbv2_endpoint", buf, sizeof(buf), &ep, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "plugins.ecs.elbv2_endpoint: 'ftp://x' must be an http:// or https:// URL"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json11_call),	    cmocka_unit_test(test_error_read_and_named),
	    cmocka_unit_test(test_retries),	    cmocka_unit_test(test_invoke_hook),
	    cmocka_unit_test(test_endpoint_option),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
