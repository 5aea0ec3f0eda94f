/* Internals shared by the store's .c files (store.c: connections,
 * migrations, access keys; store_api.c: the control API's queries;
 * store_engine.c: the engine's queries). Only store*.c include this; SQL
 * lives nowhere else.
 *
 * Connections: one SQLite connection per concurrent user, kept in a small
 * pool. store_conn_get() hands one to the calling thread; store_conn_put()
 * returns it. Every connection runs WAL, synchronous=FULL, foreign_keys=ON,
 * busy_timeout 10 s. Statements are prepared once per connection and cached
 * by the address of their (static) SQL text: pass string literals only.
 *
 * Writing: store_tx_begin() (BEGIN IMMEDIATE) ... store_tx_commit() or
 * store_tx_rollback(). Group commit (DESIGN.md point 7) will batch several
 * callers' transactions here later without changing callers. */
#pragma once

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

/* Statements are cached per connection by the address of their SQL literal
 * and never evicted: the set of literals in the binary bounds the cache, and
 * a statement handed out stays valid however many others are prepared. */
struct store_stmt_entry {
	const char *sql;
	sqlite3_stmt *stmt;
};

struct store_conn {
	sqlite3 *db;
	struct store_conn *next;
	struct store_stmt_entry *cache;
	int ncache, capcache;
};

struct store {
	char *path;
	pthread_mutex_t lock;
	struct store_conn *idle;
};

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

int store_conn_get(struct store *st, struct store_conn **ret);
void store_conn_put(struct store *st, struct store_conn *c);

/* Prepared, cached statement for a string literal; reset + unbound when
 * handed out. Do not finalize it. */
int store_prep(struct store_conn *c, const char *sql, sqlite3_stmt **ret);
/* Runs SQL with no result rows (may hold several statements). */
int store_exec(struct store_conn *c, const char *sql);

int store_tx_begin(struct store_conn *c);
int store_tx_commit(struct store_conn *c);
void store_tx_rollback(struct store_conn *c);

/* SQLite result code -> negative errno: CONSTRAINT -> -EEXIST, BUSY/LOCKED
 * -> -EBUSY, NOMEM -> -ENOMEM, FULL -> -ENOSPC, else -EIO. */
int store_errno(int rc);

/* Binding helpers: NULL text binds SQL NULL. */
int store_bind_text(sqlite3_stmt *s, int i, const char *v);
int store_bind_json(sqlite3_stmt *s, int i, const json_t *v); /* NULL -> SQL NULL */
/* Column helpers: NULL when SQL NULL. */
const char *store_col_text(sqlite3_stmt *s, int i);
json_t *store_col_json(sqlite3_stmt *s, int i); /* new reference or NULL */
