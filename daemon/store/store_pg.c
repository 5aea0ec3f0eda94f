/* The PostgreSQL side of the statement helper (see store_internal.h):
 * one libpq connection per pool slot, statements prepared once per
 * connection with their ?n parameters turned into $n, arguments (but
 * BLOBs, sent in binary) and results in text form, SQLSTATE mapped to the errno values SQLite's result
 * codes map to. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "store/store_internal.h"
#include "util.h"

#define ERR(...) ((void)rd_error_set(err, 0, "StoreError", __VA_ARGS__))

/* Every write transaction of every connection takes this transaction-level
 * advisory lock first ("rolloutd" in ASCII): writers run one at a time, as
 * under SQLite's BEGIN IMMEDIATE, which the read-modify-write sequences of
 * the entity files and the engine rely on. */
#define WRITE_LOCK "SELECT pg_advisory_xact_lock(7165070577324830052)"
/* held by the store's migrate() while it reads and applies the migrations, so
 * that daemons starting together do not race */
#define MIGRATE_LOCK 7165070577324830053LL

/* SQLSTATE -> negative errno, as store_errno() maps SQLite's codes. */
static int sqlstate_errno(const char *state)
{
	if (!state)
		return -EIO; /* no server answer: the connection is gone */
	if (!strcmp(state, "23503"))
		return -ENOENT; /* foreign_key_violation */
	if (!strncmp(state, "23", 2))
		return -EEXIST; /* unique, not-null, check, exclusion violations */
	if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03") || !strcmp(state, "57014"))
		return -EBUSY; /* serialization, deadlock, lock not available, statement timeout */
	if (!strcmp(state, "53200"))
		return -ENOMEM; /* out_of_memory */
	if (!strcmp(state, "53100"))
		return -ENOSPC; /* disk_full */
	if (!strncmp(state, "42501", 5) || !strncmp(state, "28", 2) || !strcmp(state, "25006"))
		return -EACCES; /* insufficient privilege, authorization, read-only transaction */
	return -EIO;
}

static void set_error(struct store_conn *c, const char *msg)
{
	char *m = strdup(msg ? msg : "");
	size_t n;

	if (!m)
		return;
	n = strlen(m);
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		m[--n] = '\0';
	free(c->pg_error);
	c->pg_error = m;
}

/* 0, or the error of res (recorded on c) as a negative errno. */
static int result_errno(struct store_conn *c, PGresult *res)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)
		return 0;
	set_error(c, res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg));
	if (!res)
		return -ENOMEM;
	return sqlstate_errno(PQresultErrorField(res, PG_DIAG_SQLSTATE));
}

/* Counts the rows an INSERT, UPDATE or DELETE wrote. */
static void count_changes(struct store_conn *c, PGresult *res)
{
	const char *cmd = PQcmdStatus(res), *n = PQcmdTuples(res);

	if (!strncmp(cmd, "INSERT", 6) || !strncmp(cmd, "UPDATE", 6) || !strncmp(cmd, "DELETE", 6)) {
		c->pg_changes = n && *n ? strtoll(n, NULL, 10) : 0;
		c->pg_total += c->pg_changes;
	}
}

int store_pg_open(const struct store *st, struct store_conn **ret, struct rd_error *err)
{
	/* dbname is expanded as the URI; a password from store_password_file
	 * comes on its own (libpq reads PGPASSWORD and PGPASSFILE when there is
	 * none) */
	const char *keys[] = {"dbname", "fallback_application_name", st->password ? "password" : NULL, NULL};
	const char *vals[] = {st->conninfo, "rolloutd", st->password, NULL};
	struct store_conn *c = calloc(1, sizeof(*c));
	PGresult *res;
	int r;

	if (!c)
		return -ENOMEM;
	c->pg = PQconnectdbParams(keys, vals, 1);
	if (!c->pg) {
		free(c);
		return -ENOMEM;
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		char *m = strdup(PQerrorMessage(c->pg));
		size_t n = m ? strlen(m) : 0;
		while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
			m[--n] = '\0';
		ERR("cannot connect to the PostgreSQL store: %s", m ? m : "out of memory");
		free(m);
		store_pg_close(c);
		return -ECONNREFUSED;
	}
	/* times and text as the SQLite store has them; no notices in the log */
	res = PQexec(c->pg, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
	r = result_errno(c, res);
	PQclear(res);
	if (r < 0) {
		ERR("cannot set up the PostgreSQL connection: %s", c->pg_error);
		store_pg_close(c);
		return r;
	}
	*ret = c;
	return 0;
}

void store_pg_close(struct store_conn *c)
{
	if (!c)
		return;
	PQfinish(c->pg);
	free(c->pg_error);
	free(c->cache);
	free(c);
}

int store_pg_exec(struct store_conn *c, const char *sql)
{
	PGresult *res = PQexec(c->pg, sql);
	int r = result_errno(c, res);

	if (r == 0)
		count_changes(c, res);
	PQclear(res);
	return r;
}

int store_pg_begin(struct store_conn *c)
{
	int r = store_pg_exec(c, "BEGIN");

	if (r == 0)
		r = store_pg_exec(c, WRITE_LOCK);
	if (r < 0 && store_pg_in_tx(c))
		store_pg_exec(c, "ROLLBACK");
	return r;
}

bool store_pg_in_tx(struct store_conn *c)
{
	return PQtransactionStatus(c->pg) != PQTRANS_IDLE;
}

/* sql with ?n turned into $n outside quoted text and identifiers. */
static char *translate(const char *sql)
{
	char *out = malloc(strlen(sql) + 1), *o = out;
	char quote = 0;

	if (!out)
		return NULL;
	for (const char *p = sql; *p; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (*p == '?' && p[1] >= '1' && p[1] <= '9') {
			*o++ = '$';
			continue;
		}
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* The prepared statement's name for sql, preparing it the first time with
 * the types of the arguments of that first use: text and JSON as text,
 * integers as bigint, SQL_NULL left for the server to infer. A parameter
 * PostgreSQL could not type from its context (?1 IS NULL OR a = ?1, or a
 * parameter the text does not use) is typed this way. */
static int prepare(struct store_conn *c, const char *sql, const struct store_arg *args, size_t nargs, char name[16])
{
	Oid types[nargs ? nargs : 1];
	PGresult *res;
	char *text;
	int r;

	for (int i = 0; i < c->ncache; i++) {
		if (c->cache[i].sql == sql) {
			snprintf(name, 16, "s%d", c->cache[i].pg_name);
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
	text = translate(sql);
	if (!text)
		return -ENOMEM;
	for (size_t i = 0; i < nargs; i++)
		types[i] = args[i].type == STORE_ARG_INT    ? 20 /* int8 */
			   : args[i].type == STORE_ARG_BLOB ? 17 /* bytea */
			   : args[i].type == STORE_ARG_NULL ? 0
							    : 25 /* text */;
	snprintf(name, 16, "s%d", c->ncache);
	res = PQprepare(c->pg, name, text, (int)nargs, types);
	free(text);
	r = result_errno(c, res);
	PQclear(res);
	if (r < 0)
		return r;
	c->cache[c->ncache].sql = sql;
	c->cache[c->ncache].stmt = NULL;
	c->cache[c->ncache].pg_name = c->ncache;
	c->ncache++;
	return 0;
}

int store_pg_query(struct store_conn *c, struct store_q *q, const char *sql, const struct store_arg *args, size_t nargs)
{
	const char *vals[nargs ? nargs : 1];
	char *owned[nargs ? nargs : 1];
	int lens[nargs ? nargs : 1], formats[nargs ? nargs : 1];
	char name[16];
	PGresult *res;
	int r;

	r = prepare(c, sql, args, nargs, name);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nargs; i++) {
		const struct store_arg *a = &args[i];
		owned[i] = NULL;
		vals[i] = NULL;
		lens[i] = 0;
		formats[i] = 0;
		switch (a->type) {
		case STORE_ARG_NULL:
			break;
		case STORE_ARG_TEXT:
			vals[i] = a->u.text;
			break;
		case STORE_ARG_INT:
			if (asprintf(&owned[i], "%lld", (long long)a->u.i) < 0)
				owned[i] = NULL, r = -ENOMEM;
			vals[i] = owned[i];
			break;
		case STORE_ARG_JSON:
			if (a->u.json && !(owned[i] = json_dumps(a->u.json, JSON_COMPACT | JSON_ENCODE_ANY)))
				r = -ENOMEM;
			vals[i] = owned[i];
			break;
		case STORE_ARG_BLOB:
			/* bytes as they are: binary format, no escaping */
			if (a->u.blob.len > INT_MAX)
				r = -EFBIG;
			vals[i] = a->u.blob.p ? a->u.blob.p : "";
			lens[i] = (int)a->u.blob.len;
			formats[i] = 1;
			break;
		}
	}
	res = r < 0 ? NULL : PQexecPrepared(c->pg, name, (int)nargs, vals, lens, formats, 0);
	for (size_t i = 0; i < nargs; i++)
		free(owned[i]);
	if (r < 0)
		return r;
	r = result_errno(c, res);
	if (r < 0) {
		PQclear(res);
		return r;
	}
	count_changes(c, res);
	q->res = res;
	q->row = -1;
	q->nrows = PQntuples(res);
	return 0;
}

int store_pg_migrate_lock(struct store_conn *c, bool lock)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT pg_advisory_%s(%lld)", lock ? "lock" : "unlock", MIGRATE_LOCK);
	return store_pg_exec(c, sql);
}
