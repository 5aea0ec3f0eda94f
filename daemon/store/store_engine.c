/* The engine's SQL (see store_engine.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_engine.h"
#include "store/store_internal.h"

struct store_tx {
	struct store *st;
	struct store_conn *c;
	sqlite3_int64 changes0;
};

int store_eng_begin(struct store *st, struct store_tx **ret)
{
	struct store_tx *tx = calloc(1, sizeof(*tx));
	int r;

	if (!tx)
		return -ENOMEM;
	tx->st = st;
	r = store_conn_get(st, &tx->c);
	if (r < 0) {
		free(tx);
		return r;
	}
	r = store_tx_begin(tx->c);
	if (r < 0) {
		store_conn_put(st, tx->c);
		free(tx);
		return r;
	}
	tx->changes0 = sqlite3_total_changes64(tx->c->db);
	*ret = tx;
	return 0;
}

bool store_eng_has_writes(struct store_tx *tx)
{
	return sqlite3_total_changes64(tx->c->db) != tx->changes0;
}

int store_eng_commit(struct store_tx *tx)
{
	int r = store_tx_commit(tx->c);
	store_conn_put(tx->st, tx->c);
	free(tx);
	return r;
}

void store_eng_rollback(struct store_tx *tx)
{
	if (!tx)
		return;
	store_tx_rollback(tx->c);
	store_conn_put(tx->st, tx->c);
	free(tx);
}

static int step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	int r = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_errno(rc);
	sqlite3_reset(s);
	return r;
}

static void set_col_text(json_t *o, const char *k, sqlite3_stmt *s, int i)
{
	const char *t = store_col_text(s, i);
	json_object_set_new(o, k, t ? json_string(t) : json_null());
}

static void set_col_int(json_t *o, const char *k, sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		json_object_set_new(o, k, json_null());
	else
		json_object_set_new(o, k, json_integer(sqlite3_column_int64(s, i)));
}

static void set_col_json(json_t *o, const char *k, sqlite3_stmt *s, int i)
{
	json_t *v = store_col_json(s, i);
	json_object_set_new(o, k, v ? v : json_null());
}

int store_eng_deployment(struct store_tx *tx, const char *id, json_t **ret)
{
	sqlite3_stmt *s;
	json_t *o;
	int r, rc;

	r = store_prep(
	    tx->c,
	    "SELECT id, application, deployment_group, deployment_config, compute_platform, status, creator, "
	    "create_time, start_time, revision, doc, rollback_info, complete_time FROM deployments WHERE id = ?",
	    &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
		sqlite3_reset(s);
		return r;
	}
	o = json_object();
	if (!o) {
		sqlite3_reset(s);
		return -ENOMEM;
	}
	set_col_text(o, "id", s, 0);
	set_col_text(o, "application", s, 1);
	set_col_text(o, "deployment_group", s, 2);
	set_col_text(o, "deployment_config", s, 3);
	set_col_text(o, "compute_platform", s, 4);
	set_col_text(o, "status", s, 5);
	set_col_text(o, "creator", s, 6);
	set_col_int(o, "create_time", s, 7);
	set_col_int(o, "start_time", s, 8);
	set_col_json(o, "revision", s, 9);
	set_col_json(o, "doc", s, 10);
	set_col_json(o, "rollback_info", s, 11);
	set_col_int(o, "complete_time", s, 12);
	if (!json_is_object(json_object_get(o, "doc")))
		json_object_set_new(o, "doc", json_object());
	sqlite3_reset(s);
	*ret = o;
	return 0;
}

int store_eng_active_ids(struct store_tx *tx, json_t **ret)
{
	sqlite3_stmt *s;
	json_t *a = json_array();
	int r, rc;

	if (!a)
		return -ENOMEM;
	r = store_prep(
	    tx->c,
	    "SELECT id FROM deployments WHERE status IN ('Created', 'Queued', 'InProgress', 'Ready') ORDER BY seq", &s);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(a, json_string(store_col_text(s, 0)));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return store_errno(rc);
	}
	*ret = a;
	return 0;
}

int store_eng_deployment_status(struct store_tx *tx, const char *id, const char *status, int64_t start_time,
				int64_t complete_time, const char *error_code, const char *error_message)
{
	sqlite3_stmt *s;
	int r;

	r = store_prep(tx->c,
		       "UPDATE deployments SET status = ?2,"
		       " start_time = CASE WHEN ?3 > 0 THEN ?3 ELSE start_time END,"
		       " complete_time = CASE WHEN ?4 > 0 THEN ?4 ELSE complete_time END,"
		       " error_code = COALESCE(?5, error_code), error_message = COALESCE(?6, error_message)"
		       " WHERE id = ?1",
		       &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, id);
	store_bind_text(s, 2, status);
	sqlite3_bind_int64(s, 3, start_time);
	sqlite3_bind_int64(s, 4, complete_time);
	store_bind_text(s, 5, error_code);
	store_bind_text(s, 6, error_message);
	return step_done(s);
}

int store_eng_deployment_overview(struct store_tx *tx, const char *id, const json_t *overview)
{
	sqlite3_stmt *s;
	int r = store_prep(tx->c, "UPDATE deployments SET overview = ?2 WHERE id = ?1", &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, id);
	store_bind_json(s, 2, overview);
	return step_done(s);
}

int store_eng_deployment_rollback_info(struct store_tx *tx, const char *id, const json_t *info)
{
	sqlite3_stmt *s;
	int r = store_prep(tx->c, "UPDATE deployments SET rollback_info = ?2 WHERE id = ?1", &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, id);
	store_bind_json(s, 2, info);
	return step_done(s);
}

int store_eng_deployment_add_message(struct store_tx *tx, const char *id, const char *message)
{
	sqlite3_stmt *s;
	int r = store_prep(
	    tx->c,
	    "UPDATE deployments SET status_messages = json_insert(COALESCE(status_messages, '[]'), '$[#]', ?2)"
	    " WHERE id = ?1",
	    &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, id);
	store_bind_text(s, 2, message);
	return step_done(s);
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int store_eng_deployment_insert(struct store_tx *tx, const json_t *row)
{
	sqlite3_stmt *s;
	int r = store_prep(
	    tx->c,
	    "INSERT INTO deployments (id, application, deployment_group, deployment_config, compute_platform,"
	    " status, creator, create_time, revision, previous_revision, rollback_info, doc)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, 'Created', ?6, ?7, ?8, ?9, ?10, ?11)",
	    &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, jstr(row, "id"));
	store_bind_text(s, 2, jstr(row, "application"));
	store_bind_text(s, 3, jstr(row, "deployment_group"));
	store_bind_text(s, 4, jstr(row, "deployment_config"));
	store_bind_text(s, 5, jstr(row, "compute_platform") ? jstr(row, "compute_platform") : "Server");
	store_bind_text(s, 6, jstr(row, "creator"));
	sqlite3_bind_int64(s, 7, json_integer_value(json_object_get(row, "create_time")));
	store_bind_json(s, 8, json_object_get(row, "revision"));
	store_bind_json(s, 9, json_object_get(row, "previous_revision"));
	store_bind_json(s, 10, json_object_get(row, "rollback_info"));
	if (json_object_get(row, "doc"))
		store_bind_json(s, 11, json_object_get(row, "doc"));
	else
		store_bind_text(s, 11, "{}");
	return step_done(s);
}

int store_eng_group(struct store_tx *tx, const char *app, const char *group, json_t **ret)
{
	sqlite3_stmt *s;
	json_t *doc;
	int r, rc;

	r = store_prep(tx->c,
		       "SELECT g.id, g.deployment_config, g.doc, g.last_successful_deployment, g.target_revision,"
		       " a.compute_platform FROM deployment_groups g JOIN applications a ON a.name = g.application"
		       " WHERE g.application = ? AND g.name = ?",
		       &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, app);
	store_bind_text(s, 2, group);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
		sqlite3_reset(s);
		return r;
	}
	doc = store_col_json(s, 2);
	if (!json_is_object(doc)) {
		json_decref(doc);
		doc = json_object();
	}
	json_object_set_new(doc, "applicationName", json_string(app));
	json_object_set_new(doc, "deploymentGroupName", json_string(group));
	set_col_text(doc, "deploymentGroupId", s, 0);
	set_col_text(doc, "deploymentConfigName", s, 1);
	set_col_json(doc, "lastSuccessfulDeployment", s, 3);
	set_col_json(doc, "targetRevision", s, 4);
	set_col_text(doc, "computePlatform", s, 5);
	sqlite3_reset(s);
	*ret = doc;
	return 0;
}

int store_eng_config(struct store_tx *tx, const char *name, json_t **ret)
{
	sqlite3_stmt *s;
	json_t *doc;
	int r, rc;

	r = store_prep(tx->c, "SELECT doc FROM deployment_configs WHERE name = ?", &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, name);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
		sqlite3_reset(s);
		return r;
	}
	doc = store_col_json(s, 0);
	sqlite3_reset(s);
	if (!doc)
		return -EIO;
	*ret = doc;
	return 0;
}

int store_eng_group_finished(struct store_tx *tx, const char *app, const char *group, const json_t *last_info,
			     bool succeeded, const json_t *revision)
{
	sqlite3_stmt *s;
	int r;

	if (succeeded)
		r = store_prep(tx->c,
			       "UPDATE deployment_groups SET last_attempted_deployment = ?3,"
			       " last_successful_deployment = ?3, target_revision = COALESCE(?4, target_revision)"
			       " WHERE application = ?1 AND name = ?2",
			       &s);
	else
		r = store_prep(tx->c,
			       "UPDATE deployment_groups SET last_attempted_deployment = ?3"
			       " WHERE application = ?1 AND name = ?2",
			       &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, app);
	store_bind_text(s, 2, group);
	store_bind_json(s, 3, last_info);
	if (succeeded)
		store_bind_json(s, 4, revision);
	return step_done(s);
}

int store_eng_server_groups(struct store_tx *tx, json_t **ret)
{
	sqlite3_stmt *s;
	json_t *a = json_array();
	int r, rc;

	if (!a)
		return -ENOMEM;
	r = store_prep(
	    tx->c,
	    "SELECT g.application, g.name FROM deployment_groups g JOIN applications a ON a.name = g.application"
	    " WHERE a.compute_platform = 'Server' ORDER BY g.application, g.name",
	    &s);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(
		    a, json_pack("{s:s,s:s}", "application", store_col_text(s, 0), "name", store_col_text(s, 1)));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return store_errno(rc);
	}
	*ret = a;
	return 0;
}

int store_eng_target_insert(struct store_tx *tx, const char *dep, const char *target, int seq, const char *arn,
			    const char *status, const char *label, const json_t *doc, int64_t now)
{
	sqlite3_stmt *s;
	int r =
	    store_prep(tx->c,
		       "INSERT INTO deployment_targets (deployment_id, target_id, seq, target_type, target_arn, status,"
		       " last_updated, doc, instance_label) VALUES (?, ?, ?, 'InstanceTarget', ?, ?, ?, ?, ?)",
		       &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, dep);
	store_bind_text(s, 2, target);
	sqlite3_bind_int(s, 3, seq);
	store_bind_text(s, 4, arn);
	store_bind_text(s, 5, status);
	sqlite3_bind_int64(s, 6, now);
	if (doc)
		store_bind_json(s, 7, doc);
	else
		store_bind_text(s, 7, "{}");
	store_bind_text(s, 8, label);
	return step_done(s);
}

int store_eng_target_status(struct store_tx *tx, const char *dep, const char *target, const char *status, int64_t now)
{
	sqlite3_stmt *s;
	int r = store_prep(tx->c,
			   "UPDATE deployment_targets SET status = ?3, last_updated = ?4 WHERE deployment_id = ?1 AND"
			   " target_id = ?2",
			   &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, dep);
	store_bind_text(s, 2, target);
	store_bind_text(s, 3, status);
	sqlite3_bind_int64(s, 4, now);
	return step_done(s);
}

int store_eng_event_insert(struct store_tx *tx, const char *dep, const char *target, int seq, const char *name,
			   const char *status)
{
	sqlite3_stmt *s;
	int r = store_prep(
	    tx->c, "INSERT INTO lifecycle_events (deployment_id, target_id, seq, name, status) VALUES (?, ?, ?, ?, ?)",
	    &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, dep);
	store_bind_text(s, 2, target);
	sqlite3_bind_int(s, 3, seq);
	store_bind_text(s, 4, name);
	store_bind_text(s, 5, status);
	return step_done(s);
}

int store_eng_event_update(struct store_tx *tx, const char *dep, const char *target, int seq, const char *status,
			   int64_t start_time, int64_t end_time, const json_t *diagnostics)
{
	sqlite3_stmt *s;
	int r = store_prep(tx->c,
			   "UPDATE lifecycle_events SET status = ?4,"
			   " start_time = CASE WHEN ?5 > 0 THEN ?5 ELSE start_time END,"
			   " end_time = CASE WHEN ?6 > 0 THEN ?6 ELSE end_time END,"
			   " diagnostics = COALESCE(?7, diagnostics)"
			   " WHERE deployment_id = ?1 AND target_id = ?2 AND seq = ?3",
			   &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, dep);
	store_bind_text(s, 2, target);
	sqlite3_bind_int(s, 3, seq);
	store_bind_text(s, 4, status);
	sqlite3_bind_int64(s, 5, start_time);
	sqlite3_bind_int64(s, 6, end_time);
	store_bind_json(s, 7, diagnostics);
	return step_done(s);
}

int store_eng_targets(struct store_tx *tx, const char *dep, json_t **ret)
{
	sqlite3_stmt *s;
	json_t *a = json_array(), *byid = json_object();
	int r, rc;

	if (!a || !byid) {
		r = -ENOMEM;
		goto fail;
	}
	r = store_prep(tx->c,
		       "SELECT target_id, seq, target_arn, status, doc, instance_label FROM deployment_targets"
		       " WHERE deployment_id = ?"
		       " ORDER BY seq",
		       &s);
	if (r < 0)
		goto fail;
	store_bind_text(s, 1, dep);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *t = json_object();
		set_col_text(t, "target_id", s, 0);
		set_col_int(t, "seq", s, 1);
		set_col_text(t, "target_arn", s, 2);
		set_col_text(t, "status", s, 3);
		set_col_json(t, "doc", s, 4);
		set_col_text(t, "instance_label", s, 5);
		json_object_set_new(t, "events", json_array());
		json_object_set_new(t, "command", json_null());
		json_object_set(byid, store_col_text(s, 0), t);
		json_array_append_new(a, t);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		r = store_errno(rc);
		goto fail;
	}
	r = store_prep(tx->c,
		       "SELECT target_id, seq, name, status, start_time, end_time, diagnostics FROM lifecycle_events"
		       " WHERE deployment_id = ? ORDER BY target_id, seq",
		       &s);
	if (r < 0)
		goto fail;
	store_bind_text(s, 1, dep);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *t = json_object_get(byid, store_col_text(s, 0)), *e = json_object();
		set_col_int(e, "seq", s, 1);
		set_col_text(e, "name", s, 2);
		set_col_text(e, "status", s, 3);
		set_col_int(e, "start_time", s, 4);
		set_col_int(e, "end_time", s, 5);
		set_col_json(e, "diagnostics", s, 6);
		if (t)
			json_array_append_new(json_object_get(t, "events"), e);
		else
			json_decref(e);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		r = store_errno(rc);
		goto fail;
	}
	/* The latest command of each target (ids grow). */
	r = store_prep(tx->c,
		       "SELECT target_id, id, host, lifecycle_seq, status, acked_time FROM host_commands"
		       " WHERE deployment_id = ? ORDER BY id",
		       &s);
	if (r < 0)
		goto fail;
	store_bind_text(s, 1, dep);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *t = json_object_get(byid, store_col_text(s, 0)), *c = json_object();
		set_col_int(c, "id", s, 1);
		set_col_text(c, "host", s, 2);
		set_col_int(c, "lifecycle_seq", s, 3);
		set_col_text(c, "status", s, 4);
		set_col_int(c, "acked_time", s, 5);
		if (t)
			json_object_set_new(t, "command", c);
		else
			json_decref(c);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		r = store_errno(rc);
		goto fail;
	}
	json_decref(byid);
	*ret = a;
	return 0;
fail:
	json_decref(a);
	json_decref(byid);
	return r;
}

int store_eng_cmd_insert(struct store_tx *tx, const char *host, const char *dep, const char *target, int lseq,
			 const char *name, int64_t now, int64_t *ret_id)
{
	sqlite3_stmt *s;
	int r =
	    store_prep(tx->c,
		       "INSERT INTO host_commands (host, deployment_id, target_id, lifecycle_seq, command_name, status,"
		       " create_time) VALUES (?, ?, ?, ?, ?, 'Pending', ?)",
		       &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, host);
	store_bind_text(s, 2, dep);
	store_bind_text(s, 3, target);
	sqlite3_bind_int(s, 4, lseq);
	store_bind_text(s, 5, name);
	sqlite3_bind_int64(s, 6, now);
	r = step_done(s);
	if (r < 0)
		return r;
	*ret_id = sqlite3_last_insert_rowid(tx->c->db);
	return 0;
}

int store_eng_cmd_update(struct store_tx *tx, int64_t id, const char *status, int64_t acked_time, int64_t complete_time,
			 const json_t *diagnostics)
{
	sqlite3_stmt *s;
	int r = store_prep(tx->c,
			   "UPDATE host_commands SET status = ?2,"
			   " acked_time = CASE WHEN ?3 > 0 THEN ?3 ELSE acked_time END,"
			   " complete_time = CASE WHEN ?4 > 0 THEN ?4 ELSE complete_time END,"
			   " diagnostics = COALESCE(?5, diagnostics) WHERE id = ?1",
			   &s);
	if (r < 0)
		return r;
	sqlite3_bind_int64(s, 1, id);
	store_bind_text(s, 2, status);
	sqlite3_bind_int64(s, 3, acked_time);
	sqlite3_bind_int64(s, 4, complete_time);
	store_bind_json(s, 5, diagnostics);
	return step_done(s);
}

int store_eng_instance_last_status(struct store_tx *tx, const char *instance, const char *exclude_dep, char **ret)
{
	sqlite3_stmt *s;
	int r, rc;

	r = store_prep(tx->c,
		       "SELECT t.status FROM deployment_targets t JOIN deployments d ON d.id = t.deployment_id"
		       " WHERE t.target_id = ?1 AND t.deployment_id != ?2 AND t.status IN ('Succeeded', 'Failed')"
		       " ORDER BY d.seq DESC LIMIT 1",
		       &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, instance);
	store_bind_text(s, 2, exclude_dep);
	rc = sqlite3_step(s);
	*ret = NULL;
	if (rc == SQLITE_ROW)
		*ret = strdup(store_col_text(s, 0));
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_errno(rc);
}

int store_eng_instance_last_revision(struct store_tx *tx, const char *app, const char *group, const char *instance,
				     json_t **ret)
{
	sqlite3_stmt *s;
	int r, rc;

	r = store_prep(
	    tx->c,
	    "SELECT d.revision FROM deployment_targets t JOIN deployments d ON d.id = t.deployment_id"
	    " WHERE t.target_id = ?3 AND d.application = ?1 AND d.deployment_group = ?2"
	    " AND t.status = 'Succeeded' AND COALESCE(t.instance_label, '') != 'Blue'" /* blue kept its revision */
	    " ORDER BY d.seq DESC LIMIT 1",
	    &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, app);
	store_bind_text(s, 2, group);
	store_bind_text(s, 3, instance);
	rc = sqlite3_step(s);
	*ret = rc == SQLITE_ROW ? store_col_json(s, 0) : NULL;
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_errno(rc);
}

int store_eng_instance_in_group(struct store_tx *tx, const char *app, const char *group, const char *instance,
				bool *ret)
{
	sqlite3_stmt *s;
	int r, rc;

	r = store_prep(tx->c,
		       "SELECT 1 FROM deployment_targets t JOIN deployments d ON d.id = t.deployment_id"
		       " WHERE t.target_id = ?3 AND d.application = ?1 AND d.deployment_group = ?2 LIMIT 1",
		       &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, app);
	store_bind_text(s, 2, group);
	store_bind_text(s, 3, instance);
	rc = sqlite3_step(s);
	*ret = rc == SQLITE_ROW;
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_errno(rc);
}

int store_eng_last_good(struct store_tx *tx, const char *app, const char *group, const char *exclude_dep, char *ret_id,
			json_t **ret_revision)
{
	sqlite3_stmt *s;
	int r, rc;

	r = store_prep(tx->c,
		       "SELECT id, revision FROM deployments WHERE application = ?1 AND deployment_group = ?2"
		       " AND status = 'Succeeded' AND id != ?3 AND revision IS NOT NULL ORDER BY seq DESC LIMIT 1",
		       &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, app);
	store_bind_text(s, 2, group);
	store_bind_text(s, 3, exclude_dep);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
	}
	snprintf(ret_id, 16, "%s", store_col_text(s, 0));
	*ret_revision = store_col_json(s, 1);
	sqlite3_reset(s);
	return 0;
}

int store_eng_hook_log(struct store_tx *tx, const char *dep, const char *target, const char *event, int64_t seq,
		       int64_t now, const char *chunk, size_t cap_bytes)
{
	sqlite3_stmt *s;
	int r;

	r = store_prep(tx->c,
		       "INSERT OR IGNORE INTO hook_logs (deployment_id, target_id, lifecycle_event, seq, time, chunk)"
		       " VALUES (?1, ?2, ?3, ?6, ?4, ?5)",
		       &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, dep);
	store_bind_text(s, 2, target);
	store_bind_text(s, 3, event);
	sqlite3_bind_int64(s, 4, now);
	store_bind_text(s, 5, chunk);
	sqlite3_bind_int64(s, 6, seq);
	r = step_done(s);
	if (r < 0)
		return r;
	/* Drop the oldest chunks beyond the cap (newest output is kept). */
	r = store_prep(tx->c,
		       "DELETE FROM hook_logs WHERE deployment_id = ?1 AND target_id = ?2 AND lifecycle_event = ?3"
		       " AND seq IN (SELECT seq FROM (SELECT seq, SUM(length(chunk)) OVER (ORDER BY seq DESC) AS tot"
		       " FROM hook_logs WHERE deployment_id = ?1 AND target_id = ?2 AND lifecycle_event = ?3)"
		       " WHERE tot > ?4)",
		       &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, dep);
	store_bind_text(s, 2, target);
	store_bind_text(s, 3, event);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)cap_bytes);
	return step_done(s);
}

int store_eng_onprem_instances_nt(struct store *st, char **ret_json)
{
	struct store_conn *c = NULL;
	sqlite3_stmt *s;
	json_t *a = json_array(), *byname = json_object();
	int r, rc;

	if (!a || !byname) {
		r = -ENOMEM;
		goto out;
	}
	r = store_conn_get(st, &c);
	if (r < 0)
		goto out;
	r = store_prep(
	    c,
	    "SELECT name, iam_session_arn, iam_user_arn, instance_arn, status, register_time, deregister_time"
	    " FROM instances ORDER BY name",
	    &s);
	if (r < 0)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o = json_object();
		json_object_set_new(o, "instanceName", json_string(store_col_text(s, 0)));
		if (store_col_text(s, 1))
			json_object_set_new(o, "iamSessionArn", json_string(store_col_text(s, 1)));
		if (store_col_text(s, 2))
			json_object_set_new(o, "iamUserArn", json_string(store_col_text(s, 2)));
		json_object_set_new(o, "instanceArn", json_string(store_col_text(s, 3)));
		json_object_set_new(o, "registrationStatus", json_string(store_col_text(s, 4)));
		json_object_set_new(o, "registerTime", json_integer(sqlite3_column_int64(s, 5) / 1000));
		if (sqlite3_column_type(s, 6) != SQLITE_NULL)
			json_object_set_new(o, "deregisterTime", json_integer(sqlite3_column_int64(s, 6) / 1000));
		json_object_set_new(o, "tags", json_array());
		json_object_set(byname, store_col_text(s, 0), o);
		json_array_append_new(a, o);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		r = store_errno(rc);
		goto out;
	}
	r = store_prep(c, "SELECT instance, key, value FROM instance_tags ORDER BY instance, key", &s);
	if (r < 0)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o = json_object_get(byname, store_col_text(s, 0));
		if (o)
			json_array_append_new(json_object_get(o, "tags"),
					      json_pack("{s:s,s:s}", "Key", store_col_text(s, 1), "Value",
							store_col_text(s, 2) ? store_col_text(s, 2) : ""));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		r = store_errno(rc);
		goto out;
	}
	*ret_json = json_dumps(a, JSON_COMPACT);
	r = *ret_json ? 0 : -ENOMEM;
out:
	if (c)
		store_conn_put(st, c);
	json_decref(a);
	json_decref(byname);
	return r;
}

int store_eng_instance_arn(struct store_tx *tx, const char *instance, char **ret)
{
	sqlite3_stmt *s;
	int r, rc;

	r = store_prep(tx->c, "SELECT COALESCE(iam_session_arn, iam_user_arn) FROM instances WHERE name = ?", &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, instance);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *t = store_col_text(s, 0);
		*ret = t ? strdup(t) : NULL;
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
	}
	sqlite3_reset(s);
	return r;
}

int store_eng_instance_by_identifier(struct store_tx *tx, const char *host_identifier, char **ret)
{
	sqlite3_stmt *s;
	int r, rc;

	r = store_prep(tx->c,
		       "SELECT name FROM instances WHERE (iam_session_arn = ?1 OR iam_user_arn = ?1 OR name = ?1"
		       " OR instance_arn = ?1) AND status = 'Registered' LIMIT 1",
		       &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, host_identifier);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*ret = strdup(store_col_text(s, 0));
		r = *ret ? 0 : -ENOMEM;
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
	}
	sqlite3_reset(s);
	return r;
}

int store_eng_bundle_set(struct store_tx *tx, const char *dep, const json_t *bundle)
{
	sqlite3_stmt *s;
	char key[64];
	int r = store_prep(tx->c, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", &s);

	if (r < 0)
		return r;
	snprintf(key, sizeof(key), "engine.bundle.%s", dep);
	store_bind_text(s, 1, key);
	store_bind_json(s, 2, bundle);
	return step_done(s);
}

int store_eng_bundle_get(struct store_tx *tx, const char *dep, json_t **ret)
{
	sqlite3_stmt *s;
	char key[64];
	int r, rc;

	r = store_prep(tx->c, "SELECT value FROM meta WHERE key = ?", &s);
	if (r < 0)
		return r;
	snprintf(key, sizeof(key), "engine.bundle.%s", dep);
	store_bind_text(s, 1, key);
	rc = sqlite3_step(s);
	*ret = rc == SQLITE_ROW ? store_col_json(s, 0) : NULL;
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_errno(rc);
}

int store_eng_group_active_nt(struct store *st, const char *app, const char *group, char *ret_id)
{
	struct store_conn *c = NULL;
	sqlite3_stmt *s;
	int r, rc;

	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_prep(c,
		       "SELECT id FROM deployments WHERE application = ? AND deployment_group = ?"
		       " AND status IN ('Created', 'Queued', 'InProgress', 'Ready') ORDER BY seq LIMIT 1",
		       &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, app);
	store_bind_text(s, 2, group);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(ret_id, 16, "%s", store_col_text(s, 0));
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
	}
	sqlite3_reset(s);
out:
	store_conn_put(st, c);
	return r;
}
