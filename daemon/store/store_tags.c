/* Resource tags on application and deployment-group ARNs (table
 * resource_tags). Applications and groups move or drop their tags through
 * store_tags_move_c() / store_tags_delete_c() in their own transactions. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

void store_tags_clear(struct store_tags *tags)
{
	if (!tags)
		return;
	for (size_t i = 0; i < tags->n; i++) {
		free(tags->v[i].key);
		free(tags->v[i].value);
	}
	free(tags->v);
	tags->v = NULL;
	tags->n = 0;
}

int store_tags_set(struct store *st, const char *arn, const struct store_tag *tags, size_t n)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = store_run(c,
			      "INSERT INTO resource_tags (arn, key, value) VALUES (?1, ?2, COALESCE(?3, '')) "
			      "ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
			      SQL_TEXT(arn), SQL_TEXT(tags[i].key), SQL_TEXT(tags[i].value));
	if (r == 0)
		r = store_tx_commit(c);
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_tags_remove(struct store *st, const char *arn, json_t *keys)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_run2(
	    c, "DELETE FROM resource_tags WHERE arn = ?1 AND key IN (SELECT value FROM json_each(?2))",
	    "DELETE FROM resource_tags WHERE arn = ?1 AND key IN (SELECT json_array_elements_text(?2::json))",
	    SQL_TEXT(arn), SQL_JSON(keys));
	store_conn_put(st, c);
	return r;
}

/* Appends the row's (key, value) in columns k, k+1 to tags. */
int store_tags_append(struct store_tags *tags, struct store_q *q, int k)
{
	struct store_tag *nv = realloc(tags->v, (tags->n + 1) * sizeof(*nv));
	const char *v = store_text(q, k + 1);

	if (!nv)
		return -ENOMEM;
	tags->v = nv;
	nv[tags->n].key = strdup(store_text(q, k));
	nv[tags->n].value = strdup(v ? v : "");
	if (!nv[tags->n].key || !nv[tags->n].value) {
		free(nv[tags->n].key);
		free(nv[tags->n].value);
		return -ENOMEM;
	}
	tags->n++;
	return 0;
}

int store_tags_list(struct store *st, const char *arn, struct store_tags *ret)
{
	struct store_tags tags = {0};
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_query(c, &q, "SELECT key, value FROM resource_tags WHERE arn = ?1 ORDER BY key", SQL_TEXT(arn));
	while (r == 0 && store_next(&q))
		r = store_tags_append(&tags, &q, 0);
	r = store_done(&q, r);
	store_conn_put(st, c);
	if (r < 0) {
		store_tags_clear(&tags);
		return r;
	}
	*ret = tags;
	return 0;
}

int store_tags_move_c(struct store_conn *c, const char *old_arn, const char *new_arn, const char *old_prefix,
		      const char *new_prefix)
{
	int r = 0;

	if (old_arn)
		r = store_run(c, "UPDATE resource_tags SET arn = ?2 WHERE arn = ?1", SQL_TEXT(old_arn),
			      SQL_TEXT(new_arn));
	if (r == 0 && old_prefix)
		r = store_run(c,
			      "UPDATE resource_tags SET arn = ?2 || substr(arn, length(?1) + 1) "
			      "WHERE substr(arn, 1, length(?1)) = ?1",
			      SQL_TEXT(old_prefix), SQL_TEXT(new_prefix));
	return r;
}

int store_tags_delete_c(struct store_conn *c, const char *arn, const char *prefix)
{
	return store_run(
	    c, "DELETE FROM resource_tags WHERE arn = ?1 OR (?2 IS NOT NULL AND substr(arn, 1, length(?2)) = ?2)",
	    SQL_TEXT(arn), SQL_TEXT(prefix));
}
