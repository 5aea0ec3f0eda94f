/* AWS calls answered in JSON — the JSON 1.x protocol (POST with
 * X-Amz-Target: ECS) and REST-JSON (Lambda) — through the host's HTTP
 * client (SigV4, credentials), with bounded retries and backoff on
 * throttling, 5xx and transport errors, and failed answers named as
 * deployment errors. Compiled into the plugins that call these services
 * (lambda, ecs); plugins link nothing of rolloutd's. The query protocol
 * (XML answers) is awsquery's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <rollout/plugin.h>

/* The caller's settings, shared by every call. */
struct awsj {
	const struct rollout_host *host;
	struct rollout_handle *h;
	const char *region;   /* NULL: the deployment's, else us-east-1 */
	int64_t timeout_ms;   /* one call, all its attempts */
	int64_t max_attempts; /* >= 1 */
};

/* One AWS service spoken in JSON. */
struct awsj_service {
	const char *sigv4;  /* SigV4 service name and host prefix: "ecs", "lambda" */
	const char *target; /* JSON 1.x: the X-Amz-Target prefix ("AmazonEC2ContainerServiceV20141113."); REST: NULL */
	const char *endpoint; /* base URL without a trailing '/' (the plugin's option), or NULL for AWS's own */
};

/* What a call answered. */
struct awsj_answer {
	long status;	   /* HTTP status; 0 when nothing arrived */
	char *body;	   /* malloc'd and NUL-terminated, or NULL */
	json_t *json;	   /* body parsed (any JSON value), or NULL */
	char type[128];	   /* error type: X-Amzn-ErrorType or __type, without namespace or ":http..." tail */
	char text[512];	   /* error message, the start of a body that has none, or the transport error */
	char fn_error[64]; /* X-Amz-Function-Error of a Lambda Invoke */
};

void awsj_answer_clear(struct awsj_answer *a);

/* Whether the engine asked the step to stop (ABI 1.1 calls only). */
bool awsj_stopping(const struct rollout_shift_call *call);

/* The region a call goes to. */
const char *awsj_region(const struct awsj *c, const struct rollout_shift_call *call);

/* Whether an answer (status, error type) means the service is throttling. */
bool awsj_throttled(long status, const char *type);

/* Whether another attempt may help after r (transport: -errno) or an
 * answer with status and type. A call that is not idempotent is repeated
 * only when it surely did not arrive: refused connections and throttling. */
bool awsj_retryable(int r, long status, const char *type, bool idempotent);

/* svc's URL for path ("/..." or ""): the endpoint, else
 * https://<sigv4>.<region>.amazonaws.com. -ENAMETOOLONG when it does not fit. */
int awsj_url(const struct awsj *c, const struct awsj_service *svc, const struct rollout_shift_call *call,
	     const char *path, char *url, size_t n);

/* One signed request with retries. headers: NULL-terminated, may be NULL.
 * timeout_ms 0: the client's; a shorter call->timeout_ms wins. Fills *ans
 * and returns 0 when an answer arrived (look at ans->status), else a
 * negative errno with err naming the service, the URL and the cause
 * (IAM_ROLE_MISSING without credentials, else INTERNAL_ERROR). */
int awsj_request(const struct awsj *c, const struct rollout_shift_call *call, const char *service, const char *method,
		 const char *url, const char *const *headers, const char *body, bool idempotent, int64_t timeout_ms,
		 struct awsj_answer *ans, struct rollout_error *err);

/* A REST-JSON call: method on svc's URL + path (already encoded), body
 * JSON text or NULL. Idempotent unless method is POST. */
int awsj_rest(const struct awsj *c, const struct awsj_service *svc, const struct rollout_shift_call *call,
	      const char *method, const char *path, const char *body, const char *const *extra_headers,
	      struct awsj_answer *ans, struct rollout_error *err);

/* A JSON 1.1 call of op with the request in (stolen). On a 2xx answer
 * *ret is its JSON object (new reference); a 2xx answer that is no JSON
 * is an error with code bad_code. */
int awsj_call(const struct awsj *c, const struct awsj_service *svc, const struct rollout_shift_call *call,
	      const char *op, json_t *in, bool idempotent, const char *bad_code, json_t **ret, struct awsj_answer *ans,
	      struct rollout_error *err);

/* A failed answer as a deployment error "<what> failed: HTTP <status>
 * <type>: <message>": IAM_ROLE_PERMISSIONS / -EACCES for refused
 * credentials (iam_hint appended, e.g. the permissions needed), THROTTLED /
 * -EAGAIN for throttling, else code / -EIO. */
int awsj_fail(const struct awsj_answer *a, const char *what, const char *code, const char *iam_hint,
	      struct rollout_error *err);

/* Reads the URL option key of plugin (e.g. "endpoint") into buf without
 * trailing slashes; *ret is buf, or NULL when the option is unset or
 * empty. -EINVAL with err "plugins.<plugin>.<key>: ..." for what is not an
 * http(s) URL or longer than buf. */
int awsj_endpoint_option(const struct rollout_host *host, struct rollout_handle *h, const char *plugin, const char *key,
			 char *buf, size_t buflen, const char **ret, char *err, size_t errlen);

/* Invokes a CodeDeploy hook function through Lambda (svc) with
 * {"DeploymentId", "LifecycleEventHookExecutionId"} of call, as
 * RequestResponse, or as Event when event. 0 when it ran (or, as
 * RequestResponse, still runs after the call's timeout: its
 * PutLifecycleEventHookExecutionStatus decides); HOOK_EXECUTION_FAILURE
 * for a missing function, a refused Invoke or a function error. */
int awsj_invoke_hook(const struct awsj *c, const struct awsj_service *lambda, const struct rollout_shift_call *call,
		     bool event, struct rollout_error *err);
