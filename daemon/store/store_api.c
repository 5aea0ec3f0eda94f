/* The control API's queries. See store.h for the contracts. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util.h"

#define CONN()                                                                                                         \
	struct store_conn *c = NULL;                                                                                   \
	sqlite3_stmt *s = NULL;                                                                                        \
	int r = store_conn_get(st, &c);                                                                                \
	if (r < 0)                                                                                                     \
		return r;                                                                                              \
	(void)s

static json_t *col_time(sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return NULL;
	return json_real((double)sqlite3_column_int64(s, i) / 1000.0);
}

static void set_new(json_t *o, const char *k, json_t *v)
{
	if (v)
		json_object_set_new(o, k, v);
}

static void set_text(json_t *o, const char *k, sqlite3_stmt *s, int i)
{
	const char *t = store_col_text(s, i);
	if (t)
		json_object_set_new(o, k, json_string(t));
}

/* Steps s collecting column 0 strings: at most limit, *more if one is left. */
static int collect_strings(sqlite3_stmt *s, size_t limit, json_t **ret, bool *more)
{
	json_t *arr = json_array();
	int rc;

	if (!arr)
		return -ENOMEM;
	*more = false;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (json_array_size(arr) == limit) {
			*more = true;
			break;
		}
		json_array_append_new(arr, json_string(store_col_text(s, 0)));
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(arr);
		return store_errno(rc);
	}
	*ret = arr;
	return 0;
}

static int step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_errno(rc);
}

static char *canonical(json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

static void new_id(char out[37])
{
	unsigned char b[16];
	char hex[33];

	if (rd_random_bytes(b, sizeof(b)) < 0)
		memset(b, 0, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	rd_hex(b, 16, hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* ------------------------------------------------------------ applications */

int store_app_create(struct store *st, const char *name, const char *platform, char ret_id[37])
{
	char id[37];
	CONN();

	new_id(id);
	r = store_prep(c, "INSERT INTO applications (name, id, compute_platform, create_time) VALUES (?, ?, ?, ?)", &s);
	if (r == 0) {
		store_bind_text(s, 1, name);
		store_bind_text(s, 2, id);
		store_bind_text(s, 3, platform);
		sqlite3_bind_int64(s, 4, rd_wall_ms());
		r = step_done(s);
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	if (r == 0)
		memcpy(ret_id, id, 37);
	return r;
}

int store_app_get(struct store *st, const char *name, json_t **ret_info)
{
	CONN();
	r = store_prep(
	    c, "SELECT name, id, compute_platform, create_time, github_account FROM applications WHERE name = ?", &s);
	if (r == 0) {
		store_bind_text(s, 1, name);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			json_t *o = json_object();
			set_text(o, "applicationId", s, 1);
			set_text(o, "applicationName", s, 0);
			set_new(o, "createTime", col_time(s, 3));
			json_object_set_new(o, "linkedToGitHub", json_boolean(store_col_text(s, 4) != NULL));
			set_text(o, "gitHubAccountName", s, 4);
			set_text(o, "computePlatform", s, 2);
			*ret_info = o;
		} else {
			r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
		}
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}

int store_app_list(struct store *st, const char *after, size_t limit, json_t **ret_names, bool *ret_more)
{
	CONN();
	r = store_prep(c, "SELECT name FROM applications WHERE ?1 IS NULL OR name > ?1 ORDER BY name", &s);
	if (r == 0) {
		store_bind_text(s, 1, after);
		r = collect_strings(s, limit, ret_names, ret_more);
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}

static int move_tags(struct store_conn *c, const char *old_arn, const char *new_arn, const char *old_prefix,
		     const char *new_prefix)
{
	sqlite3_stmt *s;
	int r = 0;

	if (old_arn) {
		r = store_prep(c, "UPDATE resource_tags SET arn = ?2 WHERE arn = ?1", &s);
		if (r < 0)
			return r;
		store_bind_text(s, 1, old_arn);
		store_bind_text(s, 2, new_arn);
		r = step_done(s);
		sqlite3_reset(s);
		if (r < 0)
			return r;
	}
	if (old_prefix) {
		r = store_prep(c,
			       "UPDATE resource_tags SET arn = ?2 || substr(arn, length(?1) + 1) "
			       "WHERE substr(arn, 1, length(?1)) = ?1",
			       &s);
		if (r < 0)
			return r;
		store_bind_text(s, 1, old_prefix);
		store_bind_text(s, 2, new_prefix);
		r = step_done(s);
		sqlite3_reset(s);
	}
	return r;
}

static int delete_tags(struct store_conn *c, const char *arn, const char *prefix)
{
	sqlite3_stmt *s;
	int r = store_prep(
	    c, "DELETE FROM resource_tags WHERE arn = ?1 OR (?2 IS NOT NULL AND substr(arn, 1, length(?2)) = ?2)", &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, arn);
	store_bind_text(s, 2, prefix);
	r = step_done(s);
	sqlite3_reset(s);
	return r;
}

int store_app_rename(struct store *st, const char *name, const char *new_name, const char *old_arn, const char *new_arn,
		     const char *old_group_arn_prefix, const char *new_group_arn_prefix)
{
	CONN();
	r = store_tx_begin(c);
	if (r < 0)
		goto out;
	r = store_prep(c, "UPDATE applications SET name = ?2 WHERE name = ?1", &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, name);
	store_bind_text(s, 2, new_name);
	r = step_done(s);
	sqlite3_reset(s);
	if (r == 0 && sqlite3_changes(c->db) == 0)
		r = -ENOENT;
	if (r == 0)
		r = move_tags(c, old_arn, new_arn, old_group_arn_prefix, new_group_arn_prefix);
	if (r == 0)
		r = store_tx_commit(c);
out:
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_app_delete(struct store *st, const char *name, const char *arn, const char *group_arn_prefix)
{
	CONN();
	r = store_tx_begin(c);
	if (r < 0)
		goto out;
	r = store_prep(c, "DELETE FROM applications WHERE name = ?", &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, name);
	r = step_done(s);
	sqlite3_reset(s);
	if (r == 0 && sqlite3_changes(c->db) == 0)
		r = -ENOENT;
	if (r == 0)
		r = delete_tags(c, arn, group_arn_prefix);
	if (r == 0)
		r = store_tx_commit(c);
out:
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

/* ------------------------------------------------------------ deployment configs */

int store_config_create(struct store *st, const char *name, const char *platform, json_t *doc, char ret_id[37])
{
	char id[37];
	CONN();

	new_id(id);
	r = store_prep(c,
		       "INSERT INTO deployment_configs (name, id, compute_platform, builtin, create_time, doc) "
		       "VALUES (?, ?, ?, 0, ?, ?)",
		       &s);
	if (r == 0) {
		store_bind_text(s, 1, name);
		store_bind_text(s, 2, id);
		store_bind_text(s, 3, platform);
		sqlite3_bind_int64(s, 4, rd_wall_ms());
		store_bind_json(s, 5, doc);
		r = step_done(s);
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	if (r == 0)
		memcpy(ret_id, id, 37);
	return r;
}

int store_config_get(struct store *st, const char *name, json_t **ret_info)
{
	CONN();
	r = store_prep(c, "SELECT name, id, compute_platform, create_time, doc FROM deployment_configs WHERE name = ?",
		       &s);
	if (r == 0) {
		store_bind_text(s, 1, name);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			json_t *o = json_object();
			set_text(o, "deploymentConfigId", s, 1);
			set_text(o, "deploymentConfigName", s, 0);
			json_t *doc = store_col_json(s, 4);
			if (json_is_object(doc))
				json_object_update(o, doc);
			json_decref(doc);
			set_new(o, "createTime", col_time(s, 3));
			set_text(o, "computePlatform", s, 2);
			*ret_info = o;
		} else {
			r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
		}
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}

int store_config_list(struct store *st, const char *after, size_t limit, json_t **ret_names, bool *ret_more)
{
	CONN();
	r = store_prep(c, "SELECT name FROM deployment_configs WHERE ?1 IS NULL OR name > ?1 ORDER BY name", &s);
	if (r == 0) {
		store_bind_text(s, 1, after);
		r = collect_strings(s, limit, ret_names, ret_more);
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}

int store_config_delete(struct store *st, const char *name)
{
	CONN();
	r = store_tx_begin(c);
	if (r < 0)
		goto out;
	r = store_prep(c,
		       "SELECT builtin, (SELECT COUNT(*) FROM deployment_groups g WHERE g.deployment_config = ?1) "
		       "FROM deployment_configs WHERE name = ?1",
		       &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, name);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r = sqlite3_column_int(s, 0) ? -EPERM : sqlite3_column_int(s, 1) ? -EBUSY : 0;
	else
		r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
	sqlite3_reset(s);
	if (r < 0)
		goto out;
	r = store_prep(c, "DELETE FROM deployment_configs WHERE name = ?", &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, name);
	r = step_done(s);
	sqlite3_reset(s);
	if (r == 0)
		r = store_tx_commit(c);
out:
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

/* ------------------------------------------------------------ deployment groups */

int store_group_create(struct store *st, const char *app, const char *name, const char *config, json_t *doc,
		       char ret_id[37])
{
	char id[37];
	CONN();

	new_id(id);
	r = store_prep(c,
		       "INSERT INTO deployment_groups (application, name, id, deployment_config, create_time, doc) "
		       "VALUES (?, ?, ?, ?, ?, ?)",
		       &s);
	if (r == 0) {
		store_bind_text(s, 1, app);
		store_bind_text(s, 2, name);
		store_bind_text(s, 3, id);
		store_bind_text(s, 4, config);
		sqlite3_bind_int64(s, 5, rd_wall_ms());
		store_bind_json(s, 6, doc);
		int rc = sqlite3_step(s);
		/* a foreign-key failure means the application is gone */
		r = rc == SQLITE_DONE ? 0 : rc == SQLITE_CONSTRAINT_FOREIGNKEY ? -ENOENT : store_errno(rc);
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	if (r == 0)
		memcpy(ret_id, id, 37);
	return r;
}

static json_t *last_deployment(struct store_conn *c, const char *app, const char *group, bool succeeded,
			       json_t **ret_revision)
{
	sqlite3_stmt *s;
	json_t *o = NULL;

	if (store_prep(c,
		       "SELECT id, status, complete_time, create_time, revision FROM deployments "
		       "WHERE application = ?1 AND deployment_group = ?2 AND (?3 = 0 OR status = 'Succeeded') "
		       "ORDER BY seq DESC LIMIT 1",
		       &s) < 0)
		return NULL;
	store_bind_text(s, 1, app);
	store_bind_text(s, 2, group);
	sqlite3_bind_int(s, 3, succeeded);
	if (sqlite3_step(s) == SQLITE_ROW) {
		o = json_object();
		set_text(o, "deploymentId", s, 0);
		set_text(o, "status", s, 1);
		set_new(o, "endTime", col_time(s, 2));
		set_new(o, "createTime", col_time(s, 3));
		if (ret_revision)
			*ret_revision = store_col_json(s, 4);
	}
	sqlite3_reset(s);
	return o;
}

int store_group_get(struct store *st, const char *app, const char *name, json_t **ret_info)
{
	CONN();
	r = store_prep(c,
		       "SELECT g.application, g.id, g.name, g.deployment_config, g.doc, a.compute_platform "
		       "FROM deployment_groups g JOIN applications a ON a.name = g.application "
		       "WHERE g.application = ? AND g.name = ?",
		       &s);
	if (r == 0) {
		store_bind_text(s, 1, app);
		store_bind_text(s, 2, name);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			json_t *o = json_object(), *rev = NULL;
			set_text(o, "applicationName", s, 0);
			set_text(o, "deploymentGroupId", s, 1);
			set_text(o, "deploymentGroupName", s, 2);
			set_text(o, "deploymentConfigName", s, 3);
			json_t *doc = store_col_json(s, 4);
			if (json_is_object(doc))
				json_object_update(o, doc);
			json_decref(doc);
			set_text(o, "computePlatform", s, 5);
			sqlite3_reset(s);
			set_new(o, "lastAttemptedDeployment", last_deployment(c, app, name, false, &rev));
			set_new(o, "lastSuccessfulDeployment", last_deployment(c, app, name, true, NULL));
			if (json_is_object(rev))
				json_object_set(o, "targetRevision", rev);
			json_decref(rev);
			*ret_info = o;
		} else {
			r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
			sqlite3_reset(s);
		}
	}
	store_conn_put(st, c);
	return r;
}

int store_group_list(struct store *st, const char *app, const char *after, size_t limit, json_t **ret_names,
		     bool *ret_more)
{
	CONN();
	r = store_prep(c,
		       "SELECT name FROM deployment_groups WHERE application = ?1 AND (?2 IS NULL OR name > ?2) "
		       "ORDER BY name",
		       &s);
	if (r == 0) {
		store_bind_text(s, 1, app);
		store_bind_text(s, 2, after);
		r = collect_strings(s, limit, ret_names, ret_more);
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}

int store_group_update(struct store *st, const char *app, const char *name, const char *new_name, const char *config,
		       json_t *doc, const char *old_arn, const char *new_arn)
{
	CONN();
	r = store_tx_begin(c);
	if (r < 0)
		goto out;
	r = store_prep(c,
		       "UPDATE deployment_groups SET name = ?3, deployment_config = ?4, doc = ?5 "
		       "WHERE application = ?1 AND name = ?2",
		       &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, app);
	store_bind_text(s, 2, name);
	store_bind_text(s, 3, new_name);
	store_bind_text(s, 4, config);
	store_bind_json(s, 5, doc);
	r = step_done(s);
	sqlite3_reset(s);
	if (r == 0 && sqlite3_changes(c->db) == 0)
		r = -ENOENT;
	if (r == 0 && strcmp(name, new_name) != 0) {
		r = store_prep(
		    c, "UPDATE deployments SET deployment_group = ?3 WHERE application = ?1 AND deployment_group = ?2",
		    &s);
		if (r == 0) {
			store_bind_text(s, 1, app);
			store_bind_text(s, 2, name);
			store_bind_text(s, 3, new_name);
			r = step_done(s);
			sqlite3_reset(s);
		}
		if (r == 0)
			r = move_tags(c, old_arn, new_arn, NULL, NULL);
	}
	if (r == 0)
		r = store_tx_commit(c);
out:
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_group_delete(struct store *st, const char *app, const char *name, const char *arn)
{
	CONN();
	r = store_tx_begin(c);
	if (r < 0)
		goto out;
	r = store_prep(c, "DELETE FROM deployment_groups WHERE application = ? AND name = ?", &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, app);
	store_bind_text(s, 2, name);
	r = step_done(s);
	sqlite3_reset(s);
	if (r == 0 && sqlite3_changes(c->db) == 0)
		r = -ENOENT;
	if (r == 0)
		r = delete_tags(c, arn, NULL);
	if (r == 0)
		r = store_tx_commit(c);
out:
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

/* ------------------------------------------------------------ revisions */

static int revision_upsert(struct store_conn *c, const char *app, json_t *rev, const char *description,
			   bool registering, int64_t now)
{
	sqlite3_stmt *s;
	char *key = canonical(rev);
	json_t *s3 = json_object_get(rev, "s3Location");
	int r;

	if (!key)
		return -ENOMEM;
	r = store_prep(
	    c,
	    "INSERT INTO revisions (application, rkey, revision, revision_type, s3_bucket, s3_key, description, "
	    "register_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
	    "ON CONFLICT (application, rkey) DO UPDATE SET "
	    "description = CASE WHEN ?9 THEN excluded.description ELSE description END, "
	    "register_time = CASE WHEN ?9 THEN excluded.register_time ELSE register_time END",
	    &s);
	if (r == 0) {
		store_bind_text(s, 1, app);
		store_bind_text(s, 2, key);
		store_bind_json(s, 3, rev);
		store_bind_text(s, 4, json_string_value(json_object_get(rev, "revisionType")));
		store_bind_text(s, 5, json_string_value(json_object_get(s3, "bucket")));
		store_bind_text(s, 6, json_string_value(json_object_get(s3, "key")));
		store_bind_text(s, 7, description);
		sqlite3_bind_int64(s, 8, now);
		sqlite3_bind_int(s, 9, registering);
		int rc = sqlite3_step(s);
		r = rc == SQLITE_DONE ? 0 : rc == SQLITE_CONSTRAINT_FOREIGNKEY ? -ENOENT : store_errno(rc);
		sqlite3_reset(s);
	}
	free(key);
	return r;
}

int store_revision_register(struct store *st, const char *app, json_t *revision, const char *description)
{
	CONN();
	r = revision_upsert(c, app, revision, description, true, rd_wall_ms());
	store_conn_put(st, c);
	return r;
}

int store_revision_get(struct store *st, const char *app, json_t *revision, json_t **ret_info)
{
	char *key = canonical(revision);
	if (!key)
		return -ENOMEM;
	CONN();
	r = store_prep(c,
		       "SELECT description, deployment_groups, first_used_time, last_used_time, register_time "
		       "FROM revisions WHERE application = ? AND rkey = ?",
		       &s);
	if (r == 0) {
		store_bind_text(s, 1, app);
		store_bind_text(s, 2, key);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			json_t *o = json_object();
			set_text(o, "description", s, 0);
			set_new(o, "deploymentGroups", store_col_json(s, 1));
			set_new(o, "firstUsedTime", col_time(s, 2));
			set_new(o, "lastUsedTime", col_time(s, 3));
			set_new(o, "registerTime", col_time(s, 4));
			*ret_info = o;
		} else {
			r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
		}
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	free(key);
	return r;
}

int store_revision_list(struct store *st, const struct store_revision_query *q, json_t **ret_revisions, bool *ret_more)
{
	CONN();
	r = store_prep(
	    c,
	    "SELECT revision FROM revisions WHERE application = ?1 "
	    "AND (?4 IS NULL OR s3_bucket = ?4) "
	    "AND (?5 IS NULL OR substr(s3_key, 1, length(?5)) = ?5) "
	    "AND (?6 IS NULL OR ?6 = 'ignore' OR (?6 = 'include') = (first_used_time IS NOT NULL)) "
	    "ORDER BY CASE ?2 WHEN 'registerTime' THEN register_time WHEN 'firstUsedTime' THEN first_used_time "
	    "WHEN 'lastUsedTime' THEN last_used_time ELSE seq END * (CASE WHEN ?3 THEN -1 ELSE 1 END), "
	    "seq * (CASE WHEN ?3 THEN -1 ELSE 1 END) LIMIT -1 OFFSET ?7",
	    &s);
	if (r == 0) {
		store_bind_text(s, 1, q->app);
		store_bind_text(s, 2, q->sort_by);
		sqlite3_bind_int(s, 3, q->descending);
		store_bind_text(s, 4, q->s3_bucket);
		store_bind_text(s, 5, q->s3_key_prefix);
		store_bind_text(s, 6, q->deployed);
		sqlite3_bind_int64(s, 7, q->offset);
		json_t *arr = json_array();
		int rc;
		*ret_more = false;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (json_array_size(arr) == q->limit) {
				*ret_more = true;
				break;
			}
			json_t *rev = store_col_json(s, 0);
			if (rev)
				json_array_append_new(arr, rev);
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			json_decref(arr);
			r = store_errno(rc);
		} else {
			*ret_revisions = arr;
		}
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}

/* ------------------------------------------------------------ deployments */

int store_deployment_create(struct store *st, struct store_new_deployment *nd)
{
	int64_t now = rd_wall_ms();
	CONN();

	r = store_tx_begin(c);
	if (r < 0)
		goto out;
	if (nd->group) {
		r = store_prep(
		    c,
		    "SELECT id FROM deployments WHERE application = ? AND deployment_group = ? "
		    "AND status IN ('Created', 'Queued', 'InProgress', 'Baking', 'Ready') ORDER BY seq LIMIT 1",
		    &s);
		if (r < 0)
			goto out;
		store_bind_text(s, 1, nd->app);
		store_bind_text(s, 2, nd->group);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			rd_strlcpy(nd->active_id, store_col_text(s, 0), sizeof(nd->active_id));
			r = -EALREADY;
		} else if (rc != SQLITE_DONE) {
			r = store_errno(rc);
		}
		sqlite3_reset(s);
		if (r < 0)
			goto out;
	}
	r = store_prep(
	    c,
	    "INSERT INTO deployments (id, application, deployment_group, deployment_config, compute_platform, "
	    "status, creator, external_id, create_time, revision, previous_revision, doc) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, 'Created', ?6, ?7, ?8, ?9, "
	    "(SELECT revision FROM deployments WHERE application = ?2 AND deployment_group = ?3 "
	    " AND status = 'Succeeded' ORDER BY seq DESC LIMIT 1), ?10)",
	    &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, nd->id);
	store_bind_text(s, 2, nd->app);
	store_bind_text(s, 3, nd->group);
	store_bind_text(s, 4, nd->config);
	store_bind_text(s, 5, nd->platform);
	store_bind_text(s, 6, nd->creator ? nd->creator : "user");
	store_bind_text(s, 7, nd->external_id);
	sqlite3_bind_int64(s, 8, now);
	store_bind_json(s, 9, nd->revision);
	store_bind_json(s, 10, nd->doc);
	{
		int rc = sqlite3_step(s);
		r = rc == SQLITE_DONE ? 0 : rc == SQLITE_CONSTRAINT_FOREIGNKEY ? -ENOENT : store_errno(rc);
	}
	sqlite3_reset(s);
	if (r < 0)
		goto out;
	if (nd->revision) {
		r = revision_upsert(c, nd->app, nd->revision, NULL, false, now);
		if (r < 0)
			goto out;
		char *key = canonical(nd->revision);
		if (!key) {
			r = -ENOMEM;
			goto out;
		}
		r = store_prep(
		    c,
		    "UPDATE revisions SET first_used_time = COALESCE(first_used_time, ?3), last_used_time = ?3, "
		    "deployment_groups = CASE WHEN ?4 IS NULL OR EXISTS (SELECT 1 FROM json_each(deployment_groups) "
		    "WHERE value = ?4) THEN deployment_groups ELSE json_insert(deployment_groups, '$[#]', ?4) END "
		    "WHERE application = ?1 AND rkey = ?2",
		    &s);
		if (r == 0) {
			store_bind_text(s, 1, nd->app);
			store_bind_text(s, 2, key);
			sqlite3_bind_int64(s, 3, now);
			store_bind_text(s, 4, nd->group);
			r = step_done(s);
			sqlite3_reset(s);
		}
		free(key);
		if (r < 0)
			goto out;
	}
	r = store_tx_commit(c);
out:
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

static json_t *overview_from_targets(struct store_conn *c, const char *id)
{
	sqlite3_stmt *s;
	json_t *o = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "Pending", 0, "InProgress", 0, "Succeeded", 0, "Failed",
			      0, "Skipped", 0, "Ready", 0);

	if (!o ||
	    store_prep(c, "SELECT status, COUNT(*) FROM deployment_targets WHERE deployment_id = ? GROUP BY status",
		       &s) < 0)
		return o;
	store_bind_text(s, 1, id);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *st = store_col_text(s, 0);
		if (st && json_object_get(o, st))
			json_object_set_new(o, st, json_integer(sqlite3_column_int64(s, 1)));
	}
	sqlite3_reset(s);
	return o;
}

int store_deployment_get(struct store *st, const char *id, json_t **ret_info)
{
	CONN();
	r = store_prep(
	    c,
	    "SELECT id, application, deployment_group, deployment_config, compute_platform, status, creator, "
	    "external_id, create_time, start_time, complete_time, revision, previous_revision, error_code, "
	    "error_message, overview, status_messages, rollback_info, doc FROM deployments WHERE id = ?",
	    &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
		sqlite3_reset(s);
		goto out;
	}
	json_t *o = json_object();
	set_text(o, "applicationName", s, 1);
	set_text(o, "deploymentGroupName", s, 2);
	set_text(o, "deploymentConfigName", s, 3);
	set_text(o, "deploymentId", s, 0);
	set_new(o, "previousRevision", store_col_json(s, 12));
	set_new(o, "revision", store_col_json(s, 11));
	set_text(o, "status", s, 5);
	if (store_col_text(s, 13) || store_col_text(s, 14)) {
		json_t *e = json_object();
		set_text(e, "code", s, 13);
		set_text(e, "message", s, 14);
		json_object_set_new(o, "errorInformation", e);
	}
	set_new(o, "createTime", col_time(s, 8));
	set_new(o, "startTime", col_time(s, 9));
	set_new(o, "completeTime", col_time(s, 10));
	json_t *ov = store_col_json(s, 15);
	set_text(o, "creator", s, 6);
	set_new(o, "deploymentStatusMessages", store_col_json(s, 16));
	set_new(o, "rollbackInfo", store_col_json(s, 17));
	set_text(o, "computePlatform", s, 4);
	set_text(o, "externalId", s, 7);
	json_t *doc = store_col_json(s, 18);
	if (json_is_object(doc))
		json_object_update_missing(o, doc);
	json_decref(doc);
	sqlite3_reset(s);
	json_object_set_new(o, "deploymentOverview", json_is_object(ov) ? ov : overview_from_targets(c, id));
	if (!json_is_object(ov))
		json_decref(ov);
	if (!json_object_get(o, "deploymentStatusMessages"))
		json_object_set_new(o, "deploymentStatusMessages", json_array());
	*ret_info = o;
out:
	store_conn_put(st, c);
	return r;
}

int store_deployment_brief(struct store *st, const char *id, char ret_status[16], char ret_platform[16])
{
	CONN();
	r = store_prep(c, "SELECT status, compute_platform FROM deployments WHERE id = ?", &s);
	if (r == 0) {
		store_bind_text(s, 1, id);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			rd_strlcpy(ret_status, store_col_text(s, 0), 16);
			rd_strlcpy(ret_platform, store_col_text(s, 1), 16);
		} else {
			r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
		}
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}

int store_deployment_list(struct store *st, const struct store_deployment_query *q, json_t **ret_ids,
			  int64_t *ret_last_seq, bool *ret_more)
{
	CONN();
	/* With a group, walk the (application, deployment_group, seq) index. */
	if (q->app && q->group)
		r = store_prep(c,
			       "SELECT id, seq FROM deployments WHERE application = ?1 AND deployment_group = ?2 "
			       "AND (?3 IS NULL OR external_id = ?3) "
			       "AND (?4 IS NULL OR status IN (SELECT value FROM json_each(?4))) "
			       "AND (?5 < 0 OR create_time >= ?5) AND (?6 < 0 OR create_time <= ?6) "
			       "AND seq < (CASE WHEN ?7 = 0 THEN 9223372036854775807 ELSE ?7 END) ORDER BY seq DESC",
			       &s);
	else
		r = store_prep(c,
			       "SELECT id, seq FROM deployments WHERE (?1 IS NULL OR application = ?1) "
			       "AND (?2 IS NULL OR deployment_group = ?2) AND (?3 IS NULL OR external_id = ?3) "
			       "AND (?4 IS NULL OR status IN (SELECT value FROM json_each(?4))) "
			       "AND (?5 < 0 OR create_time >= ?5) AND (?6 < 0 OR create_time <= ?6) "
			       "AND seq < (CASE WHEN ?7 = 0 THEN 9223372036854775807 ELSE ?7 END) ORDER BY seq DESC",
			       &s);
	if (r == 0) {
		store_bind_text(s, 1, q->app);
		store_bind_text(s, 2, q->group);
		store_bind_text(s, 3, q->external_id);
		store_bind_json(s, 4, q->statuses);
		sqlite3_bind_int64(s, 5, q->start_ms);
		sqlite3_bind_int64(s, 6, q->end_ms);
		sqlite3_bind_int64(s, 7, q->before_seq);
		json_t *arr = json_array();
		int rc;
		*ret_more = false;
		*ret_last_seq = 0;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (json_array_size(arr) == q->limit) {
				*ret_more = true;
				break;
			}
			json_array_append_new(arr, json_string(store_col_text(s, 0)));
			*ret_last_seq = sqlite3_column_int64(s, 1);
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			json_decref(arr);
			r = store_errno(rc);
		} else {
			*ret_ids = arr;
		}
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}

/* ------------------------------------------------------------ targets */

static json_t *lifecycle_events(struct store_conn *c, const char *dep, const char *target)
{
	sqlite3_stmt *s;
	json_t *arr = json_array();

	if (!arr || store_prep(c,
			       "SELECT name, diagnostics, start_time, end_time, status FROM lifecycle_events "
			       "WHERE deployment_id = ? AND target_id = ? ORDER BY seq",
			       &s) < 0)
		return arr;
	store_bind_text(s, 1, dep);
	store_bind_text(s, 2, target);
	while (sqlite3_step(s) == SQLITE_ROW) {
		json_t *e = json_object();
		set_text(e, "lifecycleEventName", s, 0);
		set_new(e, "diagnostics", store_col_json(s, 1));
		set_new(e, "startTime", col_time(s, 2));
		set_new(e, "endTime", col_time(s, 3));
		set_text(e, "status", s, 4);
		json_array_append_new(arr, e);
	}
	sqlite3_reset(s);
	return arr;
}

/* Reads one target row: inner object + type. */
static int target_row(struct store_conn *c, const char *dep, const char *target, json_t **ret_inner, char ret_type[32])
{
	sqlite3_stmt *s;
	int r = store_prep(c,
			   "SELECT target_type, target_arn, status, instance_label, last_updated, doc "
			   "FROM deployment_targets WHERE deployment_id = ? AND target_id = ?",
			   &s);
	if (r < 0)
		return r;
	store_bind_text(s, 1, dep);
	store_bind_text(s, 2, target);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
	}
	json_t *o = json_object();
	rd_strlcpy(ret_type, store_col_text(s, 0), 32);
	json_object_set_new(o, "deploymentId", json_string(dep));
	json_object_set_new(o, "targetId", json_string(target));
	set_text(o, "targetArn", s, 1);
	set_text(o, "status", s, 2);
	set_new(o, "lastUpdatedAt", col_time(s, 4));
	set_text(o, "instanceLabel", s, 3);
	json_t *doc = store_col_json(s, 5);
	if (json_is_object(doc))
		json_object_update_missing(o, doc);
	json_decref(doc);
	sqlite3_reset(s);
	json_object_set_new(o, "lifecycleEvents", lifecycle_events(c, dep, target));
	*ret_inner = o;
	return 0;
}

int store_target_get(struct store *st, const char *deployment_id, const char *target_id, json_t **ret_target)
{
	json_t *inner = NULL;
	char type[32];
	CONN();

	r = target_row(c, deployment_id, target_id, &inner, type);
	if (r == 0) {
		const char *key = !strcmp(type, "LambdaTarget")		  ? "lambdaTarget"
				  : !strcmp(type, "ECSTarget")		  ? "ecsTarget"
				  : !strcmp(type, "CloudFormationTarget") ? "cloudFormationTarget"
									  : "instanceTarget";
		if (strcmp(key, "instanceTarget") != 0)
			json_object_del(inner, "instanceLabel");
		*ret_target = json_pack("{s:s, s:o}", "deploymentTargetType", type, key, inner);
	}
	store_conn_put(st, c);
	return r;
}

int store_instance_summary_get(struct store *st, const char *deployment_id, const char *target_id, json_t **ret)
{
	json_t *inner = NULL;
	char type[32];
	CONN();

	r = target_row(c, deployment_id, target_id, &inner, type);
	if (r == 0) {
		json_t *o = json_object();
		json_object_set_new(o, "deploymentId", json_string(deployment_id));
		json_object_set_new(o, "instanceId", json_string(target_id));
		json_object_set(o, "status", json_object_get(inner, "status"));
		json_object_set(o, "lastUpdatedAt", json_object_get(inner, "lastUpdatedAt"));
		json_object_set(o, "lifecycleEvents", json_object_get(inner, "lifecycleEvents"));
		if (json_object_get(inner, "instanceLabel"))
			json_object_set(o, "instanceType", json_object_get(inner, "instanceLabel"));
		json_decref(inner);
		*ret = o;
	}
	store_conn_put(st, c);
	return r;
}

int store_target_list(struct store *st, const char *deployment_id, json_t *statuses, json_t *labels, const char *after,
		      size_t limit, json_t **ret_ids, bool *ret_more)
{
	CONN();
	r = store_prep(c,
		       "SELECT target_id FROM deployment_targets WHERE deployment_id = ?1 "
		       "AND (?2 IS NULL OR status IN (SELECT value FROM json_each(?2))) "
		       "AND (?3 IS NULL OR instance_label IN (SELECT value FROM json_each(?3))) "
		       "AND (?4 IS NULL OR target_id > ?4) ORDER BY target_id",
		       &s);
	if (r == 0) {
		store_bind_text(s, 1, deployment_id);
		store_bind_json(s, 2, statuses);
		store_bind_json(s, 3, labels);
		store_bind_text(s, 4, after);
		r = collect_strings(s, limit, ret_ids, ret_more);
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}

/* ------------------------------------------------------------ on-prem instances */

int store_instance_register(struct store *st, const char *name, const char *session_arn, const char *user_arn,
			    const char *instance_arn)
{
	CONN();
	r = store_tx_begin(c);
	if (r < 0)
		goto out;
	r = store_prep(c,
		       "SELECT (SELECT COUNT(*) FROM instances WHERE name = ?1 AND status = 'Registered'), "
		       "(SELECT COUNT(*) FROM instances WHERE status = 'Registered' AND name <> ?1 AND "
		       " ((?2 IS NOT NULL AND iam_session_arn = ?2) OR (?3 IS NOT NULL AND iam_user_arn = ?3)))",
		       &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, name);
	store_bind_text(s, 2, session_arn);
	store_bind_text(s, 3, user_arn);
	if (sqlite3_step(s) == SQLITE_ROW)
		r = sqlite3_column_int(s, 0) ? -EEXIST : sqlite3_column_int(s, 1) ? -EADDRINUSE : 0;
	else
		r = -EIO;
	sqlite3_reset(s);
	if (r < 0)
		goto out;
	/* a deregistered name may be registered again: start afresh */
	r = store_prep(c, "DELETE FROM instances WHERE name = ?", &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, name);
	r = step_done(s);
	sqlite3_reset(s);
	if (r < 0)
		goto out;
	r = store_prep(
	    c,
	    "INSERT INTO instances (name, iam_session_arn, iam_user_arn, instance_arn, status, register_time) "
	    "VALUES (?, ?, ?, ?, 'Registered', ?)",
	    &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, name);
	store_bind_text(s, 2, session_arn);
	store_bind_text(s, 3, user_arn);
	store_bind_text(s, 4, instance_arn);
	sqlite3_bind_int64(s, 5, rd_wall_ms());
	r = step_done(s);
	sqlite3_reset(s);
	if (r == 0)
		r = store_tx_commit(c);
out:
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_instance_deregister(struct store *st, const char *name)
{
	CONN();
	r = store_prep(c,
		       "UPDATE instances SET status = 'Deregistered', deregister_time = ? WHERE name = ? AND status = "
		       "'Registered'",
		       &s);
	if (r == 0) {
		sqlite3_bind_int64(s, 1, rd_wall_ms());
		store_bind_text(s, 2, name);
		r = step_done(s);
		sqlite3_reset(s);
		if (r == 0 && sqlite3_changes(c->db) == 0)
			r = -ENOENT;
	}
	store_conn_put(st, c);
	return r;
}

static json_t *instance_tags(struct store_conn *c, const char *name)
{
	sqlite3_stmt *s;
	json_t *arr = json_array();

	if (!arr || store_prep(c, "SELECT key, value FROM instance_tags WHERE instance = ? ORDER BY key", &s) < 0)
		return arr;
	store_bind_text(s, 1, name);
	while (sqlite3_step(s) == SQLITE_ROW)
		json_array_append_new(
		    arr, json_pack("{s:s, s:s}", "Key", store_col_text(s, 0), "Value", store_col_text(s, 1)));
	sqlite3_reset(s);
	return arr;
}

static json_t *instance_row(struct store_conn *c, sqlite3_stmt *s)
{
	json_t *o = json_object();
	set_text(o, "instanceName", s, 0);
	set_text(o, "iamSessionArn", s, 1);
	set_text(o, "iamUserArn", s, 2);
	set_text(o, "instanceArn", s, 3);
	set_new(o, "registerTime", col_time(s, 4));
	set_new(o, "deregisterTime", col_time(s, 5));
	return o;
}

int store_instance_get(struct store *st, const char *name, json_t **ret_info)
{
	CONN();
	r = store_prep(c,
		       "SELECT name, iam_session_arn, iam_user_arn, instance_arn, register_time, deregister_time "
		       "FROM instances WHERE name = ?",
		       &s);
	if (r == 0) {
		store_bind_text(s, 1, name);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			json_t *o = instance_row(c, s);
			sqlite3_reset(s);
			json_object_set_new(o, "tags", instance_tags(c, name));
			*ret_info = o;
		} else {
			r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
			sqlite3_reset(s);
		}
	}
	store_conn_put(st, c);
	return r;
}

int store_instance_all(struct store *st, json_t **ret_infos)
{
	json_t *arr = json_array();
	CONN();

	r = store_prep(c,
		       "SELECT name, iam_session_arn, iam_user_arn, instance_arn, register_time, deregister_time "
		       "FROM instances WHERE status = 'Registered' ORDER BY name",
		       &s);
	if (r == 0) {
		while (sqlite3_step(s) == SQLITE_ROW)
			json_array_append_new(arr, instance_row(c, s));
		sqlite3_reset(s);
		size_t i;
		json_t *o;
		json_array_foreach(arr, i, o)
		{
			json_object_set_new(o, "tags",
					    instance_tags(c, json_string_value(json_object_get(o, "instanceName"))));
		}
	}
	store_conn_put(st, c);
	if (r == 0)
		*ret_infos = arr;
	else
		json_decref(arr);
	return r;
}

int store_instance_list(struct store *st, const char *registration_status, json_t *tag_filters, const char *after,
			size_t limit, json_t **ret_names, bool *ret_more)
{
	CONN();
	r = store_prep(
	    c,
	    "SELECT i.name FROM instances i WHERE (?1 IS NULL OR i.status = ?1) "
	    "AND (?3 IS NULL OR i.name > ?3) "
	    "AND (?2 IS NULL OR json_array_length(?2) = 0 OR EXISTS (SELECT 1 FROM instance_tags t, json_each(?2) f "
	    " WHERE t.instance = i.name AND CASE COALESCE(json_extract(f.value, '$.Type'), 'KEY_AND_VALUE') "
	    "  WHEN 'KEY_ONLY' THEN t.key = json_extract(f.value, '$.Key') "
	    "  WHEN 'VALUE_ONLY' THEN t.value = json_extract(f.value, '$.Value') "
	    "  ELSE t.key = json_extract(f.value, '$.Key') AND t.value = COALESCE(json_extract(f.value, '$.Value'), "
	    "'') END)) "
	    "ORDER BY i.name",
	    &s);
	if (r == 0) {
		store_bind_text(s, 1, registration_status);
		store_bind_json(s, 2, tag_filters);
		store_bind_text(s, 3, after);
		r = collect_strings(s, limit, ret_names, ret_more);
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}

static int instance_tags_change(struct store *st, json_t *names, json_t *tags, bool add, const char **ret_missing)
{
	size_t i, j;
	json_t *n, *t;
	CONN();

	r = store_tx_begin(c);
	if (r < 0)
		goto out;
	json_array_foreach(names, i, n)
	{
		r = store_prep(c, "SELECT 1 FROM instances WHERE name = ? AND status = 'Registered'", &s);
		if (r < 0)
			goto out;
		store_bind_text(s, 1, json_string_value(n));
		int rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_ROW) {
			*ret_missing = json_string_value(n);
			r = -ENOENT;
			goto out;
		}
		json_array_foreach(tags, j, t)
		{
			const char *k = json_string_value(json_object_get(t, "Key"));
			const char *v = json_string_value(json_object_get(t, "Value"));
			if (!k)
				continue;
			if (add)
				r = store_prep(c,
					       "INSERT INTO instance_tags (instance, key, value) VALUES (?1, ?2, "
					       "COALESCE(?3, '')) "
					       "ON CONFLICT (instance, key) DO UPDATE SET value = excluded.value",
					       &s);
			else
				r = store_prep(c,
					       "DELETE FROM instance_tags WHERE instance = ?1 AND key = ?2 "
					       "AND (?3 IS NULL OR value = ?3)",
					       &s);
			if (r < 0)
				goto out;
			store_bind_text(s, 1, json_string_value(n));
			store_bind_text(s, 2, k);
			store_bind_text(s, 3, v);
			r = step_done(s);
			sqlite3_reset(s);
			if (r < 0)
				goto out;
		}
	}
	r = store_tx_commit(c);
out:
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_instance_tags_add(struct store *st, json_t *names, json_t *tags, const char **ret_missing)
{
	return instance_tags_change(st, names, tags, true, ret_missing);
}

int store_instance_tags_remove(struct store *st, json_t *names, json_t *tags, const char **ret_missing)
{
	return instance_tags_change(st, names, tags, false, ret_missing);
}

/* ------------------------------------------------------------ resource tags */

int store_tags_set(struct store *st, const char *arn, json_t *tags)
{
	size_t i;
	json_t *t;
	CONN();

	r = store_tx_begin(c);
	if (r < 0)
		goto out;
	json_array_foreach(tags, i, t)
	{
		const char *k = json_string_value(json_object_get(t, "Key"));
		if (!k)
			continue;
		r = store_prep(c,
			       "INSERT INTO resource_tags (arn, key, value) VALUES (?1, ?2, COALESCE(?3, '')) "
			       "ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
			       &s);
		if (r < 0)
			goto out;
		store_bind_text(s, 1, arn);
		store_bind_text(s, 2, k);
		store_bind_text(s, 3, json_string_value(json_object_get(t, "Value")));
		r = step_done(s);
		sqlite3_reset(s);
		if (r < 0)
			goto out;
	}
	r = store_tx_commit(c);
out:
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_tags_remove(struct store *st, const char *arn, json_t *keys)
{
	CONN();
	r = store_prep(c, "DELETE FROM resource_tags WHERE arn = ?1 AND key IN (SELECT value FROM json_each(?2))", &s);
	if (r == 0) {
		store_bind_text(s, 1, arn);
		store_bind_json(s, 2, keys);
		r = step_done(s);
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}

int store_tags_list(struct store *st, const char *arn, json_t **ret_tags)
{
	json_t *arr = json_array();
	CONN();

	r = store_prep(c, "SELECT key, value FROM resource_tags WHERE arn = ? ORDER BY key", &s);
	if (r == 0) {
		store_bind_text(s, 1, arn);
		while (sqlite3_step(s) == SQLITE_ROW)
			json_array_append_new(
			    arr, json_pack("{s:s, s:s}", "Key", store_col_text(s, 0), "Value", store_col_text(s, 1)));
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	if (r == 0)
		*ret_tags = arr;
	else
		json_decref(arr);
	return r;
}

/* ------------------------------------------------------------ hook logs */

int store_hook_logs_read(struct store *st, const char *deployment_id, const char *target_id, int64_t after,
			 size_t limit, json_t **ret_items, int64_t *ret_cursor)
{
	json_t *arr = json_array();
	int64_t cursor = after;
	CONN();

	r = store_prep(
	    c,
	    "SELECT rowid, target_id, lifecycle_event, seq, time, chunk FROM hook_logs "
	    "WHERE deployment_id = ?1 AND (?2 IS NULL OR target_id = ?2) AND rowid > ?3 ORDER BY rowid LIMIT ?4",
	    &s);
	if (r == 0) {
		int rc;
		store_bind_text(s, 1, deployment_id);
		store_bind_text(s, 2, target_id);
		sqlite3_bind_int64(s, 3, after);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)limit);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			json_t *o = json_object();
			cursor = sqlite3_column_int64(s, 0);
			set_text(o, "InstanceId", s, 1);
			set_text(o, "LifecycleEventName", s, 2);
			json_object_set_new(o, "Sequence", json_integer(sqlite3_column_int64(s, 3)));
			set_new(o, "Time", col_time(s, 4));
			set_text(o, "Data", s, 5);
			json_array_append_new(arr, o);
		}
		if (rc != SQLITE_DONE)
			r = store_errno(rc);
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	if (r == 0) {
		*ret_items = arr;
		*ret_cursor = cursor;
	} else {
		json_decref(arr);
	}
	return r;
}

int store_group_exists(struct store *st, const char *app, const char *name)
{
	CONN();
	r = store_prep(c, "SELECT 1 FROM deployment_groups WHERE application = ? AND name = ?", &s);
	if (r == 0) {
		store_bind_text(s, 1, app);
		store_bind_text(s, 2, name);
		int rc = sqlite3_step(s);
		r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}
