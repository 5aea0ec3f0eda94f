/* daemon/store/store_migrations.c: a store at every earlier schema version
 * is migrated to the current one. The fixtures are made here from the
 * migration list itself: for each version k, a state.db with migrations 1..k
 * applied (as the rolloutd of that version left it) holding one of each row
 * the base schema has; store_open() must bring it to the schema a fresh
 * store has, keeping the rows readable through the store's functions. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "auth/auth_secret.h"
#include "store/store.h"
#include "store/store_internal.h"

/* the error of the store call that failed (store_open, backup, restore) */
static struct rd_error rerr;

/* A fixed key-encryption key: the store seals access-key secrets with it. */
static const struct auth_kek *test_kek(void)
{
	static struct auth_kek *k;
	static const unsigned char raw[AUTH_KEK_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

	if (!k)
		assert_int_equal(auth_kek_from_bytes(raw, &k), 0);
	return k;
}

static const char fixture_rows[] =
    "INSERT INTO applications (name, id, compute_platform, create_time) VALUES ('app', 'a-1', 'Server', 1000);"
    "INSERT INTO deployment_groups (application, name, id, deployment_config, create_time, doc)"
    " VALUES ('app', 'grp', 'g-1', 'CodeDeployDefault.OneAtATime', 1000, '{}');"
    "INSERT INTO deployments (id, application, deployment_group, deployment_config, compute_platform, status,"
    " creator, create_time, complete_time, doc)"
    " VALUES ('d-FIXTURE01', 'app', 'grp', 'CodeDeployDefault.OneAtATime', 'Server', 'Succeeded', 'user', 1000,"
    " 2000, '{}');"
    "INSERT INTO deployment_targets (deployment_id, target_id, seq, status, last_updated)"
    " VALUES ('d-FIXTURE01', 'host-1', 0, 'Succeeded', 2000);"
    "INSERT INTO lifecycle_events (deployment_id, target_id, seq, name, status)"
    " VALUES ('d-FIXTURE01', 'host-1', 0, 'BeforeInstall', 'Succeeded');"
    "INSERT INTO hook_logs (deployment_id, target_id, lifecycle_event, seq, time, chunk)"
    " VALUES ('d-FIXTURE01', 'host-1', 'BeforeInstall', 1, 1500, 'hello from v1');"
    "INSERT INTO instances (name, instance_arn, status, register_time)"
    " VALUES ('host-1', 'arn:aws:codedeploy:us-east-1:000000000000:instance/host-1', 'Registered', 1000);"
    "INSERT INTO access_keys (id, secret, name, policy, create_time)"
    " VALUES ('AKRDFIXTURE000000001', 'secretsecretsecretsecretsecretsecret0001', 'ci', 'admin', 1000);";

/* Whether the file holds needle (NULL when not). */
static const void *memmem_file(const char *path, const char *needle)
{
	static char buf[1 << 22];
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return memmem(buf, n, needle, strlen(needle));
}

static char *schema_of(const char *db_path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	size_t cap = 1 << 16, len = 0;
	char *out = calloc(1, cap);

	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT type, name, tbl_name, IFNULL(sql, '') FROM sqlite_master"
					    " WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
					    -1, &s, NULL),
			 SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		for (int i = 0; i < 4; i++) {
			const char *t = (const char *)sqlite3_column_text(s, i);
			size_t l = strlen(t);
			while (len + l + 2 > cap)
				out = realloc(out, cap *= 2);
			memcpy(out + len, t, l);
			len += l;
			out[len++] = i == 3 ? '\n' : '|';
		}
		out[len] = '\0';
	}
	sqlite3_finalize(s);
	sqlite3_close_v2(db);
	return out;
}

static int schema_version(const char *db_path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int v;

	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_migrations", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close_v2(db);
	return v;
}

/* state.db in dir as the rolloutd with migrations 1..k left it */
static void make_fixture(const char *dir, size_t k)
{
	char path[4200];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/state.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
				      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
				      " applied_time INTEGER NOT NULL)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	for (size_t i = 0; i < k; i++) {
		char *ins;
		assert_int_equal(sqlite3_exec(db, store_migrations[i].sql, NULL, NULL, NULL), SQLITE_OK);
		ins = sqlite3_mprintf("INSERT INTO schema_migrations VALUES (%d, %Q, 1000)",
				      store_migrations[i].version, store_migrations[i].name);
		assert_int_equal(sqlite3_exec(db, ins, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_free(ins);
		if (i == 0)
			assert_int_equal(sqlite3_exec(db, fixture_rows, NULL, NULL, NULL), SQLITE_OK);
	}
	sqlite3_close_v2(db);
}

static void test_every_earlier_version_migrates(void **state)
{
	char *fresh_dir = tu_mkdtemp(), path[4200];
	struct store *st = NULL;
	char *want;
	int last = store_migrations[store_n_migrations - 1].version;

	assert_true(store_n_migrations >= 2);
	/* versions are 1..N in order: a gap would skip a migration on upgrade */
	for (size_t i = 0; i < store_n_migrations; i++)
		assert_int_equal(store_migrations[i].version, (int)i + 1);
	assert_int_equal(store_open(fresh_dir, &st, &rerr), 0);
	assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
	store_close(st);
	snprintf(path, sizeof(path), "%s/state.db", fresh_dir);
	want = schema_of(path);

	for (size_t k = 1; k < store_n_migrations; k++) {
		char *dir = tu_mkdtemp(), *got;
		struct store_deployment *dp = NULL;
		struct store_target *t = NULL;
		struct store_hook_logs logs = {0};
		struct store_access_key key;
		struct store_app *app = NULL;
		int64_t cursor = 0;

		make_fixture(dir, k);
		snprintf(path, sizeof(path), "%s/state.db", dir);
		assert_int_equal(schema_version(path), (int)k);
		assert_int_equal(store_open(dir, &st, &rerr), 0);
		assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
		assert_int_equal(schema_version(path), last);
		got = schema_of(path);
		if (strcmp(got, want) != 0)
			fail_msg(
			    "migrating from version %zu gives another schema than a fresh store:\n%s\n--- fresh:\n%s",
			    k, got, want);
		free(got);

		assert_int_equal(store_app_get(st, "app", &app), 0);
		assert_string_equal(app->id, "a-1");
		assert_int_equal(store_deployment_get(st, "d-FIXTURE01", &dp), 0);
		assert_string_equal(dp->status, "Succeeded");
		assert_int_equal(dp->complete_time, 2000);
		assert_int_equal(store_target_get(st, "d-FIXTURE01", "host-1", &t), 0);
		assert_int_equal(t->n_events, 1);
		assert_string_equal(t->events[0].name, "BeforeInstall");
		assert_int_equal(store_hook_logs_read(st, "d-FIXTURE01", NULL, 0, 10, &logs, &cursor), 0);
		assert_int_equal(logs.n, 1);
		assert_string_equal(logs.v[0].data, "hello from v1");
		assert_int_equal(store_access_key_get(st, "AKRDFIXTURE000000001", &key), 0);
		assert_string_equal(key.policy, "admin");
		/* the secret an older rolloutd kept in the clear is sealed now */
		assert_string_equal(key.secret, "secretsecretsecretsecretsecretsecret0001");
		assert_string_equal(key.status, "Active");
		assert_null(memmem_file(path, "secretsecretsecretsecretsecretsecret0001"));

		store_hook_logs_clear(&logs);
		store_target_free(t);
		store_deployment_free(dp);
		store_app_free(app);
		st = store_close(st);
		tu_rm_rf(dir);
	}
	free(want);
	tu_rm_rf(fresh_dir);
}

static void test_newer_schema_is_refused(void **state)
{
	char *dir = tu_mkdtemp(), path[4200];
	struct store *st = NULL;
	sqlite3 *db = NULL;

	assert_int_equal(store_open(dir, &st, &rerr), 0);
	assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
	store_close(st);
	snprintf(path, sizeof(path), "%s/state.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (9999, 'from the future', 0)", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close_v2(db);
	assert_true(store_open(dir, &st, &rerr) < 0);
	assert_non_null(strstr(rerr.message, "run a newer rolloutd"));
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_earlier_version_migrates),
	    cmocka_unit_test(test_newer_schema_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
