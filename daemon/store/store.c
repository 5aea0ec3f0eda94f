#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util.h"

#define ERR(...) (err && errlen ? (void)snprintf(err, errlen, __VA_ARGS__) : (void)0)

int store_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	default:
		return -EIO;
	}
}

static void conn_free(struct store_conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->ncache; i++)
		sqlite3_finalize(c->cache[i].stmt);
	free(c->cache);
	sqlite3_close_v2(c->db);
	free(c);
}

static int conn_open(const char *path, struct store_conn **ret, char *err, size_t errlen)
{
	struct store_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ERR("cannot open %s: %s; check that data_dir exists and is writable", path,
		    c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		conn_free(c);
		return store_errno(rc);
	}
	sqlite3_busy_timeout(c->db, 10000);
	sqlite3_extended_result_codes(c->db, 1);
	rc = sqlite3_exec(c->db,
			  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
			  " PRAGMA temp_store=MEMORY;",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		ERR("cannot set up %s: %s", path, sqlite3_errmsg(c->db));
		conn_free(c);
		return store_errno(rc);
	}
	*ret = c;
	return 0;
}

int store_conn_get(struct store *st, struct store_conn **ret)
{
	struct store_conn *c;

	pthread_mutex_lock(&st->lock);
	c = st->idle;
	if (c)
		st->idle = c->next;
	pthread_mutex_unlock(&st->lock);
	if (!c) {
		int r = conn_open(st->path, &c, NULL, 0);
		if (r < 0)
			return r;
	}
	c->next = NULL;
	*ret = c;
	return 0;
}

void store_conn_put(struct store *st, struct store_conn *c)
{
	if (!c)
		return;
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_lock(&st->lock);
	c->next = st->idle;
	st->idle = c;
	pthread_mutex_unlock(&st->lock);
}

int store_prep(struct store_conn *c, const char *sql, sqlite3_stmt **ret)
{
	sqlite3_stmt *s;
	int rc;

	for (int i = 0; i < c->ncache; i++) {
		if (c->cache[i].sql == sql) {
			s = c->cache[i].stmt;
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			*ret = s;
			return 0;
		}
	}
	if (c->ncache == c->capcache) {
		int cap = c->capcache ? 2 * c->capcache : 64;
		struct store_stmt_entry *n = realloc(c->cache, (size_t)cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->cache = n;
		c->capcache = cap;
	}
	rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc != SQLITE_OK)
		return store_errno(rc);
	c->cache[c->ncache].sql = sql;
	c->cache[c->ncache].stmt = s;
	c->ncache++;
	*ret = s;
	return 0;
}

int store_exec(struct store_conn *c, const char *sql)
{
	return store_errno(sqlite3_exec(c->db, sql, NULL, NULL, NULL));
}

int store_tx_begin(struct store_conn *c)
{
	return store_exec(c, "BEGIN IMMEDIATE");
}

int store_tx_commit(struct store_conn *c)
{
	int r = store_exec(c, "COMMIT");
	if (r < 0)
		store_tx_rollback(c);
	return r;
}

void store_tx_rollback(struct store_conn *c)
{
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return store_errno(v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i));
}

int store_bind_json(sqlite3_stmt *s, int i, const json_t *v)
{
	char *txt;
	int rc;

	if (!v)
		return store_errno(sqlite3_bind_null(s, i));
	txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!txt)
		return -ENOMEM;
	rc = sqlite3_bind_text(s, i, txt, -1, free);
	return store_errno(rc);
}

const char *store_col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

json_t *store_col_json(sqlite3_stmt *s, int i)
{
	const char *t = store_col_text(s, i);
	return t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
}

static int migrate(struct store_conn *c, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int r, current = 0;

	r = store_exec(c, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
			  "name TEXT NOT NULL, applied_time INTEGER NOT NULL)");
	if (r < 0) {
		ERR("cannot create schema_migrations: %s", sqlite3_errmsg(c->db));
		return r;
	}
	r = store_prep(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &s);
	if (r < 0)
		return r;
	if (sqlite3_step(s) == SQLITE_ROW)
		current = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	if (store_n_migrations > 0 && current > store_migrations[store_n_migrations - 1].version) {
		ERR("state.db has schema version %d but this rolloutd knows only up to %d; run a newer rolloutd",
		    current, store_migrations[store_n_migrations - 1].version);
		return -EPROTO;
	}
	for (size_t i = 0; i < store_n_migrations; i++) {
		const struct store_migration *m = &store_migrations[i];
		if (m->version <= current)
			continue;
		r = store_tx_begin(c);
		if (r < 0)
			goto fail;
		r = store_exec(c, m->sql);
		if (r < 0)
			goto fail;
		r = store_prep(c, "INSERT INTO schema_migrations (version, name, applied_time) VALUES (?, ?, ?)", &s);
		if (r < 0)
			goto fail;
		sqlite3_bind_int(s, 1, m->version);
		sqlite3_bind_text(s, 2, m->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, rd_wall_ms());
		r = store_errno(sqlite3_step(s));
		sqlite3_reset(s);
		if (r < 0)
			goto fail;
		r = store_tx_commit(c);
		if (r < 0)
			goto fail;
		continue;
	fail:
		ERR("schema migration %d (%s) failed: %s", m->version, m->name, sqlite3_errmsg(c->db));
		store_tx_rollback(c);
		return r;
	}
	return 0;
}

int store_open(const char *data_dir, struct store **ret, char *err, size_t errlen)
{
	struct store *st = NULL;
	struct store_conn *c = NULL;
	int r, fd;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	pthread_mutex_init(&st->lock, NULL);
	r = rd_mkdir_p(data_dir, 0700);
	if (r < 0) {
		ERR("cannot create data_dir %s: %s", data_dir, strerror(-r));
		goto fail;
	}
	if (asprintf(&st->path, "%s/state.db", data_dir) < 0) {
		st->path = NULL;
		r = -ENOMEM;
		goto fail;
	}
	/* Create the file ourselves so it is 0600 whatever the umask. */
	fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		ERR("cannot create %s: %s; check that data_dir is writable by this user", st->path, strerror(errno));
		goto fail;
	}
	close(fd);
	r = conn_open(st->path, &c, err, errlen);
	if (r < 0)
		goto fail;
	r = migrate(c, err, errlen);
	if (r < 0)
		goto fail;
	store_conn_put(st, c);
	*ret = st;
	return 0;
fail:
	conn_free(c);
	store_close(st);
	return r;
}

struct store *store_close(struct store *st)
{
	if (!st)
		return NULL;
	while (st->idle) {
		struct store_conn *c = st->idle;
		st->idle = c->next;
		conn_free(c);
	}
	pthread_mutex_destroy(&st->lock);
	free(st->path);
	free(st);
	return NULL;
}

int store_schema_version(struct store *st, int *ret_version)
{
	struct store_conn *c;
	sqlite3_stmt *s;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_prep(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &s);
	if (r == 0) {
		if (sqlite3_step(s) == SQLITE_ROW)
			*ret_version = sqlite3_column_int(s, 0);
		else
			r = -EIO;
		sqlite3_reset(s);
	}
	store_conn_put(st, c);
	return r;
}

/* ---- access keys ---- */

bool store_policy_valid(const char *p)
{
	return p && (!strcmp(p, "admin") || !strcmp(p, "deployer") || !strcmp(p, "readonly") || !strcmp(p, "agent"));
}

int store_access_key_create(struct store *st, const char *name, const char *policy, const char *instance,
			    struct store_access_key *ret, char *err, size_t errlen)
{
	struct store_access_key k;
	struct store_conn *c = NULL;
	sqlite3_stmt *s;
	int r;

	if (!name || !*name || strlen(name) >= sizeof(k.name)) {
		ERR("an access key needs a name of 1 to %zu characters", sizeof(k.name) - 1);
		return -EINVAL;
	}
	if (!store_policy_valid(policy)) {
		ERR("unknown policy '%s': use admin, deployer, readonly or agent", policy ? policy : "");
		return -EINVAL;
	}
	if ((strcmp(policy, "agent") == 0) != (instance && *instance)) {
		ERR("%s", !strcmp(policy, "agent")
			      ? "an agent key must be bound to an instance: give its instance name"
			      : "only agent keys are bound to an instance; drop the instance name");
		return -EINVAL;
	}
	if (instance && strlen(instance) >= sizeof(k.instance)) {
		ERR("instance name too long (at most %zu characters)", sizeof(k.instance) - 1);
		return -EINVAL;
	}
	memset(&k, 0, sizeof(k));
	memcpy(k.id, "AKRD", 4);
	r = rd_random_string(k.id + 4, STORE_KEY_ID_LEN - 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
	if (r == 0)
		r = rd_random_string(k.secret, STORE_SECRET_LEN,
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
	if (r < 0)
		return r;
	rd_strlcpy(k.name, name, sizeof(k.name));
	rd_strlcpy(k.policy, policy, sizeof(k.policy));
	rd_strlcpy(k.instance, instance ? instance : "", sizeof(k.instance));
	k.create_time = rd_wall_ms();

	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_prep(
	    c, "INSERT INTO access_keys (id, secret, name, policy, instance, create_time) VALUES (?,?,?,?,?,?)", &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, k.id);
	store_bind_text(s, 2, k.secret);
	store_bind_text(s, 3, k.name);
	store_bind_text(s, 4, k.policy);
	store_bind_text(s, 5, k.instance[0] ? k.instance : NULL);
	sqlite3_bind_int64(s, 6, k.create_time);
	r = store_errno(sqlite3_step(s));
	sqlite3_reset(s);
	if (r < 0)
		ERR("cannot store the access key: %s", sqlite3_errmsg(c->db));
out:
	store_conn_put(st, c);
	if (r == 0)
		*ret = k;
	return r;
}

int store_access_key_get(struct store *st, const char *id, struct store_access_key *ret)
{
	struct store_conn *c;
	sqlite3_stmt *s;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_prep(c, "SELECT id, secret, name, policy, instance, create_time FROM access_keys WHERE id = ?", &s);
	if (r < 0)
		goto out;
	store_bind_text(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		struct store_access_key k;
		memset(&k, 0, sizeof(k));
		rd_strlcpy(k.id, store_col_text(s, 0), sizeof(k.id));
		rd_strlcpy(k.secret, store_col_text(s, 1), sizeof(k.secret));
		rd_strlcpy(k.name, store_col_text(s, 2), sizeof(k.name));
		rd_strlcpy(k.policy, store_col_text(s, 3), sizeof(k.policy));
		if (store_col_text(s, 4))
			rd_strlcpy(k.instance, store_col_text(s, 4), sizeof(k.instance));
		k.create_time = sqlite3_column_int64(s, 5);
		*ret = k;
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
	}
	sqlite3_reset(s);
out:
	store_conn_put(st, c);
	return r;
}

int store_access_key_list(struct store *st, json_t **ret)
{
	struct store_conn *c;
	sqlite3_stmt *s;
	json_t *arr = json_array();
	int r, rc;

	if (!arr)
		return -ENOMEM;
	r = store_conn_get(st, &c);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	r = store_prep(c, "SELECT id, name, policy, instance, create_time FROM access_keys ORDER BY id", &s);
	if (r < 0)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:f}", "AccessKeyId", store_col_text(s, 0), "Name",
				      store_col_text(s, 1), "Policy", store_col_text(s, 2), "CreateTime",
				      (double)sqlite3_column_int64(s, 4) / 1000.0);
		if (o && store_col_text(s, 3))
			json_object_set_new(o, "InstanceName", json_string(store_col_text(s, 3)));
		if (!o || json_array_append_new(arr, o) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_errno(rc);
	sqlite3_reset(s);
out:
	store_conn_put(st, c);
	if (r == 0)
		*ret = arr;
	else
		json_decref(arr);
	return r;
}

int store_access_key_delete(struct store *st, const char *id)
{
	struct store_conn *c;
	sqlite3_stmt *s;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_prep(c, "DELETE FROM access_keys WHERE id = ?", &s);
	if (r == 0) {
		store_bind_text(s, 1, id);
		r = store_errno(sqlite3_step(s));
		sqlite3_reset(s);
		if (r == 0 && sqlite3_changes(c->db) == 0)
			r = -ENOENT;
	}
	store_conn_put(st, c);
	return r;
}
