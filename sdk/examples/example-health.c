/* example-health: a health plugin. Each alarm that names it checks either
 * a file (ALARM while it exists) or an HTTP URL (ALARM on a 5xx answer,
 * INSUFFICIENT_DATA when unreachable):
 *
 *     plugins:
 *       example-health:
 *         timeout: 2s
 *     alarms:
 *       maintenance-flag: {plugin: example-health, file: /run/maintenance}
 *       web-ok:           {plugin: example-health, url: "http://127.0.0.1:8080/health"}
 *
 * It shows validate_alarm (refuse bad alarm settings at start), the host's
 * HTTP client, and results with a reason. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rollout/plugin.h>

struct state {
	const struct rollout_host *host;
	struct rollout_handle *h;
	int64_t timeout_ms;
};

static const struct rollout_option options[] = {
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct state, timeout_ms),
     .min = 100,
     .max = 60000,
     .def = "2s"},
    ROLLOUT_OPTION_END,
};

static int init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err, size_t errlen)
{
	struct state *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->host = host;
	s->h = h;
	if ((r = rollout_config_parse(host, h, options, s, err, errlen)) < 0) {
		free(s);
		return r;
	}
	*ret_state = s;
	return 0;
}

static void destroy(void *state)
{
	free(state);
}

/* The string value of "key": "value" in flat settings JSON (no escapes). */
static int field(const char *json, const char *key, char *out, size_t outlen)
{
	char pat[64];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if (!(p = strstr(json, pat)))
		return -ENOENT;
	p += strlen(pat);
	if (!(end = strchr(p, '"')) || (size_t)(end - p) >= outlen)
		return -EINVAL;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return 0;
}

static int validate_alarm(void *state, const char *alarm, const char *settings_json, struct rollout_error *err)
{
	char v[1024];
	bool f = field(settings_json, "file", v, sizeof(v)) == 0, u = field(settings_json, "url", v, sizeof(v)) == 0;

	if (f == u)
		return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG",
					 "set exactly one of 'file: PATH' or 'url: http://...' for alarm %s", alarm);
	return 0;
}

static int check(void *state, const struct rollout_deployment *dep, const char *alarm, const char *settings_json,
		 struct rollout_alarm_result *res, struct rollout_error *err)
{
	struct state *s = state;
	struct rollout_http_response *resp = NULL;
	char v[1024], herr[512];
	long status;
	int r;

	if (field(settings_json, "file", v, sizeof(v)) == 0) {
		bool exists = access(v, F_OK) == 0;
		res->state = exists ? ROLLOUT_ALARM_ALARM : ROLLOUT_ALARM_OK;
		snprintf(res->reason, sizeof(res->reason), "%.400s %s", v, exists ? "exists" : "does not exist");
		return 0;
	}
	if (field(settings_json, "url", v, sizeof(v)) < 0)
		return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG", "alarm %s has neither file nor url",
					 alarm);
	struct rollout_http_request req =
	    ROLLOUT_HTTP_REQUEST_INIT(.url = v, .timeout_ms = s->timeout_ms, .max_body = 65536);
	r = s->host->http_request(s->h, &req, &resp, herr, sizeof(herr));
	if (r < 0) {
		res->state = ROLLOUT_ALARM_INSUFFICIENT_DATA;
		snprintf(res->reason, sizeof(res->reason), "%s", herr);
		return 0;
	}
	status = s->host->http_status(resp);
	resp = s->host->http_free(resp);
	res->state = status >= 500 ? ROLLOUT_ALARM_ALARM : ROLLOUT_ALARM_OK;
	snprintf(res->reason, sizeof(res->reason), "GET %.400s answered %ld", v, status);
	return 0;
}

static const struct rollout_health_ops ops = ROLLOUT_HEALTH_OPS_INIT(.validate_alarm = validate_alarm, .check = check);

static const struct rollout_plugin plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_HEALTH, .name = "example-health", .version = "1.0.0",
			.description = "alarms on a flag file or on an HTTP endpoint answering 5xx", .init = init,
			.destroy = destroy, .ops.health = &ops);

ROLLOUT_PLUGIN_EXPORT(plugin)
