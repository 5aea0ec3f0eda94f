/* ec2: the platform plugin for EC2 instances.
 *
 * Resolves a deployment group (DeploymentGroupInfo JSON) to the EC2
 * instances it selects, as CodeDeploy does:
 *
 *  - ec2TagFilters [TagFilter]: instances matching ANY filter;
 *  - ec2TagSet {ec2TagSetList: [[TagFilter]]}: instances matching EVERY
 *    inner list (each an OR of filters);
 *  - autoScalingGroups [{name}]: the groups' current instances;
 *  - the deployment's targetInstances (tagFilters, ec2TagSet,
 *    autoScalingGroups) replaces the group's selection.
 * The three are unioned; the onprem plugin adds the group's on-premises
 * instances. DescribeInstances' own tag filters narrow the search, but
 * they treat '*' and '?' as wildcards and the tag-filter rule has more
 * forms than they do, so every instance found is matched again with the
 * host's tag filter (CodeDeploy's rule, one place for it).
 *
 * Instances shutting down or terminated are not targets. Stopped (and
 * stopping) ones are, with "instanceState": "stopped": the engine fails
 * them at once, so they count as failed for minimum healthy hosts, as in
 * CodeDeploy. More than 1,000 instances fail the deployment with
 * OVER_MAX_INSTANCES.
 *
 * Targets: {"targetId": "i-...", "targetArn":
 * "arn:aws:ec2:REGION:ACCOUNT:instance/i-...", "instanceType": "EC2",
 * "hostIdentifier": the same ARN (what the CodeDeploy agent on the instance
 * reports), "instanceState", "tags"}.
 *
 *     plugins:
 *       ec2:
 *         endpoint: http://127.0.0.1:5000     every service; default AWS's
 *         ec2_endpoint / autoscaling_endpoint  per service, over endpoint
 *         region / access_key_id / secret_access_key / session_token /
 *         profile / credentials_file          the SDK's AWS options
 *         timeout: 30s                         per call
 *         max_attempts: 3                      on throttling, 5xx, transport errors
 *         lifecycle_queue: https://sqs...      Auto Scaling launch hooks (asg.c)
 *         asg_poll_interval: 15s               without a queue
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "asg.h"
#include "awsquery.h"
#include "ec2.h"
#include "uri.h"

#define EC2_MAX_INSTANCES 1000 /* CodeDeploy's limit per deployment */
#define EC2_IDS_PER_CALL 100

static const struct rollout_option ec2_options[] = {
    ROLLOUT_AWS_OPTIONS,
    {.name = "ec2_endpoint",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct ec2, ec2_endpoint),
     .help = "EC2's URL when it is not `endpoint` (e.g. a local emulator)"},
    {.name = "autoscaling_endpoint",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct ec2, autoscaling_endpoint),
     .help = "Auto Scaling's URL when it is not `endpoint`"},
    {.name = "sqs_endpoint",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct ec2, sqs_endpoint),
     .help = "SQS's URL when it is not `endpoint`"},
    {.name = "lifecycle_queue",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct ec2, queue_url),
     .help = "URL of the SQS queue Auto Scaling sends launch notifications to; without it the Auto Scaling "
	     "groups are polled"},
    {.name = "lifecycle_queue_arn",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct ec2, queue_arn),
     .help = "the queue's ARN when it cannot be derived from lifecycle_queue"},
    {.name = "lifecycle_role_arn",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct ec2, role_arn),
     .help = "the IAM role Auto Scaling assumes to send to lifecycle_queue"},
    {.name = "asg_poll_interval",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct ec2, poll_ms),
     .min = 100,
     .max = 3600000,
     .def = "15s",
     .help = "without lifecycle_queue: how often the Auto Scaling groups are checked for new instances"},
    {.name = "lifecycle_queue_wait",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct ec2, queue_wait_ms),
     .min = 0,
     .max = 20000,
     .def = "1s",
     .help = "how long one SQS ReceiveMessage waits for a message (whole seconds, at most 20 s)"},
    {.name = "lifecycle_queue_pause",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct ec2, queue_pause_ms),
     .min = 0,
     .max = 600000,
     .def = "2s",
     .help = "pause between an empty SQS receive and the next"},
    {.name = "lifecycle_heartbeat",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct ec2, heartbeat_ms),
     .min = 1000,
     .max = 3600000,
     .def = "5m",
     .help = "how often a launch waiting for its deployment is heartbeaten (below lifecycle_hook_timeout)"},
    {.name = "lifecycle_hook_timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct ec2, hook_timeout_ms),
     .min = 30000,
     .max = 7200000,
     .def = "10m",
     .help = "the lifecycle hooks' HeartbeatTimeout (Auto Scaling abandons the launch after it)"},
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct ec2, timeout_ms),
     .min = 1000,
     .max = 300000,
     .def = "30s",
     .help = "how long one EC2 or Auto Scaling call may take"},
    {.name = "fleet_poll_interval",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct ec2, fleet_poll_ms),
     .min = 50,
     .max = 60000,
     .def = "5s",
     .help = "how often a copied Auto Scaling group is checked while its instances launch"},
    {.name = "max_attempts",
     .type = ROLLOUT_OPT_INT,
     .offset = offsetof(struct ec2, max_attempts),
     .min = 1,
     .max = 10,
     .def = "3",
     .help = "attempts per call on throttling, 5xx and transport errors"},
    ROLLOUT_OPTION_END,
};

/* ------------------------------------------------------------------ selection */

int ec2_selection_parse(const char *group_json, struct ec2_selection *ret, char *err, size_t errlen)
{
	json_t *g = json_loads(group_json, 0, NULL), *src, *v, *asgs, *out;
	size_t i;

	memset(ret, 0, sizeof(*ret));
	if (!json_is_object(g)) {
		json_decref(g);
		snprintf(err, errlen, "the deployment group is not a JSON object");
		return -EINVAL;
	}
	src = g;
	v = json_object_get(g, "targetInstances");
	if (json_is_object(v))
		src = v;
	v = json_object_get(src, src == g ? "ec2TagFilters" : "tagFilters");
	if (json_array_size(v) > 0)
		ret->filter_json = json_dumps(v, JSON_COMPACT);
	v = json_object_get(src, "ec2TagSet");
	if (!ret->filter_json && json_array_size(json_object_get(v, "ec2TagSetList")) > 0)
		ret->filter_json = json_dumps(v, JSON_COMPACT);
	asgs = json_object_get(src, "autoScalingGroups");
	out = json_array();
	json_array_foreach(asgs, i, v)
	{
		const char *name =
		    json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "name"));
		if (name && *name)
			json_array_append_new(out, json_string(name));
	}
	if (json_array_size(out) > 0)
		ret->asgs_json = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	v = json_object_get(g, "ec2InstanceIds");
	if (json_array_size(v) > 0)
		ret->ids_json = json_dumps(v, JSON_COMPACT);
	json_decref(g);
	return 0;
}

void ec2_selection_clear(struct ec2_selection *s)
{
	free(s->filter_json);
	free(s->asgs_json);
	free(s->ids_json);
	memset(s, 0, sizeof(*s));
}

int ec2_server_filters(const char *filter_json, char ***ret, size_t *ret_n)
{
	json_t *f = json_loads(filter_json, 0, NULL), *list = NULL, *v;
	char **out = NULL;
	size_t n = 0, i;
	int r = 0;

	*ret = NULL;
	*ret_n = 0;
	if (json_is_array(f))
		list = f;
	else if (json_is_object(f)) {
		/* A tag set: an instance must match every inner list, so one
		 * inner list's filters find every candidate. */
		json_t *sets = json_object_get(f, "ec2TagSetList");
		json_array_foreach(sets, i, v)
		{
			if (json_array_size(v) > 0) {
				list = v;
				break;
			}
		}
	}
	if (json_is_array(list) && json_array_size(list) > 0 && json_is_array(json_array_get(list, 0)))
		list = json_array_get(list, 0); /* [[TagFilter]] */
	out = calloc(json_array_size(list) + 1, sizeof(*out));
	if (!out) {
		json_decref(f);
		return -ENOMEM;
	}
	json_array_foreach(list, i, v)
	{
		const char *k = json_string_value(json_object_get(v, "Key"));
		const char *val = json_string_value(json_object_get(v, "Value"));
		const char *type = json_string_value(json_object_get(v, "Type"));
		char *p = NULL, ek[600], ev[600];
		bool key = k && *k, value = val && (type || *val);
		int w;

		if (!type)
			type = key && value ? "KEY_AND_VALUE" : key ? "KEY_ONLY" : "VALUE_ONLY";
		if (!val)
			val = "";
		if (uri_encode(key ? k : "", false, ek, sizeof(ek)) < 0 || uri_encode(val, false, ev, sizeof(ev)) < 0)
			continue; /* longer than any tag: matches nothing */
		if (!strcmp(type, "KEY_ONLY") && key)
			w = asprintf(&p, "&Filter.1.Name=tag-key&Filter.1.Value.1=%s", ek);
		else if (!strcmp(type, "VALUE_ONLY") && value)
			w = asprintf(&p, "&Filter.1.Name=tag-value&Filter.1.Value.1=%s", ev);
		else if (!strcmp(type, "KEY_AND_VALUE") && key)
			w = asprintf(&p, "&Filter.1.Name=tag%%3A%s&Filter.1.Value.1=%s", ek, ev);
		else
			continue; /* selects nothing */
		if (w < 0) {
			r = -ENOMEM;
			break;
		}
		out[n++] = p;
	}
	json_decref(f);
	if (r < 0) {
		ec2_strv_free(out, n);
		return r;
	}
	*ret = out;
	*ret_n = n;
	return 0;
}

void ec2_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

bool ec2_state_is_target(const char *state)
{
	return state && strcmp(state, "shutting-down") != 0 && strcmp(state, "terminated") != 0;
}

/* ------------------------------------------------------------------ AWS calls */

/* The instances of one DescribeInstances answer, appended to out (an object
 * keyed by instance id) as targets; *ret_next is the NextToken or NULL. */
int ec2_parse_instances(const struct rollout_host *host, const struct rollout_xml *doc, const char *region,
			const char *account, bool all_states, json_t *out, char **ret_next)
{
	const struct rollout_xml_node *root = host->xml_root(doc), *res, *set, *in, *tags, *t;
	const char *next = host->xml_text(root, "nextToken");

	*ret_next = next && *next ? strdup(next) : NULL;
	set = host->xml_find(root, "reservationSet");
	for (res = set ? host->xml_first(set, "item") : NULL; res; res = host->xml_next(res, "item")) {
		const char *owner = host->xml_text(res, "ownerId");
		const struct rollout_xml_node *iset = host->xml_find(res, "instancesSet");
		for (in = iset ? host->xml_first(iset, "item") : NULL; in; in = host->xml_next(in, "item")) {
			const char *id = host->xml_text(in, "instanceId");
			const char *state = host->xml_text(in, "instanceState/name");
			json_t *tj, *o;
			char arn[256];

			if (!id || !*id || (!all_states && !ec2_state_is_target(state)))
				continue;
			tj = json_array();
			tags = host->xml_find(in, "tagSet");
			for (t = tags ? host->xml_first(tags, "item") : NULL; t; t = host->xml_next(t, "item")) {
				const char *k = host->xml_text(t, "key"), *v = host->xml_text(t, "value");
				if (k)
					json_array_append_new(tj,
							      json_pack("{s:s,s:s}", "Key", k, "Value", v ? v : ""));
			}
			snprintf(arn, sizeof(arn), "arn:aws:ec2:%s:%s:instance/%s", region,
				 owner && *owner ? owner : account, id);
			o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "targetId", id, "targetArn", arn, "instanceType",
				      "EC2", "hostIdentifier", arn, "instanceState",
				      !strcmp(state ? state : "", "stopped") || !strcmp(state ? state : "", "stopping")
					  ? "stopped"
				      : state ? state
					      : "unknown",
				      "tags", tj);
			if (!o)
				return -ENOMEM;
			json_object_set_new(out, id, o);
		}
	}
	return 0;
}

/* DescribeInstances with params (filters or ids), every page, into out. */
static int describe_instances(struct ec2 *s, const struct rollout_deployment *dep, const char *params, bool paginate,
			      bool all_states, json_t *out, struct rollout_error *err)
{
	const char *region = awsq_region(&s->q, dep);
	const char *account =
	    dep && ROLLOUT_HAS(dep, struct rollout_deployment, account_id) && dep->account_id ? dep->account_id : "";
	char *next = NULL, *p = NULL;
	int r, pages = 0;

	do {
		struct rollout_xml *doc = NULL;
		size_t cap = strlen(params) + (next ? strlen(next) * 3 : 0) + 64;
		p = malloc(cap);
		if (!p) {
			r = -ENOMEM;
			break;
		}
		snprintf(p, cap, "%s%s", params, paginate ? "&MaxResults=1000" : "");
		if (next && (r = awsq_param(p, cap, "NextToken", next)) < 0)
			break;
		free(next);
		next = NULL;
		r = awsq_call(&s->q, &s->svc_ec2, dep, "DescribeInstances", p, "INTERNAL_ERROR", &doc, err);
		free(p);
		p = NULL;
		if (r < 0)
			break;
		r = ec2_parse_instances(s->host, doc, region, account, all_states, out, &next);
		s->host->xml_free(doc);
		if (r < 0)
			break;
		if (json_object_size(out) > EC2_MAX_INSTANCES)
			break; /* the caller reports it */
	} while (next && ++pages < 1000);
	free(p);
	free(next);
	return r;
}

/* The instance ids of the named Auto Scaling groups, into ids (an object). */
static int asg_instances(struct ec2 *s, const struct rollout_deployment *dep, const char *asgs_json, json_t *ids,
			 struct rollout_error *err)
{
	json_t *names = json_loads(asgs_json, 0, NULL), *v;
	char params[8192] = "", *next = NULL, key[64];
	size_t i;
	int r = 0;

	json_array_foreach(names, i, v)
	{
		snprintf(key, sizeof(key), "AutoScalingGroupNames.member.%zu", i + 1);
		if ((r = awsq_param(params, sizeof(params), key, json_string_value(v))) < 0) {
			json_decref(names);
			return rollout_error_set(err, r, "AUTO_SCALING_CONFIGURATION",
						 "too many Auto Scaling group names in the deployment group");
		}
	}
	do {
		struct rollout_xml *doc = NULL;
		const struct rollout_xml_node *root, *groups, *g, *in;
		char p[sizeof(params) + 4096];
		snprintf(p, sizeof(p), "%s", params);
		if (next && (r = awsq_param(p, sizeof(p), "NextToken", next)) < 0)
			break;
		free(next);
		next = NULL;
		r = awsq_call(&s->q, &s->svc_asg, dep, "DescribeAutoScalingGroups", p, "AUTO_SCALING_CONFIGURATION",
			      &doc, err);
		if (r < 0)
			break;
		root = s->host->xml_root(doc);
		groups = s->host->xml_find(root, "DescribeAutoScalingGroupsResult/AutoScalingGroups");
		for (g = groups ? s->host->xml_first(groups, "member") : NULL; g; g = s->host->xml_next(g, "member")) {
			const char *gname = s->host->xml_text(g, "AutoScalingGroupName");
			const struct rollout_xml_node *iset = s->host->xml_find(g, "Instances");
			for (in = iset ? s->host->xml_first(iset, "member") : NULL; in;
			     in = s->host->xml_next(in, "member")) {
				const char *id = s->host->xml_text(in, "InstanceId");
				const char *ls = s->host->xml_text(in, "LifecycleState");
				if (id && *id && !(ls && !strncmp(ls, "Terminat", 8)))
					json_object_set_new(ids, id, json_string(gname ? gname : ""));
			}
		}
		{
			const char *nt = s->host->xml_text(root, "DescribeAutoScalingGroupsResult/NextToken");
			next = nt && *nt ? strdup(nt) : NULL;
		}
		s->host->xml_free(doc);
	} while (next);
	free(next);
	json_decref(names);
	return r;
}

/* ------------------------------------------------------------------ resolve */

static int too_many(struct rollout_error *err, size_t n)
{
	return rollout_error_set(
	    err, -E2BIG, "OVER_MAX_INSTANCES",
	    "the deployment group selects %s%zu EC2 instances, more than the %d a deployment may "
	    "reach; narrow its tag filters or Auto Scaling groups, or split it into several groups",
	    n > EC2_MAX_INSTANCES ? "at least " : "", n, EC2_MAX_INSTANCES);
}

static int ec2_resolve(void *state, const struct rollout_deployment *dep, const char *group_json,
		       char **ret_targets_json, struct rollout_error *err)
{
	struct ec2 *s = state;
	struct ec2_selection sel;
	struct rollout_tag_filter *filter = NULL;
	char msg[512] = "", **filters = NULL;
	size_t nf = 0, i;
	json_t *found = json_object(), *asg_ids = json_object(), *out = json_array(), *v;
	const char *key;
	int r;

	if (!found || !asg_ids || !out) {
		r = -ENOMEM;
		goto out0;
	}
	r = ec2_selection_parse(group_json, &sel, msg, sizeof(msg));
	if (r < 0) {
		rollout_error_set(err, r, "INTERNAL_ERROR", "%s", msg);
		goto out0;
	}
	if (sel.filter_json) {
		r = s->host->tag_filter_new(s->h, sel.filter_json, &filter, msg, sizeof(msg));
		if (r < 0) {
			rollout_error_set(err, r, "INTERNAL_ERROR",
					  "the deployment group's EC2 tag filters cannot be used: %s; fix them with "
					  "UpdateDeploymentGroup",
					  msg);
			goto out;
		}
		r = ec2_server_filters(sel.filter_json, &filters, &nf);
		if (r < 0)
			goto out;
		for (i = 0; i < nf && r == 0; i++) {
			json_t *page = json_object();
			r = page ? describe_instances(s, dep, filters[i], true, false, page, err) : -ENOMEM;
			if (r == 0) {
				json_object_foreach(page, key, v)
				{
					char *tags = json_dumps(json_object_get(v, "tags"), JSON_COMPACT);
					int m = tags ? s->host->tag_filter_match(filter, tags) : -ENOMEM;
					free(tags);
					if (m < 0) {
						r = m;
						break;
					}
					if (m == 1)
						json_object_set(found, key, v);
				}
			}
			json_decref(page);
			if (json_object_size(found) > EC2_MAX_INSTANCES) {
				r = too_many(err, json_object_size(found));
				goto out;
			}
		}
		if (r < 0)
			goto out;
	}
	if (sel.asgs_json) {
		json_t *todo = json_array();
		r = asg_instances(s, dep, sel.asgs_json, asg_ids, err);
		if (r < 0) {
			json_decref(todo);
			goto out;
		}
		json_object_foreach(asg_ids, key, v)
		{
			if (!json_object_get(found, key))
				json_array_append_new(todo, json_string(key));
		}
		if (json_object_size(found) + json_array_size(todo) > EC2_MAX_INSTANCES) {
			r = too_many(err, json_object_size(found) + json_array_size(todo));
			json_decref(todo);
			goto out;
		}
		for (i = 0; i < json_array_size(todo) && r == 0; i += EC2_IDS_PER_CALL) {
			char params[EC2_IDS_PER_CALL * 48] = "", k[32];
			for (size_t j = i; j < i + EC2_IDS_PER_CALL && j < json_array_size(todo); j++) {
				snprintf(k, sizeof(k), "InstanceId.%zu", j - i + 1);
				awsq_param(params, sizeof(params), k, json_string_value(json_array_get(todo, j)));
			}
			r = describe_instances(s, dep, params, false, false, found, err);
		}
		json_decref(todo);
		if (r < 0)
			goto out;
	}
	if (sel.ids_json) {
		/* by filter, not InstanceId.N: an id EC2 no longer knows is no error */
		json_t *ids = json_loads(sel.ids_json, 0, NULL);
		for (i = 0; i < json_array_size(ids) && r == 0; i += EC2_IDS_PER_CALL) {
			char params[EC2_IDS_PER_CALL * 48] = "&Filter.1.Name=instance-id", k[32];
			for (size_t j = i; j < i + EC2_IDS_PER_CALL && j < json_array_size(ids); j++) {
				snprintf(k, sizeof(k), "Filter.1.Value.%zu", j - i + 1);
				if (json_string_value(json_array_get(ids, j)))
					awsq_param(params, sizeof(params), k,
						   json_string_value(json_array_get(ids, j)));
			}
			r = describe_instances(s, dep, params, true, true, found, err);
		}
		json_decref(ids);
		if (r < 0)
			goto out;
	}
	json_object_foreach(found, key, v) json_array_append(out, v);
	*ret_targets_json = json_dumps(out, JSON_COMPACT);
	r = *ret_targets_json ? 0 : -ENOMEM;
	if (r == 0 && s->host->log_enabled(s->h, LOG_DEBUG))
		s->host->log(s->h, LOG_DEBUG, "%s: %zu EC2 instance(s) selected",
			     dep && dep->deployment_id ? dep->deployment_id : "-", json_array_size(out));
out:
	ec2_strv_free(filters, nf);
	if (filter)
		s->host->tag_filter_free(filter);
	ec2_selection_clear(&sel);
out0:
	json_decref(found);
	json_decref(asg_ids);
	json_decref(out);
	return r;
}

/* ------------------------------------------------------------------ init */

static int check_url(const char *key, const char *v, char *err, size_t errlen)
{
	if (v && !uri_is_http(v)) {
		snprintf(err, errlen, "plugins.ec2.%s: '%.200s' must be an http:// or https:// URL", key, v);
		return -EINVAL;
	}
	return 0;
}

static int ec2_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		    size_t errlen)
{
	struct ec2 *s;
	int r;

	/* The tag-filter rule and the XML parser are the host's, new in ABI 1.1. */
	if ((r = ROLLOUT_HOST_NEED(host, tag_filter_new, err, errlen)) < 0 ||
	    (r = ROLLOUT_HOST_NEED(host, xml_aws_error, err, errlen)) < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = host;
	s->h = h;
	r = rollout_config_parse(host, h, ec2_options, s, err, errlen);
	if (r == 0)
		r = host->config_string(h, "endpoint", NULL, &s->endpoint, err, errlen);
	if (r == 0)
		r = host->config_string(h, "region", NULL, &s->region, err, errlen);
	if (r == 0)
		r = check_url("endpoint", s->endpoint, err, errlen);
	if (r == 0)
		r = check_url("ec2_endpoint", s->ec2_endpoint, err, errlen);
	if (r == 0)
		r = check_url("autoscaling_endpoint", s->autoscaling_endpoint, err, errlen);
	if (r == 0)
		r = check_url("sqs_endpoint", s->sqs_endpoint, err, errlen);
	if (r == 0)
		r = check_url("lifecycle_queue", s->queue_url, err, errlen);
	if (r == 0 && s->heartbeat_ms >= s->hook_timeout_ms) {
		snprintf(err, errlen,
			 "plugins.ec2.lifecycle_heartbeat must be shorter than lifecycle_hook_timeout, or Auto Scaling "
			 "abandons launches between two heartbeats");
		r = -EINVAL;
	}
	if (r < 0) {
		free(s);
		return r;
	}
	s->q = (struct awsq){
	    .host = host, .h = h, .region = s->region, .timeout_ms = s->timeout_ms, .max_attempts = s->max_attempts};
	s->svc_ec2 = (struct awsq_service){
	    .sigv4 = "ec2", .version = "2016-11-15", .endpoint = s->ec2_endpoint ? s->ec2_endpoint : s->endpoint};
	s->svc_asg = (struct awsq_service){.sigv4 = "autoscaling",
					   .version = "2011-01-01",
					   .endpoint = s->autoscaling_endpoint ? s->autoscaling_endpoint : s->endpoint};
	s->svc_sqs = (struct awsq_service){
	    .sigv4 = "sqs", .version = "2012-11-05", .endpoint = s->sqs_endpoint ? s->sqs_endpoint : s->endpoint};
	s->asg = (struct asg_ctx){.host = host,
				  .h = h,
				  .q = &s->q,
				  .svc_asg = &s->svc_asg,
				  .svc_sqs = &s->svc_sqs,
				  .queue_url = s->queue_url && *s->queue_url ? s->queue_url : NULL,
				  .queue_arn = s->queue_arn,
				  .role_arn = s->role_arn,
				  .region = s->region,
				  .poll_ms = s->poll_ms,
				  .queue_pause_ms = s->queue_pause_ms,
				  .queue_wait_ms = s->queue_wait_ms,
				  .heartbeat_ms = s->heartbeat_ms,
				  .hook_timeout_s = s->hook_timeout_ms / 1000};
	*ret_state = s;
	return 0;
}

static void ec2_destroy(void *state)
{
	free(state);
}

static int ec2_lifecycle_hooks(void *state, const struct rollout_deployment *dep, const char *group_json,
			       const char *previous_json, char **ret_json, struct rollout_error *err)
{
	return asg_lifecycle_hooks(&((struct ec2 *)state)->asg, dep, group_json, previous_json, ret_json, err);
}

static int ec2_lifecycle_receive(void *state, const char *groups_json, char **ret_json, struct rollout_error *err)
{
	return asg_lifecycle_receive(&((struct ec2 *)state)->asg, groups_json, ret_json, err);
}

static int ec2_lifecycle_complete(void *state, const char *action_json, struct rollout_error *err)
{
	return asg_lifecycle_complete(&((struct ec2 *)state)->asg, action_json, err);
}

static const struct rollout_platform_ops ec2_ops =
    ROLLOUT_PLATFORM_OPS_INIT(.compute_platforms = ROLLOUT_COMPUTE_SERVER, .resolve = ec2_resolve,
			      .fleet_provision = ec2_fleet_provision, .fleet_retire = ec2_fleet_retire,
			      .fleet_discard = ec2_fleet_discard, .lifecycle_hooks = ec2_lifecycle_hooks,
			      .lifecycle_receive = ec2_lifecycle_receive, .lifecycle_complete = ec2_lifecycle_complete);

static const struct rollout_plugin ec2_plugin = ROLLOUT_PLUGIN_INIT(
    ROLLOUT_KIND_PLATFORM, .name = "ec2", .version = "1.0.0",
    .description = "EC2 instances selected by tag filters, tag sets and Auto Scaling groups (DescribeInstances)",
    .init = ec2_init, .destroy = ec2_destroy, .ops.platform = &ec2_ops);

ROLLOUT_PLUGIN_EXPORT(ec2_plugin)
