/* daemon/store/store_key_cache.c: the access keys kept opened in memory,
 * through store_access_key_get() as the daemon calls it, with a second store
 * on the same file standing for 'rolloutd access-key' run beside it. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "auth/auth_secret.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "store_backends.h"

static struct rd_error rerr;

static const struct auth_kek *test_kek(void)
{
	static struct auth_kek *k;
	static const unsigned char raw[AUTH_KEK_LEN] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

	if (!k)
		assert_int_equal(auth_kek_from_bytes(raw, &k), 0);
	return k;
}

struct fixture {
	char *dir;
	struct store *daemon; /* the daemon's store, whose cache is looked at */
	struct store *cli;    /* another process's, on the same state.db */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = tu_mkdtemp();
	assert_int_equal(tu_store_open(f->dir, &f->daemon, &rerr), 0);
	assert_int_equal(store_set_kek(f->daemon, test_kek(), &rerr), 0);
	assert_int_equal(tu_store_open(f->dir, &f->cli, &rerr), 0);
	assert_int_equal(store_set_kek(f->cli, test_kek(), &rerr), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->daemon);
	store_close(f->cli);
	tu_rm_rf(f->dir);
	free(f);
	return 0;
}

static struct store_key_cache_stats stats(struct fixture *f)
{
	struct store_key_cache_stats s;

	store_key_cache_stats(f->daemon->keys, &s);
	return s;
}

static void make_key(struct fixture *f, const char *policy, const char *instance, struct store_access_key *ret)
{
	char err[256];

	assert_int_equal(store_access_key_create(f->cli, "k", policy, instance, ret, err, sizeof(err)), 0);
}

static void test_hit_and_miss(void **state)
{
	struct fixture *f = *state;
	struct store_access_key k, got;

	make_key(f, "deployer", NULL, &k);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_int_equal(stats(f).misses, 1);
	assert_int_equal(stats(f).opened, 1);
	assert_int_equal(stats(f).entries, 1);
	for (int i = 0; i < 3; i++) {
		memset(&got, 0, sizeof(got));
		assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
		assert_string_equal(got.id, k.id);
		assert_string_equal(got.secret, k.secret);
		assert_string_equal(got.policy, "deployer");
		assert_string_equal(got.status, "Active");
		assert_string_equal(got.old_secret, "");
		assert_false(got.rotating);
		assert_int_equal(got.create_time, k.create_time);
	}
	assert_int_equal(stats(f).hits, 3);
	assert_int_equal(stats(f).opened, 1);
	/* the last use is read with the version: a hit has it as it is now */
	assert_int_equal(store_access_key_touch(f->cli, k.id, 5000), 0);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_int_equal(got.last_used, 5000);
	assert_int_equal(stats(f).hits, 4);
}

static void test_unknown_id_not_cached(void **state)
{
	struct fixture *f = *state;
	struct store_access_key got;
	char id[32];

	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "AKRDNOSUCHKEY%07d", i);
		assert_int_equal(store_access_key_get(f->daemon, id, &got), -ENOENT);
	}
	assert_int_equal(stats(f).entries, 0);
	assert_int_equal(stats(f).opened, 0);
	assert_int_equal(stats(f).misses, 0); /* no row: the cache was not even asked */
}

/* Each change made by the other process is seen on the very next lookup. */
static void test_every_mutation_invalidates(void **state)
{
	struct fixture *f = *state;
	struct store_access_key k, agent, got, rot, rot2;
	char err[256];
	json_t *scope;
	int n = 0;

	make_key(f, "deployer", NULL, &k);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);

	assert_int_equal(store_access_key_set_status(f->cli, k.id, "Inactive"), 0);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_string_equal(got.status, "Inactive");
	assert_int_equal(store_access_key_set_status(f->cli, k.id, "Active"), 0);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_string_equal(got.status, "Active");

	scope = json_pack("[s]", "web-*");
	assert_int_equal(store_access_key_set_applications(f->cli, k.id, scope, err, sizeof(err)), 0);
	json_decref(scope);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_string_equal(got.applications, "[\"web-*\"]");
	assert_int_equal(store_access_key_set_applications(f->cli, k.id, NULL, err, sizeof(err)), 0);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_string_equal(got.applications, "");

	assert_int_equal(store_access_key_rotate(f->cli, k.id, 0, &rot), 0);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_string_equal(got.secret, rot.secret);
	assert_string_equal(got.old_secret, k.secret);
	assert_true(got.rotating);
	assert_int_equal(store_access_key_retire(f->cli, k.id), 0);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_string_equal(got.secret, rot.secret);
	assert_string_equal(got.old_secret, "");
	assert_false(got.rotating);

	/* a previous secret with a time limit: kept, and no longer given once
	 * the time is past, with no change to the row */
	assert_int_equal(store_access_key_rotate(f->cli, k.id, 50, &rot2), 0);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_string_equal(got.old_secret, rot.secret);
	struct timespec ts = {0, 80 * 1000 * 1000};
	nanosleep(&ts, NULL);
	uint64_t hits = stats(f).hits;
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_int_equal(stats(f).hits, hits + 1);
	assert_string_equal(got.secret, rot2.secret);
	assert_string_equal(got.old_secret, "");
	assert_false(got.rotating);
	assert_int_equal(got.old_secret_expires, 0);

	assert_int_equal(store_access_key_delete(f->cli, k.id), 0);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), -ENOENT);
	assert_int_equal(stats(f).entries, 0);

	/* an instance's keys revoked (a terminated EC2 instance) */
	make_key(f, "agent", "i-0123456789abcdef0", &agent);
	assert_int_equal(store_access_key_get(f->daemon, agent.id, &got), 0);
	assert_int_equal(store_access_key_revoke_instance(f->cli, "i-0123456789abcdef0", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_access_key_get(f->daemon, agent.id, &got), -ENOENT);

	/* a change by hand, which no function of ours made, is seen too */
	make_key(f, "readonly", NULL, &k);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	struct store_conn *c;
	assert_int_equal(store_conn_get(f->cli, &c), 0);
	assert_int_equal(store_run(c, "UPDATE access_keys SET policy = 'admin' WHERE id = ?1", SQL_TEXT(k.id)), 0);
	store_conn_put(f->cli, c);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_string_equal(got.policy, "admin");
	/* while its last use, written every few seconds, keeps it */
	hits = stats(f).hits;
	assert_int_equal(store_access_key_touch(f->cli, k.id, 9000), 0);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_int_equal(stats(f).hits, hits + 1);
}

/* A key deleted by this process leaves memory at once, its secret zeroed
 * with it (entry_free; valgrind and ASan see the rest). */
static void test_delete_drops(void **state)
{
	struct fixture *f = *state;
	struct store_access_key k, got;

	make_key(f, "admin", NULL, &k);
	assert_int_equal(store_access_key_get(f->daemon, k.id, &got), 0);
	assert_int_equal(stats(f).entries, 1);
	assert_int_equal(store_access_key_delete(f->daemon, k.id), 0);
	assert_int_equal(stats(f).entries, 0);
}

static void test_bounded(void **state)
{
	struct fixture *f = *state;
	struct store_access_key k[6], got;

	store_key_cache_free(f->daemon->keys);
	assert_int_equal(store_key_cache_new(4, &f->daemon->keys), 0);
	for (int i = 0; i < 6; i++) {
		make_key(f, "agent", i % 2 ? "host-a" : "host-b", &k[i]);
		assert_int_equal(store_access_key_get(f->daemon, k[i].id, &got), 0);
	}
	assert_int_equal(stats(f).entries, 4);
	assert_int_equal(stats(f).evicted, 2);
	/* every key still right, whether kept or opened again */
	for (int r = 0; r < 2; r++)
		for (int i = 0; i < 6; i++) {
			assert_int_equal(store_access_key_get(f->daemon, k[i].id, &got), 0);
			assert_string_equal(got.secret, k[i].secret);
			assert_true(stats(f).entries <= 4);
		}
	assert_int_equal(store_key_cache_new(0, &f->daemon->keys), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hit_and_miss, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_id_not_cached, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_mutation_invalidates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_drops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
	};
	int r = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	if (!tu_pg_start())
		return r;
	tu_on_pg = true;
	return r | cmocka_run_group_tests_name("postgresql", tests, NULL, NULL);
}
