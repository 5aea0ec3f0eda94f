/* Alarm polling while a deployment runs.
 *
 * A deployment group's alarmConfiguration (or a deployment's
 * overrideAlarmConfiguration) names alarms as CodeDeploy names CloudWatch
 * alarms. Each name is looked up under the daemon config's `alarms:` (name ->
 * {plugin, settings}); a name with no definition goes to the health plugin
 * the config names as `alarm_fallback_plugin` (one that looks alarms up by
 * name, such as a CloudWatch plugin), and is a failed poll when none is set.
 *
 * While a deployment runs, one poller thread per watched deployment checks
 * its alarms (first at once, then every `interval` of each alarm, default
 * 10 s, or $ROLLOUTD_ALARM_INTERVAL_MS). Plugin calls happen on that thread:
 * never on the engine thread, never on the I/O thread.
 *
 *  - an alarm in ALARM stops the deployment;
 *  - a failed poll (plugin error, unknown alarm) or INSUFFICIENT_DATA stops it
 *    too, unless ignorePollAlarmFailure is true (then it is logged, once per
 *    change, and polling goes on) -- INSUFFICIENT_DATA never passes silently;
 *    an alarm defined with `on_insufficient_data: continue` lets its
 *    INSUFFICIENT_DATA go on (logged) as CodeDeploy treats CloudWatch's;
 *  - a disabled configuration (enabled false, or no alarms) is not polled.
 *
 * What to stop for is decided by the one alarm check (alarm_check.h),
 * which the traffic phase of blue/green deployments uses between its
 * routing steps too.
 *
 * The engine (daemon/engine/engine.c) starts a watch when a deployment
 * becomes InProgress (and for every InProgress deployment after a restart),
 * stops it when the deployment ends, and calls alarms_shutdown() before the
 * plugins are unloaded. Its callback posts an input and returns (it runs on
 * the poller thread); the engine thread then stops the deployment if it
 * still runs. The callback may arrive after alarms_watch_stop() returned (a
 * poll may be in flight).
 *
 * Thread-safety: every function may be called from any thread except that
 * alarms_shutdown must not be called from a callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"
#include "core/plugin_alarm.h"
#include "health/alarm_check.h"

struct rd_daemon;
struct rd_config;

#define ALARMS_DEFAULT_INTERVAL_MS 10000
#define ALARMS_MIN_INTERVAL_MS ALARM_INTERVAL_MIN_MS
#define ALARMS_MAX_INTERVAL_MS ALARM_INTERVAL_MAX_MS

/* Tells the engine to stop deployment_id with ALARM_ACTIVE. rollback: the
 * deployment's (else the group's) autoRollbackConfiguration is enabled and
 * lists DEPLOYMENT_STOP_ON_ALARM. message: one sentence naming the alarm
 * and its reason (borrowed, valid during the call). Called at most once per
 * watch, on the watch's poller thread. */
typedef void (*alarms_stop_fn)(struct rd_daemon *d, const char *deployment_id, bool rollback, const char *message,
			       void *userdata);

/* Validates the daemon-level keys of every `alarms:` entry (`interval`,
 * `description`) with FILE:LINE:COL errors; the plugin checks the rest at
 * load (plugins.c calls its validate_alarm). For main.c / --check-config. */
int alarms_check_config(const struct rd_config *cfg, struct rd_error *e);

/* Starts polling the alarms that apply to a deployment. group_doc: the
 * DeploymentGroupInfo (alarmConfiguration, autoRollbackConfiguration);
 * deployment_doc: the deployment's own members (overrideAlarmConfiguration,
 * autoRollbackConfiguration), may be NULL; both borrowed (copied). creator:
 * "codeDeployRollback" deployments are not watched (a rollback must be able
 * to finish while the alarm that caused it still fires). Returns 0 (also
 * when there is nothing to poll), -EEXIST when already watched. */
int alarms_watch_start(struct rd_daemon *d, const char *deployment_id, const char *creator, const json_t *group_doc,
		       const json_t *deployment_doc, alarms_stop_fn fn, void *userdata);
/* Stops polling; does not wait for a check in flight. No-op when not watched. */
void alarms_watch_stop(struct rd_daemon *d, const char *deployment_id);
/* Whether deployment_id is being watched (tests, diagnostics). */
bool alarms_watching(struct rd_daemon *d, const char *deployment_id);
/* Stops every watch of d and waits until their threads have returned from
 * plugin calls (call before plugins_unload). */
void alarms_shutdown(struct rd_daemon *d);

/* ---- pure helpers (unit-tested) ---- */

/* The autoRollbackConfiguration that applies (deployment's, else group's)
 * is enabled and lists DEPLOYMENT_STOP_ON_ALARM. */
bool alarms_rollback_on_alarm(const json_t *group_doc, const json_t *deployment_doc);

/* Per-instance gate, an extension of ValidateService: the alarms of the
 * deployment's effective (enabled) alarmConfiguration whose definition under
 * `alarms:` says `gate: true` are checked for one instance (http-check polls
 * only that host), e.g. right after its ApplicationStart succeeded. Each gate
 * alarm is retried about once a second until it is OK or its `gate_timeout`
 * (default 0: one check) has passed. Blocks: call it from a workpool job,
 * never on the engine or I/O thread. Returns 0 when every gate alarm is OK
 * (or there is none), 1 when one is not (reason names it and why: the engine
 * should fail the instance's lifecycle event with it), negative errno on
 * internal errors. */
int alarms_gate_instance(struct rd_daemon *d, const char *deployment_id, const json_t *group_doc,
			 const json_t *deployment_doc, const char *instance, char *reason, size_t reasonlen);

/* The alarms being polled for deployment_id now, as [{"name", "plugin",
 * "state": "OK"|"ALARM"|"INSUFFICIENT_DATA"|"POLL_FAILED"|"NOT_POLLED"}];
 * -ENOENT when the deployment is not watched. *ret owned by the caller. */
int alarms_status(struct rd_daemon *d, const char *deployment_id, json_t **ret);

/* One synchronous check of alarm `name`, e.g. the per-instance gate after
 * ApplicationStart (instance: added to the alarm's settings as `instance`,
 * or NULL). Blocks on the plugin: worker threads only. ret_state is an enum
 * rollout_alarm_state; reason gets one line. 0, or negative errno with
 * reason explaining (unknown alarm: -ENOENT). */
int alarms_check_one(struct rd_daemon *d, const char *deployment_id, const char *name, const char *instance,
		     int *ret_state, char *reason, size_t reasonlen);
