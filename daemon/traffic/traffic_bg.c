/* The traffic phase of a blue/green server deployment: see traffic.h
 * (traffic_bg_run). Kept apart from traffic.c because it needs more than a
 * traffic plugin: the platform plugins for the blue fleet
 * (core/platforms.h) and the deployment's alarms between routing steps
 * (health/alarm_check.h, the rule every deployment's alarms follow). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/platforms.h"
#include "health/alarm_check.h"
#include "core/plugins.h"
#include "traffic/traffic.h"

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	if (ms > 0)
		nanosleep(&ts, NULL);
}

/* Every instance the group selects (its own filters; the deployment's
 * targetInstances left out), as a malloc'd array of malloc'd names. */
static int resolve_group(const struct traffic_bg_run *run, char ***ret, size_t *ret_n, struct rollout_error *err)
{
	json_t *g = json_loads(run->group_json ? run->group_json : "{}", 0, NULL), *all = NULL, *v;
	struct rd_error rerr = RD_ERROR_INIT;
	char **names = NULL;
	size_t n = 0, i;
	int r;

	if (!json_is_object(g)) {
		r = rollout_error_set(err, -EINVAL, "INTERNAL_ERROR", "deployment group is not a JSON object");
		goto out;
	}
	json_object_del(g, "targetInstances");
	r = platforms_resolve(run->reg, run->dep, "Server", g, &all, &rerr);
	if (r < 0) {
		rollout_error_set(err, r, rerr.code, "%s", rerr.message);
		goto out;
	}
	names = calloc(json_array_size(all) + 1, sizeof(*names));
	if (!names) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(all, i, v)
	{
		const char *id = json_string_value(json_object_get(v, "targetId"));
		if (id && !(names[n++] = strdup(id))) {
			r = -ENOMEM;
			goto out;
		}
	}
	*ret = names;
	*ret_n = n;
	names = NULL;
	r = 0;
out:
	if (names)
		for (i = 0; i < n; i++)
			free(names[i]);
	free(names);
	json_decref(all);
	json_decref(g);
	return r;
}

struct check_ctx {
	const struct traffic_bg_run *run;
	const json_t *alarm_config; /* the deployment's effective AlarmConfiguration, if enabled */
};

/* Between routing steps: a stop request, then the deployment's alarms by
 * the rule every deployment's alarms follow (health/alarm_check.h). */
static int check_alarms(void *ud, char *reason, size_t len)
{
	struct check_ctx *c = ud;
	const struct traffic_bg_run *run = c->run;
	struct alarm_verdict v;
	int r;

	if (run->poll && run->poll(run->userdata) == TRAFFIC_BG_STOP) {
		snprintf(reason, len, "the deployment was stopped");
		return 1;
	}
	if (!c->alarm_config)
		return 0;
	r = alarm_check_config(run->reg, run->dep, c->alarm_config, &v);
	if (r <= 0)
		return r;
	if (v.state == ROLLOUT_ALARM_ALARM)
		snprintf(reason, len, "alarm %s is in ALARM: %s", v.name, v.reason);
	else if (v.state == ROLLOUT_ALARM_INSUFFICIENT_DATA)
		snprintf(reason, len, "alarm %s has INSUFFICIENT_DATA: %s", v.name, v.reason);
	else
		snprintf(reason, len, "checking alarm %s failed: %s", v.name, v.reason);
	return 1;
}

int traffic_bg_run(const struct traffic_bg_run *run, size_t *ret_nblue, struct rollout_error *err)
{
	struct traffic_group *g = NULL;
	struct traffic_routing rt;
	bool weighted = false;
	char **all = NULL;
	const char **blue = NULL;
	size_t nall = 0, nblue = 0;
	json_t *grp = NULL, *dep_doc = NULL;
	struct check_ctx cc = {.run = run};
	int64_t poll_ms = run->poll_ms > 0 ? run->poll_ms : 1000;
	int r;

	r = traffic_group_parse(run->reg, run->group_json, &g, err);
	if (r < 0)
		goto out;
	if (!traffic_group_blue_green(g)) {
		r = rollout_error_set(err, -EINVAL, "MISSING_BLUE_GREEN_DEPLOYMENT_CONFIGURATION",
				      "the deployment group is not BLUE_GREEN");
		goto out;
	}
	r = traffic_routing_parse(run->config_json, &rt, &weighted, err);
	if (r < 0)
		goto out;
	weighted = weighted && rt.type != TRAFFIC_ALL_AT_ONCE;

	/* 1. blue */
	r = resolve_group(run, &all, &nall, err);
	if (r < 0)
		goto out;
	blue = calloc(nall + 1, sizeof(*blue));
	if (!blue) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nall; i++) {
		bool is_green = false;
		for (size_t k = 0; k < run->ngreen && !is_green; k++)
			is_green = strcmp(all[i], run->green[k]) == 0;
		if (!is_green)
			blue[nblue++] = all[i];
	}

	/* 2. ready wait */
	if (g->ready_action == TRAFFIC_READY_STOP) {
		int64_t end = mono_ms() + g->ready_wait_ms;
		int p = TRAFFIC_BG_WAIT;
		for (;;) {
			p = run->poll ? run->poll(run->userdata) : TRAFFIC_BG_WAIT;
			if (p != TRAFFIC_BG_WAIT || mono_ms() >= end)
				break;
			sleep_ms(poll_ms < end - mono_ms() ? poll_ms : end - mono_ms());
		}
		if (p == TRAFFIC_BG_STOP) {
			r = rollout_error_set(err, -ECANCELED, "MANUAL_STOP",
					      "the deployment was stopped before traffic was rerouted; blue keeps it");
			goto out;
		}
		if (p != TRAFFIC_BG_CONTINUE) {
			r = rollout_error_set(
			    err, -ETIMEDOUT, "TIMEOUT",
			    "nobody called ContinueDeployment within waitTimeInMinutes (%lld min), so "
			    "traffic stays on the original (blue) fleet (deploymentReadyOption "
			    "STOP_DEPLOYMENT)",
			    (long long)(g->ready_wait_ms / traffic_minute_ms()));
			goto out;
		}
	}

	/* 3. reroute */
	grp = json_loads(run->group_json ? run->group_json : "{}", 0, NULL);
	dep_doc = run->deployment_json ? json_loads(run->deployment_json, 0, NULL) : NULL;
	{
		const json_t *ac = alarms_effective_config(grp, dep_doc);
		if (json_is_true(json_object_get(ac, "enabled")))
			cc.alarm_config = ac;
	}
	if (weighted) {
		struct traffic_shift_opts o = {.poll_ms = poll_ms, .check = check_alarms, .userdata = &cc};
		r = traffic_shift_run(g, blue, nblue, run->green, run->ngreen, &rt, &o, err);
	} else {
		char reason[512] = "";
		r = traffic_bg_reroute(g, blue, nblue, run->green, run->ngreen, 0, err);
		if (r == 0 && cc.alarm_config && check_alarms(&cc, reason, sizeof(reason)) > 0) {
			struct rollout_error e2 = {.size = sizeof(e2)};
			traffic_bg_flip_back(g, blue, nblue, run->green, run->ngreen, 0, &e2);
			r = rollout_error_set(err, -ECANCELED, "ALARM_ACTIVE",
					      "traffic flipped back to the original (blue) fleet: %s", reason);
		}
	}
	if (r < 0)
		goto out;

	if (ret_nblue)
		*ret_nblue = nblue;
	r = 0;
out:
	json_decref(grp);
	json_decref(dep_doc);
	for (size_t i = 0; i < nall; i++)
		free(all[i]);
	free(all);
	free(blue);
	traffic_group_free(g);
	return r;
}

static bool serving(const struct traffic_group *g, const char *name, struct rollout_error *err, int *ret)
{
	for (size_t b = 0; b < g->nbackends; b++) {
		enum rollout_traffic_state st;
		int r = traffic_lb_get_state(g, g->backends[b], name, &st, err);
		if (r < 0) {
			*ret = r;
			return false;
		}
		if (st == ROLLOUT_TRAFFIC_ALLOWED)
			return true;
	}
	return false;
}

int traffic_bg_begin(const struct traffic_bg_run *run, struct rollout_error *err)
{
	struct traffic_group *g = NULL;
	char **all = NULL;
	size_t nall = 0, blue_serving = 0, green_serving = 0;
	int r;

	r = traffic_group_parse(run->reg, run->group_json, &g, err);
	if (r < 0)
		goto out;
	r = resolve_group(run, &all, &nall, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < nall && r == 0; i++) {
		bool is_green = false;
		for (size_t k = 0; k < run->ngreen && !is_green; k++)
			is_green = strcmp(all[i], run->green[k]) == 0;
		if (serving(g, all[i], err, &r)) {
			if (is_green)
				green_serving++;
			else
				blue_serving++;
		}
	}
	if (r < 0)
		goto out;
	if (green_serving > 0 && blue_serving == 0) {
		r = rollout_error_set(err, -EBUSY, "NO_INSTANCES",
				      "the replacement (green) fleet serves all the traffic and the original (blue) "
				      "fleet none: deploy to the idle fleet instead (targetInstances), or put the "
				      "other fleet in service first");
		goto out;
	}
	r = traffic_bg_prepare(g, run->green, run->ngreen, 0, err);
out:
	for (size_t i = 0; i < nall; i++)
		free(all[i]);
	free(all);
	traffic_group_free(g);
	return r;
}

int traffic_bg_finish(const struct traffic_bg_run *run, struct rollout_error *err)
{
	struct traffic_group *g = NULL;
	int64_t poll_ms = run->poll_ms > 0 ? run->poll_ms : 1000;
	int r = traffic_group_parse(run->reg, run->group_json, &g, err);

	if (r < 0)
		goto out;
	if (g->terminate_action == TRAFFIC_BLUE_TERMINATE && run->nblue > 0) {
		/* the wait is on the wall clock: its end outlives a restart */
		int64_t left = run->wait_end_wall_ms > 0 ? run->wait_end_wall_ms - wall_ms() : g->terminate_wait_ms;
		int64_t end = mono_ms() + (left > 0 ? left : 0);
		if (run->wait_started)
			run->wait_started(run->userdata, run->wait_end_wall_ms > 0 ? run->wait_end_wall_ms
										   : wall_ms() + (left > 0 ? left : 0));
		while (mono_ms() < end) {
			int p = run->poll ? run->poll(run->userdata) : TRAFFIC_BG_WAIT;
			if (p == TRAFFIC_BG_END_WAIT)
				break;
			if (p == TRAFFIC_BG_STOP) {
				r = traffic_bg_route_back(run, err);
				goto out;
			}
			sleep_ms(poll_ms < end - mono_ms() ? poll_ms : end - mono_ms());
		}
		r = traffic_bg_retire(g, run->blue, run->nblue, err);
	}
out:
	traffic_group_free(g);
	return r;
}

int traffic_bg_route_back(const struct traffic_bg_run *run, struct rollout_error *err)
{
	struct traffic_group *g = NULL;
	struct rollout_error e2 = {.size = sizeof(e2)};
	int r = traffic_group_parse(run->reg, run->group_json, &g, err);

	if (r < 0)
		return r;
	r = traffic_bg_flip_back(g, run->blue, run->nblue, run->green, run->ngreen, 0, &e2);
	traffic_group_free(g);
	rollout_error_set(err, -ECANCELED, "MANUAL_STOP",
			  "the deployment ended before the original (blue) fleet was retired; traffic flipped back "
			  "to it%s%s",
			  r < 0 ? ", but: " : "", r < 0 ? e2.message : "");
	return -ECANCELED;
}
