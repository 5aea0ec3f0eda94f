/* On-premises instances (table instances) and their tags (table
 * instance_tags). A deregistered instance keeps its row until its name is
 * registered again. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_hot.h"
#include "store/store_internal.h"
#include "tagfilter.h"
#include "util.h"

static void instance_clear(struct store_instance *in)
{
	free(in->name);
	free(in->iam_session_arn);
	free(in->iam_user_arn);
	free(in->instance_arn);
	free(in->status);
	store_tags_clear(&in->tags);
}

struct store_instance *store_instance_free(struct store_instance *in)
{
	if (!in)
		return NULL;
	instance_clear(in);
	free(in);
	return NULL;
}

void store_instances_clear(struct store_instances *ins)
{
	if (!ins)
		return;
	for (size_t i = 0; i < ins->n; i++)
		instance_clear(&ins->v[i]);
	free(ins->v);
	ins->v = NULL;
	ins->n = 0;
}

int store_instance_register(struct store *st, const char *name, const char *session_arn, const char *user_arn,
			    const char *instance_arn)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	if (r == 0)
		r = store_one(c, &q, SQL_INSTANCE_REGISTER_CHECK, SQL_TEXT(name), SQL_TEXT(session_arn),
			      SQL_TEXT(user_arn));
	if (r == 0) {
		r = store_int(&q, 0) ? -EEXIST : store_int(&q, 1) ? -EADDRINUSE : 0;
		store_done(&q, 0);
	} else if (r == -ENOENT) {
		r = -EIO;
	}
	/* a deregistered name may be registered again: start afresh */
	if (r == 0)
		r = store_run(c, "DELETE FROM instances WHERE name = ?1", SQL_TEXT(name));
	if (r == 0)
		r = store_run(c,
			      "INSERT INTO instances (name, iam_session_arn, iam_user_arn, instance_arn, status, "
			      "register_time) VALUES (?1, ?2, ?3, ?4, 'Registered', ?5)",
			      SQL_TEXT(name), SQL_TEXT(session_arn), SQL_TEXT(user_arn), SQL_TEXT(instance_arn),
			      SQL_INT(rd_wall_ms()));
	if (r == 0)
		r = store_tx_commit(c);
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_instance_deregister(struct store *st, const char *name)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_run(c,
		      "UPDATE instances SET status = 'Deregistered', deregister_time = ?2 "
		      "WHERE name = ?1 AND status = 'Registered'",
		      SQL_TEXT(name), SQL_INT(rd_wall_ms()));
	if (r == 0 && store_changes(c) == 0)
		r = -ENOENT;
	store_conn_put(st, c);
	return r;
}

/* The columns every instance query selects, in instance_row()'s order. */
#define INSTANCE_COLUMNS "name, iam_session_arn, iam_user_arn, instance_arn, status, register_time, deregister_time"

static int instance_row(struct store_q *q, struct store_instance *in)
{
	memset(in, 0, sizeof(*in));
	in->register_time = store_int(q, 5);
	in->deregister_time = store_int(q, 6);
	if (store_dup(q, 0, &in->name) < 0 || store_dup(q, 1, &in->iam_session_arn) < 0 ||
	    store_dup(q, 2, &in->iam_user_arn) < 0 || store_dup(q, 3, &in->instance_arn) < 0 ||
	    store_dup(q, 4, &in->status) < 0)
		return -ENOMEM;
	return 0;
}

int store_instance_get(struct store *st, const char *name, struct store_instance **ret)
{
	struct store_instance *in = calloc(1, sizeof(*in));
	struct store_conn *c = NULL;
	struct store_q q;
	int r = in ? store_conn_get(st, &c) : -ENOMEM;

	if (r < 0)
		goto out;
	r = store_one(c, &q, "SELECT " INSTANCE_COLUMNS " FROM instances WHERE name = ?1", SQL_TEXT(name));
	if (r < 0)
		goto out;
	r = instance_row(&q, in);
	store_done(&q, 0);
	if (r == 0)
		r = store_query(c, &q, "SELECT key, value FROM instance_tags WHERE instance = ?1 ORDER BY key",
				SQL_TEXT(name));
	while (r == 0 && store_next(&q))
		r = store_tags_append(&in->tags, &q, 0);
	r = store_done(&q, r);
out:
	store_conn_put(st, c);
	if (r < 0) {
		store_instance_free(in);
		return r;
	}
	*ret = in;
	return 0;
}

int store_instance_all(struct store *st, struct store_instances *ret)
{
	struct store_instances ins = {0};
	struct store_conn *c;
	struct store_q q;
	size_t k = 0;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_query(c, &q, "SELECT " INSTANCE_COLUMNS " FROM instances ORDER BY name");
	while (r == 0 && store_next(&q)) {
		struct store_instance *nv = realloc(ins.v, (ins.n + 1) * sizeof(*nv));
		if (!nv) {
			r = -ENOMEM;
			break;
		}
		ins.v = nv;
		r = instance_row(&q, &nv[ins.n++]);
	}
	r = store_done(&q, r);
	/* Both lists are ordered by instance name: merge them. */
	if (r == 0)
		r = store_query(c, &q, "SELECT instance, key, value FROM instance_tags ORDER BY instance, key");
	while (r == 0 && store_next(&q)) {
		const char *name = store_text(&q, 0);
		while (k < ins.n && strcmp(ins.v[k].name, name) < 0)
			k++;
		if (k < ins.n && !strcmp(ins.v[k].name, name))
			r = store_tags_append(&ins.v[k].tags, &q, 1);
	}
	r = store_done(&q, r);
	store_conn_put(st, c);
	if (r < 0) {
		store_instances_clear(&ins);
		return r;
	}
	*ret = ins;
	return 0;
}

/* One instance's tags while store_instance_list() reads them. */
struct tag_buf {
	char *name;
	struct store_tags tags;
	struct tagfilter_tag *match;
	size_t cap;
};

static void tag_buf_reset(struct tag_buf *b)
{
	free(b->name);
	b->name = NULL;
	store_tags_clear(&b->tags);
}

/* Whether the instance in b is selected; then appends its name to names. */
static int tag_buf_flush(struct tag_buf *b, const struct tagfilter_set *filter, json_t *names)
{
	if (!b->name)
		return 0;
	if (filter) {
		if (b->cap < b->tags.n) {
			struct tagfilter_tag *n = realloc(b->match, b->tags.n * sizeof(*n));
			if (!n)
				return -ENOMEM;
			b->match = n;
			b->cap = b->tags.n;
		}
		for (size_t i = 0; i < b->tags.n; i++)
			b->match[i] = (struct tagfilter_tag){.key = b->tags.v[i].key, .value = b->tags.v[i].value};
		if (!tagfilter_match(filter, b->match, b->tags.n))
			return 0;
	}
	return json_array_append_new(names, json_string(b->name)) < 0 ? -ENOMEM : 0;
}

int store_instance_list(struct store *st, const char *registration_status, const struct tagfilter_set *filter,
			const char *after, size_t limit, json_t **ret_names, bool *ret_more)
{
	struct tag_buf b = {0};
	json_t *names = json_array();
	struct store_conn *c;
	struct store_q q;
	int r;

	if (!names)
		return -ENOMEM;
	r = store_conn_get(st, &c);
	if (r < 0) {
		json_decref(names);
		return r;
	}
	/* The tags are matched here, by the one tag-filter rule (lib/tagfilter.h),
	 * not in SQL: one row per tag, instances in name order; one more name
	 * than the page tells that more follow. */
	r = store_query(
	    c, &q,
	    "SELECT i.name, t.key, t.value FROM instances i LEFT JOIN instance_tags t ON t.instance = i.name "
	    "WHERE (?1 IS NULL OR i.status = ?1) AND (?2 IS NULL OR i.name > ?2) ORDER BY i.name, t.key",
	    SQL_TEXT(registration_status), SQL_TEXT(after));
	while (r == 0 && json_array_size(names) <= limit && store_next(&q)) {
		const char *name = store_text(&q, 0);
		if (!b.name || strcmp(b.name, name) != 0) {
			r = tag_buf_flush(&b, filter, names);
			tag_buf_reset(&b);
			if (r == 0 && !(b.name = strdup(name)))
				r = -ENOMEM;
		}
		if (r == 0 && !store_isnull(&q, 1))
			r = store_tags_append(&b.tags, &q, 1);
	}
	if (r == 0 && json_array_size(names) <= limit)
		r = tag_buf_flush(&b, filter, names);
	r = store_done(&q, r);
	store_conn_put(st, c);
	tag_buf_reset(&b);
	free(b.match);
	if (r < 0) {
		json_decref(names);
		return r;
	}
	*ret_more = json_array_size(names) > limit;
	if (*ret_more)
		json_array_remove(names, limit);
	*ret_names = names;
	return 0;
}

static int instance_tags_change(struct store *st, json_t *names, const struct store_tag *tags, size_t n, bool add,
				const char **ret_missing)
{
	struct store_conn *c;
	struct store_q q;
	size_t i;
	json_t *name;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	json_array_foreach(names, i, name)
	{
		const char *nm = json_string_value(name);
		if (r < 0)
			break;
		r = store_one(c, &q, "SELECT 1 FROM instances WHERE name = ?1 AND status = 'Registered'", SQL_TEXT(nm));
		if (r == 0)
			store_done(&q, 0);
		if (r == -ENOENT)
			*ret_missing = nm;
		for (size_t j = 0; r == 0 && j < n; j++) {
			if (add)
				r = store_run(c,
					      "INSERT INTO instance_tags (instance, key, value) VALUES (?1, ?2, "
					      "COALESCE(?3, '')) ON CONFLICT (instance, key) DO UPDATE SET value = "
					      "excluded.value",
					      SQL_TEXT(nm), SQL_TEXT(tags[j].key), SQL_TEXT(tags[j].value));
			else
				r = store_run(c,
					      "DELETE FROM instance_tags WHERE instance = ?1 AND key = ?2 "
					      "AND (?3 IS NULL OR value = ?3)",
					      SQL_TEXT(nm), SQL_TEXT(tags[j].key), SQL_TEXT(tags[j].value));
		}
	}
	if (r == 0)
		r = store_tx_commit(c);
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_instance_tags_add(struct store *st, json_t *names, const struct store_tag *tags, size_t n,
			    const char **ret_missing)
{
	return instance_tags_change(st, names, tags, n, true, ret_missing);
}

int store_instance_tags_remove(struct store *st, json_t *names, const struct store_tag *tags, size_t n,
			       const char **ret_missing)
{
	return instance_tags_change(st, names, tags, n, false, ret_missing);
}

/* ---- the engine's queries ---- */

int store_eng_instance_arn(struct store_tx *tx, const char *instance, char **ret)
{
	struct store_q q;
	int r = store_one(tx->c, &q, SQL_ENG_INSTANCE_ARN, SQL_TEXT(instance));

	if (r < 0)
		return r;
	r = store_dup(&q, 0, ret);
	store_done(&q, 0);
	return r;
}

int store_eng_instance_by_identifier(struct store_tx *tx, const char *host_identifier, char **ret)
{
	struct store_q q;
	int r = store_one(tx->c, &q, SQL_ENG_INSTANCE_BY_IDENTIFIER, SQL_TEXT(host_identifier));

	if (r < 0)
		return r;
	r = store_dup(&q, 0, ret);
	store_done(&q, 0);
	return r;
}
