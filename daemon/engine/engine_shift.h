/* The engine's second deployment path: platforms that shift traffic
 * themselves (Lambda, ECS). A deployment there has one target (the
 * function alias, the service), owned by the one platform plugin that
 * serves its compute platform with the shift_* ops (rollout/plugin.h). No
 * agent takes part; the engine runs the platform's lifecycle events in
 * CodeDeploy's order as a list of steps, each one plugin op, hook or wait:
 *
 *   start    a job fetches the AppSpec (inline or through the source
 *            plugins), validates it (lib/appspec_shift.h), resolves the one
 *            target and asks the plugin to prepare (its pre-checks); the
 *            engine stores target, AppSpec, plugin state and the plan
 *   hook     an execution id is stored, then the plugin invokes the
 *            function; the event ends with PutLifecycleEventHookExecutionStatus
 *            (engine_hook_status) or fails after hook_timeout
 *   op       install, test route, weight p, wait until ready, commit,
 *            remove original: one job each; the state it returns is stored
 *            before the next step
 *   wait     the interval between weight steps, or the termination wait
 *
 * The plan (the steps, from the AppSpec's hooks, the deployment config's
 * trafficRoutingConfig and the plugin's optional ops) is built once at the
 * start and stored with the cursor, a JSON object in the store
 * (store_eng_shift_*):
 *   {"events": [names], "plan": [{"ev": i, "do": "hook"|"install"|
 *    "test_route"|"weight"|"ready"|"ready_wait"|"wait"|"commit"|"remove"|
 *    "route_back", "fn": hook, "p": percent, "ms": wait, "term": the
 *    termination wait}], "i": next step, "since": wall
 *    ms the current step began, "exec": hook execution id, "invoked": bool,
 *    "weight": share applied, "final": {"status", "code", "message",
 *    "rollback"} while routing back, "back": true once routed back}
 * The cursor is committed before each step is acted on, so after a crash
 * the step runs again (plugin ops are idempotent), a wait goes on to its
 * stored end and a hook whose status was accepted stays answered.
 *
 * A failure, an alarm or a stop ends the deployment only after the plugin
 * routed all traffic back (shift_route_back): dep_finish asks
 * eng_shift_hold first. Everything here runs on the engine thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"
#include "engine/engine_model.h"

struct engine;
struct eng_input;
struct traffic_routing;

/* What a JOB_SHIFT_OP runs. */
enum eng_shift_op {
	SHIFT_OP_INSTALL,
	SHIFT_OP_TEST_ROUTE,
	SHIFT_OP_WEIGHT,
	SHIFT_OP_READY,
	SHIFT_OP_COMMIT,
	SHIFT_OP_REMOVE,
	SHIFT_OP_ROUTE_BACK,
	SHIFT_OP_HOOK,
};
/* The op's name in the plan ("weight", ...) and back; -1 for none. */
const char *eng_shift_op_name(enum eng_shift_op op);
int eng_shift_op_parse(const char *name);

/* Whether deployments on compute_platform run this path. */
bool eng_shift_platform(const char *compute_platform);

/* Which optional ops the owning plugin has. */
struct eng_shift_caps {
	bool install, test_route, wait_ready, remove;
};

/* The lifecycle events of compute_platform in CodeDeploy's order,
 * NULL-terminated; NULL for Server. */
const char *const *eng_shift_events(const char *compute_platform);

/* The plan of a deployment (see above): appspec's hooks, rt's steps (NULL:
 * all at once), the plugin's caps, the ready wait (ms; -1 for none: the
 * deployment is Ready before BeforeAllowTraffic until ContinueDeployment),
 * the termination wait (ms) before remove. A rollback deployment's plan is its AllowTraffic routing back.
 * New reference; NULL without memory. */
json_t *eng_shift_plan(const char *compute_platform, const json_t *appspec, const struct traffic_routing *rt,
		       const struct eng_shift_caps *caps, int64_t ready_wait_ms, int64_t term_wait_ms, bool rollback);

/* Starts dp (status InProgress, committed by the caller's turn): the start
 * job, or for a rollback deployment its plan right away. 0, or a negative
 * errno with err: the deployment fails. */
int eng_shift_start(struct engine *e, struct eng_dep *dp, struct rd_error *err);
/* After a restart: dp's shift row and target; 0, or -ENOENT when the start
 * never finished (start again). */
int eng_shift_restore(struct engine *e, struct eng_dep *dp, const json_t *target_rows);
struct eng_shift_end;
/* An IN_SHIFT input (a start or an op job's end). True with *end when the
 * deployment ends now (its start failed: nothing to route back). */
bool eng_shift_on_job(struct engine *e, struct eng_input *in, struct eng_shift_end *end);
/* An IN_HOOK input: answers its request. */
void eng_shift_on_hook(struct engine *e, struct eng_input *in);

/* How the deployment ended, once eng_shift_advance says so. */
struct eng_shift_end {
	enum eng_dstatus status;
	char code[64];
	char message[1024];
};
/* Takes dp's next step if it may (no job runs, no wait is due); true with
 * *end when the deployment is over (succeeded, or routed back after a
 * failure): the caller finishes it. */
bool eng_shift_advance(struct engine *e, struct eng_dep *dp, struct eng_shift_end *end);
/* The deployment must end (failure, alarm, stop): true when traffic has to
 * be routed back first (the step is taken, and eng_shift_advance ends it
 * later); false when it may end now. */
bool eng_shift_hold(struct engine *e, struct eng_dep *dp, enum eng_dstatus status, const char *code, const char *msg);
/* ContinueDeployment: READY_WAIT ends the ready wait, TERMINATION_WAIT
 * (and SkipWaitTimeForInstanceTermination) the termination wait. 0, or
 * -EAGAIN when dp is not waiting so. */
int eng_shift_continue(struct engine *e, struct eng_dep *dp, bool termination_wait);
/* Marks dp dirty once a wait or timeout of it is due. */
void eng_shift_tick(struct engine *e, struct eng_dep *dp);
