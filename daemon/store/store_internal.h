/* Internals shared by the store's .c files; only daemon/store/ includes
 * this, and SQL lives nowhere else. One file per entity, each holding every
 * statement on its tables:
 *
 *   store.c             connections, the statement helper, transactions, migrations runner
 *                       (SQLite), dispatching to store_pg.c when the store is PostgreSQL
 *   store_pg.c          the same on PostgreSQL through libpq
 *   store_migrations.c  the schema, as numbered migrations
 *   store_migrations_pg.c  the same schema for PostgreSQL, same version numbers
 *   store_app.c         applications
 *   store_tags.c        resource tags (on application and deployment-group ARNs)
 *   store_group.c       deployment groups and deployment configs
 *   store_revision.c    application revisions
 *   store_deployment.c  deployments, their targets, lifecycle events, host commands,
 *                       hook logs and cached bundles
 *   store_instance.c    on-premises instances and their tags
 *   store_access_key.c  access keys
 *   store_key_cache.c   the access keys opened, kept in memory (below)
 *   store_health.c      trigger-notification deliveries
 *   store_backup.c      online backup and restore (SQLite backup API)
 *   store_retention.c   removal of old finished deployments and hook logs, in batches, and of
 *                       shared bundles nothing refers to any more
 *   store_bundle.c      bundles kept in the database for the other daemons of a cluster
 *   store_shared_keys.c what the daemons of a cluster must hold alike (checks of the KEK and
 *                       the TLS certificate, the spec signing key), in meta
 *   store_cluster.c     several daemons on one database: their heartbeats, deployment and
 *                       job leases, NOTIFY / LISTEN (PostgreSQL only)
 *   store_shift.c       Lambda/ECS deployments: owning plugin, AppSpec, plugin state,
 *                       engine cursor; hook executions of their lifecycle events
 *
 * A file that needs another entity's table inside its own transaction calls
 * that entity's store_<entity>_*_c() function below instead of writing SQL.
 *
 * Connections: one SQLite connection per concurrent user, kept in a small
 * pool. store_conn_get() hands one to the calling thread; store_conn_put()
 * returns it. Every SQLite connection runs WAL, synchronous=FULL, foreign_keys=ON,
 * busy_timeout 10 s.
 *
 * Statements: store_run() / store_query() / store_one() prepare a statement
 * once per connection (cached by the address of its SQL literal, which the
 * macros insist on), bind the arguments in order to ?1, ?2, ... and step it.
 * Arguments are typed: SQL_TEXT(const char *, NULL binds NULL),
 * SQL_INT(any integer), SQL_JSON(const json_t *, NULL binds NULL; bound as
 * compact JSON text), SQL_NULL. A value of another type does not compile.
 *
 *     r = store_run(c, "UPDATE t SET a = ?2 WHERE id = ?1", SQL_TEXT(id), SQL_INT(now));
 *
 *     struct store_q q;
 *     r = store_query(c, &q, "SELECT a, b FROM t WHERE k = ?1", SQL_TEXT(k));
 *     while (r == 0 && store_next(&q))
 *             use(store_text(&q, 0), store_int(&q, 1));
 *     r = store_done(&q, r);
 *
 * Writing: store_tx_begin() (BEGIN IMMEDIATE) ... store_tx_commit() or
 * store_tx_rollback().
 *
 * Two backends: SQLite (a file in data_dir) and PostgreSQL (store_open_pg).
 * The statement texts are written once, in the SQL both engines accept
 * (?n parameters, which the PostgreSQL side turns into $n once when it
 * prepares; ON CONFLICT, RETURNING, COALESCE, LIMIT with a number); where
 * no common text exists an entity file keeps both side by side and calls
 * store_run2()/store_query2()/store_one2(). On PostgreSQL every write
 * transaction takes one transaction-level advisory lock first, so that
 * writers are serialized exactly as SQLite's BEGIN IMMEDIATE serializes
 * them; the tables carrying SQLite's implicit rowid where a statement uses
 * it have a rowid identity column there. A statement that fails inside a
 * PostgreSQL transaction leaves it unusable until rolled back: a failed
 * statement ends its transaction (every caller rolls back on error).
 * Statements are typed on PostgreSQL when first prepared, from the
 * arguments of that call (SQL_TEXT text, SQL_INT bigint): an integer used
 * as a condition is written "?n <> 0", a NULL whose type matters is
 * SQL_TEXT(NULL) rather than SQL_NULL. */
#pragma once

#include <pthread.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"
#include "store/store_engine.h"

/* Statements are cached per connection by the address of their SQL literal
 * and never evicted: the set of literals in the binary bounds the cache, and
 * a statement handed out stays valid however many others are prepared. */
struct store_stmt_entry {
	const char *sql;
	sqlite3_stmt *stmt; /* SQLite */
	int pg_name;	    /* PostgreSQL: prepared as "s<pg_name>" */
};

struct store_conn {
	sqlite3 *db;			  /* SQLite, or NULL */
	PGconn *pg;			  /* PostgreSQL, or NULL */
	int64_t pg_changes, pg_total;	  /* rows written by the last statement, by all */
	char *pg_error;			  /* the last statement's error message */
	int64_t tx_begun_ms, tx_changes0; /* the open write transaction, for /metrics */
	struct store_conn *next;
	struct store_stmt_entry *cache;
	int ncache, capcache;
};

struct store {
	char *path;	/* SQLite: the file; PostgreSQL: NULL */
	char *conninfo; /* PostgreSQL: the libpq connection URI */
	char *password; /* PostgreSQL: from store_password_file, or NULL */
	pthread_mutex_t lock;
	struct store_conn *idle;
	const struct auth_kek *kek;   /* seals access-key secrets (store_set_kek) */
	struct store_key_cache *keys; /* the keys opened, made with the KEK (store_key_cache.c) */
};

/* The engine's transaction (store_engine.h). */
struct store_tx {
	struct store *st;
	struct store_conn *c;
	int64_t changes0;
	json_t *touched; /* ids of the deployments written (an object used as a set) */
};

/* Records that tx wrote deployment id's state (store_eng_touched). */
void store_tx_touch(struct store_tx *tx, const char *id);

/* A migration: applied in version order, each in its own transaction,
 * recorded in schema_migrations(version, name, applied_time). Append-only:
 * never edit a migration that has shipped; add a new one. */
struct store_migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct store_migration store_migrations[];
extern const size_t store_n_migrations;
extern const struct store_migration store_migrations_pg[];
extern const size_t store_n_migrations_pg;

int store_conn_get(struct store *st, struct store_conn **ret);
void store_conn_put(struct store *st, struct store_conn *c);

/* Runs SQL with no result rows and no parameters (may hold several
 * statements; not cached). */
int store_exec(struct store_conn *c, const char *sql);

int store_tx_begin(struct store_conn *c);
int store_tx_commit(struct store_conn *c);
void store_tx_rollback(struct store_conn *c);

/* The message of the last failed statement on c. */
const char *store_errmsg(struct store_conn *c);
/* True while c has a transaction open. */
bool store_in_tx(struct store_conn *c);
/* True when c is a PostgreSQL connection. */
static inline bool store_is_pg(const struct store_conn *c)
{
	return c->pg != NULL;
}

/* SQLite result code -> negative errno: a foreign key that points nowhere
 * -> -ENOENT, other constraints -> -EEXIST, BUSY/LOCKED -> -EBUSY, NOMEM ->
 * -ENOMEM, FULL -> -ENOSPC, READONLY/PERM/AUTH -> -EACCES, else -EIO. */
int store_errno(int rc);

/* ---- the statement helper ---- */

enum store_arg_type { STORE_ARG_NULL, STORE_ARG_TEXT, STORE_ARG_INT, STORE_ARG_JSON, STORE_ARG_BLOB };

struct store_arg {
	enum store_arg_type type;
	union {
		const char *text;
		int64_t i;
		const json_t *json;
		struct {
			const void *p;
			size_t len;
		} blob;
	} u;
};

/* _Generic with no default: a value of any other type is a compile error. */
#define SQL_TEXT(v)                                                                                                    \
	((struct store_arg){.type = STORE_ARG_TEXT, .u.text = _Generic((v), char *: (v), const char *: (v), void *: (v))})
#define SQL_INT(v)                                                                                                     \
	((struct store_arg){.type = STORE_ARG_INT,                                                                     \
			    .u.i = _Generic((v), _Bool                                                                 \
					    : (v), int                                                                 \
					    : (v), unsigned                                                            \
					    : (v), long                                                                \
					    : (v), unsigned long                                                       \
					    : (v), long long                                                           \
					    : (v), unsigned long long                                                  \
					    : (v))})
#define SQL_JSON(v)                                                                                                    \
	((struct store_arg){.type = STORE_ARG_JSON, .u.json = _Generic((v), json_t * : (v), const json_t * : (v))})
/* len bytes at p, bound as a BLOB (SQLite) or bytea (PostgreSQL, sent in binary) */
#define SQL_BLOB(ptr, n) ((struct store_arg){.type = STORE_ARG_BLOB, .u.blob = {.p = (ptr), .len = (n)}})
#define SQL_NULL ((struct store_arg){.type = STORE_ARG_NULL})

/* The arguments as (array, count); element 0 is a placeholder so that an
 * empty list is still a valid initializer. */
#define STORE_ARGV(...)                                                                                                \
	((const struct store_arg[]){{0}, __VA_ARGS__}) + 1,                                                            \
	    sizeof((const struct store_arg[]){{0}, __VA_ARGS__}) / sizeof(struct store_arg) - 1

/* A statement being stepped. */
struct store_q {
	sqlite3_stmt *s;
	int rc;		/* last sqlite3_step() result */
	PGresult *res;	/* PostgreSQL: every row of the result */
	int row, nrows; /* PostgreSQL: the current row (-1 before the first) */
};

/* Steps the statement to its end (rows are ignored). 0 or negative errno. */
#define store_run(c, sql, ...) store_run_((c), "" sql, STORE_ARGV(__VA_ARGS__))
/* Starts a query: 0 and *q ready for store_next(), or negative errno (then
 * store_done(q, r) is still safe). */
#define store_query(c, q, sql, ...) store_query_((c), (q), "" sql, STORE_ARGV(__VA_ARGS__))
/* Starts a query and steps to its first row: 0 with the row in *q (call
 * store_done() after reading it), -ENOENT when there is none (q is done),
 * or another negative errno. */
#define store_one(c, q, sql, ...) store_one_((c), (q), "" sql, STORE_ARGV(__VA_ARGS__))

/* The same where the two engines need different texts: lite for SQLite, pg
 * for PostgreSQL (both literals, both ?n). */
#define store_run2(c, lite, pg, ...) store_run_((c), store_is_pg(c) ? "" pg : "" lite, STORE_ARGV(__VA_ARGS__))
#define store_query2(c, q, lite, pg, ...)                                                                              \
	store_query_((c), (q), store_is_pg(c) ? "" pg : "" lite, STORE_ARGV(__VA_ARGS__))
#define store_one2(c, q, lite, pg, ...) store_one_((c), (q), store_is_pg(c) ? "" pg : "" lite, STORE_ARGV(__VA_ARGS__))

int store_run_(struct store_conn *c, const char *sql, const struct store_arg *args, size_t nargs);
int store_query_(struct store_conn *c, struct store_q *q, const char *sql, const struct store_arg *args, size_t nargs);
int store_one_(struct store_conn *c, struct store_q *q, const char *sql, const struct store_arg *args, size_t nargs);
/* Steps to the next row: true while there is one. */
bool store_next(struct store_q *q);
/* Ends the query (resets the statement). Returns r when it is an error,
 * else the error that ended the stepping, else 0. */
int store_done(struct store_q *q, int r);

/* Columns of the current row. */
bool store_isnull(struct store_q *q, int i);
const char *store_text(struct store_q *q, int i); /* NULL when SQL NULL; valid until the next step */
int64_t store_int(struct store_q *q, int i);	  /* 0 when SQL NULL */
json_t *store_json(struct store_q *q, int i);	  /* new reference, NULL when SQL NULL */
/* A copy of BLOB (bytea) column i, malloc'd: -ENOENT when SQL NULL, -ENOMEM. */
int store_blob(struct store_q *q, int i, unsigned char **ret, size_t *ret_len);
/* Copies of column i: -ENOMEM, else 0 (*ret NULL when SQL NULL). */
int store_dup(struct store_q *q, int i, char **ret);
/* Copies of column i into fixed buffers (truncated to size). */
void store_copy(struct store_q *q, int i, char *buf, size_t size);

/* Ends a query collecting column 0 of its rows as strings: at most limit,
 * *ret_more when a row is left. r as for store_done(). */
int store_collect_names(struct store_q *q, int r, size_t limit, json_t **ret_names, bool *ret_more);

/* Rows changed by the last statement; by every statement of the connection. */
int64_t store_changes(struct store_conn *c);
int64_t store_total_changes(struct store_conn *c);

/* ---- store_pg.c: the PostgreSQL side of the functions above ---- */

int store_pg_open(const struct store *st, struct store_conn **ret, struct rd_error *err);
void store_pg_close(struct store_conn *c);
int store_pg_exec(struct store_conn *c, const char *sql);
int store_pg_begin(struct store_conn *c); /* BEGIN and the write lock */
bool store_pg_in_tx(struct store_conn *c);
int store_pg_query(struct store_conn *c, struct store_q *q, const char *sql, const struct store_arg *args,
		   size_t nargs);
/* Takes (lock) or gives back the advisory lock held while migrating. */
int store_pg_migrate_lock(struct store_conn *c, bool lock);

/* ---- one entity's statements used inside another's transaction ---- */

/* store_tags.c: moves tags of old_arn to new_arn and of ARNs under
 * old_prefix to new_prefix (either may be NULL); deletes the tags of arn and
 * of ARNs under prefix (NULL: none). */
int store_tags_move_c(struct store_conn *c, const char *old_arn, const char *new_arn, const char *old_prefix,
		      const char *new_prefix);
int store_tags_delete_c(struct store_conn *c, const char *arn, const char *prefix);
/* Appends the current row's columns k (key) and k+1 (value, NULL read as "")
 * to tags. */
int store_tags_append(struct store_tags *tags, struct store_q *q, int k);

/* store_revision.c: registers (registering) or records (first use by a
 * deployment) the revision; marks it used now by group (NULL: none). */
int store_revision_upsert_c(struct store_conn *c, const char *app, const json_t *revision, const char *description,
			    bool registering, int64_t now);
int store_revision_mark_used_c(struct store_conn *c, const char *app, const json_t *revision, const char *group,
			       int64_t now);

/* store_deployment.c: the group's deployments follow its rename; the
 * group's last (optionally last Succeeded) deployment, -ENOENT when none. */
int store_deployment_rename_group_c(struct store_conn *c, const char *app, const char *group, const char *new_group);
int store_deployment_last_c(struct store_conn *c, const char *app, const char *group, bool succeeded,
			    struct store_last_deployment *ret);

/* The access keys store_access_key_get() opened, so that a signed request
 * costs one indexed read of its key's version instead of reading the row and
 * opening its secrets (AES-256-GCM under the KEK) every time.
 *
 * Every change to a key's row but its last use gives it a new random
 * version, by the triggers of migration 10, in the transaction of the change,
 * whichever process makes it (the API, 'rolloutd access-key' beside a running
 * daemon). A key is taken from here only when its row's version, read for
 * the request, is the one it was opened at: a disabled, deleted, rotated,
 * retired or re-scoped key is refused or read again on its next request,
 * with no time during which the old row is still believed. An id without a
 * row is neither opened nor kept.
 *
 * At most max keys are kept (the oldest kept makes room); a key leaving the
 * cache has its secrets zeroed. Thread-safe. */
#define STORE_KEY_CACHE_MAX 32768

struct store_key_cache_stats {
	size_t entries;
	uint64_t hits, misses; /* lookups answered from memory; the others */
	uint64_t opened;       /* keys opened and kept */
	uint64_t dropped;      /* kept keys whose row changed or went */
	uint64_t evicted;      /* kept keys that made room for another */
};

struct store_key_cache;
int store_key_cache_new(size_t max, struct store_key_cache **ret);
struct store_key_cache *store_key_cache_free(struct store_key_cache *kc);
/* 0 and *ret (its last_used 0; rotating and the previous secret as they
 * are at now_ms) when id is kept at version; -ENOENT otherwise (a key kept
 * at another version is dropped). */
int store_key_cache_get(struct store_key_cache *kc, const char *id, int64_t version, int64_t now_ms,
			struct store_access_key *ret);
/* Keeps k, opened from the row at version (replacing id's entry). */
int store_key_cache_put(struct store_key_cache *kc, const struct store_access_key *k, int64_t version);
void store_key_cache_drop(struct store_key_cache *kc, const char *id);
void store_key_cache_stats(struct store_key_cache *kc, struct store_key_cache_stats *ret);
