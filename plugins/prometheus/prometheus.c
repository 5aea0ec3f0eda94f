/* prometheus: a health plugin that runs an instant query against the
 * Prometheus HTTP API (GET /api/v1/query) and judges the samples.
 *
 *     plugins:
 *       prometheus:
 *         url: http://127.0.0.1:9090     default server of the alarms (optional)
 *         timeout: 5s                    default per-query timeout
 *     alarms:
 *       error-rate:
 *         plugin: prometheus
 *         query: sum(rate(http_errors_total[1m])) / sum(rate(http_requests_total[1m]))
 *         threshold: 0.05                ALARM when a sample is above (see comparison)
 *         comparison: above              above (default) | below
 *         min_samples: 1                 fewer samples: INSUFFICIENT_DATA (default 1)
 *       firing-alerts:
 *         plugin: prometheus
 *         query: ALERTS{alertstate="firing", severity="page"}
 *         # no threshold: alert-style, ALARM when the query returns any sample
 *         # (min_samples defaults to 0 here: an empty answer is OK)
 *
 * Samples whose value is NaN do not count. A query Prometheus rejects, or an
 * unreachable server, is a failed poll (the daemon applies
 * ignorePollAlarmFailure), never an OK. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "uri.h"

struct prom {
	const struct rollout_host *host;
	struct rollout_handle *h;
	const char *url; /* NULL: every alarm must name its own */
	int64_t timeout_ms;
};

static const struct rollout_option prom_options[] = {
    {.name = "url",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct prom, url),
     .help = "base URL of the Prometheus server, e.g. http://127.0.0.1:9090"},
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct prom, timeout_ms),
     .min = 100,
     .max = 120000,
     .def = "5s"},
    ROLLOUT_OPTION_END,
};

/* How samples are judged. Exposed for the unit test. */
struct prom_rule {
	bool has_threshold; /* false: alert-style, any sample is ALARM */
	double threshold;
	bool below; /* ALARM when a sample is below the threshold */
	long long min_samples;
};

struct prom_alarm {
	struct rollout_alarm_settings *settings;
	const char *url, *query, *comparison;
	double threshold;    /* NaN: none */
	int64_t min_samples; /* -1: the default of the rule */
	int64_t timeout_ms;
	struct prom_rule rule;
};

/* The alarm's own settings; the host adds the keys every alarm has. */
static const struct rollout_option prom_alarm_options[] = {
    {.name = "url", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct prom_alarm, url)},
    {.name = "query", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct prom_alarm, query)},
    {.name = "threshold", .type = ROLLOUT_OPT_NUMBER, .offset = offsetof(struct prom_alarm, threshold)},
    {.name = "comparison", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct prom_alarm, comparison)},
    {.name = "min_samples",
     .type = ROLLOUT_OPT_INT,
     .offset = offsetof(struct prom_alarm, min_samples),
     .min = 0,
     .max = 1000000},
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct prom_alarm, timeout_ms),
     .min = 100,
     .max = 120000},
    ROLLOUT_OPTION_END,
};

static void prom_alarm_free(const struct prom *s, struct prom_alarm *a)
{
	if (a->settings)
		s->host->alarm_settings_free(a->settings);
	a->settings = NULL;
}

static int prom_alarm_parse(const struct prom *s, const char *alarm, const char *settings_json, struct prom_alarm *a,
			    struct rollout_error *err)
{
	const char *cmp;
	int r;

	memset(a, 0, sizeof(*a));
	a->threshold = NAN;
	a->min_samples = -1;
	a->timeout_ms = s->timeout_ms;
	r = rollout_alarm_settings_parse(s->host, s->h, alarm, settings_json, prom_alarm_options, a, &a->settings, err);
	if (r < 0)
		return r;
	cmp = a->comparison;
	a->rule.has_threshold = !isnan(a->threshold);
	a->rule.threshold = a->threshold;
	/* alert-style (no threshold): an empty answer is OK */
	a->rule.min_samples = a->min_samples >= 0 ? a->min_samples : a->rule.has_threshold ? 1 : 0;
	r = -EINVAL;
	if (!a->url)
		a->url = s ? s->url : NULL;
	if (!a->url) {
		rollout_error_set(err, r, "INVALID_ALARM_CONFIG",
				  "alarm %s: no Prometheus server: set 'url: http://HOST:9090' on the alarm or under "
				  "plugins.prometheus",
				  alarm);
		goto fail;
	}
	if (!uri_is_http(a->url) || strlen(a->url) > 1024) {
		rollout_error_set(err, r, "INVALID_ALARM_CONFIG",
				  "alarm %s: url '%.200s' must be an http:// or https:// URL", alarm, a->url);
		goto fail;
	}
	if (!a->query || !*a->query || strlen(a->query) > 8192) {
		rollout_error_set(err, r, "INVALID_ALARM_CONFIG",
				  "alarm %s: missing 'query': give a PromQL expression (at most 8192 characters)",
				  alarm);
		goto fail;
	}
	if (cmp && strcmp(cmp, "above") && strcmp(cmp, "below")) {
		rollout_error_set(err, r, "INVALID_ALARM_CONFIG",
				  "alarm %s: comparison must be 'above' or 'below', not '%.50s'", alarm, cmp);
		goto fail;
	}
	if (cmp && !a->rule.has_threshold) {
		rollout_error_set(err, r, "INVALID_ALARM_CONFIG",
				  "alarm %s: comparison needs a threshold (without one, any sample is an alarm)",
				  alarm);
		goto fail;
	}
	a->rule.below = cmp && strcmp(cmp, "below") == 0;
	return 0;
fail:
	prom_alarm_free(s, a);
	return r;
}

/* "name{k="v",...}" of a sample's metric, shortened to fit. */
static void prom_labels(const json_t *metric, char *out, size_t outlen)
{
	const char *k;
	json_t *v;
	size_t n = 0;
	const char *name = json_string_value(json_object_get(metric, "__name__"));
	bool first = true;

	n += (size_t)snprintf(out, outlen, "%s{", name ? name : "");
	json_object_foreach((json_t *)metric, k, v)
	{
		if (strcmp(k, "__name__") == 0 || n >= outlen)
			continue;
		n += (size_t)snprintf(out + n, outlen - n, "%s%s=\"%s\"", first ? "" : ",", k,
				      json_string_value(v) ? json_string_value(v) : "");
		first = false;
	}
	if (n < outlen)
		snprintf(out + n, outlen - n, "}");
}

/* Judges an /api/v1/query answer. 0 with res filled, or a negative errno
 * with err filled when the answer is no usable result (the poll failed).
 * Exposed for the unit test. */
int prom_evaluate(const char *alarm, long status, const char *body, const struct prom_rule *rule,
		  struct rollout_alarm_result *res, struct rollout_error *err);
int prom_evaluate(const char *alarm, long status, const char *body, const struct prom_rule *rule,
		  struct rollout_alarm_result *res, struct rollout_error *err)
{
	json_error_t je;
	json_t *j = json_loads(body ? body : "", 0, &je), *data, *result, *samples = NULL;
	const char *rtype, *st;
	size_t count = 0, i;
	json_t *sample;
	char worst_labels[256] = "";
	double worst = NAN;
	bool breach = false;
	int r = 0;

	st = json_string_value(json_object_get(j, "status"));
	if (!j || !st) {
		r = rollout_error_set(err, -EIO, "PROMETHEUS_ERROR",
				      "alarm %s: Prometheus answered HTTP %ld with no API result (is the url the "
				      "server's base URL?)",
				      alarm, status);
		goto out;
	}
	if (strcmp(st, "success") != 0) {
		r = rollout_error_set(err, status == 400 || status == 422 ? -EINVAL : -EIO, "PROMETHEUS_ERROR",
				      "alarm %s: Prometheus rejected the query (HTTP %ld, %s: %.300s); fix the query",
				      alarm, status, json_string_value(json_object_get(j, "errorType")) ?: "error",
				      json_string_value(json_object_get(j, "error")) ?: "no message");
		goto out;
	}
	data = json_object_get(j, "data");
	rtype = json_string_value(json_object_get(data, "resultType"));
	result = json_object_get(data, "result");
	if (!rtype || !result) {
		r = rollout_error_set(err, -EIO, "PROMETHEUS_ERROR", "alarm %s: Prometheus answer has no data.result",
				      alarm);
		goto out;
	}
	if (strcmp(rtype, "scalar") == 0) {
		samples = json_pack("[{s:{},s:O}]", "metric", "value", result);
	} else if (strcmp(rtype, "vector") == 0) {
		samples = json_incref(result);
	} else {
		r = rollout_error_set(err, -EINVAL, "PROMETHEUS_ERROR",
				      "alarm %s: the query returns a %s; write an instant vector or scalar expression "
				      "(no range selector [..] at the top level)",
				      alarm, rtype);
		goto out;
	}
	json_array_foreach(samples, i, sample)
	{
		const char *vs = json_string_value(json_array_get(json_object_get(sample, "value"), 1));
		char *end;
		double v;
		bool hit;

		if (!vs)
			continue;
		v = strtod(vs, &end);
		if (end == vs || isnan(v))
			continue;
		count++;
		hit = !rule->has_threshold || (rule->below ? v < rule->threshold : v > rule->threshold);
		if (hit && (!breach || (rule->below ? v < worst : v > worst))) {
			breach = true;
			worst = v;
			prom_labels(json_object_get(sample, "metric"), worst_labels, sizeof(worst_labels));
		}
	}
	if (breach) {
		res->state = ROLLOUT_ALARM_ALARM;
		if (rule->has_threshold)
			snprintf(res->reason, sizeof(res->reason), "%.250s = %g is %s the threshold %g", worst_labels,
				 worst, rule->below ? "below" : "above", rule->threshold);
		else
			snprintf(res->reason, sizeof(res->reason),
				 "the alert query returned %zu sample(s), e.g. %.250s", count, worst_labels);
	} else if ((long long)count < rule->min_samples) {
		res->state = ROLLOUT_ALARM_INSUFFICIENT_DATA;
		snprintf(res->reason, sizeof(res->reason),
			 "the query returned %zu sample(s), fewer than min_samples %lld: no data to judge the "
			 "deployment by",
			 count, rule->min_samples);
	} else {
		res->state = ROLLOUT_ALARM_OK;
		if (rule->has_threshold)
			snprintf(res->reason, sizeof(res->reason), "%zu sample(s), none %s %g", count,
				 rule->below ? "below" : "above", rule->threshold);
		else
			snprintf(res->reason, sizeof(res->reason), "the alert query returned no samples");
	}
out:
	json_decref(samples);
	json_decref(j);
	return r;
}

static int prom_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		     size_t errlen)
{
	struct prom *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->host = host;
	s->h = h;
	/* Alarm settings are parsed by the host, new in ABI 1.1. */
	r = ROLLOUT_HOST_NEED(host, alarm_settings_parse, err, errlen);
	if (r == 0)
		r = rollout_config_parse(host, h, prom_options, s, err, errlen);
	if (r == 0 && s->url && !uri_is_http(s->url)) {
		snprintf(err, errlen, "plugins.prometheus.url: '%s' must start with http:// or https://", s->url);
		r = -EINVAL;
	}
	if (r < 0) {
		free(s);
		return r;
	}
	*ret_state = s;
	return 0;
}

static void prom_destroy(void *state)
{
	free(state);
}

static int prom_validate_alarm(void *state, const char *alarm, const char *settings_json, struct rollout_error *err)
{
	struct prom_alarm a;
	int r = prom_alarm_parse(state, alarm, settings_json, &a, err);

	if (r == 0)
		prom_alarm_free(state, &a);
	return r;
}

static int prom_check(void *state, const struct rollout_deployment *dep, const char *alarm, const char *settings_json,
		      struct rollout_alarm_result *res, struct rollout_error *err)
{
	struct prom *s = state;
	struct prom_alarm a;
	struct rollout_http_response *resp = NULL;
	char *url = NULL, herr[512];
	size_t ulen, n;
	const char *body;
	int r;

	(void)dep;
	if ((r = prom_alarm_parse(s, alarm, settings_json, &a, err)) < 0)
		return r;
	ulen = strlen(a.url) + 3 * strlen(a.query) + 64;
	url = malloc(ulen);
	if (!url) {
		r = -ENOMEM;
		goto out;
	}
	n = strlen(a.url);
	while (n > 0 && a.url[n - 1] == '/')
		n--;
	n = (size_t)snprintf(url, ulen, "%.*s/api/v1/query?query=", (int)n, a.url);
	if ((r = uri_encode(a.query, false, url + n, ulen - n)) < 0)
		goto out;
	struct rollout_http_request req =
	    ROLLOUT_HTTP_REQUEST_INIT(.url = url, .timeout_ms = a.timeout_ms, .max_body = 8 << 20);
	r = s->host->http_request(s->h, &req, &resp, herr, sizeof(herr));
	if (r < 0) {
		r = rollout_error_set(err, r, "PROMETHEUS_UNREACHABLE",
				      "alarm %s: cannot query Prometheus at %.200s: %s", alarm, a.url, herr);
		goto out;
	}
	body = s->host->http_body(resp, NULL);
	r = prom_evaluate(alarm, s->host->http_status(resp), body, &a.rule, res, err);
out:
	if (resp)
		s->host->http_free(resp);
	free(url);
	prom_alarm_free(s, &a);
	return r;
}

static const struct rollout_health_ops prom_ops =
    ROLLOUT_HEALTH_OPS_INIT(.validate_alarm = prom_validate_alarm, .check = prom_check);

static const struct rollout_plugin prom_plugin = ROLLOUT_PLUGIN_INIT(
    ROLLOUT_KIND_HEALTH, .name = "prometheus", .version = "1.1.0",
    .description = "alarm when a PromQL instant query returns a sample above a threshold (or any sample)",
    .init = prom_init, .destroy = prom_destroy, .ops.health = &prom_ops);

ROLLOUT_PLUGIN_EXPORT(prom_plugin)
