/* The engine's state machine and its thread (see engine.h for the model).
 *
 * One thread. Each turn takes every queued input, applies them and the
 * deployment steps they lead to inside one store transaction, commits, and
 * only then lets the outbox send the replies and start the plugin work
 * collected meanwhile. If the commit fails, the replies become
 * ServerExceptions and the model is rebuilt from the store (the path a
 * restart takes).
 *
 * The transitions: a deployment is Created, Queued while its group runs
 * another one, InProgress once started (its targets are then resolved by a
 * job), and ends Succeeded, Failed or Stopped (then maybe rolled back).
 * Its targets are started in batches the planner allows (engine_plan.h);
 * each runs its lifecycle events in order, one command at a time through
 * the host-command service, BlockTraffic / AllowTraffic through a traffic
 * job, and ValidateService behind a health gate job when the deployment's
 * alarms name gates. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bundles/bundles.h"
#include "cluster/cluster.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/metrics.h"
#include "core/workpool.h"
#include "engine/engine.h"
#include "engine/engine_autodeploy.h"
#include "engine/engine_autoscale.h"
#include "engine/engine_bg.h"
#include "engine/engine_context.h"
#include "engine/engine_hostcmd.h"
#include "engine/engine_jobs.h"
#include "engine/engine_shift.h"
#include "engine/engine_targets.h"
#include "engine/spec.h"
#include "health/alarms.h"
#include "jsonutil.h"
#include "log.h"
#include "store/store_engine.h"
#include "traffic/traffic.h"
#include "util.h"

#define TAG "engine"
#define ELOG(level, ...) rd_logt((level), TAG, __VA_ARGS__)
#define DLOG ENG_DLOG
#define CHK(expr, what) eng_store_error(e, (expr), (what))

#define PICKUP_TIMEOUT_MS (5 * 60 * 1000)
#define HEARTBEAT_TIMEOUT_MS (45 * 1000)
#define GATE_WORKERS 8
/* How long a transaction holding only writes nobody waits for (commands
 * handed out, acknowledgements, live output) may stay open to share its
 * fsync with the next agent report. */
#define LIGHT_TX_MS 25
/* The longest the engine thread sleeps when no timer is due earlier. */
#define IDLE_WAKE_MS 60000

/* core/metrics.h families, registered by engine_start */
static struct metric *m_dep_seconds, *m_event_seconds;

static void engine_metrics_init(void)
{
	m_dep_seconds = metric_histogram(
	    "rolloutd_deployment_duration_seconds", "Time from a deployment's creation to its end, by final status.",
	    (const char *const[]){"status", NULL}, metric_seconds_buckets, metric_seconds_n_buckets);
	m_event_seconds = metric_histogram("rolloutd_lifecycle_event_duration_seconds",
					   "Time a lifecycle event took on an instance, by event and result.",
					   (const char *const[]){"event", "status", NULL}, metric_seconds_buckets,
					   metric_seconds_n_buckets);
	metric_gauge("rolloutd_long_polls_held", "PollHostCommand calls held open now (agents waiting for work).",
		     NULL);
	metric_gauge("rolloutd_agent_last_seen_timestamp_seconds",
		     "When each instance's agent last polled or reported (Unix time).",
		     (const char *const[]){"instance_name", NULL});
}

static void dep_finish(struct engine *e, struct eng_dep *dp, enum eng_dstatus status, const char *code,
		       const char *msg);
static void dep_try_start(struct engine *e, struct eng_dep *dp);
static int load_dep(struct engine *e, const char *id, struct eng_dep **ret);
static void event_end(struct engine *e, struct eng_target *t, enum eng_status status, json_t *diag, bool agent_issue);
static void dep_resumed(struct engine *e, struct eng_dep *dp);

/* Takes deployment id in: on a cluster it is leased first (to this daemon,
 * or to the one driving its group, which then adopts it: -EREMOTE here). */
static int take_dep(struct engine *e, const char *id, struct eng_dep **ret)
{
	char owner[64];
	const char *self = cluster_self_id(e->d);
	int r;

	if (self && !eng_dep_find(e, id)) {
		r = store_eng_lease_take(e->tx, id, self, owner, sizeof(owner));
		if (r < 0) {
			eng_store_error(e, r, "deployment lease");
			return r;
		}
		if (strcmp(owner, self) != 0) {
			ELOG(LOG_INFO, "%s: driven by daemon %s, which drives its group", id, owner);
			return -EREMOTE;
		}
	}
	return load_dep(e, id, ret);
}

static void dep_set_status(struct engine *e, struct eng_dep *dp, enum eng_dstatus status, int64_t start,
			   int64_t complete, const char *code, const char *msg)
{
	dp->status = status;
	CHK(store_eng_deployment_status(e->tx, dp->id, eng_dstatus_name[status], start, complete, code, msg),
	    "deployment status");
}

/* ---------------------------------------------------------------- targets and their events */

/* Whether the deployment's effective alarmConfiguration is enabled and
 * names alarms: only then can one of them be a per-instance gate. */
static bool dep_may_gate(const struct eng_dep *dp)
{
	return alarms_config_active(alarms_effective_config(dp->group_doc, json_object_get(dp->row, "doc")));
}

/* A job about t's event i (BlockTraffic / AllowTraffic, the health gate). */
static void event_job(struct engine *e, struct eng_target *t, int i, enum eng_job_kind kind)
{
	struct eng_job *j = eng_job_new(kind, t->dep);

	if (!j) {
		eng_store_error(e, -ENOMEM, "job");
		return;
	}
	snprintf(j->target, sizeof(j->target), "%s", t->id);
	j->ev = i;
	j->block = strcmp(t->ev[i].name, "BlockTraffic") == 0;
	if (kind == JOB_GATE)
		j->deployment_json = json_dumps(json_object_get(t->dep->row, "doc"), JSON_COMPACT);
	eng_outbox_job(e, j);
}

static void event_start(struct engine *e, struct eng_target *t, int i)
{
	struct eng_dep *dp = t->dep;

	t->cur = i;
	t->ev[i].status = ST_INPROGRESS;
	t->ev[i].started_ms = e->now_mono;
	CHK(store_eng_event_update(e->tx, dp->id, t->id, i, "InProgress", e->now_wall, 0, NULL), "event start");
	if (t->ev[i].service_side && dp->bg) {
		/* AllowTraffic of a green instance: moved for the whole fleet */
		eng_target_set_bg_wait(t, true);
		dp->dirty = true;
		return;
	}
	if (t->ev[i].service_side) {
		/* the traffic plugin, on a worker; the result comes back as IN_TRAFFIC */
		event_job(e, t, i, JOB_TRAFFIC);
		return;
	}
	if (t->stopped) {
		/* No agent runs there; CodeDeploy fails it and counts it
		 * against minimum healthy hosts. */
		char m[256];
		snprintf(m, sizeof(m), "EC2 instance %s is stopped: start it and redeploy, or remove it from the group",
			 t->id);
		event_end(e, t, ST_FAILED, eng_diag("UnknownError", "", m, ""), false);
		return;
	}
	if (strcmp(t->ev[i].name, "ValidateService") == 0 && i > 0 &&
	    strcmp(t->ev[i - 1].name, "ApplicationStart") == 0 && dep_may_gate(dp)) {
		/* The per-instance health gate (docs/health.md), right after the
		 * instance's ApplicationStart; ValidateService is InProgress
		 * meanwhile and a restart runs the gate again (IN_GATE). */
		event_job(e, t, i, JOB_GATE);
		return;
	}
	eng_hostcmd_send(e, t);
}

static void target_done(struct engine *e, struct eng_target *t, enum eng_status status)
{
	if (status == ST_SUCCEEDED || status == ST_FAILED)
		eng_fire(e, status == ST_SUCCEEDED ? "InstanceSuccess" : "InstanceFailure", t->dep, "InProgress", t->id,
			 eng_status_name[status], NULL, NULL);
	eng_target_set_status(t, status);
	CHK(store_eng_target_status(e->tx, t->dep->id, t->id, eng_status_name[status], e->now_wall), "target");
	for (int i = 0; i < t->nev; i++) {
		if (t->ev[i].status == ST_PENDING) {
			t->ev[i].status = ST_SKIPPED;
			CHK(store_eng_event_update(e->tx, t->dep->id, t->id, i, "Skipped", 0, 0, NULL), "skip");
		}
	}
	t->dep->dirty = true;
}

static void target_start(struct engine *e, struct eng_target *t)
{
	eng_target_set_status(t, ST_INPROGRESS);
	CHK(store_eng_target_status(e->tx, t->dep->id, t->id, "InProgress", e->now_wall), "target start");
	eng_fire(e, "InstanceStart", t->dep, "InProgress", t->id, "InProgress", NULL, NULL);
	event_start(e, t, 0);
}

/* The end of t's current event: the next one starts, or the target ends.
 * diag is stolen. */
static void event_end(struct engine *e, struct eng_target *t, enum eng_status status, json_t *diag, bool agent_issue)
{
	struct eng_dep *dp = t->dep;
	int i = t->cur;
	bool go_on;

	t->ev[i].status = status;
	if (t->ev[i].started_ms)
		metric_observe(m_event_seconds, (double)(e->now_mono - t->ev[i].started_ms) / 1000.0, t->ev[i].name,
			       eng_status_name[status]);
	DLOG(status == ST_FAILED ? LOG_NOTICE : LOG_DEBUG, dp->id, t->id, t->ev[i].name, "%s: %s on %s: %s", dp->id,
	     t->ev[i].name, t->id, eng_status_name[status]);
	CHK(store_eng_event_update(e->tx, dp->id, t->id, i, eng_status_name[status], 0, e->now_wall, diag),
	    "event end");
	json_decref(diag);
	eng_hostcmd_release(e, t);
	go_on = status != ST_FAILED || (dp->ignore_stop_failures && strcmp(t->ev[i].name, "ApplicationStop") == 0);
	if (agent_issue && status == ST_FAILED)
		dp->agent_issue = true;
	if (!go_on) {
		target_done(e, t, ST_FAILED);
		return;
	}
	if (i + 1 < t->nev && !dp->finished)
		event_start(e, t, i + 1);
	else
		target_done(e, t, ST_SUCCEEDED);
}

static void report_apply(struct engine *e, struct eng_report *rep)
{
	event_end(e, rep->t, rep->status, rep->diag, rep->agent_issue);
}

/* ---------------------------------------------------------------- deployments */

struct eng_dep *eng_dep_find(struct engine *e, const char *id)
{
	return rd_strmap_get(&e->dep_index, id);
}

/* Adds dp to the running deployments. Without memory to index it, the
 * turn fails and the state is reloaded (dp is in the list, so freed then). */
static void dep_append(struct engine *e, struct eng_dep *dp)
{
	struct eng_dep **pp = &e->deps;

	while (*pp)
		pp = &(*pp)->next;
	*pp = dp;
	CHK(rd_strmap_add(&e->dep_index, dp->id, dp), "deployment index");
}

static bool group_busy(struct engine *e, const struct eng_dep *self)
{
	if (eng_autoscale_unqueued(self))
		return false;
	for (struct eng_dep *dp = e->deps; dp; dp = dp->next)
		if (dp != self && !dp->finished && !eng_autoscale_unqueued(dp) && dp->status == DS_INPROGRESS &&
		    strcmp(dp->app, self->app) == 0 && strcmp(dp->group, self->group) == 0)
			return true;
	return false;
}

/* alarms.h callback, on a poller thread: hand it to the engine thread. */
static void on_alarm(struct rd_daemon *d, const char *deployment_id, bool rollback, const char *message, void *userdata)
{
	struct engine *e = userdata;
	struct eng_input *in = eng_input_new(IN_ALARM);

	(void)d;
	if (!in)
		return;
	snprintf(in->dep, sizeof(in->dep), "%s", deployment_id);
	rd_error_set(&in->err, -ECANCELED, "ALARM_ACTIVE", "%s", message ? message : "an alarm is active");
	in->alarm_rollback = rollback;
	eng_post(&e->q, in);
}

static void dep_watch_alarms(struct engine *e, struct eng_dep *dp)
{
	int r =
	    alarms_watch_start(e->d, dp->id, dp->creator, dp->group_doc, json_object_get(dp->row, "doc"), on_alarm, e);
	if (r < 0 && r != -EEXIST)
		DLOG(LOG_WARNING, dp->id, NULL, NULL, "%s: cannot watch its alarms: %s", dp->id, strerror(-r));
}

/* Created/Queued -> InProgress (committed), then targets are resolved by
 * the platform plugins on a worker. */
static void dep_try_start(struct engine *e, struct eng_dep *dp)
{
	struct eng_job *j;
	json_t *group = NULL;
	int r;

	if (dp->finished || dp->resolving ||
	    (dp->status != DS_CREATED && dp->status != DS_QUEUED && !(dp->status == DS_INPROGRESS && dp->nt == 0)))
		return;
	if (dp->status != DS_INPROGRESS && group_busy(e, dp)) {
		if (dp->status == DS_CREATED)
			dep_set_status(e, dp, DS_QUEUED, 0, 0, NULL, NULL);
		return;
	}
	r = store_eng_group(e->tx, dp->app, dp->group, &group);
	if (r == -ENOENT) {
		dep_finish(e, dp, DS_FAILED, "DEPLOYMENT_GROUP_MISSING",
			   "The deployment group no longer exists; recreate it and deploy again.");
		return;
	}
	if (r < 0) {
		eng_store_error(e, r, "group");
		return;
	}
	json_decref(dp->group_doc);
	dp->group_doc = group;
	if (dp->status != DS_INPROGRESS) {
		dep_set_status(e, dp, DS_INPROGRESS, e->now_wall, 0, NULL, NULL);
		eng_fire(e, "DeploymentStart", dp, "InProgress", NULL, NULL, NULL, NULL);
	}
	dep_watch_alarms(e, dp);
	if (eng_shift_platform(rd_json_str(dp->row, "compute_platform"))) {
		struct rd_error serr = RD_ERROR_INIT;
		DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: started (%s/%s, %s, creator %s)", dp->id, dp->app, dp->group,
		     dp->config, dp->creator);
		if (eng_shift_start(e, dp, &serr) < 0)
			dep_finish(e, dp, DS_FAILED, serr.code[0] ? serr.code : "INTERNAL_ERROR",
				   serr.message[0] ? serr.message : "out of memory");
		return;
	}
	dp->resolving = true;
	j = eng_job_new(JOB_RESOLVE, dp);
	if (!j) {
		eng_store_error(e, -ENOMEM, "job");
		return;
	}
	if (json_object_get(dp->row, "revision"))
		j->revision_json = json_dumps(json_object_get(dp->row, "revision"), JSON_COMPACT);
	j->deployment_json = json_dumps(json_object_get(dp->row, "doc"), JSON_COMPACT);
	snprintf(j->creator, sizeof(j->creator), "%s", dp->creator);
	eng_outbox_job(e, j);
	DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: started (%s/%s, %s, creator %s)", dp->id, dp->app, dp->group,
	     dp->config, dp->creator);
}

static void start_next_in_group(struct engine *e, const char *app, const char *group)
{
	for (struct eng_dep *dp = e->deps; dp; dp = dp->next) {
		if (!dp->finished && strcmp(dp->app, app) == 0 && strcmp(dp->group, group) == 0 &&
		    (dp->status == DS_CREATED || dp->status == DS_QUEUED)) {
			dep_try_start(e, dp);
			return;
		}
	}
}

static void dep_finish(struct engine *e, struct eng_dep *dp, enum eng_dstatus status, const char *code, const char *msg)
{
	json_t *ov;
	struct eng_dep *nd;
	char newid[12];
	const char *why = status == DS_STOPPED ? "the deployment was stopped" : "the deployment failed";

	if (dp->finished)
		return;
	/* Lambda / ECS: all traffic goes back to the original first */
	if (status != DS_SUCCEEDED && eng_shift_hold(e, dp, status, code, msg))
		return;
	dp->finished = true;
	e->reap = true;
	eng_bgctl_stop(dp->bgctl); /* a running traffic phase flips back */
	eng_bg_finished(e, dp, status);
	for (size_t i = 0; i < dp->nt; i++) {
		struct eng_target *t = dp->t[i];
		eng_target_set_bg_wait(t, false);
		if (t->status == ST_PENDING) {
			target_done(e, t, ST_SKIPPED);
		} else if (t->status == ST_INPROGRESS) {
			char m[256];
			int cur = t->cur;
			snprintf(m, sizeof(m), "Abandoned: %s before %s finished on this instance.", why,
				 t->ev[cur].name);
			eng_hostcmd_abandon(e, t);
			t->ev[cur].status = ST_FAILED;
			json_t *dg = eng_diag("UnknownError", "", m, "");
			CHK(store_eng_event_update(e->tx, dp->id, t->id, cur, "Failed", 0, e->now_wall, dg), "abandon");
			json_decref(dg);
			target_done(e, t, ST_FAILED);
		}
	}
	dep_set_status(e, dp, status, 0, e->now_wall, code, msg);
	if (json_integer_value(json_object_get(dp->row, "create_time")) > 0)
		metric_observe(m_dep_seconds,
			       (double)(e->now_wall - json_integer_value(json_object_get(dp->row, "create_time"))) /
				   1000.0,
			       eng_dstatus_name[status]);
	alarms_watch_stop(e->d, dp->id);
	eng_fire(e,
		 status == DS_SUCCEEDED ? "DeploymentSuccess"
		 : status == DS_STOPPED ? "DeploymentStop"
					: "DeploymentFailure",
		 dp, eng_dstatus_name[status], NULL, NULL, code, msg);
	ov = eng_dep_overview(dp);
	CHK(store_eng_deployment_overview(e->tx, dp->id, ov), "overview");
	json_decref(ov);
	/* the group's last deployments are read from the deployments themselves;
	 * a scale-out deployment may end after a newer revision succeeded */
	eng_autoscale_finished(e, dp, status);
	if (status == DS_SUCCEEDED && !eng_autoscale_unqueued(dp))
		CHK(store_eng_group_succeeded(e->tx, dp->app, dp->group, json_object_get(dp->row, "revision")),
		    "group target revision");
	DLOG(status == DS_SUCCEEDED ? LOG_INFO : LOG_NOTICE, dp->id, NULL, NULL, "%s: %s%s%s", dp->id,
	     eng_dstatus_name[status], msg ? ": " : "", msg ? msg : "");
	if (dp->have_bundle) {
		if (status == DS_SUCCEEDED && rd_json_str(dp->group_doc, "deploymentGroupId"))
			bundles_set_last_good(e->d, rd_json_str(dp->group_doc, "deploymentGroupId"), dp->bundle_sha);
		bundles_unpin(e->d, dp->id);
	}
	if (status != DS_SUCCEEDED && eng_rollback_wanted(dp, status) &&
	    eng_rollback_create(e, dp, status, newid) == 0 && take_dep(e, newid, &nd) == 0)
		dep_try_start(e, nd);
	start_next_in_group(e, dp->app, dp->group);
	if (status == DS_SUCCEEDED)
		e->instances_changed = true; /* new hosts may have appeared meanwhile */
}

/* Starts the targets the planner allows, or ends the deployment. */
static void dep_advance(struct engine *e, struct eng_dep *dp)
{
	struct eng_counts c;
	struct eng_step s;
	char msg[512];
	json_t *ov;

	if (dp->finished || dp->status != DS_INPROGRESS || dp->resolving || dp->nt == 0)
		return;
	if (dp->shift) {
		struct eng_shift_end end;
		if (dp->stop_requested)
			eng_shift_hold(e, dp, DS_STOPPED, "MANUAL_STOP",
				       "The deployment was stopped by a user request.");
		if (eng_shift_advance(e, dp, &end))
			dep_finish(e, dp, end.status, end.code[0] ? end.code : NULL,
				   end.message[0] ? end.message : NULL);
		return;
	}
	if (dp->stop_requested) {
		dep_finish(e, dp, DS_STOPPED, "MANUAL_STOP", "The deployment was stopped by a user request.");
		return;
	}
	c = eng_dep_counts(dp);
	if (c.pending + c.in_progress + c.succeeded + c.failed == 0) {
		/* Every instance was up to date (updateOutdatedInstancesOnly). */
		dep_finish(e, dp, DS_SUCCEEDED, NULL, NULL);
		return;
	}
	s = eng_plan_step(&dp->pol, &c);
	switch (eng_bg_step(e, dp, s.verdict, msg, sizeof(msg))) {
	case BG_STEP_FAIL:
		dep_finish(e, dp, DS_FAILED, "HEALTH_CONSTRAINTS", msg);
		return;
	case BG_STEP_WAIT:
		return;
	case BG_STEP_START_BLUE:
		for (size_t i = 0; i < dp->nt; i++)
			if (dp->t[i]->blue && dp->t[i]->status == ST_PENDING)
				target_start(e, dp->t[i]);
		return;
	case BG_STEP_GO_ON:
		break;
	}
	if (s.verdict == ENG_SUCCEEDED) {
		dep_finish(e, dp, DS_SUCCEEDED, NULL, NULL);
		return;
	}
	if (s.verdict == ENG_FAILED) {
		if (dp->fail_code[0])
			dep_finish(
			    e, dp, DS_FAILED, dp->fail_code,
			    "The deployment failed because traffic to an instance could not be blocked or allowed; "
			    "see the instance's BlockTraffic/AllowTraffic event.");
		else if (dp->agent_issue)
			dep_finish(e, dp, DS_FAILED, "AGENT_ISSUE",
				   "The deployment failed because an instance's agent did not pick up or stopped "
				   "reporting on a lifecycle event. Check that rollout-agent runs on the failed "
				   "instances and can reach rolloutd.");
		else
			dep_finish(e, dp, DS_FAILED, "HEALTH_CONSTRAINTS", ENG_MSG_HEALTH_CONSTRAINTS);
		return;
	}
	/* Targets start in order and never become Pending again: start from
	 * the first that may still be Pending. */
	for (; dp->next_start < dp->nt && s.start > 0; dp->next_start++) {
		struct eng_target *t = dp->t[dp->next_start];
		if (t->status == ST_PENDING && !t->blue) {
			target_start(e, t);
			s.start--;
		}
	}
	while (dp->next_start < dp->nt && (dp->t[dp->next_start]->status != ST_PENDING || dp->t[dp->next_start]->blue))
		dp->next_start++;
	/* the stored overview changes only with the counts */
	if (memcmp(dp->count, dp->count_stored, sizeof(dp->count)) != 0) {
		memcpy(dp->count_stored, dp->count, sizeof(dp->count));
		ov = eng_dep_overview(dp);
		CHK(store_eng_deployment_overview(e->tx, dp->id, ov), "overview");
		json_decref(ov);
	}
}

/* Pins the deployment's bundle and lets its instances download it. */
static void dep_bundle_attach(struct engine *e, struct eng_dep *dp, const char *sha, uint64_t size)
{
	int r;

	dp->have_bundle = true;
	snprintf(dp->bundle_sha, sizeof(dp->bundle_sha), "%s", sha);
	dp->bundle_size = size;
	r = bundles_pin(e->d, sha, dp->id);
	if (r < 0)
		DLOG(LOG_WARNING, dp->id, NULL, NULL, "%s: cannot pin bundle %s: %s", dp->id, sha, strerror(-r));
	for (size_t i = 0; i < dp->nt; i++)
		bundles_grant(e->d, dp->id, dp->t[i]->id);
}

/* ---------------------------------------------------------------- inputs */

/* The resolve job's answer: the deployment's targets, stored Pending (or
 * Skipped when up to date), in deployment order. */
static void on_resolved(struct engine *e, struct eng_input *in)
{
	struct eng_dep *dp = eng_dep_find(e, in->dep);
	struct eng_selection sel = {0};
	struct rd_error perr = RD_ERROR_INIT;
	const json_t *doc;
	size_t deploy = 0;
	int r;

	if (!dp || dp->finished || !dp->resolving)
		return;
	dp->resolving = false;
	if (!in->targets) {
		dep_finish(e, dp, DS_FAILED, in->err.code[0] ? in->err.code : "INTERNAL_ERROR", in->err.message);
		return;
	}
	{
		/* Traffic control of the group: parsing only, no plugin call. */
		struct traffic_group *g = NULL;
		struct rollout_error terr = {.size = sizeof(terr)};
		char *gj = json_dumps(dp->group_doc, JSON_COMPACT);
		int rt = traffic_group_parse(e->d->plugins, gj ? gj : "{}", &g, &terr);
		bool bg;
		free(gj);
		if (rt < 0) {
			dep_finish(e, dp, DS_FAILED, terr.code[0] ? terr.code : "ELASTIC_LOAD_BALANCING_INVALID",
				   terr.message);
			return;
		}
		bg = traffic_group_blue_green(g);
		dp->traffic = traffic_group_in_place(g);
		traffic_group_free(g);
		dp->bg = bg && in->bg;
	}
	doc = json_object_get(dp->row, "doc");
	r = eng_targets_select(e->tx, dp->id, dp->app, dp->group, in->targets, json_object_get(doc, "rolloutTargetIds"),
			       json_is_true(json_object_get(doc, "updateOutdatedInstancesOnly")),
			       json_object_get(dp->row, "revision"), &sel);
	if (r < 0) {
		eng_store_error(e, r, "target selection");
		return;
	}
	eng_dep_clear_targets(dp); /* empty after a restart while resolving */
	dp->t = calloc(sel.n + json_array_size(in->blue) + 1, sizeof(*dp->t));
	if (!dp->t) {
		eng_store_error(e, -ENOMEM, "targets");
		goto out;
	}
	if (sel.n == 0) {
		dep_finish(e, dp, DS_FAILED, "NO_INSTANCES", ENG_MSG_NO_INSTANCES);
		goto out;
	}
	for (size_t i = 0; i < sel.n; i++) {
		struct eng_target *t = eng_target_new(dp, sel.v[i].id, rd_json_str(sel.v[i].src, "targetArn"), (int)i,
						      in->bg_rollback ? FLEET_ORIGINAL : eng_dep_fleet(dp));
		if (!t) {
			eng_store_error(e, -ENOMEM, "target");
			goto out;
		}
		t->last_failed = sel.v[i].last_failed;
		t->stopped = rd_json_str(sel.v[i].src, "instanceState") &&
			     !strcmp(rd_json_str(sel.v[i].src, "instanceState"), "stopped");
		t->status = sel.v[i].up_to_date ? ST_SKIPPED : ST_PENDING;
		dp->t[dp->nt++] = t;
		CHK(store_eng_target_insert(e->tx, dp->id, t->id, t->seq, t->arn, eng_status_name[t->status],
					    dp->bg	      ? "Green"
					    : in->bg_rollback ? "Blue"
							      : NULL,
					    NULL, e->now_wall),
		    "target insert");
		for (int j = 0; j < t->nev; j++) {
			if (t->status == ST_SKIPPED)
				t->ev[j].status = ST_SKIPPED;
			CHK(store_eng_event_insert(e->tx, dp->id, t->id, j, t->ev[j].name,
						   eng_status_name[t->ev[j].status]),
			    "event insert");
		}
		if (t->status == ST_PENDING)
			deploy++;
	}
	if (dp->bg)
		eng_bg_add_blue(e, dp, in->blue);
	if (in->bg_rollback)
		eng_bg_rollback_resolved(e, dp);
	if (deploy > 0 && eng_targets_policy(e->tx, dp->config, (int)deploy, &dp->pol, &perr) < 0) {
		dep_finish(e, dp, DS_FAILED, perr.code, perr.message);
		goto out;
	}
	if (in->have_bundle) {
		json_t *b = json_pack("{s:s,s:I,s:s}", "sha256", in->sha256, "size", (json_int_t)in->size, "bundleType",
				      in->bundle_type);
		CHK(store_eng_bundle_set(e->tx, dp->id, b), "bundle");
		json_decref(b);
		dep_bundle_attach(e, dp, in->sha256, in->size);
	}
	DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: %zu target(s), %zu to deploy", dp->id, dp->nt, deploy);
	dp->dirty = true;
out:
	eng_selection_free(&sel);
}

/* BlockTraffic / AllowTraffic of one instance done. */
static void on_traffic(struct engine *e, struct eng_input *in)
{
	struct eng_dep *dp = eng_dep_find(e, in->dep);
	struct eng_target *t = dp && !dp->finished ? eng_target_find(dp, in->target) : NULL;

	if (!t || t->status != ST_INPROGRESS || t->cur != in->ev || t->ev[in->ev].status != ST_INPROGRESS)
		return; /* stopped or already handled */
	if (in->ok) {
		event_end(e, t, ST_SUCCEEDED, eng_diag("Success", "", "Succeeded", ""), false);
		return;
	}
	snprintf(dp->fail_code, sizeof(dp->fail_code), "%s", in->err.code);
	DLOG(LOG_WARNING, dp->id, t->id, t->ev[in->ev].name, "%s: %s of %s failed: %s", dp->id, t->ev[in->ev].name,
	     t->id, in->err.message);
	event_end(e, t, ST_FAILED, eng_diag("UnknownError", "", in->err.message, ""), false);
}

/* The gate's verdict: healthy, ValidateService's hook runs; not healthy,
 * ValidateService fails with the gate's reason (and the instance with it). */
static void on_gate(struct engine *e, struct eng_input *in)
{
	struct eng_dep *dp = eng_dep_find(e, in->dep);
	struct eng_target *t = dp && !dp->finished ? eng_target_find(dp, in->target) : NULL;

	if (!t || t->status != ST_INPROGRESS || t->cur != in->ev || t->ev[in->ev].status != ST_INPROGRESS ||
	    t->phase != PH_NONE)
		return; /* stopped or already handled */
	if (in->ok) {
		eng_hostcmd_send(e, t);
		return;
	}
	DLOG(LOG_NOTICE, dp->id, t->id, t->ev[in->ev].name, "%s: health gate of %s failed: %s", dp->id, t->id,
	     in->err.message);
	event_end(e, t, ST_FAILED, eng_diag("UnknownError", "", in->err.message, ""), false);
}

static void on_alarm_input(struct engine *e, struct eng_input *in)
{
	struct eng_dep *dp = eng_dep_find(e, in->dep);

	if (!dp || dp->finished || dp->status != DS_INPROGRESS)
		return; /* ended meanwhile */
	dp->stop_rollback = in->alarm_rollback ? ENGINE_ROLLBACK_YES : ENGINE_ROLLBACK_NO;
	dep_finish(e, dp, DS_STOPPED, "ALARM_ACTIVE", in->err.message);
}

/* The traffic phase of a blue/green deployment ended. */
static void on_bg(struct engine *e, struct eng_input *in)
{
	struct eng_dep *dp = eng_dep_find(e, in->dep);

	if (!dp || dp->finished)
		return;
	if (dp->bg_phase == BG_RETIRING) {
		/* the termination wait began, or the original fleet's end is done */
		if (in->wait_end) {
			eng_bg_wait_started(e, dp, in->wait_end);
			return;
		}
		dp->bg_phase = BG_RETIRED;
		dp->term_wait = false;
		if (in->ok)
			dep_advance(e, dp);
		else
			dep_finish(e, dp, DS_FAILED, in->err.code, in->err.message);
		return;
	}
	if (dp->bg_phase != BG_MOVING_TRAFFIC)
		return;
	/* a failed traffic phase left traffic on (or took it back to) blue and
	 * discarded green itself: nothing of the fleets is left to do */
	dp->bg_phase = in->ok ? BG_TRAFFIC_MOVED : BG_RETIRED;
	if (!in->ok && dp->ready && strcmp(in->err.code, "TIMEOUT") == 0) {
		/* STOP_DEPLOYMENT and nobody continued within waitTimeInMinutes:
		 * Stopped, as on CodeDeploy; green never got traffic. */
		dp->ready = false;
		for (size_t i = 0; i < dp->nt; i++) {
			struct eng_target *t = dp->t[i];
			eng_target_set_bg_wait(t, false);
			if (t->blue && t->status == ST_INPROGRESS) {
				/* blue kept its traffic: its BlockTraffic never happened */
				t->ev[t->cur].status = ST_SKIPPED;
				CHK(store_eng_event_update(e->tx, dp->id, t->id, t->cur, "Skipped", 0, e->now_wall,
							   NULL),
				    "blue skip");
				target_done(e, t, ST_SKIPPED);
			}
		}
		dep_finish(e, dp, DS_STOPPED, "TIMEOUT", in->err.message);
		return;
	}
	dp->ready = false;
	if (!in->ok) {
		snprintf(dp->fail_code, sizeof(dp->fail_code), "%s", in->err.code);
		DLOG(LOG_NOTICE, dp->id, NULL, NULL, "%s: traffic phase failed: %s", dp->id, in->err.message);
	}
	for (size_t i = 0; i < dp->nt; i++) {
		struct eng_target *t = dp->t[i];
		if (!t->bg_wait)
			continue;
		eng_target_set_bg_wait(t, false);
		event_end(e, t, in->ok ? ST_SUCCEEDED : ST_FAILED,
			  in->ok ? eng_diag("Success", "", "Succeeded", "")
				 : eng_diag("UnknownError", "", in->err.message, ""),
			  false);
	}
	if (!in->ok) {
		/* The whole green fleet failed AllowTraffic: the deployment fails
		 * with the traffic phase's code (traffic already flipped back). */
		if (strcmp(in->err.code, "ALARM_ACTIVE") == 0)
			dep_finish(e, dp, DS_STOPPED, "ALARM_ACTIVE", in->err.message);
		else
			dep_finish(e, dp, DS_FAILED, in->err.code, in->err.message);
	}
}

/* A request about a deployment that is not running here: Created or
 * Queued is simply not waiting. */
static int not_running(struct engine *e, const char *id)
{
	json_t *row = NULL;
	int r = store_eng_deployment(e->tx, id, &row);
	const char *st = r == 0 ? rd_json_str(row, "status") : NULL;
	bool done = st && (!strcmp(st, "Succeeded") || !strcmp(st, "Failed") || !strcmp(st, "Stopped"));

	json_decref(row);
	return r == -ENOENT ? -ENOENT : r < 0 ? r : done ? -EALREADY : -EAGAIN;
}

static void on_stop(struct engine *e, struct eng_input *in)
{
	struct eng_request *req = in->req;
	struct eng_dep *dp = eng_dep_find(e, in->dep);

	if (!dp || dp->finished) {
		req->result = not_running(e, in->dep);
		if (req->result == -EALREADY)
			snprintf(req->msg, sizeof(req->msg), "Deployment %s has already completed.", in->dep);
	} else {
		dp->stop_requested = true;
		dp->stop_rollback = req->rollback;
		if (dp->status != DS_INPROGRESS || dp->resolving || dp->nt == 0)
			dep_finish(e, dp, DS_STOPPED, "MANUAL_STOP", "The deployment was stopped by a user request.");
		else
			dep_advance(e, dp);
		req->result = 0;
		snprintf(req->msg, sizeof(req->msg), "Deployment of %s stopped.", dp->id);
	}
	in->req = NULL;
	eng_outbox_request(e, req);
}

static void on_continue(struct engine *e, struct eng_input *in)
{
	struct eng_request *req = in->req;
	struct eng_dep *dp = eng_dep_find(e, in->dep);

	if (!dp || dp->finished)
		req->result = not_running(e, in->dep);
	else if (dp->shift)
		req->result = eng_shift_continue(e, dp, req->termination_wait);
	else
		req->result = req->termination_wait ? eng_bg_end_wait(e, dp) : eng_bg_continue(e, dp);
	in->req = NULL;
	eng_outbox_request(e, req);
}

static void apply(struct engine *e, struct eng_input *in)
{
	struct eng_report rep;
	struct eng_dep *dp;
	char newid[12];

	switch (in->kind) {
	case IN_CREATED:
		if (take_dep(e, in->dep, &dp) == 0)
			dep_try_start(e, dp);
		break;
	case IN_ADOPT:
		/* leased here by another daemon; a restart's resume for it */
		if (!eng_dep_find(e, in->dep) && take_dep(e, in->dep, &dp) == 0) {
			DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: adopted (%s)", dp->id, eng_dstatus_name[dp->status]);
			dep_resumed(e, dp);
		}
		break;
	case IN_CALL:
		if (in->call->unadmitted && !e->io->admit(in->call)) {
			in->call = eng_call_free(in->call); /* answered with its refusal */
			break;
		}
		if (eng_hostcmd_handle(e, in->call, &rep) > 0)
			report_apply(e, &rep);
		in->call = NULL; /* answered, now or by the outbox */
		break;
	case IN_RESOLVED:
		on_resolved(e, in);
		break;
	case IN_AUTOUPDATE:
		if (eng_autoupdate_create(e, in, newid) == 0 && take_dep(e, newid, &dp) == 0)
			dep_try_start(e, dp);
		break;
	case IN_LIFECYCLE: {
		json_t *ids = eng_autoscale_apply(e, in), *v;
		size_t i;
		json_array_foreach(ids, i, v) if (take_dep(e, json_string_value(v), &dp) == 0) dep_try_start(e, dp);
		json_decref(ids);
		break;
	}
	case IN_STOP:
		on_stop(e, in);
		break;
	case IN_INSTANCES:
		e->instances_changed = true;
		break;
	case IN_ALARM:
		on_alarm_input(e, in);
		break;
	case IN_TRAFFIC:
		on_traffic(e, in);
		break;
	case IN_GATE:
		on_gate(e, in);
		break;
	case IN_BG:
		on_bg(e, in);
		break;
	case IN_CONTINUE:
		on_continue(e, in);
		break;
	case IN_SHIFT: {
		struct eng_shift_end end;
		if (eng_shift_on_job(e, in, &end) && (dp = eng_dep_find(e, in->dep)))
			dep_finish(e, dp, end.status, end.code, end.message);
		break;
	}
	case IN_HOOK:
		eng_shift_on_hook(e, in);
		break;
	case IN_HOSTNOTE:
		eng_hostcmd_notice(e, in->target, in->url);
		break;
	}
}

/* ---------------------------------------------------------------- timers */

/* Schedules dp's timer at its next wait's end (a Lambda / ECS step's wake,
 * a blue/green ready deadline) unless it is due before; it may fire early
 * (the wait was cut short), the checks then find nothing to do. */
static void dep_arm(struct engine *e, struct eng_dep *dp)
{
	int64_t at = INT64_MAX;

	if (dp->finished)
		return;
	if (dp->shift && dp->shift->wake_ms)
		at = dp->shift->wake_ms;
	if (dp->ready && dp->ready_deadline < at)
		at = dp->ready_deadline;
	if (at == INT64_MAX || (rd_timer_pending(&dp->timer) && dp->timer.at <= at))
		return;
	if (rd_timer_schedule(&e->dep_timers, &dp->timer, at) < 0)
		eng_store_error(e, -ENOMEM, "deployment timer");
}

/* The deployments and hosts whose timers are due; nothing else is looked
 * at. */
static void run_timers(struct engine *e)
{
	struct eng_report *reps = NULL;
	struct rd_timer *tm;
	size_t n;

	while ((tm = rd_timerheap_pop_due(&e->dep_timers, e->now_mono))) {
		struct eng_dep *dp = (struct eng_dep *)((char *)tm - offsetof(struct eng_dep, timer));
		eng_shift_tick(e, dp);
		if (dp->ready && !dp->finished && e->now_mono >= dp->ready_deadline) {
			dp->ready = false;
			dep_finish(e, dp, DS_STOPPED, "TIMEOUT",
				   "nobody called ContinueDeployment within waitTimeInMinutes, so traffic stays on the "
				   "original (blue) fleet (deploymentReadyOption STOP_DEPLOYMENT); deploy again, and "
				   "call ContinueDeployment in time or use CONTINUE_DEPLOYMENT");
		}
		/* armed again by advance_dirty at the end of the turn */
	}
	n = eng_hostcmd_timers(e, &reps);
	for (size_t i = 0; i < n; i++)
		report_apply(e, &reps[i]);
	free(reps);
}

/* When the engine thread must wake for a timer (monotonic), or INT64_MAX. */
static int64_t next_timer(const struct engine *e)
{
	const struct rd_timer *tm = rd_timerheap_first(&e->dep_timers);
	int64_t at = eng_hostcmd_next_timer(e), as = eng_autoscale_next(e);

	if (as < at)
		at = as;
	return tm && tm->at < at ? tm->at : at;
}

/* ---------------------------------------------------------------- restart */

/* After a restart: what each target of a running deployment was doing
 * continues (a command waits for its host again, a daemon-side event runs
 * again). */
static void dep_resume_targets(struct engine *e, struct eng_dep *dp, const json_t *rows)
{
	const json_t *tj;
	size_t i;

	json_array_foreach(rows, i, tj)
	{
		struct eng_target *t = i < dp->nt ? dp->t[i] : NULL;
		const json_t *cmd = json_object_get(tj, "command");

		if (!t || t->status != ST_INPROGRESS)
			continue;
		if (t->ev[t->cur].status == ST_INPROGRESS && json_is_object(cmd) &&
		    json_integer_value(json_object_get(cmd, "lifecycle_seq")) == t->cur) {
			const char *cs = rd_json_str(cmd, "status");
			/* Handed out and acknowledged before the restart: the agent
			 * runs it and will report (or fail it with error code 7). A
			 * command handed out but never acknowledged is offered
			 * again. */
			eng_hostcmd_restore(e, t, json_integer_value(json_object_get(cmd, "id")),
					    cs && strcmp(cs, "InProgress") == 0,
					    json_is_integer(json_object_get(cmd, "acked_time")));
		} else {
			/* A daemon-side event (traffic, gate) or one whose end was
			 * committed without the next start: start it (again). */
			int nx = -1;
			for (int k = 0; k < t->nev; k++)
				if (t->ev[k].status == ST_PENDING || t->ev[k].status == ST_INPROGRESS) {
					nx = k;
					break;
				}
			if (nx >= 0)
				event_start(e, t, nx);
			else
				target_done(e, t, ST_SUCCEEDED);
		}
	}
}

/* Loads a deployment row into memory (once). */
static int load_dep(struct engine *e, const char *id, struct eng_dep **ret)
{
	json_t *row = NULL, *targets = NULL, *b = NULL;
	struct eng_dep *dp;
	int r, st;

	dp = eng_dep_find(e, id);
	if (dp) {
		*ret = dp;
		return 0;
	}
	r = store_eng_deployment(e->tx, id, &row);
	if (r < 0)
		return r;
	st = eng_dstatus_parse(rd_json_str(row, "status"));
	if ((strcmp(rd_json_str(row, "compute_platform") ? rd_json_str(row, "compute_platform") : "Server", "Server") !=
		 0 &&
	     !eng_shift_platform(rd_json_str(row, "compute_platform"))) ||
	    st < 0 || st > DS_INPROGRESS) {
		json_decref(row);
		return -ENOTSUP; /* not ours, or already finished */
	}
	dp = eng_dep_from_row(row);
	if (!dp) {
		json_decref(row);
		return -ENOMEM;
	}
	if (dp->status == DS_INPROGRESS) {
		r = store_eng_group(e->tx, dp->app, dp->group, &dp->group_doc);
		if (r < 0 && r != -ENOENT)
			goto fail;
		r = store_eng_targets(e->tx, id, &targets);
		if (r == 0)
			r = eng_dep_restore_targets(dp, targets);
		if (r < 0)
			goto fail;
		if (eng_shift_platform(rd_json_str(row, "compute_platform"))) {
			/* no stored steps yet: the start runs again */
			if (eng_shift_restore(e, dp, targets) < 0)
				eng_dep_clear_targets(dp);
			json_decref(targets);
			dep_append(e, dp);
			*ret = dp;
			return 0;
		}
		dep_resume_targets(e, dp, targets);
		json_decref(targets);
		targets = NULL;
		if (store_eng_bundle_get(e->tx, dp->id, &b) == 0 && rd_json_str(b, "sha256"))
			dep_bundle_attach(e, dp, rd_json_str(b, "sha256"),
					  (uint64_t)json_integer_value(json_object_get(b, "size")));
		json_decref(b);
		if (dp->nt > 0) {
			size_t deploy = 0;
			for (size_t x = 0; x < dp->nt; x++)
				deploy += dp->t[x]->status != ST_SKIPPED && !dp->t[x]->blue;
			if (deploy > 0 && eng_targets_policy(e->tx, dp->config, (int)deploy, &dp->pol, NULL) < 0)
				dp->pol = (struct eng_policy){
				    .total = (int)deploy, .min_healthy = 1, .max_unhealthy = 1, .one_at_a_time = true};
		}
		dp->dirty = true;
	}
	dep_append(e, dp);
	*ret = dp;
	return 0;
fail:
	json_decref(targets);
	eng_dep_free(dp);
	return r;
}

/* Loads every unfinished deployment; runs inside a transaction. */
static void resume(struct engine *e)
{
	json_t *ids = NULL, *v;
	size_t i;
	struct eng_dep *dp;

	if (store_eng_leased_ids(e->tx, cluster_self_id(e->d), &ids) < 0) {
		eng_store_error(e, -EIO, "active deployments");
		return;
	}
	json_array_foreach(ids, i, v)
	{
		if (load_dep(e, json_string_value(v), &dp) == 0)
			DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: resumed (%s)", dp->id, eng_dstatus_name[dp->status]);
	}
	json_decref(ids);
	for (dp = e->deps; dp; dp = dp->next)
		if (dp->status == DS_INPROGRESS)
			dep_resumed(e, dp);
	for (dp = e->deps; dp; dp = dp->next)
		if (dp->status == DS_CREATED || dp->status == DS_QUEUED)
			dep_try_start(e, dp);
}

/* A running deployment just loaded from the store (a restart, a takeover)
 * goes on where it was. */
static void dep_resumed(struct engine *e, struct eng_dep *dp)
{
	if (dp->status == DS_INPROGRESS && dp->nt == 0)
		dep_try_start(e, dp); /* crashed while resolving: resolve again */
	else if (dp->status == DS_INPROGRESS)
		dep_watch_alarms(e, dp);
	else
		dep_try_start(e, dp);
}

static void free_state(struct engine *e)
{
	struct eng_dep *dp = e->deps, *next;

	rd_strmap_clear(&e->dep_index);
	rd_timerheap_clear(&e->dep_timers);
	for (; dp; dp = next) {
		next = dp->next;
		eng_bgctl_stop(dp->bgctl); /* a running traffic phase ends (flips back) */
		/* polled again by whoever loads it next: this daemon after a reload,
		 * or the one that took it over while this one was fenced (a watch
		 * left here would poll for a deployment it no longer drives, and its
		 * one stop could be spent while this engine holds nothing) */
		alarms_watch_stop(e->d, dp->id);
		eng_dep_free(dp);
	}
	e->deps = NULL;
	e->reap = false;
	eng_hosts_free(e);
}

static void reap_finished(struct engine *e)
{
	struct eng_dep **pp = &e->deps;

	if (!e->reap)
		return;
	e->reap = false;
	while (*pp) {
		struct eng_dep *dp = *pp;
		if (dp->finished) {
			*pp = dp->next;
			rd_timer_cancel(&e->dep_timers, &dp->timer);
			rd_strmap_del(&e->dep_index, dp->id);
			eng_dep_free(dp);
		} else {
			pp = &dp->next;
		}
	}
}

/* ---------------------------------------------------------------- the loop */

/* Advances the deployments something happened to and arms the timers of
 * those that wait. */
static void advance_dirty(struct engine *e)
{
	for (struct eng_dep *dp = e->deps; dp; dp = dp->next) {
		if (dp->dirty) {
			dp->dirty = false;
			dep_advance(e, dp);
		}
		if (dp->shift || dp->ready)
			dep_arm(e, dp);
	}
}

/* Tells io->changed which deployments the committed transaction wrote. */
static void announce(struct engine *e, json_t *touched)
{
	const char *id;
	json_t *v;

	if (!e->io->changed)
		return;
	json_object_foreach(touched, id, v)
	{
		e->io->changed(e->io->changed_arg, id);
	}
}

static void batch_free(struct eng_input *batch)
{
	for (struct eng_input *in = batch, *next; in; in = next) {
		next = in->next;
		eng_input_free(in); /* in->req belongs to its (answered) requester */
	}
}

static void *engine_main(void *arg)
{
	struct engine *e = arg;
	bool first = true;
	int64_t tx_deadline = 0;

	for (;;) {
		struct eng_input *batch, *in;
		bool quit, heavy;
		int64_t wake = next_timer(e), now = rd_mono_ms();
		int r = 0;

		/* Sleep until an input arrives, the open transaction is old
		 * enough, or the earliest timer is due; an idle engine without
		 * timers looks up once a minute. */
		if (e->tx && tx_deadline < wake)
			wake = tx_deadline;
		if (wake > now + IDLE_WAKE_MS)
			wake = now + IDLE_WAKE_MS;
		if (cluster_drive_deadline(e->d) > now && cluster_drive_deadline(e->d) < wake)
			wake = cluster_drive_deadline(e->d); /* stop driving in time */
		batch = eng_queue_take(&e->q, !first, wake, &quit);
		e->now_wall = rd_wall_ms();
		e->now_mono = rd_mono_ms();
		if (!e->tx) {
			uint64_t inc = 0;
			bool driving = cluster_driving(e->d, &inc);
			e->tx_err = 0;
			/* On a cluster: drive nothing while the heartbeat is stale, and
			 * reload what this daemon holds after it registered again. */
			r = !driving || inc != e->incarnation ? -ESTALE : store_eng_begin(e->d->store, &e->tx);
			if (r == 0) {
				r = store_eng_fence_check(e->tx, cluster_self_id(e->d));
				if (r < 0) {
					store_eng_rollback(e->tx);
					e->tx = NULL;
				}
			}
			if (r == -ESTALE && !e->fenced)
				ELOG(LOG_WARNING, "this daemon's cluster lease is not fresh: dropping its deployments "
						  "until it is (the other daemons take them over)");
			else if (r < 0 && r != -ESTALE)
				ELOG(LOG_ERR, "cannot begin a store transaction: %s", strerror(-r));
			e->fenced = r == -ESTALE;
			if (driving)
				e->incarnation = inc;
			if (r < 0)
				e->tx = NULL;
			tx_deadline = e->now_mono + LIGHT_TX_MS;
		}
		heavy = first || quit;
		if (e->tx) {
			if (first)
				resume(e);
			for (in = batch; in; in = in->next) {
				if (quit && in->kind == IN_CALL) {
					eng_reply_error(e, in->call, "ServerException", "rolloutd is shutting down");
					in->call = NULL;
					continue;
				}
				if (in->kind != IN_CALL)
					heavy = true;
				apply(e, in);
				e->inputs_total++;
			}
			run_timers(e);
			eng_autoscale_tick(e);
			advance_dirty(e);
			eng_autoupdate_tick(e);
			/* Commit now when someone waits for it (a report's answer, a
			 * stop, plugin work, a finished deployment) or the light
			 * transaction is old enough; else keep it open (group commit). */
			heavy = heavy || eng_outbox_pending(e) || e->tx_err || e->reap;
			if (!heavy && store_eng_has_writes(e->tx) && e->now_mono < tx_deadline) {
				batch_free(batch);
				continue;
			}
			if (e->tx_err == 0) {
				json_t *touched = json_incref(store_eng_touched(e->tx));

				r = store_eng_commit(e->tx);
				e->commits++;
				if (r == 0)
					announce(e, touched);
				json_decref(touched);
			} else {
				store_eng_rollback(e->tx);
				r = e->tx_err;
			}
			e->tx = NULL;
		}
		if (r < 0) {
			/* Nothing of this transaction is durable: refuse what waited for
			 * it and rebuild the state from the store. */
			if (r != -ESTALE)
				ELOG(LOG_ERR, "store transaction failed (%s); reloading the engine state",
				     strerror(-r));
			eng_outbox_flush(e, false);
			for (in = batch; in; in = in->next) {
				if (in->call) {
					eng_refuse(e, in->call, 500, "ServerException", "retry");
					in->call = NULL;
				}
				if (in->req) {
					eng_request_done(in->req, -EIO);
					in->req = NULL;
				}
			}
			free_state(e);
			first = true;
		} else {
			eng_outbox_flush(e, true);
			reap_finished(e);
			first = false;
		}
		eng_hostcmd_announce(e);
		batch_free(batch);
		if (quit)
			break;
		if (first) {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	free_state(e);
	return NULL;
}

/* ---------------------------------------------------------------- start and stop */

static int64_t env_ms(const char *name, int64_t def)
{
	const char *v = getenv(name);
	char *end;
	long long x;

	if (!v || !*v)
		return def;
	x = strtoll(v, &end, 10);
	return *end || x <= 0 ? def : x;
}

static void engine_free(struct engine *e)
{
	eng_autoscale_free(e);
	spec_signer_free(e->signer);
	e->gate_pool = workpool_free(e->gate_pool);
	eng_queue_destroy(&e->q);
	free(e);
}

int engine_start(struct rd_daemon *d, const struct engine_io *io, struct rd_error *err)
{
	struct engine *e;
	int64_t n;
	int r;

	engine_metrics_init();
	e = calloc(1, sizeof(*e));
	if (!e)
		return rd_error_set(err, -ENOMEM, "INTERNAL_ERROR", "out of memory");
	e->d = d;
	e->io = io;
	eng_queue_init(&e->q);
	e->long_poll_ms = d->cfg && d->cfg->long_poll_ms > 0 ? d->cfg->long_poll_ms : 50000;
	e->long_polls_per_key = d->cfg ? (size_t)d->cfg->limit_long_polls_per_key : 0;
	e->pickup_ms = env_ms("ROLLOUTD_PICKUP_TIMEOUT_MS", PICKUP_TIMEOUT_MS);
	e->heartbeat_ms = env_ms("ROLLOUTD_HEARTBEAT_TIMEOUT_MS", HEARTBEAT_TIMEOUT_MS);
	if (eng_hosts_init(e) < 0) {
		r = rd_error_set(err, -ENOMEM, "INTERNAL_ERROR", "out of memory");
		goto fail;
	}
	r = spec_signer_open(d->cfg->data_dir, &e->signer, err);
	if (r < 0)
		goto fail;
	/* Health gates block up to their gate_timeout: their own threads, so a
	 * slow gate never holds up the daemon's workers (API, traffic, sources). */
	n = env_ms("ROLLOUTD_GATE_WORKERS", GATE_WORKERS);
	r = workpool_new(n < 1 ? 1 : n > 256 ? 256 : (int)n, &e->gate_pool);
	if (r < 0) {
		rd_error_set(err, r, "INTERNAL_ERROR", "cannot start the health gate threads: %s", strerror(-r));
		goto fail;
	}
	cluster_driving(d, &e->incarnation);
	d->engine = e;
	cluster_set_adopt(d, engine_adopt);
	eng_autoupdate_listen(d);
	r = pthread_create(&e->thread, NULL, engine_main, e);
	if (r != 0) {
		d->engine = NULL;
		r = rd_error_set(err, -r, "INTERNAL_ERROR", "cannot start the engine thread: %s", strerror(r));
		goto fail;
	}
	e->thread_started = true;
	eng_live_begin(e);
	ELOG(LOG_INFO, "started (long poll %lld ms, pick-up timeout %lld ms, heartbeat timeout %lld ms)",
	     (long long)e->long_poll_ms, (long long)e->pickup_ms, (long long)e->heartbeat_ms);
	return 0;
fail:
	engine_free(e);
	return r;
}

/* Inputs that arrived after the engine thread ended: refused. */
static void drain_inputs(struct engine *e)
{
	bool quit;
	struct eng_input *in = eng_queue_take(&e->q, false, 0, &quit), *next;

	for (; in; in = next) {
		next = in->next;
		if (in->call) {
			eng_refuse(e, in->call, 503, "ServerException", "rolloutd is shutting down");
			in->call = NULL;
		}
		if (in->req)
			eng_request_done(in->req, -ESHUTDOWN);
		eng_input_free(in);
	}
}

void engine_stop(struct rd_daemon *d)
{
	struct engine *e = d ? d->engine : NULL;

	if (!e)
		return;
	cluster_set_adopt(d, NULL);
	eng_live_end(e);
	eng_queue_quit(&e->q);
	if (e->thread_started)
		pthread_join(e->thread, NULL);
	/* queued gates still run (they end at once once d->stopping), then post */
	workpool_shutdown(e->gate_pool);
	alarms_shutdown(d);
	/* Plugin jobs still on workers post back into e: wait for them. */
	for (int i = 0; i < 6000 && __atomic_load_n(&e->jobs_running, __ATOMIC_SEQ_CST) > 0; i++) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
		drain_inputs(e);
	}
	if (__atomic_load_n(&e->jobs_running, __ATOMIC_SEQ_CST) > 0) {
		ELOG(LOG_WARNING, "%d plugin job(s) still running after 60 s; leaving the engine allocated",
		     e->jobs_running);
		d->engine = NULL;
		return;
	}
	drain_inputs(e);
	ELOG(LOG_INFO, "stopped after %llu inputs in %llu transactions", (unsigned long long)e->inputs_total,
	     (unsigned long long)e->commits);
	engine_free(e);
	d->engine = NULL;
}
