/* The audit trail (table audit_log): every mutating call and every refused
 * one, appended in batches by the audit writer (daemon/auth/auth_audit.c),
 * read newest first with filters, removed by the retention job. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util.h"

static struct store_arg text_or_null(const char *s)
{
	return SQL_TEXT(s && *s ? s : NULL); /* typed: PostgreSQL must know what the NULL is */
}

int store_audit_insert(struct store *st, const struct store_audit_record *v, size_t n)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	if (r < 0) {
		store_conn_put(st, c);
		return r;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct store_audit_record *a = &v[i];
		r = store_run(c,
			      "INSERT INTO audit_log (time, request_id, access_key_id, policy, source, operation,"
			      " application, resource, result, status, error_code, error_message)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
			      SQL_INT(a->time), text_or_null(a->request_id), text_or_null(a->access_key_id),
			      text_or_null(a->policy), text_or_null(a->source), SQL_TEXT(a->operation),
			      text_or_null(a->application), text_or_null(a->resource), SQL_TEXT(a->result),
			      SQL_INT(a->status), text_or_null(a->error_code), text_or_null(a->error_message));
	}
	if (r == 0)
		r = store_tx_commit(c);
	else
		store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_audit_list(struct store *st, const struct store_audit_query *aq, struct store_audit_record **ret,
		     size_t *ret_n, bool *ret_more)
{
	struct store_audit_record *v = NULL;
	size_t n = 0, limit = aq->limit ? aq->limit : 100;
	struct store_conn *c;
	struct store_q q;
	int r;

	if (limit > 1000)
		limit = 1000;
	*ret_more = false;
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	/* the operation filter matches "Prefix.Op" or "Op" alone */
	r = store_query(c, &q,
			"SELECT seq, time, request_id, access_key_id, policy, source, operation, application, resource,"
			" result, status, error_code, error_message FROM audit_log"
			" WHERE (?1 IS NULL OR access_key_id = ?1) AND (?2 IS NULL OR application = ?2)"
			" AND (?3 IS NULL OR operation = ?3 OR operation LIKE '%.' || ?3)"
			" AND (?4 IS NULL OR result = ?4) AND (?5 = 0 OR time >= ?5) AND (?6 = 0 OR time < ?6)"
			" AND (?7 = 0 OR seq < ?7) ORDER BY seq DESC LIMIT ?8",
			text_or_null(aq->access_key_id), text_or_null(aq->application), text_or_null(aq->operation),
			text_or_null(aq->result), SQL_INT(aq->since_ms), SQL_INT(aq->until_ms), SQL_INT(aq->before_seq),
			SQL_INT(limit + 1));
	while (r == 0 && store_next(&q)) {
		struct store_audit_record *a, *nv;
		if (n == limit) {
			*ret_more = true;
			break;
		}
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			r = -ENOMEM;
			break;
		}
		v = nv;
		a = &v[n++];
		memset(a, 0, sizeof(*a));
		a->seq = store_int(&q, 0);
		a->time = store_int(&q, 1);
		store_copy(&q, 2, a->request_id, sizeof(a->request_id));
		store_copy(&q, 3, a->access_key_id, sizeof(a->access_key_id));
		store_copy(&q, 4, a->policy, sizeof(a->policy));
		store_copy(&q, 5, a->source, sizeof(a->source));
		store_copy(&q, 6, a->operation, sizeof(a->operation));
		store_copy(&q, 7, a->application, sizeof(a->application));
		store_copy(&q, 8, a->resource, sizeof(a->resource));
		store_copy(&q, 9, a->result, sizeof(a->result));
		a->status = (int)store_int(&q, 10);
		store_copy(&q, 11, a->error_code, sizeof(a->error_code));
		store_copy(&q, 12, a->error_message, sizeof(a->error_message));
	}
	r = store_done(&q, r);
	store_conn_put(st, c);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int store_audit_prune(struct store *st, int64_t before_ms, size_t limit, size_t *ret_removed, bool *ret_more)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	*ret_removed = 0;
	*ret_more = false;
	if (r < 0)
		return r;
	r = store_run(c,
		      "DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE time < ?1 ORDER BY seq"
		      " LIMIT ?2)",
		      SQL_INT(before_ms), SQL_INT(limit));
	if (r == 0) {
		*ret_removed = (size_t)store_changes(c);
		*ret_more = *ret_removed == limit;
	}
	store_conn_put(st, c);
	return r;
}
