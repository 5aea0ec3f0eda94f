/* Deployment configs (table deployment_configs, with the built-ins of
 * migration 2) and deployment groups (table deployment_groups): for the
 * control API and for the engine. A group's last deployments are read from
 * its deployments (store_deployment.c). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util.h"
#include "uuid.h"

/* ---- deployment configs ---- */

struct store_config *store_config_free(struct store_config *cf)
{
	if (!cf)
		return NULL;
	free(cf->name);
	free(cf->id);
	free(cf->compute_platform);
	json_decref(cf->doc);
	free(cf);
	return NULL;
}

int store_config_create(struct store *st, const char *name, const char *platform, json_t *doc, char ret_id[37])
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
	r = store_run(c,
		      "INSERT INTO deployment_configs (name, id, compute_platform, builtin, create_time, doc) "
		      "VALUES (?1, ?2, ?3, 0, ?4, ?5)",
		      SQL_TEXT(name), SQL_TEXT(id), SQL_TEXT(platform), SQL_INT(rd_wall_ms()), SQL_JSON(doc));
	store_conn_put(st, c);
	if (r == 0)
		memcpy(ret_id, id, 37);
	return r;
}

int store_config_get(struct store *st, const char *name, struct store_config **ret)
{
	struct store_config *cf = calloc(1, sizeof(*cf));
	struct store_conn *c = NULL;
	struct store_q q;
	int r = cf ? store_conn_get(st, &c) : -ENOMEM;

	if (r < 0)
		goto out;
	r = store_one(
	    c, &q,
	    "SELECT name, id, compute_platform, builtin, create_time, doc FROM deployment_configs WHERE name = ?1",
	    SQL_TEXT(name));
	if (r < 0)
		goto out;
	cf->builtin = store_int(&q, 3) != 0;
	cf->create_time = store_int(&q, 4);
	cf->doc = store_json(&q, 5);
	if (store_dup(&q, 0, &cf->name) < 0 || store_dup(&q, 1, &cf->id) < 0 ||
	    store_dup(&q, 2, &cf->compute_platform) < 0)
		r = -ENOMEM;
	store_done(&q, 0);
out:
	store_conn_put(st, c);
	if (r < 0) {
		store_config_free(cf);
		return r;
	}
	*ret = cf;
	return 0;
}

int store_config_list(struct store *st, const char *after, size_t limit, json_t **ret_names, bool *ret_more)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_query(c, &q, "SELECT name FROM deployment_configs WHERE ?1 IS NULL OR name > ?1 ORDER BY name",
			SQL_TEXT(after));
	r = store_collect_names(&q, r, limit, ret_names, ret_more);
	store_conn_put(st, c);
	return r;
}

int store_config_delete(struct store *st, const char *name)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	if (r == 0)
		r = store_one(
		    c, &q,
		    "SELECT builtin, (SELECT COUNT(*) FROM deployment_groups g WHERE g.deployment_config = ?1) "
		    "FROM deployment_configs WHERE name = ?1",
		    SQL_TEXT(name));
	if (r == 0) {
		r = store_int(&q, 0) ? -EPERM : store_int(&q, 1) ? -EBUSY : 0;
		store_done(&q, 0);
	}
	if (r == 0)
		r = store_run(c, "DELETE FROM deployment_configs WHERE name = ?1", SQL_TEXT(name));
	if (r == 0)
		r = store_tx_commit(c);
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_eng_config(struct store_tx *tx, const char *name, json_t **ret)
{
	struct store_q q;
	json_t *doc;
	int r = store_one(tx->c, &q, "SELECT doc FROM deployment_configs WHERE name = ?1", SQL_TEXT(name));

	if (r < 0)
		return r;
	doc = store_json(&q, 0);
	store_done(&q, 0);
	if (!doc)
		return -EIO;
	*ret = doc;
	return 0;
}

/* ---- deployment groups ---- */

struct store_group *store_group_free(struct store_group *g)
{
	if (!g)
		return NULL;
	free(g->app);
	free(g->name);
	free(g->id);
	free(g->config);
	free(g->compute_platform);
	json_decref(g->doc);
	json_decref(g->last_attempted.revision);
	json_decref(g->last_successful.revision);
	free(g);
	return NULL;
}

int store_group_create(struct store *st, const char *app, const char *name, const char *config, json_t *doc,
		       char ret_id[37])
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
	/* a foreign-key failure (-ENOENT) means the application is gone */
	r = store_run(c,
		      "INSERT INTO deployment_groups (application, name, id, deployment_config, create_time, doc) "
		      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		      SQL_TEXT(app), SQL_TEXT(name), SQL_TEXT(id), SQL_TEXT(config), SQL_INT(rd_wall_ms()),
		      SQL_JSON(doc));
	store_conn_put(st, c);
	if (r == 0)
		memcpy(ret_id, id, 37);
	return r;
}

int store_group_get(struct store *st, const char *app, const char *name, struct store_group **ret)
{
	struct store_group *g = calloc(1, sizeof(*g));
	struct store_conn *c = NULL;
	struct store_q q;
	int r = g ? store_conn_get(st, &c) : -ENOMEM;

	if (r < 0)
		goto out;
	r = store_one(c, &q,
		      "SELECT g.application, g.name, g.id, g.deployment_config, a.compute_platform, g.doc "
		      "FROM deployment_groups g JOIN applications a ON a.name = g.application "
		      "WHERE g.application = ?1 AND g.name = ?2",
		      SQL_TEXT(app), SQL_TEXT(name));
	if (r < 0)
		goto out;
	if (store_dup(&q, 0, &g->app) < 0 || store_dup(&q, 1, &g->name) < 0 || store_dup(&q, 2, &g->id) < 0 ||
	    store_dup(&q, 3, &g->config) < 0 || store_dup(&q, 4, &g->compute_platform) < 0)
		r = -ENOMEM;
	g->doc = store_json(&q, 5);
	store_done(&q, 0);
	if (r == 0) {
		r = store_deployment_last_c(c, app, name, false, &g->last_attempted);
		if (r == -ENOENT)
			r = 0;
	}
	if (r == 0) {
		r = store_deployment_last_c(c, app, name, true, &g->last_successful);
		if (r == -ENOENT)
			r = 0;
	}
out:
	store_conn_put(st, c);
	if (r < 0) {
		store_group_free(g);
		return r;
	}
	*ret = g;
	return 0;
}

int store_group_list(struct store *st, const char *app, const char *after, size_t limit, json_t **ret_names,
		     bool *ret_more)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_query(c, &q,
			"SELECT name FROM deployment_groups WHERE application = ?1 AND (?2 IS NULL OR name > ?2) "
			"ORDER BY name",
			SQL_TEXT(app), SQL_TEXT(after));
	r = store_collect_names(&q, r, limit, ret_names, ret_more);
	store_conn_put(st, c);
	return r;
}

int store_group_exists(struct store *st, const char *app, const char *name)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_one(c, &q, "SELECT 1 FROM deployment_groups WHERE application = ?1 AND name = ?2", SQL_TEXT(app),
		      SQL_TEXT(name));
	if (r == 0)
		store_done(&q, 0);
	store_conn_put(st, c);
	return r;
}

int store_group_update(struct store *st, const char *app, const char *name, const char *new_name, const char *config,
		       json_t *doc, const char *old_arn, const char *new_arn)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	if (r == 0)
		r = store_run(c,
			      "UPDATE deployment_groups SET name = ?3, deployment_config = ?4, doc = ?5 "
			      "WHERE application = ?1 AND name = ?2",
			      SQL_TEXT(app), SQL_TEXT(name), SQL_TEXT(new_name), SQL_TEXT(config), SQL_JSON(doc));
	if (r == 0 && store_changes(c) == 0)
		r = -ENOENT;
	if (r == 0 && strcmp(name, new_name) != 0) {
		r = store_deployment_rename_group_c(c, app, name, new_name);
		if (r == 0)
			r = store_tags_move_c(c, old_arn, new_arn, NULL, NULL);
	}
	if (r == 0)
		r = store_tx_commit(c);
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_group_delete(struct store *st, const char *app, const char *name, const char *arn)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	if (r == 0)
		r = store_run(c, "DELETE FROM deployment_groups WHERE application = ?1 AND name = ?2", SQL_TEXT(app),
			      SQL_TEXT(name));
	if (r == 0 && store_changes(c) == 0)
		r = -ENOENT;
	if (r == 0)
		r = store_tags_delete_c(c, arn, NULL);
	if (r == 0)
		r = store_tx_commit(c);
	store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

/* ---- the engine's view of groups ---- */

static void set_text(json_t *o, const char *k, struct store_q *q, int i)
{
	const char *t = store_text(q, i);
	json_object_set_new(o, k, t ? json_string(t) : json_null());
}

static void set_json(json_t *o, const char *k, struct store_q *q, int i)
{
	json_t *v = store_json(q, i);
	json_object_set_new(o, k, v ? v : json_null());
}

int store_eng_group(struct store_tx *tx, const char *app, const char *group, json_t **ret)
{
	struct store_q q;
	json_t *doc;
	int r = store_one(tx->c, &q,
			  "SELECT g.id, g.deployment_config, g.doc, g.target_revision, a.compute_platform"
			  " FROM deployment_groups g JOIN applications a ON a.name = g.application"
			  " WHERE g.application = ?1 AND g.name = ?2",
			  SQL_TEXT(app), SQL_TEXT(group));

	if (r < 0)
		return r;
	doc = store_json(&q, 2);
	if (!json_is_object(doc)) {
		json_decref(doc);
		doc = json_object();
	}
	json_object_set_new(doc, "applicationName", json_string(app));
	json_object_set_new(doc, "deploymentGroupName", json_string(group));
	set_text(doc, "deploymentGroupId", &q, 0);
	set_text(doc, "deploymentConfigName", &q, 1);
	set_json(doc, "targetRevision", &q, 3);
	set_text(doc, "computePlatform", &q, 4);
	store_done(&q, 0);
	*ret = doc;
	return 0;
}

int store_eng_group_succeeded(struct store_tx *tx, const char *app, const char *group, const json_t *revision)
{
	return store_run(tx->c,
			 "UPDATE deployment_groups SET target_revision = COALESCE(?3, target_revision)"
			 " WHERE application = ?1 AND name = ?2",
			 SQL_TEXT(app), SQL_TEXT(group), SQL_JSON(revision));
}

int store_eng_server_groups(struct store_tx *tx, json_t **ret)
{
	struct store_q q;
	json_t *a = json_array();
	int r;

	if (!a)
		return -ENOMEM;
	r = store_query(tx->c, &q,
			"SELECT g.application, g.name FROM deployment_groups g"
			" JOIN applications a ON a.name = g.application"
			" WHERE a.compute_platform = 'Server' ORDER BY g.application, g.name");
	while (r == 0 && store_next(&q))
		if (json_array_append_new(
			a, json_pack("{s:s,s:s}", "application", store_text(&q, 0), "name", store_text(&q, 1))) < 0)
			r = -ENOMEM;
	r = store_done(&q, r);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	*ret = a;
	return 0;
}
