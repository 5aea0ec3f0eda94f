/* SQL for health alarms and trigger notifications. See store_health.h. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "store/store_health.h"
#include "store/store_internal.h"
#include "util.h"

int store_trigger_delivery_insert(struct store *st, const struct store_trigger_delivery *td, int64_t *ret_id)
{
	struct store_conn *c;
	sqlite3_stmt *s;
	int64_t now = rd_wall_ms();
	int r;

	if (!st || !td || !td->event || !td->trigger_name || !td->target || !td->message)
		return -EINVAL;
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_prep(
	    c,
	    "INSERT INTO trigger_deliveries (deployment_id, instance_id, event, trigger_name, target, status,"
	    " attempts, subject, message, create_time, update_time)"
	    " VALUES (?, ?, ?, ?, ?, 'Pending', 0, ?, ?, ?, ?)",
	    &s);
	if (r == 0) {
		store_bind_text(s, 1, td->deployment_id);
		store_bind_text(s, 2, td->instance_id);
		store_bind_text(s, 3, td->event);
		store_bind_text(s, 4, td->trigger_name);
		store_bind_text(s, 5, td->target);
		store_bind_text(s, 6, td->subject);
		store_bind_text(s, 7, td->message);
		sqlite3_bind_int64(s, 8, now);
		sqlite3_bind_int64(s, 9, now);
		r = store_errno(sqlite3_step(s));
		sqlite3_reset(s);
		if (r == 0 && ret_id)
			*ret_id = sqlite3_last_insert_rowid(c->db);
	}
	store_conn_put(st, c);
	return r;
}

int store_trigger_delivery_update(struct store *st, int64_t id, const char *status, int attempts,
				  const char *last_error, const char *response)
{
	struct store_conn *c;
	sqlite3_stmt *s;
	int r;

	if (!st || !status)
		return -EINVAL;
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_prep(c,
		       "UPDATE trigger_deliveries SET status = ?, attempts = ?, last_error = ?, response = ?,"
		       " update_time = ? WHERE id = ?",
		       &s);
	if (r == 0) {
		store_bind_text(s, 1, status);
		sqlite3_bind_int(s, 2, attempts);
		store_bind_text(s, 3, last_error);
		store_bind_text(s, 4, response);
		sqlite3_bind_int64(s, 5, rd_wall_ms());
		sqlite3_bind_int64(s, 6, id);
		r = store_errno(sqlite3_step(s));
		sqlite3_reset(s);
		if (r == 0 && sqlite3_changes(c->db) == 0)
			r = -ENOENT;
	}
	store_conn_put(st, c);
	return r;
}

int store_trigger_delivery_prune(struct store *st, int64_t before_ms, int64_t *ret_n)
{
	struct store_conn *c;
	sqlite3_stmt *s;
	int r;

	if (!st)
		return -EINVAL;
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_prep(c, "DELETE FROM trigger_deliveries WHERE status <> 'Pending' AND update_time < ?", &s);
	if (r == 0) {
		sqlite3_bind_int64(s, 1, before_ms);
		r = store_errno(sqlite3_step(s));
		sqlite3_reset(s);
		if (r == 0 && ret_n)
			*ret_n = sqlite3_changes(c->db);
	}
	store_conn_put(st, c);
	return r;
}

static void set_text(json_t *o, const char *k, sqlite3_stmt *s, int i)
{
	const char *v = store_col_text(s, i);

	if (v)
		json_object_set_new(o, k, json_string(v));
}

int store_trigger_delivery_list(struct store *st, const char *deployment_id, bool pending_only, json_t **ret)
{
	struct store_conn *c;
	sqlite3_stmt *s;
	json_t *arr;
	int r, rc;

	if (!st || !ret)
		return -EINVAL;
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	r = store_conn_get(st, &c);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	if (deployment_id)
		r = store_prep(c,
			       "SELECT id, deployment_id, instance_id, event, trigger_name, target, status, attempts,"
			       " last_error, response, subject, message, create_time, update_time"
			       " FROM trigger_deliveries WHERE deployment_id = ? ORDER BY id",
			       &s);
	else if (pending_only)
		r = store_prep(c,
			       "SELECT id, deployment_id, instance_id, event, trigger_name, target, status, attempts,"
			       " last_error, response, subject, message, create_time, update_time"
			       " FROM trigger_deliveries WHERE status = 'Pending' ORDER BY id",
			       &s);
	else
		r = store_prep(c,
			       "SELECT id, deployment_id, instance_id, event, trigger_name, target, status, attempts,"
			       " last_error, response, subject, message, create_time, update_time"
			       " FROM trigger_deliveries ORDER BY id",
			       &s);
	if (r < 0)
		goto out;
	if (deployment_id)
		store_bind_text(s, 1, deployment_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o = json_object();
		if (!o) {
			r = -ENOMEM;
			break;
		}
		json_object_set_new(o, "id", json_integer(sqlite3_column_int64(s, 0)));
		set_text(o, "deploymentId", s, 1);
		set_text(o, "instanceId", s, 2);
		set_text(o, "event", s, 3);
		set_text(o, "triggerName", s, 4);
		set_text(o, "target", s, 5);
		set_text(o, "status", s, 6);
		json_object_set_new(o, "attempts", json_integer(sqlite3_column_int(s, 7)));
		set_text(o, "lastError", s, 8);
		set_text(o, "response", s, 9);
		set_text(o, "subject", s, 10);
		set_text(o, "message", s, 11);
		json_object_set_new(o, "createTime", json_integer(sqlite3_column_int64(s, 12)));
		json_object_set_new(o, "updateTime", json_integer(sqlite3_column_int64(s, 13)));
		json_array_append_new(arr, o);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_errno(rc);
	sqlite3_reset(s);
out:
	store_conn_put(st, c);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*ret = arr;
	return 0;
}
