/* daemon/store: migrations, file mode, the statement helper, access keys,
 * built-in configs, times in milliseconds and the API queries' main
 * invariants. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "store_backends.h"
#include "auth/auth_secret.h"
#include "store/store.h"
#include "store/store_engine.h"
#include "store/store_internal.h"
#include "store_config.h"
#include "core/conf.h"
#include "tagfilter.h"
#include "util.h"

/* the error of the store call that failed (store_open, backup, restore) */
static struct rd_error rerr;

/* Highest applied migration version. */

/* A fixed key-encryption key: the store seals access-key secrets with it. */
static const struct auth_kek *test_kek(void)
{
	static struct auth_kek *k;
	static const unsigned char raw[AUTH_KEK_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

	if (!k)
		assert_int_equal(auth_kek_from_bytes(raw, &k), 0);
	return k;
}

static int schema_version(struct store *st)
{
	struct store_conn *c = NULL;
	struct store_q q;
	int v;

	assert_int_equal(store_conn_get(st, &c), 0);
	assert_int_equal(store_one(c, &q, "SELECT MAX(version) FROM schema_migrations"), 0);
	v = (int)store_int(&q, 0);
	store_done(&q, 0);
	store_conn_put(st, c);
	return v;
}

static void test_open_migrate_mode(void **state)
{
	char *dir = tu_mkdtemp(), path[4200];
	struct store *st = NULL;
	struct stat sb;

	snprintf(path, sizeof(path), "%s/data", dir);
	assert_int_equal(store_open(path, &st, &rerr), 0);
	assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
	assert_int_equal(schema_version(st), store_migrations[store_n_migrations - 1].version);
	/* SQLite does not count its memory under its global mutex (store.c):
	 * the store was its first use, and the count stayed at nothing */
	assert_int_equal(sqlite3_memory_used(), 0);
	st = store_close(st);
	assert_null(st);
	snprintf(path, sizeof(path), "%s/data/state.db", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* reopening applies nothing twice */
	snprintf(path, sizeof(path), "%s/data", dir);
	assert_int_equal(store_open(path, &st, &rerr), 0);
	assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
	json_t *names = NULL;
	bool more = true;
	assert_int_equal(store_config_list(st, NULL, 100, &names, &more), 0);
	assert_int_equal(json_array_size(names), 17);
	assert_false(more);
	json_decref(names);
	store_close(st);
	tu_rm_rf(dir);
}

static void test_unusable_dir(void **state)
{
	char *dir = tu_mkdtemp(), path[4200];
	struct store *st = NULL;

	/* data_dir below a regular file cannot be created, even by root */
	tu_write(dir, "file", "x");
	snprintf(path, sizeof(path), "%s/file/data", dir);
	assert_true(store_open(path, &st, &rerr) < 0);
	assert_null(st);
	assert_non_null(strstr(rerr.message, "data_dir"));
	tu_rm_rf(dir);
}

static void test_access_keys(void **state)
{
	char *dir = tu_mkdtemp(), err[512];
	struct store *st = NULL;
	struct store_access_key k, got, agent, *list = NULL;
	size_t n = 0;

	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
	assert_int_equal(store_access_key_create(st, "ci", "deployer", NULL, &k, err, sizeof(err)), 0);
	assert_int_equal(strlen(k.id), STORE_KEY_ID_LEN);
	assert_int_equal(strlen(k.secret), STORE_SECRET_LEN);
	assert_int_equal(store_access_key_get(st, k.id, &got), 0);
	assert_string_equal(got.secret, k.secret);
	assert_string_equal(got.policy, "deployer");
	assert_string_equal(got.instance, "");
	assert_int_equal(store_access_key_create(st, "h", "agent", "host-1", &agent, err, sizeof(err)), 0);
	assert_int_equal(store_access_key_get(st, agent.id, &got), 0);
	assert_string_equal(got.instance, "host-1");
	assert_int_equal(store_access_key_create(st, "x", "root", NULL, &got, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "admin, deployer, readonly, agent or enroll"));
	assert_int_equal(store_access_key_create(st, "x", "agent", NULL, &got, err, sizeof(err)), -EINVAL);
	assert_int_equal(store_access_key_create(st, "x", "admin", "host", &got, err, sizeof(err)), -EINVAL);
	assert_int_equal(store_access_key_create(st, "", "admin", NULL, &got, err, sizeof(err)), -EINVAL);
	/* EC2 instances: an agent key bound to an instance id, an enroll key to a fleet. */
	assert_true(store_ec2_instance_id("i-0123456789abcdef0"));
	assert_true(store_ec2_instance_id("i-12345678"));
	assert_false(store_ec2_instance_id("i-web"));
	assert_false(store_ec2_instance_id("host-1"));
	assert_int_equal(store_access_key_create(st, "e1", "agent", "i-0123456789abcdef0", &got, err, sizeof(err)), 0);
	assert_int_equal(store_access_key_create(st, "e2", "agent", "i-0123456789abcdef0", &got, err, sizeof(err)), 0);
	assert_int_equal(store_access_key_create(st, "x", "enroll", NULL, &got, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "asg:AUTO_SCALING_GROUP or tag:KEY=VALUE"));
	assert_int_equal(store_access_key_create(st, "x", "enroll", "tag:=v", &got, err, sizeof(err)), -EINVAL);
	assert_int_equal(store_access_key_create(st, "fleet", "enroll", "asg:web", &got, err, sizeof(err)), 0);
	assert_string_equal(got.instance, "asg:web");
	int revoked = 0;
	assert_int_equal(store_access_key_revoke_instance(st, "i-0123456789abcdef0", &revoked), 0);
	assert_int_equal(revoked, 2);
	assert_int_equal(store_access_key_revoke_instance(st, "asg:web", NULL), 0); /* not an agent key */
	assert_int_equal(store_access_key_list(st, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].secret, "");
	assert_string_equal(list[1].secret, "");
	free(list);

	/* disable, rotate, retire, scope, last used */
	struct store_access_key rot, rot2;
	assert_int_equal(store_access_key_set_status(st, k.id, "Inactive"), 0);
	assert_int_equal(store_access_key_get(st, k.id, &got), 0);
	assert_string_equal(got.status, "Inactive");
	assert_int_equal(store_access_key_set_status(st, k.id, "Paused"), -EINVAL);
	assert_int_equal(store_access_key_set_status(st, "AKRDNONE", "Active"), -ENOENT);
	assert_int_equal(store_access_key_rotate(st, k.id, 0, &rot), 0);
	assert_string_not_equal(rot.secret, k.secret);
	assert_string_equal(rot.old_secret, "");
	assert_int_equal(store_access_key_get(st, k.id, &got), 0);
	assert_string_equal(got.secret, rot.secret);
	assert_string_equal(got.old_secret, k.secret);
	assert_true(got.rotating);
	assert_int_equal(got.old_secret_expires, 0);
	assert_int_equal(store_access_key_rotate(st, k.id, 0, &rot2), -EBUSY);
	assert_int_equal(store_access_key_retire(st, k.id), 0);
	assert_int_equal(store_access_key_retire(st, k.id), -EALREADY);
	assert_int_equal(store_access_key_get(st, k.id, &got), 0);
	assert_string_equal(got.old_secret, "");
	assert_false(got.rotating);
	/* a previous secret past its time is no longer returned, and a new rotation may start */
	assert_int_equal(store_access_key_rotate(st, k.id, 1, &rot2), 0);
	struct timespec ts = {0, 5 * 1000 * 1000};
	nanosleep(&ts, NULL);
	assert_int_equal(store_access_key_get(st, k.id, &got), 0);
	assert_string_equal(got.secret, rot2.secret);
	assert_string_equal(got.old_secret, "");
	assert_int_equal(store_access_key_rotate(st, k.id, 0, &rot), 0);
	json_t *scope = json_pack("[s, s]", "web", "api-*");
	assert_int_equal(store_access_key_set_applications(st, k.id, scope, err, sizeof(err)), 0);
	assert_int_equal(store_access_key_set_applications(st, agent.id, scope, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "agent or enroll key"));
	json_decref(scope);
	scope = json_array();
	assert_int_equal(store_access_key_set_applications(st, k.id, scope, err, sizeof(err)), -EINVAL);
	json_decref(scope);
	assert_int_equal(store_access_key_get(st, k.id, &got), 0);
	assert_string_equal(got.applications, "[\"web\",\"api-*\"]");
	assert_int_equal(store_access_key_set_applications(st, k.id, NULL, err, sizeof(err)), 0);
	assert_int_equal(store_access_key_touch(st, k.id, 5000), 0);
	assert_int_equal(store_access_key_touch(st, k.id, 4000), 0); /* never backwards */
	assert_int_equal(store_access_key_get(st, k.id, &got), 0);
	assert_string_equal(got.applications, "");
	assert_int_equal(got.last_used, 5000);
	/* a batch of last uses in one transaction: also never backwards, and
	 * a key deleted meanwhile is no error */
	{
		json_t *uses = json_pack("{s:I, s:I}", k.id, (json_int_t)7000, "AKNOSUCHKEY", (json_int_t)7000);

		assert_int_equal(store_access_keys_touch(st, uses), 0);
		json_object_set_new(uses, k.id, json_integer(6000));
		assert_int_equal(store_access_keys_touch(st, uses), 0);
		json_decref(uses);
		assert_int_equal(store_access_key_get(st, k.id, &got), 0);
		assert_int_equal(got.last_used, 7000);
	}
	/* without the KEK no secret is read or written */
	struct store *st2 = NULL;
	assert_int_equal(tu_store_open(dir, &st2, &rerr), 0);
	assert_int_equal(store_access_key_get(st2, k.id, &got), -ENOKEY);
	assert_int_equal(store_access_key_create(st2, "y", "admin", NULL, &got, err, sizeof(err)), -ENOKEY);
	store_close(st2);
	assert_int_equal(store_access_key_delete(st, k.id), 0);
	assert_int_equal(store_access_key_delete(st, k.id), -ENOENT);
	assert_int_equal(store_access_key_get(st, k.id, &got), -ENOENT);
	store_close(st);
	tu_rm_rf(dir);
}

static void test_audit_log(void **state)
{
	char *dir = tu_mkdtemp();
	struct store *st = NULL;
	struct store_audit_record in[4], *out = NULL;
	struct store_audit_query q = {0};
	size_t n = 0, removed = 0;
	bool more = false;

	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	memset(in, 0, sizeof(in));
	for (int i = 0; i < 4; i++) {
		in[i].time = 1000 * (i + 1);
		snprintf(in[i].operation, sizeof(in[i].operation), "CodeDeploy_20141006.%s",
			 i % 2 ? "CreateApplication" : "DeleteApplication");
		snprintf(in[i].access_key_id, sizeof(in[i].access_key_id), "AKRD%d", i % 2);
		snprintf(in[i].application, sizeof(in[i].application), "%s", i < 2 ? "web" : "billing");
		snprintf(in[i].result, sizeof(in[i].result), "%s", i == 3 ? "Refused" : "Allowed");
		in[i].status = i == 3 ? 400 : 200;
	}
	assert_int_equal(store_audit_insert(st, in, 4), 0);
	q.limit = 10;
	assert_int_equal(store_audit_list(st, &q, &out, &n, &more), 0);
	assert_int_equal(n, 4);
	assert_false(more);
	assert_int_equal(out[0].time, 4000); /* newest first */
	assert_string_equal(out[0].result, "Refused");
	assert_string_equal(out[0].policy, "");
	free(out);
	q.access_key_id = "AKRD1";
	assert_int_equal(store_audit_list(st, &q, &out, &n, &more), 0);
	assert_int_equal(n, 2);
	free(out);
	q.access_key_id = NULL;
	q.application = "billing";
	q.operation = "CreateApplication";
	assert_int_equal(store_audit_list(st, &q, &out, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].time, 4000);
	free(out);
	q = (struct store_audit_query){.since_ms = 2000, .until_ms = 4000, .limit = 1};
	assert_int_equal(store_audit_list(st, &q, &out, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_true(more);
	assert_int_equal(out[0].time, 3000);
	q.before_seq = out[0].seq;
	free(out);
	assert_int_equal(store_audit_list(st, &q, &out, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_false(more);
	assert_int_equal(out[0].time, 2000);
	free(out);
	assert_int_equal(store_audit_prune(st, 2500, 1, &removed, &more), 0);
	assert_int_equal(removed, 1);
	assert_true(more);
	assert_int_equal(store_audit_prune(st, 2500, 1, &removed, &more), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(store_audit_prune(st, 2500, 1, &removed, &more), 0);
	assert_int_equal(removed, 0);
	assert_false(more);
	q = (struct store_audit_query){.limit = 10};
	assert_int_equal(store_audit_list(st, &q, &out, &n, &more), 0);
	assert_int_equal(n, 2);
	free(out);
	store_close(st);
	tu_rm_rf(dir);
}

static void test_app_group_cascade(void **state)
{
	char *dir = tu_mkdtemp(), id[37];
	struct store *st = NULL;
	struct store_group *g = NULL;
	struct store_tags tags = {0};
	json_t *doc = json_pack("{s:s}", "serviceRoleArn", "arn:r");
	struct store_tag tag = {.key = "k", .value = "v"};

	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
	assert_int_equal(store_app_create(st, "a", "Server", id), 0);
	assert_int_equal(store_app_create(st, "a", "Server", id), -EEXIST);
	assert_int_equal(store_group_create(st, "a", "g", "CodeDeployDefault.OneAtATime", doc, id), 0);
	assert_int_equal(store_group_create(st, "nope", "g", "CodeDeployDefault.OneAtATime", doc, id), -ENOENT);
	assert_int_equal(store_config_delete(st, "CodeDeployDefault.OneAtATime"), -EPERM);
	assert_int_equal(store_tags_set(st, "arn:app/a", &tag, 1), 0);
	assert_int_equal(store_tags_set(st, "arn:grp/a/g", &tag, 1), 0);
	assert_int_equal(store_app_rename(st, "a", "b", "arn:app/a", "arn:app/b", "arn:grp/a/", "arn:grp/b/"), 0);
	assert_int_equal(store_group_get(st, "b", "g", &g), 0);
	assert_string_equal(g->app, "b");
	assert_string_equal(g->compute_platform, "Server");
	assert_string_equal(json_string_value(json_object_get(g->doc, "serviceRoleArn")), "arn:r");
	assert_string_equal(g->last_attempted.id, "");
	g = store_group_free(g);
	assert_int_equal(store_tags_list(st, "arn:grp/b/g", &tags), 0);
	assert_int_equal(tags.n, 1);
	assert_string_equal(tags.v[0].value, "v");
	store_tags_clear(&tags);
	assert_int_equal(store_app_delete(st, "b", "arn:app/b", "arn:grp/b/"), 0);
	assert_int_equal(store_group_get(st, "b", "g", &g), -ENOENT);
	assert_null(g);
	assert_int_equal(store_tags_list(st, "arn:grp/b/g", &tags), 0);
	assert_int_equal(tags.n, 0);
	store_tags_clear(&tags);
	json_decref(doc);
	store_close(st);
	tu_rm_rf(dir);
}

/* The same SQL literal, run from one place, so its statement is cached once. */
static int insert_row(struct store_conn *c, const char *k, int64_t n, const json_t *j)
{
	return store_run(c, "INSERT INTO t (k, n, j, z) VALUES (?1, ?2, ?3, ?4)", SQL_TEXT(k), SQL_INT(n), SQL_JSON(j),
			 SQL_NULL);
}

static void test_statement_helper(void **state)
{
	char *dir = tu_mkdtemp();
	struct store *st = NULL;
	struct store_conn *c = NULL, *c2 = NULL;
	struct store_q q;
	json_t *obj = json_pack("{s:i}", "a", 1), *names = NULL, *j;
	bool more = false;
	size_t size = 3;
	int n = 0;

	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
	assert_int_equal(store_conn_get(st, &c), 0);
	/* BIGINT: SQLite's INTEGER, PostgreSQL's 64-bit integer */
	assert_int_equal(store_exec(c, "CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT, j TEXT, z TEXT);"
				       "CREATE TABLE u (k TEXT REFERENCES t(k));"),
			 0);

	/* typed arguments bind in order; NULL text and json bind SQL NULL */
	assert_int_equal(insert_row(c, "a", INT64_MAX, obj), 0);
	int cached = c->ncache;
	assert_int_equal(insert_row(c, "b", -1, NULL), 0);
	assert_int_equal(c->ncache, cached);
	assert_int_equal(
	    store_run(c, "INSERT INTO t (k, n, z) VALUES (?1, ?2, ?3)", SQL_TEXT("c"), SQL_INT(size), SQL_TEXT(NULL)),
	    0);
	assert_int_equal(store_changes(c), 1);
	assert_int_equal(store_run(c, "UPDATE t SET z = ?2 WHERE k = ?1", SQL_TEXT("c"), SQL_INT(true)), 0);

	/* errors: a duplicate key, a foreign key that points nowhere, bad SQL */
	assert_int_equal(insert_row(c, "a", 0, NULL), -EEXIST);
	assert_int_equal(store_run(c, "INSERT INTO u (k) VALUES (?1)", SQL_TEXT("nope")), -ENOENT);
	assert_true(store_run(c, "SELECT nosuchcolumn FROM t") < 0);

	/* one row, or -ENOENT */
	assert_int_equal(store_one(c, &q, "SELECT n, j, z FROM t WHERE k = ?1", SQL_TEXT("a")), 0);
	assert_true(store_int(&q, 0) == INT64_MAX);
	j = store_json(&q, 1);
	assert_true(json_equal(j, obj));
	json_decref(j);
	assert_true(store_isnull(&q, 2));
	assert_null(store_text(&q, 2));
	assert_int_equal(store_done(&q, 0), 0);
	assert_int_equal(store_one(c, &q, "SELECT n, j, z FROM t WHERE k = ?1", SQL_TEXT("b")), 0);
	assert_true(store_int(&q, 0) == -1);
	assert_true(store_isnull(&q, 1));
	assert_null(store_json(&q, 1));
	store_done(&q, 0);
	assert_int_equal(store_one(c, &q, "SELECT n, j, z FROM t WHERE k = ?1", SQL_TEXT("zz")), -ENOENT);
	assert_int_equal(store_one(c, &q, "SELECT z FROM t WHERE k = ?1", SQL_TEXT("c")), 0);
	assert_string_equal(store_text(&q, 0), "1");
	store_done(&q, 0);

	/* rows in order */
	int r = store_query(c, &q, "SELECT k FROM t ORDER BY k");
	while (r == 0 && store_next(&q))
		n++;
	assert_int_equal(store_done(&q, r), 0);
	assert_int_equal(n, 3);
	r = store_query(c, &q, "SELECT k FROM t ORDER BY k");
	assert_int_equal(store_collect_names(&q, r, 2, &names, &more), 0);
	assert_int_equal(json_array_size(names), 2);
	assert_true(more);
	json_decref(names);
	r = store_query(c, &q, "SELECT k FROM t WHERE k > ?1 ORDER BY k", SQL_TEXT("a"));
	assert_int_equal(store_collect_names(&q, r, 2, &names, &more), 0);
	assert_int_equal(json_array_size(names), 2);
	assert_false(more);
	json_decref(names);

	/* a query abandoned mid-way is reset when the connection goes back, so
	 * the next user does not read an old snapshot */
	assert_int_equal(store_query(c, &q, "SELECT k FROM t"), 0);
	assert_true(store_next(&q));
	bool pg = store_is_pg(c);
	store_conn_put(st, c);
	if (!pg)
		assert_false(sqlite3_stmt_busy(q.s));
	else
		store_done(&q, 0); /* the rows were in memory: no snapshot is held, the result is freed */
	assert_int_equal(store_conn_get(st, &c), 0);
	assert_int_equal(store_conn_get(st, &c2), 0);
	assert_ptr_not_equal(c, c2);
	assert_int_equal(insert_row(c2, "d", 4, NULL), 0);
	assert_int_equal(store_one(c, &q, "SELECT COUNT(*) FROM t"), 0);
	assert_int_equal(store_int(&q, 0), 4);
	store_done(&q, 0);
	store_conn_put(st, c2);
	store_conn_put(st, c);
	json_decref(obj);
	store_close(st);
	tu_rm_rf(dir);
}

#define ASSERT_MS(t, t0, t1)                                                                                           \
	do {                                                                                                           \
		assert_true((t) >= (t0));                                                                              \
		assert_true((t) <= (t1));                                                                              \
	} while (0)

/* Every time the store keeps is epoch milliseconds. */
static void test_times_in_ms(void **state)
{
	char *dir = tu_mkdtemp(), err[512], id[37];
	struct store *st = NULL;
	struct store_app *a = NULL;
	struct store_config *cf = NULL;
	struct store_group *g = NULL;
	struct store_revision *rv = NULL;
	struct store_deployment *dp = NULL;
	struct store_instance *in = NULL;
	struct store_target *t = NULL;
	struct store_access_key k;
	struct store_tx *tx = NULL;
	json_t *doc = json_object(), *rev = json_pack("{s:s, s:{s:s, s:s, s:s}}", "revisionType", "S3", "s3Location",
						      "bucket", "b", "key", "k.zip", "bundleType", "zip");
	json_t *cfg_doc = json_pack("{s:{s:s, s:i}}", "minimumHealthyHosts", "type", "HOST_COUNT", "value", 1);
	int64_t t0 = rd_wall_ms(), t1;

	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
	assert_int_equal(store_app_create(st, "a", "Server", id), 0);
	assert_int_equal(store_config_create(st, "c", "Server", cfg_doc, id), 0);
	assert_int_equal(store_group_create(st, "a", "g", "c", doc, id), 0);
	assert_int_equal(store_revision_register(st, "a", rev, "first"), 0);
	struct store_new_deployment nd = {.id = "d-AAAAAAAAA",
					  .app = "a",
					  .group = "g",
					  .config = "c",
					  .platform = "Server",
					  .revision = rev,
					  .doc = doc};
	assert_int_equal(store_deployment_create(st, &nd), 0);
	assert_int_equal(store_instance_register(st, "h1", NULL, "arn:aws:iam::123456789012:user/h1", "arn:i/h1"), 0);
	assert_int_equal(store_access_key_create(st, "k", "admin", NULL, &k, err, sizeof(err)), 0);
	assert_int_equal(store_eng_begin(st, &tx), 0);
	assert_int_equal(store_eng_deployment_status(tx, "d-AAAAAAAAA", "InProgress", rd_wall_ms(), 0, NULL, NULL), 0);
	assert_int_equal(
	    store_eng_target_insert(tx, "d-AAAAAAAAA", "h1", 0, "arn:i/h1", "InProgress", NULL, NULL, rd_wall_ms()), 0);
	assert_int_equal(store_eng_event_insert(tx, "d-AAAAAAAAA", "h1", 0, "ApplicationStop", "Pending"), 0);
	assert_int_equal(
	    store_eng_event_update(tx, "d-AAAAAAAAA", "h1", 0, "Succeeded", rd_wall_ms(), rd_wall_ms(), NULL), 0);
	assert_int_equal(store_eng_deployment_status(tx, "d-AAAAAAAAA", "Succeeded", 0, rd_wall_ms(), NULL, NULL), 0);
	assert_int_equal(store_eng_commit(tx), 0);
	assert_int_equal(store_instance_deregister(st, "h1"), 0);
	t1 = rd_wall_ms();

	assert_int_equal(store_app_get(st, "a", &a), 0);
	ASSERT_MS(a->create_time, t0, t1);
	assert_int_equal(store_config_get(st, "c", &cf), 0);
	ASSERT_MS(cf->create_time, t0, t1);
	assert_false(cf->builtin);
	assert_int_equal(store_revision_get(st, "a", rev, &rv), 0);
	ASSERT_MS(rv->register_time, t0, t1);
	ASSERT_MS(rv->first_used_time, t0, t1);
	ASSERT_MS(rv->last_used_time, t0, t1);
	assert_string_equal(rv->description, "first");
	assert_int_equal(store_deployment_get(st, "d-AAAAAAAAA", &dp), 0);
	ASSERT_MS(dp->create_time, t0, t1);
	ASSERT_MS(dp->start_time, t0, t1);
	ASSERT_MS(dp->complete_time, t0, t1);
	assert_null(dp->overview);
	assert_int_equal(dp->counts.in_progress, 1);
	assert_int_equal(store_group_get(st, "a", "g", &g), 0);
	assert_string_equal(g->last_attempted.id, "d-AAAAAAAAA");
	assert_string_equal(g->last_successful.status, "Succeeded");
	ASSERT_MS(g->last_successful.create_time, t0, t1);
	ASSERT_MS(g->last_successful.complete_time, t0, t1);
	assert_true(json_equal(g->last_attempted.revision, rev));
	assert_int_equal(store_target_get(st, "d-AAAAAAAAA", "h1", &t), 0);
	ASSERT_MS(t->last_updated, t0, t1);
	assert_int_equal(t->n_events, 1);
	ASSERT_MS(t->events[0].start_time, t0, t1);
	ASSERT_MS(t->events[0].end_time, t0, t1);
	/* several targets at once: in the order asked, a missing one NULL, one
	 * asked twice shared */
	{
		json_t *ids = json_pack("[s, s, s]", "h1", "nope", "h1");
		struct store_target **v = NULL;

		assert_int_equal(store_targets_get(st, "d-AAAAAAAAA", ids, &v), 0);
		assert_non_null(v[0]);
		assert_null(v[1]);
		assert_ptr_equal(v[2], v[0]);
		assert_string_equal(v[0]->target_id, "h1");
		assert_int_equal(v[0]->last_updated, t->last_updated);
		assert_int_equal(v[0]->n_events, 1);
		assert_string_equal(v[0]->events[0].name, "ApplicationStop");
		assert_int_equal(v[0]->events[0].end_time, t->events[0].end_time);
		assert_null(v[0]->events[0].diagnostics_text);
		store_targets_free(v, json_array_size(ids));
		json_decref(ids);
	}
	assert_int_equal(store_instance_get(st, "h1", &in), 0);
	ASSERT_MS(in->register_time, t0, t1);
	ASSERT_MS(in->deregister_time, t0, t1);
	assert_string_equal(in->status, "Deregistered");
	ASSERT_MS(k.create_time, t0, t1);

	store_app_free(a);
	store_config_free(cf);
	store_group_free(g);
	store_revision_free(rv);
	store_deployment_free(dp);
	store_target_free(t);
	store_instance_free(in);
	json_decref(doc);
	json_decref(rev);
	json_decref(cfg_doc);
	store_close(st);
	tu_rm_rf(dir);
}

static json_t *list_instances(struct store *st, const char *filter_json, const char *after, size_t limit,
			      bool *ret_more)
{
	struct tagfilter_set *set = NULL;
	json_t *names = NULL;
	char err[256];

	if (filter_json)
		assert_int_equal(tagfilter_parse_text(filter_json, "tagFilters", &set, err, sizeof(err)), 0);
	assert_int_equal(store_instance_list(st, NULL, set, after, limit, &names, ret_more), 0);
	tagfilter_set_free(set);
	return names;
}

static void assert_names(json_t *names, const char *want)
{
	char *got = json_dumps(names, JSON_COMPACT);
	assert_string_equal(got, want);
	free(got);
	json_decref(names);
}

/* ListOnPremisesInstances matches tags by lib/tagfilter's rule, page by page. */
static void test_instance_list_tags(void **state)
{
	char *dir = tu_mkdtemp();
	struct store *st = NULL;
	struct store_tag web[] = {{.key = "env", .value = "prod"}, {.key = "role", .value = "web"}};
	struct store_tag db[] = {{.key = "role", .value = "db"}, {.key = "empty", .value = NULL}};
	json_t *w = json_pack("[s, s]", "w1", "w2"), *d = json_pack("[s]", "d1");
	const char *missing = NULL;
	bool more = true;

	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
	assert_int_equal(store_instance_register(st, "d1", NULL, "arn:u/d1", "arn:i/d1"), 0);
	assert_int_equal(store_instance_register(st, "n1", NULL, "arn:u/n1", "arn:i/n1"), 0);
	assert_int_equal(store_instance_register(st, "w1", NULL, "arn:u/w1", "arn:i/w1"), 0);
	assert_int_equal(store_instance_register(st, "w2", NULL, "arn:u/w2", "arn:i/w2"), 0);
	assert_int_equal(store_instance_tags_add(st, w, web, 2, &missing), 0);
	assert_int_equal(store_instance_tags_add(st, d, db, 2, &missing), 0);

	assert_names(list_instances(st, NULL, NULL, 10, &more), "[\"d1\",\"n1\",\"w1\",\"w2\"]");
	assert_false(more);
	/* {Key} alone is KEY_ONLY: every value of the key, not the value "" */
	assert_names(list_instances(st, "[{\"Key\":\"role\"}]", NULL, 10, &more), "[\"d1\",\"w1\",\"w2\"]");
	assert_names(list_instances(st, "[{\"Key\":\"empty\"}]", NULL, 10, &more), "[\"d1\"]");
	assert_names(list_instances(st, "[{\"Value\":\"prod\"}]", NULL, 10, &more), "[\"w1\",\"w2\"]");
	assert_names(list_instances(st, "[{\"Key\":\"role\",\"Value\":\"db\"}]", NULL, 10, &more), "[\"d1\"]");
	assert_names(
	    list_instances(st, "[{\"Key\":\"empty\",\"Value\":\"\",\"Type\":\"KEY_AND_VALUE\"}]", NULL, 10, &more),
	    "[\"d1\"]");
	assert_names(list_instances(st, "[{\"Key\":\"nope\"}]", NULL, 10, &more), "[]");
	assert_false(more);
	/* pages: one name each, more while a matching one follows */
	assert_names(list_instances(st, "[{\"Key\":\"role\"}]", NULL, 1, &more), "[\"d1\"]");
	assert_true(more);
	assert_names(list_instances(st, "[{\"Key\":\"role\"}]", "d1", 1, &more), "[\"w1\"]");
	assert_true(more);
	assert_names(list_instances(st, "[{\"Key\":\"role\"}]", "w1", 1, &more), "[\"w2\"]");
	assert_false(more);
	assert_names(list_instances(st, "[{\"Value\":\"db\"}]", NULL, 1, &more), "[\"d1\"]");
	assert_false(more);
	/* removing a tag without a value removes the key */
	assert_int_equal(store_instance_tags_remove(st, d, db, 1, &missing), 0);
	assert_names(list_instances(st, "[{\"Key\":\"role\"}]", NULL, 10, &more), "[\"w1\",\"w2\"]");
	json_t *ghost = json_pack("[s]", "ghost");
	assert_int_equal(store_instance_tags_add(st, ghost, web, 1, &missing), -ENOENT);
	assert_string_equal(missing, "ghost");
	json_decref(ghost);
	json_decref(w);
	json_decref(d);
	store_close(st);
	tu_rm_rf(dir);
}

/* A state.db from before migration 4 (the engine kept each group's last
 * deployments as LastDeploymentInfo JSON in seconds) opens with its data:
 * the last deployments now come from the deployments, in milliseconds. */
static void test_migration_group_last_deployments(void **state)
{
	char *dir = tu_mkdtemp(), path[4200];
	struct store *st = NULL;
	struct store_group *g = NULL;
	struct store_tx *tx = NULL;
	sqlite3 *db = NULL;
	json_t *doc = NULL;

	snprintf(path, sizeof(path), "%s/state.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
				      " applied_time INTEGER NOT NULL)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(store_migrations[i].version, i + 1);
		assert_int_equal(sqlite3_exec(db, store_migrations[i].sql, NULL, NULL, NULL), SQLITE_OK);
	}
	assert_int_equal(
	    sqlite3_exec(
		db,
		"INSERT INTO schema_migrations VALUES (1, 'a', 0), (2, 'b', 0), (3, 'c', 0);"
		"INSERT INTO applications (name, id, compute_platform, create_time) VALUES ('a', 'ai', 'Server', "
		"1700000000000);"
		"INSERT INTO deployment_groups (application, name, id, deployment_config, create_time, doc, "
		"target_revision, last_successful_deployment, last_attempted_deployment) VALUES ('a', 'g', 'gi', "
		"'CodeDeployDefault.OneAtATime', 1700000000000, '{\"serviceRoleArn\":\"arn:r\"}', "
		"'{\"revisionType\":\"S3\"}', "
		"'{\"deploymentId\":\"d-AAAAAAAA1\",\"status\":\"Succeeded\",\"endTime\":1700000100,"
		"\"createTime\":1700000001}', "
		"'{\"deploymentId\":\"d-AAAAAAAA1\",\"status\":\"Succeeded\",\"endTime\":1700000100,"
		"\"createTime\":1700000001}');"
		"INSERT INTO deployments (id, application, deployment_group, deployment_config, compute_platform, "
		"status, creator, create_time, start_time, complete_time, revision, doc) VALUES ('d-AAAAAAAA1', 'a', "
		"'g', 'CodeDeployDefault.OneAtATime', 'Server', 'Succeeded', 'user', 1700000001000, 1700000002000, "
		"1700000100000, '{\"revisionType\":\"S3\"}', '{}');",
		NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
	assert_true(schema_version(st) >= 4);
	assert_int_equal(store_group_get(st, "a", "g", &g), 0);
	assert_string_equal(json_string_value(json_object_get(g->doc, "serviceRoleArn")), "arn:r");
	assert_string_equal(g->last_successful.id, "d-AAAAAAAA1");
	assert_true(g->last_successful.create_time == 1700000001000);
	assert_true(g->last_successful.complete_time == 1700000100000);
	assert_string_equal(g->last_attempted.id, "d-AAAAAAAA1");
	g = store_group_free(g);
	assert_int_equal(store_eng_begin(st, &tx), 0);
	assert_int_equal(store_eng_group(tx, "a", "g", &doc), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "targetRevision"), "revisionType")),
			    "S3");
	assert_string_equal(json_string_value(json_object_get(doc, "deploymentGroupId")), "gi");
	assert_null(json_object_get(doc, "lastSuccessfulDeployment"));
	json_decref(doc);
	store_eng_rollback(tx);
	store_close(st);
	tu_rm_rf(dir);
}

/* PostgreSQL: migrations to the last version under the advisory lock,
 * applied once; the built-in configs; what only SQLite does says so. */
static void test_pg_open_migrate(void **state)
{
	char *dir = tu_mkdtemp(), uri[1024];
	struct store *st = NULL, *st2 = NULL;
	json_t *names = NULL;
	bool more = true;

	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	assert_true(store_is_postgresql(st));
	assert_int_equal(schema_version(st), store_migrations_pg[store_n_migrations_pg - 1].version);
	/* the two lists carry the same versions */
	assert_int_equal(store_migrations_pg[store_n_migrations_pg - 1].version,
			 store_migrations[store_n_migrations - 1].version);
	assert_int_equal(tu_store_open(dir, &st2, &rerr), 0);
	assert_int_equal(store_config_list(st2, NULL, 100, &names, &more), 0);
	assert_int_equal(json_array_size(names), 17);
	assert_false(more);
	json_decref(names);
	assert_int_equal(store_backup(st, dir, "/nonexistent/backup.db", &rerr), -ENOTSUP);
	assert_non_null(strstr(rerr.message, "pg_dump"));
	assert_int_equal(store_size_report(st, NULL, NULL), -ENOTSUP);
	store_close(st2);
	store_close(st);
	/* a server that is not there: the error names it, without the password */
	tu_pg_uri("nosuchdb", uri, sizeof(uri));
	assert_true(store_open_pg(uri, "s3cret-pw", &st, &rerr) < 0);
	assert_non_null(strstr(rerr.message, "PostgreSQL"));
	assert_null(strstr(rerr.message, "s3cret-pw"));
	tu_rm_rf(dir);
}

/* Daemons starting together on a fresh database: the advisory lock lets one
 * migrate, the others find the schema done. */
struct opener {
	const char *uri;
	struct store *st;
	struct rd_error err;
	int r;
};

static void *open_pg(void *p)
{
	struct opener *o = p;
	o->r = store_open_pg(o->uri, NULL, &o->st, &o->err);
	return NULL;
}

static void test_pg_concurrent_migrations(void **state)
{
	char *dir = tu_mkdtemp(), db[128], uri[1024];
	struct opener o[4];
	pthread_t th[4];

	tu_pg_dbname(dir, db, sizeof(db));
	tu_pg_create_db(db);
	tu_pg_uri(db, uri, sizeof(uri));
	for (int i = 0; i < 4; i++) {
		o[i] = (struct opener){.uri = uri};
		assert_int_equal(pthread_create(&th[i], NULL, open_pg, &o[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 4; i++) {
		if (o[i].r < 0)
			fail_msg("opener %d: %s", i, o[i].err.message);
		assert_int_equal(schema_version(o[i].st), store_migrations_pg[store_n_migrations_pg - 1].version);
	}
	/* each migration recorded once */
	struct store_conn *c = NULL;
	struct store_q q;
	assert_int_equal(store_conn_get(o[0].st, &c), 0);
	assert_int_equal(store_one(c, &q, "SELECT COUNT(*) FROM schema_migrations"), 0);
	assert_int_equal(store_int(&q, 0), (int64_t)store_n_migrations_pg);
	store_done(&q, 0);
	store_conn_put(o[0].st, c);
	for (int i = 0; i < 4; i++)
		store_close(o[i].st);
	tu_rm_rf(dir);
}

/* What the log and the messages show of a PostgreSQL URI. */
static void test_redact(void **state)
{
	char b[256];

	store_config_redact("postgresql://rolloutd:s3cret@db:5432/rd?sslmode=require", b, sizeof(b));
	assert_string_equal(b, "postgresql://rolloutd:***@db:5432/rd?sslmode=require");
	store_config_redact("postgresql://db/rd?user=u&password=s3cret&sslmode=require", b, sizeof(b));
	assert_string_equal(b, "postgresql://db/rd?user=u&password=***&sslmode=require");
	store_config_redact("postgres://u@db/rd?password=x", b, sizeof(b));
	assert_string_equal(b, "postgres://u@db/rd?password=***");
	store_config_redact("postgresql:///rd?host=/run/postgresql", b, sizeof(b));
	assert_string_equal(b, "postgresql:///rd?host=/run/postgresql");
	store_config_redact("postgresql://u:p@h/d", b, 12);
	assert_string_equal(b, "postgresql:");
}

/* store_password_file: only its owner may read it; the password never
 * shows in a message, even when the URI carries one too. */
static void test_password_file(void **state)
{
	char *dir = tu_mkdtemp(), pw[4200];
	struct rd_config cfg = {0};
	struct store *st = NULL;

	tu_write(dir, "pw", "hunter2-pw\n");
	snprintf(pw, sizeof(pw), "%s/pw", dir);
	cfg.store_password_file = pw;
	cfg.data_dir = dir;
	cfg.store = "postgresql://u:uri-pw@127.0.0.1:1/nodb?connect_timeout=2";
	assert_int_equal(chmod(pw, 0644), 0);
	assert_int_equal(store_config_open(&cfg, &st, &rerr), -EACCES);
	assert_non_null(strstr(rerr.message, "chmod 600"));
	assert_int_equal(chmod(pw, 0600), 0);
	assert_true(store_config_open(&cfg, &st, &rerr) < 0); /* nothing listens on port 1 */
	assert_null(st);
	assert_non_null(strstr(rerr.message, "PostgreSQL"));
	assert_null(strstr(rerr.message, "hunter2-pw"));
	assert_null(strstr(rerr.message, "uri-pw"));
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_migrate_mode),
	    cmocka_unit_test(test_unusable_dir),
	    cmocka_unit_test(test_access_keys),
	    cmocka_unit_test(test_audit_log),
	    cmocka_unit_test(test_app_group_cascade),
	    cmocka_unit_test(test_statement_helper),
	    cmocka_unit_test(test_times_in_ms),
	    cmocka_unit_test(test_instance_list_tags),
	    cmocka_unit_test(test_migration_group_last_deployments),
	    cmocka_unit_test(test_redact),
	    cmocka_unit_test(test_password_file),
	};
	/* the same on PostgreSQL, but for the SQLite file's own tests (its mode,
	 * its data_dir, a migration run on a SQLite file) */
	const struct CMUnitTest pg_tests[] = {
	    cmocka_unit_test(test_pg_open_migrate),   cmocka_unit_test(test_pg_concurrent_migrations),
	    cmocka_unit_test(test_access_keys),	      cmocka_unit_test(test_audit_log),
	    cmocka_unit_test(test_app_group_cascade), cmocka_unit_test(test_statement_helper),
	    cmocka_unit_test(test_times_in_ms),	      cmocka_unit_test(test_instance_list_tags),
	};
	int r = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	if (!tu_pg_start())
		return r;
	tu_on_pg = true;
	return r | cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
}
