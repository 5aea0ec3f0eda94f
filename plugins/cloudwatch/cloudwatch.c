/* cloudwatch: a health plugin that reads a CloudWatch alarm's state with
 * DescribeAlarms (query API, SigV4 service "monitoring") through the host's
 * HTTP client, which also resolves credentials (plugin config, environment,
 * shared credentials profile, IMDSv2).
 *
 *     plugins:
 *       cloudwatch:
 *         endpoint: http://127.0.0.1:5000   default https://monitoring.<region>.amazonaws.com
 *         region: eu-west-1                 default the daemon's
 *         access_key_id / secret_access_key / session_token / profile / credentials_file
 *         timeout: 10s
 *     alarms:
 *       high-latency:
 *         plugin: cloudwatch
 *         alarm_name: prod-web-p99-latency   default: the alarm's own name
 *
 * With `alarm_fallback_plugin: cloudwatch` in the daemon config, an alarm
 * named in a deployment group's alarmConfiguration that has no definition
 * under `alarms:` is looked up here by that name, as CodeDeploy does. The
 * CloudWatch state maps 1:1 to
 * OK / ALARM / INSUFFICIENT_DATA; an alarm CloudWatch does not know is a
 * failed poll (ignorePollAlarmFailure decides). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rollout/plugin.h>

#include "uri.h"

struct cw {
	const struct rollout_host *host;
	struct rollout_handle *h;
	int64_t timeout_ms;
	const char *endpoint; /* NULL: AWS */
	const char *region;   /* NULL: the daemon's */
};

static const struct rollout_option cw_options[] = {
    ROLLOUT_AWS_OPTIONS,
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct cw, timeout_ms),
     .min = 100,
     .max = 120000,
     .def = "10s"},
    ROLLOUT_OPTION_END,
};

/* The alarm's own settings; the host adds the keys every alarm has. */
struct cw_alarm {
	const char *name; /* CloudWatch's name of the alarm */
};

static const struct rollout_option cw_alarm_options[] = {
    {.name = "alarm_name",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct cw_alarm, name),
     .help = "the CloudWatch alarm's name (default: the alarm's own name)"},
    ROLLOUT_OPTION_END,
};

/* Judges a DescribeAlarms answer. Exposed for the unit test. */
int cw_parse(const struct cw *s, const char *alarm, const char *cw_name, long status, const char *body,
	     struct rollout_alarm_result *res, struct rollout_error *err);
int cw_parse(const struct cw *s, const char *alarm, const char *cw_name, long status, const char *body,
	     struct rollout_alarm_result *res, struct rollout_error *err)
{
	struct rollout_xml *doc = NULL;
	const struct rollout_xml_node *a;
	const char *code = "", *msg = "", *state, *reason;
	char perr[256], hcode[32];
	int r;

	body = body ? body : "";
	r = s->host->xml_parse(s->h, body, strlen(body), &doc, perr, sizeof(perr));
	if (status != 200) {
		if (r < 0 || s->host->xml_aws_error(doc, &code, &msg) != 1 || !*code) {
			snprintf(hcode, sizeof(hcode), "HTTP %ld", status);
			code = hcode;
		}
		r = rollout_error_set(
		    err, status == 403 || status == 401 ? -EACCES : -EIO, "CLOUDWATCH_ERROR",
		    "alarm %s: CloudWatch DescribeAlarms failed: %s%s%s%s", alarm, code, msg[0] ? ": " : "", msg,
		    status == 403 ? " (check the credentials and cloudwatch:DescribeAlarms permission)" : "");
		goto out;
	}
	if (r < 0) {
		r = rollout_error_set(err, -EIO, "CLOUDWATCH_ERROR", "alarm %s: CloudWatch answered no XML: %s", alarm,
				      perr);
		goto out;
	}
	a = s->host->xml_find(s->host->xml_root(doc), "DescribeAlarmsResult/MetricAlarms/member");
	if (!a)
		a = s->host->xml_find(s->host->xml_root(doc), "DescribeAlarmsResult/CompositeAlarms/member");
	state = a ? s->host->xml_text(a, "StateValue") : NULL;
	if (!state) {
		r = rollout_error_set(err, -ENOENT, "CLOUDWATCH_ALARM_MISSING",
				      "alarm %s: CloudWatch has no alarm named '%s'; create it, or define '%s' under "
				      "alarms: in the daemon config, or fix the group's alarmConfiguration",
				      alarm, cw_name, alarm);
		goto out;
	}
	reason = s->host->xml_text(a, "StateReason");
	if (!reason)
		reason = "";
	if (strcmp(state, "OK") == 0)
		res->state = ROLLOUT_ALARM_OK;
	else if (strcmp(state, "ALARM") == 0)
		res->state = ROLLOUT_ALARM_ALARM;
	else if (strcmp(state, "INSUFFICIENT_DATA") == 0)
		res->state = ROLLOUT_ALARM_INSUFFICIENT_DATA;
	else {
		r = rollout_error_set(err, -EIO, "CLOUDWATCH_ERROR",
				      "alarm %s: CloudWatch answered an unknown state '%s'", alarm, state);
		goto out;
	}
	snprintf(res->reason, sizeof(res->reason), "CloudWatch alarm %.100s is %.20s%s%.300s", cw_name, state,
		 reason[0] ? ": " : "", reason);
	r = 0;
out:
	if (doc)
		s->host->xml_free(doc);
	return r;
}

static int cw_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		   size_t errlen)
{
	struct cw *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->host = host;
	s->h = h;
	/* Alarm settings and XML are the host's, new in ABI 1.1. */
	if ((r = ROLLOUT_HOST_NEED(host, alarm_settings_parse, err, errlen)) < 0 ||
	    (r = ROLLOUT_HOST_NEED(host, xml_aws_error, err, errlen)) < 0)
		goto fail;
	r = rollout_config_parse(host, h, cw_options, s, err, errlen);
	if (r < 0)
		goto fail;
	if ((r = host->config_string(h, "endpoint", NULL, &s->endpoint, err, errlen)) < 0 ||
	    (r = host->config_string(h, "region", NULL, &s->region, err, errlen)) < 0)
		goto fail;
	if (s->endpoint && !uri_is_http(s->endpoint)) {
		snprintf(err, errlen, "plugins.cloudwatch.endpoint: '%s' must start with http:// or https://",
			 s->endpoint);
		r = -EINVAL;
		goto fail;
	}
	*ret_state = s;
	return 0;
fail:
	free(s);
	return r;
}

static void cw_destroy(void *state)
{
	free(state);
}

/* Parses an alarm's settings; *ret_settings owns the name's text. */
static int cw_alarm_parse(const struct cw *s, const char *alarm, const char *settings_json,
			  struct rollout_alarm_settings **ret_settings, const char **ret_name,
			  struct rollout_error *err)
{
	struct cw_alarm a = {0};
	int r;

	r = rollout_alarm_settings_parse(s->host, s->h, alarm, settings_json, cw_alarm_options, &a, ret_settings, err);
	if (r < 0)
		return r;
	a.name = a.name ? a.name : alarm;
	if (!*a.name || strlen(a.name) > 255) {
		*ret_settings = s->host->alarm_settings_free(*ret_settings);
		return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG",
					 "alarm %s: alarm_name must be 1 to 255 characters", alarm);
	}
	*ret_name = a.name;
	return 0;
}

static int cw_validate_alarm(void *state, const char *alarm, const char *settings_json, struct rollout_error *err)
{
	const struct cw *s = state;
	struct rollout_alarm_settings *settings = NULL;
	const char *name;
	int r = cw_alarm_parse(s, alarm, settings_json, &settings, &name, err);

	if (r == 0)
		s->host->alarm_settings_free(settings);
	return r;
}

static int cw_check(void *state, const struct rollout_deployment *dep, const char *alarm, const char *settings_json,
		    struct rollout_alarm_result *res, struct rollout_error *err)
{
	struct cw *s = state;
	struct rollout_http_response *resp = NULL;
	static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
					      "Accept: text/xml", NULL};
	char url[1200], body[1024], herr[512];
	struct rollout_alarm_settings *settings = NULL;
	const char *name, *region;
	size_t n;
	int r;

	if ((r = cw_alarm_parse(s, alarm, settings_json, &settings, &name, err)) < 0)
		return r;
	region = s->region ? s->region : dep && dep->size >= sizeof(*dep) && dep->region ? dep->region : "us-east-1";
	if (s->endpoint)
		snprintf(url, sizeof(url), "%s", s->endpoint);
	else
		snprintf(url, sizeof(url), "https://monitoring.%s.amazonaws.com/", region);
	n = (size_t)snprintf(body, sizeof(body), "Action=DescribeAlarms&Version=2010-08-01&AlarmNames.member.1=");
	if ((r = uri_encode(name, false, body + n, sizeof(body) - n)) < 0)
		goto out;
	n += strlen(body + n);
	struct rollout_http_request req =
	    ROLLOUT_HTTP_REQUEST_INIT(.method = "POST", .url = url, .headers = headers, .body = body, .body_len = n,
				      .timeout_ms = s->timeout_ms, .max_body = 1 << 20, .aws_service = "monitoring",
				      .aws_region = region);
	r = s->host->http_request(s->h, &req, &resp, herr, sizeof(herr));
	if (r < 0) {
		r = rollout_error_set(err, r, "CLOUDWATCH_UNREACHABLE",
				      "alarm %s: cannot reach CloudWatch at %.200s: %s", alarm, url, herr);
		goto out;
	}
	r = cw_parse(s, alarm, name, s->host->http_status(resp), s->host->http_body(resp, NULL), res, err);
out:
	if (resp)
		s->host->http_free(resp);
	s->host->alarm_settings_free(settings);
	return r;
}

static const struct rollout_health_ops cw_ops =
    ROLLOUT_HEALTH_OPS_INIT(.validate_alarm = cw_validate_alarm, .check = cw_check);

static const struct rollout_plugin cw_plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_HEALTH, .name = "cloudwatch", .version = "1.1.0",
			.description = "alarm state of a CloudWatch alarm (DescribeAlarms, SigV4)", .init = cw_init,
			.destroy = cw_destroy, .ops.health = &cw_ops);

ROLLOUT_PLUGIN_EXPORT(cw_plugin)
