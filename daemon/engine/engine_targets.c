/* Which instances a deployment reaches and in which order; see
 * engine_targets.h. Also Rolloutd_v1.PlanDeployment (engine_plan_deployment),
 * which runs the same functions without deploying. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"
#include "core/daemon.h"
#include "core/platforms.h"
#include "engine/engine.h"
#include "engine/engine_targets.h"
#include "jsonutil.h"
#include "store/store.h"
#include "store/store.h"
#include "store/store_engine.h"
#include "traffic/traffic.h"

int eng_targets_resolve(const struct plugin_registry *reg, const struct rollout_deployment *dep, const json_t *group,
			const json_t *deployment_doc, json_t **ret, bool *ret_bg, struct rd_error *err)
{
	json_t *g = json_is_object(group) ? json_deep_copy(group) : json_object();
	bool bg = false;
	int r;

	if (!g)
		return rd_error_set(err, -ENOMEM, "INTERNAL_ERROR", "out of memory resolving the deployment group");
	if (deployment_doc) {
		/* What to resolve: the group, narrowed by the deployment's
		 * targetInstances; for blue/green the green fleet's selector. */
		struct traffic_group *tg = NULL;
		struct rollout_error terr = {.size = sizeof(terr)};
		char *gj = json_dumps(g, JSON_COMPACT), *dj = json_dumps(deployment_doc, JSON_COMPACT);

		r = traffic_group_parse(reg, gj ? gj : "{}", &tg, &terr);
		if (r < 0) {
			free(gj);
			free(dj);
			json_decref(g);
			return rd_error_set(err, r, terr.code[0] ? terr.code : "ELASTIC_LOAD_BALANCING_INVALID", "%s",
					    terr.message);
		}
		bg = traffic_group_blue_green(tg);
		traffic_group_free(tg);
		if (bg) {
			char *sel = NULL;
			json_t *selj;
			r = traffic_green_selector(dj, gj, &sel, &terr);
			free(gj);
			free(dj);
			if (r < 0) {
				json_decref(g);
				return rd_error_set(
				    err, r, terr.code[0] ? terr.code : "MISSING_BLUE_GREEN_DEPLOYMENT_CONFIGURATION",
				    "%s", terr.message);
			}
			selj = json_loads(sel, 0, NULL);
			free(sel);
			if (json_object_get(selj, "targetInstances"))
				json_object_set(g, "targetInstances", json_object_get(selj, "targetInstances"));
			json_decref(selj);
		} else {
			free(gj);
			free(dj);
			if (json_is_object(json_object_get(deployment_doc, "targetInstances")))
				json_object_set(g, "targetInstances",
						json_object_get(deployment_doc, "targetInstances"));
		}
	}
	if (json_is_true(json_object_get(deployment_doc, "rolloutTermination"))) {
		/* Auto Scaling no longer counts a terminating instance among its
		 * group's: a termination deployment selects its one instance by id */
		static const char *const selectors[] = {"ec2TagFilters",     "ec2TagSet",
							"autoScalingGroups", "onPremisesInstanceTagFilters",
							"onPremisesTagSet",  "targetInstances"};
		for (size_t i = 0; i < sizeof(selectors) / sizeof(selectors[0]); i++)
			json_object_del(g, selectors[i]);
		json_object_set(g, "ec2InstanceIds", json_object_get(deployment_doc, "rolloutTargetIds"));
	}
	r = platforms_resolve(reg, dep, "Server", g, ret, err);
	json_decref(g);
	if (r == 0 && ret_bg)
		*ret_bg = bg;
	return r;
}

json_t *eng_targets_blue(const struct plugin_registry *reg, const struct rollout_deployment *dep, const json_t *group,
			 const json_t *green)
{
	json_t *g = json_is_object(group) ? json_deep_copy(group) : json_object(), *all = NULL, *blue, *seen, *v;
	size_t i;

	if (!g)
		return NULL;
	json_object_del(g, "targetInstances");
	if (platforms_resolve(reg, dep, "Server", g, &all, NULL) < 0) {
		json_decref(g);
		return NULL;
	}
	json_decref(g);
	blue = json_array();
	seen = json_object();
	json_array_foreach(green, i, v)
	{
		if (rd_json_str(v, "targetId"))
			json_object_set_new(seen, rd_json_str(v, "targetId"), json_true());
	}
	json_array_foreach(all, i, v)
	{
		if (rd_json_str(v, "targetId") && !json_object_get(seen, rd_json_str(v, "targetId")))
			json_array_append(blue, v);
	}
	json_decref(seen);
	json_decref(all);
	return blue;
}

void eng_selection_free(struct eng_selection *s)
{
	if (!s)
		return;
	free(s->v);
	s->v = NULL;
	s->n = s->deploy = 0;
}

int eng_targets_select(struct store_tx *tx, const char *dep_id, const char *app, const char *group,
		       const json_t *resolved, const json_t *only, bool outdated_only, const json_t *revision,
		       struct eng_selection *ret)
{
	size_t n = json_array_size(resolved), k = 0, i;
	const char **names = calloc(n + 1, sizeof(*names));
	bool *failed = calloc(n + 1, sizeof(*failed));
	struct eng_selected *v = calloc(n + 1, sizeof(*v));
	json_t *byid = json_object(), *allowed = NULL;
	const json_t *tj;
	int r = 0;

	if (!names || !failed || !v || !byid) {
		r = -ENOMEM;
		goto out;
	}
	if (json_is_array(only)) {
		allowed = json_object();
		json_array_foreach(only, i, tj)
		{
			if (json_string_value(tj))
				json_object_set_new(allowed, json_string_value(tj), json_true());
		}
	}
	json_array_foreach(resolved, i, tj)
	{
		const char *id = rd_json_str(tj, "targetId");
		char *last = NULL;

		if (!id || !*id || json_object_get(byid, id))
			continue;
		if (allowed && !json_object_get(allowed, id))
			continue;
		json_object_set_new(byid, id, json_integer((json_int_t)i));
		r = store_eng_instance_last_status(tx, id, dep_id ? dep_id : "", &last);
		if (r < 0)
			goto out;
		failed[k] = last && strcmp(last, "Failed") == 0;
		free(last);
		names[k++] = id;
	}
	eng_order_targets(names, failed, k);
	for (i = 0; i < k; i++) {
		v[i].id = names[i];
		v[i].src = json_array_get(resolved, (size_t)json_integer_value(json_object_get(byid, names[i])));
		v[i].last_failed = failed[i];
		if (outdated_only) {
			json_t *lr = NULL;
			r = store_eng_instance_last_revision(tx, app, group, names[i], &lr);
			if (r < 0)
				goto out;
			v[i].up_to_date = lr && revision && json_equal(lr, (json_t *)revision);
			json_decref(lr);
		}
		if (!v[i].up_to_date)
			ret->deploy++;
	}
	ret->v = v;
	ret->n = k;
	v = NULL;
out:
	if (r < 0)
		ret->deploy = 0;
	free(v);
	free(names);
	free(failed);
	json_decref(byid);
	json_decref(allowed);
	return r;
}

int eng_targets_policy(struct store_tx *tx, const char *config, int total, struct eng_policy *ret, struct rd_error *err)
{
	json_t *cfg = NULL;
	const json_t *mhh;
	enum eng_mhh_type type = ENG_MHH_MOST_CONCURRENCY;
	int value = 1, r;

	r = store_eng_config(tx, config, &cfg);
	if (r < 0)
		return rd_error_set(err, r, "INTERNAL_ERROR",
				    "deployment config %s does not exist; create it or use a CodeDeployDefault one",
				    config);
	mhh = json_object_get(cfg, "minimumHealthyHosts");
	if (json_is_object(mhh)) {
		if (eng_mhh_type_parse(rd_json_str(mhh, "type"), &type) < 0) {
			r = rd_error_set(err, -EINVAL, "INTERNAL_ERROR",
					 "deployment config %s has minimumHealthyHosts type %s; use HOST_COUNT or "
					 "FLEET_PERCENT",
					 config, rd_json_str(mhh, "type") ? rd_json_str(mhh, "type") : "(none)");
			json_decref(cfg);
			return r;
		}
		value = (int)json_integer_value(json_object_get(mhh, "value"));
	}
	json_decref(cfg);
	return eng_policy_compute(type, value, total, ret, err);
}

/* ---------------------------------------------------------------- PlanDeployment */

/* The plan's errorInformation: the deployment would fail before any batch. */
static void would_fail(json_t *plan, const char *code, const char *message)
{
	json_object_set_new(plan, "errorInformation", json_pack("{s:s,s:s}", "code", code, "message", message));
}

static void exclude(json_t *plan, const char *instance, const char *reason)
{
	json_array_append_new(json_object_get(plan, "excluded"),
			      json_pack("{s:s,s:s}", "instance", instance, "reason", reason));
}

/* Registered on-premises instances that are no target, and why. */
static void exclude_others(struct rd_daemon *d, json_t *plan, const json_t *targets, const json_t *blue)
{
	struct store_instances ins = {0};
	json_t *known = json_object(), *v;
	size_t i;

	json_array_foreach(targets, i, v)
	{
		if (rd_json_str(v, "targetId"))
			json_object_set_new(known, rd_json_str(v, "targetId"), json_string("target"));
	}
	json_array_foreach(blue, i, v)
	{
		if (rd_json_str(v, "targetId") && !json_object_get(known, rd_json_str(v, "targetId")))
			json_object_set_new(known, rd_json_str(v, "targetId"), json_string("blue"));
	}
	if (store_instance_all(d->store, &ins) < 0) {
		json_decref(known);
		return;
	}
	for (i = 0; i < ins.n; i++) {
		const char *name = ins.v[i].name, *why = rd_json_str(known, name ? name : "");
		if (!name || (why && strcmp(why, "target") == 0))
			continue;
		if (ins.v[i].deregister_time > 0 || (ins.v[i].status && strcmp(ins.v[i].status, "Deregistered") == 0))
			exclude(plan, name, "deregistered");
		else if (why)
			exclude(plan, name,
				"in the original (blue) fleet: a blue/green deployment deploys to the replacement "
				"(green) fleet only");
		else
			exclude(plan, name, "its tags match none of the group's tag filters");
	}
	store_instances_clear(&ins);
	json_decref(known);
}

int engine_plan_deployment(struct rd_daemon *d, const struct engine_plan_request *req, json_t **ret,
			   struct rd_error *err)
{
	struct store_tx *tx = NULL;
	struct eng_selection sel = {0};
	struct rd_error rerr = RD_ERROR_INIT;
	struct eng_policy pol;
	json_t *group = NULL, *cfg = NULL, *rev = NULL, *doc = NULL, *resolved = NULL, *blue = NULL, *plan = NULL;
	const char *config;
	bool bg = false;
	int r;

	r = store_eng_begin(d->store, &tx);
	if (r < 0)
		return rd_error_set(err, r, "InternalFailure", "store: %s", strerror(-r));
	r = store_eng_group(tx, req->application_name, req->deployment_group_name, &group);
	if (r < 0) {
		rd_error_set(err, r, r == -ENOENT ? "DeploymentGroupDoesNotExistException" : "InternalFailure",
			     "No deployment group named %s in application %s", req->deployment_group_name,
			     req->application_name);
		goto out;
	}
	config = req->deployment_config_name ? req->deployment_config_name : rd_json_str(group, "deploymentConfigName");
	if (!config)
		config = "CodeDeployDefault.OneAtATime";
	r = store_eng_config(tx, config, &cfg);
	if (r < 0) {
		rd_error_set(err, r, r == -ENOENT ? "DeploymentConfigDoesNotExistException" : "InternalFailure",
			     "No deployment configuration named %s", config);
		goto out;
	}
	rev = json_incref(req->revision ? (json_t *)req->revision : json_object_get(group, "targetRevision"));
	store_eng_rollback(tx);
	tx = NULL;

	plan = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:[],s:[],s:[],s:[]}", "applicationName", req->application_name,
			 "deploymentGroupName", req->deployment_group_name, "computePlatform", "Server",
			 "deploymentConfigName", config, "batchSize", (json_int_t)0, "minimumHealthy", (json_int_t)0,
			 "targets", "batches", "failedFirst", "excluded");
	doc = json_object();
	if (!plan || !doc) {
		r = rd_error_set(err, -ENOMEM, "InternalFailure", "out of memory");
		goto out;
	}
	if (json_is_object(json_object_get(cfg, "minimumHealthyHosts")))
		json_object_set(plan, "minimumHealthyHosts", json_object_get(cfg, "minimumHealthyHosts"));
	if (req->target_instances)
		json_object_set(doc, "targetInstances", (json_t *)req->target_instances);

	{
		struct rollout_deployment dep =
		    ROLLOUT_DEPLOYMENT_INIT(.application_name = req->application_name,
					    .deployment_group_name = req->deployment_group_name,
					    .compute_platform = "Server", .region = d->cfg ? d->cfg->region : NULL,
					    .account_id = d->cfg ? d->cfg->account_id : NULL);
		r = eng_targets_resolve(d->plugins, &dep, group, doc, &resolved, &bg, &rerr);
		if (r == 0 && bg)
			blue = eng_targets_blue(d->plugins, &dep, group, resolved);
	}
	if (r < 0) {
		would_fail(plan, rerr.code, rerr.message);
		goto answer;
	}
	r = store_eng_begin(d->store, &tx);
	if (r == 0)
		r = eng_targets_select(tx, "", req->application_name, req->deployment_group_name, resolved, NULL,
				       req->update_outdated_instances_only, rev, &sel);
	if (r == 0 && sel.deploy > 0 && eng_targets_policy(tx, config, (int)sel.deploy, &pol, &rerr) < 0)
		would_fail(plan, rerr.code, rerr.message);
	store_eng_rollback(tx);
	tx = NULL;
	if (r < 0) {
		rd_error_set(err, r, "InternalFailure", "store: %s", strerror(-r));
		goto out;
	}
	if (sel.n == 0) {
		would_fail(plan, "NO_INSTANCES", ENG_MSG_NO_INSTANCES);
		goto answer;
	}
	for (size_t i = 0; i < sel.n; i++) {
		if (sel.v[i].up_to_date) {
			exclude(plan, sel.v[i].id,
				"it already runs the revision (updateOutdatedInstancesOnly): the deployment skips it");
			continue;
		}
		json_array_append_new(json_object_get(plan, "targets"), json_string(sel.v[i].id));
		if (sel.v[i].last_failed)
			json_array_append_new(json_object_get(plan, "failedFirst"), json_string(sel.v[i].id));
	}
	if (sel.deploy > 0 && !json_object_get(plan, "errorInformation")) {
		int *sizes = calloc(sel.deploy, sizeof(*sizes));
		size_t nb = sizes ? eng_plan_batches(&pol, (int)sel.deploy, sizes, sel.deploy) : 0, at = 0;
		json_t *targets = json_object_get(plan, "targets");
		for (size_t b = 0; b < nb; b++) {
			json_t *batch = json_array();
			for (int k = 0; k < sizes[b]; k++)
				json_array_append(batch, json_array_get(targets, at++));
			json_array_append_new(json_object_get(plan, "batches"), batch);
		}
		free(sizes);
		json_object_set_new(plan, "batchSize", json_integer(pol.one_at_a_time ? 1 : pol.max_unhealthy));
		json_object_set_new(plan, "minimumHealthy", json_integer(pol.min_healthy));
	}
answer:
	if (resolved)
		exclude_others(d, plan, resolved, blue);
	*ret = plan;
	plan = NULL;
	r = 0;
out:
	store_eng_rollback(tx);
	eng_selection_free(&sel);
	json_decref(group);
	json_decref(cfg);
	json_decref(rev);
	json_decref(doc);
	json_decref(resolved);
	json_decref(blue);
	json_decref(plan);
	return r;
}
