/* http-check: a health plugin that GETs a URL and answers OK when the answer
 * has an expected status (and body), ALARM otherwise.
 *
 *     plugins:
 *       http-check:
 *         timeout: 5s              default per-request timeout (100ms..60s)
 *     alarms:
 *       web-health:
 *         plugin: http-check
 *         url: "http://{host}:8080/health"   {host} (or {instance}) is replaced
 *         hosts: [web-1, web-2]               hosts polled for a {host} URL
 *         expected_status: "200,204"          codes or classes (2xx); default 200
 *         body_match: '"status": *"ok"'       POSIX extended regex (optional)
 *         timeout: 2s
 *         unreachable: alarm                  alarm (default) | insufficient_data
 *
 * A {host} URL is checked for every host in `hosts`; any unhealthy host makes
 * the alarm ALARM. When the daemon gates one instance after ApplicationStart
 * (the ValidateService extension, docs/health.md) it adds `instance: NAME` to
 * the settings and only that instance is checked. */
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ctype.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "uri.h"

struct hc {
	const struct rollout_host *host;
	struct rollout_handle *h;
	int64_t timeout_ms;
};

static const struct rollout_option hc_options[] = {
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct hc, timeout_ms),
     .min = 100,
     .max = 60000,
     .def = "5s",
     .help = "default per-request timeout of http-check alarms"},
    ROLLOUT_OPTION_END,
};

/* One parsed alarm. Strings are borrowed from `settings`. */
struct hc_alarm {
	struct rollout_alarm_settings *settings;
	const char *url, *expected, *body_match, *instance, *unreachable, *hosts_json;
	json_t *hosts;
	int64_t timeout_ms;
	bool unreachable_alarm;
};

/* The alarm's own settings; the host adds the keys every alarm has. */
static const struct rollout_option hc_alarm_options[] = {
    {.name = "url",
     .type = ROLLOUT_OPT_STRING,
     .required = true,
     .offset = offsetof(struct hc_alarm, url),
     .help = "give the URL to GET, e.g. http://{host}:8080/health"},
    {.name = "hosts", .type = ROLLOUT_OPT_JSON, .offset = offsetof(struct hc_alarm, hosts_json)},
    {.name = "expected_status",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct hc_alarm, expected),
     .def = "200"},
    {.name = "body_match", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct hc_alarm, body_match)},
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct hc_alarm, timeout_ms),
     .min = 100,
     .max = 60000},
    {.name = "unreachable", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct hc_alarm, unreachable)},
    {.name = "instance", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct hc_alarm, instance)},
    ROLLOUT_OPTION_END,
};

/* True when status matches spec: a comma list of codes ("200") or classes
 * ("2xx"). Exposed for the unit test. */
bool hc_status_expected(const char *spec, long status);
bool hc_status_expected(const char *spec, long status)
{
	const char *p = spec;

	while (p && *p) {
		size_t n = strcspn(p, ",");
		char tok[16];
		const char *t;
		size_t tl;

		if (n < sizeof(tok)) {
			memcpy(tok, p, n);
			tok[n] = '\0';
			t = tok;
			while (*t == ' ')
				t++;
			tl = strlen(t);
			while (tl && t[tl - 1] == ' ')
				tl--;
			if (tl == 3 && (t[1] == 'x' || t[1] == 'X') && (t[2] == 'x' || t[2] == 'X') && t[0] >= '1' &&
			    t[0] <= '5') {
				if (status / 100 == t[0] - '0')
					return true;
			} else if (tl == 3 && t[0] >= '1' && t[0] <= '5' && isdigit((unsigned char)t[1]) &&
				   isdigit((unsigned char)t[2])) {
				if (status == strtol(t, NULL, 10))
					return true;
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

static bool hc_status_spec_valid(const char *spec)
{
	const char *p = spec;

	if (!spec || !*spec)
		return false;
	while (*p) {
		size_t n = strcspn(p, ","), i = 0;
		while (i < n && p[i] == ' ')
			i++;
		if (n - i < 3 || !(p[i] >= '1' && p[i] <= '5'))
			return false;
		for (size_t k = 1; k < 3; k++)
			if (!isdigit((unsigned char)p[i + k]) && p[i + k] != 'x' && p[i + k] != 'X')
				return false;
		for (i += 3; i < n; i++)
			if (p[i] != ' ')
				return false;
		p += n;
		if (*p == ',' && !*++p)
			return false; /* trailing comma */
	}
	return true;
}

static bool hc_host_valid(const char *h)
{
	if (!h || !*h || strlen(h) > 255)
		return false;
	for (; *h; h++)
		if (!isalnum((unsigned char)*h) && !strchr(".-_:[]", *h))
			return false;
	return true;
}

static bool hc_has_placeholder(const char *url)
{
	return strstr(url, "{host}") || strstr(url, "{instance}");
}

/* url with every {host} / {instance} replaced by host. Exposed for the unit test. */
int hc_expand(const char *url, const char *host, char *out, size_t outlen);
int hc_expand(const char *url, const char *host, char *out, size_t outlen)
{
	size_t n = 0;

	while (*url) {
		const char *ph = NULL;
		size_t pl = 0;
		if (strncmp(url, "{host}", 6) == 0)
			ph = host, pl = 6;
		else if (strncmp(url, "{instance}", 10) == 0)
			ph = host, pl = 10;
		if (ph) {
			size_t hl = strlen(ph);
			if (n + hl >= outlen)
				return -ENOSPC;
			memcpy(out + n, ph, hl);
			n += hl;
			url += pl;
		} else {
			if (n + 1 >= outlen)
				return -ENOSPC;
			out[n++] = *url++;
		}
	}
	out[n] = '\0';
	return 0;
}

static void hc_alarm_free(const struct hc *s, struct hc_alarm *a)
{
	if (a->settings)
		s->host->alarm_settings_free(a->settings);
	json_decref(a->hosts);
	memset(a, 0, sizeof(*a));
}

static int hc_alarm_parse(const struct hc *s, const char *alarm, const char *settings_json, struct hc_alarm *a,
			  struct rollout_error *err)
{
	const char *unreachable;
	int r;

	memset(a, 0, sizeof(*a));
	a->timeout_ms = s->timeout_ms;
	r = rollout_alarm_settings_parse(s->host, s->h, alarm, settings_json, hc_alarm_options, a, &a->settings, err);
	if (r < 0)
		return r;
	unreachable = a->unreachable;
	r = -EINVAL;
	if (!uri_is_http(a->url) || strlen(a->url) > 2048) {
		rollout_error_set(err, r, "INVALID_ALARM_CONFIG",
				  "alarm %s: url '%.200s' must be an http:// or https:// URL without spaces", alarm,
				  a->url);
		goto fail;
	}
	if (!a->expected)
		a->expected = "200";
	if (!hc_status_spec_valid(a->expected)) {
		rollout_error_set(err, r, "INVALID_ALARM_CONFIG",
				  "alarm %s: expected_status '%.100s' must be a comma list of status codes or classes, "
				  "e.g. \"200\" or \"200,204\" or \"2xx\"",
				  alarm, a->expected);
		goto fail;
	}
	if (a->body_match) {
		regex_t re;
		int rc = regcomp(&re, a->body_match, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char m[256];
			regerror(rc, &re, m, sizeof(m));
			rollout_error_set(err, r, "INVALID_ALARM_CONFIG",
					  "alarm %s: body_match is not a valid extended regular expression: %s", alarm,
					  m);
			goto fail;
		}
		regfree(&re);
	}
	if (unreachable && strcmp(unreachable, "alarm") && strcmp(unreachable, "insufficient_data")) {
		rollout_error_set(err, r, "INVALID_ALARM_CONFIG",
				  "alarm %s: unreachable must be 'alarm' or 'insufficient_data', not '%.50s'", alarm,
				  unreachable);
		goto fail;
	}
	a->unreachable_alarm = !unreachable || strcmp(unreachable, "alarm") == 0;
	a->hosts = a->hosts_json ? json_loads(a->hosts_json, JSON_DECODE_ANY, NULL) : NULL;
	if (a->hosts_json) {
		size_t i;
		const json_t *v;
		if (!json_is_array(a->hosts) || json_array_size(a->hosts) == 0 || json_array_size(a->hosts) > 1000) {
			rollout_error_set(err, r, "INVALID_ALARM_CONFIG",
					  "alarm %s: hosts must be a list of 1 to 1000 host names", alarm);
			goto fail;
		}
		json_array_foreach(a->hosts, i, v)
		{
			if (!hc_host_valid(json_string_value(v))) {
				rollout_error_set(err, r, "INVALID_ALARM_CONFIG",
						  "alarm %s: hosts[%zu] is not a host name or address", alarm, i);
				goto fail;
			}
		}
	}
	if (a->instance && !hc_host_valid(a->instance)) {
		rollout_error_set(err, r, "INVALID_ALARM_CONFIG", "alarm %s: instance '%.100s' is not a host name",
				  alarm, a->instance);
		goto fail;
	}
	if (hc_has_placeholder(a->url) && !a->hosts && !a->instance) {
		rollout_error_set(
		    err, r, "INVALID_ALARM_CONFIG",
		    "alarm %s: url has a {host} placeholder but no 'hosts: [...]' to poll; list the hosts "
		    "(the per-instance gate fills it in itself)",
		    alarm);
		goto fail;
	}
	return 0;
fail:
	hc_alarm_free(s, a);
	return r;
}

static int hc_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		   size_t errlen)
{
	struct hc *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->host = host;
	s->h = h;
	/* Alarm settings are parsed by the host, new in ABI 1.1. */
	r = ROLLOUT_HOST_NEED(host, alarm_settings_parse, err, errlen);
	if (r == 0)
		r = rollout_config_parse(host, h, hc_options, s, err, errlen);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret_state = s;
	return 0;
}

static void hc_destroy(void *state)
{
	free(state);
}

static int hc_validate_alarm(void *state, const char *alarm, const char *settings_json, struct rollout_error *err)
{
	struct hc_alarm a;
	int r = hc_alarm_parse(state, alarm, settings_json, &a, err);

	if (r == 0)
		hc_alarm_free(state, &a);
	return r;
}

/* Checks one URL. 1 healthy, 0 unhealthy, -1 unreachable; reason filled. */
static int hc_probe(struct hc *s, const struct hc_alarm *a, const regex_t *re, const char *url, char *reason,
		    size_t rlen)
{
	struct rollout_http_response *resp = NULL;
	struct rollout_http_request req =
	    ROLLOUT_HTTP_REQUEST_INIT(.url = url, .timeout_ms = a->timeout_ms, .max_body = 1 << 20);
	char herr[512];
	const char *body;
	size_t blen;
	long status;
	int r, ok;

	r = s->host->http_request(s->h, &req, &resp, herr, sizeof(herr));
	if (r < 0) {
		snprintf(reason, rlen, "GET %.200s failed: %.250s", url, herr);
		return -1;
	}
	status = s->host->http_status(resp);
	body = s->host->http_body(resp, &blen);
	if (!hc_status_expected(a->expected, status)) {
		snprintf(reason, rlen, "GET %.200s answered %ld, expected %.40s", url, status, a->expected);
		ok = 0;
	} else if (re && regexec(re, body ? body : "", 0, NULL, 0) != 0) {
		snprintf(reason, rlen, "GET %.200s answered %ld but the body does not match /%.100s/", url, status,
			 a->body_match);
		ok = 0;
	} else {
		snprintf(reason, rlen, "GET %.200s answered %ld", url, status);
		ok = 1;
	}
	s->host->http_free(resp);
	return ok;
}

static int hc_check(void *state, const struct rollout_deployment *dep, const char *alarm, const char *settings_json,
		    struct rollout_alarm_result *res, struct rollout_error *err)
{
	struct hc *s = state;
	struct hc_alarm a;
	regex_t re;
	bool have_re = false;
	size_t n_targets, healthy = 0;
	char first_bad[512] = "", last_ok[512] = "", url[4096];
	bool any_alarm = false, any_unreachable = false;
	int r;

	(void)dep;
	if ((r = hc_alarm_parse(s, alarm, settings_json, &a, err)) < 0)
		return r;
	if (a.body_match) {
		if (regcomp(&re, a.body_match, REG_EXTENDED | REG_NOSUB) != 0) {
			hc_alarm_free(s, &a);
			return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG", "alarm %s: bad body_match",
						 alarm);
		}
		have_re = true;
	}
	n_targets = a.instance || !hc_has_placeholder(a.url) ? 1 : json_array_size(a.hosts);
	for (size_t i = 0; i < n_targets; i++) {
		const char *host = a.instance ? a.instance : json_string_value(json_array_get(a.hosts, i));
		char reason[512];
		int p;

		if (hc_expand(a.url, host ? host : "", url, sizeof(url)) < 0) {
			r = rollout_error_set(err, -ENAMETOOLONG, "INVALID_ALARM_CONFIG", "alarm %s: URL too long",
					      alarm);
			goto out;
		}
		p = hc_probe(s, &a, have_re ? &re : NULL, url, reason, sizeof(reason));
		if (p == 1) {
			healthy++;
			snprintf(last_ok, sizeof(last_ok), "%s", reason);
			continue;
		}
		if (p == 0 || a.unreachable_alarm)
			any_alarm = true;
		else
			any_unreachable = true;
		if (!first_bad[0])
			snprintf(first_bad, sizeof(first_bad), "%s", reason);
	}
	res->state = any_alarm	       ? ROLLOUT_ALARM_ALARM
		     : any_unreachable ? ROLLOUT_ALARM_INSUFFICIENT_DATA
				       : ROLLOUT_ALARM_OK;
	if (n_targets == 1)
		snprintf(res->reason, sizeof(res->reason), "%s", first_bad[0] ? first_bad : last_ok);
	else if (first_bad[0])
		snprintf(res->reason, sizeof(res->reason), "%zu of %zu hosts unhealthy; %.400s", n_targets - healthy,
			 n_targets, first_bad);
	else
		snprintf(res->reason, sizeof(res->reason), "all %zu hosts healthy", n_targets);
	r = 0;
out:
	if (have_re)
		regfree(&re);
	hc_alarm_free(s, &a);
	return r;
}

static const struct rollout_health_ops hc_ops =
    ROLLOUT_HEALTH_OPS_INIT(.validate_alarm = hc_validate_alarm, .check = hc_check);

static const struct rollout_plugin hc_plugin = ROLLOUT_PLUGIN_INIT(
    ROLLOUT_KIND_HEALTH, .name = "http-check", .version = "1.1.0",
    .description = "alarm when a URL (fixed or per host) does not answer the expected status and body", .init = hc_init,
    .destroy = hc_destroy, .ops.health = &hc_ops);

ROLLOUT_PLUGIN_EXPORT(hc_plugin)
