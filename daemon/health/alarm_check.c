/* One check of alarms and the rule that decides; see alarm_check.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "core/plugin_alarm.h"
#include "core/plugins.h"
#include "health/alarm_check.h"
#include "util.h"

const json_t *alarms_effective_config(const json_t *group_doc, const json_t *deployment_doc)
{
	const json_t *o = json_object_get(deployment_doc, "overrideAlarmConfiguration");

	if (json_is_object(o))
		return o;
	o = json_object_get(group_doc, "alarmConfiguration");
	return json_is_object(o) ? o : NULL;
}

bool alarms_config_active(const json_t *ac)
{
	return json_is_true(json_object_get(ac, "enabled")) && json_array_size(json_object_get(ac, "alarms")) > 0;
}

int alarm_resolve(const struct plugin_registry *reg, const char *name, const struct plugin **ret_plugin,
		  char **ret_settings, char *err, size_t errlen)
{
	const struct plugin *p = NULL;
	const char *settings = NULL;
	char *copy;

	if (reg && plugins_alarm(reg, name, &p, &settings) == 0) {
		copy = strdup(settings);
	} else if (reg && (p = plugins_alarm_fallback(reg))) {
		json_t *j = json_pack("{s:s}", "plugin", p->name);
		copy = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
	} else {
		snprintf(err, errlen,
			 "alarm '%s' is not defined: add it under 'alarms:' in the daemon config (name: {plugin: "
			 "HEALTH_PLUGIN, ...}), or set alarm_fallback_plugin to a health plugin that looks alarms up "
			 "by name",
			 name);
		return -ENOENT;
	}
	if (!copy)
		return -ENOMEM;
	*ret_plugin = p;
	*ret_settings = copy;
	return 0;
}

int alarm_check_run(const struct plugin *p, const struct rollout_deployment *dep, const char *name,
		    const char *settings_json, int *ret_state, char *reason, size_t reasonlen)
{
	struct rollout_alarm_result res = {.size = sizeof(res)};
	struct rollout_error e = {.size = sizeof(e)};
	int64_t t0 = rd_mono_ms();
	int r;

	r = p->desc->ops.health->check(p->state, dep, name, settings_json, &res, &e);
	metric_plugin_op(p->name, "check", t0, r);
	metric_inc(metric_counter("rolloutd_alarm_checks_total", NULL, (const char *const[]){"result", NULL}),
		   r < 0					  ? "ERROR"
		   : res.state == ROLLOUT_ALARM_OK		  ? "OK"
		   : res.state == ROLLOUT_ALARM_ALARM		  ? "ALARM"
		   : res.state == ROLLOUT_ALARM_INSUFFICIENT_DATA ? "INSUFFICIENT_DATA"
								  : "ERROR");
	if (r < 0) {
		snprintf(reason, reasonlen, "%s", e.message[0] ? e.message : strerror(-r));
		return r;
	}
	if (res.state != ROLLOUT_ALARM_OK && res.state != ROLLOUT_ALARM_ALARM &&
	    res.state != ROLLOUT_ALARM_INSUFFICIENT_DATA) {
		snprintf(reason, reasonlen, "plugin %s answered an unknown alarm state %d", p->name, (int)res.state);
		return -EPROTO;
	}
	res.reason[sizeof(res.reason) - 1] = '\0';
	snprintf(reason, reasonlen, "%s", res.reason);
	*ret_state = (int)res.state;
	return 0;
}

bool alarm_must_stop(int state, bool ignore_poll_failure, bool insufficient_continue)
{
	if (state == ROLLOUT_ALARM_ALARM)
		return true;
	if (state == ROLLOUT_ALARM_OK || ignore_poll_failure)
		return false;
	return !(state == ROLLOUT_ALARM_INSUFFICIENT_DATA && insufficient_continue);
}

bool alarm_insufficient_continue(const char *name, const char *settings_json)
{
	struct rollout_error e = {.size = sizeof(e)};
	struct alarm_common c = {0};
	json_t *root = NULL;
	bool r = false;

	if (alarm_common_parse_text(name, settings_json, &root, &c, &e) == 0)
		r = c.insufficient_continue;
	json_decref(root);
	return r;
}

int alarm_check_config(const struct plugin_registry *reg, const struct rollout_deployment *dep,
		       const json_t *alarm_config, struct alarm_verdict *ret)
{
	bool ignore = json_is_true(json_object_get(alarm_config, "ignorePollAlarmFailure"));
	const json_t *al;
	size_t i;

	if (!json_is_true(json_object_get(alarm_config, "enabled")))
		return 0;
	json_array_foreach(json_object_get(alarm_config, "alarms"), i, al)
	{
		const char *name = json_string_value(json_object_get(al, "name"));
		const struct plugin *p = NULL;
		char *settings = NULL;
		int st = ALARM_POLL_FAILED, r;

		if (!name || !*name)
			continue;
		*ret = (struct alarm_verdict){.name = name};
		r = alarm_resolve(reg, name, &p, &settings, ret->reason, sizeof(ret->reason));
		if (r == -ENOMEM)
			return r;
		if (r == 0 && alarm_check_run(p, dep, name, settings, &st, ret->reason, sizeof(ret->reason)) < 0)
			st = ALARM_POLL_FAILED;
		ret->state = st;
		if (alarm_must_stop(st, ignore, settings && alarm_insufficient_continue(name, settings))) {
			free(settings);
			return 1;
		}
		free(settings);
	}
	return 0;
}

void alarm_verdict_message(const struct alarm_verdict *v, char *msg, size_t msglen)
{
	if (v->state == ROLLOUT_ALARM_ALARM)
		snprintf(msg, msglen,
			 "Alarm %s is in ALARM state: %s. The deployment was stopped because of an active alarm "
			 "(alarmConfiguration of the deployment group).",
			 v->name, v->reason);
	else if (v->state == ROLLOUT_ALARM_INSUFFICIENT_DATA)
		snprintf(msg, msglen,
			 "Alarm %s has INSUFFICIENT_DATA: %s. The deployment was stopped because the alarm could not "
			 "vouch for it; fix the alarm, or set ignorePollAlarmFailure to continue without it.",
			 v->name, v->reason);
	else
		snprintf(msg, msglen,
			 "Could not poll alarm %s: %s. The deployment was stopped because ignorePollAlarmFailure is "
			 "false.",
			 v->name, v->reason);
}

const char *alarm_state_name(int s)
{
	switch (s) {
	case ROLLOUT_ALARM_OK:
		return "OK";
	case ROLLOUT_ALARM_ALARM:
		return "ALARM";
	case ROLLOUT_ALARM_INSUFFICIENT_DATA:
		return "INSUFFICIENT_DATA";
	default:
		return "POLL_FAILED";
	}
}
