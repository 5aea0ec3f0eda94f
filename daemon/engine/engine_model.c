/* The engine's in-memory model; see engine_model.h. Plain data: nothing
 * here reads the store, talks to a host or decides a transition. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_model.h"
#include "jsonutil.h"

const char *const eng_status_name[ST_N] = {"Pending", "InProgress", "Succeeded", "Failed", "Skipped"};
const char *const eng_dstatus_name[DS_N] = {"Created", "Queued", "InProgress", "Succeeded", "Failed", "Stopped"};

enum eng_status eng_status_parse(const char *s)
{
	for (int i = 0; s && i < ST_N; i++)
		if (strcmp(s, eng_status_name[i]) == 0)
			return (enum eng_status)i;
	return ST_PENDING;
}

int eng_dstatus_parse(const char *s)
{
	if (s && strcmp(s, "Ready") == 0)
		return DS_INPROGRESS;
	for (int i = 0; s && i < DS_N; i++)
		if (strcmp(s, eng_dstatus_name[i]) == 0)
			return i;
	return -1;
}

json_t *eng_diag(const char *code, const char *script, const char *message, const char *log)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "errorCode", code ? code : "UnknownError", "scriptName",
			 script ? script : "", "message", message ? message : "", "logTail", log ? log : "");
}

/* ---------------------------------------------------------------- blue/green control */

struct eng_bgctl *eng_bgctl_new(void)
{
	struct eng_bgctl *c = calloc(1, sizeof(*c));
	if (c)
		c->refs = 1;
	return c;
}

struct eng_bgctl *eng_bgctl_ref(struct eng_bgctl *c)
{
	if (c)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_SEQ_CST);
	return c;
}

void eng_bgctl_unref(struct eng_bgctl *c)
{
	if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_SEQ_CST) == 0)
		free(c);
}

void eng_bgctl_stop(struct eng_bgctl *c)
{
	if (c)
		__atomic_store_n(&c->signal, TRAFFIC_BG_STOP, __ATOMIC_SEQ_CST);
}

void eng_bgctl_end_wait(struct eng_bgctl *c)
{
	enum traffic_bg_signal expected = TRAFFIC_BG_WAIT;

	/* a stop already given wins */
	if (c)
		__atomic_compare_exchange_n(&c->signal, &expected, TRAFFIC_BG_END_WAIT, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
}

struct eng_shiftctl *eng_shiftctl_new(void)
{
	struct eng_shiftctl *c = calloc(1, sizeof(*c));

	if (c)
		c->refs = 1;
	return c;
}

struct eng_shiftctl *eng_shiftctl_ref(struct eng_shiftctl *c)
{
	if (c)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_SEQ_CST);
	return c;
}

void eng_shiftctl_unref(struct eng_shiftctl *c)
{
	if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_SEQ_CST) == 0)
		free(c);
}

struct eng_shift *eng_shift_free(struct eng_shift *sh)
{
	if (!sh)
		return NULL;
	json_decref(sh->appspec);
	json_decref(sh->state);
	json_decref(sh->cursor);
	if (sh->ctl)
		__atomic_store_n(&sh->ctl->stop, 1, __ATOMIC_SEQ_CST); /* a running job ends early */
	eng_shiftctl_unref(sh->ctl);
	free(sh);
	return NULL;
}

/* ---------------------------------------------------------------- deployments and targets */

void eng_target_free(struct eng_target *t)
{
	if (!t)
		return;
	free(t->id);
	free(t->arn);
	free(t);
}

void eng_dep_clear_targets(struct eng_dep *dp)
{
	for (size_t i = 0; i < dp->nt; i++)
		eng_target_free(dp->t[i]);
	free(dp->t);
	dp->t = NULL;
	dp->nt = 0;
	rd_strmap_clear(&dp->tindex);
	dp->index_partial = false;
	dp->nindexed = 0;
	memset(dp->count, 0, sizeof(dp->count));
	dp->deploying = (struct eng_counts){0};
	dp->next_start = 0;
}

void eng_dep_free(struct eng_dep *dp)
{
	if (!dp)
		return;
	eng_bgctl_unref(dp->bgctl);
	eng_shift_free(dp->shift);
	eng_dep_clear_targets(dp);
	free(dp->app);
	free(dp->group);
	free(dp->config);
	free(dp->creator);
	json_decref(dp->row);
	json_decref(dp->group_doc);
	free(dp->spec);
	free(dp);
}

struct eng_dep *eng_dep_from_row(json_t *row)
{
	struct eng_dep *dp = calloc(1, sizeof(*dp));
	const json_t *doc = json_object_get(row, "doc");

	if (!dp)
		return NULL;
	snprintf(dp->id, sizeof(dp->id), "%s", rd_json_str(row, "id"));
	dp->app = strdup(rd_json_str(row, "application") ? rd_json_str(row, "application") : "");
	dp->group = strdup(rd_json_str(row, "deployment_group") ? rd_json_str(row, "deployment_group") : "");
	dp->config = strdup(rd_json_str(row, "deployment_config") ? rd_json_str(row, "deployment_config")
								  : "CodeDeployDefault.OneAtATime");
	dp->creator = strdup(rd_json_str(row, "creator") ? rd_json_str(row, "creator") : "user");
	dp->status = (enum eng_dstatus)eng_dstatus_parse(rd_json_str(row, "status"));
	dp->row = row;
	dp->stop_rollback = ENGINE_ROLLBACK_DEFAULT;
	dp->ignore_stop_failures = json_is_true(json_object_get(doc, "ignoreApplicationStopFailures"));
	dp->feb = rd_json_str(doc, "fileExistsBehavior");
	if (!dp->app || !dp->group || !dp->config || !dp->creator) {
		dp->row = NULL;
		eng_dep_free(dp);
		return NULL;
	}
	return dp;
}

/* Adds (sign 1) or takes away (-1) t's share of its deployment's counts. */
static void count(struct eng_dep *dp, const struct eng_target *t, int sign)
{
	dp->count[t->status] += sign;
	if (t->blue)
		return; /* the original fleet is not deployed to */
	switch (t->status) {
	case ST_PENDING:
		dp->deploying.pending += sign;
		break;
	case ST_INPROGRESS:
		/* a green instance waiting for the traffic phase is done as far
		 * as batching goes */
		if (t->bg_wait)
			dp->deploying.succeeded += sign;
		else
			dp->deploying.in_progress += sign;
		break;
	case ST_SUCCEEDED:
		dp->deploying.succeeded += sign;
		break;
	case ST_FAILED:
		dp->deploying.failed += sign;
		break;
	default:
		break;
	}
}

/* Brings the index and the counts up to date with the targets appended
 * since. Without memory for the index, lookups fall back to a scan. */
static void index_up(struct eng_dep *dp)
{
	if (dp->nindexed > dp->nt) {
		/* emptied without eng_dep_clear_targets: start over */
		rd_strmap_clear(&dp->tindex);
		dp->index_partial = false;
		memset(dp->count, 0, sizeof(dp->count));
		dp->deploying = (struct eng_counts){0};
		dp->next_start = 0;
		for (size_t i = 0; i < dp->nindexed && i < dp->nt; i++)
			dp->t[i]->indexed = false;
		dp->nindexed = 0;
	}
	for (; dp->nindexed < dp->nt; dp->nindexed++) {
		struct eng_target *t = dp->t[dp->nindexed];
		int r = rd_strmap_add(&dp->tindex, t->id, t);
		if (r < 0 && r != -EEXIST)
			dp->index_partial = true;
		t->indexed = true;
		count(dp, t, 1);
	}
}

struct eng_target *eng_target_find(struct eng_dep *dp, const char *instance)
{
	struct eng_target *t;

	index_up(dp);
	t = rd_strmap_get(&dp->tindex, instance);
	if (t || !dp->index_partial)
		return t;
	for (size_t i = 0; i < dp->nt; i++)
		if (strcmp(dp->t[i]->id, instance) == 0)
			return dp->t[i];
	return NULL;
}

void eng_target_set_status(struct eng_target *t, enum eng_status status)
{
	if (t->indexed)
		count(t->dep, t, -1);
	t->status = status;
	if (t->indexed)
		count(t->dep, t, 1);
}

void eng_target_set_bg_wait(struct eng_target *t, bool bg_wait)
{
	if (t->indexed)
		count(t->dep, t, -1);
	t->bg_wait = bg_wait;
	if (t->indexed)
		count(t->dep, t, 1);
}

struct eng_counts eng_dep_counts(struct eng_dep *dp)
{
	index_up(dp);
	return dp->deploying;
}

static void event_set(struct eng_event *ev, const char *name, bool service_side, bool noop_capable)
{
	snprintf(ev->name, sizeof(ev->name), "%s", name);
	ev->status = ST_PENDING;
	ev->service_side = service_side;
	ev->noop_capable = noop_capable;
}

/* The replacement (green) instances of a blue/green deployment run the
 * in-place events, then BeforeAllowTraffic, AllowTraffic (the traffic phase,
 * for the whole green fleet at once), AfterAllowTraffic. The original (blue)
 * instances run BeforeBlockTraffic, BlockTraffic (done by the traffic phase
 * when it moves traffic to green), AfterBlockTraffic, with the hooks of
 * their last successful revision: blue never gets the new one. */
static void events_init(struct eng_target *t, enum eng_fleet fleet)
{
	struct eng_event_def defs[ENG_MAX_EVENTS];
	size_t n, k = 0;

	if (fleet == FLEET_BLUE) {
		event_set(&t->ev[0], "BeforeBlockTraffic", false, true);
		event_set(&t->ev[1], "BlockTraffic", true, false);
		event_set(&t->ev[2], "AfterBlockTraffic", false, true);
		t->nev = 3;
		return;
	}
	if (fleet == FLEET_ORIGINAL) {
		event_set(&t->ev[0], "BeforeAllowTraffic", false, true);
		event_set(&t->ev[1], "AllowTraffic", true, false);
		event_set(&t->ev[2], "AfterAllowTraffic", false, true);
		t->nev = 3;
		return;
	}
	if (fleet == FLEET_TERMINATION || fleet == FLEET_TERMINATION_TRAFFIC)
		n = eng_termination_events(fleet == FLEET_TERMINATION_TRAFFIC, defs, ENG_MAX_EVENTS);
	else
		n = eng_lifecycle_events(fleet != FLEET_IN_PLACE, defs, ENG_MAX_EVENTS);
	for (size_t i = 0; i < n; i++) {
		if (fleet == FLEET_GREEN && strstr(defs[i].name, "BlockTraffic"))
			continue;
		event_set(&t->ev[k++], defs[i].name, defs[i].service_side, defs[i].noop_capable);
	}
	t->nev = (int)k;
}

enum eng_fleet eng_dep_fleet(const struct eng_dep *dp)
{
	if (dp->creator && strcmp(dp->creator, ENG_CREATOR_TERMINATION) == 0)
		return dp->traffic ? FLEET_TERMINATION_TRAFFIC : FLEET_TERMINATION;
	return dp->bg ? FLEET_GREEN : dp->traffic ? FLEET_IN_PLACE_TRAFFIC : FLEET_IN_PLACE;
}

struct eng_target *eng_target_new(struct eng_dep *dp, const char *id, const char *arn, int seq, enum eng_fleet fleet)
{
	struct eng_target *t = calloc(1, sizeof(*t));

	if (!t || !(t->id = strdup(id)) || (arn && !(t->arn = strdup(arn)))) {
		eng_target_free(t);
		return NULL;
	}
	t->dep = dp;
	t->seq = seq;
	t->status = ST_PENDING;
	t->blue = fleet == FLEET_BLUE;
	events_init(t, fleet);
	return t;
}

struct eng_target *eng_target_new_events(struct eng_dep *dp, const char *id, const char *arn, int seq,
					 const char *const *events)
{
	struct eng_target *t = calloc(1, sizeof(*t));

	if (!t || !(t->id = strdup(id)) || (arn && !(t->arn = strdup(arn)))) {
		eng_target_free(t);
		return NULL;
	}
	t->dep = dp;
	t->seq = seq;
	t->status = ST_PENDING;
	for (int i = 0; events[i] && i < ENG_MAX_EVENTS; i++) {
		event_set(&t->ev[i], events[i], false, false);
		t->nev = i + 1;
	}
	return t;
}

int eng_dep_restore_targets(struct eng_dep *dp, const json_t *rows)
{
	const json_t *tj;
	size_t i;

	dp->t = calloc(json_array_size(rows) + 1, sizeof(*dp->t));
	if (!dp->t)
		return -ENOMEM;
	json_array_foreach(rows, i, tj)
	{
		struct eng_target *t = calloc(1, sizeof(*t));
		const json_t *ev;
		size_t j;

		if (!t || !(t->id = strdup(rd_json_str(tj, "target_id") ? rd_json_str(tj, "target_id") : ""))) {
			free(t);
			return -ENOMEM;
		}
		t->dep = dp;
		t->arn = rd_json_str(tj, "target_arn") ? strdup(rd_json_str(tj, "target_arn")) : NULL;
		t->seq = (int)json_integer_value(json_object_get(tj, "seq"));
		t->status = eng_status_parse(rd_json_str(tj, "status"));
		/* Blue: the original fleet of a blue/green deployment, not the one
		 * its rollback returns to (labelled Blue too, run as in place) */
		t->blue = rd_json_str(tj, "instance_label") && strcmp(rd_json_str(tj, "instance_label"), "Blue") == 0 &&
			  !strcmp(rd_json_str(json_array_get(json_object_get(tj, "events"), 0), "name")
				      ? rd_json_str(json_array_get(json_object_get(tj, "events"), 0), "name")
				      : "",
				  "BeforeBlockTraffic");
		if (t->blue && t->status != ST_PENDING)
			dp->bg_go = true; /* continued (or no ready wait) before the restart */
		dp->t[dp->nt++] = t;
		json_array_foreach(json_object_get(tj, "events"), j, ev)
		{
			struct eng_event *e = &t->ev[j];
			if (j >= ENG_MAX_EVENTS)
				break;
			snprintf(e->name, sizeof(e->name), "%s",
				 rd_json_str(ev, "name") ? rd_json_str(ev, "name") : "");
			e->status = eng_status_parse(rd_json_str(ev, "status"));
			e->service_side = strcmp(e->name, "BlockTraffic") == 0 || strcmp(e->name, "AllowTraffic") == 0;
			e->noop_capable = strcmp(e->name, "DownloadBundle") != 0 && strcmp(e->name, "Install") != 0 &&
					  !e->service_side;
			if (e->service_side)
				dp->traffic = true;
			if (strcmp(e->name, "BeforeAllowTraffic") == 0 && j == 7)
				dp->bg = true; /* green: AllowTraffic right after ValidateService */
			if (strcmp(e->name, "AllowTraffic") == 0 && j == 8 && e->status == ST_SUCCEEDED)
				dp->bg_phase = BG_TRAFFIC_MOVED; /* the traffic phase rerouted */
			t->nev = (int)j + 1;
			if (e->status == ST_INPROGRESS)
				t->cur = (int)j;
		}
	}
	return 0;
}

json_t *eng_dep_overview(struct eng_dep *dp)
{
	long long c[ST_N];

	index_up(dp);
	for (int i = 0; i < ST_N; i++)
		c[i] = dp->count[i];
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "Pending", c[ST_PENDING], "InProgress", c[ST_INPROGRESS],
			 "Succeeded", c[ST_SUCCEEDED], "Failed", c[ST_FAILED], "Skipped", c[ST_SKIPPED], "Ready",
			 (long long)0);
}
