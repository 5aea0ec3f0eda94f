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
 * When this plugin is enabled, an alarm named in a deployment group's
 * alarmConfiguration that has no definition under `alarms:` is looked up
 * here by that name, as CodeDeploy does. The CloudWatch state maps 1:1 to
 * OK / ALARM / INSUFFICIENT_DATA; an alarm CloudWatch does not know is a
 * failed poll (ignorePollAlarmFailure decides). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "health_util.h"

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

static const char *const cw_keys[] = {"alarm_name", NULL};

/* The text of the first <tag>...</tag> in xml, entities decoded. */
static int cw_xml_text(const char *xml, const char *tag, char *out, size_t outlen)
{
	char open[64], close[64];
	const char *p, *e;
	size_t n = 0;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if (!(p = strstr(xml, open)))
		return -ENOENT;
	p += strlen(open);
	if (!(e = strstr(p, close)))
		return -EINVAL;
	while (p < e && n + 1 < outlen) {
		static const struct {
			const char *ent;
			char c;
		} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
		bool done = false;
		if (*p == '&')
			for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]) && !done; i++)
				if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0) {
					out[n++] = ents[i].c;
					p += strlen(ents[i].ent);
					done = true;
				}
		if (!done)
			out[n++] = *p++;
	}
	out[n] = '\0';
	return 0;
}

/* Judges a DescribeAlarms answer. Exposed for the unit test. */
int cw_parse(const char *alarm, const char *cw_name, long status, const char *body, struct rollout_alarm_result *res,
	     struct rollout_error *err);
int cw_parse(const char *alarm, const char *cw_name, long status, const char *body, struct rollout_alarm_result *res,
	     struct rollout_error *err)
{
	char state[64], reason[400], code[128], msg[400];

	body = body ? body : "";
	if (status != 200) {
		if (cw_xml_text(body, "Code", code, sizeof(code)) < 0)
			snprintf(code, sizeof(code), "HTTP %ld", status);
		if (cw_xml_text(body, "Message", msg, sizeof(msg)) < 0)
			msg[0] = '\0';
		return rollout_error_set(
		    err, status == 403 || status == 401 ? -EACCES : -EIO, "CLOUDWATCH_ERROR",
		    "alarm %s: CloudWatch DescribeAlarms failed: %s%s%s%s", alarm, code, msg[0] ? ": " : "", msg,
		    status == 403 ? " (check the credentials and cloudwatch:DescribeAlarms permission)" : "");
	}
	if (cw_xml_text(body, "StateValue", state, sizeof(state)) < 0)
		return rollout_error_set(
		    err, -ENOENT, "CLOUDWATCH_ALARM_MISSING",
		    "alarm %s: CloudWatch has no alarm named '%s'; create it, or define '%s' under "
		    "alarms: in the daemon config, or fix the group's alarmConfiguration",
		    alarm, cw_name, alarm);
	if (cw_xml_text(body, "StateReason", reason, sizeof(reason)) < 0)
		reason[0] = '\0';
	if (strcmp(state, "OK") == 0)
		res->state = ROLLOUT_ALARM_OK;
	else if (strcmp(state, "ALARM") == 0)
		res->state = ROLLOUT_ALARM_ALARM;
	else if (strcmp(state, "INSUFFICIENT_DATA") == 0)
		res->state = ROLLOUT_ALARM_INSUFFICIENT_DATA;
	else
		return rollout_error_set(err, -EIO, "CLOUDWATCH_ERROR",
					 "alarm %s: CloudWatch answered an unknown state '%s'", alarm, state);
	snprintf(res->reason, sizeof(res->reason), "CloudWatch alarm %.100s is %.20s%s%.300s", cw_name, state,
		 reason[0] ? ": " : "", reason);
	return 0;
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
	r = rollout_config_parse(host, h, cw_options, s, err, errlen);
	if (r < 0)
		goto fail;
	if ((r = host->config_string(h, "endpoint", NULL, &s->endpoint, err, errlen)) < 0 ||
	    (r = host->config_string(h, "region", NULL, &s->region, err, errlen)) < 0)
		goto fail;
	if (s->endpoint && !hu_is_http_url(s->endpoint)) {
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

static int cw_name_of(const char *alarm, const json_t *o, const char **ret, struct rollout_error *err)
{
	const char *n;
	int r = hu_str(alarm, o, "alarm_name", &n, err);

	if (r < 0)
		return r;
	n = n ? n : alarm;
	if (!*n || strlen(n) > 255)
		return rollout_error_set(err, -EINVAL, "INVALID_ALARM_CONFIG",
					 "alarm %s: alarm_name must be 1 to 255 characters", alarm);
	*ret = n;
	return 0;
}

static int cw_validate_alarm(void *state, const char *alarm, const char *settings_json, struct rollout_error *err)
{
	json_t *o = NULL;
	const char *n;
	int r;

	(void)state;
	if ((r = hu_settings(alarm, settings_json, &o, err)) < 0)
		return r;
	if ((r = hu_known_keys(alarm, o, cw_keys, err)) == 0)
		r = cw_name_of(alarm, o, &n, err);
	json_decref(o);
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
	const char *name, *region;
	size_t n;
	json_t *o = NULL;
	int r;

	if ((r = hu_settings(alarm, settings_json, &o, err)) < 0)
		return r;
	if ((r = cw_name_of(alarm, o, &name, err)) < 0)
		goto out;
	region = s->region ? s->region : dep && dep->size >= sizeof(*dep) && dep->region ? dep->region : "us-east-1";
	if (s->endpoint)
		snprintf(url, sizeof(url), "%s", s->endpoint);
	else
		snprintf(url, sizeof(url), "https://monitoring.%s.amazonaws.com/", region);
	n = (size_t)snprintf(body, sizeof(body), "Action=DescribeAlarms&Version=2010-08-01&AlarmNames.member.1=");
	if ((r = hu_urlencode(body, sizeof(body), &n, name)) < 0)
		goto out;
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
	r = cw_parse(alarm, name, s->host->http_status(resp), s->host->http_body(resp, NULL), res, err);
out:
	if (resp)
		s->host->http_free(resp);
	json_decref(o);
	return r;
}

static const struct rollout_health_ops cw_ops =
    ROLLOUT_HEALTH_OPS_INIT(.validate_alarm = cw_validate_alarm, .check = cw_check);

static const struct rollout_plugin cw_plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_HEALTH, .name = "cloudwatch", .version = "1.0.0",
			.description = "alarm state of a CloudWatch alarm (DescribeAlarms, SigV4)", .init = cw_init,
			.destroy = cw_destroy, .ops.health = &cw_ops);

ROLLOUT_PLUGIN_EXPORT(cw_plugin)
