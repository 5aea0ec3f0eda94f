/* onprem: the platform plugin for registered on-premises instances.
 *
 * Resolves a deployment group (DeploymentGroupInfo JSON) to the registered
 * on-premises instances it selects, reading the instances through
 * host->onprem_instances:
 *
 *  - onPremisesInstanceTagFilters [TagFilter]: an instance matches when it
 *    matches ANY filter (OR).
 *  - onPremisesTagSet {onPremisesTagSetList: [[TagFilter]]}: an instance must
 *    match EVERY inner list, and matches a list when it matches any filter
 *    in it (AND of ORs).
 *  - TagFilter {Key, Value, Type}: KEY_ONLY (has the key), VALUE_ONLY (some
 *    tag has the value), KEY_AND_VALUE (key with that value). Without Type:
 *    KEY_AND_VALUE when both are given, else whichever is given.
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

static bool tag_filter_match(const json_t *filter, const json_t *tags)
{
	const char *key = json_string_value(json_object_get(filter, "Key"));
	const char *value = json_string_value(json_object_get(filter, "Value"));
	const char *type = json_string_value(json_object_get(filter, "Type"));
	size_t i;
	const json_t *t;

	if (key && !*key)
		key = NULL;
	if (value && !*value && (!type || strcmp(type, "VALUE_ONLY") == 0))
		value = NULL;
	if (!type)
		type = key && value ? "KEY_AND_VALUE" : key ? "KEY_ONLY" : "VALUE_ONLY";
	json_array_foreach(tags, i, t)
	{
		const char *k = json_string_value(json_object_get(t, "Key"));
		const char *v = json_string_value(json_object_get(t, "Value"));
		if (!v)
			v = "";
		if (!k)
			continue;
		if (strcmp(type, "KEY_ONLY") == 0) {
			if (key && strcmp(k, key) == 0)
				return true;
		} else if (strcmp(type, "VALUE_ONLY") == 0) {
			if (value && strcmp(v, value) == 0)
				return true;
		} else if (strcmp(type, "KEY_AND_VALUE") == 0) {
			if (key && strcmp(k, key) == 0 && strcmp(v, value ? value : "") == 0)
				return true;
		}
	}
	return false;
}

/* OR over a list of filters. */
static bool any_filter_match(const json_t *filters, const json_t *tags)
{
	size_t i;
	const json_t *f;

	json_array_foreach(filters, i, f)
	{
		if (tag_filter_match(f, tags))
			return true;
	}
	return false;
}

/* AND over a list of OR-lists; an empty set matches nothing. */
static bool tag_set_match(const json_t *set, const json_t *tags)
{
	size_t i;
	const json_t *group;
	bool any = false;

	json_array_foreach(set, i, group)
	{
		if (!json_is_array(group) || json_array_size(group) == 0)
			continue;
		any = true;
		if (!any_filter_match(group, tags))
			return false;
	}
	return any;
}

/* Does the group (or the targetInstances override) select this instance? */
static bool onprem_selects(const json_t *group, const json_t *tags)
{
	const json_t *ti = json_object_get(group, "targetInstances");
	const json_t *filters, *set;

	if (json_is_object(ti)) {
		filters = json_object_get(ti, "tagFilters");
		set = json_object_get(json_object_get(ti, "ec2TagSet"), "ec2TagSetList");
		if (json_array_size(filters) > 0 || json_array_size(set) > 0)
			return json_array_size(filters) > 0 ? any_filter_match(filters, tags)
							    : tag_set_match(set, tags);
	}
	filters = json_object_get(group, "onPremisesInstanceTagFilters");
	set = json_object_get(json_object_get(group, "onPremisesTagSet"), "onPremisesTagSetList");
	if (json_array_size(filters) > 0)
		return any_filter_match(filters, tags);
	if (json_array_size(set) > 0)
		return tag_set_match(set, tags);
	return false;
}

static int onprem_resolve(void *state, const struct rollout_deployment *dep, const char *group_json,
			  char **ret_targets_json, struct rollout_error *err)
{
	struct onprem *o = state;
	json_t *group = NULL, *instances = NULL, *out = NULL;
	json_error_t jerr;
	char *text = NULL, msg[512] = "";
	const json_t *inst;
	size_t i;
	int r;

	group = json_loads(group_json, 0, &jerr);
	if (!json_is_object(group)) {
		r = rollout_error_set(err, -EINVAL, "INTERNAL_ERROR", "deployment group is not a JSON object: %s",
				      jerr.text);
		goto out;
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
		if (!onprem_selects(group, tags))
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
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_PLATFORM, .name = "onprem", .version = "1.0",
			.description = "registered on-premises instances, selected by tag filters or tag sets",
			.init = onprem_init, .destroy = onprem_destroy, .ops.platform = &onprem_ops);

ROLLOUT_PLUGIN_EXPORT(onprem_plugin)
