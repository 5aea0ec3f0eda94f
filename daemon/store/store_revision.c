/* Application revisions (table revisions): registered ones and those a
 * deployment used. A revision is identified by the canonical JSON of its
 * RevisionLocation (rkey). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util.h"

static char *canonical(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

struct store_revision *store_revision_free(struct store_revision *rv)
{
	if (!rv)
		return NULL;
	free(rv->description);
	json_decref(rv->deployment_groups);
	free(rv);
	return NULL;
}

int store_revision_upsert_c(struct store_conn *c, const char *app, const json_t *rev, const char *description,
			    bool registering, int64_t now)
{
	json_t *s3 = json_object_get(rev, "s3Location");
	char *key = canonical(rev);
	int r;

	if (!key)
		return -ENOMEM;
	/* a foreign-key failure (-ENOENT) means the application is gone */
	r = store_run(
	    c,
	    "INSERT INTO revisions (application, rkey, revision, revision_type, s3_bucket, s3_key, description, "
	    "register_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
	    "ON CONFLICT (application, rkey) DO UPDATE SET "
	    "description = CASE WHEN ?9 <> 0 THEN excluded.description ELSE revisions.description END, "
	    "register_time = CASE WHEN ?9 <> 0 THEN excluded.register_time ELSE revisions.register_time END",
	    SQL_TEXT(app), SQL_TEXT(key), SQL_JSON(rev),
	    SQL_TEXT(json_string_value(json_object_get(rev, "revisionType"))),
	    SQL_TEXT(json_string_value(json_object_get(s3, "bucket"))),
	    SQL_TEXT(json_string_value(json_object_get(s3, "key"))), SQL_TEXT(description), SQL_INT(now),
	    SQL_INT(registering));
	free(key);
	return r;
}

int store_revision_mark_used_c(struct store_conn *c, const char *app, const json_t *rev, const char *group, int64_t now)
{
	char *key = canonical(rev);
	int r;

	if (!key)
		return -ENOMEM;
	/* the group joins the JSON array of the revision's groups: the JSON
	 * functions differ */
	r = store_run2(
	    c,
	    "UPDATE revisions SET first_used_time = COALESCE(first_used_time, ?3), last_used_time = ?3, "
	    "deployment_groups = CASE WHEN ?4 IS NULL OR EXISTS (SELECT 1 FROM json_each(deployment_groups) "
	    "WHERE value = ?4) THEN deployment_groups ELSE json_insert(deployment_groups, '$[#]', ?4) END "
	    "WHERE application = ?1 AND rkey = ?2",
	    "UPDATE revisions SET first_used_time = COALESCE(first_used_time, ?3), last_used_time = ?3, "
	    "deployment_groups = CASE WHEN ?4::text IS NULL OR deployment_groups::jsonb @> jsonb_build_array(?4::text)"
	    " THEN deployment_groups ELSE (deployment_groups::jsonb || jsonb_build_array(?4::text))::text END "
	    "WHERE application = ?1 AND rkey = ?2",
	    SQL_TEXT(app), SQL_TEXT(key), SQL_INT(now), SQL_TEXT(group));
	free(key);
	return r;
}

int store_revision_register(struct store *st, const char *app, json_t *revision, const char *description)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_revision_upsert_c(c, app, revision, description, true, rd_wall_ms());
	store_conn_put(st, c);
	return r;
}

int store_revision_get(struct store *st, const char *app, json_t *revision, struct store_revision **ret)
{
	struct store_revision *rv = calloc(1, sizeof(*rv));
	char *key = canonical(revision);
	struct store_conn *c = NULL;
	struct store_q q;
	int r = rv && key ? store_conn_get(st, &c) : -ENOMEM;

	if (r < 0)
		goto out;
	r = store_one(c, &q,
		      "SELECT description, deployment_groups, register_time, first_used_time, last_used_time "
		      "FROM revisions WHERE application = ?1 AND rkey = ?2",
		      SQL_TEXT(app), SQL_TEXT(key));
	if (r < 0)
		goto out;
	r = store_dup(&q, 0, &rv->description);
	rv->deployment_groups = store_json(&q, 1);
	rv->register_time = store_int(&q, 2);
	rv->first_used_time = store_int(&q, 3);
	rv->last_used_time = store_int(&q, 4);
	store_done(&q, 0);
out:
	store_conn_put(st, c);
	free(key);
	if (r < 0) {
		store_revision_free(rv);
		return r;
	}
	*ret = rv;
	return 0;
}

int store_revision_list(struct store *st, const struct store_revision_query *q, json_t **ret_revisions, bool *ret_more)
{
	json_t *arr = json_array();
	struct store_conn *c;
	struct store_q sq;
	bool more = false;
	int r;

	if (!arr)
		return -ENOMEM;
	r = store_conn_get(st, &c);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	r = store_query(
	    c, &sq,
	    "SELECT revision FROM revisions WHERE application = ?1 "
	    "AND (?4 IS NULL OR s3_bucket = ?4) "
	    "AND (?5 IS NULL OR substr(s3_key, 1, length(?5)) = ?5) "
	    "AND (?6 IS NULL OR ?6 = 'ignore' OR (?6 = 'include') = (first_used_time IS NOT NULL)) "
	    "ORDER BY CASE ?2 WHEN 'registerTime' THEN register_time WHEN 'firstUsedTime' THEN first_used_time "
	    "WHEN 'lastUsedTime' THEN last_used_time ELSE seq END * (CASE WHEN ?3 <> 0 THEN -1 ELSE 1 END), "
	    "seq * (CASE WHEN ?3 <> 0 THEN -1 ELSE 1 END) LIMIT 9223372036854775807 OFFSET ?7",
	    SQL_TEXT(q->app), SQL_TEXT(q->sort_by), SQL_INT(q->descending), SQL_TEXT(q->s3_bucket),
	    SQL_TEXT(q->s3_key_prefix), SQL_TEXT(q->deployed), SQL_INT(q->offset));
	while (r == 0 && store_next(&sq)) {
		if (json_array_size(arr) == q->limit) {
			more = true;
			break;
		}
		json_t *rev = store_json(&sq, 0);
		if (rev)
			json_array_append_new(arr, rev);
	}
	r = store_done(&sq, r);
	store_conn_put(st, c);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*ret_revisions = arr;
	*ret_more = more;
	return 0;
}
