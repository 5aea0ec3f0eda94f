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

/* ---------------------------------------------------------------- Auto Scaling */

#define LC_HAS(p, op)                                                                                                  \
	(ROLLOUT_HAS((p)->desc->ops.platform, struct rollout_platform_ops, op) && (p)->desc->ops.platform->op)

static const struct plugin *lifecycle_plugin(const struct plugin_registry *reg, size_t which)
{
	const struct plugin *p;

	for (size_t i = 0; reg && (p = plugins_platform_nth(reg, "Server", i)); i++) {
		if ((which == 0 && LC_HAS(p, lifecycle_hooks)) || (which == 1 && LC_HAS(p, lifecycle_receive)) ||
		    (which == 2 && LC_HAS(p, lifecycle_complete)))
			return p;
	}
	return NULL;
}

bool platforms_lifecycle_served(const struct plugin_registry *reg)
{
	return lifecycle_plugin(reg, 1) != NULL;
}

/* The plugin's JSON answer, or an error naming the plugin. */
static int lifecycle_answer(const struct plugin *p, const char *op, int r, char *out, struct rollout_error *perr,
			    json_t **ret, struct rd_error *err)
{
	json_t *v = NULL;

	if (r == 0 && out) {
		v = json_loads(out, 0, NULL);
		if (!json_is_object(v)) {
			json_decref(v);
			v = NULL;
			r = -EPROTO;
			rollout_error_set(perr, r, "INTERNAL_ERROR", "%s answered something that is not a JSON object",
					  op);
		}
	}
	free(out);
	if (r < 0)
		return rd_error_set(err, r, perr->code[0] ? perr->code : "INTERNAL_ERROR", "platform plugin %s: %s",
				    p->name, perr->message[0] ? perr->message : strerror(-r));
	if (ret)
		*ret = v;
	else
		json_decref(v);
	return 0;
}

int platforms_lifecycle_hooks(const struct plugin_registry *reg, const struct rollout_deployment *dep,
			      const json_t *group, const json_t *previous, json_t **ret, struct rd_error *err)
{
	const struct plugin *p = lifecycle_plugin(reg, 0);
	struct rollout_error perr = {.size = sizeof(perr)};
	char *gj = group ? json_dumps(group, JSON_COMPACT) : NULL;
	char *pj = previous ? json_dumps(previous, JSON_COMPACT) : NULL, *out = NULL;
	int64_t t0 = rd_mono_ms();
	int r;

	*ret = NULL;
	if (!p) {
		free(gj);
		free(pj);
		return 0;
	}
	r = p->desc->ops.platform->lifecycle_hooks(p->state, dep, gj, pj, &out, &perr);
	metric_plugin_op(p->name, "lifecycle_hooks", t0, r);
	free(gj);
	free(pj);
	return lifecycle_answer(p, "lifecycle_hooks", r, out, &perr, ret, err);
}

int platforms_lifecycle_receive(const struct plugin_registry *reg, const json_t *groups, json_t **ret,
				struct rd_error *err)
{
	const struct plugin *p = lifecycle_plugin(reg, 1);
	struct rollout_error perr = {.size = sizeof(perr)};
	char *gj = json_dumps(groups, JSON_COMPACT), *out = NULL;
	int64_t t0 = rd_mono_ms();
	int r;

	*ret = NULL;
	if (!p || !gj) {
		free(gj);
		return rd_error_set(err, p ? -ENOMEM : -ENOENT, "INTERNAL_ERROR",
				    "no platform plugin reports launches");
	}
	r = p->desc->ops.platform->lifecycle_receive(p->state, gj, &out, &perr);
	metric_plugin_op(p->name, "lifecycle_receive", t0, r);
	free(gj);
	return lifecycle_answer(p, "lifecycle_receive", r, out, &perr, ret, err);
}

int platforms_lifecycle_complete(const struct plugin_registry *reg, const json_t *action, struct rd_error *err)
{
	const struct plugin *p = lifecycle_plugin(reg, 2);
	struct rollout_error perr = {.size = sizeof(perr)};
	char *aj = json_dumps(action, JSON_COMPACT);
	int64_t t0 = rd_mono_ms();
	int r;

	if (!p || !aj) {
		free(aj);
		return rd_error_set(err, p ? -ENOMEM : -ENOENT, "INTERNAL_ERROR",
				    "no platform plugin completes lifecycle actions");
	}
	r = p->desc->ops.platform->lifecycle_complete(p->state, aj, &perr);
	metric_plugin_op(p->name, "lifecycle_complete", t0, r);
	free(aj);
	return lifecycle_answer(p, "lifecycle_complete", r, NULL, &perr, NULL, err);
}
