/* Deployments and everything recorded while they run: their targets
 * (deployment_targets), the targets' lifecycle events (lifecycle_events),
 * the commands queued for hosts (host_commands), hook output (hook_logs) and
 * the bundle a deployment was resolved to (meta "engine.bundle.<id>").
 * The control API reads them; the engine writes them in its transactions. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "store/store_hot.h"
#include "store/store_internal.h"
#include "util.h"

/* ==== the control API's side ==== */

int store_deployment_create(struct store *st, struct store_new_deployment *nd)
{
	int64_t now = rd_wall_ms();
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	/* There is at most one (this check keeps it so): no ORDER BY, which
	 * would walk the group's whole history by seq instead of probing
	 * deployments_group_status_time once per status. */
	if (r == 0 && nd->group) {
		r = store_one(c, &q,
			      "SELECT id FROM deployments WHERE application = ?1 AND deployment_group = ?2 "
			      "AND status IN ('Created', 'Queued', 'InProgress', 'Baking', 'Ready') LIMIT 1",
			      SQL_TEXT(nd->app), SQL_TEXT(nd->group));
		if (r == 0) {
			store_copy(&q, 0, nd->active_id, sizeof(nd->active_id));
			store_done(&q, 0);
			r = -EALREADY;
		} else if (r == -ENOENT) {
			r = 0;
		}
	}
	/* a foreign-key failure (-ENOENT) means the application is gone */
	if (r == 0)
		r = store_run(
		    c,
		    "INSERT INTO deployments (id, application, deployment_group, deployment_config, "
		    "compute_platform, status, creator, external_id, create_time, revision, previous_revision, "
		    "doc) VALUES (?1, ?2, ?3, ?4, ?5, 'Created', ?6, ?7, ?8, ?9, "
		    "(SELECT revision FROM deployments WHERE application = ?2 AND deployment_group = ?3 "
		    " AND status = 'Succeeded' ORDER BY seq DESC LIMIT 1), ?10)",
		    SQL_TEXT(nd->id), SQL_TEXT(nd->app), SQL_TEXT(nd->group), SQL_TEXT(nd->config),
		    SQL_TEXT(nd->platform), SQL_TEXT(nd->creator ? nd->creator : "user"), SQL_TEXT(nd->external_id),
		    SQL_INT(now), SQL_JSON(nd->revision), SQL_JSON(nd->doc));
	if (r == 0 && nd->revision) {
		r = store_revision_upsert_c(c, nd->app, nd->revision, NULL, false, now);
		if (r == 0)
			r = store_revision_mark_used_c(c, nd->app, nd->revision, nd->group, now);
	}
	if (r == 0)
		r = store_tx_commit(c);
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

struct store_deployment *store_deployment_free(struct store_deployment *dp)
{
	if (!dp)
		return NULL;
	free(dp->id);
	free(dp->app);
	free(dp->group);
	free(dp->config);
	free(dp->compute_platform);
	free(dp->status);
	free(dp->creator);
	free(dp->external_id);
	free(dp->error_code);
	free(dp->error_message);
	json_decref(dp->revision);
	json_decref(dp->previous_revision);
	json_decref(dp->overview);
	json_decref(dp->status_messages);
	json_decref(dp->rollback_info);
	json_decref(dp->doc);
	free(dp);
	return NULL;
}

static int count_targets(struct store_conn *c, const char *id, struct store_target_counts *ret)
{
	struct store_target_counts n = {0};
	struct store_q q;
	int r = store_query(c, &q, SQL_DEPLOYMENT_COUNT_TARGETS, SQL_TEXT(id));

	while (r == 0 && store_next(&q)) {
		const char *s = store_text(&q, 0);
		int64_t k = store_int(&q, 1);
		if (!s)
			continue;
		if (!strcmp(s, "Pending"))
			n.pending = k;
		else if (!strcmp(s, "InProgress"))
			n.in_progress = k;
		else if (!strcmp(s, "Succeeded"))
			n.succeeded = k;
		else if (!strcmp(s, "Failed"))
			n.failed = k;
		else if (!strcmp(s, "Skipped"))
			n.skipped = k;
		else if (!strcmp(s, "Ready"))
			n.ready = k;
	}
	r = store_done(&q, r);
	if (r == 0)
		*ret = n;
	return r;
}

int store_deployment_get(struct store *st, const char *id, struct store_deployment **ret)
{
	struct store_deployment *dp = calloc(1, sizeof(*dp));
	struct store_conn *c = NULL;
	struct store_q q;
	int r = dp ? store_conn_get(st, &c) : -ENOMEM;

	if (r < 0)
		goto out;
	r = store_one(c, &q, SQL_DEPLOYMENT_GET, SQL_TEXT(id));
	if (r < 0)
		goto out;
	char **text[] = {&dp->id,     &dp->app,	    &dp->group,	      &dp->config,     &dp->compute_platform,
			 &dp->status, &dp->creator, &dp->external_id, &dp->error_code, &dp->error_message};
	for (size_t i = 0; r == 0 && i < RD_ARRAY_SIZE(text); i++)
		r = store_dup(&q, (int)i, text[i]);
	dp->create_time = store_int(&q, 10);
	dp->start_time = store_int(&q, 11);
	dp->complete_time = store_int(&q, 12);
	dp->revision = store_json(&q, 13);
	dp->previous_revision = store_json(&q, 14);
	dp->overview = store_json(&q, 15);
	dp->status_messages = store_json(&q, 16);
	dp->rollback_info = store_json(&q, 17);
	dp->doc = store_json(&q, 18);
	store_done(&q, 0);
	if (!json_is_object(dp->doc)) {
		json_decref(dp->doc);
		dp->doc = json_object();
	}
	if (!json_is_object(dp->overview)) {
		dp->overview = (json_decref(dp->overview), NULL);
		if (r == 0)
			r = count_targets(c, id, &dp->counts);
	}
out:
	store_conn_put(st, c);
	if (r < 0) {
		store_deployment_free(dp);
		return r;
	}
	*ret = dp;
	return 0;
}

int store_deployment_brief(struct store *st, const char *id, char ret_status[16], char ret_platform[16])
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_one(c, &q, SQL_DEPLOYMENT_BRIEF, SQL_TEXT(id));
	if (r == 0) {
		store_copy(&q, 0, ret_status, 16);
		store_copy(&q, 1, ret_platform, 16);
		store_done(&q, 0);
	}
	store_conn_put(st, c);
	return r;
}

int store_deployment_application(struct store *st, const char *id, char *ret_app, size_t len)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_one(c, &q, "SELECT application FROM deployments WHERE id = ?1", SQL_TEXT(id));
	if (r == 0) {
		store_copy(&q, 0, ret_app, len);
		store_done(&q, 0);
	}
	store_conn_put(st, c);
	return r;
}

/* One row of a ListDeployments page. */
struct list_row {
	char *id;
	int64_t seq, create_time;
};

/* Newer first: create_time, then seq, descending. */
static int list_row_cmp(const void *a, const void *b)
{
	const struct list_row *x = a, *y = b;

	if (x->create_time != y->create_time)
		return x->create_time < y->create_time ? 1 : -1;
	return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

struct list_rows {
	struct list_row *v;
	size_t n, cap;
};

static int list_collect(struct store_q *q, int r, struct list_rows *rows)
{
	while (r == 0 && store_next(q)) {
		if (rows->n == rows->cap) {
			size_t cap = rows->cap ? 2 * rows->cap : 128;
			struct list_row *nv = realloc(rows->v, cap * sizeof(*nv));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			rows->v = nv;
			rows->cap = cap;
		}
		struct list_row *row = &rows->v[rows->n];
		if (store_dup(q, 0, &row->id) < 0 || !row->id) {
			free(row->id);
			r = -ENOMEM;
			break;
		}
		row->seq = store_int(q, 1);
		row->create_time = store_int(q, 2);
		rows->n++;
	}
	return store_done(q, r);
}

/* Where the page starts: the (create_time, seq) of the cursor deployment.
 * 0 and *ret_empty when nothing is older. */
static int list_cursor(struct store_conn *c, int64_t seq, int64_t *ret_time, bool *ret_empty)
{
	struct store_q q;
	int r = store_one(c, &q, SQL_LIST_CURSOR, SQL_INT(seq));

	if (r == -ENOENT) /* removed since (retention): the next older one's time */
		r = store_one(c, &q, SQL_LIST_CURSOR_NEAR, SQL_INT(seq));
	if (r == -ENOENT) {
		*ret_empty = true;
		return 0;
	}
	if (r < 0)
		return r;
	*ret_time = store_int(&q, 0);
	store_done(&q, 0);
	return 0;
}

int store_deployment_list(struct store *st, const struct store_deployment_query *dq, json_t **ret_ids,
			  int64_t *ret_last_seq, bool *ret_more)
{
	struct list_rows rows = {0};
	int64_t lo = dq->start_ms >= 0 ? dq->start_ms : INT64_MIN, hi = dq->end_ms >= 0 ? dq->end_ms : INT64_MAX;
	int64_t cur_time = INT64_MAX, cur_seq = INT64_MAX, last = 0;
	int64_t want = dq->limit < (size_t)INT64_MAX ? (int64_t)dq->limit + 1 : INT64_MAX;
	bool empty = false, more = false;
	json_t *arr = NULL;
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	if (dq->before_seq > 0) {
		r = list_cursor(c, dq->before_seq, &cur_time, &empty);
		cur_seq = dq->before_seq;
		if (cur_time < hi)
			hi = cur_time;
	}
	/* the filters pick the index that yields the order (store_hot.h) */
#define LIST_ARGS SQL_INT(lo), SQL_INT(hi), SQL_INT(cur_time), SQL_INT(cur_seq), SQL_INT(want)
	if (r < 0 || empty || lo > hi) {
		/* nothing to read */
	} else if (dq->external_id) {
		r = store_query2(c, &q, SQL_LIST_EXTERNAL, SQL_LIST_EXTERNAL_PG, LIST_ARGS, SQL_TEXT(dq->app),
				 SQL_TEXT(dq->group), SQL_JSON(dq->statuses), SQL_TEXT(dq->external_id));
		r = list_collect(&q, r, &rows);
	} else if (!json_array_size(dq->statuses)) {
		if (dq->app && dq->group)
			r = store_query(c, &q, SQL_LIST_GROUP, LIST_ARGS, SQL_TEXT(dq->app), SQL_TEXT(dq->group));
		else
			r = store_query(c, &q, SQL_LIST_ALL, LIST_ARGS);
		r = list_collect(&q, r, &rows);
	} else {
		/* A page per status, merged: each is read in index order, and
		 * the newest `want` of their union are the page. */
		size_t i, k;
		json_t *s;
		json_array_foreach(dq->statuses, i, s)
		{
			const char *status = json_string_value(s);
			bool seen = false;
			for (k = 0; k < i; k++)
				seen = seen || json_equal(json_array_get(dq->statuses, k), s);
			if (!status || seen)
				continue;
			if (dq->app && dq->group)
				r = store_query(c, &q, SQL_LIST_GROUP_STATUS, LIST_ARGS, SQL_TEXT(dq->app),
						SQL_TEXT(dq->group), SQL_TEXT(status));
			else
				r = store_query(c, &q, SQL_LIST_STATUS, LIST_ARGS, SQL_TEXT(NULL), SQL_TEXT(NULL),
						SQL_TEXT(status));
			r = list_collect(&q, r, &rows);
			if (r < 0)
				break;
		}
		if (rows.n > 1)
			qsort(rows.v, rows.n, sizeof(*rows.v), list_row_cmp);
	}
#undef LIST_ARGS
	store_conn_put(st, c);
	if (r == 0 && !(arr = json_array()))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < rows.n; i++) {
		if (json_array_size(arr) == dq->limit) {
			more = true;
			break;
		}
		if (json_array_append_new(arr, json_string(rows.v[i].id)) < 0)
			r = -ENOMEM;
		last = rows.v[i].seq;
	}
	for (size_t i = 0; i < rows.n; i++)
		free(rows.v[i].id);
	free(rows.v);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*ret_ids = arr;
	*ret_last_seq = last;
	*ret_more = more;
	return 0;
}

int store_deployment_rename_group_c(struct store_conn *c, const char *app, const char *group, const char *new_group)
{
	return store_run(
	    c, "UPDATE deployments SET deployment_group = ?3 WHERE application = ?1 AND deployment_group = ?2",
	    SQL_TEXT(app), SQL_TEXT(group), SQL_TEXT(new_group));
}

int store_deployment_last_c(struct store_conn *c, const char *app, const char *group, bool succeeded,
			    struct store_last_deployment *ret)
{
	struct store_q q;
	int r = store_one(c, &q,
			  "SELECT id, status, create_time, complete_time, revision FROM deployments "
			  "WHERE application = ?1 AND deployment_group = ?2 AND (?3 = 0 OR status = 'Succeeded') "
			  "ORDER BY seq DESC LIMIT 1",
			  SQL_TEXT(app), SQL_TEXT(group), SQL_INT(succeeded));

	if (r < 0)
		return r;
	store_copy(&q, 0, ret->id, sizeof(ret->id));
	store_copy(&q, 1, ret->status, sizeof(ret->status));
	ret->create_time = store_int(&q, 2);
	ret->complete_time = store_int(&q, 3);
	ret->revision = store_json(&q, 4);
	store_done(&q, 0);
	return 0;
}

struct store_target *store_target_free(struct store_target *t)
{
	if (!t)
		return NULL;
	free(t->deployment_id);
	free(t->target_id);
	free(t->type);
	free(t->arn);
	free(t->status);
	free(t->label);
	json_decref(t->doc);
	for (size_t i = 0; i < t->n_events; i++) {
		free(t->events[i].name);
		free(t->events[i].status);
		json_decref(t->events[i].diagnostics);
		free(t->events[i].diagnostics_text);
	}
	free(t->events);
	free(t);
	return NULL;
}

/* Appends the event of row q (its columns from the first) to t; text: its
 * diagnostics as the stored text. */
static int event_row(struct store_q *q, int first, struct store_target *t, bool text)
{
	struct store_event *nv = realloc(t->events, (t->n_events + 1) * sizeof(*nv)), *e;

	if (!nv)
		return -ENOMEM;
	t->events = nv;
	e = memset(&nv[t->n_events++], 0, sizeof(*e));
	if (store_dup(q, first, &e->name) < 0 || store_dup(q, first + 1, &e->status) < 0)
		return -ENOMEM;
	e->start_time = store_int(q, first + 2);
	e->end_time = store_int(q, first + 3);
	if (text)
		return store_dup(q, first + 4, &e->diagnostics_text);
	e->diagnostics = store_json(q, first + 4);
	return 0;
}

static int target_events(struct store_conn *c, struct store_target *t)
{
	struct store_q q;
	int r = store_query(c, &q, SQL_TARGET_EVENTS, SQL_TEXT(t->deployment_id), SQL_TEXT(t->target_id));

	while (r == 0 && store_next(&q))
		r = event_row(&q, 0, t, false);
	return store_done(&q, r);
}

/* A new target from a row of SQL_TARGET_GET's columns. */
static int target_row(struct store_q *q, struct store_target **ret)
{
	struct store_target *t = calloc(1, sizeof(*t));
	char **text[6];
	int r = 0;

	if (!t)
		return -ENOMEM;
	text[0] = &t->deployment_id;
	text[1] = &t->target_id;
	text[2] = &t->type;
	text[3] = &t->arn;
	text[4] = &t->status;
	text[5] = &t->label;
	for (size_t i = 0; r == 0 && i < RD_ARRAY_SIZE(text); i++)
		r = store_dup(q, (int)i, text[i]);
	t->last_updated = store_int(q, 6);
	t->doc = store_json(q, 7);
	if (!json_is_object(t->doc)) {
		json_decref(t->doc);
		t->doc = json_object();
	}
	if (r < 0 || !t->doc || !t->target_id) {
		store_target_free(t);
		return r < 0 ? r : -ENOMEM;
	}
	*ret = t;
	return 0;
}

int store_target_get(struct store *st, const char *deployment_id, const char *target_id, struct store_target **ret)
{
	struct store_target *t = NULL;
	struct store_conn *c = NULL;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		goto out;
	r = store_one(c, &q, SQL_TARGET_GET, SQL_TEXT(deployment_id), SQL_TEXT(target_id));
	if (r < 0)
		goto out;
	r = target_row(&q, &t);
	store_done(&q, 0);
	if (r == 0)
		r = target_events(c, t);
out:
	store_conn_put(st, c);
	if (r < 0) {
		store_target_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

int store_targets_get(struct store *st, const char *deployment_id, json_t *target_ids, struct store_target ***ret)
{
	size_t n = json_array_size(target_ids), i;
	struct store_target **v = calloc(n ? n : 1, sizeof(*v)), *t = NULL;
	struct store_conn *c = NULL;
	struct store_q q = {0};
	json_t *id;
	int r = v ? store_conn_get(st, &c) : -ENOMEM;

	/* one read transaction: the targets and their events as of one moment
	 * (statements from the cache: store_exec would compile them each time) */
	if (r == 0)
		r = store_run(c, "BEGIN");
	if (r == 0)
		r = store_query2(c, &q, SQL_TARGETS_GET, SQL_TARGETS_GET_PG, SQL_TEXT(deployment_id),
				 SQL_JSON(target_ids));
	while (r == 0 && store_next(&q)) {
		r = target_row(&q, &t);
		if (r < 0)
			break;
		/* in the order asked; an id asked twice gets the same target */
		json_array_foreach(target_ids, i, id)
		{
			if (!v[i] && !strcmp(json_string_value(id) ?: "", t->target_id))
				v[i] = t;
		}
	}
	r = store_done(&q, r);
	t = NULL;
	/* the events of every target, in one pass over the primary key */
	if (r == 0)
		r = store_query2(c, &q, SQL_TARGETS_EVENTS, SQL_TARGETS_EVENTS_PG, SQL_TEXT(deployment_id),
				 SQL_JSON(target_ids));
	while (r == 0 && store_next(&q)) {
		const char *tid = store_text(&q, 0) ?: "";
		if (!t || strcmp(t->target_id, tid) != 0) {
			t = NULL;
			for (i = 0; i < n && !t; i++)
				if (v[i] && !strcmp(v[i]->target_id, tid))
					t = v[i];
		}
		if (t)
			r = event_row(&q, 1, t, true);
	}
	r = store_done(&q, r);
	if (c && store_in_tx(c))
		store_run(c, "COMMIT");
	store_conn_put(st, c);
	if (r < 0) {
		store_targets_free(v, n);
		return r;
	}
	*ret = v;
	return 0;
}

struct store_target **store_targets_free(struct store_target **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		bool again = false;
		for (size_t j = 0; j < i && !again; j++)
			again = v[j] == v[i];
		if (!again)
			store_target_free(v[i]);
	}
	free(v);
	return NULL;
}

int store_target_list(struct store *st, const char *deployment_id, json_t *statuses, json_t *labels, const char *after,
		      size_t limit, json_t **ret_ids, bool *ret_more)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_query2(c, &q, SQL_TARGET_LIST, SQL_TARGET_LIST_PG, SQL_TEXT(deployment_id), SQL_JSON(statuses),
			 SQL_JSON(labels), SQL_TEXT(after ? after : ""));
	r = store_collect_names(&q, r, limit, ret_ids, ret_more);
	store_conn_put(st, c);
	return r;
}

void store_hook_logs_clear(struct store_hook_logs *logs)
{
	if (!logs)
		return;
	for (size_t i = 0; i < logs->n; i++) {
		free(logs->v[i].target_id);
		free(logs->v[i].event);
		free(logs->v[i].data);
	}
	free(logs->v);
	logs->v = NULL;
	logs->n = 0;
}

int store_hook_logs_read(struct store *st, const char *deployment_id, const char *target_id, int64_t after,
			 size_t limit, struct store_hook_logs *ret, int64_t *ret_cursor)
{
	struct store_hook_logs logs = {0};
	int64_t cursor = after;
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_query(
	    c, &q,
	    "SELECT rowid, target_id, lifecycle_event, seq, time, chunk FROM hook_logs "
	    "WHERE deployment_id = ?1 AND (?2 IS NULL OR target_id = ?2) AND rowid > ?3 ORDER BY rowid LIMIT ?4",
	    SQL_TEXT(deployment_id), SQL_TEXT(target_id), SQL_INT(after), SQL_INT(limit));
	while (r == 0 && store_next(&q)) {
		struct store_hook_log *nv = realloc(logs.v, (logs.n + 1) * sizeof(*nv)), *l;
		if (!nv) {
			r = -ENOMEM;
			break;
		}
		logs.v = nv;
		l = memset(&nv[logs.n++], 0, sizeof(*l));
		cursor = store_int(&q, 0);
		if (store_dup(&q, 1, &l->target_id) < 0 || store_dup(&q, 2, &l->event) < 0 ||
		    store_dup(&q, 5, &l->data) < 0)
			r = -ENOMEM;
		l->seq = store_int(&q, 3);
		l->time = store_int(&q, 4);
	}
	r = store_done(&q, r);
	store_conn_put(st, c);
	if (r < 0) {
		store_hook_logs_clear(&logs);
		return r;
	}
	*ret = logs;
	*ret_cursor = cursor;
	return 0;
}

/* ==== the engine's side: rows as JSON objects named after the columns ==== */

static void set_text(json_t *o, const char *k, struct store_q *q, int i)
{
	const char *t = store_text(q, i);
	json_object_set_new(o, k, t ? json_string(t) : json_null());
}

static void set_int(json_t *o, const char *k, struct store_q *q, int i)
{
	json_object_set_new(o, k, store_isnull(q, i) ? json_null() : json_integer(store_int(q, i)));
}

static void set_json(json_t *o, const char *k, struct store_q *q, int i)
{
	json_t *v = store_json(q, i);
	json_object_set_new(o, k, v ? v : json_null());
}

int store_eng_deployment(struct store_tx *tx, const char *id, json_t **ret)
{
	struct store_q q;
	json_t *o;
	int r = store_one(tx->c, &q, SQL_ENG_DEPLOYMENT, SQL_TEXT(id));

	if (r < 0)
		return r;
	o = json_object();
	if (!o) {
		store_done(&q, 0);
		return -ENOMEM;
	}
	set_text(o, "id", &q, 0);
	set_text(o, "application", &q, 1);
	set_text(o, "deployment_group", &q, 2);
	set_text(o, "deployment_config", &q, 3);
	set_text(o, "compute_platform", &q, 4);
	set_text(o, "status", &q, 5);
	set_text(o, "creator", &q, 6);
	set_int(o, "create_time", &q, 7);
	set_int(o, "start_time", &q, 8);
	set_json(o, "revision", &q, 9);
	set_json(o, "doc", &q, 10);
	set_json(o, "rollback_info", &q, 11);
	set_int(o, "complete_time", &q, 12);
	if (!json_is_object(json_object_get(o, "doc")))
		json_object_set_new(o, "doc", json_object());
	store_done(&q, 0);
	*ret = o;
	return 0;
}

int store_eng_active_ids(struct store_tx *tx, json_t **ret)
{
	struct store_q q;
	bool more;
	int r = store_query(
	    tx->c, &q,
	    "SELECT id FROM deployments WHERE status IN ('Created', 'Queued', 'InProgress', 'Ready') ORDER BY seq");

	return store_collect_names(&q, r, SIZE_MAX, ret, &more);
}

int store_eng_deployment_status(struct store_tx *tx, const char *id, const char *status, int64_t start_time,
				int64_t complete_time, const char *error_code, const char *error_message)
{
	store_tx_touch(tx, id);
	return store_run(tx->c, SQL_ENG_DEPLOYMENT_STATUS, SQL_TEXT(id), SQL_TEXT(status), SQL_INT(start_time),
			 SQL_INT(complete_time), SQL_TEXT(error_code), SQL_TEXT(error_message));
}

int store_eng_deployment_overview(struct store_tx *tx, const char *id, const json_t *overview)
{
	store_tx_touch(tx, id);
	return store_run(tx->c, SQL_ENG_DEPLOYMENT_OVERVIEW, SQL_TEXT(id), SQL_JSON(overview));
}

int store_eng_deployment_rollback_info(struct store_tx *tx, const char *id, const json_t *info)
{
	return store_run(tx->c, "UPDATE deployments SET rollback_info = ?2 WHERE id = ?1", SQL_TEXT(id),
			 SQL_JSON(info));
}

int store_eng_deployment_doc_set(struct store_tx *tx, const char *id, const char *key, const json_t *value)
{
	/* the JSON functions differ: SQLite's json_set, PostgreSQL's jsonb_set */
	return store_run2(
	    tx->c, "UPDATE deployments SET doc = json_set(COALESCE(doc, '{}'), '$.' || ?2, json(?3)) WHERE id = ?1",
	    "UPDATE deployments SET doc = jsonb_set(COALESCE(doc, '{}')::jsonb, ARRAY[?2::text], ?3::jsonb)::text"
	    " WHERE id = ?1",
	    SQL_TEXT(id), SQL_TEXT(key), SQL_JSON(value));
}

int store_eng_deployment_insert(struct store_tx *tx, const json_t *row)
{
	const json_t *doc = json_object_get(row, "doc");

	return store_run(
	    tx->c,
	    "INSERT INTO deployments (id, application, deployment_group, deployment_config, compute_platform,"
	    " status, creator, create_time, revision, previous_revision, rollback_info, doc)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, 'Created', ?6, ?7, ?8, ?9, ?10, COALESCE(?11, '{}'))",
	    SQL_TEXT(rd_json_str(row, "id")), SQL_TEXT(rd_json_str(row, "application")),
	    SQL_TEXT(rd_json_str(row, "deployment_group")), SQL_TEXT(rd_json_str(row, "deployment_config")),
	    SQL_TEXT(rd_json_str(row, "compute_platform") ? rd_json_str(row, "compute_platform") : "Server"),
	    SQL_TEXT(rd_json_str(row, "creator")), SQL_INT(json_integer_value(json_object_get(row, "create_time"))),
	    SQL_JSON(json_object_get(row, "revision")), SQL_JSON(json_object_get(row, "previous_revision")),
	    SQL_JSON(json_object_get(row, "rollback_info")), SQL_JSON(doc));
}

int store_eng_target_insert(struct store_tx *tx, const char *dep, const char *target, int seq, const char *arn,
			    const char *status, const char *label, const json_t *doc, int64_t now)
{
	return store_run(
	    tx->c,
	    "INSERT INTO deployment_targets (deployment_id, target_id, seq, target_type, target_arn, status,"
	    " last_updated, doc, instance_label)"
	    " VALUES (?1, ?2, ?3, 'InstanceTarget', ?4, ?5, ?6, COALESCE(?7, '{}'), ?8)",
	    SQL_TEXT(dep), SQL_TEXT(target), SQL_INT(seq), SQL_TEXT(arn), SQL_TEXT(status), SQL_INT(now), SQL_JSON(doc),
	    SQL_TEXT(label));
}

int store_eng_target_status(struct store_tx *tx, const char *dep, const char *target, const char *status, int64_t now)
{
	store_tx_touch(tx, dep);
	return store_run(tx->c, SQL_ENG_TARGET_STATUS, SQL_TEXT(dep), SQL_TEXT(target), SQL_TEXT(status), SQL_INT(now));
}

int store_eng_event_insert(struct store_tx *tx, const char *dep, const char *target, int seq, const char *name,
			   const char *status)
{
	return store_run(
	    tx->c,
	    "INSERT INTO lifecycle_events (deployment_id, target_id, seq, name, status) VALUES (?1, ?2, ?3, ?4, ?5)",
	    SQL_TEXT(dep), SQL_TEXT(target), SQL_INT(seq), SQL_TEXT(name), SQL_TEXT(status));
}

int store_eng_event_update(struct store_tx *tx, const char *dep, const char *target, int seq, const char *status,
			   int64_t start_time, int64_t end_time, const json_t *diagnostics)
{
	store_tx_touch(tx, dep);
	return store_run(tx->c, SQL_ENG_EVENT_UPDATE, SQL_TEXT(dep), SQL_TEXT(target), SQL_INT(seq), SQL_TEXT(status),
			 SQL_INT(start_time), SQL_INT(end_time), SQL_JSON(diagnostics));
}

int store_eng_targets(struct store_tx *tx, const char *dep, json_t **ret)
{
	json_t *a = json_array(), *byid = json_object();
	struct store_q q = {0};
	int r = a && byid ? 0 : -ENOMEM;

	if (r == 0)
		r = store_query(tx->c, &q, SQL_ENG_TARGETS, SQL_TEXT(dep));
	while (r == 0 && store_next(&q)) {
		json_t *t = json_object();
		if (!t) {
			r = -ENOMEM;
			break;
		}
		set_text(t, "target_id", &q, 0);
		set_int(t, "seq", &q, 1);
		set_text(t, "target_arn", &q, 2);
		set_text(t, "status", &q, 3);
		set_json(t, "doc", &q, 4);
		set_text(t, "instance_label", &q, 5);
		json_object_set_new(t, "events", json_array());
		json_object_set_new(t, "command", json_null());
		json_object_set(byid, store_text(&q, 0), t);
		json_array_append_new(a, t);
	}
	r = store_done(&q, r);
	if (r == 0)
		r = store_query(tx->c, &q, SQL_ENG_TARGETS_EVENTS, SQL_TEXT(dep));
	while (r == 0 && store_next(&q)) {
		json_t *t = json_object_get(byid, store_text(&q, 0)), *e;
		if (!t)
			continue;
		e = json_object();
		set_int(e, "seq", &q, 1);
		set_text(e, "name", &q, 2);
		set_text(e, "status", &q, 3);
		set_int(e, "start_time", &q, 4);
		set_int(e, "end_time", &q, 5);
		set_json(e, "diagnostics", &q, 6);
		json_array_append_new(json_object_get(t, "events"), e);
	}
	r = store_done(&q, r);
	/* The latest command of each target (ids grow). */
	if (r == 0)
		r = store_query(tx->c, &q, SQL_ENG_TARGETS_COMMANDS, SQL_TEXT(dep));
	while (r == 0 && store_next(&q)) {
		json_t *t = json_object_get(byid, store_text(&q, 0)), *cmd;
		if (!t)
			continue;
		cmd = json_object();
		set_int(cmd, "id", &q, 1);
		set_text(cmd, "host", &q, 2);
		set_int(cmd, "lifecycle_seq", &q, 3);
		set_text(cmd, "status", &q, 4);
		set_int(cmd, "acked_time", &q, 5);
		json_object_set_new(t, "command", cmd);
	}
	r = store_done(&q, r);
	json_decref(byid);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	*ret = a;
	return 0;
}

int store_eng_cmd_insert(struct store_tx *tx, const char *host, const char *dep, const char *target, int lseq,
			 const char *name, int64_t now, int64_t *ret_id)
{
	struct store_q q;
	int r =
	    store_one(tx->c, &q,
		      "INSERT INTO host_commands (host, deployment_id, target_id, lifecycle_seq, command_name, status,"
		      " create_time) VALUES (?1, ?2, ?3, ?4, ?5, 'Pending', ?6) RETURNING id",
		      SQL_TEXT(host), SQL_TEXT(dep), SQL_TEXT(target), SQL_INT(lseq), SQL_TEXT(name), SQL_INT(now));

	if (r < 0)
		return r;
	*ret_id = store_int(&q, 0);
	return store_done(&q, 0);
}

int store_eng_cmd_update(struct store_tx *tx, int64_t id, const char *status, int64_t acked_time, int64_t complete_time,
			 const json_t *diagnostics)
{
	return store_run(tx->c, SQL_ENG_CMD_UPDATE, SQL_INT(id), SQL_TEXT(status), SQL_INT(acked_time),
			 SQL_INT(complete_time), SQL_JSON(diagnostics));
}

int store_eng_instance_last_status(struct store_tx *tx, const char *instance, const char *exclude_dep, char **ret)
{
	struct store_q q;
	char *status = NULL;
	int r = store_one(tx->c, &q, SQL_ENG_INSTANCE_LAST_STATUS, SQL_TEXT(instance), SQL_TEXT(exclude_dep));

	if (r == 0) {
		r = store_dup(&q, 0, &status);
		store_done(&q, 0);
	} else if (r == -ENOENT) {
		r = 0;
	}
	if (r == 0)
		*ret = status;
	return r;
}

int store_eng_instance_last_revision(struct store_tx *tx, const char *app, const char *group, const char *instance,
				     json_t **ret)
{
	struct store_q q;
	int r =
	    store_one(tx->c, &q, SQL_ENG_INSTANCE_LAST_REVISION, SQL_TEXT(app), SQL_TEXT(group), SQL_TEXT(instance));

	if (r == 0) {
		*ret = store_json(&q, 0);
		store_done(&q, 0);
	} else if (r == -ENOENT) {
		*ret = NULL;
		r = 0;
	}
	return r;
}

int store_eng_instance_last_success(struct store_tx *tx, const char *app, const char *group, const char *instance,
				    char *ret_creator, json_t **ret_revision)
{
	struct store_q q;
	int r = store_one(
	    tx->c, &q,
	    "SELECT d.creator, d.revision FROM deployment_targets t JOIN deployments d ON d.id = t.deployment_id"
	    " WHERE t.target_id = ?3 AND d.application = ?1 AND d.deployment_group = ?2"
	    " AND t.status = 'Succeeded' AND COALESCE(t.instance_label, '') != 'Blue'"
	    " ORDER BY d.seq DESC LIMIT 1",
	    SQL_TEXT(app), SQL_TEXT(group), SQL_TEXT(instance));

	if (r < 0)
		return r;
	store_copy(&q, 0, ret_creator, 64);
	*ret_revision = store_json(&q, 1);
	store_done(&q, 0);
	return 0;
}

int store_eng_lifecycle_token_known(struct store_tx *tx, const char *app, const char *group, const char *instance,
				    const char *token, bool *ret)
{
	struct store_q q;
	char pattern[1024];
	size_t n = 0;
	int r;

	/* "token" as the stored JSON holds it (Auto Scaling's are UUIDs), LIKE's
	 * wildcards escaped: a plain LIKE is what SQLite and PostgreSQL share */
	*ret = false;
	pattern[n++] = '%';
	pattern[n++] = '"';
	for (const char *p = token; *p; p++) {
		if (n + 5 >= sizeof(pattern))
			return 0;
		if (*p == '%' || *p == '_' || *p == '\\')
			pattern[n++] = '\\';
		pattern[n++] = *p;
	}
	pattern[n++] = '"';
	pattern[n++] = '%';
	pattern[n] = '\0';
	r = store_one(tx->c, &q,
		      "SELECT 1 FROM deployment_targets t JOIN deployments d ON d.id = t.deployment_id"
		      " WHERE t.target_id = ?3 AND d.application = ?1 AND d.deployment_group = ?2"
		      " AND d.creator IN ('autoscaling', 'autoscalingTermination') AND d.doc LIKE ?4 ESCAPE '\\'"
		      " LIMIT 1",
		      SQL_TEXT(app), SQL_TEXT(group), SQL_TEXT(instance), SQL_TEXT(pattern));
	if (r == 0)
		store_done(&q, 0);
	if (r < 0 && r != -ENOENT)
		return r;
	*ret = r == 0;
	return 0;
}

int store_eng_instance_in_group(struct store_tx *tx, const char *app, const char *group, const char *instance,
				bool *ret)
{
	struct store_q q;
	int r = store_one(tx->c, &q, SQL_ENG_INSTANCE_IN_GROUP, SQL_TEXT(app), SQL_TEXT(group), SQL_TEXT(instance));

	if (r == 0)
		store_done(&q, 0);
	if (r < 0 && r != -ENOENT)
		return r;
	*ret = r == 0;
	return 0;
}

int store_eng_group_unfinished(struct store_tx *tx, const char *app, const char *group, bool *ret)
{
	struct store_q q;
	int r = store_one(tx->c, &q,
			  "SELECT 1 FROM deployments WHERE application = ?1 AND deployment_group = ?2"
			  " AND status NOT IN ('Succeeded', 'Failed', 'Stopped') LIMIT 1",
			  SQL_TEXT(app), SQL_TEXT(group));

	if (r == 0)
		store_done(&q, 0);
	if (r < 0 && r != -ENOENT)
		return r;
	*ret = r == 0;
	return 0;
}

int store_eng_last_good(struct store_tx *tx, const char *app, const char *group, const char *exclude_dep, char *ret_id,
			json_t **ret_revision)
{
	struct store_q q;
	int r = store_one(tx->c, &q, SQL_ENG_LAST_GOOD, SQL_TEXT(app), SQL_TEXT(group), SQL_TEXT(exclude_dep));

	if (r < 0)
		return r;
	store_copy(&q, 0, ret_id, 16);
	*ret_revision = store_json(&q, 1);
	store_done(&q, 0);
	return 0;
}

int store_eng_hook_log(struct store_tx *tx, const char *dep, const char *target, const char *event, int64_t seq,
		       int64_t now, const char *chunk, size_t cap_bytes)
{
	int r =
	    store_run(tx->c,
		      "INSERT INTO hook_logs (deployment_id, target_id, lifecycle_event, seq, time, chunk)"
		      " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
		      SQL_TEXT(dep), SQL_TEXT(target), SQL_TEXT(event), SQL_INT(seq), SQL_INT(now), SQL_TEXT(chunk));
	store_tx_touch(tx, dep);

	if (r < 0)
		return r;
	/* Drop the oldest chunks beyond the cap (newest output is kept). */
	return store_run(tx->c, SQL_ENG_HOOK_LOG_TRIM, SQL_TEXT(dep), SQL_TEXT(target), SQL_TEXT(event),
			 SQL_INT(cap_bytes));
}

int store_eng_bundle_set(struct store_tx *tx, const char *dep, const json_t *bundle)
{
	char key[64];

	snprintf(key, sizeof(key), "engine.bundle.%s", dep);
	return store_run(
	    tx->c,
	    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	    SQL_TEXT(key), SQL_JSON(bundle));
}

int store_eng_bundle_get(struct store_tx *tx, const char *dep, json_t **ret)
{
	struct store_q q;
	char key[64];
	int r;

	snprintf(key, sizeof(key), "engine.bundle.%s", dep);
	r = store_one(tx->c, &q, SQL_ENG_BUNDLE_GET, SQL_TEXT(key));
	if (r == 0) {
		*ret = store_json(&q, 0);
		store_done(&q, 0);
	} else if (r == -ENOENT) {
		*ret = NULL;
		r = 0;
	}
	return r;
}

int store_deployment_counts(struct store *st,
			    void (*fn)(const char *status, const char *app, const char *platform, int64_t n, void *ud),
			    void *ud)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	/* every /metrics scrape: counted on the covering index deployments_counts
	 * (a few MB) rather than the rows (5 KB each with their documents) */
	r = store_query(c, &q,
			"SELECT status, application, compute_platform, COUNT(*) FROM deployments"
			" GROUP BY status, application, compute_platform");
	while (r == 0 && store_next(&q))
		fn(store_text(&q, 0), store_text(&q, 1), store_text(&q, 2), store_int(&q, 3), ud);
	r = store_done(&q, r);
	store_conn_put(st, c);
	return r;
}
