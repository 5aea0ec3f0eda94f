/* Auto Scaling lifecycle hooks and scale-out detection; see asg.h.
 *
 * CodeDeploy puts one launch hook on each Auto Scaling group a deployment
 * group names, pointing at a queue CodeDeploy owns. Self-hosted, the queue
 * is the user's (plugins.ec2.lifecycle_queue) and Auto Scaling publishes to
 * it as the role lifecycle_role_arn. A launching instance then waits in
 * Pending:Wait until rolloutd completes the action: CONTINUE once the
 * group's last successful revision is deployed, ABANDON if that failed
 * (Auto Scaling then terminates it and launches another). Without a queue
 * nothing waits: the groups are described every asg_poll_interval and the
 * engine deploys to instances in service it has not deployed to yet. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "asg.h"
#include "awsquery.h"

#define LAUNCHING "autoscaling:EC2_INSTANCE_LAUNCHING"
#define TERMINATING "autoscaling:EC2_INSTANCE_TERMINATING"

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* An autoScalingGroups entry's name: {"name": ...} or a bare string. */
static const char *entry_name(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : jstr(v, "name");
}

static json_t *find_entry(const json_t *list, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
	{
		const char *n = entry_name(v);
		if (n && name && strcmp(n, name) == 0)
			return v;
	}
	return NULL;
}

int asg_queue_arn(const char *queue_url, const char *region, char *buf, size_t len)
{
	const char *end, *name, *acct;
	const char *host = strstr(queue_url ? queue_url : "", "://");
	char reg[64] = "";
	size_t n;

	if (!host)
		return -EINVAL;
	host += 3;
	end = queue_url + strlen(queue_url);
	while (end > host && end[-1] == '/')
		end--;
	for (name = end; name > host && name[-1] != '/'; name--)
		;
	if (name <= host || name == end)
		return -EINVAL;
	for (acct = name - 1; acct > host && acct[-1] != '/'; acct--)
		;
	if (acct <= host || acct == name - 1)
		return -EINVAL;
	/* sqs.REGION.amazonaws.com names its region */
	if (!strncmp(host, "sqs.", 4)) {
		const char *dot = strchr(host + 4, '.');
		if (dot && (size_t)(dot - host - 4) < sizeof(reg))
			snprintf(reg, sizeof(reg), "%.*s", (int)(dot - host - 4), host + 4);
	}
	n = (size_t)snprintf(buf, len, "arn:aws:sqs:%s:%.*s:%.*s",
			     reg[0]   ? reg
			     : region ? region
				      : "us-east-1",
			     (int)(name - 1 - acct), acct, (int)(end - name), name);
	return n < len ? 0 : -ENOSPC;
}

static int new_uuid(char out[37])
{
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, b, sizeof(b)) : -1;

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

/* ------------------------------------------------------------------ hooks */

static int put_hook(const struct asg_ctx *c, const struct rollout_deployment *dep, const char *asg,
		    const char *transition, const char *app, const char *dg, char *ret_name, size_t len,
		    struct rollout_error *err)
{
	char params[4096] = "", uuid[37], arn[512], meta[600], to[24];
	struct rollout_xml *doc = NULL;
	int r;

	if ((r = new_uuid(uuid)) < 0)
		return rollout_error_set(err, r, "INTERNAL_ERROR", "cannot read /dev/urandom for a hook name");
	snprintf(ret_name, len, "%s%s-%s",
		 strcmp(transition, LAUNCHING) ? ASG_TERMINATION_HOOK_PREFIX : ASG_LAUNCH_HOOK_PREFIX, dg, uuid);
	if (c->queue_arn)
		snprintf(arn, sizeof(arn), "%s", c->queue_arn);
	else if (asg_queue_arn(c->queue_url, c->region, arn, sizeof(arn)) < 0)
		return rollout_error_set(err, -EINVAL, "AUTO_SCALING_CONFIGURATION",
					 "plugins.ec2.lifecycle_queue '%s' is not an SQS queue URL ending in "
					 "/ACCOUNT/NAME; set lifecycle_queue_arn too",
					 c->queue_url);
	/* the metadata names the group, as a second way to find it */
	snprintf(meta, sizeof(meta), "{\"applicationName\":\"%.200s\",\"deploymentGroupName\":\"%.200s\"}", app, dg);
	snprintf(to, sizeof(to), "%lld", (long long)c->hook_timeout_s);
	r = awsq_param(params, sizeof(params), "AutoScalingGroupName", asg);
	if (r == 0)
		r = awsq_param(params, sizeof(params), "LifecycleHookName", ret_name);
	if (r == 0)
		r = awsq_param(params, sizeof(params), "LifecycleTransition", transition);
	if (r == 0)
		r = awsq_param(params, sizeof(params), "NotificationTargetARN", arn);
	if (r == 0 && c->role_arn)
		r = awsq_param(params, sizeof(params), "RoleARN", c->role_arn);
	if (r == 0)
		r = awsq_param(params, sizeof(params), "HeartbeatTimeout", to);
	if (r == 0)
		r = awsq_param(params, sizeof(params), "DefaultResult", "ABANDON");
	if (r == 0)
		r = awsq_param(params, sizeof(params), "NotificationMetadata", meta);
	if (r < 0)
		return rollout_error_set(err, r, "AUTO_SCALING_CONFIGURATION", "lifecycle hook parameters too long");
	r = awsq_call(c->q, c->svc_asg, dep, "PutLifecycleHook", params, "AUTO_SCALING_CONFIGURATION", &doc, err);
	if (doc)
		c->host->xml_free(doc);
	if (r == 0)
		c->host->log(c->h, LOG_INFO, "lifecycle hook %s installed on Auto Scaling group %s", ret_name, asg);
	return r;
}

static int delete_hook(const struct asg_ctx *c, const struct rollout_deployment *dep, const char *asg, const char *hook,
		       struct rollout_error *err)
{
	char params[1024] = "";
	struct rollout_xml *doc = NULL;
	int r = awsq_param(params, sizeof(params), "AutoScalingGroupName", asg);

	if (r == 0)
		r = awsq_param(params, sizeof(params), "LifecycleHookName", hook);
	if (r < 0)
		return r;
	r = awsq_call(c->q, c->svc_asg, dep, "DeleteLifecycleHook", params, "AUTO_SCALING_CONFIGURATION", &doc, err);
	if (doc)
		c->host->xml_free(doc);
	if (r == 0)
		c->host->log(c->h, LOG_INFO, "lifecycle hook %s removed from Auto Scaling group %s", hook, asg);
	return r;
}

static const char *const hook_keys[] = {"hook", "terminationHook"};

int asg_lifecycle_hooks(const struct asg_ctx *c, const struct rollout_deployment *dep, const char *group_json,
			const char *previous_json, char **ret_json, struct rollout_error *err)
{
	json_t *g = group_json ? json_loads(group_json, 0, NULL) : NULL;
	json_t *prev = previous_json ? json_loads(previous_json, 0, NULL) : NULL;
	json_t *asgs = json_object_get(g, "autoScalingGroups"), *pasgs = json_object_get(prev, "autoScalingGroups");
	json_t *out = json_array(), *left = json_array(), *added = json_array(), *v, *res;
	const char *dg = jstr(g ? g : prev, "deploymentGroupName"), *app = jstr(g ? g : prev, "applicationName");
	bool term = json_is_true(json_object_get(g, "terminationHookEnabled"));
	size_t i;
	int r = 0;

	if (!out || !left || !added) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(asgs, i, v)
	{
		const char *name = entry_name(v);
		json_t *pv = find_entry(pasgs, name), *o;
		if (!name || !*name)
			continue;
		o = json_pack("{s:s}", "name", name);
		json_array_append_new(out, o);
		if (!c->queue_url)
			continue;
		for (int k = 0; k < 2 && r == 0; k++) {
			char hook[400];
			if (k == 1 && !term)
				break;
			if (jstr(pv, hook_keys[k]) && *jstr(pv, hook_keys[k])) {
				json_object_set(o, hook_keys[k], json_object_get(pv, hook_keys[k]));
				continue;
			}
			r = put_hook(c, dep, name, k ? TERMINATING : LAUNCHING, app ? app : "", dg ? dg : "", hook,
				     sizeof(hook), err);
			if (r == 0) {
				json_object_set_new(o, hook_keys[k], json_string(hook));
				json_array_append_new(added, json_pack("{s:s,s:s}", "name", name, "hook", hook));
			}
		}
		if (r < 0)
			break;
	}
	if (r < 0) {
		/* refused: what this call installed goes again */
		struct rollout_error e2 = {.size = sizeof(e2)};
		json_array_foreach(added, i, v) delete_hook(c, dep, jstr(v, "name"), jstr(v, "hook"), &e2);
		goto out;
	}
	json_array_foreach(pasgs, i, v)
	{
		json_t *nv = find_entry(out, entry_name(v));
		for (int k = 0; k < 2; k++) {
			const char *h = jstr(v, hook_keys[k]);
			struct rollout_error e2 = {.size = sizeof(e2)};
			int d;
			if (!h || !*h || (nv && jstr(nv, hook_keys[k]) && !strcmp(jstr(nv, hook_keys[k]), h)))
				continue;
			d = delete_hook(c, dep, entry_name(v), h, &e2);
			if (d < 0 && d != -ENOENT) {
				c->host->log(c->h, LOG_WARNING,
					     "lifecycle hook %s of Auto Scaling group %s not removed: %s", h,
					     entry_name(v), e2.message);
				json_array_append_new(left, json_pack("{s:s,s:s}", "name", entry_name(v), "hook", h));
			}
		}
	}
	res = json_pack("{s:O,s:O}", "autoScalingGroups", out, "hooksNotCleanedUp", left);
	*ret_json = res ? json_dumps(res, JSON_COMPACT) : NULL;
	json_decref(res);
	if (!*ret_json)
		r = -ENOMEM;
out:
	json_decref(g);
	json_decref(prev);
	json_decref(out);
	json_decref(left);
	json_decref(added);
	return r;
}

/* ------------------------------------------------------------------ messages */

json_t *asg_parse_message(const char *body, const json_t *groups)
{
	json_t *m = json_loads(body ? body : "", 0, NULL), *g, *a, *ev = NULL;
	const char *tr, *hook, *asg, *iid;
	size_t i, j;

	/* delivered through SNS: the notification wraps Auto Scaling's message */
	if (jstr(m, "Type") && !strcmp(jstr(m, "Type"), "Notification") && jstr(m, "Message")) {
		json_t *inner = json_loads(jstr(m, "Message"), 0, NULL);
		json_decref(m);
		m = inner;
	}
	tr = jstr(m, "LifecycleTransition");
	hook = jstr(m, "LifecycleHookName");
	asg = jstr(m, "AutoScalingGroupName");
	iid = jstr(m, "EC2InstanceId");
	if (!tr || !hook || !asg || !iid || (strcmp(tr, LAUNCHING) && strcmp(tr, TERMINATING))) {
		json_decref(m); /* autoscaling:TEST_NOTIFICATION, or not Auto Scaling's */
		return NULL;
	}
	ev = json_pack("{s:s,s:s,s:s,s:s,s:s}", "transition", tr, "hookName", hook, "autoScalingGroupName", asg,
		       "instanceId", iid, "token",
		       jstr(m, "LifecycleActionToken") ? jstr(m, "LifecycleActionToken") : "");
	json_array_foreach(groups, i, g)
	{
		json_array_foreach(json_object_get(g, "autoScalingGroups"), j, a)
		{
			const char *n = entry_name(a), *h = jstr(a, "hook"), *th = jstr(a, "terminationHook");
			if (n && !strcmp(n, asg) && ((h && !strcmp(h, hook)) || (th && !strcmp(th, hook)))) {
				json_object_set(ev, "applicationName", json_object_get(g, "applicationName"));
				json_object_set(ev, "deploymentGroupName", json_object_get(g, "deploymentGroupName"));
			}
		}
	}
	json_decref(m);
	return ev;
}

static int delete_message(const struct asg_ctx *c, const char *receipt, struct rollout_error *err)
{
	char params[4096] = "";
	struct rollout_xml *doc = NULL;
	int r = awsq_param(params, sizeof(params), "QueueUrl", c->queue_url);

	if (r == 0)
		r = awsq_param(params, sizeof(params), "ReceiptHandle", receipt);
	if (r < 0)
		return rollout_error_set(err, r, "AUTO_SCALING_CONFIGURATION", "receipt handle too long");
	r = awsq_call(c->q, c->svc_sqs, NULL, "DeleteMessage", params, "AUTO_SCALING_CONFIGURATION", &doc, err);
	if (doc)
		c->host->xml_free(doc);
	return r;
}

static int complete(const struct asg_ctx *c, const json_t *a, const char *result, struct rollout_error *err)
{
	char params[4096] = "";
	struct rollout_xml *doc = NULL;
	bool hb = !strcmp(result, "HEARTBEAT");
	int r = awsq_param(params, sizeof(params), "AutoScalingGroupName", jstr(a, "autoScalingGroupName"));

	if (r == 0)
		r = awsq_param(params, sizeof(params), "LifecycleHookName", jstr(a, "hookName"));
	if (r == 0 && jstr(a, "token") && *jstr(a, "token"))
		r = awsq_param(params, sizeof(params), "LifecycleActionToken", jstr(a, "token"));
	if (r == 0 && jstr(a, "instanceId"))
		r = awsq_param(params, sizeof(params), "InstanceId", jstr(a, "instanceId"));
	if (r == 0 && !hb)
		r = awsq_param(params, sizeof(params), "LifecycleActionResult", result);
	if (r < 0 || !jstr(a, "autoScalingGroupName") || !jstr(a, "hookName"))
		return rollout_error_set(err, r < 0 ? r : -EINVAL, "AUTO_SCALING_CONFIGURATION",
					 "a lifecycle action needs autoScalingGroupName and hookName");
	r = awsq_call(c->q, c->svc_asg, NULL, hb ? "RecordLifecycleActionHeartbeat" : "CompleteLifecycleAction", params,
		      "AUTO_SCALING_CONFIGURATION", &doc, err);
	if (doc)
		c->host->xml_free(doc);
	return r;
}

int asg_lifecycle_complete(const struct asg_ctx *c, const char *action_json, struct rollout_error *err)
{
	json_t *a = json_loads(action_json ? action_json : "", 0, NULL);
	const char *result = jstr(a, "result");
	int r;

	if (!result || (strcmp(result, "CONTINUE") && strcmp(result, "ABANDON") && strcmp(result, "HEARTBEAT") &&
			strcmp(result, "DELETE"))) {
		json_decref(a);
		return rollout_error_set(err, -EINVAL, "INTERNAL_ERROR",
					 "lifecycle_complete: result must be CONTINUE, ABANDON, HEARTBEAT or DELETE");
	}
	if (!strcmp(result, "DELETE")) {
		/* the engine stored what the message started: it may go */
		r = jstr(a, "receiptHandle") && c->queue_url
			? delete_message(c, jstr(a, "receiptHandle"), err)
			: rollout_error_set(err, -EINVAL, "INTERNAL_ERROR",
					    "lifecycle_complete DELETE: no receiptHandle, or no lifecycle_queue");
		json_decref(a);
		return r;
	}
	r = complete(c, a, result, err);
	if (r == 0 && strcmp(result, "HEARTBEAT"))
		c->host->log(c->h, LOG_INFO, "lifecycle action of %s in %s completed: %s", jstr(a, "instanceId"),
			     jstr(a, "autoScalingGroupName"), result);
	json_decref(a);
	return r;
}

/* ------------------------------------------------------------------ receive */

/* Without a queue: every instance in service in the groups' Auto Scaling groups. */
static int poll_groups(const struct asg_ctx *c, const json_t *groups, json_t *events, struct rollout_error *err)
{
	size_t i, j;
	json_t *g, *a;
	int r = 0;

	json_array_foreach(groups, i, g)
	{
		char params[8192] = "", key[64];
		struct rollout_xml *doc = NULL;
		const struct rollout_xml_node *root, *set, *m, *in;
		size_t n = 0;

		json_array_foreach(json_object_get(g, "autoScalingGroups"), j, a)
		{
			snprintf(key, sizeof(key), "AutoScalingGroupNames.member.%zu", ++n);
			if (entry_name(a))
				awsq_param(params, sizeof(params), key, entry_name(a));
		}
		if (n == 0)
			continue;
		r = awsq_call(c->q, c->svc_asg, NULL, "DescribeAutoScalingGroups", params, "AUTO_SCALING_CONFIGURATION",
			      &doc, err);
		if (r < 0)
			break;
		root = c->host->xml_root(doc);
		set = c->host->xml_find(root, "DescribeAutoScalingGroupsResult/AutoScalingGroups");
		for (m = set ? c->host->xml_first(set, "member") : NULL; m; m = c->host->xml_next(m, "member")) {
			const char *asg = c->host->xml_text(m, "AutoScalingGroupName");
			const struct rollout_xml_node *iset = c->host->xml_find(m, "Instances");
			for (in = iset ? c->host->xml_first(iset, "member") : NULL; in;
			     in = c->host->xml_next(in, "member")) {
				const char *id = c->host->xml_text(in, "InstanceId");
				const char *ls = c->host->xml_text(in, "LifecycleState");
				if (id && ls && !strcmp(ls, "InService"))
					json_array_append_new(
					    events,
					    json_pack("{s:s,s:O,s:O,s:s,s:s}", "transition", LAUNCHING,
						      "applicationName", json_object_get(g, "applicationName"),
						      "deploymentGroupName", json_object_get(g, "deploymentGroupName"),
						      "instanceId", id, "autoScalingGroupName", asg ? asg : ""));
			}
		}
		c->host->xml_free(doc);
	}
	return r;
}

/* With a queue: one ReceiveMessage. A lifecycle action is reported with
 * its message's receiptHandle and stays in the queue until the engine has
 * stored what it started and asks lifecycle_complete("DELETE"): a daemon
 * that stops before reads it again once the queue's visibility timeout
 * has passed. Other messages are deleted at once. */
static int receive_queue(const struct asg_ctx *c, const json_t *groups, json_t *events, struct rollout_error *err)
{
	char params[2048] = "", wait[24];
	struct rollout_xml *doc = NULL;
	const struct rollout_xml_node *root, *res, *m;
	int r;

	snprintf(wait, sizeof(wait), "%lld", (long long)(c->queue_wait_ms / 1000));
	r = awsq_param(params, sizeof(params), "QueueUrl", c->queue_url);
	if (r == 0)
		r = awsq_param(params, sizeof(params), "MaxNumberOfMessages", "10");
	if (r == 0)
		r = awsq_param(params, sizeof(params), "WaitTimeSeconds", wait);
	if (r < 0)
		return rollout_error_set(err, r, "AUTO_SCALING_CONFIGURATION", "lifecycle_queue URL too long");
	r = awsq_call(c->q, c->svc_sqs, NULL, "ReceiveMessage", params, "AUTO_SCALING_CONFIGURATION", &doc, err);
	if (r < 0)
		return r;
	root = c->host->xml_root(doc);
	res = c->host->xml_find(root, "ReceiveMessageResult");
	for (m = res ? c->host->xml_first(res, "Message") : NULL; m; m = c->host->xml_next(m, "Message")) {
		const char *body = c->host->xml_text(m, "Body"), *rh = c->host->xml_text(m, "ReceiptHandle");
		json_t *ev = asg_parse_message(body, groups);
		struct rollout_error e2 = {.size = sizeof(e2)};

		if (ev && !jstr(ev, "deploymentGroupName")) {
			/* a hook no deployment group names any more: let the instance go on */
			c->host->log(c->h, LOG_NOTICE,
				     "lifecycle message for hook %s of %s names no deployment group; completing it "
				     "with CONTINUE",
				     jstr(ev, "hookName"), jstr(ev, "autoScalingGroupName"));
			complete(c, ev, "CONTINUE", &e2);
			json_decref(ev);
			ev = NULL;
		} else if (!ev) {
			c->host->log(c->h, LOG_DEBUG, "SQS message that is no lifecycle action dropped");
		}
		if (ev) {
			if (rh)
				json_object_set_new(ev, "receiptHandle", json_string(rh));
			json_array_append_new(events, ev);
		} else {
			if (rh && delete_message(c, rh, &e2) < 0)
				c->host->log(c->h, LOG_WARNING, "cannot delete a message from %s: %s", c->queue_url,
					     e2.message);
		}
	}
	c->host->xml_free(doc);
	return 0;
}

int asg_lifecycle_receive(const struct asg_ctx *c, const char *groups_json, char **ret_json, struct rollout_error *err)
{
	json_t *groups = json_loads(groups_json ? groups_json : "[]", 0, NULL), *events = json_array(), *res;
	int64_t next = c->poll_ms;
	int r;

	if (!events) {
		json_decref(groups);
		return -ENOMEM;
	}
	if (c->queue_url) {
		r = receive_queue(c, groups, events, err);
		next = json_array_size(events) > 0 ? 0 : c->queue_pause_ms;
	} else {
		r = json_array_size(groups) > 0 ? poll_groups(c, groups, events, err) : 0;
	}
	json_decref(groups);
	if (r < 0) {
		json_decref(events);
		return r;
	}
	res = json_pack("{s:o,s:I,s:I}", "events", events, "nextPollMs", (json_int_t)next, "heartbeatMs",
			(json_int_t)c->heartbeat_ms);
	*ret_json = res ? json_dumps(res, JSON_COMPACT) : NULL;
	json_decref(res);
	return *ret_json ? 0 : -ENOMEM;
}
