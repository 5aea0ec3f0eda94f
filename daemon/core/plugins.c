#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/conf.h"
#include "core/daemon.h"
#include "core/metrics.h"
#include "core/plugin_alarm.h"
#include "core/plugin_host.h"
#include "core/plugins.h"
#include "util.h"
#include "yamltree.h"

struct loaded {
	struct plugin pub;
	void *dl;
	char *path;
	bool inited;
};

struct alarm {
	char *name;
	const struct plugin *plugin;
	char *settings_json;
};

struct plugin_registry {
	struct loaded *v;
	size_t n;
	struct alarm *alarms;
	size_t n_alarms;
	const struct plugin *alarm_fallback; /* cfg->alarm_fallback_plugin, loaded */
	struct host_shared shared;
};

const char *plugins_kind_name(enum rollout_kind kind)
{
	switch (kind) {
	case ROLLOUT_KIND_PLATFORM:
		return "platform";
	case ROLLOUT_KIND_SOURCE:
		return "source";
	case ROLLOUT_KIND_HEALTH:
		return "health";
	case ROLLOUT_KIND_TRAFFIC:
		return "traffic";
	default:
		return NULL;
	}
}

/* Minimum ops-table sizes: each must at least reach its mandatory ops. */
#define OPS_MIN(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

static int check_ops(const char *path, const struct rollout_plugin *d, char *err, size_t errlen)
{
	const char *kind = plugins_kind_name(d->kind);
	const char *missing = NULL;
	size_t min = 0, have;

	if (!d->ops.any) {
		snprintf(err, errlen, "%s: %s plugin '%s' has no ops table (expected .ops.%s = &your_ops, found NULL)",
			 path, kind, d->name, kind);
		return -EINVAL;
	}
	have = *(const uint32_t *)d->ops.any;
	switch (d->kind) {
	case ROLLOUT_KIND_PLATFORM: {
		const struct rollout_platform_ops *o = d->ops.platform;
		min = OPS_MIN(struct rollout_platform_ops, resolve);
		if (have >= min) {
			if (!o->resolve)
				missing = "resolve";
			else if (!o->compute_platforms)
				missing = "compute_platforms";
		}
		/* A platform that shifts traffic itself needs every step the
		 * engine may ask for. */
		if (!missing && have >= OPS_MIN(struct rollout_platform_ops, shift_prepare) && o->shift_prepare) {
			min = OPS_MIN(struct rollout_platform_ops, shift_describe);
			if (have >= min)
				missing = !o->shift_weight	  ? "shift_weight"
					  : !o->shift_commit	  ? "shift_commit"
					  : !o->shift_route_back  ? "shift_route_back"
					  : !o->shift_invoke_hook ? "shift_invoke_hook"
					  : !o->shift_describe	  ? "shift_describe"
								  : NULL;
		}
		break;
	}
	case ROLLOUT_KIND_SOURCE: {
		const struct rollout_source_ops *o = d->ops.source;
		min = OPS_MIN(struct rollout_source_ops, fetch);
		if (have >= min) {
			if (!o->revision_types || !o->revision_types[0])
				missing = "revision_types";
			else if (!o->fetch)
				missing = "fetch";
		}
		break;
	}
	case ROLLOUT_KIND_HEALTH:
		min = OPS_MIN(struct rollout_health_ops, check);
		if (have >= min && !d->ops.health->check)
			missing = "check";
		break;
	case ROLLOUT_KIND_TRAFFIC: {
		const struct rollout_traffic_ops *o = d->ops.traffic;
		min = OPS_MIN(struct rollout_traffic_ops, get_state);
		if (have >= min)
			missing = !o->block ? "block" : !o->allow ? "allow" : !o->get_state ? "get_state" : NULL;
		break;
	}
	default:
		break;
	}
	if (have < min) {
		snprintf(err, errlen,
			 "%s: %s ops table too small (expected at least %zu bytes, found %zu); "
			 "initialise it with ROLLOUT_%s_OPS_INIT()",
			 path, kind, min, have,
			 d->kind == ROLLOUT_KIND_PLATFORM ? "PLATFORM"
			 : d->kind == ROLLOUT_KIND_SOURCE ? "SOURCE"
			 : d->kind == ROLLOUT_KIND_HEALTH ? "HEALTH"
							  : "TRAFFIC");
		return -EINVAL;
	}
	if (missing) {
		snprintf(err, errlen, "%s: %s plugin '%s' lacks mandatory op '%s' (expected non-NULL, found NULL)",
			 path, kind, d->name, missing);
		return -EINVAL;
	}
	return 0;
}

static int check_name(const char *path, const char *name, char *err, size_t errlen)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_") != n) {
		snprintf(err, errlen, "%s: bad plugin name (expected 1-64 characters of [a-z0-9_-], found '%.80s')",
			 path, name ? name : "(null)");
		return -EINVAL;
	}
	return 0;
}

/* Checks the descriptor header, then the rest. Reads nothing beyond what
 * the header promises is there. Every minor this daemon knows has its own
 * floor, so a plugin of any of them loads. */
static int check_descriptor(const char *path, const struct rollout_plugin *d, char *err, size_t errlen)
{
	static const size_t min_size[ROLLOUT_ABI_MINOR + 1] = {ROLLOUT_PLUGIN_SIZE_1_0, ROLLOUT_PLUGIN_SIZE_1_1};

	if (!d) {
		snprintf(err, errlen, "%s: %s() returned NULL (expected a pointer to a static descriptor)", path,
			 ROLLOUT_ENTRY_SYMBOL);
		return -EINVAL;
	}
	if (d->magic != ROLLOUT_PLUGIN_MAGIC) {
		snprintf(err, errlen,
			 "%s: bad descriptor magic (expected 0x%08x, found 0x%08x); not a rolloutd plugin "
			 "or a corrupt build",
			 path, ROLLOUT_PLUGIN_MAGIC, d->magic);
		return -EINVAL;
	}
	if (d->abi_major != ROLLOUT_ABI_MAJOR) {
		snprintf(err, errlen,
			 "%s: plugin ABI major mismatch (expected %u.x, found %u.%u); rebuild the plugin "
			 "against this rolloutd's SDK (ABI %s)",
			 path, ROLLOUT_ABI_MAJOR, d->abi_major, d->abi_minor, ROLLOUT_ABI_STRING);
		return -EPROTO;
	}
	if (d->abi_minor > ROLLOUT_ABI_MINOR) {
		snprintf(err, errlen,
			 "%s: plugin built for a newer ABI (expected at most %u.%u, found %u.%u); upgrade "
			 "rolloutd or rebuild the plugin against this SDK",
			 path, ROLLOUT_ABI_MAJOR, ROLLOUT_ABI_MINOR, d->abi_major, d->abi_minor);
		return -EPROTO;
	}
	if (d->size < min_size[d->abi_minor]) {
		snprintf(err, errlen, "%s: descriptor too small for ABI %u.%u (expected at least %zu bytes, found %u)",
			 path, d->abi_major, d->abi_minor, min_size[d->abi_minor], d->size);
		return -EINVAL;
	}
	if (!plugins_kind_name(d->kind)) {
		snprintf(err, errlen,
			 "%s: unknown plugin kind (expected 1-4 for platform, source, health, traffic, "
			 "found %d)",
			 path, (int)d->kind);
		return -EINVAL;
	}
	if (check_name(path, d->name, err, errlen) < 0)
		return -EINVAL;
	return check_ops(path, d, err, errlen);
}

static int open_one(const char *dir, const char *name, struct loaded *l, char *err, size_t errlen)
{
	struct stat st;
	rollout_entry_fn entry;
	int r;

	if (asprintf(&l->path, "%s/%s.so", dir, name) < 0) {
		l->path = NULL;
		return -ENOMEM;
	}
	if (stat(l->path, &st) < 0) {
		r = -errno;
		snprintf(err, errlen,
			 "%s: cannot load plugin '%s': %s (expected a regular file; install the plugin "
			 "or fix plugin_dir)",
			 l->path, name, strerror(errno));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: cannot load plugin '%s' (expected a regular file, found a %s)", l->path,
			 name, S_ISDIR(st.st_mode) ? "directory" : "special file");
		return -EINVAL;
	}
	dlerror();
	l->dl = dlopen(l->path, RTLD_NOW | RTLD_LOCAL);
	if (!l->dl) {
		const char *e = dlerror();
		snprintf(err, errlen,
			 "%s: not a loadable shared object (%s); check it is a plugin built for this "
			 "system and run 'ldd %s' for missing libraries",
			 l->path, e ? e : "unknown error", l->path);
		return -ENOEXEC;
	}
	dlerror();
	*(void **)&entry = dlsym(l->dl, ROLLOUT_ENTRY_SYMBOL);
	if (!entry) {
		snprintf(err, errlen,
			 "%s: entry symbol missing (expected '%s', found none); not a rolloutd plugin, or "
			 "built for another ABI major",
			 l->path, ROLLOUT_ENTRY_SYMBOL);
		return -ENOEXEC;
	}
	l->pub.desc = entry();
	r = check_descriptor(l->path, l->pub.desc, err, errlen);
	if (r < 0)
		return r;
	l->pub.path = l->path;
	l->pub.kind = l->pub.desc->kind;
	return 0;
}

static int load_alarm_fallback(struct plugin_registry *reg, const struct rd_config *cfg, char *err, size_t errlen)
{
	const struct plugin *p;

	if (!cfg->alarm_fallback_plugin)
		return 0;
	p = plugins_find(reg, cfg->alarm_fallback_plugin);
	if (!p || p->kind != ROLLOUT_KIND_HEALTH)
		return yt_error(cfg->alarm_fallback_node, err, errlen,
				"alarm_fallback_plugin: '%s' is not a health plugin (expected a plugin of kind health "
				"listed under plugins:, found %s)",
				cfg->alarm_fallback_plugin,
				p ? plugins_kind_name(p->kind) : "nothing loaded by that name");
	reg->alarm_fallback = p;
	return 0;
}

static int load_alarms(struct plugin_registry *reg, const struct rd_config *cfg, char *err, size_t errlen)
{
	const struct yt_node *a = cfg->alarms;
	int r;

	if ((r = load_alarm_fallback(reg, cfg, err, errlen)) < 0)
		return r;
	if (!a || a->type != YT_MAP || a->n == 0)
		return 0;
	reg->alarms = calloc(a->n, sizeof(*reg->alarms));
	if (!reg->alarms)
		return -ENOMEM;
	for (size_t i = 0; i < a->n; i++) {
		const struct yt_node *settings = a->items[i];
		const struct yt_node *pn = yt_map_get(settings, "plugin");
		struct alarm *al = &reg->alarms[reg->n_alarms];
		const struct plugin *p;
		json_t *j;

		p = pn && pn->type == YT_SCALAR ? plugins_find(reg, pn->value) : NULL;
		if (!p || p->kind != ROLLOUT_KIND_HEALTH)
			return yt_error(
			    pn ? pn : settings, err, errlen,
			    "alarms.%s: plugin '%s' is not a health plugin (expected a plugin of kind health, "
			    "found %s)",
			    a->keys[i]->value, pn && pn->value ? pn->value : "",
			    p ? plugins_kind_name(p->kind) : "nothing loaded by that name");
		al->name = strdup(a->keys[i]->value);
		j = yt_to_json(settings);
		al->settings_json = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		/* The daemon's own keys are checked here, whatever the plugin
		 * checks: a plugin without validate_alarm cannot let a bad
		 * interval or gate through. */
		if (j && al->settings_json) {
			struct rollout_error e = {.size = sizeof(e)};
			struct alarm_common c;
			if (alarm_common_parse(a->keys[i]->value, j, &c, &e) < 0) {
				json_decref(j);
				free(al->name);
				free(al->settings_json);
				return yt_error(settings, err, errlen, "alarms.%s: %s", a->keys[i]->value, e.message);
			}
		}
		json_decref(j);
		if (!al->name || !al->settings_json) {
			free(al->name);
			free(al->settings_json);
			return -ENOMEM;
		}
		al->plugin = p;
		reg->n_alarms++;
		if (p->desc->ops.health->size >= OPS_MIN(struct rollout_health_ops, validate_alarm) &&
		    p->desc->ops.health->validate_alarm) {
			struct rollout_error e = {.size = sizeof(e)};
			if (p->desc->ops.health->validate_alarm(p->state, al->name, al->settings_json, &e) < 0)
				return yt_error(settings, err, errlen, "alarms.%s: %s", al->name,
						e.message[0] ? e.message : "rejected by its plugin");
		}
	}
	return 0;
}

static bool shifts_traffic(const struct plugin *p)
{
	const struct rollout_platform_ops *o = p->desc->ops.platform;

	return o->size >= OPS_MIN(struct rollout_platform_ops, shift_prepare) && o->shift_prepare;
}

/* A Lambda or ECS deployment belongs to exactly one plugin. */
static int check_shift_owners(const struct plugin_registry *reg, char *err, size_t errlen)
{
	static const char *const platforms[] = {"Server", "Lambda", "ECS"};
	const struct plugin *p;

	for (size_t k = 0; k < RD_ARRAY_SIZE(platforms); k++) {
		const struct plugin *owner = NULL;
		for (size_t i = 0; (p = plugins_platform_nth(reg, platforms[k], i)); i++) {
			if (!shifts_traffic(p))
				continue;
			if (owner) {
				snprintf(err, errlen,
					 "plugins %s and %s both deploy to compute platform %s (expected one plugin "
					 "per platform that shifts traffic itself); remove one of them from 'plugins:'",
					 owner->name, p->name, platforms[k]);
				return -EEXIST;
			}
			owner = p;
		}
	}
	return 0;
}

const struct plugin *plugins_shift_owner(const struct plugin_registry *r, const char *compute_platform)
{
	const struct plugin *p;

	for (size_t i = 0; r && (p = plugins_platform_nth(r, compute_platform, i)); i++)
		if (shifts_traffic(p))
			return p;
	return NULL;
}

int plugins_load_config(const struct rd_config *cfg, struct rd_daemon *d, struct plugin_registry **ret,
			struct rd_error *e)
{
	/* the loader's steps and the SDK's init callback report in the SDK's shape */
	char err[sizeof(e->message)] = "";
	size_t errlen = sizeof(err);
	const struct yt_node *pl = cfg->plugins;
	struct plugin_registry *reg;
	size_t n = pl && pl->type == YT_MAP ? pl->n : 0;
	int r = 0;

	(void)d;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	reg->shared.cfg = cfg;
	reg->v = calloc(n ? n : 1, sizeof(*reg->v));
	if (!reg->v) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = pl->keys[i]->value;
		struct loaded *l = &reg->v[reg->n];
		const struct plugin *dup;

		reg->n++; /* counted now so that unload cleans up a half-loaded one */
		r = open_one(cfg->plugin_dir, name, l, err, errlen);
		if (r < 0)
			goto out;
		l->pub.name = name;
		dup = plugins_find(reg, l->pub.desc->name);
		if (!dup || dup == &l->pub)
			dup = plugins_find(reg, name);
		if (dup && dup != &l->pub) {
			snprintf(err, errlen,
				 "%s: duplicate plugin name (expected a name not yet loaded, found '%s', "
				 "already loaded from %s)",
				 l->path, l->pub.desc->name, dup->path);
			r = -EEXIST;
			goto out;
		}
		r = host_handle_new(name, yt_is_null(pl->items[i]) ? NULL : pl->items[i], pl->keys[i], &reg->shared,
				    &l->pub.handle);
		if (r < 0)
			goto out;
		if (l->pub.desc->init) {
			char ierr[1024] = "";
			r = l->pub.desc->init(host_table(), l->pub.handle, &l->pub.state, ierr, sizeof(ierr));
			if (r < 0) {
				snprintf(err, errlen, "%s: init of plugin '%s' failed: %s", l->path, name,
					 ierr[0] ? ierr : strerror(r < -4095 ? EINVAL : -r));
				goto out;
			}
		}
		l->inited = true;
		r = host_check_settings_used(l->pub.handle, err, errlen);
		if (r < 0)
			goto out;
	}
	r = check_shift_owners(reg, err, errlen);
	if (r == 0)
		r = load_alarms(reg, cfg, err, errlen);
out:
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory while loading plugins");
	if (r < 0) {
		plugins_unload(reg);
		return rd_error_set(e, r, "PluginError", "%s", err[0] ? err : strerror(-r));
	}
	*ret = reg;
	return 0;
}

int plugins_load(struct rd_daemon *d, struct plugin_registry **ret, struct rd_error *e)
{
	return plugins_load_config(d->cfg, d, ret, e);
}

/* Plugins are unloaded in reverse order: a later plugin may rely on an earlier one. */
struct plugin_registry *plugins_unload(struct plugin_registry *r)
{
	if (!r)
		return NULL;
	for (size_t i = r->n; i-- > 0;) {
		struct loaded *l = &r->v[i];
		if (l->inited && l->pub.desc->destroy)
			l->pub.desc->destroy(l->pub.state);
		l->pub.handle = host_handle_free(l->pub.handle);
		if (l->dl)
			dlclose(l->dl);
		free(l->path);
	}
	for (size_t i = 0; i < r->n_alarms; i++) {
		free(r->alarms[i].name);
		free(r->alarms[i].settings_json);
	}
	free(r->alarms);
	free(r->v);
	free(r);
	return NULL;
}

size_t plugins_count(const struct plugin_registry *r)
{
	return r ? r->n : 0;
}

const struct plugin *plugins_at(const struct plugin_registry *r, size_t i)
{
	return r && i < r->n && r->v[i].pub.desc ? &r->v[i].pub : NULL;
}

const struct plugin *plugins_find(const struct plugin_registry *r, const char *name)
{
	for (size_t i = 0; r && i < r->n; i++) {
		const struct plugin *p = &r->v[i].pub;
		if (p->desc && ((p->name && strcmp(p->name, name) == 0) || strcmp(p->desc->name, name) == 0))
			return p;
	}
	return NULL;
}

const struct plugin *plugins_find_kind(const struct plugin_registry *r, enum rollout_kind kind, const char *name)
{
	const struct plugin *p = plugins_find(r, name);

	return p && p->kind == kind ? p : NULL;
}

const struct plugin *plugins_nth_of_kind(const struct plugin_registry *r, enum rollout_kind kind, size_t i)
{
	for (size_t k = 0; r && k < r->n; k++) {
		const struct plugin *p = &r->v[k].pub;
		if (p->desc && p->kind == kind && i-- == 0)
			return p;
	}
	return NULL;
}

uint32_t plugins_compute_platform_bit(const char *cp)
{
	if (!cp)
		return 0;
	if (strcmp(cp, "Server") == 0)
		return ROLLOUT_COMPUTE_SERVER;
	if (strcmp(cp, "Lambda") == 0)
		return ROLLOUT_COMPUTE_LAMBDA;
	if (strcmp(cp, "ECS") == 0)
		return ROLLOUT_COMPUTE_ECS;
	return 0;
}

const struct plugin *plugins_platform_nth(const struct plugin_registry *r, const char *compute_platform, size_t i)
{
	uint32_t bit = plugins_compute_platform_bit(compute_platform);
	const struct plugin *p;

	if (!bit)
		return NULL;
	for (size_t k = 0; (p = plugins_nth_of_kind(r, ROLLOUT_KIND_PLATFORM, k)); k++)
		if ((p->desc->ops.platform->compute_platforms & bit) && i-- == 0)
			return p;
	return NULL;
}

const struct plugin *plugins_source_for(const struct plugin_registry *r, const char *revision_type)
{
	const struct plugin *p;

	if (!revision_type)
		return NULL;
	for (size_t k = 0; (p = plugins_nth_of_kind(r, ROLLOUT_KIND_SOURCE, k)); k++)
		for (const char *const *t = p->desc->ops.source->revision_types; *t; t++)
			if (strcmp(*t, revision_type) == 0)
				return p;
	return NULL;
}

int plugins_alarm(const struct plugin_registry *r, const char *name, const struct plugin **ret_plugin,
		  const char **ret_settings_json)
{
	for (size_t i = 0; r && i < r->n_alarms; i++)
		if (strcmp(r->alarms[i].name, name) == 0) {
			if (ret_plugin)
				*ret_plugin = r->alarms[i].plugin;
			if (ret_settings_json)
				*ret_settings_json = r->alarms[i].settings_json;
			return 0;
		}
	return -ENOENT;
}

void plugins_set_onprem_source(struct plugin_registry *r, plugins_onprem_fn fn, void *userdata)
{
	r->shared.onprem_fn = fn;
	r->shared.onprem_userdata = userdata;
}

const struct plugin *plugins_alarm_fallback(const struct plugin_registry *r)
{
	return r ? r->alarm_fallback : NULL;
}

/* ---- source plugins, ABI 1.1 members read only when their table has them ---- */

const char *plugins_source_location_member(const struct plugin *p, const char *revision_type)
{
	const struct rollout_source_ops *o = p->desc->ops.source;

	if (!ROLLOUT_HAS(o, struct rollout_source_ops, location_members) || !o->location_members)
		return NULL;
	for (size_t i = 0; o->revision_types[i]; i++)
		if (strcmp(o->revision_types[i], revision_type) == 0)
			return o->location_members[i];
	return NULL;
}

int plugins_source_describe(const struct plugin *p, const char *revision_json, struct rollout_revision_info *ret,
			    struct rollout_error *err)
{
	const struct rollout_source_ops *o = p->desc->ops.source;
	struct rollout_revision_info info = {.size = sizeof(info)};
	int r;

	if (ROLLOUT_HAS(o, struct rollout_source_ops, describe) && o->describe) {
		int64_t t0 = rd_mono_ms();
		r = o->describe(p->state, revision_json, &info, err);
		metric_plugin_op(p->name, "describe", t0, r);
		if (r < 0) {
			if (!err->code[0])
				snprintf(err->code, sizeof(err->code), "INVALID_REVISION");
			if (!err->message[0])
				snprintf(err->message, sizeof(err->message), "plugin %s refused the revision location",
					 p->name);
			return r;
		}
		info.sha256[sizeof(info.sha256) - 1] = '\0';
	}
	*ret = info;
	return 0;
}

size_t plugins_revision_types(const struct plugin_registry *r, char *buf, size_t buflen)
{
	const struct plugin *p;
	size_t len = 0, n = 0;

	if (buflen)
		buf[0] = '\0';
	for (size_t k = 0; (p = plugins_nth_of_kind(r, ROLLOUT_KIND_SOURCE, k)); k++)
		for (const char *const *t = p->desc->ops.source->revision_types; *t; t++) {
			if (plugins_source_for(r, *t) != p)
				continue; /* served by an earlier plugin */
			if (len < buflen)
				len +=
				    (size_t)snprintf(buf + len, buflen - len, "%s%s (%s)", n ? ", " : "", *t, p->name);
			n++;
		}
	return n;
}
