/* The store's tests run against both backends: SQLite in a temporary
 * data_dir, and PostgreSQL from Debian's server binaries
 * (/usr/lib/postgresql/<version>/bin), started once per test program with
 * initdb into a temporary directory, listening only on a unix socket in that
 * directory (no TCP port), run as the postgres user (or nobody) when the
 * tests run as root, and stopped at exit. Each store a test opens on
 * PostgreSQL is a fresh database named after the test's temporary
 * directory, so that reopening the same directory reopens the same
 * database.
 *
 *     tu_store_open(dir, &st, &rerr)   store_open() or store_open_pg()
 *     tu_pg_start()                    false (and a note on stderr) when
 *                                      PostgreSQL is not installed */
#pragma once

#include <glob.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

static bool tu_on_pg;	    /* the backend the next tu_store_open() uses */
static char *tu_pg_dir;	    /* the server's directory and socket, once started */
static char tu_pg_bin[512]; /* its bin directory */
static char tu_pg_as[64];   /* "runuser -u USER -- " when root */

static void tu_pg_stop(void)
{
	char cmd[2048];

	if (!tu_pg_dir)
		return;
	snprintf(cmd, sizeof(cmd), "%s%s/pg_ctl -D %s/data -m immediate -w stop >/dev/null 2>&1", tu_pg_as, tu_pg_bin,
		 tu_pg_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not stop the test PostgreSQL server in %s\n", tu_pg_dir);
	tu_rm_rf(tu_pg_dir);
	tu_pg_dir = NULL;
}

static bool tu_pg_start(void)
{
	char cmd[2048];
	glob_t g;

	if (tu_pg_dir)
		return true;
	if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
		fprintf(stderr, "PostgreSQL store tests skipped: no /usr/lib/postgresql/*/bin/initdb "
				"(apt-get install postgresql, or scripts/install-deps)\n");
		globfree(&g);
		return false;
	}
	/* the highest version installed */
	snprintf(tu_pg_bin, sizeof(tu_pg_bin), "%s", g.gl_pathv[g.gl_pathc - 1]);
	*strrchr(tu_pg_bin, '/') = '\0';
	globfree(&g);
	tu_pg_dir = tu_mkdtemp();
	if (!tu_pg_dir)
		return false;
	if (geteuid() == 0) {
		/* initdb refuses root */
		struct passwd *pw = getpwnam("postgres");
		if (!pw)
			pw = getpwnam("nobody");
		if (!pw || chown(tu_pg_dir, pw->pw_uid, pw->pw_gid) != 0) {
			fprintf(stderr, "PostgreSQL store tests: no postgres or nobody user to run the server as\n");
			return false;
		}
		snprintf(tu_pg_as, sizeof(tu_pg_as), "runuser -u %s -- ", pw->pw_name);
	}
	snprintf(cmd, sizeof(cmd),
		 "%s%s/initdb -D %s/data -A trust -U rolloutd --no-locale -E UTF8 --no-sync >%s/initdb.log 2>&1",
		 tu_pg_as, tu_pg_bin, tu_pg_dir, tu_pg_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "PostgreSQL store tests: initdb failed, see %s/initdb.log\n", tu_pg_dir);
		return false;
	}
	snprintf(cmd, sizeof(cmd),
		 "%s%s/pg_ctl -D %s/data -l %s/server.log -w -o \"-k %s -c listen_addresses='' -c fsync=off"
		 " -c full_page_writes=off -c synchronous_commit=off\" start >/dev/null 2>&1",
		 tu_pg_as, tu_pg_bin, tu_pg_dir, tu_pg_dir, tu_pg_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "PostgreSQL store tests: the server did not start, see %s/server.log\n", tu_pg_dir);
		tu_pg_stop();
		return false;
	}
	atexit(tu_pg_stop);
	return true;
}

/* The connection URI of database db on the test server. */
static void tu_pg_uri(const char *db, char *buf, size_t size)
{
	snprintf(buf, size, "postgresql:///%s?host=%s&user=rolloutd", db, tu_pg_dir);
}

/* A database name made of dir's last component. */
static void tu_pg_dbname(const char *dir, char *buf, size_t size)
{
	const char *b = strrchr(dir, '/');
	size_t n = 0;

	for (b = b ? b + 1 : dir; *b && n + 1 < size; b++)
		buf[n++] =
		    (char)((*b >= 'A' && *b <= 'Z') || (*b >= 'a' && *b <= 'z') || (*b >= '0' && *b <= '9') ? *b : '_');
	buf[n] = '\0';
}

/* Creates database db unless it exists. */
static void tu_pg_create_db(const char *db)
{
	char uri[1024], sql[256];
	PGconn *pg;
	PGresult *res;
	const char *v[1] = {db};

	tu_pg_uri("postgres", uri, sizeof(uri));
	pg = PQconnectdb(uri);
	if (PQstatus(pg) != CONNECTION_OK)
		fail_msg("cannot connect to the test PostgreSQL server: %s", PQerrorMessage(pg));
	res = PQexecParams(pg, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
		PQclear(res);
		snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", db);
		res = PQexec(pg, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fail_msg("%s: %s", sql, PQerrorMessage(pg));
	}
	PQclear(res);
	PQfinish(pg);
}

static int tu_store_open(const char *dir, struct store **ret, struct rd_error *err)
{
	char db[128], uri[1024];

	if (!tu_on_pg)
		return store_open(dir, ret, err);
	tu_pg_dbname(dir, db, sizeof(db));
	tu_pg_create_db(db);
	tu_pg_uri(db, uri, sizeof(uri));
	return store_open_pg(uri, NULL, ret, err);
}
