/* The ec2 plugin's server blue/green fleets (the platform ops
 * fleet_provision, fleet_retire, fleet_discard), as CodeDeploy runs them on
 * EC2:
 *
 *  - greenFleetProvisioningOption COPY_AUTO_SCALING_GROUP: the green fleet is
 *    a copy of the group's Auto Scaling group, CodeDeploy_<group>_<deployment
 *    id>, with the source's launch template or launch configuration, sizes
 *    (desired = the source's InService instances), subnets or zones, health
 *    check, cooldown, termination policies and tags, plus the tag
 *    CodeDeployProvisioningDeploymentId = the deployment id. No load
 *    balancer is attached at creation (the traffic phase registers the green
 *    instances); provisioning returns once every instance is InService.
 *    Once traffic moved, the copy takes over the source's load balancer
 *    attachments and the deployment group names the copy; TERMINATE deletes
 *    the source group (and with it its instances), KEEP_ALIVE keeps it,
 *    detached from its load balancers. A deployment that ends before that
 *    deletes the copy.
 *  - DISCOVER_EXISTING: the green fleet is the deployment's targetInstances;
 *    TERMINATE terminates the original instances (TerminateInstances),
 *    KEEP_ALIVE leaves them running, out of the load balancers.
 *
 * The copy's name is made of the group and the deployment id, so a call
 * repeated after a restart finds the group an earlier call created. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "awsquery.h"
#include "ec2.h"

#define COPY_ACTION "COPY_AUTO_SCALING_GROUP"
#define PARAMS_MAX 32768

int ec2_copy_name(const char *group, const char *deployment_id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "CodeDeploy_%s_%s", group ? group : "", deployment_id ? deployment_id : "");
	return n < 0 || (size_t)n >= len || n > 255 ? -ENAMETOOLONG : 0;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	if (ms > 0)
		nanosleep(&ts, NULL);
}

/* What the deployment group says about its fleets. */
struct fleet_group {
	json_t *doc;
	bool copy;	     /* BLUE_GREEN with COPY_AUTO_SCALING_GROUP */
	json_t *sources;     /* the group's Auto Scaling group names (array of strings), the copy left out */
	char copy_name[256]; /* CodeDeploy_<group>_<deployment id> */
};

static void fleet_group_clear(struct fleet_group *g)
{
	json_decref(g->doc);
	json_decref(g->sources);
	memset(g, 0, sizeof(*g));
}

static int fleet_group_parse(const struct rollout_fleet_call *call, struct fleet_group *g, struct rollout_error *err)
{
	const json_t *bg, *asgs, *v;
	const char *type, *action, *gname;
	size_t i;

	memset(g, 0, sizeof(*g));
	g->doc = json_loads(call->group_json ? call->group_json : "{}", 0, NULL);
	g->sources = json_array();
	if (!json_is_object(g->doc) || !g->sources)
		return rollout_error_set(err, -EINVAL, "INTERNAL_ERROR", "the deployment group is not a JSON object");
	type = json_string_value(json_object_get(json_object_get(g->doc, "deploymentStyle"), "deploymentType"));
	bg = json_object_get(g->doc, "blueGreenDeploymentConfiguration");
	action = json_string_value(json_object_get(json_object_get(bg, "greenFleetProvisioningOption"), "action"));
	g->copy = type && !strcmp(type, "BLUE_GREEN") && action && !strcmp(action, COPY_ACTION);
	gname = call->dep && call->dep->deployment_group_name
		    ? call->dep->deployment_group_name
		    : json_string_value(json_object_get(g->doc, "deploymentGroupName"));
	if (g->copy &&
	    ec2_copy_name(gname, call->dep ? call->dep->deployment_id : NULL, g->copy_name, sizeof(g->copy_name)) < 0)
		return rollout_error_set(err, -ENAMETOOLONG, "AUTO_SCALING_CONFIGURATION",
					 "the Auto Scaling group name CodeDeploy_%s_%s is longer than 255 characters; "
					 "use a shorter deployment group name",
					 gname ? gname : "", call->dep ? call->dep->deployment_id : "");
	asgs = json_object_get(g->doc, "autoScalingGroups");
	json_array_foreach(asgs, i, v)
	{
		const char *n =
		    json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "name"));
		if (n && *n && strcmp(n, g->copy_name) != 0)
			json_array_append_new(g->sources, json_string(n));
	}
	return 0;
}

/* DescribeAutoScalingGroups of one group: *ret the document (NULL when the
 * group does not exist), *ret_node its AutoScalingGroups member. */
static int describe_group(struct ec2 *s, const struct rollout_deployment *dep, const char *name,
			  struct rollout_xml **ret, const struct rollout_xml_node **ret_node, struct rollout_error *err)
{
	char params[1024] = "";
	struct rollout_xml *doc = NULL;
	const struct rollout_xml_node *groups, *g;
	int r;

	*ret = NULL;
	*ret_node = NULL;
	if ((r = awsq_param(params, sizeof(params), "AutoScalingGroupNames.member.1", name)) < 0)
		return rollout_error_set(err, r, "AUTO_SCALING_CONFIGURATION", "Auto Scaling group name too long");
	r = awsq_call(&s->q, &s->svc_asg, dep, "DescribeAutoScalingGroups", params, "AUTO_SCALING_CONFIGURATION", &doc,
		      err);
	if (r < 0)
		return r;
	groups = s->host->xml_find(s->host->xml_root(doc), "DescribeAutoScalingGroupsResult/AutoScalingGroups");
	for (g = groups ? s->host->xml_first(groups, "member") : NULL; g; g = s->host->xml_next(g, "member")) {
		const char *n = s->host->xml_text(g, "AutoScalingGroupName");
		if (n && !strcmp(n, name)) {
			*ret = doc;
			*ret_node = g;
			return 0;
		}
	}
	s->host->xml_free(doc);
	return 0;
}

static int add(char *params, struct rollout_error *err, const char *key, const char *value)
{
	int r = value ? awsq_param(params, PARAMS_MAX, key, value) : 0;
	return r < 0 ? rollout_error_set(err, r, "AUTO_SCALING_CONFIGURATION",
					 "the Auto Scaling group has too many settings to copy")
		     : 0;
}

/* Copies the list of strings at path (their "member" children) as name.N. */
static int add_list(struct ec2 *s, char *params, struct rollout_error *err, const struct rollout_xml_node *g,
		    const char *path, const char *name)
{
	const struct rollout_xml_node *l = s->host->xml_find(g, path), *m;
	char key[128];
	size_t n = 0;
	int r = 0;

	for (m = l ? s->host->xml_first(l, "member") : NULL; m && r == 0; m = s->host->xml_next(m, "member")) {
		snprintf(key, sizeof(key), "%s.member.%zu", name, ++n);
		r = add(params, err, key, s->host->xml_text(m, ""));
	}
	return r;
}

/* The CreateAutoScalingGroup parameters of the copy of src. */
static int copy_params(struct ec2 *s, const struct rollout_fleet_call *call, const char *copy_name,
		       const struct rollout_xml_node *src, const char *src_name, char *params,
		       struct rollout_error *err)
{
	const struct rollout_host *h = s->host;
	const struct rollout_xml_node *lt = h->xml_find(src, "LaunchTemplate"), *tags, *t, *ins, *in;
	const char *lc = h->xml_text(src, "LaunchConfigurationName");
	long min = atol(h->xml_text(src, "MinSize") ? h->xml_text(src, "MinSize") : "0");
	long max = atol(h->xml_text(src, "MaxSize") ? h->xml_text(src, "MaxSize") : "0");
	long desired = atol(h->xml_text(src, "DesiredCapacity") ? h->xml_text(src, "DesiredCapacity") : "0");
	long healthy = 0;
	char num[32], key[128];
	size_t n = 0;
	int r;

	/* CodeDeploy sizes the copy by the source's currently healthy instances */
	ins = h->xml_find(src, "Instances");
	for (in = ins ? h->xml_first(ins, "member") : NULL; in; in = h->xml_next(in, "member")) {
		const char *ls = h->xml_text(in, "LifecycleState"), *hs = h->xml_text(in, "HealthStatus");
		if (ls && !strcmp(ls, "InService") && (!hs || !strcmp(hs, "Healthy")))
			healthy++;
	}
	if (healthy > 0)
		desired = healthy;
	if (min > desired)
		min = desired;
	if (max < desired)
		max = desired;
	if ((r = add(params, err, "AutoScalingGroupName", copy_name)) < 0)
		return r;
	if (lt && (h->xml_text(lt, "LaunchTemplateId") || h->xml_text(lt, "LaunchTemplateName"))) {
		if (h->xml_text(lt, "LaunchTemplateId"))
			r = add(params, err, "LaunchTemplate.LaunchTemplateId", h->xml_text(lt, "LaunchTemplateId"));
		else
			r = add(params, err, "LaunchTemplate.LaunchTemplateName",
				h->xml_text(lt, "LaunchTemplateName"));
		if (r == 0)
			r = add(params, err, "LaunchTemplate.Version", h->xml_text(lt, "Version"));
	} else if (lc && *lc) {
		r = add(params, err, "LaunchConfigurationName", lc);
	} else {
		return rollout_error_set(
		    err, -ENOTSUP, "AUTO_SCALING_CONFIGURATION",
		    "Auto Scaling group %s has neither a launch template nor a launch configuration "
		    "(a mixed instances policy cannot be copied); give it one, or use "
		    "DISCOVER_EXISTING with targetInstances",
		    src_name);
	}
	snprintf(num, sizeof(num), "%ld", min);
	if (r == 0)
		r = add(params, err, "MinSize", num);
	snprintf(num, sizeof(num), "%ld", max);
	if (r == 0)
		r = add(params, err, "MaxSize", num);
	snprintf(num, sizeof(num), "%ld", desired);
	if (r == 0)
		r = add(params, err, "DesiredCapacity", num);
	if (r == 0 && h->xml_text(src, "VPCZoneIdentifier") && *h->xml_text(src, "VPCZoneIdentifier"))
		r = add(params, err, "VPCZoneIdentifier", h->xml_text(src, "VPCZoneIdentifier"));
	else if (r == 0)
		r = add_list(s, params, err, src, "AvailabilityZones", "AvailabilityZones");
	if (r == 0)
		r = add(params, err, "HealthCheckType", h->xml_text(src, "HealthCheckType"));
	if (r == 0)
		r = add(params, err, "HealthCheckGracePeriod", h->xml_text(src, "HealthCheckGracePeriod"));
	if (r == 0)
		r = add(params, err, "DefaultCooldown", h->xml_text(src, "DefaultCooldown"));
	if (r == 0)
		r = add_list(s, params, err, src, "TerminationPolicies", "TerminationPolicies");
	tags = h->xml_find(src, "Tags");
	for (t = tags ? h->xml_first(tags, "member") : NULL; t && r == 0; t = h->xml_next(t, "member")) {
		const char *k = h->xml_text(t, "Key");
		if (!k || !strcmp(k, "CodeDeployProvisioningDeploymentId") || !strncmp(k, "aws:", 4))
			continue;
		n++;
		snprintf(key, sizeof(key), "Tags.member.%zu.Key", n);
		r = add(params, err, key, k);
		snprintf(key, sizeof(key), "Tags.member.%zu.Value", n);
		if (r == 0)
			r = add(params, err, key, h->xml_text(t, "Value") ? h->xml_text(t, "Value") : "");
		snprintf(key, sizeof(key), "Tags.member.%zu.PropagateAtLaunch", n);
		if (r == 0)
			r = add(params, err, key,
				h->xml_text(t, "PropagateAtLaunch") ? h->xml_text(t, "PropagateAtLaunch") : "false");
	}
	n++;
	snprintf(key, sizeof(key), "Tags.member.%zu.Key", n);
	if (r == 0)
		r = add(params, err, key, "CodeDeployProvisioningDeploymentId");
	snprintf(key, sizeof(key), "Tags.member.%zu.Value", n);
	if (r == 0)
		r = add(params, err, key, call->dep->deployment_id);
	snprintf(key, sizeof(key), "Tags.member.%zu.PropagateAtLaunch", n);
	if (r == 0)
		r = add(params, err, key, "true");
	return r;
}

/* Waits until the copy has DesiredCapacity instances InService. */
static int wait_in_service(struct ec2 *s, const struct rollout_fleet_call *call, const char *name,
			   struct rollout_error *err)
{
	int64_t end = s->host->mono_ms() + (call->timeout_ms > 0 ? call->timeout_ms : 30 * 60 * 1000);
	long want = 0, ready = 0;

	for (;;) {
		struct rollout_xml *doc = NULL;
		const struct rollout_xml_node *g, *ins, *in;
		int r = describe_group(s, call->dep, name, &doc, &g, err);
		if (r < 0)
			return r;
		if (!doc)
			return rollout_error_set(err, -ENOENT, "AUTO_SCALING_CONFIGURATION",
						 "Auto Scaling group %s disappeared while its instances launched",
						 name);
		want = atol(s->host->xml_text(g, "DesiredCapacity") ? s->host->xml_text(g, "DesiredCapacity") : "0");
		ready = 0;
		ins = s->host->xml_find(g, "Instances");
		for (in = ins ? s->host->xml_first(ins, "member") : NULL; in; in = s->host->xml_next(in, "member")) {
			const char *ls = s->host->xml_text(in, "LifecycleState");
			if (ls && !strcmp(ls, "InService"))
				ready++;
		}
		s->host->xml_free(doc);
		if (ready >= want)
			return 0;
		if (call->stopping && call->stopping(call))
			return rollout_error_set(err, -ECANCELED, "MANUAL_STOP",
						 "the deployment was stopped while Auto Scaling group %s launched",
						 name);
		if (s->host->mono_ms() >= end)
			return rollout_error_set(
			    err, -ETIMEDOUT, "TIMEOUT",
			    "Auto Scaling group %s has %ld of %ld instances InService after %lld s; "
			    "check its scaling activities (DescribeScalingActivities)",
			    name, ready, want, (long long)(call->timeout_ms / 1000));
		sleep_ms(s->fleet_poll_ms);
	}
}

int ec2_fleet_provision(void *state, const struct rollout_fleet_call *call, char **ret_json, struct rollout_error *err)
{
	struct ec2 *s = state;
	struct fleet_group fg;
	struct rollout_xml *doc = NULL;
	const struct rollout_xml_node *g = NULL;
	const char *src;
	char *params = NULL;
	int r;

	*ret_json = NULL;
	if ((r = fleet_group_parse(call, &fg, err)) < 0 || !fg.copy)
		goto out;
	if (json_array_size(fg.sources) != 1) {
		r = rollout_error_set(err, -EINVAL, "AUTO_SCALING_CONFIGURATION",
				      "greenFleetProvisioningOption COPY_AUTO_SCALING_GROUP copies the deployment "
				      "group's Auto Scaling group, but the group names %zu; name exactly one "
				      "(autoScalingGroups)",
				      json_array_size(fg.sources));
		goto out;
	}
	src = json_string_value(json_array_get(fg.sources, 0));
	/* a restart: the copy made before it */
	if ((r = describe_group(s, call->dep, fg.copy_name, &doc, &g, err)) < 0)
		goto out;
	if (!doc) {
		if ((r = describe_group(s, call->dep, src, &doc, &g, err)) < 0)
			goto out;
		if (!doc) {
			r = rollout_error_set(
			    err, -ENOENT, "AUTO_SCALING_CONFIGURATION",
			    "the deployment group's Auto Scaling group %s does not exist; create it or "
			    "name another one with UpdateDeploymentGroup",
			    src);
			goto out;
		}
		params = calloc(1, PARAMS_MAX);
		r = params ? copy_params(s, call, fg.copy_name, g, src, params, err) : -ENOMEM;
		s->host->xml_free(doc);
		doc = NULL;
		if (r < 0)
			goto out;
		r = awsq_call(&s->q, &s->svc_asg, call->dep, "CreateAutoScalingGroup", params,
			      "AUTO_SCALING_CONFIGURATION", &doc, err);
		if (r < 0)
			goto out;
		s->host->log(s->h, LOG_NOTICE, "%s: created Auto Scaling group %s, a copy of %s (the green fleet)",
			     call->dep->deployment_id, fg.copy_name, src);
	}
	if (doc)
		s->host->xml_free(doc);
	doc = NULL;
	if ((r = wait_in_service(s, call, fg.copy_name, err)) < 0)
		goto out;
	{
		json_t *sel = json_pack("{s:[s]}", "autoScalingGroups", fg.copy_name);
		*ret_json = sel ? json_dumps(sel, JSON_COMPACT) : NULL;
		json_decref(sel);
		r = *ret_json ? 0 : -ENOMEM;
	}
out:
	if (doc)
		s->host->xml_free(doc);
	free(params);
	fleet_group_clear(&fg);
	return r;
}

/* DeleteAutoScalingGroup with its instances; a group already gone is done. */
static int delete_group(struct ec2 *s, const struct rollout_deployment *dep, const char *name,
			struct rollout_error *err)
{
	char params[1024] = "";
	struct rollout_xml *doc = NULL;
	int r;

	awsq_param(params, sizeof(params), "AutoScalingGroupName", name);
	awsq_param(params, sizeof(params), "ForceDelete", "true");
	r = awsq_call(&s->q, &s->svc_asg, dep, "DeleteAutoScalingGroup", params, "AUTO_SCALING_CONFIGURATION", &doc,
		      err);
	if (doc)
		s->host->xml_free(doc);
	if (r == -ENOENT || (r < 0 && strstr(err->message, "not found")))
		r = 0;
	if (r == 0)
		s->host->log(s->h, LOG_NOTICE, "%s: deleted Auto Scaling group %s and its instances",
			     dep && dep->deployment_id ? dep->deployment_id : "-", name);
	return r;
}

/* Attaches (attach true) or detaches the load balancers and target groups
 * of from to / from group to. */
static int move_attachments(struct ec2 *s, const struct rollout_deployment *dep, const char *from, const char *to,
			    bool attach, struct rollout_error *err)
{
	struct rollout_xml *doc = NULL, *out = NULL;
	const struct rollout_xml_node *g;
	char params[8192] = "";
	int r = describe_group(s, dep, from, &doc, &g, err);

	if (r < 0 || !doc)
		return r;
	awsq_param(params, sizeof(params), "AutoScalingGroupName", to);
	if ((r = add_list(s, params, err, g, "TargetGroupARNs", "TargetGroupARNs")) == 0 &&
	    strstr(params, "TargetGroupARNs"))
		r = awsq_call(&s->q, &s->svc_asg, dep,
			      attach ? "AttachLoadBalancerTargetGroups" : "DetachLoadBalancerTargetGroups", params,
			      "AUTO_SCALING_CONFIGURATION", &out, err);
	if (out)
		s->host->xml_free(out);
	out = NULL;
	params[0] = '\0';
	awsq_param(params, sizeof(params), "AutoScalingGroupName", to);
	if (r == 0 && (r = add_list(s, params, err, g, "LoadBalancerNames", "LoadBalancerNames")) == 0 &&
	    strstr(params, "LoadBalancerNames"))
		r = awsq_call(&s->q, &s->svc_asg, dep, attach ? "AttachLoadBalancers" : "DetachLoadBalancers", params,
			      "AUTO_SCALING_CONFIGURATION", &out, err);
	if (out)
		s->host->xml_free(out);
	s->host->xml_free(doc);
	return r;
}

/* TerminateInstances of the original EC2 instances (targetIds i-...). */
static int terminate_instances(struct ec2 *s, const struct rollout_fleet_call *call, struct rollout_error *err)
{
	int r = 0;

	for (size_t i = 0; i < call->nblue && r == 0;) {
		char params[100 * 48] = "", key[32];
		size_t n = 0;
		struct rollout_xml *doc = NULL;
		for (; i < call->nblue && n < 100; i++) {
			if (strncmp(call->blue[i], "i-", 2) != 0)
				continue; /* not an EC2 instance (on-premises) */
			snprintf(key, sizeof(key), "InstanceId.%zu", ++n);
			awsq_param(params, sizeof(params), key, call->blue[i]);
		}
		if (n == 0)
			break;
		r = awsq_call(&s->q, &s->svc_ec2, call->dep, "TerminateInstances", params, "INTERNAL_ERROR", &doc, err);
		if (doc)
			s->host->xml_free(doc);
		if (r == 0)
			s->host->log(s->h, LOG_NOTICE, "%s: terminated %zu original (blue) instance(s)",
				     call->dep->deployment_id, n);
	}
	return r;
}

int ec2_fleet_retire(void *state, const struct rollout_fleet_call *call, char **ret_json, struct rollout_error *err)
{
	struct ec2 *s = state;
	struct fleet_group fg;
	bool terminate = !call->blue_action || strcmp(call->blue_action, "KEEP_ALIVE") != 0;
	size_t i;
	json_t *v;
	int r;

	*ret_json = NULL;
	if ((r = fleet_group_parse(call, &fg, err)) < 0)
		goto out;
	if (!fg.copy) {
		if (terminate)
			r = terminate_instances(s, call, err);
		goto out;
	}
	/* the copy serves from now on: it joins the load balancers the way its
	 * source did (its own scale-outs too), and the group names it */
	json_array_foreach(fg.sources, i, v)
	{
		const char *src = json_string_value(v);
		if ((r = move_attachments(s, call->dep, src, fg.copy_name, true, err)) < 0)
			goto out;
		if (terminate) {
			if ((r = delete_group(s, call->dep, src, err)) < 0)
				goto out;
		} else if (move_attachments(s, call->dep, src, src, false, err) < 0) {
			/* its instances are out of the load balancers already (BlockTraffic) */
			s->host->log(s->h, LOG_WARNING,
				     "%s: the original Auto Scaling group %s keeps its load balancers: %s; detach them "
				     "(DetachLoadBalancerTargetGroups) so that its new instances get no traffic",
				     call->dep->deployment_id, src, err->message);
		}
	}
	{
		json_t *changes = json_pack("{s:[{s:s}]}", "autoScalingGroups", "name", fg.copy_name);
		*ret_json = changes ? json_dumps(changes, JSON_COMPACT) : NULL;
		json_decref(changes);
		r = *ret_json ? 0 : -ENOMEM;
	}
out:
	fleet_group_clear(&fg);
	return r;
}

int ec2_fleet_discard(void *state, const struct rollout_fleet_call *call, char **ret_json, struct rollout_error *err)
{
	struct ec2 *s = state;
	struct fleet_group fg;
	int r;

	*ret_json = NULL;
	if ((r = fleet_group_parse(call, &fg, err)) == 0 && fg.copy)
		r = delete_group(s, call->dep, fg.copy_name, err);
	fleet_group_clear(&fg);
	return r;
}
