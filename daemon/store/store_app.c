/* Applications (table applications). Deleting one cascades to its groups,
 * revisions and deployments through foreign keys. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util.h"
#include "uuid.h"

struct store_app *store_app_free(struct store_app *a)
{
	if (!a)
		return NULL;
	free(a->name);
	free(a->id);
	free(a->compute_platform);
	free(a->github_account);
	free(a);
	return NULL;
}

int store_app_create(struct store *st, const char *name, const char *platform, char ret_id[37])
{
	struct store_conn *c;
	char id[RD_UUID_LEN];
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = rd_uuid4(id);
	if (r < 0) {
		store_conn_put(st, c);
		return r;
	}
	r = store_run(c, "INSERT INTO applications (name, id, compute_platform, create_time) VALUES (?1, ?2, ?3, ?4)",
		      SQL_TEXT(name), SQL_TEXT(id), SQL_TEXT(platform), SQL_INT(rd_wall_ms()));
	store_conn_put(st, c);
	if (r == 0)
		memcpy(ret_id, id, 37);
	return r;
}

int store_app_get(struct store *st, const char *name, struct store_app **ret)
{
	struct store_app *a = calloc(1, sizeof(*a));
	struct store_conn *c = NULL;
	struct store_q q;
	int r = a ? store_conn_get(st, &c) : -ENOMEM;

	if (r < 0)
		goto out;
	r = store_one(
	    c, &q, "SELECT name, id, compute_platform, create_time, github_account FROM applications WHERE name = ?1",
	    SQL_TEXT(name));
	if (r < 0)
		goto out;
	a->create_time = store_int(&q, 3);
	if (store_dup(&q, 0, &a->name) < 0 || store_dup(&q, 1, &a->id) < 0 ||
	    store_dup(&q, 2, &a->compute_platform) < 0 || store_dup(&q, 4, &a->github_account) < 0)
		r = -ENOMEM;
	store_done(&q, 0);
out:
	store_conn_put(st, c);
	if (r < 0) {
		store_app_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

int store_app_list(struct store *st, const char *after, size_t limit, json_t **ret_names, bool *ret_more)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_query(c, &q, "SELECT name FROM applications WHERE ?1 IS NULL OR name > ?1 ORDER BY name",
			SQL_TEXT(after));
	r = store_collect_names(&q, r, limit, ret_names, ret_more);
	store_conn_put(st, c);
	return r;
}

int store_app_rename(struct store *st, const char *name, const char *new_name, const char *old_arn, const char *new_arn,
		     const char *old_group_arn_prefix, const char *new_group_arn_prefix)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	if (r == 0)
		r = store_run(c, "UPDATE applications SET name = ?2 WHERE name = ?1", SQL_TEXT(name),
			      SQL_TEXT(new_name));
	if (r == 0 && store_changes(c) == 0)
		r = -ENOENT;
	if (r == 0)
		r = store_tags_move_c(c, old_arn, new_arn, old_group_arn_prefix, new_group_arn_prefix);
	if (r == 0)
		r = store_tx_commit(c);
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_app_delete(struct store *st, const char *name, const char *arn, const char *group_arn_prefix)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	if (r == 0)
		r = store_run(c, "DELETE FROM applications WHERE name = ?1", SQL_TEXT(name));
	if (r == 0 && store_changes(c) == 0)
		r = -ENOENT;
	if (r == 0)
		r = store_tags_delete_c(c, arn, group_arn_prefix);
	if (r == 0)
		r = store_tx_commit(c);
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}
