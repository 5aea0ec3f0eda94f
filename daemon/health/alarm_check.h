/* One check of alarms and the rule that decides what it means for a
 * deployment. Every place that asks "may this deployment go on?" uses it:
 * the alarm poller of running deployments (alarms.c, in-place and
 * blue/green alike) and the traffic phase of a blue/green deployment
 * between its routing steps (daemon/traffic/traffic_bg.c, reroute and
 * weighted shifts).
 *
 * The rule: an alarm in ALARM stops the deployment; a failed poll (plugin
 * error, undefined alarm) or INSUFFICIENT_DATA stops it too unless the
 * configuration's ignorePollAlarmFailure is true, and INSUFFICIENT_DATA also
 * goes on when the alarm's definition says `on_insufficient_data: continue`.
 * INSUFFICIENT_DATA never passes silently as OK. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <rollout/plugin.h>

struct plugin;
struct plugin_registry;

/* The AlarmConfiguration that applies: deployment_doc's
 * overrideAlarmConfiguration when it is an object, else group_doc's
 * alarmConfiguration; NULL when none. Borrowed. */
const json_t *alarms_effective_config(const json_t *group_doc, const json_t *deployment_doc);
/* True when the configuration is enabled and names at least one alarm. */
bool alarms_config_active(const json_t *alarm_config);

/* The state of a poll that failed (or of an alarm that is not defined). */
#define ALARM_POLL_FAILED (-1)

/* What checking one alarm found. */
struct alarm_verdict {
	const char *name; /* the alarm (borrowed from the configuration) */
	int state;	  /* enum rollout_alarm_state, or ALARM_POLL_FAILED */
	char reason[768]; /* the plugin's reason, or why the poll failed */
};

/* The plugin and settings behind alarm `name`: its definition under
 * `alarms:`, else the configured alarm_fallback_plugin (asked by that name
 * with no settings). -ENOENT with a message in err when neither exists;
 * *ret_settings is malloc'd. */
int alarm_resolve(const struct plugin_registry *reg, const char *name, const struct plugin **ret_plugin,
		  char **ret_settings, char *err, size_t errlen);

/* Runs one check of alarm `name` through plugin p. 0 with *ret_state, or a
 * negative errno; reason filled either way. Blocks: never on the engine or
 * I/O thread. */
int alarm_check_run(const struct plugin *p, const struct rollout_deployment *dep, const char *name,
		    const char *settings_json, int *ret_state, char *reason, size_t reasonlen);

/* The rule above for one check's state. */
bool alarm_must_stop(int state, bool ignore_poll_failure, bool insufficient_continue);
/* Whether the settings say on_insufficient_data: continue. */
bool alarm_insufficient_continue(const char *name, const char *settings_json);

/* Checks every alarm of an AlarmConfiguration once, in order, until one
 * must stop the deployment. Returns 0 when all may go on (or the
 * configuration is not enabled), 1 with *ret filled when one stops it,
 * -ENOMEM. Blocks on the plugins. */
int alarm_check_config(const struct plugin_registry *reg, const struct rollout_deployment *dep,
		       const json_t *alarm_config, struct alarm_verdict *ret);

/* The sentence a deployment stopped by v carries (errorInformation). */
void alarm_verdict_message(const struct alarm_verdict *v, char *msg, size_t msglen);

/* "OK", "ALARM", "INSUFFICIENT_DATA" or "POLL_FAILED". */
const char *alarm_state_name(int state);
