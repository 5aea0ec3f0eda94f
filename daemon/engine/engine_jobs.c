/* Plugin work on workers; see engine_jobs.h. One function per job kind,
 * each filling the input it reports with. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundles/bundles.h"
#include "core/aws_assume.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/workpool.h"
#include "engine/engine_autoscale.h"
#include "engine/engine_bg.h"
#include "engine/engine_context.h"
#include "engine/engine_jobs.h"
#include "engine/engine_targets.h"
#include "health/alarms.h"
#include "jsonutil.h"
#include "traffic/traffic.h"

static struct eng_job *job_alloc(enum eng_job_kind kind, const char *dep, const char *app, const char *group,
				 const json_t *group_doc)
{
	struct eng_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->kind = kind;
	snprintf(j->dep, sizeof(j->dep), "%s", dep ? dep : "");
	snprintf(j->app, sizeof(j->app), "%s", app);
	snprintf(j->group, sizeof(j->group), "%s", group);
	j->group_json = json_dumps(group_doc, JSON_COMPACT);
	return j;
}

struct eng_job *eng_job_new(enum eng_job_kind kind, const struct eng_dep *dp)
{
	return job_alloc(kind, dp->id, dp->app, dp->group, dp->group_doc);
}

struct eng_job *eng_job_autoupdate(const char *app, const char *name, const json_t *doc)
{
	return job_alloc(JOB_AUTOUPDATE, NULL, app, name, doc);
}

struct eng_job *eng_job_payload(enum eng_job_kind kind, const json_t *payload)
{
	return job_alloc(kind, NULL, "", "", payload);
}

void eng_job_free(struct eng_job *j)
{
	if (!j)
		return;
	free(j->group_json);
	free(j->revision_json);
	free(j->deployment_json);
	free(j->config_json);
	for (size_t i = 0; i < j->ngreen; i++)
		free(j->green[i]);
	free(j->green);
	for (size_t i = 0; i < j->nblue; i++)
		free(j->blue[i]);
	free(j->blue);
	eng_bgctl_unref(j->bgctl);
	free(j->appspec_json);
	free(j->state_json);
	free(j->hook_function);
	eng_shiftctl_unref(j->ctl);
	free(j);
}

static struct rollout_deployment job_deployment(const struct engine *e, const struct eng_job *j)
{
	return (struct rollout_deployment)
	    ROLLOUT_DEPLOYMENT_INIT(.deployment_id = j->dep[0] ? j->dep : NULL, .application_name = j->app,
				    .deployment_group_name = j->group, .compute_platform = "Server",
				    .region = e->d->cfg ? e->d->cfg->region : NULL,
				    .account_id = e->d->cfg ? e->d->cfg->account_id : NULL);
}

static void set_error(struct eng_input *in, const char *code, const char *message)
{
	rd_error_set(&in->err, -EIO, code, "%s", message);
}

/* ---------------------------------------------------------------- JOB_RESOLVE */

/* Revisions without a bundle (Lambda/ECS AppSpec content). */
static bool bundle_free_revision(const char *revision_json)
{
	json_t *rev = json_loads(revision_json, 0, NULL);
	const char *t = rd_json_str(rev, "revisionType");
	bool r = !t || strcmp(t, "String") == 0 || strcmp(t, "AppSpecContent") == 0;
	json_decref(rev);
	return r;
}

/* The revision into the bundle cache (the daemon validates it before any
 * host is touched). False when the deployment must fail. */
static bool ensure_bundle(struct engine *e, struct eng_job *j, struct eng_input *in)
{
	struct cached_bundle cb;
	json_t *doc;
	int r;

	if (!j->revision_json || bundle_free_revision(j->revision_json))
		return true;
	/* a rollback installs again the very bundle it returns to: from the
	 * cache, the source not asked */
	doc = j->deployment_json ? json_loads(j->deployment_json, 0, NULL) : NULL;
	r = bundles_ensure_held(e->d, j->revision_json, rd_json_str(doc, "rolloutBundleSha256"), NULL, &cb, &in->err);
	json_decref(doc);
	if (r == -ESHUTDOWN) {
		/* No bundle cache in this daemon: hosts fetch the revision
		 * themselves from its location, as with CodeDeploy. */
		rd_error_clear(&in->err);
		return true;
	}
	if (r < 0) {
		if (!in->err.code[0])
			snprintf(in->err.code, sizeof(in->err.code), "INTERNAL_ERROR");
		return false;
	}
	in->have_bundle = true;
	snprintf(in->sha256, sizeof(in->sha256), "%s", cb.sha256);
	in->size = cb.size;
	snprintf(in->bundle_type, sizeof(in->bundle_type), "%s", cb.bundle_type);
	return true;
}

/* Blue/green: green out of service before any hook runs on it, and the
 * original fleet for its Blue targets. False when the deployment must fail. */
static bool prepare_green(struct engine *e, struct eng_job *j, const struct rollout_deployment *dep,
			  const json_t *group, struct eng_input *in)
{
	size_t n = json_array_size(in->targets), k = 0, x;
	const char **green = calloc(n + 1, sizeof(*green));
	struct rollout_error terr = {.size = sizeof(terr)};
	const json_t *t;
	bool ok;

	json_array_foreach(in->targets, x, t)
	{
		if (green && rd_json_str(t, "targetId"))
			green[k++] = rd_json_str(t, "targetId");
	}
	struct traffic_bg_run run = {.reg = e->d->plugins,
				     .dep = dep,
				     .deployment_json = j->deployment_json,
				     .group_json = j->group_json,
				     .green = green,
				     .ngreen = k};
	ok = green && traffic_bg_begin(&run, &terr) == 0;
	if (ok)
		in->blue = eng_targets_blue(e->d->plugins, dep, group, in->targets);
	else
		set_error(in, terr.code[0] ? terr.code : "INTERNAL_ERROR",
			  terr.message[0] ? terr.message : "out of memory");
	free(green);
	return ok;
}

/* A deployment's bundle into the cache, then its targets (the green fleet
 * and the original one for blue/green). */
static void job_resolve(struct engine *e, struct eng_job *j, struct eng_input *in)
{
	struct rollout_deployment dep = job_deployment(e, j);
	json_t *group, *doc;

	if (!ensure_bundle(e, j, in))
		return;
	group = json_loads(j->group_json ? j->group_json : "{}", 0, NULL);
	if (eng_bg_rollback_fleet(e, &dep, j->creator, group, in)) {
		json_decref(group);
		return;
	}
	doc = j->deployment_json ? json_loads(j->deployment_json, 0, NULL) : json_object();
	/* blue/green: a green fleet a platform creates (a copied Auto Scaling
	 * group) exists before it is resolved */
	if (eng_bg_provision(e, &dep, j->group_json, doc, &in->err) < 0) {
		json_decref(group);
		json_decref(doc);
		return;
	}
	if (eng_targets_resolve(e->d->plugins, &dep, group, doc, &in->targets, &in->bg, &in->err) == 0 && in->bg &&
	    json_array_size(in->targets) > 0 && !prepare_green(e, j, &dep, group, in)) {
		json_decref(in->targets);
		in->targets = NULL;
	}
	json_decref(group);
	json_decref(doc);
}

/* ---------------------------------------------------------------- JOB_AUTOUPDATE */

/* Every instance the group selects now. */
static void job_autoupdate(struct engine *e, struct eng_job *j, struct eng_input *in)
{
	struct rollout_deployment dep = job_deployment(e, j);
	json_t *group = json_loads(j->group_json ? j->group_json : "{}", 0, NULL);

	eng_targets_resolve(e->d->plugins, &dep, group, NULL, &in->targets, NULL, &in->err);
	json_decref(group);
}

/* ---------------------------------------------------------------- JOB_TRAFFIC */

/* BlockTraffic / AllowTraffic of one instance through the traffic plugin.
 * Idempotent, so a restart simply runs it again. */
static void job_traffic(struct engine *e, struct eng_job *j, struct eng_input *in)
{
	struct traffic_group *g = NULL;
	struct rollout_error terr = {.size = sizeof(terr)};
	int r = traffic_group_parse(e->d->plugins, j->group_json ? j->group_json : "{}", &g, &terr);

	if (r == 0)
		r = j->block ? traffic_block(g, j->target, TRAFFIC_DRAIN_TIMEOUT_MS, &terr)
			     : traffic_allow(g, j->target, &terr);
	traffic_group_free(g);
	snprintf(in->target, sizeof(in->target), "%s", j->target);
	in->ev = j->ev;
	in->ok = r == 0;
	if (r < 0)
		set_error(in, terr.code[0] ? terr.code : "ELASTIC_LOAD_BALANCING_INVALID",
			  terr.message[0] ? terr.message : strerror(-r));
}

/* ---------------------------------------------------------------- JOB_GATE */

/* The per-instance health gate (docs/health.md): blocks up to each gate
 * alarm's gate_timeout. */
static void job_gate(struct engine *e, struct eng_job *j, struct eng_input *in)
{
	json_t *gd = json_loads(j->group_json ? j->group_json : "{}", 0, NULL);
	json_t *dd = j->deployment_json ? json_loads(j->deployment_json, 0, NULL) : NULL;
	char reason[1024] = "";
	int r = alarms_gate_instance(e->d, j->dep, gd, dd, j->target, reason, sizeof(reason));

	json_decref(gd);
	json_decref(dd);
	snprintf(in->target, sizeof(in->target), "%s", j->target);
	in->ev = j->ev;
	in->ok = r == 0;
	if (r < 0)
		rd_error_set(&in->err, r, "UnknownError",
			     "The health gate of instance %s could not be checked: %s; check the alarms: "
			     "definitions in the rolloutd config",
			     j->target, strerror(-r));
	else if (r > 0)
		set_error(in, "UnknownError", reason);
}

/* ---------------------------------------------------------------- JOB_BG */

struct bg_run_ctx {
	struct engine *e;
	struct eng_job *j;
};

/* traffic_bg_run's poll: the engine's word on the deployment. */
static int bg_poll(void *userdata)
{
	struct bg_run_ctx *c = userdata;
	return __atomic_load_n(&c->j->bgctl->signal, __ATOMIC_SEQ_CST);
}

/* The termination wait began: the engine stores it (and its end) and
 * accepts ContinueDeployment(TERMINATION_WAIT) from then on. */
static void bg_wait_started(void *userdata, int64_t end_wall_ms)
{
	struct bg_run_ctx *c = userdata;
	struct eng_input *in = eng_input_new(IN_BG);

	if (!in)
		return; /* the wait just cannot be ended early */
	snprintf(in->dep, sizeof(in->dep), "%s", c->j->dep);
	in->wait_end = end_wall_ms > 0 ? end_wall_ms : 1;
	eng_post(&c->e->q, in);
}

/* The blue/green traffic phase (traffic_bg_run): reroute or weighted
 * shift, termination wait. */
static void job_bg(struct engine *e, struct eng_job *j, struct eng_input *in)
{
	struct rollout_deployment dep = job_deployment(e, j);
	struct bg_run_ctx ctx = {.e = e, .j = j};
	struct traffic_bg_run run = {.reg = e->d->plugins,
				     .dep = &dep,
				     .deployment_json = j->deployment_json,
				     .group_json = j->group_json,
				     .config_json = j->config_json,
				     .green = (const char *const *)j->green,
				     .ngreen = j->ngreen,
				     .poll = bg_poll,
				     .userdata = &ctx,
				     .poll_ms = 200,
				     .wait_started = bg_wait_started,
				     .wait_end_wall_ms = j->wait_end};
	struct rollout_error terr = {.size = sizeof(terr)};
	int r;

	run.blue = (const char *const *)j->blue;
	run.nblue = j->nblue;
	if (j->fleet_discard) {
		eng_bg_fleet_end(e, j, &dep, false);
		return;
	}
	if (j->route_back) {
		traffic_bg_route_back(&run, &terr);
		eng_bg_fleet_end(e, j, &dep, false);
		return;
	}
	if (j->retire) {
		/* the original fleet retired, or (stopped during the wait) traffic
		 * back on it and the green one discarded */
		r = traffic_bg_finish(&run, &terr);
		eng_bg_fleet_end(e, j, &dep, r == 0);
	} else {
		r = traffic_bg_run(&run, NULL, &terr);
		if (r < 0) /* traffic stayed on, or went back to, the original fleet */
			eng_bg_fleet_end(e, j, &dep, false);
	}
	in->ok = r == 0;
	if (r < 0)
		set_error(in, terr.code[0] ? terr.code : "INTERNAL_ERROR",
			  terr.message[0] ? terr.message : strerror(-r));
}

/* ---------------------------------------------------------------- running */

static const enum eng_input_kind reports_as[] = {
    [JOB_RESOLVE] = IN_RESOLVED,
    [JOB_AUTOUPDATE] = IN_AUTOUPDATE,
    [JOB_TRAFFIC] = IN_TRAFFIC,
    [JOB_GATE] = IN_GATE,
    [JOB_BG] = IN_BG,
    [JOB_SHIFT_START] = IN_SHIFT,
    [JOB_SHIFT_OP] = IN_SHIFT,
    [JOB_LIFECYCLE] = IN_LIFECYCLE,
    [JOB_LIFECYCLE_COMPLETE] = IN_LIFECYCLE,
};

static void (*const runs[])(struct engine *, struct eng_job *, struct eng_input *) = {
    [JOB_RESOLVE] = job_resolve,
    [JOB_AUTOUPDATE] = job_autoupdate,
    [JOB_TRAFFIC] = job_traffic,
    [JOB_GATE] = job_gate,
    [JOB_BG] = job_bg,
    [JOB_SHIFT_START] = eng_job_shift_start,
    [JOB_SHIFT_OP] = eng_job_shift_op,
    [JOB_LIFECYCLE] = eng_job_lifecycle,
    [JOB_LIFECYCLE_COMPLETE] = eng_job_lifecycle,
};

struct job_run {
	struct engine *e;
	struct eng_job *j;
};

static void job_run(void *arg)
{
	struct job_run *jr = arg;
	struct engine *e = jr->e;
	struct eng_job *j = jr->j;
	struct eng_input *in = eng_input_new(reports_as[j->kind]);

	free(jr);
	if (in) {
		snprintf(in->dep, sizeof(in->dep), "%s", j->dep);
		snprintf(in->app, sizeof(in->app), "%s", j->app);
		snprintf(in->group, sizeof(in->group), "%s", j->group);
		/* the AWS calls of this deployment's plugins act as its group's
		 * service role (plugins with assume_service_role) */
		json_t *g = json_loads(j->group_json ? j->group_json : "{}", 0, NULL);
		aws_assume_set_role(rd_json_str(g, "serviceRoleArn"));
		json_decref(g);
		runs[j->kind](e, j, in);
		aws_assume_set_role(NULL);
	}
	eng_job_done(e, j, in);
}

void eng_job_done(struct engine *e, struct eng_job *j, struct eng_input *in)
{
	eng_job_free(j);
	if (in)
		eng_post(&e->q, in);
	__atomic_sub_fetch(&e->jobs_running, 1, __ATOMIC_SEQ_CST);
}

void eng_jobs_submit(struct engine *e, struct eng_job *j)
{
	struct job_run *jr;

	__atomic_add_fetch(&e->jobs_running, 1, __ATOMIC_SEQ_CST);
	if (e->io->submit) {
		e->io->submit(e, j);
		return;
	}
	jr = malloc(sizeof(*jr));
	if (!jr) {
		/* Nothing to report back; the deployment is resumed after restart. */
		eng_job_done(e, j, NULL);
		return;
	}
	*jr = (struct job_run){.e = e, .j = j};
	if (j->kind == JOB_GATE && e->gate_pool && workpool_submit(e->gate_pool, job_run, jr) == 0)
		return;
	if (!e->d->pool || workpool_submit(e->d->pool, job_run, jr) < 0)
		job_run(jr);
}
