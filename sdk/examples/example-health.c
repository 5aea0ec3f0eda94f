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
 * alarm-settings parser (an option table, like the plugin's own config; the
 * keys every alarm has, such as interval and gate, are the host's to check),
 * the host's HTTP client, and results with a reason. It needs rolloutd with
 * plugin ABI 1.1 (init says so on an older one). */
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
	if ((r = ROLLOUT_HOST_NEED(host, alarm_settings_parse, err, errlen)) < 0 ||
	    (r = rollout_config_parse(host, h, options, s, err, errlen)) < 0) {
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

/* One alarm's own settings. */
struct alarm {
	const char *file;
	const char *url;
};

static const struct rollout_option alarm_options[] = {
    {.name = "file", .type = ROLLOUT_OPT_PATH, .offset = offsetof(struct alarm, file), .help = "ALARM while it exists"},
    {.name = "url", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct alarm, url), .help = "ALARM on 5xx"},
    ROLLOUT_OPTION_END,
};

/* Parses an alarm's settings into *a; its strings live until
 * alarm_settings_free(*ret). */
static int parse_alarm(const struct state *s, const char *alarm, const char *settings_json, struct alarm *a,
		       struct rollout_alarm_settings **ret, struct rollout_error *err)
{
	int r;

	*a = (struct alarm){0};
	r = rollout_alarm_settings_parse(s->host, s->h, alarm, settings_json, alarm_options, a, ret, err);
	if (r < 0)
		return r;
	if (!a->file == !a->url) {
		*ret = s->host->alarm_settings_free(*ret);
		return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG",
					 "set exactly one of 'file: PATH' or 'url: http://...' for alarm %s", alarm);
	}
	return 0;
}

static int validate_alarm(void *state, const char *alarm, const char *settings_json, struct rollout_error *err)
{
	const struct state *s = state;
	struct rollout_alarm_settings *settings;
	struct alarm a;
	int r = parse_alarm(s, alarm, settings_json, &a, &settings, err);

	if (r == 0)
		s->host->alarm_settings_free(settings);
	return r;
}

static int check(void *state, const struct rollout_deployment *dep, const char *alarm, const char *settings_json,
		 struct rollout_alarm_result *res, struct rollout_error *err)
{
	struct state *s = state;
	struct rollout_http_response *resp = NULL;
	struct rollout_alarm_settings *settings;
	struct alarm a;
	char herr[512];
	long status;
	int r;

	if ((r = parse_alarm(s, alarm, settings_json, &a, &settings, err)) < 0)
		return r;
	if (a.file) {
		bool exists = access(a.file, F_OK) == 0;
		res->state = exists ? ROLLOUT_ALARM_ALARM : ROLLOUT_ALARM_OK;
		snprintf(res->reason, sizeof(res->reason), "%.400s %s", a.file, exists ? "exists" : "does not exist");
		goto out;
	}
	struct rollout_http_request req =
	    ROLLOUT_HTTP_REQUEST_INIT(.url = a.url, .timeout_ms = s->timeout_ms, .max_body = 65536);
	if (s->host->http_request(s->h, &req, &resp, herr, sizeof(herr)) < 0) {
		res->state = ROLLOUT_ALARM_INSUFFICIENT_DATA;
		snprintf(res->reason, sizeof(res->reason), "%s", herr);
		goto out;
	}
	status = s->host->http_status(resp);
	resp = s->host->http_free(resp);
	res->state = status >= 500 ? ROLLOUT_ALARM_ALARM : ROLLOUT_ALARM_OK;
	snprintf(res->reason, sizeof(res->reason), "GET %.400s answered %ld", a.url, status);
out:
	s->host->alarm_settings_free(settings);
	return 0;
}

static const struct rollout_health_ops ops = ROLLOUT_HEALTH_OPS_INIT(.validate_alarm = validate_alarm, .check = check);

static const struct rollout_plugin plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_HEALTH, .name = "example-health", .version = "1.1.0",
			.description = "alarms on a flag file or on an HTTP endpoint answering 5xx", .init = init,
			.destroy = destroy, .ops.health = &ops);

ROLLOUT_PLUGIN_EXPORT(plugin)
