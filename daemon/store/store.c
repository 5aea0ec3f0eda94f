/* Connections, the statement helper, transactions and the migrations
 * runner (see store_internal.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/metrics.h"
#include "store/store_internal.h"
#include "util.h"

#define ERR(...) ((void)rd_error_set(err, 0, "StoreError", __VA_ARGS__))

int store_errno(int rc)
{
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return -ENOENT;
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
	if (c->pg) {
		store_pg_close(c);
		return;
	}
	for (int i = 0; i < c->ncache; i++)
		sqlite3_finalize(c->cache[i].stmt);
	free(c->cache);
	sqlite3_close_v2(c->db);
	free(c);
}

/* SQLite counts the memory it allocates under one process-wide mutex,
 * which every connection's threads then take at each allocation; nothing
 * here reads the count (sqlite3_memory_used) or sets a heap limit. Only
 * possible before SQLite's first use; later, the call is refused and the
 * count stays. */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void sqlite_setup(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int conn_open(const char *path, struct store_conn **ret, struct rd_error *err)
{
	struct store_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	pthread_once(&sqlite_once, sqlite_setup);
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

/* An idle PostgreSQL connection has nothing to read: when its socket is
 * readable the server ended it (a restart sends "terminating connection"
 * and closes; pg_terminate_backend), which libpq learns only when it is
 * used. One that got anything else (a rare notice) is given up too: a new
 * connection costs a connect. */
static bool pg_idle_broken(struct store_conn *c)
{
	struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};

	if (PQstatus(c->pg) != CONNECTION_OK || p.fd < 0)
		return true;
	return poll(&p, 1, 0) != 0;
}

int store_conn_get(struct store *st, struct store_conn **ret)
{
	struct store_conn *c;

	pthread_mutex_lock(&st->lock);
	c = st->idle;
	if (c)
		st->idle = c->next;
	pthread_mutex_unlock(&st->lock);
	if (c && c->pg && pg_idle_broken(c)) {
		/* the server restarted (or closed it) while it was idle */
		conn_free(c);
		return store_conn_get(st, ret);
	}
	if (!c) {
		int r = st->conninfo ? store_pg_open(st, &c, NULL) : conn_open(st->path, &c, NULL);
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
	if (c->pg) {
		if (PQstatus(c->pg) != CONNECTION_OK) {
			/* the server went away (restarted): the next user connects anew */
			conn_free(c);
			return;
		}
		if (store_pg_in_tx(c))
			store_pg_exec(c, "ROLLBACK");
		goto pool;
	}
	/* A statement left mid-way would keep its read snapshot for the next user. */
	for (sqlite3_stmt *s = sqlite3_next_stmt(c->db, NULL); s; s = sqlite3_next_stmt(c->db, s))
		if (sqlite3_stmt_busy(s))
			sqlite3_reset(s);
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
pool:
	pthread_mutex_lock(&st->lock);
	c->next = st->idle;
	st->idle = c;
	pthread_mutex_unlock(&st->lock);
}

const char *store_errmsg(struct store_conn *c)
{
	if (c->pg)
		return c->pg_error ? c->pg_error : "";
	return sqlite3_errmsg(c->db);
}

bool store_in_tx(struct store_conn *c)
{
	return c->pg ? store_pg_in_tx(c) : !sqlite3_get_autocommit(c->db);
}

int64_t store_total_changes(struct store_conn *c)
{
	return c->pg ? c->pg_total : sqlite3_total_changes64(c->db);
}

int store_exec(struct store_conn *c, const char *sql)
{
	if (c->pg)
		return store_pg_exec(c, sql);
	return store_errno(sqlite3_exec(c->db, sql, NULL, NULL, NULL));
}

int store_tx_begin(struct store_conn *c)
{
	int r = c->pg ? store_pg_begin(c) : store_exec(c, "BEGIN IMMEDIATE");
	if (r == 0) {
		c->tx_begun_ms = rd_mono_ms();
		c->tx_changes0 = store_total_changes(c);
	}
	return r;
}

int store_tx_commit(struct store_conn *c)
{
	int64_t rows = store_total_changes(c) - c->tx_changes0;
	int r = store_exec(c, "COMMIT");
	if (r < 0)
		store_tx_rollback(c);
	else
		metric_store_tx(c->tx_begun_ms, rows);
	return r;
}

void store_tx_rollback(struct store_conn *c)
{
	if (c->pg) {
		if (store_pg_in_tx(c))
			store_pg_exec(c, "ROLLBACK");
		return;
	}
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- the statement helper ---- */

/* The cached statement for a SQL literal, reset and unbound. */
static int prepare(struct store_conn *c, const char *sql, sqlite3_stmt **ret)
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

static int bind(sqlite3_stmt *s, const struct store_arg *args, size_t nargs)
{
	for (size_t i = 0; i < nargs; i++) {
		const struct store_arg *a = &args[i];
		int k = (int)i + 1, rc = SQLITE_OK;
		char *txt;

		switch (a->type) {
		case STORE_ARG_NULL:
			rc = sqlite3_bind_null(s, k);
			break;
		case STORE_ARG_TEXT:
			rc = a->u.text ? sqlite3_bind_text(s, k, a->u.text, -1, SQLITE_TRANSIENT)
				       : sqlite3_bind_null(s, k);
			break;
		case STORE_ARG_INT:
			rc = sqlite3_bind_int64(s, k, a->u.i);
			break;
		case STORE_ARG_JSON:
			if (!a->u.json) {
				rc = sqlite3_bind_null(s, k);
				break;
			}
			txt = json_dumps(a->u.json, JSON_COMPACT | JSON_ENCODE_ANY);
			if (!txt)
				return -ENOMEM;
			rc = sqlite3_bind_text(s, k, txt, -1, free);
			break;
		case STORE_ARG_BLOB:
			rc = sqlite3_bind_blob64(s, k, a->u.blob.p, a->u.blob.len, SQLITE_TRANSIENT);
			break;
		}
		if (rc != SQLITE_OK)
			return store_errno(rc);
	}
	return 0;
}

int store_query_(struct store_conn *c, struct store_q *q, const char *sql, const struct store_arg *args, size_t nargs)
{
	int r;

	q->s = NULL;
	q->res = NULL;
	q->rc = SQLITE_DONE;
	if (c->pg) {
		r = store_pg_query(c, q, sql, args, nargs);
		if (r == 0)
			q->rc = SQLITE_OK;
		return r;
	}
	r = prepare(c, sql, &q->s);
	if (r == 0)
		r = bind(q->s, args, nargs);
	if (r == 0)
		q->rc = SQLITE_OK;
	return r;
}

bool store_next(struct store_q *q)
{
	if (q->res)
		return ++q->row < q->nrows;
	if (!q->s || (q->rc != SQLITE_OK && q->rc != SQLITE_ROW))
		return false;
	q->rc = sqlite3_step(q->s);
	return q->rc == SQLITE_ROW;
}

int store_done(struct store_q *q, int r)
{
	if (q->res) {
		PQclear(q->res);
		q->res = NULL;
	}
	if (q->s) {
		sqlite3_reset(q->s);
		q->s = NULL;
	}
	if (r < 0)
		return r;
	return q->rc == SQLITE_OK || q->rc == SQLITE_ROW || q->rc == SQLITE_DONE ? 0 : store_errno(q->rc);
}

int store_run_(struct store_conn *c, const char *sql, const struct store_arg *args, size_t nargs)
{
	struct store_q q;
	int r = store_query_(c, &q, sql, args, nargs);

	while (r == 0 && store_next(&q))
		;
	return store_done(&q, r);
}

int store_one_(struct store_conn *c, struct store_q *q, const char *sql, const struct store_arg *args, size_t nargs)
{
	int r = store_query_(c, q, sql, args, nargs);

	if (r == 0 && store_next(q))
		return 0;
	r = store_done(q, r);
	return r < 0 ? r : -ENOENT;
}

bool store_isnull(struct store_q *q, int i)
{
	if (q->res)
		return PQgetisnull(q->res, q->row, i);
	return sqlite3_column_type(q->s, i) == SQLITE_NULL;
}

const char *store_text(struct store_q *q, int i)
{
	if (q->res)
		return PQgetisnull(q->res, q->row, i) ? NULL : PQgetvalue(q->res, q->row, i);
	return (const char *)sqlite3_column_text(q->s, i);
}

int64_t store_int(struct store_q *q, int i)
{
	if (q->res) {
		/* booleans come as t / f */
		const char *t = store_text(q, i);
		return !t || *t == 'f' ? 0 : *t == 't' ? 1 : strtoll(t, NULL, 10);
	}
	return sqlite3_column_int64(q->s, i);
}

json_t *store_json(struct store_q *q, int i)
{
	const char *t = store_text(q, i);
	return t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
}

int store_blob(struct store_q *q, int i, unsigned char **ret, size_t *ret_len)
{
	const void *p;
	unsigned char *out;
	size_t n;

	if (store_isnull(q, i))
		return -ENOENT;
	if (q->res) {
		/* results come as text: bytea in its hex form */
		unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(q->res, q->row, i), &n);
		if (!raw)
			return -ENOMEM;
		out = malloc(n ? n : 1);
		if (out)
			memcpy(out, raw, n);
		PQfreemem(raw);
	} else {
		p = sqlite3_column_blob(q->s, i);
		n = (size_t)sqlite3_column_bytes(q->s, i);
		out = malloc(n ? n : 1);
		if (out && n)
			memcpy(out, p, n);
	}
	if (!out)
		return -ENOMEM;
	*ret = out;
	*ret_len = n;
	return 0;
}

int store_dup(struct store_q *q, int i, char **ret)
{
	const char *t = store_text(q, i);

	*ret = NULL;
	if (!t)
		return 0;
	*ret = strdup(t);
	return *ret ? 0 : -ENOMEM;
}

void store_copy(struct store_q *q, int i, char *buf, size_t size)
{
	const char *t = store_text(q, i);
	rd_strlcpy(buf, t ? t : "", size);
}

int store_collect_names(struct store_q *q, int r, size_t limit, json_t **ret_names, bool *ret_more)
{
	json_t *arr = json_array();
	bool more = false;

	if (!arr && r == 0)
		r = -ENOMEM;
	while (r == 0 && store_next(q)) {
		if (json_array_size(arr) == limit) {
			more = true;
			break;
		}
		if (json_array_append_new(arr, json_string(store_text(q, 0))) < 0)
			r = -ENOMEM;
	}
	r = store_done(q, r);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*ret_names = arr;
	*ret_more = more;
	return 0;
}

int64_t store_changes(struct store_conn *c)
{
	return c->pg ? c->pg_changes : sqlite3_changes64(c->db);
}

/* Brings c's database up to date: each pending migration of its backend's
 * list in its own transaction, recorded in schema_migrations. On PostgreSQL
 * under an advisory lock, so that daemons starting together do not race. */
static int migrate(struct store_conn *c, struct rd_error *err)
{
	const struct store_migration *ms = c->pg ? store_migrations_pg : store_migrations;
	size_t n = c->pg ? store_n_migrations_pg : store_n_migrations;
	struct store_q q;
	int r, current = 0;

	if (c->pg && (r = store_pg_migrate_lock(c, true)) < 0) {
		ERR("cannot lock the PostgreSQL store for its migrations: %s", store_errmsg(c));
		return r;
	}
	r = store_exec(c, c->pg ? "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
				  "name TEXT NOT NULL, applied_time BIGINT NOT NULL)"
				: "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
				  "name TEXT NOT NULL, applied_time INTEGER NOT NULL)");
	if (r < 0) {
		ERR("cannot create schema_migrations: %s", store_errmsg(c));
		goto out;
	}
	r = store_one(c, &q, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
	if (r < 0) {
		ERR("cannot read schema_migrations: %s", store_errmsg(c));
		goto out;
	}
	current = (int)store_int(&q, 0);
	store_done(&q, 0);
	if (n > 0 && current > ms[n - 1].version) {
		ERR("%s has schema version %d but this rolloutd knows only up to %d; run a newer rolloutd",
		    c->pg ? "the PostgreSQL store" : "state.db", current, ms[n - 1].version);
		r = -EPROTO;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_migration *m = &ms[i];
		if (m->version <= current)
			continue;
		r = store_tx_begin(c);
		if (r == 0)
			r = store_exec(c, m->sql);
		if (r == 0)
			r = store_run(c,
				      "INSERT INTO schema_migrations (version, name, applied_time) VALUES (?1, ?2, ?3)",
				      SQL_INT(m->version), SQL_TEXT(m->name), SQL_INT(rd_wall_ms()));
		if (r == 0)
			r = store_tx_commit(c);
		if (r < 0) {
			ERR("schema migration %d (%s) failed: %s", m->version, m->name, store_errmsg(c));
			store_tx_rollback(c);
			goto out;
		}
	}
out:
	if (c->pg)
		(void)store_pg_migrate_lock(c, false);
	return r;
}

int store_open(const char *data_dir, struct store **ret, struct rd_error *err)
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
	r = conn_open(st->path, &c, err);
	if (r < 0)
		goto fail;
	r = migrate(c, err);
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

int store_open_pg(const char *conninfo, const char *password, struct store **ret, struct rd_error *err)
{
	struct store *st = calloc(1, sizeof(*st));
	struct store_conn *c = NULL;
	int r = -ENOMEM;

	if (!st)
		return -ENOMEM;
	pthread_mutex_init(&st->lock, NULL);
	st->conninfo = strdup(conninfo);
	st->password = password ? strdup(password) : NULL;
	if (!st->conninfo || (password && !st->password))
		goto fail;
	r = store_pg_open(st, &c, err);
	if (r < 0)
		goto fail;
	r = migrate(c, err);
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

bool store_is_postgresql(const struct store *st)
{
	return st->conninfo != NULL;
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
	st->keys = store_key_cache_free(st->keys);
	pthread_mutex_destroy(&st->lock);
	free(st->path);
	free(st->conninfo);
	if (st->password)
		explicit_bzero(st->password, strlen(st->password));
	free(st->password);
	free(st);
	return NULL;
}

int store_size_report(struct store *st, void (*fn)(const char *name, int64_t bytes, int64_t rows, void *ud), void *ud)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	if (c->pg) {
		store_conn_put(st, c);
		return -ENOTSUP; /* dbstat is SQLite's */
	}
	r = store_query(c, &q,
			"SELECT d.name, SUM(d.pgsize), CASE WHEN MAX(s.type) = 'table' THEN"
			" SUM(CASE WHEN d.pagetype = 'leaf' THEN d.ncell ELSE 0 END) ELSE -1 END"
			" FROM dbstat d LEFT JOIN sqlite_schema s ON s.name = d.name GROUP BY d.name ORDER BY 2 DESC");
	if (r == -EIO && sqlite3_errcode(c->db) == SQLITE_ERROR)
		r = -ENOTSUP; /* no such table: dbstat */
	while (r == 0 && store_next(&q))
		fn(store_text(&q, 0), store_int(&q, 1), store_int(&q, 2), ud);
	r = store_done(&q, r);
	store_conn_put(st, c);
	return r;
}

/* ---- the engine's transactions (store_engine.h) ---- */

int store_eng_begin(struct store *st, struct store_tx **ret)
{
	struct store_tx *tx = calloc(1, sizeof(*tx));
	int r;

	if (!tx)
		return -ENOMEM;
	tx->st = st;
	r = store_conn_get(st, &tx->c);
	if (r < 0) {
		free(tx);
		return r;
	}
	r = store_tx_begin(tx->c);
	if (r < 0) {
		store_conn_put(st, tx->c);
		free(tx);
		return r;
	}
	tx->changes0 = store_total_changes(tx->c);
	*ret = tx;
	return 0;
}

bool store_eng_has_writes(struct store_tx *tx)
{
	return store_total_changes(tx->c) != tx->changes0;
}

int64_t store_eng_changes(struct store_tx *tx)
{
	return store_total_changes(tx->c) - tx->changes0;
}

void store_tx_touch(struct store_tx *tx, const char *id)
{
	if (!tx->touched)
		tx->touched = json_object();
	/* best effort: a lost mark only delays a dashboard's update */
	if (tx->touched)
		json_object_set_new(tx->touched, id, json_true());
}

json_t *store_eng_touched(struct store_tx *tx)
{
	return tx->touched;
}

int store_eng_commit(struct store_tx *tx)
{
	int r = store_tx_commit(tx->c);
	store_conn_put(tx->st, tx->c);
	json_decref(tx->touched);
	free(tx);
	return r;
}

void store_eng_rollback(struct store_tx *tx)
{
	if (!tx)
		return;
	store_tx_rollback(tx->c);
	store_conn_put(tx->st, tx->c);
	json_decref(tx->touched);
	free(tx);
}
