/* Deployments the engine creates on its own; see engine_autodeploy.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "engine/engine.h"
#include "engine/engine_autodeploy.h"
#include "engine/engine_context.h"
#include "engine/engine_jobs.h"
#include "engine/engine_shift.h"
#include "jsonutil.h"
#include "log.h"
#include "store/store_engine.h"

#define CHK(expr, what) eng_store_error(e, (expr), (what))
#define ELOG_AUTOUPDATE(level, ...) rd_logt((level), "engine", __VA_ARGS__)

/* ---------------------------------------------------------------- rollback */

bool eng_rollback_wanted(const struct eng_dep *dp, enum eng_dstatus status)
{
	const json_t *doc = json_object_get(dp->row, "doc");
	const json_t *arc = json_object_get(doc, "autoRollbackConfiguration");
	const json_t *ev;
	size_t i;
	const char *want = status == DS_FAILED ? "DEPLOYMENT_FAILURE" : "DEPLOYMENT_STOP_ON_REQUEST";

	/* a termination deployment's instance is gone whatever it did */
	if (strcmp(dp->creator, "codeDeployRollback") == 0 || strcmp(dp->creator, ENG_CREATOR_TERMINATION) == 0)
		return false;
	if (status == DS_STOPPED && dp->stop_rollback != ENGINE_ROLLBACK_DEFAULT)
		return dp->stop_rollback == ENGINE_ROLLBACK_YES;
	if (!json_is_object(arc))
		arc = json_object_get(dp->group_doc, "autoRollbackConfiguration");
	if (!json_is_true(json_object_get(arc, "enabled")))
		return false;
	json_array_foreach(json_object_get(arc, "events"), i, ev)
	{
		if (json_string_value(ev) && strcmp(json_string_value(ev), want) == 0)
			return true;
	}
	return false;
}

/* The rollback of a Lambda/ECS deployment: it routed all traffic back
 * already; the rollback deployment (same revision, AllowTraffic only)
 * confirms the original version serves, as CodeDeploy records one. */
static int rollback_shift(struct engine *e, struct eng_dep *dp, enum eng_dstatus status, char newid[12])
{
	const char *cp = rd_json_str(dp->row, "compute_platform");
	char msg[512];
	json_t *row, *doc, *ri;
	int r;

	if (!dp->shift || !dp->shift->cursor) {
		ri =
		    json_pack("{s:s}", "rollbackMessage",
			      "Automatic rollback was not needed: the deployment ended before it changed any routing.");
		CHK(store_eng_deployment_rollback_info(e->tx, dp->id, ri), "rollback info");
		json_decref(ri);
		return -ENOENT;
	}
	if (eng_new_deployment_id(newid) < 0) {
		eng_store_error(e, -EIO, "deployment id");
		return -EIO;
	}
	doc = json_deep_copy(json_object_get(dp->row, "doc"));
	if (!doc)
		doc = json_object();
	json_object_set_new(doc, "description", json_sprintf("Rollback of %s: traffic back on the original", dp->id));
	json_object_set_new(doc, "rolloutRollbackOf", json_string(dp->id));
	row = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:O,s:O,s:{s:s,s:s},s:o}", "id", newid, "application", dp->app,
			"deployment_group", dp->group, "deployment_config", dp->config, "compute_platform",
			cp ? cp : "Lambda", "creator", "codeDeployRollback", "create_time", (json_int_t)e->now_wall,
			"revision",
			json_object_get(dp->row, "revision") ? json_object_get(dp->row, "revision") : json_null(),
			"previous_revision",
			json_object_get(dp->row, "revision") ? json_object_get(dp->row, "revision") : json_null(),
			"rollback_info", "rollbackTriggeringDeploymentId", dp->id, "rollbackMessage",
			status == DS_FAILED ? "Rollback triggered by a failed deployment"
					    : "Rollback triggered by a stopped deployment",
			"doc", doc);
	if (!row) {
		eng_store_error(e, -ENOMEM, "rollback row");
		return -ENOMEM;
	}
	r = store_eng_deployment_insert(e->tx, row);
	json_decref(row);
	if (r < 0) {
		eng_store_error(e, r, "rollback insert");
		return r;
	}
	snprintf(msg, sizeof(msg),
		 "Traffic was routed back to the original version; rollback deployment %s confirms it", newid);
	eng_fire(e, "DeploymentRollback", dp, eng_dstatus_name[status], NULL, NULL, NULL, msg);
	ri = json_pack("{s:s,s:s}", "rollbackDeploymentId", newid, "rollbackMessage", msg);
	CHK(store_eng_deployment_rollback_info(e->tx, dp->id, ri), "rollback info");
	json_decref(ri);
	ENG_DLOG(LOG_NOTICE, dp->id, NULL, NULL, "%s: %s", dp->id, msg);
	return 0;
}

int eng_rollback_create(struct engine *e, struct eng_dep *dp, enum eng_dstatus status, char newid[12])
{
	char good[16], msg[512];
	json_t *rev = NULL, *row = NULL, *doc, *ri;
	int r;

	if (eng_shift_platform(rd_json_str(dp->row, "compute_platform")))
		return rollback_shift(e, dp, status, newid);
	r = store_eng_last_good(e->tx, dp->app, dp->group, dp->id, good, &rev);
	if (r == -ENOENT) {
		snprintf(
		    msg, sizeof(msg),
		    "Automatic rollback was not performed: deployment group %s has no earlier successful deployment "
		    "to roll back to. Deploy a known good revision manually.",
		    dp->group);
		ri = json_pack("{s:s}", "rollbackMessage", msg);
		CHK(store_eng_deployment_rollback_info(e->tx, dp->id, ri), "rollback info");
		json_decref(ri);
		ENG_DLOG(LOG_NOTICE, dp->id, NULL, NULL, "%s: %s", dp->id, msg);
		return -ENOENT;
	}
	if (r < 0) {
		eng_store_error(e, r, "last good");
		return r;
	}
	if (eng_new_deployment_id(newid) < 0) {
		json_decref(rev);
		eng_store_error(e, -EIO, "deployment id");
		return -EIO;
	}
	doc = json_deep_copy(json_object_get(dp->row, "doc"));
	if (!doc)
		doc = json_object();
	json_object_del(doc, "rolloutTargetIds");
	json_object_set_new(doc, "description", json_sprintf("Rollback of %s to the revision of %s", dp->id, good));
	{
		/* the bundle good installed, whatever its location holds now */
		json_t *gb = NULL;
		json_object_del(doc, "rolloutBundleSha256");
		if (store_eng_bundle_get(e->tx, good, &gb) == 0 && rd_json_str(gb, "sha256"))
			json_object_set_new(doc, "rolloutBundleSha256", json_string(rd_json_str(gb, "sha256")));
		json_decref(gb);
	}
	row = json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:O,s:{s:s,s:s},s:o}", "id", newid, "application", dp->app,
	    "deployment_group", dp->group, "deployment_config", dp->config, "compute_platform", "Server", "creator",
	    "codeDeployRollback", "create_time", (json_int_t)e->now_wall, "revision", rev, "previous_revision",
	    json_object_get(dp->row, "revision") ? json_object_get(dp->row, "revision") : json_null(), "rollback_info",
	    "rollbackTriggeringDeploymentId", dp->id, "rollbackMessage",
	    status == DS_FAILED ? "Rollback triggered by a failed deployment" : "Rollback triggered by a stop request",
	    "doc", doc);
	if (!row) {
		eng_store_error(e, -ENOMEM, "rollback row");
		return -ENOMEM;
	}
	r = store_eng_deployment_insert(e->tx, row);
	json_decref(row);
	if (r < 0) {
		eng_store_error(e, r, "rollback insert");
		return r;
	}
	snprintf(msg, sizeof(msg), "Rolled back to the revision of %s by deployment %s", good, newid);
	eng_fire(e, "DeploymentRollback", dp, eng_dstatus_name[status], NULL, NULL, NULL, msg);
	ri = json_pack("{s:s,s:s}", "rollbackDeploymentId", newid, "rollbackMessage", msg);
	CHK(store_eng_deployment_rollback_info(e->tx, dp->id, ri), "rollback info");
	json_decref(ri);
	ENG_DLOG(LOG_NOTICE, dp->id, NULL, NULL, "%s: %s", dp->id, msg);
	return 0;
}

/* ---------------------------------------------------------------- auto-update */

/* Groups whose last successful revision may be missing on new instances:
 * their instances are resolved by a job (IN_AUTOUPDATE). */
void eng_autoupdate_scan(struct engine *e)
{
	json_t *groups = NULL, *g;
	size_t i;

	if (store_eng_server_groups(e->tx, &groups) < 0)
		return;
	json_array_foreach(groups, i, g)
	{
		const char *app = rd_json_str(g, "application"), *name = rd_json_str(g, "name");
		json_t *doc = NULL;
		bool busy = false;
		for (struct eng_dep *dp = e->deps; dp; dp = dp->next)
			busy = busy || (!dp->finished && strcmp(dp->app, app) == 0 && strcmp(dp->group, name) == 0);
		/* on a cluster another daemon may drive the group: it tells the
		 * leader to scan again when that deployment succeeds */
		if (!busy && cluster_enabled(e->d) && store_eng_group_unfinished(e->tx, app, name, &busy) < 0)
			continue;
		if (busy)
			continue;
		if (store_eng_group(e->tx, app, name, &doc) < 0)
			continue;
		/* a group has a targetRevision once a deployment to it succeeded */
		if (json_is_object(json_object_get(doc, "targetRevision"))) {
			struct eng_job *j = eng_job_autoupdate(app, name, doc);
			if (j)
				eng_outbox_job(e, j);
			else
				eng_store_error(e, -ENOMEM, "job");
		}
		json_decref(doc);
	}
	json_decref(groups);
}

void eng_autoupdate_tick(struct engine *e)
{
	bool leader = cluster_is_leader(e->d, "autoupdate");
	int r;

	if (cluster_enabled(e->d) && leader && !e->autoupdate_leader)
		e->instances_changed = true; /* what the previous holder may not have scanned */
	e->autoupdate_leader = leader;
	if (!e->instances_changed)
		return;
	e->instances_changed = false;
	if (leader) {
		eng_autoupdate_scan(e);
		return;
	}
	r = cluster_notify(e->d, AUTOUPDATE_CHANNEL, "");
	if (r < 0)
		ELOG_AUTOUPDATE(LOG_WARNING,
				"cannot ask the daemon running auto-updates to scan (%s); it scans when it next "
				"hears of a change",
				strerror(-r));
}

static void on_autoupdate_notify(const char *payload, void *ud)
{
	struct rd_daemon *d = ud;

	(void)payload;
	/* every daemon hears it, the sender too: only the leader scans */
	if (cluster_is_leader(d, "autoupdate"))
		engine_notify_instances_changed(d);
}

void eng_autoupdate_listen(struct rd_daemon *d)
{
	int r;

	if (!cluster_enabled(d))
		return;
	r = cluster_listen(d, AUTOUPDATE_CHANNEL, on_autoupdate_notify, d);
	if (r < 0)
		ELOG_AUTOUPDATE(LOG_WARNING, "cannot listen for auto-update requests of the other daemons: %s",
				strerror(-r));
}

void eng_pin_last_good_bundle(struct engine *e, const char *app, const char *group, const json_t *rev, json_t *doc)
{
	char good[16] = "";
	json_t *lg = NULL, *gb = NULL;

	/* the group's last success by creation order; its revision must be the one deployed */
	if (store_eng_last_good(e->tx, app, group, "", good, &lg) == 0 && json_equal(lg, rev) &&
	    store_eng_bundle_get(e->tx, good, &gb) == 0 && rd_json_str(gb, "sha256"))
		json_object_set_new(doc, "rolloutBundleSha256", json_string(rd_json_str(gb, "sha256")));
	json_decref(lg);
	json_decref(gb);
}

/* Instances the group selects that were never its targets get its last
 * successful revision (creator CodeDeployAutoUpdate), and so do outdated
 * ones: instances whose last successful deployment was a scale-out that
 * deployed an older revision while a newer one was in flight, unless the
 * group's outdatedInstancesStrategy is IGNORE. */
int eng_autoupdate_create(struct engine *e, const struct eng_input *in, char newid[12])
{
	json_t *doc = NULL, *ids = NULL, *tj, *rev, *row;
	size_t i, nnew = 0;
	bool ignore;
	int r;

	if (!in->targets)
		return -ENOENT;
	for (struct eng_dep *dp = e->deps; dp; dp = dp->next)
		if (!dp->finished && strcmp(dp->app, in->app) == 0 && strcmp(dp->group, in->group) == 0)
			return -ENOENT; /* a deployment runs; it will re-scan when it ends */
	if (store_eng_group(e->tx, in->app, in->group, &doc) < 0)
		return -ENOENT;
	/* the revision of the group's last successful deployment, in the order
	 * they ended (a scale-out may end after a newer revision succeeded) */
	rev = json_object_get(doc, "targetRevision");
	ignore = rd_json_str(doc, "outdatedInstancesStrategy") &&
		 strcmp(rd_json_str(doc, "outdatedInstancesStrategy"), "IGNORE") == 0;
	ids = json_array();
	json_array_foreach(in->targets, i, tj)
	{
		bool seen = true;
		const char *id = rd_json_str(tj, "targetId");
		if (!id || !json_is_object(rev))
			continue;
		CHK(store_eng_instance_in_group(e->tx, in->app, in->group, id, &seen), "in group");
		if (!seen) {
			json_array_append_new(ids, json_string(id));
			nnew++;
		} else if (!ignore) {
			char creator[64] = "";
			json_t *had = NULL;
			if (store_eng_instance_last_success(e->tx, in->app, in->group, id, creator, &had) == 0 &&
			    strcmp(creator, "autoscaling") == 0 && !json_equal(had, rev))
				json_array_append_new(ids, json_string(id));
			json_decref(had);
		}
	}
	if (json_array_size(ids) == 0 || eng_new_deployment_id(newid) < 0) {
		json_decref(ids);
		json_decref(doc);
		return -ENOENT;
	}
	row = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:O,s:{s:s,s:o}}", "id", newid, "application", in->app,
			"deployment_group", in->group, "deployment_config",
			rd_json_str(doc, "deploymentConfigName") ? rd_json_str(doc, "deploymentConfigName")
								 : "CodeDeployDefault.OneAtATime",
			"compute_platform", "Server", "creator", "CodeDeployAutoUpdate", "create_time",
			(json_int_t)e->now_wall, "revision", rev, "doc", "description",
			"Automatic deployment of the last successful revision to new and outdated instances",
			"rolloutTargetIds", ids);
	json_decref(doc);
	if (!row)
		return -ENOMEM;
	eng_pin_last_good_bundle(e, in->app, in->group, rev, json_object_get(row, "doc"));
	r = store_eng_deployment_insert(e->tx, row);
	if (r == 0)
		ENG_DLOG(LOG_NOTICE, newid, NULL, NULL,
			 "%s: auto-update of %s/%s: %zu new and %zu outdated instance(s) get the last successful "
			 "revision",
			 newid, in->app, in->group, nnew,
			 json_array_size(json_object_get(json_object_get(row, "doc"), "rolloutTargetIds")) - nnew);
	json_decref(row);
	return r;
}
