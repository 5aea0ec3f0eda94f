/* The blue/green steps around the traffic phase; see engine_bg.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "core/platforms.h"
#include "engine/engine_bg.h"
#include "engine/engine_context.h"
#include "engine/engine_jobs.h"
#include "jsonutil.h"
#include "log.h"
#include "store/store.h"
#include "store/store_engine.h"
#include "traffic/traffic.h"

/* The deployment's own record (wall ms) of when its termination wait ends:
 * stored when the wait begins, set to now when it is ended early, read by
 * the traffic phase after a restart. */
#define BG_WAIT_END "rolloutTerminationWaitEnd"

/* How long a platform may take to provision the green fleet (launch a
 * copied Auto Scaling group's instances) or to retire the blue one. */
#define BG_FLEET_TIMEOUT_MS (30 * 60 * 1000)

/* deploymentReadyOption actionOnTimeout STOP_DEPLOYMENT, and its wait
 * (parsing only, no plugin call). */
static bool waits_for_continue(struct engine *e, struct eng_dep *dp, int64_t *ret_wait_ms)
{
	struct traffic_group *g = NULL;
	struct rollout_error terr = {.size = sizeof(terr)};
	char *gj = json_dumps(dp->group_doc, JSON_COMPACT);
	bool r = false;

	if (traffic_group_parse(e->d->plugins, gj ? gj : "{}", &g, &terr) == 0) {
		r = g->ready_action == TRAFFIC_READY_STOP;
		*ret_wait_ms = g->ready_wait_ms;
	}
	traffic_group_free(g);
	free(gj);
	return r;
}

/* Every green instance passed BeforeAllowTraffic and every blue one waits
 * at BlockTraffic: the traffic phase runs (a job), for the whole fleet. */
static void traffic_phase_start(struct engine *e, struct eng_dep *dp)
{
	struct eng_job *j = eng_job_new(JOB_BG, dp);
	json_t *cfg = NULL, *gd, *ro;
	size_t k = 0;

	if (!j) {
		eng_store_error(e, -ENOMEM, "job");
		return;
	}
	j->deployment_json = json_dumps(json_object_get(dp->row, "doc"), JSON_COMPACT);
	if (store_eng_config(e->tx, dp->config, &cfg) == 0) {
		json_object_set_new(cfg, "deploymentConfigName", json_string(dp->config));
		j->config_json = json_dumps(cfg, JSON_COMPACT);
	}
	json_decref(cfg);
	j->green = calloc(dp->nt + 1, sizeof(*j->green));
	for (size_t i = 0; j->green && i < dp->nt; i++)
		if (dp->t[i]->bg_wait && !dp->t[i]->blue)
			j->green[k++] = strdup(dp->t[i]->id);
	j->ngreen = k;
	j->blue = calloc(dp->nt + 1, sizeof(*j->blue));
	for (size_t i = 0, b = 0; j->blue && i < dp->nt; i++)
		if (dp->t[i]->blue && (j->blue[b] = strdup(dp->t[i]->id)))
			j->nblue = ++b;
	if (!dp->bgctl)
		dp->bgctl = eng_bgctl_new();
	j->bgctl = eng_bgctl_ref(dp->bgctl);
	dp->bg_phase = BG_MOVING_TRAFFIC;
	/* The ready wait is the engine's (ready_or_go): the traffic phase
	 * reroutes at once. */
	gd = json_loads(j->group_json ? j->group_json : "{}", 0, NULL);
	ro = json_object_get(json_object_get(gd, "blueGreenDeploymentConfiguration"), "deploymentReadyOption");
	if (json_is_object(ro)) {
		json_object_set_new(ro, "actionOnTimeout", json_string("CONTINUE_DEPLOYMENT"));
		free(j->group_json);
		j->group_json = json_dumps(gd, JSON_COMPACT);
	}
	json_decref(gd);
	eng_outbox_job(e, j);
	ENG_DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: green fleet ready (%zu instances); moving traffic", dp->id, k);
}

/* A job of dp's fleets after the reroute: the green instances it deployed
 * and the original ones. NULL without memory. */
static struct eng_job *fleets_job(struct engine *e, struct eng_dep *dp)
{
	struct eng_job *j = eng_job_new(JOB_BG, dp);
	size_t g = 0, b = 0;

	if (!j) {
		eng_store_error(e, -ENOMEM, "job");
		return NULL;
	}
	j->deployment_json = json_dumps(json_object_get(dp->row, "doc"), JSON_COMPACT);
	j->green = calloc(dp->nt + 1, sizeof(*j->green));
	j->blue = calloc(dp->nt + 1, sizeof(*j->blue));
	for (size_t i = 0; j->green && j->blue && i < dp->nt; i++) {
		struct eng_target *t = dp->t[i];
		if (t->blue && (j->blue[b] = strdup(t->id)))
			j->nblue = ++b;
		else if (!t->blue && t->status != ST_SKIPPED && (j->green[g] = strdup(t->id)))
			j->ngreen = ++g;
	}
	if (!dp->bgctl)
		dp->bgctl = eng_bgctl_new();
	j->bgctl = eng_bgctl_ref(dp->bgctl);
	return j;
}

/* Green ran AfterAllowTraffic and blue AfterBlockTraffic: the termination
 * wait (TERMINATE), then the original fleet's end, run as a job. */
static void retire_start(struct engine *e, struct eng_dep *dp)
{
	struct eng_job *j = fleets_job(e, dp);

	if (!j)
		return;
	j->retire = true;
	/* a termination wait begun (or ended early) before a restart keeps its end */
	j->wait_end = json_integer_value(json_object_get(json_object_get(dp->row, "doc"), BG_WAIT_END));
	dp->bg_phase = BG_RETIRING;
	eng_outbox_job(e, j);
}

/* Every green instance passed BeforeAllowTraffic. deploymentReadyOption
 * STOP_DEPLOYMENT: the deployment is Ready (stored, trigger DeploymentReady)
 * until ContinueDeployment or waitTimeInMinutes (the state machine's timer:
 * Stopped, TIMEOUT). Else, or once continued, the original fleet's
 * BeforeBlockTraffic may start (dp->bg_go). */
static void ready_or_go(struct engine *e, struct eng_dep *dp)
{
	int64_t wait_ms = 0;

	if (dp->bg_go || dp->ready)
		return;
	if (!waits_for_continue(e, dp, &wait_ms)) {
		dp->bg_go = true;
		return;
	}
	dp->ready = true;
	dp->ready_deadline = e->now_mono + wait_ms;
	eng_store_error(e, store_eng_deployment_status(e->tx, dp->id, "Ready", 0, 0, NULL, NULL), "deployment ready");
	eng_fire(e, "DeploymentReady", dp, "Ready", NULL, NULL, NULL, NULL);
	ENG_DLOG(LOG_INFO, dp->id, NULL, NULL,
		 "%s: green fleet ready; Ready, waiting up to %lld ms for ContinueDeployment", dp->id,
		 (long long)wait_ms);
}

enum eng_bg_step eng_bg_step(struct engine *e, struct eng_dep *dp, enum eng_verdict verdict, char *msg, size_t msglen)
{
	size_t active = 0, pending = 0;
	struct eng_target *bad = NULL;

	if (!dp->bg || verdict == ENG_FAILED)
		return BG_STEP_GO_ON;
	/* the original (blue) fleet: BeforeBlockTraffic once green is ready and
	 * continued, BlockTraffic with the traffic phase, then AfterBlockTraffic */
	for (size_t i = 0; i < dp->nt; i++) {
		struct eng_target *t = dp->t[i];
		if (!t->blue)
			continue;
		if (t->status == ST_FAILED && !bad)
			bad = t;
		if (t->status == ST_INPROGRESS && !t->bg_wait)
			active++;
		if (t->status == ST_PENDING)
			pending++;
	}
	if (bad) {
		snprintf(msg, msglen,
			 "The deployment failed because %s of the original (blue) instance %s failed%s; see "
			 "that instance's lifecycle events.",
			 bad->ev[bad->cur].name, bad->id,
			 dp->bg_phase == BG_TRAFFIC_MOVED ? " (traffic goes back to the original fleet)"
							  : " (traffic stays on the original fleet)");
		return BG_STEP_FAIL;
	}
	if (verdict == ENG_SUCCEEDED && dp->bg_phase == BG_DEPLOYING_GREEN) {
		ready_or_go(e, dp);
		if (!dp->bg_go)
			return BG_STEP_WAIT;
		if (pending > 0)
			return BG_STEP_START_BLUE;
		if (active == 0) /* every blue instance at BlockTraffic */
			traffic_phase_start(e, dp);
		return BG_STEP_WAIT;
	}
	if (verdict == ENG_SUCCEEDED && (dp->bg_phase == BG_MOVING_TRAFFIC || active + pending > 0))
		return BG_STEP_WAIT;
	if (verdict == ENG_SUCCEEDED && dp->bg_phase == BG_TRAFFIC_MOVED) {
		retire_start(e, dp);
		return BG_STEP_WAIT;
	}
	if (verdict == ENG_SUCCEEDED && dp->bg_phase == BG_RETIRING)
		return BG_STEP_WAIT;
	return BG_STEP_GO_ON;
}

void eng_bg_add_blue(struct engine *e, struct eng_dep *dp, const json_t *blue)
{
	const json_t *tj;
	size_t i;

	json_array_foreach(blue, i, tj)
	{
		const char *id = json_string_value(json_object_get(tj, "targetId"));
		const char *arn = json_string_value(json_object_get(tj, "targetArn"));
		struct eng_target *t;

		if (!id || !*id || eng_target_find(dp, id))
			continue;
		t = eng_target_new(dp, id, arn, (int)dp->nt, FLEET_BLUE);
		if (!t) {
			eng_store_error(e, -ENOMEM, "target");
			return;
		}
		dp->t[dp->nt++] = t;
		eng_store_error(
		    e,
		    store_eng_target_insert(e->tx, dp->id, t->id, t->seq, t->arn, "Pending", "Blue", NULL, e->now_wall),
		    "target insert");
		for (int j = 0; j < t->nev; j++)
			eng_store_error(e, store_eng_event_insert(e->tx, dp->id, t->id, j, t->ev[j].name, "Pending"),
					"event insert");
	}
}

static bool is_blue_green(const json_t *group);

/* dp is blue/green, also before its targets are resolved. */
static bool bg_deployment(const struct eng_dep *dp)
{
	return dp->bg || is_blue_green(dp->group_doc) || is_blue_green(json_object_get(dp->row, "doc"));
}

int eng_bg_continue(struct engine *e, struct eng_dep *dp)
{
	if (!bg_deployment(dp))
		return -ENOTSUP;
	if (!dp->ready)
		return -EAGAIN;
	/* InProgress again; the original fleet's BeforeBlockTraffic is queued in
	 * the same transaction, so both are durable before any host or the
	 * traffic phase acts on them */
	dp->ready = false;
	dp->bg_go = true;
	dp->dirty = true;
	dp->status = DS_INPROGRESS;
	eng_store_error(e, store_eng_deployment_status(e->tx, dp->id, "InProgress", 0, 0, NULL, NULL),
			"deployment status");
	ENG_DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: ContinueDeployment: rerouting traffic to the green fleet", dp->id);
	return 0;
}

/* Sets key of dp's stored DeploymentInfo, and of the row in memory. */
static void doc_set(struct engine *e, struct eng_dep *dp, const char *key, json_t *v)
{
	json_t *doc = json_object_get(dp->row, "doc");

	if (v)
		eng_store_error(e, store_eng_deployment_doc_set(e->tx, dp->id, key, v), "deployment doc");
	if (v && json_is_object(doc))
		json_object_set(doc, key, v);
	json_decref(v);
}

void eng_bg_wait_started(struct engine *e, struct eng_dep *dp, int64_t end_wall_ms)
{
	json_t *doc = json_object_get(dp->row, "doc");

	dp->term_wait = true;
	if (!json_is_true(json_object_get(doc, "instanceTerminationWaitTimeStarted")))
		doc_set(e, dp, "instanceTerminationWaitTimeStarted", json_true());
	if (json_integer_value(json_object_get(doc, BG_WAIT_END)) != end_wall_ms)
		doc_set(e, dp, BG_WAIT_END, json_integer(end_wall_ms));
	ENG_DLOG(LOG_INFO, dp->id, NULL, NULL,
		 "%s: traffic rerouted; the original (blue) fleet is terminated in %lld s unless "
		 "ContinueDeployment(TERMINATION_WAIT) ends the wait earlier",
		 dp->id, (long long)((end_wall_ms - e->now_wall) > 0 ? (end_wall_ms - e->now_wall) / 1000 : 0));
}

void eng_bg_rollback_resolved(struct engine *e, struct eng_dep *dp)
{
	/* copied from the deployment it rolls back, whose wait it was */
	if (json_is_true(json_object_get(json_object_get(dp->row, "doc"), "instanceTerminationWaitTimeStarted")))
		doc_set(e, dp, "instanceTerminationWaitTimeStarted", json_false());
}

int eng_bg_end_wait(struct engine *e, struct eng_dep *dp)
{
	if (!bg_deployment(dp))
		return -ENOTSUP;
	if (!dp->term_wait || dp->bg_phase != BG_RETIRING)
		return -EAGAIN;
	/* The wait's end is committed with the answer; the traffic phase may
	 * act on the signal a moment before the commit, which is harmless: a
	 * restart would only retire the original fleet again. */
	doc_set(e, dp, BG_WAIT_END, json_integer(e->now_wall));
	dp->term_wait = false;
	eng_bgctl_end_wait(dp->bgctl);
	ENG_DLOG(LOG_INFO, dp->id, NULL, NULL,
		 "%s: ContinueDeployment(TERMINATION_WAIT): the termination wait ends; retiring the original (blue) "
		 "fleet now",
		 dp->id);
	return 0;
}

/* ------------------------------------------------------------------ fleets */

static bool fleet_never_stops(const struct rollout_fleet_call *call)
{
	(void)call;
	return false;
}

/* The group's blue/green green fleet provisioning action, or "". */
static const char *provision_action(const json_t *group)
{
	const char *a = rd_json_str(
	    json_object_get(json_object_get(group, "blueGreenDeploymentConfiguration"), "greenFleetProvisioningOption"),
	    "action");
	return a ? a : "";
}

static bool is_blue_green(const json_t *group)
{
	const char *t = rd_json_str(json_object_get(group, "deploymentStyle"), "deploymentType");
	return t && strcmp(t, "BLUE_GREEN") == 0;
}

int eng_bg_provision(struct engine *e, const struct rollout_deployment *dep, const char *group_json, json_t *doc,
		     struct rd_error *err)
{
	json_t *group = json_loads(group_json ? group_json : "{}", 0, NULL), *sel = NULL;
	char *dj = NULL;
	int r = 0;

	if (!is_blue_green(group) || strcmp(provision_action(group), "COPY_AUTO_SCALING_GROUP") != 0)
		goto out;
	dj = json_dumps(doc, JSON_COMPACT);
	struct rollout_fleet_call call =
	    ROLLOUT_FLEET_CALL_INIT(.dep = dep, .group_json = group_json, .deployment_json = dj,
				    .timeout_ms = BG_FLEET_TIMEOUT_MS, .stopping = fleet_never_stops);
	r = platforms_fleet(e->d->plugins, PLATFORMS_FLEET_PROVISION, &call, &sel, err);
	if (r == 0 && json_object_size(sel) == 0)
		r = rd_error_set(err, -ENOTSUP, "AUTO_SCALING_CONFIGURATION",
				 "greenFleetProvisioningOption COPY_AUTO_SCALING_GROUP needs a platform plugin that "
				 "copies Auto Scaling groups: add `ec2:` under `plugins:` in the rolloutd config");
	if (r == 0) {
		char *sj = json_dumps(sel, JSON_COMPACT);
		json_object_set(doc, "targetInstances", sel);
		ENG_DLOG(LOG_INFO, dep->deployment_id, NULL, NULL, "%s: green fleet provisioned: targetInstances %s",
			 dep->deployment_id, sj ? sj : "?");
		free(sj);
	} else {
		struct rd_error derr = RD_ERROR_INIT;
		if (platforms_fleet(e->d->plugins, PLATFORMS_FLEET_DISCARD, &call, NULL, &derr) < 0)
			ENG_DLOG(LOG_WARNING, dep->deployment_id, NULL, NULL,
				 "%s: discarding the green fleet after a failed provisioning failed too: %s",
				 dep->deployment_id, derr.message);
	}
out:
	free(dj);
	json_decref(sel);
	json_decref(group);
	return r;
}

bool eng_bg_rollback_fleet(struct engine *e, const struct rollout_deployment *dep, const char *creator,
			   const json_t *group, struct eng_input *in)
{
	json_t *g;
	int r;

	if (strcmp(creator, "codeDeployRollback") != 0 || !is_blue_green(group))
		return false;
	/* The failed deployment routed traffic back to its original fleet
	 * already (and discarded a copied Auto Scaling group): that fleet
	 * still runs the revision this rollback returns to, so nothing is
	 * provisioned and nothing installed. The group's own selection, without
	 * the failed deployment's targetInstances, is that fleet. */
	g = json_deep_copy(group);
	if (!g) {
		rd_error_set(&in->err, -ENOMEM, "INTERNAL_ERROR", "out of memory");
		return true;
	}
	json_object_del(g, "targetInstances");
	r = platforms_resolve(e->d->plugins, dep, "Server", g, &in->targets, &in->err);
	json_decref(g);
	if (r < 0) {
		json_decref(in->targets);
		in->targets = NULL;
		return true;
	}
	in->bg_rollback = true;
	ENG_DLOG(LOG_INFO, dep->deployment_id, NULL, NULL,
		 "%s: blue/green rollback: returning to the original fleet (%zu instances), which still runs the "
		 "revision; nothing provisioned",
		 dep->deployment_id, json_array_size(in->targets));
	return true;
}

/* The group as the platforms changed it (fleet_retire's answer), stored as
 * UpdateDeploymentGroup would. */
static void update_group(struct engine *e, const char *app, const char *name, const json_t *changes, const char *dep_id)
{
	struct store_group *g = NULL;
	const char *k;
	json_t *v;
	int r = store_group_get(e->d->store, app, name, &g);

	if (r == 0) {
		json_object_foreach((json_t *)changes, k, v) json_object_set(g->doc, k, v);
		r = store_group_update(e->d->store, app, name, name, g->config, g->doc, NULL, NULL);
	}
	if (r < 0)
		ENG_DLOG(LOG_ERR, dep_id, NULL, NULL,
			 "%s: deployment group %s could not be updated to the new fleet: %s; update it with "
			 "UpdateDeploymentGroup",
			 dep_id, name, strerror(-r));
	else
		ENG_DLOG(LOG_INFO, dep_id, NULL, NULL, "%s: deployment group %s now names the replacement fleet",
			 dep_id, name);
	store_group_free(g);
}

void eng_bg_fleet_end(struct engine *e, struct eng_job *j, const struct rollout_deployment *dep, bool moved)
{
	struct traffic_group *g = NULL;
	struct rollout_error terr = {.size = sizeof(terr)};
	struct rd_error err = RD_ERROR_INIT;
	json_t *changes = NULL;
	bool keep = false;
	int r;

	if (traffic_group_parse(e->d->plugins, j->group_json ? j->group_json : "{}", &g, &terr) == 0)
		keep = g->terminate_action == TRAFFIC_BLUE_KEEP_ALIVE;
	traffic_group_free(g);
	struct rollout_fleet_call call =
	    ROLLOUT_FLEET_CALL_INIT(.dep = dep, .group_json = j->group_json, .deployment_json = j->deployment_json,
				    .timeout_ms = BG_FLEET_TIMEOUT_MS, .stopping = fleet_never_stops,
				    .blue = (const char *const *)j->blue, .nblue = j->nblue,
				    .blue_action = keep ? "KEEP_ALIVE" : "TERMINATE");
	r = platforms_fleet(e->d->plugins, moved ? PLATFORMS_FLEET_RETIRE : PLATFORMS_FLEET_DISCARD, &call,
			    moved ? &changes : NULL, &err);
	if (r < 0)
		ENG_DLOG(LOG_WARNING, j->dep, NULL, NULL, "%s: %s the %s fleet failed: %s", j->dep,
			 moved ? (keep ? "keeping" : "terminating") : "discarding", moved ? "original" : "replacement",
			 err.message);
	else if (moved && json_object_size(changes) > 0)
		update_group(e, j->app, j->group, changes, j->dep);
	json_decref(changes);
}

void eng_bg_finished(struct engine *e, struct eng_dep *dp, enum eng_dstatus status)
{
	struct eng_job *j;

	if (status != DS_SUCCEEDED && dp->bg_phase == BG_TRAFFIC_MOVED) {
		/* ended in AfterAllowTraffic / AfterBlockTraffic: blue is not
		 * retired, so traffic goes back to it (a running termination wait,
		 * BG_RETIRING, flips back itself) */
		j = fleets_job(e, dp);
		if (j) {
			j->route_back = true;
			eng_outbox_job(e, j);
		}
		return;
	}
	if (status == DS_SUCCEEDED || dp->bg_phase != BG_DEPLOYING_GREEN ||
	    !strcmp(dp->creator, "codeDeployRollback") || !is_blue_green(dp->group_doc) ||
	    strcmp(provision_action(dp->group_doc), "COPY_AUTO_SCALING_GROUP") != 0)
		return; /* the traffic phase discards (or retires) itself */
	j = eng_job_new(JOB_BG, dp);
	if (!j) {
		eng_store_error(e, -ENOMEM, "job");
		return;
	}
	j->fleet_discard = true;
	j->deployment_json = json_dumps(json_object_get(dp->row, "doc"), JSON_COMPACT);
	eng_outbox_job(e, j);
}
