/* Scale-out deployments; see engine_autoscale.h. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "core/daemon.h"
#include "core/platforms.h"
#include "engine/engine_autodeploy.h"
#include "engine/engine_autoscale.h"
#include "engine/engine_context.h"
#include "engine/engine_jobs.h"
#include "engine/engine_plan.h"
#include "jsonutil.h"
#include "log.h"
#include "store/store_engine.h"

#define LAUNCHING "autoscaling:EC2_INSTANCE_LAUNCHING"
#define TERMINATING "autoscaling:EC2_INSTANCE_TERMINATING"
/* After a failed receive: ask again in this long. */
#define RETRY_MS 15000
/* No group names an Auto Scaling group: look again in this long. */
#define IDLE_MS 5000

struct eng_autoscale {
	bool served;	 /* a platform plugin reports launches */
	int64_t due;	 /* monotonic: when the tick has something to do */
	int64_t next_ms; /* monotonic: the next receive */
	bool busy;	 /* a receive job runs */
	int64_t hb_ms;	 /* the plugin's heartbeat period */
	json_t *beats;	 /* deployment id -> monotonic ms of its last heartbeat */
};

static struct eng_autoscale *state(struct engine *e)
{
	if (!e->autoscale) {
		e->autoscale = calloc(1, sizeof(*e->autoscale));
		if (e->autoscale) {
			e->autoscale->beats = json_object();
			e->autoscale->hb_ms = 5 * 60 * 1000;
			e->autoscale->served = platforms_lifecycle_served(e->d->plugins);
		}
	}
	return e->autoscale;
}

void eng_autoscale_free(struct engine *e)
{
	if (!e->autoscale)
		return;
	json_decref(e->autoscale->beats);
	free(e->autoscale);
	e->autoscale = NULL;
}

bool eng_autoscale_unqueued(const struct eng_dep *dp)
{
	return dp->creator &&
	       (strcmp(dp->creator, "autoscaling") == 0 || strcmp(dp->creator, ENG_CREATOR_TERMINATION) == 0);
}

/* The lifecycle action a deployment completes, or NULL. */
static const json_t *dep_action(const struct eng_dep *dp)
{
	const json_t *a = json_object_get(json_object_get(dp->row, "doc"), "rolloutLifecycle");
	const char *tok = rd_json_str(a, "token");
	return tok && *tok ? a : NULL;
}

static void job_complete(struct engine *e, const json_t *action, const char *result)
{
	json_t *a = json_deep_copy(action);
	struct eng_job *j;

	if (!a)
		return;
	if (strcmp(result, "DELETE") != 0)
		json_object_del(a, "receiptHandle");
	json_object_set_new(a, "result", json_string(result));
	j = eng_job_payload(JOB_LIFECYCLE_COMPLETE, a);
	json_decref(a);
	if (j)
		eng_outbox_job(e, j);
	else
		eng_store_error(e, -ENOMEM, "job");
}

/* ---------------------------------------------------------------- tick */

/* The groups that name Auto Scaling groups, as lifecycle_receive wants them. */
static json_t *asg_groups(struct engine *e)
{
	json_t *groups = NULL, *out = json_array(), *g;
	size_t i;

	if (!out || store_eng_server_groups(e->tx, &groups) < 0) {
		json_decref(out);
		return NULL;
	}
	json_array_foreach(groups, i, g)
	{
		json_t *doc = NULL;
		if (store_eng_group(e->tx, rd_json_str(g, "application"), rd_json_str(g, "name"), &doc) < 0)
			continue;
		if (json_array_size(json_object_get(doc, "autoScalingGroups")) > 0)
			json_array_append_new(
			    out, json_pack("{s:O,s:O,s:O,s:b}", "applicationName", json_object_get(g, "application"),
					   "deploymentGroupName", json_object_get(g, "name"), "autoScalingGroups",
					   json_object_get(doc, "autoScalingGroups"), "terminationHookEnabled",
					   json_is_true(json_object_get(doc, "terminationHookEnabled"))));
		json_decref(doc);
	}
	json_decref(groups);
	return out;
}

int64_t eng_autoscale_next(const struct engine *e)
{
	/* before the first tick: at once (it finds out whether launches are reported) */
	return !e->autoscale ? 0 : e->autoscale->served ? e->autoscale->due : INT64_MAX;
}

void eng_autoscale_tick(struct engine *e)
{
	struct eng_autoscale *as = state(e);
	int64_t hb_due = INT64_MAX;
	json_t *groups;
	struct eng_job *j;

	if (!as || !as->served || e->now_mono < as->due)
		return;
	/* heartbeats of the launches being deployed to */
	for (struct eng_dep *dp = e->deps; dp; dp = dp->next) {
		const json_t *a = dp->finished ? NULL : dep_action(dp);
		json_t *last;
		if (!a)
			continue;
		last = json_object_get(as->beats, dp->id);
		if (!last) {
			json_object_set_new(as->beats, dp->id, json_integer(e->now_mono));
		} else if (e->now_mono - json_integer_value(last) >= as->hb_ms) {
			json_object_set_new(as->beats, dp->id, json_integer(e->now_mono));
			job_complete(e, a, "HEARTBEAT");
		}
		last = json_object_get(as->beats, dp->id);
		if (json_integer_value(last) + as->hb_ms < hb_due)
			hb_due = json_integer_value(last) + as->hb_ms;
	}
	as->due = hb_due;
	if (as->busy)
		return;
	if (e->now_mono >= as->next_ms && !cluster_is_leader(e->d, "autoscale")) {
		/* on a cluster one daemon receives Auto Scaling's messages; the
		 * launches it deploys to go to their groups' daemons */
		as->next_ms = e->now_mono + RETRY_MS;
	} else if (e->now_mono >= as->next_ms) {
		groups = asg_groups(e);
		if (!groups) {
			as->next_ms = e->now_mono + RETRY_MS;
		} else if (json_array_size(groups) == 0) {
			as->next_ms = e->now_mono + IDLE_MS;
			json_decref(groups);
		} else {
			j = eng_job_payload(JOB_LIFECYCLE, groups);
			json_decref(groups);
			if (!j) {
				eng_store_error(e, -ENOMEM, "job");
				return;
			}
			as->busy = true;
			eng_outbox_job(e, j);
			return; /* its answer sets the next receive */
		}
	}
	if (as->next_ms < as->due)
		as->due = as->next_ms;
}

/* ---------------------------------------------------------------- launches */

static bool dep_names(struct eng_dep *dp, const char *iid)
{
	const json_t *ids = json_object_get(json_object_get(dp->row, "doc"), "rolloutTargetIds"), *v;
	size_t i;

	if (eng_target_find(dp, iid))
		return true;
	json_array_foreach(ids, i, v)
	{
		if (json_string_value(v) && strcmp(json_string_value(v), iid) == 0)
			return true;
	}
	return false;
}

/* Whether a deployment already holds the lifecycle action of ev: SQS
 * delivers at least once, and a message is deleted only after what it
 * started is committed, so a restart may read it again. */
static bool action_known(struct engine *e, const json_t *ev)
{
	const char *tok = rd_json_str(ev, "token");
	bool found = false;

	if (!tok || !*tok)
		return false;
	for (struct eng_dep *dp = e->deps; dp; dp = dp->next) {
		const json_t *a = dep_action(dp);
		if (a && strcmp(rd_json_str(a, "token"), tok) == 0)
			return true;
	}
	if (store_eng_lifecycle_token_known(e->tx, rd_json_str(ev, "applicationName"),
					    rd_json_str(ev, "deploymentGroupName"), rd_json_str(ev, "instanceId"), tok,
					    &found) < 0)
		return false;
	return found;
}

/* The deployment row of an Auto Scaling deployment to one instance. */
static json_t *instance_row(struct engine *e, const char *newid, const char *app, const char *group,
			    const char *creator, json_t *rev, const json_t *ev, json_t *dd)
{
	json_array_append_new(json_object_get(dd, "rolloutTargetIds"), json_string(rd_json_str(ev, "instanceId")));
	if (rd_json_str(ev, "token") && *rd_json_str(ev, "token")) {
		json_t *a = json_deep_copy(ev);
		json_object_del(a, "receiptHandle"); /* good for one receive only */
		json_object_set_new(dd, "rolloutLifecycle", a);
	}
	eng_pin_last_good_bundle(e, app, group, rev, dd);
	/* one instance: OneAtATime fits whatever minimum the group's config asks of a fleet */
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:O,s:o}", "id", newid, "application", app, "deployment_group",
			 group, "deployment_config", "CodeDeployDefault.OneAtATime", "compute_platform", "Server",
			 "creator", creator, "create_time", (json_int_t)e->now_wall, "revision", rev, "doc", dd);
}

static int insert_row(struct engine *e, json_t *row, const char *what)
{
	int r = row ? store_eng_deployment_insert(e->tx, row) : -ENOMEM;

	json_decref(row);
	if (r < 0)
		eng_store_error(e, r, what);
	return r;
}

/* One termination (the instance waits in Terminating:Wait): a termination
 * deployment of the group's last successful revision's hooks (creator
 * autoscalingTermination; events by eng_termination_events), or CONTINUE
 * at once when nothing ever succeeded in the group. Auto Scaling
 * terminates the instance either way: the action ends with CONTINUE
 * whatever the deployment's outcome. */
static void terminate(struct engine *e, const json_t *ev, json_t *ids)
{
	const char *app = rd_json_str(ev, "applicationName"), *group = rd_json_str(ev, "deploymentGroupName");
	const char *iid = rd_json_str(ev, "instanceId"), *tok = rd_json_str(ev, "token");
	json_t *doc = NULL, *rev, *dd;
	char newid[12];
	int r;

	if (!app || !group || !iid || !tok || !*tok)
		return;
	r = store_eng_group(e->tx, app, group, &doc);
	rev = json_object_get(doc, "targetRevision");
	if (r < 0 || !json_is_object(rev) || !json_is_true(json_object_get(doc, "terminationHookEnabled"))) {
		/* no group, nothing ever succeeded in it, or no termination
		 * deployments wanted any more: let the instance go */
		job_complete(e, ev, "CONTINUE");
		json_decref(doc);
		return;
	}
	if (eng_new_deployment_id(newid) < 0) {
		json_decref(doc);
		return;
	}
	dd = json_pack("{s:s,s:[],s:b}", "description", "", "rolloutTargetIds", "rolloutTermination", 1);
	if (dd)
		json_object_set_new(dd, "description",
				    json_sprintf("Scale-in: instance %s leaves Auto Scaling group %s; its application "
						 "is stopped (and its traffic blocked) before it terminates",
						 iid, rd_json_str(ev, "autoScalingGroupName") ?: "?"));
	r = insert_row(e, dd ? instance_row(e, newid, app, group, ENG_CREATOR_TERMINATION, rev, ev, dd) : NULL,
		       "termination insert");
	json_decref(doc);
	if (r < 0)
		return;
	if (e->autoscale)
		e->autoscale->due = e->now_mono; /* its heartbeats start */
	ENG_DLOG(LOG_NOTICE, newid, iid, NULL, "%s: termination deployment of %s/%s: %s leaves %s", newid, app, group,
		 iid, rd_json_str(ev, "autoScalingGroupName") ?: "?");
	json_array_append_new(ids, json_string(newid));
}

/* One launch: a scale-out deployment, or (with a token) CONTINUE at once
 * when there is nothing to deploy. */
static void launch(struct engine *e, const json_t *ev, json_t *ids)
{
	const char *app = rd_json_str(ev, "applicationName"), *group = rd_json_str(ev, "deploymentGroupName");
	const char *iid = rd_json_str(ev, "instanceId"), *tok = rd_json_str(ev, "token");
	bool action = tok && *tok, seen = false;
	json_t *doc = NULL, *rev, *dd;
	char newid[12];
	int r;

	if (!app || !group || !iid)
		return;
	r = store_eng_group(e->tx, app, group, &doc);
	rev = json_object_get(doc, "targetRevision");
	if (r < 0 || !json_is_object(rev)) {
		/* no group, or nothing ever succeeded in it: nothing to deploy */
		if (action)
			job_complete(e, ev, "CONTINUE");
		json_decref(doc);
		return;
	}
	for (struct eng_dep *dp = e->deps; dp; dp = dp->next) {
		if (dp->finished || strcmp(dp->app, app) || strcmp(dp->group, group))
			continue;
		/* a deployment resolving now may pick the instance up: look again next time */
		if ((dp->resolving && !action) || dep_names(dp, iid)) {
			if (action && !dep_action(dp))
				job_complete(e, ev, "CONTINUE"); /* the running deployment reaches it */
			json_decref(doc);
			return;
		}
	}
	if (store_eng_instance_in_group(e->tx, app, group, iid, &seen) < 0 || seen) {
		if (action && seen)
			job_complete(e, ev, "CONTINUE");
		json_decref(doc);
		return;
	}
	if (eng_new_deployment_id(newid) < 0) {
		json_decref(doc);
		return;
	}
	dd = json_pack("{s:s,s:[]}", "description", "", "rolloutTargetIds");
	if (dd)
		json_object_set_new(dd, "description",
				    json_sprintf("Scale-out: instance %s launched into Auto Scaling group %s gets the "
						 "last successful revision",
						 iid, rd_json_str(ev, "autoScalingGroupName") ?: "?"));
	r = insert_row(e, dd ? instance_row(e, newid, app, group, "autoscaling", rev, ev, dd) : NULL,
		       "scale-out insert");
	json_decref(doc);
	if (r < 0)
		return;
	if (action && e->autoscale)
		e->autoscale->due = e->now_mono; /* its heartbeats start */
	ENG_DLOG(LOG_NOTICE, newid, iid, NULL, "%s: scale-out of %s/%s: %s launched into %s%s", newid, app, group, iid,
		 rd_json_str(ev, "autoScalingGroupName") ?: "?", action ? " (lifecycle action pending)" : "");
	json_array_append_new(ids, json_string(newid));
}

json_t *eng_autoscale_apply(struct engine *e, struct eng_input *in)
{
	struct eng_autoscale *as = state(e);
	json_t *ids, *ev, *batch;
	size_t i;
	int64_t next;

	if (in->ev == 1) {
		if (in->err.code[0])
			ENG_DLOG(LOG_WARNING, NULL, NULL, NULL, "lifecycle action not completed: %s", in->err.message);
		return NULL;
	}
	if (!as)
		return NULL;
	as->busy = false;
	if (!in->result) {
		ENG_DLOG(LOG_WARNING, NULL, NULL, NULL, "cannot check the Auto Scaling groups for launches: %s",
			 in->err.message);
		as->next_ms = e->now_mono + RETRY_MS;
		if (as->next_ms < as->due)
			as->due = as->next_ms;
		return NULL;
	}
	next = json_integer_value(json_object_get(in->result, "nextPollMs"));
	as->next_ms = e->now_mono + (next > 0 ? next : 0);
	if (as->next_ms < as->due)
		as->due = as->next_ms;
	if (json_integer_value(json_object_get(in->result, "heartbeatMs")) > 0)
		as->hb_ms = json_integer_value(json_object_get(in->result, "heartbeatMs"));
	ids = json_array();
	batch = json_object(); /* tokens of this answer: a message may come twice in one */
	json_array_foreach(json_object_get(in->result, "events"), i, ev)
	{
		const char *tr = rd_json_str(ev, "transition"), *tok = rd_json_str(ev, "token");
		bool again = tok && *tok && json_object_get(batch, tok);
		if (tok && *tok)
			json_object_set_new(batch, tok, json_true());
		if (again || action_known(e, ev))
			ENG_DLOG(LOG_INFO, NULL, rd_json_str(ev, "instanceId"), NULL,
				 "lifecycle action %s of %s delivered again: its deployment exists",
				 rd_json_str(ev, "token"), rd_json_str(ev, "instanceId"));
		else if (tr && strcmp(tr, LAUNCHING) == 0)
			launch(e, ev, ids);
		else if (tr && strcmp(tr, TERMINATING) == 0)
			terminate(e, ev, ids);
		/* the message goes once what it started is committed (a job runs
		 * after the commit); a crash before leaves it in the queue */
		if (rd_json_str(ev, "receiptHandle"))
			job_complete(e, ev, "DELETE");
	}
	json_decref(batch);
	return ids;
}

void eng_autoscale_finished(struct engine *e, struct eng_dep *dp, enum eng_dstatus status)
{
	const json_t *a = dep_action(dp);
	const char *result;

	if (e->autoscale)
		json_object_del(e->autoscale->beats, dp->id);
	if (!a)
		return;
	/* a terminating instance goes whatever its deployment's outcome */
	result = status == DS_SUCCEEDED || !rd_json_str(a, "transition") ||
			 strcmp(rd_json_str(a, "transition"), TERMINATING) == 0
		     ? "CONTINUE"
		     : "ABANDON";
	ENG_DLOG(LOG_INFO, dp->id, rd_json_str(a, "instanceId"), NULL, "%s: lifecycle action of %s: %s", dp->id,
		 rd_json_str(a, "instanceId"), result);
	job_complete(e, a, result);
}

/* ---------------------------------------------------------------- jobs */

void eng_job_lifecycle(struct engine *e, struct eng_job *j, struct eng_input *in)
{
	json_t *payload = json_loads(j->group_json ? j->group_json : "null", 0, NULL);

	if (j->kind == JOB_LIFECYCLE_COMPLETE) {
		in->ev = 1;
		platforms_lifecycle_complete(e->d->plugins, payload, &in->err);
	} else {
		in->ev = 0;
		platforms_lifecycle_receive(e->d->plugins, payload, &in->result, &in->err);
	}
	json_decref(payload);
}
