/* elb: the traffic plugin for EC2 instances behind Elastic Load Balancing,
 * as CodeDeploy's BlockTraffic / AllowTraffic do it: ELBv2 target groups
 * (loadBalancerInfo.targetGroupInfoList, by name) and Classic Load Balancers
 * (elbInfoList). Both are the query API of one service,
 * "elasticloadbalancing" (Version 2015-12-01 for ELBv2, 2012-06-01 for
 * classic), signed by the host's HTTP client.
 *
 *     plugins:
 *       elb:
 *         endpoint: http://127.0.0.1:5000   default https://elasticloadbalancing.<region>.amazonaws.com
 *         elb_endpoint: ...                 this service only, when `endpoint` serves others
 *         region: eu-west-1                 default AWS_REGION / AWS_DEFAULT_REGION
 *         access_key_id / secret_access_key / session_token / profile / credentials_file
 *         timeout: 10s                      one API call
 *         max_attempts: 3                   per call, on throttling, 5xx and transport errors
 *         ready_timeout: 1h                 AllowTraffic waits this long for `healthy`
 *         drain_slack: 30s                  BlockTraffic waits the deregistration delay plus this
 *         poll_interval: 5s                 between two health queries while waiting
 *
 * A backend (the traffic module's name for a target-group name) is looked up
 * as an ELBv2 target group first, then as a Classic Load Balancer; the
 * loadBalancerInfo lists lose which list a name came from. A target is an
 * instance name: an EC2 instance id (i-...) or an instance ARN
 * (arn:aws:ec2:REGION:ACCOUNT:instance/i-..., the official agent's host
 * identifier).
 *
 *   block         DeregisterTargets / DeregisterInstancesFromLoadBalancer
 *   wait_drained  polls until the target is no longer `draining` (ELBv2) or
 *                 "deregistration currently in progress" (classic), at most
 *                 the target group's deregistration_delay.timeout_seconds
 *                 (the classic ELB's connection-draining timeout) plus
 *                 drain_slack: the load balancer itself ends draining then
 *   allow         RegisterTargets / RegisterInstancesWithLoadBalancer, then
 *                 waits until the target is `healthy` (InService), at most
 *                 ready_timeout, as CodeDeploy waits up to an hour
 *   get_state     DescribeTargetHealth / DescribeInstanceHealth: ALLOWED
 *                 while registered, DRAINING, BLOCKED when not registered
 *
 * Ops run on the engine's worker threads, several at once: the only shared
 * state is the cache of looked-up backends, under a mutex. */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include <rollout/plugin.h>

#include "uri.h"

#define ELB_MAX_BACKENDS 64
#define ELB_NAME_MAX 256
#define ELB_ID_MAX 128
#define ELB_CACHE_MS (60 * 1000)
#define ELBV2_VERSION "2015-12-01"
#define CLB_VERSION "2012-06-01"

enum elb_kind { ELB_V2 = 1, ELB_CLASSIC = 2 };

struct elb_backend {
	char name[ELB_NAME_MAX];
	enum elb_kind kind;
	char arn[512];	  /* ELBv2: the target group's ARN */
	int64_t drain_ms; /* deregistration delay / connection-draining timeout */
	int64_t fetched;  /* mono ms */
};

struct elb_conf {
	int64_t timeout_ms;
	int64_t max_attempts;
	int64_t ready_timeout_ms;
	int64_t drain_slack_ms;
	int64_t poll_ms;
	const char *elb_endpoint;
};

struct elb {
	const struct rollout_host *host;
	struct rollout_handle *h;
	struct elb_conf c;
	char url[1024];
	const char *region; /* for signing; NULL: the daemon's */
	pthread_mutex_t lock;
	struct elb_backend cache[ELB_MAX_BACKENDS];
	size_t ncache;
};

static const struct rollout_option elb_options[] = {
    ROLLOUT_AWS_OPTIONS,
    {.name = "elb_endpoint",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct elb_conf, elb_endpoint),
     .help = "the Elastic Load Balancing endpoint when `endpoint` is another service's"},
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct elb_conf, timeout_ms),
     .min = 100,
     .max = 300000,
     .def = "10s",
     .help = "how long one Elastic Load Balancing API call may take"},
    {.name = "max_attempts",
     .type = ROLLOUT_OPT_INT,
     .offset = offsetof(struct elb_conf, max_attempts),
     .min = 1,
     .max = 10,
     .def = "3",
     .help = "attempts per API call on throttling, 5xx and transport errors"},
    {.name = "ready_timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct elb_conf, ready_timeout_ms),
     .min = 0,
     .max = 6 * 3600 * 1000LL,
     .def = "1h",
     .help = "how long AllowTraffic waits for the instance to become healthy (0: do not wait)"},
    {.name = "drain_slack",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct elb_conf, drain_slack_ms),
     .min = 0,
     .max = 3600 * 1000LL,
     .def = "30s",
     .help = "how long BlockTraffic waits beyond the target group's deregistration delay"},
    {.name = "poll_interval",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct elb_conf, poll_ms),
     .min = 10,
     .max = 60000,
     .def = "5s",
     .help = "time between two health queries while waiting"},
    ROLLOUT_OPTION_END,
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */
/* ------------------------------------------------------------------------ */

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	if (ms <= 0)
		return;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The EC2 instance id of a target: the id itself or the tail of an
 * instance ARN. Exposed for the unit test. */
int elb_instance_id(const char *target, char *out, size_t outlen);
int elb_instance_id(const char *target, char *out, size_t outlen)
{
	const char *p;

	if (!target || !*target)
		return -EINVAL;
	p = strncmp(target, "arn:", 4) == 0 && (p = strstr(target, ":instance/")) ? p + strlen(":instance/") : target;
	if (strncmp(p, "i-", 2) != 0 || strlen(p) < 3 || strlen(p) >= outlen ||
	    strspn(p + 2, "0123456789abcdef") != strlen(p + 2))
		return -EINVAL;
	memcpy(out, p, strlen(p) + 1);
	return 0;
}

/* Appends "&key=value" (value encoded) to a form body. */
static int form_add(char *body, size_t len, const char *key, const char *value)
{
	size_t n = strlen(body), k = strlen(key);

	if (n + k + 2 >= len)
		return -ENOSPC;
	body[n++] = '&';
	memcpy(body + n, key, k);
	n += k;
	body[n++] = '=';
	body[n] = '\0';
	return uri_encode(value, false, body + n, len - n);
}

/* ------------------------------------------------------------------------ */
/* The query API                                                              */
/* ------------------------------------------------------------------------ */

/* An answer: the XML document of a 200, or the AWS error of another status. */
struct elb_answer {
	long status;
	struct rollout_xml *doc;
	char code[128];
	char message[512];
};

static void answer_clear(struct elb *s, struct elb_answer *a)
{
	if (a->doc)
		s->host->xml_free(a->doc);
	memset(a, 0, sizeof(*a));
}

static bool retryable(int r, const struct elb_answer *a)
{
	if (r < 0)
		return r != -ENOKEY && r != -EINVAL && r != -ENOMEM && r != -EFBIG && r != -EACCES;
	return a->status == 429 || a->status >= 500 || strstr(a->code, "Throttl") || strstr(a->code, "RequestLimit");
}

/* One call with retries: params is "Action=...&..." without Version.
 * 0 when an answer arrived (look at a->status); a negative errno with err
 * set when none did. */
static int elb_call(struct elb *s, bool classic, const char *params, struct elb_answer *a, struct rollout_error *err)
{
	static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
					      "Accept: text/xml", NULL};
	char body[4096], herr[512] = "";
	int64_t backoff = 200;
	int r = -EIO;

	snprintf(body, sizeof(body), "%s&Version=%s", params, classic ? CLB_VERSION : ELBV2_VERSION);
	for (int64_t attempt = 1;; attempt++) {
		struct rollout_http_response *resp = NULL;
		struct rollout_http_request req =
		    ROLLOUT_HTTP_REQUEST_INIT(.method = "POST", .url = s->url, .headers = headers, .body = body,
					      .body_len = strlen(body), .timeout_ms = s->c.timeout_ms,
					      .max_body = 4 << 20, .aws_service = "elasticloadbalancing",
					      .aws_region = s->region);

		answer_clear(s, a);
		herr[0] = '\0';
		r = s->host->http_request(s->h, &req, &resp, herr, sizeof(herr));
		if (r == 0) {
			size_t len = 0;
			const char *b = s->host->http_body(resp, &len);
			char perr[256];
			a->status = s->host->http_status(resp);
			if (s->host->xml_parse(s->h, b ? b : "", b ? len : 0, &a->doc, perr, sizeof(perr)) < 0) {
				a->doc = NULL;
				if (a->status == 200)
					a->status = 502; /* an answer that is no XML is no answer */
				snprintf(a->message, sizeof(a->message), "no XML in the answer: %s", perr);
			}
			if (a->status != 200) {
				const char *c = "", *m = "";
				if (a->doc && s->host->xml_aws_error(a->doc, &c, &m) == 1) {
					snprintf(a->code, sizeof(a->code), "%s", c);
					snprintf(a->message, sizeof(a->message), "%s", m);
				}
				if (!a->code[0])
					snprintf(a->code, sizeof(a->code), "HTTP %ld", a->status);
			}
			s->host->http_free(resp);
		}
		if (!retryable(r, a) || attempt >= s->c.max_attempts)
			break;
		sleep_ms(backoff);
		backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
	}
	if (r == -EACCES) /* the group's service role could not be assumed */
		return rollout_error_set(err, r, "IAM_ROLE_PERMISSIONS", "%s", herr);
	if (r < 0)
		return rollout_error_set(err, r, r == -ENOKEY ? "IAM_ROLE_MISSING" : "ELASTIC_LOAD_BALANCING_INVALID",
					 "cannot reach Elastic Load Balancing at %.300s: %s%s", s->url, herr,
					 r == -ENOKEY ? "; give the elb plugin credentials (access_key_id / "
							"secret_access_key, a profile, or an instance role)"
						      : "");
	return 0;
}

/* A failed answer as a deployment error naming what failed. */
static int elb_fail(const struct elb_answer *a, const char *what, struct rollout_error *err)
{
	const char *code = "ELASTIC_LOAD_BALANCING_INVALID";
	int r = -EIO;

	if (a->status == 403 || a->status == 401 || strstr(a->code, "AccessDenied") ||
	    strstr(a->code, "UnauthorizedOperation")) {
		code = "IAM_ROLE_PERMISSIONS";
		r = -EACCES;
	} else if (a->status == 429 || strstr(a->code, "Throttl")) {
		code = "THROTTLED";
		r = -EAGAIN;
	}
	return rollout_error_set(
	    err, r, code, "%s failed: %s%s%s%s", what, a->code, a->message[0] ? ": " : "", a->message,
	    r == -EACCES ? " (the daemon's credentials need elasticloadbalancing:Describe*, "
			   "RegisterTargets, DeregisterTargets, RegisterInstancesWithLoadBalancer and "
			   "DeregisterInstancesFromLoadBalancer)"
			 : "");
}

/* ------------------------------------------------------------------------ */
/* Backends: target groups and classic load balancers by name                 */
/* ------------------------------------------------------------------------ */

static bool backend_name_ok(const char *s)
{
	return s && *s && strlen(s) < ELB_NAME_MAX && !strpbrk(s, " \t\r\n");
}

/* The deregistration delay of a target group, in ms; -1 when unknown. */
static int64_t tg_drain_ms(struct elb *s, const char *arn, struct rollout_error *err)
{
	struct elb_answer a = {0};
	char params[1024] = "Action=DescribeTargetGroupAttributes";
	const struct rollout_xml_node *m;
	int64_t ms = -1;

	if (form_add(params, sizeof(params), "TargetGroupArn", arn) < 0 || elb_call(s, false, params, &a, err) < 0)
		return -1;
	if (a.status == 200) {
		m = s->host->xml_find(s->host->xml_root(a.doc), "DescribeTargetGroupAttributesResult/Attributes");
		for (m = m ? s->host->xml_first(m, "member") : NULL; m; m = s->host->xml_next(m, "member")) {
			const char *k = s->host->xml_text(m, "Key"), *v = s->host->xml_text(m, "Value");
			if (k && v && strcmp(k, "deregistration_delay.timeout_seconds") == 0)
				ms = strtoll(v, NULL, 10) * 1000;
		}
	}
	answer_clear(s, &a);
	return ms;
}

/* The connection-draining timeout of a classic load balancer in ms (0 when
 * draining is off); -1 when unknown. */
static int64_t clb_drain_ms(struct elb *s, const char *name, struct rollout_error *err)
{
	struct elb_answer a = {0};
	char params[1024] = "Action=DescribeLoadBalancerAttributes";
	const char *en, *to;
	int64_t ms = -1;

	if (form_add(params, sizeof(params), "LoadBalancerName", name) < 0 || elb_call(s, true, params, &a, err) < 0)
		return -1;
	if (a.status == 200) {
		const struct rollout_xml_node *cd =
		    s->host->xml_find(s->host->xml_root(a.doc),
				      "DescribeLoadBalancerAttributesResult/LoadBalancerAttributes/ConnectionDraining");
		en = cd ? s->host->xml_text(cd, "Enabled") : NULL;
		to = cd ? s->host->xml_text(cd, "Timeout") : NULL;
		if (en && strcasecmp(en, "true") != 0)
			ms = 0;
		else if (to)
			ms = strtoll(to, NULL, 10) * 1000;
	}
	answer_clear(s, &a);
	return ms;
}

/* Looks name up: an ELBv2 target group, else a classic load balancer. */
static int backend_lookup(struct elb *s, const char *name, struct elb_backend *ret, struct rollout_error *err)
{
	struct elb_answer a = {0};
	char params[1024];
	const char *arn;
	int r;

	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	snprintf(params, sizeof(params), "Action=DescribeTargetGroups");
	if (form_add(params, sizeof(params), "Names.member.1", name) < 0)
		return rollout_error_set(err, -ENAMETOOLONG, "ELASTIC_LOAD_BALANCING_INVALID",
					 "target group name '%.100s...' is too long", name);
	if ((r = elb_call(s, false, params, &a, err)) < 0)
		return r;
	if (a.status == 200) {
		arn = s->host->xml_text(s->host->xml_root(a.doc),
					"DescribeTargetGroupsResult/TargetGroups/member/TargetGroupArn");
		if (arn && *arn) {
			ret->kind = ELB_V2;
			snprintf(ret->arn, sizeof(ret->arn), "%s", arn);
			answer_clear(s, &a);
			ret->drain_ms = tg_drain_ms(s, ret->arn, err);
			return 0;
		}
	} else if (!strstr(a.code, "TargetGroupNotFound") && !strstr(a.code, "ValidationError")) {
		r = elb_fail(&a, "DescribeTargetGroups", err);
		answer_clear(s, &a);
		return r;
	}
	answer_clear(s, &a);

	snprintf(params, sizeof(params), "Action=DescribeLoadBalancers");
	form_add(params, sizeof(params), "LoadBalancerNames.member.1", name);
	if ((r = elb_call(s, true, params, &a, err)) < 0)
		return r;
	if (a.status == 200 && s->host->xml_find(s->host->xml_root(a.doc),
						 "DescribeLoadBalancersResult/LoadBalancerDescriptions/member")) {
		ret->kind = ELB_CLASSIC;
		answer_clear(s, &a);
		ret->drain_ms = clb_drain_ms(s, name, err);
		return 0;
	}
	if (a.status != 200 && !strstr(a.code, "LoadBalancerNotFound") && !strstr(a.code, "AccessPointNotFound") &&
	    !strstr(a.code, "ValidationError")) {
		r = elb_fail(&a, "DescribeLoadBalancers", err);
		answer_clear(s, &a);
		return r;
	}
	answer_clear(s, &a);
	return rollout_error_set(err, -ENOENT, "ELASTIC_LOAD_BALANCING_INVALID",
				 "Elastic Load Balancing at %.200s has no target group and no Classic Load Balancer "
				 "named '%s'; create it, or fix the deployment group's loadBalancerInfo "
				 "(targetGroupInfoList / elbInfoList names)",
				 s->url, name);
}

/* The backend named name, from the cache or looked up. */
static int backend_get(struct elb *s, const char *name, bool refresh, struct elb_backend *ret,
		       struct rollout_error *err)
{
	int64_t now = s->host->mono_ms();
	size_t i;
	int r;

	if (!backend_name_ok(name))
		return rollout_error_set(err, -EINVAL, "MISSING_ELB_INFORMATION",
					 "'%.100s' is not a target group or load balancer name", name ? name : "");
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->ncache; i++)
		if (strcmp(s->cache[i].name, name) == 0)
			break;
	if (i < s->ncache && !refresh && now - s->cache[i].fetched < ELB_CACHE_MS) {
		*ret = s->cache[i];
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	pthread_mutex_unlock(&s->lock);
	if ((r = backend_lookup(s, name, ret, err)) < 0)
		return r;
	ret->fetched = now;
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->ncache; i++)
		if (strcmp(s->cache[i].name, name) == 0)
			break;
	if (i == s->ncache && s->ncache < ELB_MAX_BACKENDS)
		s->ncache++;
	if (i < ELB_MAX_BACKENDS)
		s->cache[i] = *ret;
	pthread_mutex_unlock(&s->lock);
	if (s->host->log)
		s->host->log(s->h, LOG_DEBUG, "%s is a%s (deregistration delay %lld ms)", name,
			     ret->kind == ELB_V2 ? "n ELBv2 target group" : " Classic Load Balancer",
			     (long long)ret->drain_ms);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Target state                                                               */
/* ------------------------------------------------------------------------ */

struct elb_health {
	enum rollout_traffic_state state;
	bool healthy;	  /* gets requests: healthy / InService (or no health checks) */
	char what[64];	  /* the load balancer's word: healthy, draining, OutOfService, ... */
	char reason[256]; /* its reason or description */
};

static int v2_health(struct elb *s, const struct elb_backend *b, const char *id, struct elb_health *ret,
		     struct elb_answer *a, struct rollout_error *err)
{
	char params[1024] = "Action=DescribeTargetHealth";
	const struct rollout_xml_node *m;
	const char *st, *rs, *ds;
	int r;

	memset(ret, 0, sizeof(*ret));
	form_add(params, sizeof(params), "TargetGroupArn", b->arn);
	form_add(params, sizeof(params), "Targets.member.1.Id", id);
	if ((r = elb_call(s, false, params, a, err)) < 0)
		return r;
	if (a->status != 200)
		return 1;
	m = s->host->xml_find(s->host->xml_root(a->doc), "DescribeTargetHealthResult/TargetHealthDescriptions");
	for (m = m ? s->host->xml_first(m, "member") : NULL; m; m = s->host->xml_next(m, "member")) {
		const char *tid = s->host->xml_text(m, "Target/Id");
		if (tid && strcmp(tid, id) == 0)
			break;
	}
	st = m ? s->host->xml_text(m, "TargetHealth/State") : NULL;
	rs = m ? s->host->xml_text(m, "TargetHealth/Reason") : NULL;
	ds = m ? s->host->xml_text(m, "TargetHealth/Description") : NULL;
	snprintf(ret->what, sizeof(ret->what), "%s", st ? st : "unregistered");
	snprintf(ret->reason, sizeof(ret->reason), "%s%s%s", rs ? rs : "", ds && *ds ? ": " : "", ds ? ds : "");
	if (!st || (rs && strcmp(rs, "Target.NotRegistered") == 0))
		ret->state = ROLLOUT_TRAFFIC_BLOCKED;
	else if (strcmp(st, "draining") == 0)
		ret->state = ROLLOUT_TRAFFIC_DRAINING;
	else
		ret->state = ROLLOUT_TRAFFIC_ALLOWED;
	/* unavailable: health checks are off; unused/Target.NotInUse: no load
	 * balancer forwards to this group, so there is nothing to wait for */
	ret->healthy = ret->state == ROLLOUT_TRAFFIC_ALLOWED &&
		       (strcmp(st, "healthy") == 0 || strcmp(st, "unavailable") == 0 ||
			(strcmp(st, "unused") == 0 && rs && strcmp(rs, "Target.NotInUse") == 0));
	return 0;
}

static int clb_health(struct elb *s, const struct elb_backend *b, const char *id, struct elb_health *ret,
		      struct elb_answer *a, struct rollout_error *err)
{
	char params[1024] = "Action=DescribeLoadBalancers";
	const struct rollout_xml_node *m;
	const char *st, *ds;
	bool member = false;
	int r;

	memset(ret, 0, sizeof(*ret));
	/* registration from the load balancer's instance list: its health
	 * answer for an instance that left is not the same on AWS and moto */
	form_add(params, sizeof(params), "LoadBalancerNames.member.1", b->name);
	if ((r = elb_call(s, true, params, a, err)) < 0)
		return r;
	if (a->status != 200)
		return 1;
	m = s->host->xml_find(s->host->xml_root(a->doc),
			      "DescribeLoadBalancersResult/LoadBalancerDescriptions/member/Instances");
	for (m = m ? s->host->xml_first(m, "member") : NULL; m && !member; m = s->host->xml_next(m, "member")) {
		const char *iid = s->host->xml_text(m, "InstanceId");
		member = iid && strcmp(iid, id) == 0;
	}
	answer_clear(s, a);
	snprintf(params, sizeof(params), "Action=DescribeInstanceHealth");
	form_add(params, sizeof(params), "LoadBalancerName", b->name);
	form_add(params, sizeof(params), "Instances.member.1.InstanceId", id);
	if ((r = elb_call(s, true, params, a, err)) < 0)
		return r;
	if (a->status != 200) {
		if (strstr(a->code, "InvalidInstance") || strstr(a->code, "InvalidEndPoint")) {
			/* AWS: the instance is not registered (any more) */
			answer_clear(s, a);
			ret->state = member ? ROLLOUT_TRAFFIC_ALLOWED : ROLLOUT_TRAFFIC_BLOCKED;
			snprintf(ret->what, sizeof(ret->what), "unregistered");
			return 0;
		}
		return 1;
	}
	m = s->host->xml_find(s->host->xml_root(a->doc), "DescribeInstanceHealthResult/InstanceStates/member");
	st = m ? s->host->xml_text(m, "State") : NULL;
	ds = m ? s->host->xml_text(m, "Description") : NULL;
	snprintf(ret->what, sizeof(ret->what), "%s", st ? st : "unregistered");
	snprintf(ret->reason, sizeof(ret->reason), "%s", ds ? ds : "");
	if (ds && strcasestr(ds, "deregistration currently in progress"))
		ret->state = ROLLOUT_TRAFFIC_DRAINING;
	else
		ret->state = member ? ROLLOUT_TRAFFIC_ALLOWED : ROLLOUT_TRAFFIC_BLOCKED;
	ret->healthy = member && st && strcmp(st, "InService") == 0 && ret->state != ROLLOUT_TRAFFIC_DRAINING;
	return 0;
}

/* The health of target in backend, with the backend looked up again once
 * when the load balancer no longer knows it (recreated under its name). */
static int target_health(struct elb *s, const char *backend, const char *target, struct elb_backend *b, char *id,
			 struct elb_health *ret, struct rollout_error *err)
{
	struct elb_answer a = {0};
	int r;

	if (elb_instance_id(target, id, ELB_ID_MAX) < 0)
		return rollout_error_set(err, -EINVAL, "ELB_INVALID_INSTANCE",
					 "'%.200s' is not an EC2 instance id or instance ARN; the elb plugin registers "
					 "EC2 instances only",
					 target ? target : "");
	for (int pass = 0; pass < 2; pass++) {
		if ((r = backend_get(s, backend, pass > 0, b, err)) < 0)
			return r;
		r = b->kind == ELB_V2 ? v2_health(s, b, id, ret, &a, err) : clb_health(s, b, id, ret, &a, err);
		if (r <= 0) {
			answer_clear(s, &a);
			return r;
		}
		if (pass == 0 && (strstr(a.code, "TargetGroupNotFound") || strstr(a.code, "LoadBalancerNotFound") ||
				  strstr(a.code, "AccessPointNotFound"))) {
			answer_clear(s, &a);
			continue;
		}
		break;
	}
	r = elb_fail(&a, b->kind == ELB_V2 ? "DescribeTargetHealth" : "DescribeInstanceHealth", err);
	answer_clear(s, &a);
	return r;
}

/* Registers (or deregisters) target in backend. */
static int target_set(struct elb *s, const char *backend, const char *target, bool reg, struct rollout_error *err)
{
	struct elb_answer a = {0};
	struct elb_backend b;
	char id[ELB_ID_MAX], params[1024], what[160];
	int r;

	if (elb_instance_id(target, id, sizeof(id)) < 0)
		return rollout_error_set(err, -EINVAL, "ELB_INVALID_INSTANCE",
					 "'%.200s' is not an EC2 instance id or instance ARN; the elb plugin registers "
					 "EC2 instances only",
					 target ? target : "");
	for (int pass = 0; pass < 2; pass++) {
		if ((r = backend_get(s, backend, pass > 0, &b, err)) < 0)
			return r;
		if (b.kind == ELB_V2) {
			snprintf(params, sizeof(params), "Action=%s", reg ? "RegisterTargets" : "DeregisterTargets");
			form_add(params, sizeof(params), "TargetGroupArn", b.arn);
			form_add(params, sizeof(params), "Targets.member.1.Id", id);
		} else {
			snprintf(params, sizeof(params), "Action=%s",
				 reg ? "RegisterInstancesWithLoadBalancer" : "DeregisterInstancesFromLoadBalancer");
			form_add(params, sizeof(params), "LoadBalancerName", b.name);
			form_add(params, sizeof(params), "Instances.member.1.InstanceId", id);
		}
		if ((r = elb_call(s, b.kind == ELB_CLASSIC, params, &a, err)) < 0)
			return r;
		if (a.status == 200)
			break;
		if (pass == 0 && (strstr(a.code, "TargetGroupNotFound") || strstr(a.code, "LoadBalancerNotFound") ||
				  strstr(a.code, "AccessPointNotFound"))) {
			answer_clear(s, &a);
			continue;
		}
		break;
	}
	snprintf(what, sizeof(what), "%s %s %s %s", reg ? "registering" : "deregistering", id, reg ? "with" : "from",
		 backend);
	if (a.status != 200) {
		/* a target that is not registered is deregistered already */
		if (!reg && strstr(a.code, "InvalidTarget")) {
			struct elb_health hl;
			answer_clear(s, &a);
			if ((r = target_health(s, backend, target, &b, id, &hl, err)) < 0)
				return r;
			if (hl.state == ROLLOUT_TRAFFIC_BLOCKED)
				return 0;
			return rollout_error_set(err, -EIO, "ELB_INVALID_INSTANCE",
						 "%s was refused and the target is still %s (%s)", what, hl.what,
						 hl.reason);
		}
		if (reg && (strstr(a.code, "InvalidTarget") || strstr(a.code, "InvalidInstance"))) {
			r = rollout_error_set(err, -EINVAL, "ELB_INVALID_INSTANCE",
					      "%s was refused: %s: %s; the instance must be running and in the load "
					      "balancer's VPC",
					      what, a.code, a.message);
		} else {
			r = elb_fail(&a, what, err);
		}
		answer_clear(s, &a);
		return r;
	}
	answer_clear(s, &a);
	if (s->host->log)
		s->host->log(s->h, LOG_INFO, "done: %s", what);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Ops                                                                        */
/* ------------------------------------------------------------------------ */

static int elb_block(void *state, const char *backend, const char *target, struct rollout_error *err)
{
	return target_set(state, backend, target, false, err);
}

static int elb_allow(void *state, const char *backend, const char *target, struct rollout_error *err)
{
	struct elb *s = state;
	struct elb_backend b;
	struct elb_health hl;
	char id[ELB_ID_MAX];
	int64_t deadline;
	int r;

	if ((r = target_set(s, backend, target, true, err)) < 0 || s->c.ready_timeout_ms <= 0)
		return r;
	/* AllowTraffic ends when the load balancer sends the instance
	 * requests: after its health checks passed */
	deadline = s->host->mono_ms() + s->c.ready_timeout_ms;
	for (;;) {
		if ((r = target_health(s, backend, target, &b, id, &hl, err)) < 0)
			return r;
		if (hl.healthy)
			return 0;
		if (hl.state == ROLLOUT_TRAFFIC_BLOCKED)
			return rollout_error_set(
			    err, -EIO, "ELASTIC_LOAD_BALANCING_INVALID",
			    "%s left %s while AllowTraffic waited for it to become healthy (%s%s%s); "
			    "something else deregistered it",
			    id, backend, hl.what, hl.reason[0] ? ", " : "", hl.reason);
		if (s->host->mono_ms() >= deadline)
			return rollout_error_set(
			    err, -ETIMEDOUT, "ELASTIC_LOAD_BALANCING_INVALID",
			    "%s is registered with %s but not healthy after %lld s (state %s%s%s); "
			    "check the application and the health check on the instance, or raise "
			    "plugins.elb.ready_timeout",
			    id, backend, (long long)(s->c.ready_timeout_ms / 1000), hl.what, hl.reason[0] ? ": " : "",
			    hl.reason);
		sleep_ms(s->c.poll_ms);
	}
}

static int elb_get_state(void *state, const char *backend, const char *target, enum rollout_traffic_state *ret,
			 struct rollout_error *err)
{
	struct elb_backend b;
	struct elb_health hl;
	char id[ELB_ID_MAX];
	int r = target_health(state, backend, target, &b, id, &hl, err);

	if (r < 0)
		return r;
	*ret = hl.state;
	return 0;
}

static int elb_wait_drained(void *state, const char *backend, const char *target, int64_t timeout_ms,
			    struct rollout_error *err)
{
	struct elb *s = state;
	struct elb_backend b;
	struct elb_health hl;
	char id[ELB_ID_MAX];
	int64_t bound = -1, deadline = 0;
	int r;

	for (;;) {
		if ((r = target_health(s, backend, target, &b, id, &hl, err)) < 0)
			return r;
		if (bound < 0) {
			/* the load balancer ends draining after its delay; the
			 * engine's default applies when the delay is unknown */
			bound = b.drain_ms >= 0 ? b.drain_ms + s->c.drain_slack_ms : timeout_ms;
			deadline = s->host->mono_ms() + bound;
		}
		if (hl.state == ROLLOUT_TRAFFIC_BLOCKED)
			return 0;
		if (hl.state == ROLLOUT_TRAFFIC_ALLOWED)
			return rollout_error_set(
			    err, -EINVAL, "ELASTIC_LOAD_BALANCING_INVALID",
			    "%s is registered with %s again (%s) while BlockTraffic waited for it to "
			    "drain; something else registered it",
			    id, backend, hl.what);
		if (s->host->mono_ms() >= deadline)
			return rollout_error_set(err, -ETIMEDOUT, "ELASTIC_LOAD_BALANCING_INVALID",
						 "%s is still draining from %s after %lld ms (the deregistration delay "
						 "%lld s plus plugins.elb.drain_slack); check the target group's "
						 "deregistration_delay.timeout_seconds",
						 id, backend, (long long)bound,
						 (long long)(b.drain_ms >= 0 ? b.drain_ms / 1000 : -1));
		sleep_ms(s->c.poll_ms);
	}
}

/* ------------------------------------------------------------------------ */
/* init / destroy and the descriptor                                          */
/* ------------------------------------------------------------------------ */

static int elb_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		    size_t errlen)
{
	struct elb *s = calloc(1, sizeof(*s));
	const char *ep = NULL, *region = NULL;
	int r;

	if (!s)
		return -ENOMEM;
	s->host = host;
	s->h = h;
	pthread_mutex_init(&s->lock, NULL);
	if ((r = ROLLOUT_HOST_NEED(host, xml_aws_error, err, errlen)) < 0)
		goto fail;
	if ((r = rollout_config_parse(host, h, elb_options, &s->c, err, errlen)) < 0)
		goto fail;
	if ((r = host->config_string(h, "endpoint", NULL, &ep, err, errlen)) < 0 ||
	    (r = host->config_string(h, "region", NULL, &region, err, errlen)) < 0)
		goto fail;
	if (s->c.elb_endpoint && *s->c.elb_endpoint)
		ep = s->c.elb_endpoint;
	s->region = region && *region ? region : NULL;
	if (!region || !*region)
		region = getenv("AWS_REGION");
	if (!region || !*region)
		region = getenv("AWS_DEFAULT_REGION");
	if (ep && *ep) {
		if (!uri_is_http(ep) || strlen(ep) >= sizeof(s->url)) {
			snprintf(err, errlen, "plugins.elb.%s: '%.200s' must be an http:// or https:// URL",
				 ep == s->c.elb_endpoint ? "elb_endpoint" : "endpoint", ep);
			r = -EINVAL;
			goto fail;
		}
		snprintf(s->url, sizeof(s->url), "%s", ep);
	} else if (region && *region && !strpbrk(region, "/: \t")) {
		snprintf(s->url, sizeof(s->url), "https://elasticloadbalancing.%s.amazonaws.com/", region);
	} else {
		snprintf(err, errlen,
			 "plugins.elb: no region; set plugins.elb.region (e.g. eu-west-1) or AWS_REGION, or an "
			 "endpoint");
		r = -EINVAL;
		goto fail;
	}
	*ret_state = s;
	return 0;
fail:
	pthread_mutex_destroy(&s->lock);
	free(s);
	return r;
}

static void elb_destroy(void *state)
{
	struct elb *s = state;

	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct rollout_traffic_ops elb_ops =
    ROLLOUT_TRAFFIC_OPS_INIT(.block = elb_block, .allow = elb_allow, .get_state = elb_get_state,
			     .wait_drained = elb_wait_drained);

static const struct rollout_plugin elb_plugin = ROLLOUT_PLUGIN_INIT(
    ROLLOUT_KIND_TRAFFIC, .name = "elb", .version = "1.0.0",
    .description = "registers and deregisters EC2 instances in ELBv2 target groups and Classic Load Balancers",
    .init = elb_init, .destroy = elb_destroy, .ops.traffic = &elb_ops);

ROLLOUT_PLUGIN_EXPORT(elb_plugin)
