/* Plugin handles and the plugin's config subtree (host->config_*). See
 * plugin_host.h. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/plugin_host.h"
#include "log.h"
#include "yamltree.h"

/* A wrong pointer from a plugin is logged and refused, never dereferenced further. */
bool host_handle_ok(struct rollout_handle *h, const char *fn)
{
	if (h && h->magic == HOST_HANDLE_MAGIC)
		return true;
	rd_logt(LOG_ERR, "plugin-host",
		"%s() called with an invalid plugin handle %p (plugin bug: stale or foreign "
		"pointer)",
		fn, (void *)h);
	return false;
}

int host_handle_new(const char *name, const struct yt_node *settings, const struct yt_node *settings_key,
		    struct host_shared *shared, struct rollout_handle **ret)
{
	struct rollout_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->name = strdup(name);
	if (!h->name) {
		free(h);
		return -ENOMEM;
	}
	h->magic = HOST_HANDLE_MAGIC;
	h->settings = settings;
	h->settings_key = settings_key;
	h->shared = shared;
	pthread_mutex_init(&h->lock, NULL);
	*ret = h;
	return 0;
}

struct rollout_handle *host_handle_free(struct rollout_handle *h)
{
	if (!h)
		return NULL;
	for (size_t i = 0; i < h->n_owned; i++)
		free(h->owned[i]);
	free(h->owned);
	free(h->read);
	free(h->settings_json);
	free(h->name);
	pthread_mutex_destroy(&h->lock);
	h->magic = 0;
	free(h);
	return NULL;
}

int host_number(const char *s, bool bounded, int64_t min, int64_t max, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		return -EINVAL;
	if (bounded && (v < (double)min || v > (double)max))
		return -ERANGE;
	*ret = v;
	return 0;
}

static int keep_string(struct rollout_handle *h, char *s, const char **ret)
{
	char **nv;

	pthread_mutex_lock(&h->lock);
	nv = realloc(h->owned, (h->n_owned + 1) * sizeof(*nv));
	if (nv) {
		h->owned = nv;
		h->owned[h->n_owned++] = s;
	}
	pthread_mutex_unlock(&h->lock);
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

static const struct yt_node *where(const struct rollout_handle *h)
{
	return h->settings ? h->settings : h->settings_key;
}

static int store_value(struct rollout_handle *h, const struct rollout_option *o, const struct yt_node *n, void *dst,
		       char *err, size_t errlen)
{
	char what[256];
	void *p = o->offset == ROLLOUT_OPT_NOSTORE ? NULL : (char *)dst + o->offset;
	bool bounded = o->min != 0 || o->max != 0;
	const char *s;
	int64_t v;
	bool b;
	int r;

	snprintf(what, sizeof(what), "plugins.%s.%s", h->name, o->name);
	switch (o->type) {
	case ROLLOUT_OPT_STRING:
		if ((r = yt_as_string(n, what, &s, err, errlen)) < 0)
			return r;
		if (p)
			*(const char **)p = s;
		return 0;
	case ROLLOUT_OPT_INT:
		if ((r = yt_as_int(n, what, bounded ? o->min : INT64_MIN, bounded ? o->max : INT64_MAX, &v, err,
				   errlen)) < 0)
			return r;
		if (p)
			*(int64_t *)p = v;
		return 0;
	case ROLLOUT_OPT_BOOL:
		if ((r = yt_as_bool(n, what, &b, err, errlen)) < 0)
			return r;
		if (p)
			*(bool *)p = b;
		return 0;
	case ROLLOUT_OPT_DURATION:
		if ((r = yt_as_duration_ms(n, what, bounded ? o->min : 0, bounded ? o->max : INT64_MAX, &v, err,
					   errlen)) < 0)
			return r;
		if (p)
			*(int64_t *)p = v;
		return 0;
	case ROLLOUT_OPT_NUMBER: {
		double d;
		if ((r = yt_as_string(n, what, &s, err, errlen)) < 0)
			return r;
		if ((r = host_number(s, bounded, o->min, o->max, &d)) < 0) {
			if (bounded)
				return yt_error(n, err, errlen,
						"%s: expected a number between %lld and %lld, found '%s'", what,
						(long long)o->min, (long long)o->max, s);
			return yt_error(n, err, errlen, "%s: expected a number, found '%s'", what, s);
		}
		if (p)
			*(double *)p = d;
		return 0;
	}
	case ROLLOUT_OPT_PATH: {
		char *abs;
		if ((r = yt_as_string(n, what, &s, err, errlen)) < 0)
			return r;
		if (!*s)
			return yt_error(n, err, errlen, "%s: expected a path, found an empty string", what);
		if (s[0] == '/' || !n->file || !strrchr(n->file, '/'))
			abs = strdup(s);
		else if (asprintf(&abs, "%.*s/%s", (int)(strrchr(n->file, '/') - n->file), n->file, s) < 0)
			abs = NULL;
		if (!abs)
			return -ENOMEM;
		if (!p) {
			free(abs);
			return 0;
		}
		return keep_string(h, abs, (const char **)p);
	}
	case ROLLOUT_OPT_JSON: {
		json_t *j = yt_to_json(n);
		char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		json_decref(j);
		if (!text)
			return -ENOMEM;
		if (!p) {
			free(text);
			return 0;
		}
		return keep_string(h, text, (const char **)p);
	}
	default:
		return yt_error(n, err, errlen, "%s: the plugin declares an unknown option type %d (plugin bug)", what,
				(int)o->type);
	}
}

#define OPT_AT(opts, size, i) ((const struct rollout_option *)((const char *)(opts) + (i) * (size)))

/* Settings every plugin accepts because the host reads them: ca_file, the
 * CAs its HTTP client trusts (host_http_request). */
static bool host_setting(const char *key)
{
	return strcmp(key, "ca_file") == 0;
}

int host_config_parse(struct rollout_handle *h, const struct rollout_option *opts, size_t opt_size, void *dst,
		      char *err, size_t errlen)
{
	const struct yt_node *s;
	size_t nopts = 0;
	int r;

	if (!host_handle_ok(h, "config_parse"))
		return -EINVAL;
	if (!opts || opt_size < offsetof(struct rollout_option, help) + sizeof(opts->help)) {
		snprintf(err, errlen, "plugins.%s: config_parse called with a bad option table (plugin bug)", h->name);
		return -EINVAL;
	}
	while (OPT_AT(opts, opt_size, nopts)->name)
		nopts++;
	s = h->settings;
	if (s && s->type != YT_MAP)
		return yt_error(s, err, errlen, "plugins.%s: expected a mapping of settings", h->name);
	for (size_t i = 0; s && i < s->n; i++) {
		bool known = host_setting(s->keys[i]->value);
		for (size_t k = 0; k < nopts && !known; k++)
			known = strcmp(OPT_AT(opts, opt_size, k)->name, s->keys[i]->value) == 0;
		if (!known) {
			char list[512] = "";
			size_t len = 0;
			for (size_t k = 0; k < nopts && len < sizeof(list); k++)
				len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", k ? ", " : "",
							OPT_AT(opts, opt_size, k)->name);
			return yt_error(s->keys[i], err, errlen, "plugins.%s: unknown setting '%s' (known: %s)",
					h->name, s->keys[i]->value, nopts ? list : "none");
		}
	}
	for (size_t k = 0; k < nopts; k++) {
		const struct rollout_option *o = OPT_AT(opts, opt_size, k);
		const struct yt_node *n = yt_map_get(s, o->name);

		if (n && yt_is_null(n) && o->type != ROLLOUT_OPT_JSON)
			n = NULL;
		if (!n) {
			if (o->required)
				return yt_error(where(h), err, errlen, "plugins.%s: missing required setting '%s'%s%s",
						h->name, o->name, o->help ? ": " : "", o->help ? o->help : "");
			if (!o->def)
				continue;
			const struct yt_node *at = where(h);
			struct yt_node fake = {
			    .type = YT_SCALAR,
			    .value = (char *)o->def,
			    .plain = true,
			    .line = at ? at->line : 0,
			    .col = at ? at->col : 0,
			    .file = at ? at->file : "(default)",
			};
			r = store_value(h, o, &fake, dst, err, errlen);
			if (r < 0)
				return r;
			continue;
		}
		r = store_value(h, o, n, dst, err, errlen);
		if (r < 0) {
			if (o->help && r == -EINVAL) {
				size_t len = strlen(err);
				snprintf(err + len, errlen > len ? errlen - len : 0, " (%s)", o->help);
			}
			return r;
		}
	}
	h->parsed = true;
	return 0;
}

static void mark_read(struct rollout_handle *h, const char *key)
{
	const struct yt_node *s = h->settings;

	for (size_t i = 0; s && s->type == YT_MAP && i < s->n; i++) {
		if (strcmp(s->keys[i]->value, key) != 0)
			continue;
		pthread_mutex_lock(&h->lock);
		bool seen = false;
		for (size_t k = 0; k < h->n_read && !seen; k++)
			seen = h->read[k] == s->keys[i];
		if (!seen) {
			const struct yt_node **nv = realloc(h->read, (h->n_read + 1) * sizeof(*nv));
			if (nv) {
				h->read = nv;
				h->read[h->n_read++] = s->keys[i];
			}
		}
		pthread_mutex_unlock(&h->lock);
	}
}

static const struct yt_node *get_key(struct rollout_handle *h, const char *key)
{
	const struct yt_node *n = yt_map_get(h->settings, key);

	mark_read(h, key);
	return n && !yt_is_null(n) ? n : NULL;
}

int host_check_settings_used(struct rollout_handle *h, char *err, size_t errlen)
{
	const struct yt_node *s = h->settings;

	if (h->parsed || !s || s->type != YT_MAP)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		bool seen = host_setting(s->keys[i]->value);
		for (size_t k = 0; k < h->n_read && !seen; k++)
			seen = h->read[k] == s->keys[i];
		if (!seen)
			return yt_error(s->keys[i], err, errlen,
					"plugins.%s: unknown setting '%s' (the plugin does not "
					"read it)",
					h->name, s->keys[i]->value);
	}
	return 0;
}

int host_config_string(struct rollout_handle *h, const char *key, const char *def, const char **ret, char *err,
		       size_t errlen)
{
	const struct yt_node *n;
	char what[256];

	if (!host_handle_ok(h, "config_string"))
		return -EINVAL;
	if (!(n = get_key(h, key))) {
		*ret = def;
		return 0;
	}
	snprintf(what, sizeof(what), "plugins.%s.%s", h->name, key);
	return yt_as_string(n, what, ret, err, errlen);
}

int host_config_int(struct rollout_handle *h, const char *key, int64_t def, int64_t min, int64_t max, int64_t *ret,
		    char *err, size_t errlen)
{
	const struct yt_node *n;
	char what[256];

	if (!host_handle_ok(h, "config_int"))
		return -EINVAL;
	if (!(n = get_key(h, key))) {
		*ret = def;
		return 0;
	}
	snprintf(what, sizeof(what), "plugins.%s.%s", h->name, key);
	return yt_as_int(n, what, min, max, ret, err, errlen);
}

int host_config_bool(struct rollout_handle *h, const char *key, bool def, bool *ret, char *err, size_t errlen)
{
	const struct yt_node *n;
	char what[256];

	if (!host_handle_ok(h, "config_bool"))
		return -EINVAL;
	if (!(n = get_key(h, key))) {
		*ret = def;
		return 0;
	}
	snprintf(what, sizeof(what), "plugins.%s.%s", h->name, key);
	return yt_as_bool(n, what, ret, err, errlen);
}

int host_config_duration_ms(struct rollout_handle *h, const char *key, int64_t def, int64_t min, int64_t max,
			    int64_t *ret, char *err, size_t errlen)
{
	const struct yt_node *n;
	char what[256];

	if (!host_handle_ok(h, "config_duration_ms"))
		return -EINVAL;
	if (!(n = get_key(h, key))) {
		*ret = def;
		return 0;
	}
	snprintf(what, sizeof(what), "plugins.%s.%s", h->name, key);
	return yt_as_duration_ms(n, what, min, max, ret, err, errlen);
}

const char *host_config_json(struct rollout_handle *h)
{
	const char *out;

	if (!host_handle_ok(h, "config_json"))
		return NULL;
	pthread_mutex_lock(&h->lock);
	h->parsed = true; /* the plugin took the whole subtree: its keys are its business */
	if (!h->settings_json) {
		json_t *j = h->settings ? yt_to_json(h->settings) : json_object();
		h->settings_json = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
		json_decref(j);
	}
	out = h->settings_json;
	pthread_mutex_unlock(&h->lock);
	return out;
}
