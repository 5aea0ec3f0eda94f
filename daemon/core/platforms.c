/* The platform plugins taken together; see platforms.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "util.h"
#include "core/platforms.h"
#include "core/plugins.h"

int platforms_resolve(const struct plugin_registry *reg, const struct rollout_deployment *dep,
		      const char *compute_platform, const json_t *group, json_t **ret, struct rd_error *err)
{
	json_t *all = json_array(), *seen = json_object();
	char *gj = json_is_object(group) ? json_dumps(group, JSON_COMPACT) : strdup("{}");
	const struct plugin *p;
	size_t i;
	int r = 0;

	if (!all || !seen || !gj) {
		r = rd_error_set(err, -ENOMEM, "INTERNAL_ERROR", "out of memory resolving the deployment group");
		goto out;
	}
	for (i = 0; reg && (p = plugins_platform_nth(reg, compute_platform, i)); i++) {
		struct rollout_error perr = {.size = sizeof(perr)};
		char *out = NULL;
		json_t *arr, *v;
		size_t k;

		int64_t t0 = rd_mono_ms();
		r = p->desc->ops.platform->resolve(p->state, dep, gj, &out, &perr);
		metric_plugin_op(p->name, "resolve", t0, r);
		if (r < 0) {
			free(out);
			rd_error_set(err, r, perr.code[0] ? perr.code : "INTERNAL_ERROR", "platform plugin %s: %s",
				     p->name, perr.message[0] ? perr.message : strerror(-r));
			goto out;
		}
		arr = out ? json_loads(out, 0, NULL) : NULL;
		free(out);
		if (!json_is_array(arr)) {
			json_decref(arr);
			r = rd_error_set(err, -EPROTO, "INTERNAL_ERROR",
					 "platform plugin %s returned no JSON array of targets", p->name);
			goto out;
		}
		json_array_foreach(arr, k, v)
		{
			const char *id = json_string_value(json_object_get(v, "targetId"));
			if (id && *id && !json_object_get(seen, id)) {
				json_object_set_new(seen, id, json_true());
				json_array_append(all, v);
			}
		}
		json_decref(arr);
	}
	if (i == 0) {
		r = rd_error_set(err, -ENOENT, "INTERNAL_ERROR",
				 "no platform plugin serves compute platform %s; add `onprem:` under `plugins:` in the "
				 "rolloutd config",
				 compute_platform ? compute_platform : "(none)");
		goto out;
	}
	*ret = all;
	all = NULL;
out:
	json_decref(all);
	json_decref(seen);
	free(gj);
	return r;
}

int platforms_fleet(const struct plugin_registry *reg, enum platforms_fleet_op op,
		    const struct rollout_fleet_call *call, json_t **ret, struct rd_error *err)
{
	static const char *const names[] = {"fleet_provision", "fleet_retire", "fleet_discard"};
	json_t *all = json_object();
	const struct plugin *p;
	int r = 0;

	if (!all)
		return rd_error_set(err, -ENOMEM, "INTERNAL_ERROR", "out of memory");
	for (size_t i = 0; reg && (p = plugins_platform_nth(reg, "Server", i)); i++) {
		const struct rollout_platform_ops *o = p->desc->ops.platform;
		struct rollout_error perr = {.size = sizeof(perr)};
		rollout_fleet_op fn = NULL;
		char *out = NULL;
		json_t *obj;
		int64_t t0;

		switch (op) {
		case PLATFORMS_FLEET_PROVISION:
			if (ROLLOUT_HAS(o, struct rollout_platform_ops, fleet_provision))
				fn = o->fleet_provision;
			break;
		case PLATFORMS_FLEET_RETIRE:
			if (ROLLOUT_HAS(o, struct rollout_platform_ops, fleet_retire))
				fn = o->fleet_retire;
			break;
		case PLATFORMS_FLEET_DISCARD:
			if (ROLLOUT_HAS(o, struct rollout_platform_ops, fleet_discard))
				fn = o->fleet_discard;
			break;
		}
		if (!fn)
			continue;
		t0 = rd_mono_ms();
		r = fn(p->state, call, &out, &perr);
		metric_plugin_op(p->name, names[op], t0, r);
		if (r < 0) {
			free(out);
			rd_error_set(err, r, perr.code[0] ? perr.code : "INTERNAL_ERROR", "platform plugin %s: %s",
				     p->name, perr.message[0] ? perr.message : strerror(-r));
			break;
		}
		bool answered = out != NULL;
		obj = out ? json_loads(out, 0, NULL) : NULL;
		free(out);
		if (answered && !json_is_object(obj)) {
			json_decref(obj);
			r = rd_error_set(err, -EPROTO, "INTERNAL_ERROR",
					 "platform plugin %s: %s returned no JSON object", p->name, names[op]);
			break;
		}
		if (obj)
			json_object_update(all, obj);
		json_decref(obj);
	}
	if (r == 0 && ret)
		*ret = json_incref(all);
	json_decref(all);
	return r;
}
