/* AWS query-protocol calls (EC2, Auto Scaling, ELB, ELBv2, STS) through the
 * host's HTTP client (SigV4, credentials) and XML parser, with bounded
 * retries. Compiled into the plugins that call these services (ec2, elb);
 * plugins link nothing of rolloutd's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rollout/plugin.h>

/* One AWS service spoken in the query protocol. */
struct awsq_service {
	const char *sigv4;    /* SigV4 service name and host prefix: "ec2", "autoscaling", ... */
	const char *version;  /* API version: "2016-11-15" */
	const char *endpoint; /* override URL (the plugin's <service>_endpoint or endpoint), or NULL for AWS */
};

/* The caller's settings, shared by every call. */
struct awsq {
	const struct rollout_host *host;
	struct rollout_handle *h;
	const char *region; /* NULL: the deployment's, else us-east-1 */
	int64_t timeout_ms; /* per attempt */
	int64_t max_attempts;
};

/* Appends "&name=value" (value percent-encoded) to a form body of cap bytes.
 * -ENOSPC when it does not fit. */
int awsq_param(char *body, size_t cap, const char *name, const char *value);

/* The region a call goes to. */
const char *awsq_region(const struct awsq *q, const struct rollout_deployment *dep);

/* Calls Action with the form parameters params ("&Name=value..." as built
 * by awsq_param, may be ""). Retries transport errors, 5xx and throttling
 * up to max_attempts. On success *ret is the response document (free with
 * host->xml_free). On failure err names the service, the action, AWS's
 * error code and message; the return is -EACCES for authorization errors
 * (code IAM_ROLE_PERMISSIONS), -ENOENT for a *.NotFound / ValidationError
 * answer that names something missing, else -EIO. err_code is the code to
 * use for other failures (e.g. "INTERNAL_ERROR"). */
int awsq_call(const struct awsq *q, const struct awsq_service *svc, const struct rollout_deployment *dep,
	      const char *action, const char *params, const char *err_code, struct rollout_xml **ret,
	      struct rollout_error *err);
