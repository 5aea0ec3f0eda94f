/* Trigger-notification deliveries (table trigger_deliveries). See store_health.h. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "store/store_health.h"
#include "store/store_internal.h"
#include "util.h"

#define SQL_TRIGGER_DELIVERY_INSERT                                                                                    \
	"INSERT INTO trigger_deliveries (deployment_id, instance_id, event, trigger_name, target, status,"             \
	" attempts, subject, message, create_time, update_time, owner)"                                                \
	" VALUES (?1, ?2, ?3, ?4, ?5, 'Pending', 0, ?6, ?7, ?8, ?8, ?9) RETURNING id"

int store_trigger_delivery_insert(struct store *st, const struct store_trigger_delivery *td, int64_t *ret_id)
{
	struct store_conn *c;
	struct store_q q;
	int64_t now = rd_wall_ms();
	int r;

	if (!st || !td || !td->event || !td->trigger_name || !td->target || !td->message)
		return -EINVAL;
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_one(c, &q, SQL_TRIGGER_DELIVERY_INSERT, SQL_TEXT(td->deployment_id), SQL_TEXT(td->instance_id),
		      SQL_TEXT(td->event), SQL_TEXT(td->trigger_name), SQL_TEXT(td->target), SQL_TEXT(td->subject),
		      SQL_TEXT(td->message), SQL_INT(now), SQL_TEXT(td->owner));
	if (r == 0 && ret_id)
		*ret_id = store_int(&q, 0);
	if (r == 0)
		r = store_done(&q, 0);
	store_conn_put(st, c);
	return r;
}

int store_eng_trigger_delivery_insert(struct store_tx *tx, const struct store_trigger_delivery *td, int64_t *ret_id)
{
	struct store_q q;
	int r;

	if (!tx || !td || !td->event || !td->trigger_name || !td->target || !td->message)
		return -EINVAL;
	r = store_one(tx->c, &q, SQL_TRIGGER_DELIVERY_INSERT, SQL_TEXT(td->deployment_id), SQL_TEXT(td->instance_id),
		      SQL_TEXT(td->event), SQL_TEXT(td->trigger_name), SQL_TEXT(td->target), SQL_TEXT(td->subject),
		      SQL_TEXT(td->message), SQL_INT(rd_wall_ms()), SQL_TEXT(td->owner));
	if (r == 0 && ret_id)
		*ret_id = store_int(&q, 0);
	if (r == 0)
		r = store_done(&q, 0);
	return r;
}

int store_trigger_delivery_update(struct store *st, int64_t id, const char *status, int attempts,
				  const char *last_error, const char *response)
{
	struct store_conn *c;
	int r;

	if (!st || !status)
		return -EINVAL;
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_run(c,
		      "UPDATE trigger_deliveries SET status = ?2, attempts = ?3, last_error = ?4, response = ?5,"
		      " update_time = ?6 WHERE id = ?1",
		      SQL_INT(id), SQL_TEXT(status), SQL_INT(attempts), SQL_TEXT(last_error), SQL_TEXT(response),
		      SQL_INT(rd_wall_ms()));
	if (r == 0 && store_changes(c) == 0)
		r = -ENOENT;
	store_conn_put(st, c);
	return r;
}

int store_trigger_delivery_prune(struct store *st, int64_t before_ms, int64_t *ret_n)
{
	struct store_conn *c;
	int r;

	if (!st)
		return -EINVAL;
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_run(c, "DELETE FROM trigger_deliveries WHERE status <> 'Pending' AND update_time < ?1",
		      SQL_INT(before_ms));
	if (r == 0 && ret_n)
		*ret_n = store_changes(c);
	store_conn_put(st, c);
	return r;
}

static void set_text(json_t *o, const char *k, struct store_q *q, int i)
{
	const char *v = store_text(q, i);

	if (v)
		json_object_set_new(o, k, json_string(v));
}

#define DELIVERY_COLUMNS                                                                                               \
	"id, deployment_id, instance_id, event, trigger_name, target, status, attempts, last_error, response,"         \
	" subject, message, create_time, update_time, owner"

/* The rows of a query selecting DELIVERY_COLUMNS, as store_health.h describes them. */
static int delivery_rows(struct store_q *q, int r, json_t *arr)
{
	while (r == 0 && store_next(q)) {
		json_t *o = json_object();
		if (!o) {
			r = -ENOMEM;
			break;
		}
		json_object_set_new(o, "id", json_integer(store_int(q, 0)));
		set_text(o, "deploymentId", q, 1);
		set_text(o, "instanceId", q, 2);
		set_text(o, "event", q, 3);
		set_text(o, "triggerName", q, 4);
		set_text(o, "target", q, 5);
		set_text(o, "status", q, 6);
		json_object_set_new(o, "attempts", json_integer(store_int(q, 7)));
		set_text(o, "lastError", q, 8);
		set_text(o, "response", q, 9);
		set_text(o, "subject", q, 10);
		set_text(o, "message", q, 11);
		json_object_set_new(o, "createTime", json_integer(store_int(q, 12)));
		json_object_set_new(o, "updateTime", json_integer(store_int(q, 13)));
		set_text(o, "owner", q, 14);
		json_array_append_new(arr, o);
	}
	return store_done(q, r);
}

int store_trigger_delivery_list(struct store *st, const char *deployment_id, bool pending_only, json_t **ret)
{
	struct store_conn *c;
	struct store_q q;
	json_t *arr;
	int r;

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
	r = store_query(c, &q,
			"SELECT " DELIVERY_COLUMNS " FROM trigger_deliveries"
			" WHERE (?1 IS NULL OR deployment_id = ?1) AND (?2 = 0 OR status = 'Pending') ORDER BY id",
			SQL_TEXT(deployment_id), SQL_INT(!deployment_id && pending_only));
	r = delivery_rows(&q, r, arr);
	store_conn_put(st, c);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*ret = arr;
	return 0;
}

int store_trigger_delivery_adopt(struct store *st, const char *owner, json_t **ret)
{
	struct store_conn *c;
	struct store_q q;
	json_t *arr;
	int r;

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
	/* Only a live daemon adopts (one expired meanwhile changes nothing),
	 * and only from daemons that are not alive: a live owner retries its
	 * own. Under PostgreSQL's READ COMMITTED, a row another adopter took
	 * first is re-checked after its commit and no longer matches. */
	r = store_query(c, &q,
			"UPDATE trigger_deliveries SET owner = ?1 WHERE status = 'Pending'"
			" AND (owner IS NULL OR owner NOT IN (SELECT id FROM cluster_daemons WHERE state = 'alive'))"
			" AND (?1 IS NULL OR EXISTS (SELECT 1 FROM cluster_daemons WHERE id = ?1 AND state = 'alive'))"
			" RETURNING " DELIVERY_COLUMNS,
			SQL_TEXT(owner));
	r = delivery_rows(&q, r, arr);
	store_conn_put(st, c);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*ret = arr;
	return 0;
}

int store_trigger_delivery_claim(struct store *st, int64_t id, const char *owner)
{
	struct store_conn *c;
	int r;

	if (!st || !owner)
		return -EINVAL;
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_run(c,
		      "UPDATE trigger_deliveries SET update_time = ?3 WHERE id = ?1 AND status = 'Pending'"
		      " AND owner = ?2 AND EXISTS (SELECT 1 FROM cluster_daemons WHERE id = ?2 AND state = 'alive')",
		      SQL_INT(id), SQL_TEXT(owner), SQL_INT(rd_wall_ms()));
	if (r == 0 && store_changes(c) == 0)
		r = -ESTALE;
	store_conn_put(st, c);
	return r;
}
