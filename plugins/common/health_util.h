/* Helpers shared by the in-tree health plugins (http-check, prometheus,
 * cloudwatch). Header-only so each plugin stays one self-contained .so that
 * includes nothing of the daemon's but rollout/plugin.h (and jansson).
 *
 * Alarm settings arrive as the JSON text of the alarm's map under `alarms:`
 * (scalars as strings). Every alarm map also carries the keys the daemon
 * itself reads (daemon/health/alarms.c): `plugin`, `interval`, `description`,
 * `gate`, `gate_timeout`, `on_insufficient_data`; plugins accept them (and check their values, so a
 * bad one is refused at start) but otherwise ignore them. */
#pragma once

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rollout/plugin.h>

#define HU_COMMON_KEYS "plugin", "interval", "description", "gate", "gate_timeout", "on_insufficient_data"

/* Parses settings_json into an object. */
static inline int hu_settings(const char *alarm, const char *settings_json, json_t **ret, struct rollout_error *err)
{
	json_error_t je;
	json_t *j = json_loads(settings_json ? settings_json : "{}", 0, &je);

	if (!json_is_object(j)) {
		json_decref(j);
		return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG",
					 "alarm %s: settings are not a mapping (%s)", alarm, je.text);
	}
	*ret = j;
	return 0;
}

/* "250ms", "5s", "2m", "1h" or a bare number of seconds -> milliseconds. */
static inline int hu_parse_duration(const char *s, int64_t *ret_ms)
{
	char *end;
	double v;
	double mul = 1000;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || !isfinite(v))
		return -EINVAL;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else if (strcmp(end, "h") == 0)
		mul = 3600000;
	else
		return -EINVAL;
	if (v * mul > 1e15)
		return -ERANGE;
	*ret_ms = (int64_t)(v * mul);
	return 0;
}

/* -EINVAL naming the first key of o not in allowed (NULL-terminated) nor a
 * common key, and listing the accepted ones. */
static inline int hu_known_keys(const char *alarm, const json_t *o, const char *const *allowed,
				struct rollout_error *err)
{
	static const char *const common[] = {HU_COMMON_KEYS, NULL};
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v)
	{
		bool ok = false;
		for (size_t i = 0; !ok && common[i]; i++)
			ok = strcmp(k, common[i]) == 0;
		for (size_t i = 0; !ok && allowed[i]; i++)
			ok = strcmp(k, allowed[i]) == 0;
		if (!ok) {
			char list[512] = "";
			size_t n = 0;
			for (size_t i = 0; allowed[i] && n < sizeof(list); i++)
				n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", allowed[i]);
			return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG",
						 "alarm %s: unknown setting '%s' (accepted: %s, plugin, interval, "
						 "description, gate, gate_timeout, on_insufficient_data)",
						 alarm, k, list);
		}
	}
	/* `interval` is the daemon's (alarm polling); checked here too so that a
	 * bad one is refused at start, where plugins validate their alarms. */
	v = json_object_get(o, "interval");
	if (v) {
		int64_t ms;
		const char *s = json_string_value(v);
		if (!s || hu_parse_duration(s, &ms) < 0 || ms < 100 || ms > 3600 * 1000)
			return rollout_error_set(
			    err, -EINVAL, "INVALID_ALARM_CONFIG",
			    "alarm %s: interval '%s' is not a duration between 100ms and 1h (write "
			    "e.g. 10s)",
			    alarm, s ? s : "(not a value)");
	}
	v = json_object_get(o, "gate_timeout");
	if (v) {
		int64_t ms;
		const char *s = json_string_value(v);
		if (!s || hu_parse_duration(s, &ms) < 0 || ms > 3600 * 1000)
			return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG",
						 "alarm %s: gate_timeout '%s' is not a duration up to 1h (write e.g. "
						 "30s)",
						 alarm, s ? s : "(not a value)");
	}
	v = json_object_get(o, "on_insufficient_data");
	if (v) {
		const char *s = json_string_value(v);
		if (!s || (strcmp(s, "stop") && strcmp(s, "continue")))
			return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG",
						 "alarm %s: on_insufficient_data must be stop (default) or continue",
						 alarm);
	}
	v = json_object_get(o, "gate");
	if (v) {
		const char *s = json_string_value(v);
		if (!s || (strcmp(s, "true") && strcmp(s, "false")))
			return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG",
						 "alarm %s: gate must be true or false", alarm);
	}
	return 0;
}

/* A string setting or NULL when absent; -EINVAL when not a scalar. */
static inline int hu_str(const char *alarm, const json_t *o, const char *key, const char **ret,
			 struct rollout_error *err)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG",
					 "alarm %s: '%s' must be a single value, not a list or mapping", alarm, key);
	*ret = json_string_value(v);
	return 0;
}

/* A duration setting within [min_ms, max_ms]; def_ms when absent. */
static inline int hu_duration(const char *alarm, const json_t *o, const char *key, int64_t def_ms, int64_t min_ms,
			      int64_t max_ms, int64_t *ret_ms, struct rollout_error *err)
{
	const char *s;
	int64_t v;
	int r = hu_str(alarm, o, key, &s, err);

	if (r < 0)
		return r;
	if (!s) {
		*ret_ms = def_ms;
		return 0;
	}
	if (hu_parse_duration(s, &v) < 0 || v < min_ms || v > max_ms)
		return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG",
					 "alarm %s: '%s: %s' is not a duration between %lld ms and %lld ms (write e.g. "
					 "500ms, 5s, 2m)",
					 alarm, key, s, (long long)min_ms, (long long)max_ms);
	*ret_ms = v;
	return 0;
}

/* A number setting; *ret_set false when absent. */
static inline int hu_number(const char *alarm, const json_t *o, const char *key, double *ret, bool *ret_set,
			    struct rollout_error *err)
{
	const char *s;
	char *end;
	double v;
	int r = hu_str(alarm, o, key, &s, err);

	if (r < 0)
		return r;
	*ret_set = false;
	if (!s)
		return 0;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG", "alarm %s: '%s: %s' is not a number",
					 alarm, key, s);
	*ret = v;
	*ret_set = true;
	return 0;
}

/* An integer setting within [min, max]; def when absent. */
static inline int hu_int(const char *alarm, const json_t *o, const char *key, long long def, long long min,
			 long long max, long long *ret, struct rollout_error *err)
{
	const char *s;
	char *end;
	long long v;
	int r = hu_str(alarm, o, key, &s, err);

	if (r < 0)
		return r;
	if (!s) {
		*ret = def;
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG",
					 "alarm %s: '%s: %s' is not a whole number between %lld and %lld", alarm, key,
					 s, min, max);
	*ret = v;
	return 0;
}

static inline bool hu_is_http_url(const char *s)
{
	return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) && !strpbrk(s, " \t\r\n");
}

/* Appends s to buf[*n..] percent-encoded as application/x-www-form-urlencoded
 * (RFC 3986 unreserved kept). -ENOSPC when it does not fit. */
static inline int hu_urlencode(char *buf, size_t size, size_t *n, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (*n + 4 > size)
			return -ENOSPC;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			buf[(*n)++] = (char)c;
		} else {
			buf[(*n)++] = '%';
			buf[(*n)++] = hex[c >> 4];
			buf[(*n)++] = hex[c & 15];
		}
	}
	buf[*n] = '\0';
	return 0;
}
