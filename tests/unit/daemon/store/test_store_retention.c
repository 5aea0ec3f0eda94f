/* daemon/store/store_retention.c: old finished deployments go in bounded
 * steps with everything that hangs off them; unfinished ones and each
 * group's latest attempted and latest successful deployment stay; hook logs
 * can go on their own, earlier. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "store_backends.h"

/* the error of the store call that failed (store_open, backup, restore) */
static struct rd_error rerr;

static void exec(struct store *st, const char *sql)
{
	struct store_conn *c;
	assert_int_equal(store_conn_get(st, &c), 0);
	if (store_exec(c, sql) < 0)
		fail_msg("%s: %s", sql, store_errmsg(c));
	store_conn_put(st, c);
}

static int64_t count(struct store *st, const char *sql)
{
	struct store_conn *c;
	struct store_q q;
	int64_t n;

	/* sql is a literal: the statement cache keys on its address */
	assert_int_equal(store_conn_get(st, &c), 0);
	assert_int_equal(store_one_(c, &q, sql, NULL, 0), 0);
	n = store_int(&q, 0);
	store_done(&q, 0);
	store_conn_put(st, c);
	return n;
}

/* deployment n of group grp: status, completed at `done` ms, 3 targets with
 * 7 events, 50 hook-log chunks, 3 commands */
static void add_deployment(struct store *st, int n, const char *status, int64_t done)
{
	char sql[2048];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO deployments (seq, id, application, deployment_group, deployment_config, compute_platform,"
		 " status, creator, create_time, complete_time, doc) VALUES (%d, 'd-%09d', 'app', 'grp',"
		 " 'CodeDeployDefault.OneAtATime', 'Server', '%s', 'user', %lld, %lld, '{}');",
		 n, n, status, (long long)done - 10, (long long)done);
	exec(st, sql);
	for (int t = 0; t < 3; t++) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO deployment_targets (deployment_id, target_id, seq, last_updated)"
			 " VALUES ('d-%09d', 'host-%d', %d, 1);"
			 "INSERT INTO host_commands (host, deployment_id, target_id, command_name, create_time)"
			 " VALUES ('host-%d', 'd-%09d', 'host-%d', 'BeforeInstall', 1);",
			 n, t, t, t, n, t);
		exec(st, sql);
		for (int e = 0; e < 7; e++) {
			snprintf(sql, sizeof(sql),
				 "INSERT INTO lifecycle_events (deployment_id, target_id, seq, name)"
				 " VALUES ('d-%09d', 'host-%d', %d, 'E%d')",
				 n, t, e, e);
			exec(st, sql);
		}
	}
	for (int i = 0; i < 50; i++) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO hook_logs (deployment_id, target_id, lifecycle_event, seq, time, chunk)"
			 " VALUES ('d-%09d', 'host-0', 'E0', %d, 1, 'x')",
			 n, i);
		exec(st, sql);
	}
}

static void test_prune(void **state)
{
	char *dir = tu_mkdtemp(), err[512] = "";
	struct store *st = NULL;
	struct store_retention_counts n = {0};
	bool more = true;
	int steps = 0;

	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	exec(st, "INSERT INTO applications (name, id, compute_platform, create_time) VALUES ('app', 'a', 'Server', 1)");
	add_deployment(st, 1, "Succeeded", 1000); /* old */
	add_deployment(st, 2, "Failed", 2000);	  /* old */
	add_deployment(st, 3, "Succeeded", 3000); /* old, but the group's latest successful */
	add_deployment(st, 4, "Stopped", 4000);	  /* old */
	add_deployment(st, 5, "Failed", 5000);	  /* old, but the group's latest attempted */
	add_deployment(st, 6, "Succeeded", 1000); /* old, but group other's latest successful */
	exec(st, "UPDATE deployments SET deployment_group = 'other' WHERE seq = 6");
	exec(st, "INSERT INTO deployments (seq, id, application, deployment_group, deployment_config,"
		 " compute_platform, status, creator, create_time, doc) VALUES (7, 'd-000000007', 'app', 'other',"
		 " 'CodeDeployDefault.OneAtATime', 'Server', 'InProgress', 'user', 1, '{}')"); /* running */

	/* one step removes at most the batch, and says there is more */
	int64_t rows0 = count(st, "SELECT (SELECT COUNT(*) FROM hook_logs) + (SELECT COUNT(*) FROM lifecycle_events)"
				  " + (SELECT COUNT(*) FROM deployment_targets) + (SELECT COUNT(*) FROM host_commands)"
				  " + (SELECT COUNT(*) FROM deployments)");
	assert_int_equal(store_retention_step(st, 10000, 0, 20, &n, &more), 0);
	assert_true(more);
	assert_true(n.rows <= 20);
	int64_t rows1 = count(st, "SELECT (SELECT COUNT(*) FROM hook_logs) + (SELECT COUNT(*) FROM lifecycle_events)"
				  " + (SELECT COUNT(*) FROM deployment_targets) + (SELECT COUNT(*) FROM host_commands)"
				  " + (SELECT COUNT(*) FROM deployments)");
	assert_true(rows0 - rows1 <= 21 && rows0 > rows1);
	while (more && steps++ < 1000)
		assert_int_equal(store_retention_step(st, 10000, 0, 20, &n, &more), 0);
	assert_false(more);
	assert_int_equal(n.deployments, 3); /* 1, 2 and 4: old, finished, not the latest of their group */
	assert_int_equal(count(st, "SELECT COUNT(*) FROM deployments WHERE seq IN (3, 5, 6, 7)"), 4);
	assert_int_equal(count(st, "SELECT COUNT(*) FROM deployments"), 4);
	/* nothing of the removed ones is left */
	assert_int_equal(count(st, "SELECT COUNT(*) FROM lifecycle_events WHERE deployment_id NOT IN"
				   " (SELECT id FROM deployments)"),
			 0);
	assert_int_equal(
	    count(st, "SELECT COUNT(*) FROM hook_logs WHERE deployment_id NOT IN (SELECT id FROM deployments)"), 0);
	assert_int_equal(count(st, "SELECT COUNT(*) FROM host_commands WHERE deployment_id NOT IN"
				   " (SELECT id FROM deployments)"),
			 0);
	assert_int_equal(count(st, "SELECT COUNT(*) FROM lifecycle_events"), 3 * 21);

	/* hook logs of the kept finished ones go on their own */
	n = (struct store_retention_counts){0};
	more = true;
	steps = 0;
	while (more && steps++ < 1000)
		assert_int_equal(store_retention_step(st, 0, 10000, 30, &n, &more), 0);
	assert_int_equal(n.hook_logs, 150);
	assert_int_equal(count(st, "SELECT COUNT(*) FROM hook_logs"), 0);
	assert_int_equal(count(st, "SELECT COUNT(*) FROM deployments"), 4);
	store_close(st);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prune),
	};
	int r = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	if (!tu_pg_start())
		return r;
	tu_on_pg = true;
	return r | cmocka_run_group_tests_name("postgresql", tests, NULL, NULL);
}
