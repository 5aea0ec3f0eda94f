/* onprem: the platform plugin for registered on-premises instances.
 *
 * Resolves a deployment group (DeploymentGroupInfo JSON) to the registered
 * on-premises instances it selects, reading the instances through
 * host->onprem_instances and matching their tags with the host's tag
 * filter (host->tag_filter_*, CodeDeploy's rule, the same the daemon's
 * ListOnPremisesInstances applies):
 *
 *  - onPremisesInstanceTagFilters [TagFilter]: an instance matches when it
 *    matches ANY filter (OR).
 *  - onPremisesTagSet {onPremisesTagSetList: [[TagFilter]]}: an instance must
 *    match EVERY inner list, and matches a list when it matches any filter
 *    in it (AND of ORs).
 *  - A group with neither selects no on-premises instance.
 *  - The deployment's targetInstances (if the engine passes it in the group
 *    JSON as "targetInstances") replaces the selection with its tagFilters
 *    (OR) or ec2TagSet (AND of ORs), which have the same shape.
 *  - Deregistered instances are never targets.
 *
 * Targets: {"targetId": instanceName, "targetArn": instanceArn,
 * "instanceType": "OnPremises", "hostIdentifier": the IAM ARN the agent
 * reports as its HostIdentifier, "tags": [...]}. No configuration. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rollout/plugin.h>

struct onprem {
	const struct rollout_host *host;
	struct rollout_handle *h;
};

static const struct rollout_option onprem_options[] = {ROLLOUT_OPTION_END};

static int onprem_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		       size_t errlen)
{
	struct onprem *o;
	int r;

	/* Selection is the host's tag filter, new in ABI 1.1. */
	if ((r = ROLLOUT_HOST_NEED(host, tag_filter_new, err, errlen)) < 0)
		return r;
	r = rollout_config_parse(host, h, onprem_options, NULL, err, errlen);
	if (r < 0)
		return r;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->host = host;
	o->h = h;
	*ret_state = o;
	return 0;
}

static void onprem_destroy(void *state)
{
	free(state);
}

/* The part of the group that selects instances by tags (the deployment's
 * targetInstances first), or NULL when it selects none. */
static const json_t *onprem_selector(const json_t *group)
{
	const json_t *ti = json_object_get(group, "targetInstances"), *v;

	if (json_is_object(ti)) {
		if (json_array_size(v = json_object_get(ti, "tagFilters")) > 0)
			return v;
		if (json_array_size(json_object_get(v = json_object_get(ti, "ec2TagSet"), "ec2TagSetList")) > 0)
			return v;
	}
	if (json_array_size(v = json_object_get(group, "onPremisesInstanceTagFilters")) > 0)
		return v;
	if (json_array_size(json_object_get(v = json_object_get(group, "onPremisesTagSet"), "onPremisesTagSetList")) >
	    0)
		return v;
	return NULL;
}

/* 1 when an instance with these tags is selected, 0 when not, or negative errno. */
static int onprem_selects(struct onprem *o, const struct rollout_tag_filter *f, const json_t *tags)
{
	char *text;
	int r;

	if (!f || !json_is_array(tags))
		return 0; /* no tags match no filter */
	text = json_dumps(tags, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	r = o->host->tag_filter_match(f, text);
	free(text);
	return r;
}

static int onprem_resolve(void *state, const struct rollout_deployment *dep, const char *group_json,
			  char **ret_targets_json, struct rollout_error *err)
{
	struct onprem *o = state;
	json_t *group = NULL, *instances = NULL, *out = NULL;
	struct rollout_tag_filter *filter = NULL;
	json_error_t jerr;
	char *text = NULL, *sel = NULL, msg[512] = "";
	const json_t *inst;
	size_t i;
	int r;

	group = json_loads(group_json, 0, &jerr);
	if (!json_is_object(group)) {
		r = rollout_error_set(err, -EINVAL, "INTERNAL_ERROR", "deployment group is not a JSON object: %s",
				      jerr.text);
		goto out;
	}
	if (onprem_selector(group)) {
		sel = json_dumps(onprem_selector(group), JSON_COMPACT);
		r = sel ? o->host->tag_filter_new(o->h, sel, &filter, msg, sizeof(msg)) : -ENOMEM;
		if (r < 0) {
			rollout_error_set(err, r, "INTERNAL_ERROR",
					  "the deployment group's tag filters cannot be used: %s; fix them with "
					  "UpdateDeploymentGroup",
					  msg);
			goto out;
		}
	}
	r = o->host->onprem_instances(o->h, &text, msg, sizeof(msg));
	if (r < 0) {
		rollout_error_set(err, r, "INTERNAL_ERROR", "cannot list on-premises instances: %s", msg);
		goto out;
	}
	instances = json_loads(text, 0, &jerr);
	if (!json_is_array(instances)) {
		r = rollout_error_set(err, -EINVAL, "INTERNAL_ERROR", "on-premises instance list is not an array");
		goto out;
	}
	out = json_array();
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(instances, i, inst)
	{
		const char *name = json_string_value(json_object_get(inst, "instanceName"));
		const char *status = json_string_value(json_object_get(inst, "registrationStatus"));
		const json_t *tags = json_object_get(inst, "tags");
		const char *hid = json_string_value(json_object_get(inst, "iamSessionArn"));
		json_t *t;

		if (!name || (status && strcmp(status, "Registered") != 0) || json_object_get(inst, "deregisterTime"))
			continue;
		r = onprem_selects(o, filter, tags);
		if (r < 0)
			goto out;
		if (r == 0)
			continue;
		if (!hid)
			hid = json_string_value(json_object_get(inst, "iamUserArn"));
		t = json_pack("{s:s,s:s}", "targetId", name, "instanceType", "OnPremises");
		if (!t) {
			r = -ENOMEM;
			goto out;
		}
		if (json_object_get(inst, "instanceArn"))
			json_object_set(t, "targetArn", json_object_get(inst, "instanceArn"));
		if (hid)
			json_object_set_new(t, "hostIdentifier", json_string(hid));
		json_object_set(t, "tags", json_is_array(tags) ? (json_t *)tags : json_array());
		json_array_append_new(out, t);
	}
	*ret_targets_json = json_dumps(out, JSON_COMPACT);
	r = *ret_targets_json ? 0 : -ENOMEM;
	if (r == 0 && o->host->log_enabled(o->h, LOG_DEBUG))
		o->host->log(o->h, LOG_DEBUG, "%s: %zu of %zu instances selected",
			     dep && dep->deployment_id ? dep->deployment_id : "-", json_array_size(out),
			     json_array_size(instances));
out:
	if (filter)
		o->host->tag_filter_free(filter);
	free(sel);
	if (text)
		o->host->free(text);
	json_decref(group);
	json_decref(instances);
	json_decref(out);
	return r;
}

static const struct rollout_platform_ops onprem_ops =
    ROLLOUT_PLATFORM_OPS_INIT(.compute_platforms = ROLLOUT_COMPUTE_SERVER, .resolve = onprem_resolve);

static const struct rollout_plugin onprem_plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_PLATFORM, .name = "onprem", .version = "1.1",
			.description = "registered on-premises instances, selected by tag filters or tag sets",
			.init = onprem_init, .destroy = onprem_destroy, .ops.platform = &onprem_ops);

ROLLOUT_PLUGIN_EXPORT(onprem_plugin)
