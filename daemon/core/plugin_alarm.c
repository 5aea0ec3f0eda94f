/* Alarm settings: the common keys and host->alarm_settings_parse. See
 * plugin_alarm.h and plugin.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/plugin_alarm.h"
#include "core/plugin_host.h"
#include "duration.h"
#include "yamltree.h"

#define ALARM_SETTINGS_MAGIC 0x414c5253u /* "ALRS" */
#define CODE "INVALID_ALARM_CONFIG"

const char *const alarm_common_keys[] = {
    "plugin", "interval", "description", "gate", "gate_timeout", "on_insufficient_data", "instance", NULL};

struct rollout_alarm_settings {
	unsigned magic;
	json_t *root;
	char **owned; /* JSON texts of ROLLOUT_OPT_JSON values */
	size_t n_owned;
};

/* Settings values are YAML scalars turned into JSON strings, so they are
 * judged by the same parsers as the daemon's own config (lib/duration,
 * yamltree's scalars). yamltree's messages carry a FILE:LINE:COL that means
 * nothing here: callers write their own. */
static struct yt_node scalar_node(const char *s)
{
	return (struct yt_node){.type = YT_SCALAR, .value = (char *)s, .plain = true, .file = "(alarm)"};
}

static int parse_duration(const char *s, int64_t min_ms, int64_t max_ms, int64_t *ret)
{
	int64_t v;
	int r = rd_duration_parse_ms(s, max_ms, &v);

	if (r < 0)
		return r;
	if (v < min_ms)
		return -ERANGE;
	*ret = v;
	return 0;
}
static int parse_bool(const char *s, bool *ret)
{
	struct yt_node n = scalar_node(s);
	char ignored[256];

	return yt_as_bool(&n, "", ret, ignored, sizeof(ignored));
}

static int parse_int(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	struct yt_node n = scalar_node(s);
	char ignored[256];

	return yt_as_int(&n, "", min, max, ret, ignored, sizeof(ignored));
}

/* A common key's value: a string, or NULL when absent. */
static int common_str(const char *alarm, const json_t *o, const char *key, const char **ret, struct rollout_error *err)
{
	const json_t *v = json_object_get(o, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return rollout_error_set(err, -EINVAL, CODE,
					 "alarm %s: '%s' must be a single value, not a list or mapping", alarm, key);
	*ret = json_string_value(v);
	return 0;
}

int alarm_common_parse(const char *alarm, const json_t *o, struct alarm_common *ret, struct rollout_error *err)
{
	struct alarm_common c = {0};
	const char *interval, *gate, *gate_timeout, *insufficient;
	int r;

	if (!json_is_object(o))
		return rollout_error_set(err, -EINVAL, CODE, "alarm %s: settings are not a mapping", alarm);
	if ((r = common_str(alarm, o, "plugin", &c.plugin, err)) < 0 ||
	    (r = common_str(alarm, o, "description", &c.description, err)) < 0 ||
	    (r = common_str(alarm, o, "instance", &c.instance, err)) < 0 ||
	    (r = common_str(alarm, o, "interval", &interval, err)) < 0 ||
	    (r = common_str(alarm, o, "gate", &gate, err)) < 0 ||
	    (r = common_str(alarm, o, "gate_timeout", &gate_timeout, err)) < 0 ||
	    (r = common_str(alarm, o, "on_insufficient_data", &insufficient, err)) < 0)
		return r;
	if (interval && parse_duration(interval, ALARM_INTERVAL_MIN_MS, ALARM_INTERVAL_MAX_MS, &c.interval_ms) < 0)
		return rollout_error_set(err, -EINVAL, CODE,
					 "alarm %s: interval '%s' is not a duration between 100ms and 1h (write e.g. "
					 "10s)",
					 alarm, interval);
	if (gate_timeout && parse_duration(gate_timeout, 0, ALARM_GATE_TIMEOUT_MAX_MS, &c.gate_timeout_ms) < 0)
		return rollout_error_set(err, -EINVAL, CODE,
					 "alarm %s: gate_timeout '%s' is not a duration up to 1h (write e.g. 30s)",
					 alarm, gate_timeout);
	if (insufficient && strcmp(insufficient, "stop") && strcmp(insufficient, "continue"))
		return rollout_error_set(err, -EINVAL, CODE,
					 "alarm %s: on_insufficient_data must be stop (default) or continue", alarm);
	if (gate && strcmp(gate, "true") && strcmp(gate, "false"))
		return rollout_error_set(err, -EINVAL, CODE, "alarm %s: gate must be true or false", alarm);
	c.gate = gate && strcmp(gate, "true") == 0;
	c.insufficient_continue = insufficient && strcmp(insufficient, "continue") == 0;
	*ret = c;
	return 0;
}

int alarm_common_parse_text(const char *alarm, const char *settings_json, json_t **ret_root, struct alarm_common *ret,
			    struct rollout_error *err)
{
	json_error_t je;
	json_t *j = json_loads(settings_json ? settings_json : "{}", 0, &je);
	int r;

	if (!json_is_object(j)) {
		json_decref(j);
		if (!j)
			return rollout_error_set(err, -EINVAL, CODE, "alarm %s: settings are not JSON (%s)", alarm,
						 je.text);
		return rollout_error_set(err, -EINVAL, CODE, "alarm %s: settings are not a mapping", alarm);
	}
	r = alarm_common_parse(alarm, j, ret, err);
	if (r < 0) {
		json_decref(j);
		return r;
	}
	*ret_root = j;
	return 0;
}

struct rollout_alarm_settings *host_alarm_settings_free(struct rollout_alarm_settings *s)
{
	if (!s || s->magic != ALARM_SETTINGS_MAGIC)
		return NULL;
	for (size_t i = 0; i < s->n_owned; i++)
		free(s->owned[i]);
	free(s->owned);
	json_decref(s->root);
	s->magic = 0;
	free(s);
	return NULL;
}

#define OPT_AT(opts, size, i) ((const struct rollout_option *)((const char *)(opts) + (i) * (size)))

static bool is_common(const char *key)
{
	for (size_t i = 0; alarm_common_keys[i]; i++)
		if (strcmp(key, alarm_common_keys[i]) == 0)
			return true;
	return false;
}

static int unknown_key(const char *alarm, const char *key, const struct rollout_option *opts, size_t opt_size,
		       size_t nopts, struct rollout_error *err)
{
	char list[600] = "";
	size_t len = 0;

	for (size_t k = 0; k < nopts && len < sizeof(list); k++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s, ", OPT_AT(opts, opt_size, k)->name);
	for (size_t k = 0; alarm_common_keys[k] && len < sizeof(list); k++) {
		bool declared = false;
		for (size_t i = 0; i < nopts && !declared; i++)
			declared = strcmp(OPT_AT(opts, opt_size, i)->name, alarm_common_keys[k]) == 0;
		if (!declared)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s, ", alarm_common_keys[k]);
	}
	if (len >= 2 && len < sizeof(list))
		list[len - 2] = '\0';
	return rollout_error_set(err, -EINVAL, CODE, "alarm %s: unknown setting '%s' (accepted: %s)", alarm, key, list);
}

static int keep(struct rollout_alarm_settings *s, char *text)
{
	char **nv = realloc(s->owned, (s->n_owned + 1) * sizeof(*nv));

	if (!nv) {
		free(text);
		return -ENOMEM;
	}
	s->owned = nv;
	s->owned[s->n_owned++] = text;
	return 0;
}

/* Stores one value (v, or the option's default text when v is NULL). */
static int store(struct rollout_alarm_settings *s, const char *alarm, const struct rollout_option *o, const json_t *v,
		 void *dst, struct rollout_error *err)
{
	void *p = o->offset == ROLLOUT_OPT_NOSTORE || !dst ? NULL : (char *)dst + o->offset;
	bool bounded = o->min != 0 || o->max != 0;
	const char *str = v ? json_string_value(v) : o->def;
	int64_t i64;
	double d;
	bool b;

	if (o->type == ROLLOUT_OPT_JSON) {
		char *text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : strdup(o->def);
		if (!text || keep(s, text) < 0)
			return -ENOMEM;
		if (p)
			*(const char **)p = text;
		return 0;
	}
	if (!str)
		return rollout_error_set(
		    err, -EINVAL, CODE, "alarm %s: '%s' must be a single value, not a list or mapping", alarm, o->name);
	switch (o->type) {
	case ROLLOUT_OPT_STRING:
	case ROLLOUT_OPT_PATH:
		if (o->type == ROLLOUT_OPT_PATH && !*str)
			return rollout_error_set(err, -EINVAL, CODE, "alarm %s: '%s' must be a path, not empty", alarm,
						 o->name);
		if (p)
			*(const char **)p = str;
		return 0;
	case ROLLOUT_OPT_INT:
		if (parse_int(str, bounded ? o->min : INT64_MIN, bounded ? o->max : INT64_MAX, &i64) < 0)
			return rollout_error_set(err, -EINVAL, CODE,
						 "alarm %s: '%s: %s' is not a whole number between %lld and %lld",
						 alarm, o->name, str, (long long)(bounded ? o->min : INT64_MIN),
						 (long long)(bounded ? o->max : INT64_MAX));
		if (p)
			*(int64_t *)p = i64;
		return 0;
	case ROLLOUT_OPT_NUMBER:
		if (host_number(str, bounded, o->min, o->max, &d) < 0) {
			if (bounded)
				return rollout_error_set(err, -EINVAL, CODE,
							 "alarm %s: '%s: %s' is not a number between %lld and %lld",
							 alarm, o->name, str, (long long)o->min, (long long)o->max);
			return rollout_error_set(err, -EINVAL, CODE, "alarm %s: '%s: %s' is not a number", alarm,
						 o->name, str);
		}
		if (p)
			*(double *)p = d;
		return 0;
	case ROLLOUT_OPT_BOOL:
		if (parse_bool(str, &b) < 0)
			return rollout_error_set(err, -EINVAL, CODE, "alarm %s: %s must be true or false, not '%s'",
						 alarm, o->name, str);
		if (p)
			*(bool *)p = b;
		return 0;
	case ROLLOUT_OPT_DURATION:
		if (parse_duration(str, bounded ? o->min : 0, bounded ? o->max : INT64_MAX, &i64) < 0)
			return rollout_error_set(err, -EINVAL, CODE,
						 "alarm %s: '%s: %s' is not a duration between %lld ms and %lld ms "
						 "(write e.g. 500ms, 5s, 2m)",
						 alarm, o->name, str, (long long)(bounded ? o->min : 0),
						 (long long)(bounded ? o->max : INT64_MAX));
		if (p)
			*(int64_t *)p = i64;
		return 0;
	default:
		return rollout_error_set(
		    err, -EINVAL, CODE,
		    "alarm %s: the plugin declares option '%s' with an unknown type %d (plugin bug)", alarm, o->name,
		    (int)o->type);
	}
}

int host_alarm_settings_parse(struct rollout_handle *h, const char *alarm, const char *settings_json,
			      const struct rollout_option *opts, size_t opt_size, void *dst,
			      struct rollout_alarm_settings **ret, struct rollout_error *err)
{
	struct rollout_alarm_settings *s;
	struct alarm_common common;
	const char *key;
	json_t *v;
	size_t nopts = 0;
	int r;

	if (!host_handle_ok(h, "alarm_settings_parse"))
		return -EINVAL;
	if (!alarm)
		alarm = "?";
	if (!ret || (!opts && opt_size) ||
	    (opts && opt_size < offsetof(struct rollout_option, help) + sizeof(opts->help)))
		return rollout_error_set(err, -EINVAL, CODE,
					 "alarm %s: alarm_settings_parse called with a bad option table (plugin bug)",
					 alarm);
	while (opts && OPT_AT(opts, opt_size, nopts)->name)
		nopts++;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->magic = ALARM_SETTINGS_MAGIC;
	r = alarm_common_parse_text(alarm, settings_json, &s->root, &common, err);
	if (r < 0)
		goto fail;
	json_object_foreach(s->root, key, v)
	{
		bool known = is_common(key);
		for (size_t k = 0; k < nopts && !known; k++)
			known = strcmp(OPT_AT(opts, opt_size, k)->name, key) == 0;
		if (!known) {
			r = unknown_key(alarm, key, opts, opt_size, nopts, err);
			goto fail;
		}
	}
	for (size_t k = 0; k < nopts; k++) {
		const struct rollout_option *o = OPT_AT(opts, opt_size, k);
		v = json_object_get(s->root, o->name);
		if (v && json_is_null(v) && o->type != ROLLOUT_OPT_JSON)
			v = NULL;
		if (!v && o->required) {
			r = rollout_error_set(err, -EINVAL, CODE, "alarm %s: missing '%s'%s%s", alarm, o->name,
					      o->help ? ": " : "", o->help ? o->help : "");
			goto fail;
		}
		if (!v && !o->def)
			continue;
		r = store(s, alarm, o, v, dst, err);
		if (r < 0)
			goto fail;
	}
	*ret = s;
	return 0;
fail:
	if (r == -ENOMEM)
		rollout_error_set(err, r, "INTERNAL_ERROR", "alarm %s: out of memory", alarm);
	host_alarm_settings_free(s);
	return r;
}
