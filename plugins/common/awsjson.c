#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "awsjson.h"
#include "uri.h"

#define LAMBDA_FUNCTIONS "/2015-03-31/functions/"

void awsj_answer_clear(struct awsj_answer *a)
{
	free(a->body);
	json_decref(a->json);
	memset(a, 0, sizeof(*a));
}

bool awsj_stopping(const struct rollout_shift_call *call)
{
	return call && call->size >= offsetof(struct rollout_shift_call, engine_data) && call->stopping &&
	       call->stopping(call);
}

const char *awsj_region(const struct awsj *c, const struct rollout_shift_call *call)
{
	const struct rollout_deployment *dep = call ? call->dep : NULL;

	if (c->region && *c->region)
		return c->region;
	if (dep && dep->size >= offsetof(struct rollout_deployment, account_id) && dep->region && *dep->region)
		return dep->region;
	return "us-east-1";
}

bool awsj_throttled(long status, const char *type)
{
	return status == 429 || strstr(type, "Throttl") || strstr(type, "TooManyRequests");
}

bool awsj_retryable(int r, long status, const char *type, bool idempotent)
{
	if (r < 0)
		return idempotent ? r != -ENOKEY && r != -EINVAL && r != -ENOMEM && r != -EFBIG && r != -EACCES
				  : r == -ECONNREFUSED || r == -EHOSTUNREACH;
	return awsj_throttled(status, type) || (idempotent && status >= 500);
}

int awsj_url(const struct awsj *c, const struct awsj_service *svc, const struct rollout_shift_call *call,
	     const char *path, char *url, size_t n)
{
	int w = svc->endpoint ? snprintf(url, n, "%s%s", svc->endpoint, *path ? path : "/")
			      : snprintf(url, n, "https://%s.%s.amazonaws.com%s", svc->sigv4, awsj_region(c, call),
					 *path ? path : "/");

	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The error's type and message from a JSON body: {"__type":
 * "ns#ClientException", "message": "..."} (JSON 1.x) or {"Type", "Message"}
 * (REST-JSON); the X-Amzn-ErrorType header, when there was one, wins. */
static void read_error(struct awsj_answer *a)
{
	const char *m = json_string_value(json_object_get(a->json, "message")), *t;

	if (!m)
		m = json_string_value(json_object_get(a->json, "Message"));
	if (!a->type[0] && (t = json_string_value(json_object_get(a->json, "__type")))) {
		const char *hash = strrchr(t, '#');
		snprintf(a->type, sizeof(a->type), "%s", hash ? hash + 1 : t);
	}
	if (m)
		snprintf(a->text, sizeof(a->text), "%s", m);
	else
		snprintf(a->text, sizeof(a->text), "%.*s", (int)strcspn(a->body, "\r\n"), a->body);
}

int awsj_request(const struct awsj *c, const struct rollout_shift_call *call, const char *service, const char *method,
		 const char *url, const char *const *headers, const char *body, bool idempotent, int64_t timeout_ms,
		 struct awsj_answer *ans, struct rollout_error *err)
{
	const char *region = awsj_region(c, call);
	int64_t backoff = 200, deadline;
	char herr[512];
	int r = -EIO;

	if (timeout_ms <= 0)
		timeout_ms = c->timeout_ms;
	if (call && call->size >= offsetof(struct rollout_shift_call, stopping) && call->timeout_ms > 0 &&
	    call->timeout_ms < timeout_ms)
		timeout_ms = call->timeout_ms;
	deadline = c->host->mono_ms() + timeout_ms;
	for (int64_t attempt = 1;; attempt++) {
		struct rollout_http_response *resp = NULL;
		struct rollout_http_request req =
		    ROLLOUT_HTTP_REQUEST_INIT(.method = method, .url = url, .headers = headers, .body = body,
					      .body_len = body ? strlen(body) : 0, .timeout_ms = timeout_ms,
					      .max_body = 8 << 20, .aws_service = service, .aws_region = region);
		const char *t;

		awsj_answer_clear(ans);
		herr[0] = '\0';
		r = c->host->http_request(c->h, &req, &resp, herr, sizeof(herr));
		if (r == 0) {
			const char *b = c->host->http_body(resp, NULL);
			ans->status = c->host->http_status(resp);
			ans->body = strdup(b ? b : "");
			if ((t = c->host->http_header(resp, "X-Amzn-ErrorType")))
				snprintf(ans->type, sizeof(ans->type), "%.*s", (int)strcspn(t, ":"), t);
			if ((t = c->host->http_header(resp, "X-Amz-Function-Error")))
				snprintf(ans->fn_error, sizeof(ans->fn_error), "%s", t);
			c->host->http_free(resp);
			if (!ans->body) {
				r = -ENOMEM;
				snprintf(ans->text, sizeof(ans->text), "out of memory");
				break;
			}
			ans->json = *ans->body ? json_loads(ans->body, JSON_DECODE_ANY, NULL) : NULL;
			if (ans->status >= 300)
				read_error(ans);
		} else {
			snprintf(ans->text, sizeof(ans->text), "%s", herr);
		}
		if (!awsj_retryable(r, ans->status, ans->type, idempotent) || attempt >= c->max_attempts ||
		    awsj_stopping(call) || c->host->mono_ms() + backoff >= deadline)
			break;
		sleep_ms(backoff);
		backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
	}
	if (r == -EACCES) /* the group's service role could not be assumed */
		return rollout_error_set(err, r, "IAM_ROLE_PERMISSIONS", "%s", ans->text);
	if (r < 0)
		return rollout_error_set(err, r, r == -ENOKEY ? "IAM_ROLE_MISSING" : "INTERNAL_ERROR",
					 "cannot reach %s at %.300s: %s", service, url, ans->text);
	return 0;
}

int awsj_rest(const struct awsj *c, const struct awsj_service *svc, const struct rollout_shift_call *call,
	      const char *method, const char *path, const char *body, const char *const *extra_headers,
	      struct awsj_answer *ans, struct rollout_error *err)
{
	const char *headers[8] = {"Content-Type: application/json", "Accept: application/json"};
	size_t nh = 2;
	char url[4096];

	for (size_t i = 0; extra_headers && extra_headers[i] && nh + 1 < sizeof(headers) / sizeof(headers[0]); i++)
		headers[nh++] = extra_headers[i];
	headers[nh] = NULL;
	if (awsj_url(c, svc, call, path, url, sizeof(url)) < 0)
		return rollout_error_set(err, -ENAMETOOLONG, "INTERNAL_ERROR", "%s request path %.100s... is too long",
					 svc->sigv4, path);
	return awsj_request(c, call, svc->sigv4, method, url, headers, body, strcmp(method, "POST") != 0, 0, ans, err);
}

int awsj_call(const struct awsj *c, const struct awsj_service *svc, const struct rollout_shift_call *call,
	      const char *op, json_t *in, bool idempotent, const char *bad_code, json_t **ret, struct awsj_answer *ans,
	      struct rollout_error *err)
{
	char url[1200], target[160], *body = json_dumps(in, JSON_COMPACT);
	const char *headers[] = {"Content-Type: application/x-amz-json-1.1", target, NULL};
	int r;

	json_decref(in);
	*ret = NULL;
	if (!body)
		return rollout_error_set(err, -ENOMEM, "INTERNAL_ERROR", "no memory for a %s request", op);
	if (awsj_url(c, svc, call, "", url, sizeof(url)) < 0) {
		free(body);
		return rollout_error_set(err, -ENAMETOOLONG, "INTERNAL_ERROR", "the %s endpoint is too long",
					 svc->sigv4);
	}
	snprintf(target, sizeof(target), "X-Amz-Target: %s%s", svc->target ? svc->target : "", op);
	r = awsj_request(c, call, svc->sigv4, "POST", url, headers, body, idempotent, 0, ans, err);
	free(body);
	if (r == 0 && ans->status < 300) {
		if (!json_is_object(ans->json))
			return rollout_error_set(err, -EIO, bad_code, "%s %s answered no JSON object: %.200s",
						 svc->sigv4, op, ans->body);
		*ret = json_incref(ans->json);
	}
	return r;
}

int awsj_fail(const struct awsj_answer *a, const char *what, const char *code, const char *iam_hint,
	      struct rollout_error *err)
{
	int r = -EIO;

	if (a->status == 403 || a->status == 401 || strstr(a->type, "AccessDenied") ||
	    strstr(a->type, "UnrecognizedClient")) {
		code = "IAM_ROLE_PERMISSIONS";
		r = -EACCES;
	} else if (awsj_throttled(a->status, a->type)) {
		code = "THROTTLED";
		r = -EAGAIN;
	}
	return rollout_error_set(err, r, code, "%s failed: HTTP %ld %s%s%s%s%s", what, a->status, a->type,
				 a->type[0] ? ": " : "", a->text, r == -EACCES && iam_hint ? " " : "",
				 r == -EACCES && iam_hint ? iam_hint : "");
}

int awsj_endpoint_option(const struct rollout_host *host, struct rollout_handle *h, const char *plugin, const char *key,
			 char *buf, size_t buflen, const char **ret, char *err, size_t errlen)
{
	const char *ep = NULL;
	size_t n;
	int r;

	*ret = NULL;
	if ((r = host->config_string(h, key, NULL, &ep, err, errlen)) < 0)
		return r;
	if (!ep || !*ep)
		return 0;
	n = strlen(ep);
	while (n > 0 && ep[n - 1] == '/')
		n--;
	if (!uri_is_http(ep) || n >= buflen) {
		snprintf(err, errlen,
			 "plugins.%s.%s: '%.200s' must be an http:// or https:// URL (at most %zu characters)", plugin,
			 key, ep, buflen - 1);
		return -EINVAL;
	}
	memcpy(buf, ep, n);
	buf[n] = '\0';
	*ret = buf;
	return 0;
}

int awsj_invoke_hook(const struct awsj *c, const struct awsj_service *lambda, const struct rollout_shift_call *call,
		     bool event, struct rollout_error *err)
{
	struct awsj_answer a = {0};
	const char *hdr[] = {event ? "X-Amz-Invocation-Type: Event" : "X-Amz-Invocation-Type: RequestResponse", NULL};
	const char *ev = call->hook_event ? call->hook_event : "";
	char efn[1024], path[1200], *payload = NULL;
	json_t *p;
	int r;

	if (!call->hook_function || !call->hook_execution_id || !call->dep || !call->dep->deployment_id)
		return rollout_error_set(err, -EINVAL, "INTERNAL_ERROR", "hook call without function or execution id");
	if (uri_encode(call->hook_function, false, efn, sizeof(efn)) < 0)
		return rollout_error_set(err, -ENAMETOOLONG, "INVALID_REVISION",
					 "hook function name %.100s is too long", call->hook_function);
	snprintf(path, sizeof(path), LAMBDA_FUNCTIONS "%s/invocations", efn);
	p = json_pack("{s:s, s:s}", "DeploymentId", call->dep->deployment_id, "LifecycleEventHookExecutionId",
		      call->hook_execution_id);
	payload = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	if (!payload)
		return rollout_error_set(err, -ENOMEM, "INTERNAL_ERROR", "no memory for a hook invocation");
	r = awsj_rest(c, lambda, call, "POST", path, payload, hdr, &a, err);
	if (r == -ETIMEDOUT && !event) {
		/* still running: its PutLifecycleEventHookExecutionStatus decides */
		c->host->log(c->h, LOG_INFO, "%s: %s hook %s still runs after the invocation's timeout",
			     call->dep->deployment_id, ev, call->hook_function);
		r = 0;
	} else if (r < 0) {
		;
	} else if (a.status == 404) {
		r = rollout_error_set(err, -ENOENT, "HOOK_EXECUTION_FAILURE",
				      "%s hook function %s does not exist: %s; create it or fix Hooks in the AppSpec",
				      ev, call->hook_function, a.text);
	} else if (a.status >= 300) {
		char what[1200];
		snprintf(what, sizeof(what), "Invoke of %s hook function %s", ev, call->hook_function);
		r = awsj_fail(&a, what, "HOOK_EXECUTION_FAILURE", "(allow lambda:InvokeFunction on the hook functions)",
			      err);
		if (r == -EACCES || r == -EAGAIN)
			snprintf(err->code, sizeof(err->code), "HOOK_EXECUTION_FAILURE");
	} else if (a.fn_error[0]) {
		const char *m = json_string_value(json_object_get(a.json, "errorMessage"));
		const char *t = json_string_value(json_object_get(a.json, "errorType"));
		r = rollout_error_set(err, -EIO, "HOOK_EXECUTION_FAILURE", "%s hook function %s failed (%s): %s%s%s",
				      ev, call->hook_function, a.fn_error, t ? t : "", t ? ": " : "",
				      m ? m : "no error message");
	}
	free(payload);
	awsj_answer_clear(&a);
	return r;
}
