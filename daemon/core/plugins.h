/* The plugin loader and registry.
 *
 * plugins_load() loads exactly the plugins named under `plugins:` in the
 * config, from plugin_dir/NAME.so, in config order, checking each
 * before any of its code runs (regular file, dlopen RTLD_NOW|RTLD_LOCAL,
 * entry symbol, magic, ABI major and minor: any minor up to the daemon's,
 * descriptor size for that minor, kind, mandatory ops, duplicate name) and
 * only then calling its init with the host table and its own config
 * subtree. Any failure unloads what was loaded and returns one line:
 *     "FILE: what is wrong (expected X, found Y)[; how to fix]"
 * The registry is read-only after load, so lookups need no lock and may run
 * on any thread. Ops are called directly through the descriptor, e.g.
 *     p->desc->ops.platform->resolve(p->state, &dep, group_json, &json, &err);
 * never on the I/O thread (use the workpool), except a source plugin's
 * pure describe (plugins_source_describe). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rollout/plugin.h>

#include "core/error.h"

struct rd_daemon;
struct rd_config;
struct plugin_registry;

struct plugin {
	const char *name; /* the name under `plugins:` (== desc->name unless the file lies) */
	const char *path; /* the .so file */
	enum rollout_kind kind;
	const struct rollout_plugin *desc; /* borrowed from the .so; valid while loaded */
	void *state;			   /* what init returned */
	struct rollout_handle *handle;	   /* the plugin's handle (host.h) */
};

/* Loads the plugins of d->cfg. The host's on-prem lister and the like read
 * the daemon through d (borrowed; must outlive the registry). On error
 * returns negative errno and one line in err; nothing stays loaded. */
int plugins_load(struct rd_daemon *d, struct plugin_registry **ret, struct rd_error *e);
/* Same without a daemon (tests, --check-config): d is NULL for host calls. */
int plugins_load_config(const struct rd_config *cfg, struct rd_daemon *d, struct plugin_registry **ret,
			struct rd_error *e);
/* Calls destroy() of each plugin in reverse load order, then dlclose. NULL-safe. */
struct plugin_registry *plugins_unload(struct plugin_registry *r);

/* Iteration in load order: for (size_t i = 0; i < plugins_count(r); i++) plugins_at(r, i) */
size_t plugins_count(const struct plugin_registry *r);
const struct plugin *plugins_at(const struct plugin_registry *r, size_t i);

/* By name (config name or descriptor name); NULL when absent. */
const struct plugin *plugins_find(const struct plugin_registry *r, const char *name);
/* Same, but only of kind. */
const struct plugin *plugins_find_kind(const struct plugin_registry *r, enum rollout_kind kind, const char *name);

/* The i-th plugin of kind (0-based, load order) or NULL past the end. */
const struct plugin *plugins_nth_of_kind(const struct plugin_registry *r, enum rollout_kind kind, size_t i);

/* "Server" / "Lambda" / "ECS" -> ROLLOUT_COMPUTE_* bit; 0 when unknown. */
uint32_t plugins_compute_platform_bit(const char *compute_platform);
/* The i-th platform plugin serving compute_platform ("Server", "Lambda",
 * "ECS"), or NULL past the end. The engine asks every one of them. */
const struct plugin *plugins_platform_nth(const struct plugin_registry *r, const char *compute_platform, size_t i);
/* The one platform plugin that owns deployments on compute_platform ("Lambda",
 * "ECS") because it shifts traffic itself (shift_* ops, ABI 1.1), or NULL. */
const struct plugin *plugins_shift_owner(const struct plugin_registry *r, const char *compute_platform);

/* The source plugin handling revisionType (e.g. "S3"), or NULL. */
const struct plugin *plugins_source_for(const struct plugin_registry *r, const char *revision_type);

/* The RevisionLocation member holding revision_type's location for source
 * plugin p (its location_members, ABI 1.1), or NULL: the whole location. */
const char *plugins_source_location_member(const struct plugin *p, const char *revision_type);
/* What p's describe op (ABI 1.1) says of a revision location: 0 and *ret
 * (not pinned, no sha256 when p has no describe), or negative errno with
 * err filled (code INVALID_REVISION by default). Pure: any thread. */
int plugins_source_describe(const struct plugin *p, const char *revision_json, struct rollout_revision_info *ret,
			    struct rollout_error *err);
/* The revisionTypes the loaded source plugins serve, as "S3 (s3), HTTP
 * (http)" into buf (for messages); returns how many. */
size_t plugins_revision_types(const struct plugin_registry *r, char *buf, size_t buflen);

/* The health plugin checking alarm `name` (from the config's `alarms:`)
 * and that alarm's settings as JSON text (borrowed, valid while loaded).
 * -ENOENT when no such alarm is configured. */
int plugins_alarm(const struct plugin_registry *r, const char *name, const struct plugin **ret_plugin,
		  const char **ret_settings_json);

/* The health plugin asked for alarm names not defined under `alarms:`
 * (the config's alarm_fallback_plugin), or NULL when none is set. */
const struct plugin *plugins_alarm_fallback(const struct plugin_registry *r);

/* The daemon data host functions read. fn returns 0 and a malloc'd JSON
 * array of InstanceInfo objects (see host->onprem_instances in plugin.h),
 * or negative errno with a message. Set once after the store is open and
 * before the engine starts; until then plugins get -ENOTSUP. */
typedef int (*plugins_onprem_fn)(void *userdata, char **ret_json, char *err, size_t errlen);
void plugins_set_onprem_source(struct plugin_registry *r, plugins_onprem_fn fn, void *userdata);

/* Human names: "platform", "source", "health", "traffic", or NULL. */
const char *plugins_kind_name(enum rollout_kind kind);
