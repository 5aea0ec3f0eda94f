#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/conf.h"
#include "log.h"
#include "util.h"
#include "yamltree.h"

#define CONFIG_MAX_BYTES (4u << 20)

#ifndef PLUGINDIR
#define PLUGINDIR "/usr/local/lib/rolloutd/plugins"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif

static const char *const top_keys[] = {
    "listen",
    "data_dir",
    "plugin_dir",
    "region",
    "account_id",
    "log_level",
    "long_poll",
    "workers",
    "regions_allowed",
    "plugins",
    "alarms",
    "bundle_cache_max",
    "bundle_upload_max",
    "retention",
    "metrics_listen",
    "metrics_require_key",
    "alarm_fallback_plugin",
    "hook_timeout",
    "kek_file",
    "store",
    "store_password_file",
    "instance_key_sweep",
    "limits",
    "tls",
    "cluster",
};

#define SIZE_KIB 1024ULL
#define SIZE_GIB (1ULL << 30)

/* Relative paths are taken relative to the directory of the config file, so
 * a config and its data can be moved together. */
static int resolve_path(const char *cfg_path, const char *p, char **ret)
{
	const char *slash;
	char *out;

	if (p[0] == '/' || !(slash = strrchr(cfg_path, '/'))) {
		out = strdup(p);
	} else if (asprintf(&out, "%.*s/%s", (int)(slash - cfg_path), cfg_path, p) < 0) {
		out = NULL;
	}
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

int config_check_listen(const char *listen, char *err, size_t errlen)
{
	const char *colon;
	char *end;
	long port;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':')
			goto bad;
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon || colon == listen || memchr(listen, ':', (size_t)(colon - listen)))
			goto bad;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "expected HOST:PORT (e.g. 127.0.0.1:8740 or [::1]:8740), found '%s'", listen);
	return -EINVAL;
}

int config_parse_size(const char *s, uint64_t *ret, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		uint64_t mult;
	} units[] = {
	    {"", 1},
	    {"b", 1},
	    {"k", 1ULL << 10},
	    {"kib", 1ULL << 10},
	    {"kb", 1000ULL},
	    {"m", 1ULL << 20},
	    {"mib", 1ULL << 20},
	    {"mb", 1000ULL * 1000},
	    {"g", 1ULL << 30},
	    {"gib", 1ULL << 30},
	    {"gb", 1000ULL * 1000 * 1000},
	    {"t", 1ULL << 40},
	    {"tib", 1ULL << 40},
	    {"tb", 1000ULL * 1000 * 1000 * 1000},
	};
	const char *p = s, *unit;
	long double v;
	char *end;

	if (*p < '0' || *p > '9')
		goto bad;
	errno = 0;
	v = strtold(p, &end);
	if (errno || end == p || end[-1] == '.')
		goto bad;
	/* digits with at most one '.', nothing else (no exponents, hex, inf) */
	if (strspn(p, "0123456789.") != (size_t)(end - p))
		goto bad;
	unit = end;
	while (*unit == ' ')
		unit++;
	for (size_t i = 0; i < RD_ARRAY_SIZE(units); i++) {
		long double bytes;

		if (strcasecmp(unit, units[i].name) != 0 || (unit != end && !*unit))
			continue;
		bytes = v * (long double)units[i].mult;
		if (bytes >= 9223372036854775808.0L) {
			snprintf(err, errlen, "'%s' is too large (at most 8EiB)", s);
			return -ERANGE;
		}
		if (bytes != (long double)(uint64_t)bytes) {
			snprintf(err, errlen, "'%s' is not a whole number of bytes", s);
			return -EINVAL;
		}
		*ret = (uint64_t)bytes;
		return 0;
	}
bad:
	snprintf(err, errlen,
		 "expected a size such as 4096, 512MiB, 10GiB or 1.5GB (units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), "
		 "found '%s'",
		 s);
	return -EINVAL;
}

/* A size setting of at least min bytes, with FILE:LINE:COL errors. */
static int load_size(const struct yt_node *n, const char *what, uint64_t min, uint64_t *ret, char *err, size_t errlen)
{
	char msg[256];
	const char *s;
	uint64_t v;
	int r;

	if ((r = yt_as_string(n, what, &s, err, errlen)) < 0)
		return r;
	if (config_parse_size(s, &v, msg, sizeof(msg)) < 0)
		return yt_error(n, err, errlen, "%s: %s", what, msg);
	if (v < min)
		return yt_error(n, err, errlen, "%s: '%s' is too small; use at least %llu bytes", what, s,
				(unsigned long long)min);
	*ret = v;
	return 0;
}

#define DAY_MS (24LL * 3600 * 1000)

/* retention: {deployments: DURATION, hook_logs: DURATION, interval: DURATION} */
static int load_limits(struct rd_config *cfg, const struct yt_node *n, char *err, size_t errlen)
{
	static const char *const keys[] = {"header_max",      "body_max",
					   "request_timeout", "failed_auth_per_minute",
					   "max_connections", "long_polls_per_key"};
	const struct yt_node *v;
	const char *s;
	int64_t x;
	int r;

	if (!n)
		return 0;
	if (n->type != YT_MAP)
		return yt_error(n, err, errlen,
				"limits: expected a mapping such as {body_max: 1MiB, request_timeout: 60s}");
	if ((r = yt_check_keys(n, "limits: ", keys, RD_ARRAY_SIZE(keys), err, errlen)) < 0)
		return r;
	for (int which = 0; which < 2; which++) {
		const char *name = which ? "body_max" : "header_max";
		uint64_t lo = which ? 1024 : 4096, hi = which ? 64ULL << 20 : 1ULL << 20, size;
		char m[256];
		if (!(v = yt_map_get(n, name)))
			continue;
		if ((r = yt_as_string(v, name, &s, err, errlen)) < 0)
			return r;
		if (config_parse_size(s, &size, m, sizeof(m)) < 0)
			return yt_error(v, err, errlen, "limits.%s: %s", name, m);
		if (size < lo || size > hi)
			return yt_error(v, err, errlen, "limits.%s: %s is out of range (%llu bytes to %llu bytes)",
					name, s, (unsigned long long)lo, (unsigned long long)hi);
		if (which)
			cfg->limit_body_max = size;
		else
			cfg->limit_header_max = size;
	}
	if ((v = yt_map_get(n, "request_timeout"))) {
		if ((r = yt_as_duration_ms(v, "limits.request_timeout", 1000, 3600 * 1000LL, &x, err, errlen)) < 0)
			return r;
		if (x <= cfg->long_poll_ms)
			return yt_error(v, err, errlen,
					"limits.request_timeout must be longer than long_poll (%lld s), or held polls "
					"would be cut",
					(long long)(cfg->long_poll_ms / 1000));
		cfg->limit_request_timeout_ms = x;
	}
	if ((v = yt_map_get(n, "failed_auth_per_minute"))) {
		if ((r = yt_as_int(v, "limits.failed_auth_per_minute", 0, 1000000, &x, err, errlen)) < 0)
			return r;
		cfg->limit_failed_auth_per_minute = (int)x;
	}
	if ((v = yt_map_get(n, "max_connections"))) {
		if ((r = yt_as_int(v, "limits.max_connections", 16, 10000000, &x, err, errlen)) < 0)
			return r;
		cfg->limit_max_connections = x;
	}
	if ((v = yt_map_get(n, "long_polls_per_key"))) {
		if ((r = yt_as_int(v, "limits.long_polls_per_key", 0, 10000000, &x, err, errlen)) < 0)
			return r;
		cfg->limit_long_polls_per_key = x;
	}
	return 0;
}

static int load_retention(struct rd_config *cfg, const struct yt_node *n, char *err, size_t errlen)
{
	static const char *const keys[] = {"deployments", "hook_logs", "audit", "interval"};
	const struct yt_node *v;
	int64_t ms;
	int r;

	if (!n)
		return 0;
	if (n->type != YT_MAP)
		return yt_error(n, err, errlen,
				"retention: expected a mapping such as {deployments: 90d, hook_logs: 30d}");
	if ((r = yt_check_keys(n, "retention: ", keys, RD_ARRAY_SIZE(keys), err, errlen)) < 0)
		return r;
	if ((v = yt_map_get(n, "deployments"))) {
		if ((r = yt_as_duration_ms(v, "retention.deployments", 3600 * 1000LL, 36500 * DAY_MS, &ms, err,
					   errlen)) < 0)
			return r;
		cfg->retention_deployments_ms = ms;
	}
	if ((v = yt_map_get(n, "hook_logs"))) {
		if ((r = yt_as_duration_ms(v, "retention.hook_logs", 3600 * 1000LL, 36500 * DAY_MS, &ms, err, errlen)) <
		    0)
			return r;
		cfg->retention_hook_logs_ms = ms;
	}
	if ((v = yt_map_get(n, "audit"))) {
		if ((r = yt_as_duration_ms(v, "retention.audit", 3600 * 1000LL, 36500 * DAY_MS, &ms, err, errlen)) < 0)
			return r;
		cfg->retention_audit_ms = ms;
	}
	if ((v = yt_map_get(n, "interval"))) {
		if ((r = yt_as_duration_ms(v, "retention.interval", 1000, DAY_MS, &ms, err, errlen)) < 0)
			return r;
		cfg->retention_interval_ms = ms;
	}
	return 0;
}

/* cluster: {lease_ttl: DURATION, advertise_url: URL} (docs/cluster.md). */
static int load_cluster(struct rd_config *cfg, const struct yt_node *n, char *err, size_t errlen)
{
	static const char *const keys[] = {"lease_ttl", "advertise_url"};
	const struct yt_node *v;
	const char *s;
	int64_t ms;
	int r;

	if (!n)
		return 0;
	if (n->type != YT_MAP)
		return yt_error(
		    n, err, errlen,
		    "cluster: expected a mapping such as {lease_ttl: 5s, advertise_url: https://10.0.0.11:8740}");
	if ((r = yt_check_keys(n, "cluster: ", keys, RD_ARRAY_SIZE(keys), err, errlen)) < 0)
		return r;
	if ((v = yt_map_get(n, "lease_ttl"))) {
		/* the heartbeat runs every third of it; below 1 s a busy database
		 * makes daemons expire each other */
		if ((r = yt_as_duration_ms(v, "cluster.lease_ttl", 1000, 600 * 1000, &ms, err, errlen)) < 0)
			return r;
		cfg->cluster_lease_ttl_ms = ms;
	}
	if ((v = yt_map_get(n, "advertise_url"))) {
		const char *rest;
		char msg[256];
		if ((r = yt_as_string(v, "cluster.advertise_url", &s, err, errlen)) < 0)
			return r;
		rest = !strncmp(s, "http://", 7) ? s + 7 : !strncmp(s, "https://", 8) ? s + 8 : NULL;
		if (!rest || strlen(s) > 200 || strchr(rest, '/') || config_check_listen(rest, msg, sizeof(msg)) < 0)
			return yt_error(
			    v, err, errlen,
			    "cluster.advertise_url: expected http(s)://HOST:PORT, how the other daemons reach "
			    "this one's listener (e.g. https://10.0.0.11:8740), found '%s'",
			    s);
		if ((r = set_str(&cfg->cluster_advertise_url, s)) < 0)
			return r;
	}
	return 0;
}

/* tls: {cert: FILE, key: FILE, client_ca: FILE}; the files are read when the
 * listeners start (and on SIGHUP), so only their presence is checked here. */
static int load_tls(struct rd_config *cfg, const struct yt_node *n, char *err, size_t errlen)
{
	static const char *const keys[] = {"cert", "key", "client_ca"};
	char **dst[] = {&cfg->tls_cert, &cfg->tls_key, &cfg->tls_client_ca};
	const struct yt_node *v;
	const char *s;
	int r;

	if (!n)
		return 0;
	if (n->type != YT_MAP)
		return yt_error(n, err, errlen,
				"tls: expected a mapping such as {cert: /etc/rolloutd/server.pem, key: "
				"/etc/rolloutd/server.key}");
	if ((r = yt_check_keys(n, "tls: ", keys, RD_ARRAY_SIZE(keys), err, errlen)) < 0)
		return r;
	for (size_t k = 0; k < RD_ARRAY_SIZE(keys); k++) {
		char what[32];
		if (!(v = yt_map_get(n, keys[k])))
			continue;
		snprintf(what, sizeof(what), "tls.%s", keys[k]);
		if ((r = yt_as_string(v, what, &s, err, errlen)) < 0)
			return r;
		if (!*s)
			return yt_error(v, err, errlen, "%s: must name a PEM file", what);
		free(*dst[k]);
		*dst[k] = NULL;
		if ((r = resolve_path(cfg->path, s, dst[k])) < 0)
			return r;
	}
	if (!cfg->tls_cert || !cfg->tls_key)
		return yt_error(
		    n, err, errlen,
		    "tls: both cert and key are required (the server certificate and its private key, PEM)");
	return 0;
}

static int load_bundle_sizes(struct rd_config *cfg, const struct yt_node *root, char *err, size_t errlen)
{
	const struct yt_node *cache = yt_map_get(root, "bundle_cache_max");
	const struct yt_node *upload = yt_map_get(root, "bundle_upload_max");
	int r;

	if (cache && (r = load_size(cache, "bundle_cache_max", SIZE_KIB, &cfg->bundle_cache_max, err, errlen)) < 0)
		return r;
	if (upload) {
		if ((r = load_size(upload, "bundle_upload_max", 1, &cfg->bundle_upload_max, err, errlen)) < 0)
			return r;
		if (cfg->bundle_upload_max > cfg->bundle_cache_max)
			return yt_error(upload, err, errlen,
					"bundle_upload_max: %llu bytes is more than bundle_cache_max (%llu bytes), so "
					"an upload that large could not stay in the cache; lower bundle_upload_max or "
					"raise bundle_cache_max",
					(unsigned long long)cfg->bundle_upload_max,
					(unsigned long long)cfg->bundle_cache_max);
	} else if (cfg->bundle_upload_max > cfg->bundle_cache_max) {
		cfg->bundle_upload_max = cfg->bundle_cache_max;
	}
	return 0;
}

static int check_name(const struct yt_node *key, const char *what, char *err, size_t errlen)
{
	const char *s = key->value;

	if (!*s || strlen(s) > 64)
		goto bad;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			goto bad;
	return 0;
bad:
	return yt_error(key, err, errlen,
			"%s '%s': use 1 to 64 characters of a-z, 0-9, '-' and '_' (it names the file NAME.so)", what,
			key->value);
}

static int load_plugins(struct rd_config *cfg, const struct yt_node *n, char *err, size_t errlen)
{
	if (yt_is_null(n))
		return 0;
	if (n->type != YT_MAP)
		return yt_error(
		    n, err, errlen,
		    "plugins: expected a mapping of plugin name to its settings (e.g. 'plugins: {onprem: {}}')");
	for (size_t i = 0; i < n->n; i++) {
		const struct yt_node *v = n->items[i];
		int r = check_name(n->keys[i], "plugins: plugin name", err, errlen);
		if (r < 0)
			return r;
		if (!yt_is_null(v) && v->type != YT_MAP)
			return yt_error(v, err, errlen,
					"plugins.%s: expected a mapping of settings or nothing, found a %s",
					n->keys[i]->value, v->type == YT_SEQ ? "list" : "scalar");
	}
	cfg->plugins = n;
	return 0;
}

static int load_alarms(struct rd_config *cfg, const struct yt_node *n, char *err, size_t errlen)
{
	if (yt_is_null(n))
		return 0;
	if (n->type != YT_MAP)
		return yt_error(n, err, errlen,
				"alarms: expected a mapping of alarm name to {plugin: NAME, ...settings}");
	for (size_t i = 0; i < n->n; i++) {
		const struct yt_node *v = n->items[i], *p;
		const char *name = n->keys[i]->value, *pname;
		int r;

		if (!*name || strlen(name) > 255)
			return yt_error(n->keys[i], err, errlen, "alarms: alarm names must be 1 to 255 characters");
		if (v->type != YT_MAP)
			return yt_error(v, err, errlen, "alarms.%s: expected a mapping with at least 'plugin: NAME'",
					name);
		p = yt_map_get(v, "plugin");
		if (!p)
			return yt_error(v, err, errlen,
					"alarms.%s: missing 'plugin': name the health plugin that checks this alarm",
					name);
		r = yt_as_string(p, "plugin", &pname, err, errlen);
		if (r < 0)
			return r;
		if (!yt_map_get(cfg->plugins, pname))
			return yt_error(
			    p, err, errlen,
			    "alarms.%s: plugin '%s' is not enabled: add it under 'plugins:' or pick another", name,
			    pname);
	}
	cfg->alarms = n;
	return 0;
}

/* The plugin asked for undefined alarm names. That it is a health plugin is
 * checked when the plugins are loaded (plugins.c), at this same position. */
static int load_alarm_fallback(struct rd_config *cfg, const struct yt_node *n, char *err, size_t errlen)
{
	const char *s;
	int r;

	if (!n || yt_is_null(n))
		return 0;
	if ((r = yt_as_string(n, "alarm_fallback_plugin", &s, err, errlen)) < 0)
		return r;
	if (!yt_map_get(cfg->plugins, s))
		return yt_error(n, err, errlen,
				"alarm_fallback_plugin: plugin '%s' is not enabled (expected the name of a health "
				"plugin under 'plugins:'); add it there or remove this setting",
				s);
	cfg->alarm_fallback_plugin = s;
	cfg->alarm_fallback_node = n;
	return 0;
}

static int load_regions(struct rd_config *cfg, const struct yt_node *n, char *err, size_t errlen)
{
	char **v;

	if (yt_is_null(n))
		return 0;
	if (n->type != YT_SEQ)
		return yt_error(n, err, errlen, "regions_allowed: expected a list of region names, e.g. [us-east-1]");
	v = calloc(n->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	cfg->regions_allowed = v;
	for (size_t i = 0; i < n->n; i++) {
		const char *s;
		int r = yt_as_string(n->items[i], "regions_allowed[]", &s, err, errlen);
		if (r < 0)
			return r;
		if (!*s)
			return yt_error(n->items[i], err, errlen, "regions_allowed: empty region name");
		v[i] = strdup(s);
		if (!v[i])
			return -ENOMEM;
	}
	return 0;
}

static int apply(struct rd_config *cfg, const struct yt_node *root, char *err, size_t errlen)
{
	const struct yt_node *n;
	const char *s;
	int64_t v;
	int r;

	if (root->type != YT_MAP)
		return yt_error(root, err, errlen, "the configuration must be a mapping of settings (key: value)");
	if ((r = yt_check_keys(root, "", top_keys, RD_ARRAY_SIZE(top_keys), err, errlen)) < 0)
		return r;

	if ((n = yt_map_get(root, "listen"))) {
		if ((r = yt_as_string(n, "listen", &s, err, errlen)) < 0)
			return r;
		char msg[256];
		if (config_check_listen(s, msg, sizeof(msg)) < 0)
			return yt_error(n, err, errlen, "listen: %s", msg);
		if ((r = set_str(&cfg->listen, s)) < 0)
			return r;
	}
	if ((n = yt_map_get(root, "metrics_listen"))) {
		if ((r = yt_as_string(n, "metrics_listen", &s, err, errlen)) < 0)
			return r;
		char msg[256];
		if (config_check_listen(s, msg, sizeof(msg)) < 0)
			return yt_error(n, err, errlen, "metrics_listen: %s", msg);
		if ((r = set_str(&cfg->metrics_listen, s)) < 0)
			return r;
	}
	if ((n = yt_map_get(root, "metrics_require_key")) &&
	    (r = yt_as_bool(n, "metrics_require_key", &cfg->metrics_require_key, err, errlen)) < 0)
		return r;
	if ((n = yt_map_get(root, "data_dir"))) {
		if ((r = yt_as_string(n, "data_dir", &s, err, errlen)) < 0)
			return r;
		if (!*s)
			return yt_error(n, err, errlen, "data_dir: must not be empty");
		free(cfg->data_dir);
		cfg->data_dir = NULL;
		if ((r = resolve_path(cfg->path, s, &cfg->data_dir)) < 0)
			return r;
	}
	if ((n = yt_map_get(root, "store"))) {
		if ((r = yt_as_string(n, "store", &s, err, errlen)) < 0)
			return r;
		if (strncmp(s, "postgresql://", 13) != 0 && strncmp(s, "postgres://", 11) != 0)
			return yt_error(n, err, errlen,
					"store: must be a PostgreSQL connection URI (postgresql://USER@HOST/DB?...); "
					"leave it out to keep the SQLite store in data_dir");
		if ((r = set_str(&cfg->store, s)) < 0)
			return r;
	}
	if ((n = yt_map_get(root, "store_password_file"))) {
		if ((r = yt_as_string(n, "store_password_file", &s, err, errlen)) < 0)
			return r;
		if (!*s)
			return yt_error(n, err, errlen, "store_password_file: must not be empty");
		if (!cfg->store)
			return yt_error(
			    n, err, errlen,
			    "store_password_file: only with store: postgresql://... (the SQLite store has no "
			    "password)");
		if ((r = resolve_path(cfg->path, s, &cfg->store_password_file)) < 0)
			return r;
	}
	if ((n = yt_map_get(root, "kek_file"))) {
		if ((r = yt_as_string(n, "kek_file", &s, err, errlen)) < 0)
			return r;
		if (!*s)
			return yt_error(n, err, errlen, "kek_file: must not be empty");
		if ((r = resolve_path(cfg->path, s, &cfg->kek_file)) < 0)
			return r;
	}
	if ((n = yt_map_get(root, "plugin_dir"))) {
		if ((r = yt_as_string(n, "plugin_dir", &s, err, errlen)) < 0)
			return r;
		if (!*s)
			return yt_error(n, err, errlen, "plugin_dir: must not be empty");
		free(cfg->plugin_dir);
		cfg->plugin_dir = NULL;
		if ((r = resolve_path(cfg->path, s, &cfg->plugin_dir)) < 0)
			return r;
	}
	if ((n = yt_map_get(root, "region"))) {
		if ((r = yt_as_string(n, "region", &s, err, errlen)) < 0)
			return r;
		if (!*s || strlen(s) > 64)
			return yt_error(n, err, errlen, "region: expected a region name such as us-east-1");
		if ((r = set_str(&cfg->region, s)) < 0)
			return r;
	}
	if ((n = yt_map_get(root, "account_id"))) {
		if ((r = yt_as_string(n, "account_id", &s, err, errlen)) < 0)
			return r;
		if (strlen(s) != 12 || strspn(s, "0123456789") != 12)
			return yt_error(n, err, errlen,
					"account_id: expected 12 digits (e.g. '000000000000'), found '%s'", s);
		if ((r = set_str(&cfg->account_id, s)) < 0)
			return r;
	}
	if ((n = yt_map_get(root, "log_level"))) {
		if ((r = yt_as_string(n, "log_level", &s, err, errlen)) < 0)
			return r;
		if (rd_log_level_parse(s) < 0)
			return yt_error(n, err, errlen,
					"log_level: expected debug, info, notice, warning or error, found '%s'", s);
		if ((r = set_str(&cfg->log_level, s)) < 0)
			return r;
	}
	if ((n = yt_map_get(root, "long_poll"))) {
		if ((r = yt_as_duration_ms(n, "long_poll", 1000, 70000, &v, err, errlen)) < 0)
			return r;
		cfg->long_poll_ms = v;
	}
	if ((n = yt_map_get(root, "instance_key_sweep"))) {
		if ((r = yt_as_duration_ms(n, "instance_key_sweep", 1000, 86400 * 1000LL, &v, err, errlen)) < 0)
			return r;
		cfg->instance_key_sweep_ms = v;
	}
	if ((n = yt_map_get(root, "hook_timeout"))) {
		if ((r = yt_as_duration_ms(n, "hook_timeout", 1000, 3600 * 1000, &v, err, errlen)) < 0)
			return r;
		cfg->hook_timeout_ms = v;
	}
	if ((n = yt_map_get(root, "workers"))) {
		if ((r = yt_as_int(n, "workers", 1, 256, &v, err, errlen)) < 0)
			return r;
		cfg->workers = (int)v;
	}
	if ((r = load_regions(cfg, yt_map_get(root, "regions_allowed"), err, errlen)) < 0)
		return r;
	if ((r = load_bundle_sizes(cfg, root, err, errlen)) < 0)
		return r;
	if ((r = load_retention(cfg, yt_map_get(root, "retention"), err, errlen)) < 0)
		return r;
	if ((r = load_limits(cfg, yt_map_get(root, "limits"), err, errlen)) < 0)
		return r;
	if ((r = load_tls(cfg, yt_map_get(root, "tls"), err, errlen)) < 0)
		return r;
	if ((r = load_cluster(cfg, yt_map_get(root, "cluster"), err, errlen)) < 0)
		return r;
	if ((r = load_plugins(cfg, yt_map_get(root, "plugins"), err, errlen)) < 0)
		return r;
	if ((r = load_alarms(cfg, yt_map_get(root, "alarms"), err, errlen)) < 0)
		return r;
	if ((r = load_alarm_fallback(cfg, yt_map_get(root, "alarm_fallback_plugin"), err, errlen)) < 0)
		return r;
	return 0;
}

static int set_defaults(struct rd_config *cfg)
{
	if (set_str(&cfg->listen, "127.0.0.1:8740") < 0 || set_str(&cfg->data_dir, LOCALSTATEDIR "/lib/rolloutd") < 0 ||
	    set_str(&cfg->plugin_dir, PLUGINDIR) < 0 || set_str(&cfg->region, "us-east-1") < 0 ||
	    set_str(&cfg->account_id, "000000000000") < 0 || set_str(&cfg->log_level, "info") < 0)
		return -ENOMEM;
	cfg->long_poll_ms = 50000;
	cfg->hook_timeout_ms = 3600 * 1000;
	cfg->instance_key_sweep_ms = 300 * 1000;
	cfg->workers = 4;
	cfg->bundle_cache_max = 10 * SIZE_GIB;
	cfg->bundle_upload_max = 2 * SIZE_GIB;
	cfg->retention_interval_ms = 3600 * 1000;
	cfg->cluster_lease_ttl_ms = 5000;
	cfg->limit_header_max = 64 * SIZE_KIB;
	cfg->limit_body_max = 1024 * SIZE_KIB;
	cfg->limit_request_timeout_ms = 120 * 1000;
	cfg->limit_failed_auth_per_minute = 60;
	return 0;
}

int config_load(const char *path, struct rd_config **ret, struct rd_error *e)
{
	struct rd_config *cfg;
	/* the YAML tree (lib/yamltree) reports FILE:LINE:COL messages in its own shape */
	char err[sizeof(e->message)] = "";
	size_t errlen = sizeof(err);
	int r;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	cfg->path = strdup(path);
	if (!cfg->path || (r = set_defaults(cfg)) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = yt_parse_file(path, CONFIG_MAX_BYTES, &cfg->root, err, errlen);
	if (r < 0) {
		if (r == -ENOENT || r == -EACCES || r == -EISDIR || r == -EFBIG)
			snprintf(err, errlen, "%s: cannot read the configuration: %s%s", path, strerror(-r),
				 r == -EFBIG ? " (limit 4 MiB)" : "; pass an existing file with --config FILE");
		goto out;
	}
	r = apply(cfg, cfg->root, err, errlen);
	if (r == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
out:
	if (r < 0) {
		config_free(cfg);
		return rd_error_set(e, r, "ConfigError", "%s", err[0] ? err : strerror(-r));
	}
	*ret = cfg;
	return 0;
}

struct rd_config *config_free(struct rd_config *cfg)
{
	if (!cfg)
		return NULL;
	free(cfg->path);
	free(cfg->listen);
	free(cfg->metrics_listen);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_client_ca);
	free(cfg->cluster_advertise_url);
	free(cfg->data_dir);
	free(cfg->kek_file);
	free(cfg->store);
	free(cfg->store_password_file);
	free(cfg->plugin_dir);
	free(cfg->region);
	free(cfg->account_id);
	free(cfg->log_level);
	if (cfg->regions_allowed)
		for (char **p = cfg->regions_allowed; *p; p++)
			free(*p);
	free(cfg->regions_allowed);
	yt_free(cfg->root);
	free(cfg);
	return NULL;
}

const struct yt_node *config_plugin_settings(const struct rd_config *cfg, const char *name)
{
	return yt_map_get(cfg->plugins, name);
}
