/* daemon/store: the hot statements (store_hot.h) find their rows through
 * an index — EXPLAIN QUERY PLAN of each shows no SCAN of a table that grows
 * with the history and no sort of rows the index did not bound — and
 * ListDeployments pages stay right: newest first, every filter, each row
 * once, a cursor that survives the removal of its deployment. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "store/store.h"
#include "store/store_hot.h"
#include "store/store_internal.h"
#include "util.h"

static struct rd_error rerr;

static const struct store_hot_stmt hot[] = {STORE_HOT_LIST};

/* Tables that grow with the history or the fleet. */
static const char *const large[] = {"deployments",	"deployment_targets", "lifecycle_events", "host_commands",
				    "hook_logs",	"instances",	      "instance_tags",	  "access_keys",
				    "audit_log",	"trigger_deliveries", "revisions",	  "bundles",
				    "shift_deployments"};

static struct store *open_store(char **ret_dir)
{
	char *dir = tu_mkdtemp(), path[4200];
	struct store *st = NULL;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/data", dir);
	assert_int_equal(store_open(path, &st, &rerr), 0);
	*ret_dir = dir;
	return st;
}

static void close_store(struct store *st, char *dir)
{
	char cmd[4300];

	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

/* "SCAN t", "SCAN t USING INDEX i", "SCAN t USING COVERING INDEX i": a walk
 * over all of t. */
static const char *scanned_large_table(const char *detail)
{
	if (strncmp(detail, "SCAN ", 5))
		return NULL;
	for (size_t i = 0; i < RD_ARRAY_SIZE(large); i++) {
		size_t n = strlen(large[i]);
		if (!strncmp(detail + 5, large[i], n) && (detail[5 + n] == '\0' || detail[5 + n] == ' '))
			return large[i];
	}
	return NULL;
}

static void test_hot_statements_use_indexes(void **state)
{
	char *dir;
	struct store *st = open_store(&dir);
	struct store_conn *c;
	int bad = 0;

	(void)state;
	assert_int_equal(store_conn_get(st, &c), 0);
	for (size_t i = 0; i < RD_ARRAY_SIZE(hot); i++) {
		char sql[8192], plan[4096] = "";
		sqlite3_stmt *s;
		bool searched = false, sorted = false;
		const char *scanned = NULL;

		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", hot[i].sql);
		if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL) != SQLITE_OK)
			fail_msg("%s does not prepare: %s", hot[i].name, sqlite3_errmsg(c->db));
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(s, 3);
			size_t n = strlen(plan);
			snprintf(plan + n, sizeof(plan) - n, "\n    %s", d);
			if (!scanned)
				scanned = scanned_large_table(d);
			searched = searched || !strncmp(d, "SEARCH ", 7);
			sorted = sorted || strstr(d, "USE TEMP B-TREE FOR ORDER BY") || strstr(d, "FOR GROUP BY");
		}
		sqlite3_finalize(s);
		if (scanned) {
			print_error("%s scans %s:%s\n", hot[i].name, scanned, plan);
			bad++;
		} else if (!searched) {
			print_error("%s searches no index:%s\n", hot[i].name, plan);
			bad++;
		} else if (sorted && !hot[i].may_sort && !strstr(hot[i].sql, "GROUP BY")) {
			print_error("%s sorts instead of reading in index order:%s\n", hot[i].name, plan);
			bad++;
		}
	}
	store_conn_put(st, c);
	close_store(st, dir);
	assert_int_equal(bad, 0);
}

/* ---- ListDeployments ---- */

static void exec(struct store *st, const char *sql)
{
	struct store_conn *c;
	assert_int_equal(store_conn_get(st, &c), 0);
	if (store_exec(c, sql) < 0)
		fail_msg("%s: %s", sql, sqlite3_errmsg(c->db));
	store_conn_put(st, c);
}

#define N_DEP 300
static const char *const statuses[] = {"Succeeded", "Failed", "Stopped", "InProgress"};

struct dep {
	int seq;
	int64_t ctime;
	int group, status;
};
static struct dep deps[N_DEP];

/* Deployment i: group i % 3, status by a fixed pattern, create times that
 * tie in pairs and, for a few, go back in time (a clock stepped back): the
 * order is (create_time, seq), not seq. */
static void fill(struct store *st)
{
	char sql[1024];

	exec(st, "INSERT INTO applications (name, id, compute_platform, create_time)"
		 " VALUES ('app', 'a-1', 'Server', 0)");
	for (int i = 0; i < N_DEP; i++) {
		deps[i] = (struct dep){.seq = i + 1,
				       .ctime = 1000000 + (i / 2) * 1000 - (i % 37 == 5 ? 5500 : 0),
				       .group = i % 3,
				       .status = i % 11 == 0	  ? 1
						 : i % 29 == 0	  ? 2
						 : i == N_DEP - 1 ? 3
								  : 0};
		snprintf(sql, sizeof(sql),
			 "INSERT INTO deployments (seq, id, application, deployment_group, deployment_config,"
			 " compute_platform, status, creator, create_time, doc) VALUES (%d, 'd-%09d', 'app', 'g%d',"
			 " 'CodeDeployDefault.OneAtATime', 'Server', '%s', 'user', %lld, '{}')",
			 deps[i].seq, deps[i].seq, deps[i].group, statuses[deps[i].status], (long long)deps[i].ctime);
		exec(st, sql);
	}
}

static bool matches(const struct dep *d, int group, unsigned status_mask, int64_t lo, int64_t hi)
{
	return (group < 0 || d->group == group) && (!status_mask || (status_mask & (1u << d->status))) &&
	       (lo < 0 || d->ctime >= lo) && (hi < 0 || d->ctime <= hi);
}

static int newer_first(const void *a, const void *b)
{
	const struct dep *x = *(const struct dep *const *)a, *y = *(const struct dep *const *)b;
	if (x->ctime != y->ctime)
		return x->ctime < y->ctime ? 1 : -1;
	return y->seq - x->seq;
}

/* Pages of `limit` through the store equal the brute-force answer. */
static void check_list(struct store *st, int group, unsigned status_mask, int64_t lo, int64_t hi, size_t limit)
{
	const struct dep *want[N_DEP];
	size_t n_want = 0, got = 0;
	char gname[8];
	json_t *sts = NULL;
	struct store_deployment_query q = {.start_ms = lo, .end_ms = hi, .limit = limit};

	for (int i = 0; i < N_DEP; i++)
		if (matches(&deps[i], group, status_mask, lo, hi))
			want[n_want++] = &deps[i];
	qsort(want, n_want, sizeof(want[0]), newer_first);
	if (group >= 0) {
		snprintf(gname, sizeof(gname), "g%d", group);
		q.app = "app";
		q.group = gname;
	}
	if (status_mask) {
		sts = json_array();
		for (int k = 0; k < 4; k++)
			if (status_mask & (1u << k)) {
				json_array_append_new(sts, json_string(statuses[k]));
				json_array_append_new(sts, json_string(statuses[k])); /* twice: once in the page */
			}
		q.statuses = sts;
	}
	for (int page = 0;; page++) {
		json_t *ids = NULL;
		int64_t last = 0;
		bool more = false;
		assert_true(page <= N_DEP);
		assert_int_equal(store_deployment_list(st, &q, &ids, &last, &more), 0);
		for (size_t k = 0; k < json_array_size(ids); k++, got++) {
			char id[16];
			assert_true(got < n_want);
			snprintf(id, sizeof(id), "d-%09d", want[got]->seq);
			assert_string_equal(json_string_value(json_array_get(ids, k)), id);
		}
		assert_true(json_array_size(ids) <= limit);
		json_decref(ids);
		if (!more)
			break;
		assert_int_equal(last, want[got - 1]->seq);
		q.before_seq = last;
	}
	assert_int_equal(got, n_want);
	json_decref(sts);
}

static void test_list_pages(void **state)
{
	char *dir;
	struct store *st = open_store(&dir);

	(void)state;
	fill(st);
	for (size_t limit = 1; limit <= 64; limit *= 4) {
		check_list(st, -1, 0, -1, -1, limit);
		check_list(st, 1, 0, -1, -1, limit);
		check_list(st, -1, 1u << 1, -1, -1, limit);
		check_list(st, -1, (1u << 1) | (1u << 2) | (1u << 3), -1, -1, limit);
		check_list(st, 2, (1u << 0) | (1u << 2), -1, -1, limit);
		check_list(st, -1, 0, 1030000, 1090000, limit);
		check_list(st, 0, 1u << 0, 1010000, 1100500, limit);
		check_list(st, -1, (1u << 0) | (1u << 1), 1050000, -1, limit);
		check_list(st, -1, 0, -1, 1020000, limit);
	}
	check_list(st, -1, 0, 2000000, 3000000, 10); /* nothing in range */
	close_store(st, dir);
}

/* The cursor's deployment is removed between pages (retention): the next
 * page starts after it all the same. */
static void test_list_cursor_removed(void **state)
{
	char *dir, sql[256];
	struct store *st = open_store(&dir);
	struct store_deployment_query q = {.start_ms = -1, .end_ms = -1, .limit = 10};
	json_t *ids = NULL;
	int64_t last = 0;
	bool more = false;

	(void)state;
	fill(st);
	assert_int_equal(store_deployment_list(st, &q, &ids, &last, &more), 0);
	assert_true(more);
	json_decref(ids);
	snprintf(sql, sizeof(sql), "DELETE FROM deployments WHERE seq = %lld", (long long)last);
	exec(st, sql);
	q.before_seq = last;
	assert_int_equal(store_deployment_list(st, &q, &ids, &last, &more), 0);
	assert_int_equal(json_array_size(ids), 10);
	/* the first page ended with seq 300 (InProgress, newest) ... 291; the
	 * next starts at 290 */
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "d-000000290");
	json_decref(ids);
	close_store(st, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hot_statements_use_indexes),
	    cmocka_unit_test(test_list_pages),
	    cmocka_unit_test(test_list_cursor_removed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
