/* Lambda and ECS deployments on the engine thread; see engine_shift.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appspec_shift.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/metrics.h"
#include "core/plugins.h"
#include "engine/engine_context.h"
#include "engine/engine_jobs.h"
#include "engine/engine_shift.h"
#include "jsonutil.h"
#include "log.h"
#include "store/store_engine.h"
#include "traffic/traffic.h"
#include "util.h"
#include "uuid.h"

#define CHK(expr, what) eng_store_error(e, (expr), (what))
#define DLOG ENG_DLOG

/* How long one plugin op may take; waiting for readiness is a loop of ops
 * (-EAGAIN), bounded by READY_TIMEOUT_MS. */
#define OP_TIMEOUT_MS (15 * 60 * 1000)
#define READY_TIMEOUT_MS (60 * 60 * 1000)
#define READY_RETRY_MS 2000

static const char *const lambda_events[] = {"BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic", NULL};
static const char *const ecs_events[] = {"BeforeInstall",
					 "Install",
					 "AfterInstall",
					 "AllowTestTraffic",
					 "AfterAllowTestTraffic",
					 "BeforeAllowTraffic",
					 "AllowTraffic",
					 "AfterAllowTraffic",
					 NULL};

static const char *const op_names[] = {
    [SHIFT_OP_INSTALL] = "install",	  [SHIFT_OP_TEST_ROUTE] = "test_route",
    [SHIFT_OP_WEIGHT] = "weight",	  [SHIFT_OP_READY] = "ready",
    [SHIFT_OP_COMMIT] = "commit",	  [SHIFT_OP_REMOVE] = "remove",
    [SHIFT_OP_ROUTE_BACK] = "route_back", [SHIFT_OP_HOOK] = "hook",
};

const char *eng_shift_op_name(enum eng_shift_op op)
{
	return (size_t)op < sizeof(op_names) / sizeof(op_names[0]) ? op_names[op] : NULL;
}

int eng_shift_op_parse(const char *name)
{
	for (size_t i = 0; name && i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (strcmp(op_names[i], name) == 0)
			return (int)i;
	return -1;
}

bool eng_shift_platform(const char *cp)
{
	return cp && (strcmp(cp, "Lambda") == 0 || strcmp(cp, "ECS") == 0);
}

const char *const *eng_shift_events(const char *cp)
{
	if (cp && strcmp(cp, "Lambda") == 0)
		return lambda_events;
	if (cp && strcmp(cp, "ECS") == 0)
		return ecs_events;
	return NULL;
}

/* ---------------------------------------------------------------- the plan */

static int add_step(json_t *plan, int ev, const char *what, json_t *extra)
{
	json_t *s = json_pack("{s:i, s:s}", "ev", ev, "do", what);

	if (s && extra)
		json_object_update(s, extra);
	json_decref(extra);
	return s ? json_array_append_new(plan, s) : -ENOMEM;
}

json_t *eng_shift_plan(const char *cp, const json_t *appspec, const struct traffic_routing *rt,
		       const struct eng_shift_caps *caps, int64_t ready_wait_ms, int64_t term_wait_ms, bool rollback)
{
	const char *const *events = eng_shift_events(cp);
	struct traffic_routing all = {.type = TRAFFIC_ALL_AT_ONCE};
	struct traffic_step steps[TRAFFIC_MAX_STEPS];
	json_t *plan = json_array();
	int r = 0;

	if (!plan || !events)
		goto fail;
	for (int ev = 0; events[ev] && r == 0; ev++) {
		const char *name = events[ev];
		/* deploymentReadyOption STOP_DEPLOYMENT: Ready until
		 * ContinueDeployment, before production traffic moves */
		if (!rollback && ready_wait_ms >= 0 && !strcmp(name, "BeforeAllowTraffic"))
			r = add_step(plan, -1, "ready_wait", json_pack("{s:I}", "ms", (json_int_t)ready_wait_ms));
		if (r < 0)
			break;
		if (!strncmp(name, "Before", 6) || !strncmp(name, "After", 5)) {
			const char *fn = appspec_shift_hook(appspec, name);
			if (fn && !rollback)
				r = add_step(plan, ev, "hook", json_pack("{s:s}", "fn", fn));
		} else if (rollback) {
			if (!strcmp(name, "AllowTraffic"))
				r = add_step(plan, ev, "route_back", NULL);
		} else if (!strcmp(name, "Install") || !strcmp(name, "AllowTestTraffic")) {
			bool have = !strcmp(name, "Install") ? caps->install : caps->test_route;
			if (have)
				r = add_step(plan, ev, !strcmp(name, "Install") ? "install" : "test_route", NULL);
			if (have && r == 0 && caps->wait_ready)
				r = add_step(plan, ev, "ready", NULL);
		} else if (!strcmp(name, "AllowTraffic")) {
			size_t n = traffic_routing_steps(rt ? rt : &all, steps, TRAFFIC_MAX_STEPS);
			for (size_t k = 0; k < n && r == 0; k++) {
				r = add_step(plan, ev, "weight", json_pack("{s:i}", "p", (int)steps[k].percent));
				if (r == 0 && caps->wait_ready)
					r = add_step(plan, ev, "ready", NULL);
				if (r == 0 && k + 1 < n && steps[k].wait_s > 0)
					r = add_step(plan, ev, "wait",
						     json_pack("{s:I}", "ms", (json_int_t)steps[k].wait_s * 1000));
			}
		}
	}
	if (r == 0 && !rollback) {
		r = add_step(plan, -1, "commit", NULL);
		if (r == 0 && caps->remove && term_wait_ms > 0)
			r = add_step(plan, -1, "wait",
				     json_pack("{s:I, s:b}", "ms", (json_int_t)term_wait_ms, "term", 1));
		if (r == 0 && caps->remove)
			r = add_step(plan, -1, "remove", NULL);
	}
	if (r == 0)
		return plan;
fail:
	json_decref(plan);
	return NULL;
}

/* ---------------------------------------------------------------- small helpers */

static json_t *cur(const struct eng_dep *dp)
{
	return dp->shift->cursor;
}

static json_int_t cur_int(const struct eng_dep *dp, const char *k)
{
	return json_integer_value(json_object_get(cur(dp), k));
}

static void cur_set(struct eng_dep *dp, const char *k, json_t *v)
{
	json_object_set_new(cur(dp), k, v);
}

static const json_t *step_at(const struct eng_dep *dp, json_int_t i)
{
	return json_array_get(json_object_get(cur(dp), "plan"), (size_t)i);
}

static void save_cursor(struct engine *e, struct eng_dep *dp)
{
	CHK(store_eng_shift_put(e->tx, dp->id, NULL, NULL, NULL, cur(dp), e->now_wall), "shift cursor");
}

static struct eng_target *target(const struct eng_dep *dp)
{
	return dp->nt > 0 ? dp->t[0] : NULL;
}

static const struct plugin *owner(const struct engine *e, const struct eng_dep *dp)
{
	const struct plugin *p = e->d->plugins ? plugins_find(e->d->plugins, dp->shift->plugin) : NULL;

	return p && p->desc->kind == ROLLOUT_KIND_PLATFORM ? p : NULL;
}

static const char *platform_of(const struct eng_dep *dp)
{
	return rd_json_str(dp->row, "compute_platform") ? rd_json_str(dp->row, "compute_platform") : "Lambda";
}

static bool never_stop(const struct rollout_shift_call *c)
{
	(void)c;
	return false;
}

/* The target's view for GetDeploymentTarget, from the plugin's state. */
static void view_update(struct engine *e, struct eng_dep *dp)
{
	const struct plugin *p = owner(e, dp);
	struct eng_target *t = target(dp);
	struct rollout_error perr = {.size = sizeof(perr)};
	char *state = json_dumps(dp->shift->state, JSON_COMPACT), *out = NULL;
	json_t *view;
	int r;

	if (!p || !t || !state) {
		free(state);
		return;
	}
	struct rollout_deployment dep =
	    ROLLOUT_DEPLOYMENT_INIT(.deployment_id = dp->id, .application_name = dp->app,
				    .deployment_group_name = dp->group, .compute_platform = platform_of(dp),
				    .region = e->d->cfg ? e->d->cfg->region : NULL,
				    .account_id = e->d->cfg ? e->d->cfg->account_id : NULL);
	struct rollout_shift_call call =
	    ROLLOUT_SHIFT_CALL_INIT(.dep = &dep, .group_json = "{}", .state_json = state, .timeout_ms = 1000,
				    .stopping = never_stop, .percent = (uint32_t)cur_int(dp, "weight"));
	int64_t t0 = rd_mono_ms();
	r = p->desc->ops.platform->shift_describe(p->state, &call, &out, &perr);
	metric_plugin_op(p->name, "shift_describe", t0, r);
	free(state);
	view = r == 0 && out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	if (!json_is_object(view)) {
		DLOG(LOG_WARNING, dp->id, t->id, NULL, "%s: plugin %s gave no view of its target: %s", dp->id, p->name,
		     r < 0 ? perr.message : "not a JSON object");
		json_decref(view);
		return;
	}
	if (rd_json_str(view, "targetArn")) {
		free(t->arn);
		t->arn = strdup(rd_json_str(view, "targetArn"));
	}
	json_object_del(view, "targetArn");
	CHK(store_eng_target_view(e->tx, dp->id, t->id,
				  strcmp(platform_of(dp), "ECS") == 0 ? "ECSTarget" : "LambdaTarget", t->arn, view,
				  e->now_wall),
	    "target view");
	json_decref(view);
}

static void event_set(struct engine *e, struct eng_dep *dp, int ev, enum eng_status st, json_t *diag)
{
	struct eng_target *t = target(dp);

	if (!t || ev < 0 || ev >= t->nev) {
		json_decref(diag);
		return;
	}
	t->ev[ev].status = st;
	if (st == ST_INPROGRESS) {
		t->cur = ev;
		t->ev[ev].started_ms = e->now_mono;
	}
	CHK(store_eng_event_update(e->tx, dp->id, t->id, ev, eng_status_name[st], st == ST_INPROGRESS ? e->now_wall : 0,
				   st == ST_INPROGRESS ? 0 : e->now_wall, diag),
	    "event");
	json_decref(diag);
}

static void target_set(struct engine *e, struct eng_dep *dp, enum eng_status st)
{
	struct eng_target *t = target(dp);

	if (!t || t->status == st)
		return;
	eng_target_set_status(t, st);
	CHK(store_eng_target_status(e->tx, dp->id, t->id, eng_status_name[st], e->now_wall), "target");
	if (st == ST_SUCCEEDED || st == ST_FAILED)
		eng_fire(e, st == ST_SUCCEEDED ? "InstanceSuccess" : "InstanceFailure", dp, "InProgress", t->id,
			 eng_status_name[st], NULL, NULL);
}

/* ---------------------------------------------------------------- jobs */

static struct eng_job *op_job(struct engine *e, struct eng_dep *dp, enum eng_shift_op op)
{
	struct eng_shift *sh = dp->shift;
	struct eng_job *j = eng_job_new(JOB_SHIFT_OP, dp);

	if (!j) {
		eng_store_error(e, -ENOMEM, "job");
		return NULL;
	}
	snprintf(j->platform, sizeof(j->platform), "%s", platform_of(dp));
	snprintf(j->plugin, sizeof(j->plugin), "%s", sh->plugin);
	j->op = op;
	j->appspec_json = json_dumps(sh->appspec, JSON_COMPACT);
	j->state_json = json_dumps(sh->state, JSON_COMPACT);
	j->deployment_json = json_dumps(json_object_get(dp->row, "doc"), JSON_COMPACT);
	j->timeout_ms = OP_TIMEOUT_MS;
	/* a fresh stop flag per job: a route back after a stop must not stop */
	eng_shiftctl_unref(sh->ctl);
	sh->ctl = eng_shiftctl_new();
	j->ctl = eng_shiftctl_ref(sh->ctl);
	sh->job = true;
	return j;
}

static void job_go(struct engine *e, struct eng_job *j)
{
	if (j)
		eng_outbox_job(e, j); /* starts once this turn committed */
}

/* ---------------------------------------------------------------- failure and the end */

static void fail(struct engine *e, struct eng_dep *dp, enum eng_dstatus status, const char *code, const char *msg)
{
	struct eng_target *t = target(dp);
	json_t *final;

	if (json_object_get(cur(dp), "final"))
		return;
	if (t) {
		for (int i = 0; i < t->nev; i++) {
			if (t->ev[i].status == ST_INPROGRESS)
				event_set(e, dp, i, ST_FAILED, eng_diag(code, "", msg, ""));
			else if (t->ev[i].status == ST_PENDING)
				event_set(e, dp, i, ST_SKIPPED, NULL);
		}
		target_set(e, dp, ST_FAILED);
	}
	final = json_pack("{s:s, s:s, s:s, s:i}", "status", eng_dstatus_name[status], "code", code, "message", msg,
			  "rollback", (int)dp->stop_rollback);
	cur_set(dp, "final", final);
	save_cursor(e, dp);
	if (dp->shift->ctl)
		__atomic_store_n(&dp->shift->ctl->stop, 1, __ATOMIC_SEQ_CST);
	dp->ready = false;
	DLOG(LOG_NOTICE, dp->id, t ? t->id : NULL, NULL, "%s: %s (%s): routing traffic back", dp->id, msg, code);
	dp->dirty = true;
}

bool eng_shift_hold(struct engine *e, struct eng_dep *dp, enum eng_dstatus status, const char *code, const char *msg)
{
	if (!dp->shift || !dp->shift->cursor || status == DS_SUCCEEDED)
		return false;
	if (json_is_true(json_object_get(cur(dp), "back")))
		return false;
	fail(e, dp, status, code ? code : "INTERNAL_ERROR", msg ? msg : "The deployment ended.");
	return true;
}

/* ---------------------------------------------------------------- steps */

/* The current step is done: the next one begins (its event too). */
static void step_done(struct engine *e, struct eng_dep *dp)
{
	json_int_t i = cur_int(dp, "i");
	const json_t *s = step_at(dp, i), *nx = step_at(dp, i + 1);
	int ev = (int)json_integer_value(json_object_get(s, "ev"));

	if (ev >= 0 && (!nx || json_integer_value(json_object_get(nx, "ev")) != ev))
		event_set(e, dp, ev, ST_SUCCEEDED, eng_diag("Success", "", "Succeeded", ""));
	cur_set(dp, "i", json_integer(i + 1));
	json_object_del(cur(dp), "since");
	json_object_del(cur(dp), "exec");
	json_object_del(cur(dp), "invoked");
	json_object_del(cur(dp), "retry");
	save_cursor(e, dp);
	dp->dirty = true;
}

/* Waits until the stored deadline; true once it has passed. */
static bool wait_until(struct engine *e, struct eng_dep *dp, int64_t ms)
{
	int64_t since = cur_int(dp, "since");

	if (since == 0) {
		since = e->now_wall;
		cur_set(dp, "since", json_integer(since));
		save_cursor(e, dp);
	}
	if (e->now_wall >= since + ms)
		return true;
	dp->shift->wake_ms = e->now_mono + (since + ms - e->now_wall);
	return false;
}

/* The original is past rollback and waits for its removal: GetDeployment
 * reports instanceTerminationWaitTimeStarted from now on, as CodeDeploy
 * does once the termination wait begins. */
static void termination_wait_started(struct engine *e, struct eng_dep *dp)
{
	json_t *t = json_true();

	CHK(store_eng_deployment_doc_set(e->tx, dp->id, "instanceTerminationWaitTimeStarted", t),
	    "termination wait started");
	json_decref(t);
}

static void hook_step(struct engine *e, struct eng_dep *dp, const json_t *s)
{
	struct eng_target *t = target(dp);
	int ev = (int)json_integer_value(json_object_get(s, "ev"));
	const char *exec = rd_json_str(cur(dp), "exec");
	int64_t timeout = e->d->cfg && e->d->cfg->hook_timeout_ms > 0 ? e->d->cfg->hook_timeout_ms : 3600 * 1000;
	struct eng_job *j;
	char id[RD_UUID_LEN];

	if (!exec) {
		/* the execution id is committed before the function is invoked */
		if (rd_uuid4(id) < 0) {
			fail(e, dp, DS_FAILED, "INTERNAL_ERROR", "cannot make a hook execution id");
			return;
		}
		cur_set(dp, "exec", json_string(id));
		cur_set(dp, "invoked", json_false());
		cur_set(dp, "since", json_integer(e->now_wall));
		CHK(store_eng_event_hook(e->tx, dp->id, t->id, ev, id), "hook execution id");
		save_cursor(e, dp);
		exec = rd_json_str(cur(dp), "exec");
	}
	if (!json_is_true(json_object_get(cur(dp), "invoked"))) {
		/* not known to be invoked (first time, or started before a
		 * restart): invoke with the same id; hooks must bear a repeat */
		if (!(j = op_job(e, dp, SHIFT_OP_HOOK)))
			return;
		j->hook_function = strdup(rd_json_str(s, "fn") ? rd_json_str(s, "fn") : "");
		snprintf(j->hook_event, sizeof(j->hook_event), "%s", t->ev[ev].name);
		snprintf(j->hook_execution_id, sizeof(j->hook_execution_id), "%s", exec);
		j->timeout_ms = timeout < OP_TIMEOUT_MS ? timeout : OP_TIMEOUT_MS;
		job_go(e, j);
		return;
	}
	if (wait_until(e, dp, timeout)) {
		char msg[512];
		snprintf(msg, sizeof(msg),
			 "The %s hook function %s did not report PutLifecycleEventHookExecutionStatus within %lld "
			 "seconds (hook_timeout)",
			 t->ev[ev].name, rd_json_str(s, "fn") ? rd_json_str(s, "fn") : "?",
			 (long long)(timeout / 1000));
		fail(e, dp, DS_FAILED, "TIMEOUT", msg);
	}
}

bool eng_shift_advance(struct engine *e, struct eng_dep *dp, struct eng_shift_end *end)
{
	struct eng_shift *sh = dp->shift;
	const json_t *final, *s;
	const char *what;
	json_int_t i;
	int op;

	if (!sh || !sh->cursor || sh->job || dp->finished)
		return false;
	sh->wake_ms = 0;
	final = json_object_get(cur(dp), "final");
	if (final) {
		if (!json_is_true(json_object_get(cur(dp), "back"))) {
			job_go(e, op_job(e, dp, SHIFT_OP_ROUTE_BACK));
			return false;
		}
		end->status = (enum eng_dstatus)eng_dstatus_parse(rd_json_str(final, "status"));
		if ((int)end->status < 0)
			end->status = DS_FAILED;
		snprintf(end->code, sizeof(end->code), "%s",
			 rd_json_str(final, "code") ? rd_json_str(final, "code") : "");
		snprintf(end->message, sizeof(end->message), "%s",
			 rd_json_str(final, "message") ? rd_json_str(final, "message") : "");
		return true;
	}
	i = cur_int(dp, "i");
	s = step_at(dp, i);
	if (!s) {
		target_set(e, dp, ST_SUCCEEDED);
		end->status = DS_SUCCEEDED;
		end->code[0] = end->message[0] = '\0';
		return true;
	}
	if (target(dp) && target(dp)->status == ST_PENDING)
		target_set(e, dp, ST_INPROGRESS);
	{
		int ev = (int)json_integer_value(json_object_get(s, "ev"));
		struct eng_target *t = target(dp);
		if (t && ev >= 0 && ev < t->nev && t->ev[ev].status == ST_PENDING)
			event_set(e, dp, ev, ST_INPROGRESS, NULL);
	}
	what = rd_json_str(s, "do");
	if (!what)
		what = "";
	if (!strcmp(what, "hook")) {
		hook_step(e, dp, s);
		return false;
	}
	if (!strcmp(what, "ready_wait")) {
		bool first = cur_int(dp, "since") == 0;
		int64_t ms = json_integer_value(json_object_get(s, "ms"));
		wait_until(e, dp, ms);
		/* the engine's timer ends it (Stopped, TIMEOUT) unless continued */
		dp->ready = true;
		dp->ready_deadline = e->now_mono + (cur_int(dp, "since") + ms - e->now_wall);
		sh->wake_ms = 0;
		if (first) {
			CHK(store_eng_deployment_status(e->tx, dp->id, "Ready", 0, 0, NULL, NULL), "deployment ready");
			eng_fire(e, "DeploymentReady", dp, "Ready", NULL, NULL, NULL, NULL);
			DLOG(LOG_INFO, dp->id, NULL, NULL,
			     "%s: replacement ready; Ready, waiting up to %lld ms for ContinueDeployment", dp->id,
			     (long long)ms);
		}
		return false;
	}
	if (!strcmp(what, "wait")) {
		if (json_is_true(json_object_get(s, "term")) && cur_int(dp, "since") == 0)
			termination_wait_started(e, dp);
		if (wait_until(e, dp, json_integer_value(json_object_get(s, "ms"))))
			step_done(e, dp);
		return false;
	}
	op = eng_shift_op_parse(what);
	if (op < 0 || op == SHIFT_OP_HOOK) {
		fail(e, dp, DS_FAILED, "INTERNAL_ERROR", "the stored plan of this deployment is damaged");
		return false;
	}
	if (op == SHIFT_OP_REMOVE)
		termination_wait_started(e, dp); /* also without a wait: it is over at once */
	if (op == SHIFT_OP_READY) {
		int64_t retry = cur_int(dp, "retry");
		if (!wait_until(e, dp, READY_TIMEOUT_MS)) {
			if (retry > e->now_wall) {
				sh->wake_ms = e->now_mono + (retry - e->now_wall);
				return false;
			}
		} else {
			fail(e, dp, DS_FAILED, "TIMEOUT",
			     "The replacement did not become ready within an hour; see the platform's own status "
			     "(function version state, task set stability)");
			return false;
		}
	}
	{
		struct eng_job *j = op_job(e, dp, (enum eng_shift_op)op);
		if (j && op == SHIFT_OP_WEIGHT) {
			j->percent = (unsigned)json_integer_value(json_object_get(s, "p"));
			/* alarms are checked between steps: before every weight
			 * but the first */
			for (json_int_t k = 0; k < i; k++)
				if (!strcmp(rd_json_str(step_at(dp, k), "do") ? rd_json_str(step_at(dp, k), "do") : "",
					    "weight"))
					j->check_alarms = true;
		}
		job_go(e, j);
	}
	return false;
}

int eng_shift_continue(struct engine *e, struct eng_dep *dp, bool termination_wait)
{
	const json_t *s;
	const char *what;

	if (!dp->shift || !dp->shift->cursor || json_object_get(cur(dp), "final"))
		return -EAGAIN;
	s = step_at(dp, cur_int(dp, "i"));
	what = rd_json_str(s, "do") ? rd_json_str(s, "do") : "";
	if (!termination_wait && !strcmp(what, "ready_wait") && dp->ready) {
		dp->ready = false;
		CHK(store_eng_deployment_status(e->tx, dp->id, "InProgress", 0, 0, NULL, NULL), "deployment status");
		DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: ContinueDeployment: moving production traffic", dp->id);
		step_done(e, dp);
		return 0;
	}
	if (termination_wait && !strcmp(what, "wait") && json_is_true(json_object_get(s, "term"))) {
		DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: termination wait ended early; removing the original", dp->id);
		step_done(e, dp);
		return 0;
	}
	return -EAGAIN;
}

void eng_shift_tick(struct engine *e, struct eng_dep *dp)
{
	if (dp->shift && dp->shift->wake_ms && e->now_mono >= dp->shift->wake_ms && !dp->finished) {
		dp->shift->wake_ms = 0;
		dp->dirty = true;
	}
}

/* ---------------------------------------------------------------- start */

/* The termination wait of an ECS group before the original is removed. */
static int64_t term_wait_ms(const struct eng_dep *dp)
{
	const json_t *t = json_object_get(json_object_get(dp->group_doc, "blueGreenDeploymentConfiguration"),
					  "terminateBlueInstancesOnDeploymentSuccess");

	return json_integer_value(json_object_get(t, "terminationWaitTimeInMinutes")) * traffic_minute_ms();
}

/* deploymentReadyOption of an ECS group: with STOP_DEPLOYMENT, how long the
 * deployment stays Ready waiting for ContinueDeployment; -1 without. */
static int64_t ready_wait_ms(const struct eng_dep *dp)
{
	const json_t *o = json_object_get(json_object_get(dp->group_doc, "blueGreenDeploymentConfiguration"),
					  "deploymentReadyOption");
	const char *a = rd_json_str(o, "actionOnTimeout");

	if (strcmp(platform_of(dp), "ECS") != 0 || !a || strcmp(a, "STOP_DEPLOYMENT") != 0)
		return -1;
	return json_integer_value(json_object_get(o, "waitTimeInMinutes")) * traffic_minute_ms();
}

/* Stores dp's one target with its events, the shift row and the plan, and
 * lets the first step go. Events without a step are Skipped at once. */
static int begin(struct engine *e, struct eng_dep *dp, const char *target_id, const char *arn, json_t *plan)
{
	struct eng_shift *sh = dp->shift;
	const char *const *events = eng_shift_events(platform_of(dp));
	struct eng_target *t;
	json_t *names = json_array();
	size_t k;
	const json_t *s;

	t = eng_target_new_events(dp, target_id, arn, 0, events);
	free(dp->t);
	dp->t = calloc(2, sizeof(*dp->t));
	if (!t || !dp->t || !names) {
		eng_target_free(t);
		json_decref(names);
		json_decref(plan);
		return -ENOMEM;
	}
	dp->t[0] = t;
	dp->nt = 1;
	CHK(store_eng_target_insert(e->tx, dp->id, t->id, 0, t->arn, "Pending", NULL, NULL, e->now_wall),
	    "target insert");
	for (int i = 0; i < t->nev; i++) {
		bool used = false;
		json_array_foreach(plan, k, s)
		{
			used = used || json_integer_value(json_object_get(s, "ev")) == i;
		}
		if (!used)
			t->ev[i].status = ST_SKIPPED;
		CHK(store_eng_event_insert(e->tx, dp->id, t->id, i, t->ev[i].name, eng_status_name[t->ev[i].status]),
		    "event insert");
		json_array_append_new(names, json_string(t->ev[i].name));
	}
	sh->cursor = json_pack("{s:o, s:o, s:i, s:i}", "events", names, "plan", plan, "i", 0, "weight", 0);
	if (!sh->cursor)
		return -ENOMEM;
	CHK(store_eng_shift_put(e->tx, dp->id, sh->plugin, sh->appspec, sh->state, sh->cursor, e->now_wall),
	    "shift row");
	view_update(e, dp);
	target_set(e, dp, ST_INPROGRESS);
	eng_fire(e, "InstanceStart", dp, "InProgress", t->id, "InProgress", NULL, NULL);
	DLOG(LOG_INFO, dp->id, t->id, NULL, "%s: %s deployment of %s by plugin %s, %zu step(s)", dp->id,
	     platform_of(dp), t->id, sh->plugin, json_array_size(json_object_get(sh->cursor, "plan")));
	dp->dirty = true;
	return 0;
}

static struct eng_shift *shift_new(const char *plugin)
{
	struct eng_shift *sh = calloc(1, sizeof(*sh));

	if (sh)
		snprintf(sh->plugin, sizeof(sh->plugin), "%s", plugin ? plugin : "");
	return sh;
}

/* A codeDeployRollback of a Lambda/ECS deployment: the failed deployment
 * already routed back; this one confirms it (its AllowTraffic is
 * shift_route_back on the failed deployment's state). */
static int start_rollback(struct engine *e, struct eng_dep *dp, const char *of, struct rd_error *err)
{
	json_t *row = NULL, *targets = NULL, *plan;
	const json_t *t0;
	struct eng_shift_caps none = {0};
	int r = store_eng_shift_get(e->tx, of, &row);

	if (r < 0)
		return rd_error_set(err, r, "INTERNAL_ERROR",
				    "deployment %s, which this one rolls back, left nothing to roll back", of);
	r = store_eng_targets(e->tx, of, &targets);
	t0 = json_array_get(targets, 0);
	if (r < 0 || !rd_json_str(t0, "target_id")) {
		json_decref(row);
		json_decref(targets);
		return rd_error_set(err, r < 0 ? r : -ENOENT, "INTERNAL_ERROR", "deployment %s has no target", of);
	}
	dp->shift = shift_new(rd_json_str(row, "plugin"));
	if (!dp->shift) {
		json_decref(row);
		json_decref(targets);
		return -ENOMEM;
	}
	dp->shift->appspec = json_incref(json_object_get(row, "appspec"));
	dp->shift->state = json_incref(json_object_get(row, "state"));
	plan = eng_shift_plan(platform_of(dp), dp->shift->appspec, NULL, &none, -1, 0, true);
	r = plan ? begin(e, dp, rd_json_str(t0, "target_id"), rd_json_str(t0, "target_arn"), plan) : -ENOMEM;
	json_decref(row);
	json_decref(targets);
	return r;
}

int eng_shift_start(struct engine *e, struct eng_dep *dp, struct rd_error *err)
{
	const char *of = rd_json_str(json_object_get(dp->row, "doc"), "rolloutRollbackOf");
	struct eng_job *j;

	if (strcmp(dp->creator, "codeDeployRollback") == 0 && of)
		return start_rollback(e, dp, of, err);
	j = eng_job_new(JOB_SHIFT_START, dp);
	if (!j)
		return -ENOMEM;
	snprintf(j->platform, sizeof(j->platform), "%s", platform_of(dp));
	snprintf(j->creator, sizeof(j->creator), "%s", dp->creator);
	if (json_object_get(dp->row, "revision"))
		j->revision_json = json_dumps(json_object_get(dp->row, "revision"), JSON_COMPACT);
	j->deployment_json = json_dumps(json_object_get(dp->row, "doc"), JSON_COMPACT);
	j->timeout_ms = OP_TIMEOUT_MS;
	dp->resolving = true;
	job_go(e, j);
	return 0;
}

static bool started(struct engine *e, struct eng_dep *dp, struct eng_input *in, struct eng_shift_end *end)
{
	const struct plugin *p;
	struct eng_shift_caps caps = {0};
	struct traffic_routing rt;
	struct rollout_error terr = {.size = sizeof(terr)};
	const json_t *res = in->result, *tj = json_object_get(res, "target");
	json_t *cfg = NULL, *plan;
	char *cfgtxt;
	int r;

	dp->resolving = false;
	if (!in->ok) {
		end->status = DS_FAILED;
		snprintf(end->code, sizeof(end->code), "%s", in->err.code[0] ? in->err.code : "INTERNAL_ERROR");
		snprintf(end->message, sizeof(end->message), "%s", in->err.message);
		return true;
	}
	dp->shift = eng_shift_free(dp->shift);
	dp->shift = shift_new(rd_json_str(res, "plugin"));
	if (!dp->shift) {
		eng_store_error(e, -ENOMEM, "shift");
		return false;
	}
	dp->shift->appspec = json_incref(json_object_get(res, "appspec"));
	dp->shift->state = json_incref(json_object_get(res, "state"));
	p = owner(e, dp);
	if (p) {
		const struct rollout_platform_ops *o = p->desc->ops.platform;
		caps = (struct eng_shift_caps){.install = o->shift_install != NULL,
					       .test_route = o->shift_test_route != NULL,
					       .wait_ready = o->shift_wait_ready != NULL,
					       .remove = o->shift_remove_original != NULL};
	}
	r = store_eng_config(e->tx, dp->config, &cfg);
	cfgtxt = r == 0 ? json_dumps(cfg, JSON_COMPACT) : NULL;
	json_decref(cfg);
	r = traffic_routing_parse(cfgtxt, &rt, NULL, &terr);
	free(cfgtxt);
	if (r < 0) {
		end->status = DS_FAILED;
		snprintf(end->code, sizeof(end->code), "INVALID_TRAFFIC_ROUTING");
		snprintf(end->message, sizeof(end->message), "deployment config %.200s: %.700s", dp->config,
			 terr.message);
		return true;
	}
	plan =
	    eng_shift_plan(platform_of(dp), dp->shift->appspec, &rt, &caps, ready_wait_ms(dp), term_wait_ms(dp), false);
	if (!plan || begin(e, dp, rd_json_str(tj, "targetId"), rd_json_str(tj, "targetArn"), plan) < 0)
		eng_store_error(e, -ENOMEM, "shift start");
	return false;
}

/* ---------------------------------------------------------------- job results */

static void op_done(struct engine *e, struct eng_dep *dp, struct eng_input *in)
{
	struct eng_shift *sh = dp->shift;
	const json_t *res = in->result, *state = json_object_get(res, "state");
	int op = eng_shift_op_parse(rd_json_str(res, "op"));
	const json_t *s = step_at(dp, cur_int(dp, "i"));

	sh->job = false;
	dp->dirty = true; /* the next step may go now */
	if (json_is_object(state)) {
		json_decref(sh->state);
		sh->state = json_incref((json_t *)state);
		CHK(store_eng_shift_put(e->tx, dp->id, NULL, NULL, sh->state, NULL, e->now_wall), "shift state");
	}
	if (op == SHIFT_OP_ROUTE_BACK) {
		if (!in->ok) {
			json_t *final = json_object_get(cur(dp), "final");
			char msg[1024];
			DLOG(LOG_ERR, dp->id, NULL, NULL, "%s: routing traffic back failed: %s", dp->id,
			     in->err.message);
			if (final) {
				snprintf(msg, sizeof(msg),
					 "%.500s; routing traffic back to the original failed too: %.400s",
					 rd_json_str(final, "message") ? rd_json_str(final, "message") : "",
					 in->err.message);
				json_object_set_new(final, "message", json_string(msg));
			} else {
				/* the AllowTraffic of a rollback deployment */
				fail(e, dp, DS_FAILED, in->err.code[0] ? in->err.code : "INTERNAL_ERROR",
				     in->err.message);
			}
		} else {
			cur_set(dp, "weight", json_integer(0));
		}
		view_update(e, dp);
		if (json_object_get(cur(dp), "final")) {
			cur_set(dp, "back", json_true());
			save_cursor(e, dp);
		} else {
			step_done(e, dp); /* the rollback deployment's one step */
		}
		dp->dirty = true;
		return;
	}
	if (json_object_get(cur(dp), "final") || dp->finished)
		return; /* ended meanwhile: routing back is next */
	if (op == SHIFT_OP_HOOK) {
		/* a status may have come in before the invocation returned */
		if (!rd_json_str(cur(dp), "exec") ||
		    strcmp(rd_json_str(cur(dp), "exec"), rd_json_str(res, "exec") ? rd_json_str(res, "exec") : ""))
			return;
		if (!in->ok) {
			fail(e, dp, DS_FAILED, in->err.code[0] ? in->err.code : "HOOK_EXECUTION_FAILURE",
			     in->err.message);
			return;
		}
		cur_set(dp, "invoked", json_true());
		save_cursor(e, dp);
		dp->dirty = true;
		return;
	}
	if (json_is_true(json_object_get(res, "alarm"))) {
		dp->stop_rollback =
		    json_is_true(json_object_get(res, "alarm_rollback")) ? ENGINE_ROLLBACK_YES : ENGINE_ROLLBACK_NO;
		fail(e, dp, DS_STOPPED, "ALARM_ACTIVE", in->err.message);
		return;
	}
	if (!in->ok) {
		fail(e, dp, DS_FAILED, in->err.code[0] ? in->err.code : "INTERNAL_ERROR", in->err.message);
		return;
	}
	if (json_is_true(json_object_get(res, "again"))) {
		cur_set(dp, "retry", json_integer(e->now_wall + READY_RETRY_MS));
		dp->shift->wake_ms = e->now_mono + READY_RETRY_MS;
		return;
	}
	if (op == SHIFT_OP_WEIGHT)
		cur_set(dp, "weight", json_integer(json_integer_value(json_object_get(s, "p"))));
	else if (op == SHIFT_OP_COMMIT)
		cur_set(dp, "weight", json_integer(100));
	if (op == SHIFT_OP_WEIGHT || op == SHIFT_OP_COMMIT || json_is_object(state))
		view_update(e, dp);
	step_done(e, dp);
}

bool eng_shift_on_job(struct engine *e, struct eng_input *in, struct eng_shift_end *end)
{
	struct eng_dep *dp = eng_dep_find(e, in->dep);

	if (!dp || dp->finished)
		return false;
	if (json_is_true(json_object_get(in->result, "start"))) {
		if (!dp->resolving)
			return false;
		return started(e, dp, in, end);
	}
	if (dp->shift && dp->shift->cursor)
		op_done(e, dp, in);
	return false;
}

/* ---------------------------------------------------------------- PutLifecycleEventHookExecutionStatus */

/* Why a status is refused, for a deployment the engine does not run. */
static int refuse_elsewhere(struct engine *e, const char *dep, const char *exec, char *msg, size_t msglen)
{
	struct store_hook_execution h;
	json_t *row = NULL;
	int r = store_eng_deployment(e->tx, dep, &row);
	const char *cp = r == 0 ? rd_json_str(row, "compute_platform") : NULL;

	if (r == -ENOENT) {
		snprintf(msg, msglen, "Deployment %s does not exist.", dep);
		return -ENOENT;
	}
	if (r < 0) {
		snprintf(msg, msglen, "cannot read deployment %s", dep);
		return r;
	}
	if (!eng_shift_platform(cp)) {
		snprintf(msg, msglen,
			 "Deployment %s runs on compute platform %s; lifecycle hooks of server deployments are "
			 "reported by their agents, not with PutLifecycleEventHookExecutionStatus",
			 dep, cp ? cp : "Server");
		json_decref(row);
		return -ENOTSUP;
	}
	json_decref(row);
	r = store_eng_hook_find(e->tx, exec, &h);
	if (r < 0 || strcmp(h.deployment_id, dep) != 0) {
		snprintf(msg, msglen, "Deployment %s has no lifecycle hook execution %s.", dep, exec);
		return -ESRCH;
	}
	snprintf(msg, msglen, "The %s hook execution %s of deployment %s already has its status (%s).", h.event, exec,
		 dep, h.status);
	return -EALREADY;
}

void eng_shift_on_hook(struct engine *e, struct eng_input *in)
{
	struct eng_request *req = in->req;
	struct eng_dep *dp = eng_dep_find(e, in->dep);
	const char *exec = req->hook_execution_id ? req->hook_execution_id : "";
	const char *cexec = dp && dp->shift && dp->shift->cursor ? rd_json_str(cur(dp), "exec") : NULL;

	in->req = NULL;
	if (dp && !dp->finished && dp->shift && dp->shift->cursor && cexec && strcmp(cexec, exec) == 0 &&
	    !json_object_get(cur(dp), "final")) {
		const json_t *s = step_at(dp, cur_int(dp, "i"));
		struct eng_target *t = target(dp);
		int ev = (int)json_integer_value(json_object_get(s, "ev"));
		const char *fn = rd_json_str(s, "fn") ? rd_json_str(s, "fn") : "?";
		bool ok = req->hook_status && strcmp(req->hook_status, "Succeeded") == 0;

		DLOG(ok ? LOG_INFO : LOG_NOTICE, dp->id, t->id, t->ev[ev].name, "%s: %s hook %s reported %s", dp->id,
		     t->ev[ev].name, fn, ok ? "Succeeded" : "Failed");
		if (ok) {
			step_done(e, dp);
		} else {
			char msg[512];
			snprintf(msg, sizeof(msg), "The %s hook function %s reported Failed (execution %s)",
				 t->ev[ev].name, fn, exec);
			fail(e, dp, DS_FAILED, "HOOK_EXECUTION_FAILURE", msg);
		}
		req->result = 0;
	} else if (dp && !dp->finished && !dp->shift) {
		snprintf(req->msg, sizeof(req->msg), "Deployment %s is a server deployment", dp->id);
		req->result = -ENOTSUP;
	} else {
		req->result = refuse_elsewhere(e, in->dep, exec, req->msg, sizeof(req->msg));
	}
	eng_outbox_request(e, req); /* answered once this turn committed */
}

/* ---------------------------------------------------------------- restart */

int eng_shift_restore(struct engine *e, struct eng_dep *dp, const json_t *target_rows)
{
	json_t *row = NULL;
	const json_t *final;
	int r = store_eng_shift_get(e->tx, dp->id, &row);

	(void)target_rows;
	if (r < 0 || !json_is_object(json_object_get(row, "cursor")) ||
	    !json_object_get(json_object_get(row, "cursor"), "plan")) {
		json_decref(row);
		return r < 0 ? r : -ENOENT;
	}
	dp->shift = shift_new(rd_json_str(row, "plugin"));
	if (!dp->shift) {
		json_decref(row);
		return -ENOMEM;
	}
	dp->shift->appspec = json_incref(json_object_get(row, "appspec"));
	dp->shift->state = json_incref(json_object_get(row, "state"));
	dp->shift->cursor = json_deep_copy(json_object_get(row, "cursor"));
	json_decref(row);
	if (!owner(e, dp))
		DLOG(LOG_WARNING, dp->id, NULL, NULL,
		     "%s: plugin %s, which runs this deployment, is not loaded; it fails at its next step", dp->id,
		     dp->shift->plugin);
	final = json_object_get(cur(dp), "final");
	if (final)
		dp->stop_rollback = (enum engine_rollback)json_integer_value(json_object_get(final, "rollback"));
	dp->dirty = true;
	return 0;
}
