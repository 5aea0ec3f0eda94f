/* daemon/core/metrics.c: the text format of counters, gauges and
 * histograms with labels (escaping, cumulative buckets, +Inf, _sum and
 * _count), collectors, cleared gauges, and updates from several threads. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/metrics.h"

static char *render(void)
{
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(metrics_render(&out, &len), 0);
	assert_int_equal(strlen(out), len);
	return out;
}

static void has(const char *text, const char *line)
{
	if (!strstr(text, line))
		fail_msg("missing \"%s\" in:\n%s", line, text);
}

static void test_counter_gauge(void **state)
{
	struct metric *c = metric_counter("t_requests_total", "Requests.\nSecond line \\ too",
					  (const char *const[]){"op", "result", NULL});
	struct metric *g = metric_gauge("t_up", "Up.", NULL);
	char *out;

	assert_ptr_equal(c, metric_counter("t_requests_total", "again", (const char *const[]){"op", "result", NULL}));
	assert_null(metric_gauge("t_requests_total", "other type", NULL));
	assert_null(metric_counter("0bad", "bad name", NULL));
	metric_inc(c, "Create", "ok");
	metric_inc(c, "Create", "ok");
	metric_add(c, 3, "Get", "client_error");
	metric_add(c, -1, "Get", "client_error"); /* counters never go down */
	metric_inc(c, "quote\"back\\slash\nnl", "ok");
	metric_set(g, 1, NULL);
	metric_inc(NULL, "x"); /* NULL family: nothing */
	out = render();
	has(out, "# HELP t_requests_total Requests.\\nSecond line \\\\ too\n# TYPE t_requests_total counter\n");
	has(out, "t_requests_total{op=\"Create\",result=\"ok\"} 2\n");
	has(out, "t_requests_total{op=\"Get\",result=\"client_error\"} 3\n");
	has(out, "t_requests_total{op=\"quote\\\"back\\\\slash\\nnl\",result=\"ok\"} 1\n");
	has(out, "# TYPE t_up gauge\nt_up 1\n");
	free(out);
	metric_clear(g);
	out = render();
	assert_null(strstr(out, "t_up 1"));
	has(out, "# TYPE t_up gauge\n");
	free(out);
	metrics_reset();
}

static void test_histogram(void **state)
{
	static const double b[] = {0.1, 1, 10};
	struct metric *h = metric_histogram("t_seconds", "Durations.", (const char *const[]){"event", NULL}, b, 3);
	char *out;

	metric_observe(h, 0.05, "Install");
	metric_observe(h, 0.1, "Install"); /* le is inclusive */
	metric_observe(h, 5, "Install");
	metric_observe(h, 50, "Install");
	out = render();
	has(out, "# TYPE t_seconds histogram\n");
	has(out, "t_seconds_bucket{event=\"Install\",le=\"0.1\"} 2\n");
	has(out, "t_seconds_bucket{event=\"Install\",le=\"1\"} 2\n");
	has(out, "t_seconds_bucket{event=\"Install\",le=\"10\"} 3\n");
	has(out, "t_seconds_bucket{event=\"Install\",le=\"+Inf\"} 4\n");
	has(out, "t_seconds_sum{event=\"Install\"} 55.149999999999999\n");
	has(out, "t_seconds_count{event=\"Install\"} 4\n");
	free(out);
	metrics_reset();
}

static int collected;
static void collect(void *ud)
{
	metric_set(ud, 42, "a");
	collected++;
}

static void test_collector(void **state)
{
	struct metric *g = metric_gauge("t_state", "State.", (const char *const[]){"k", NULL});
	char *out;

	assert_int_equal(metrics_add_collector(collect, g), 0);
	out = render();
	has(out, "t_state{k=\"a\"} 42\n");
	assert_int_equal(collected, 1);
	free(out);
	metrics_reset();
}

static struct metric *shared;
static void *worker(void *arg)
{
	char name[16];
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "k%d", i % 50);
		metric_inc(shared, name);
	}
	return NULL;
}

/* The store commits (migrations) before metrics_declare(): the family made
 * by the first update gets its help from the later declaration. */
static void test_store_tx_before_declare(void **state)
{
	char *out;

	metric_store_tx(0, 7);
	metrics_declare();
	out = render();
	assert_non_null(strstr(out, "# HELP rolloutd_store_transaction_rows Rows each committed"));
	assert_non_null(strstr(out, "rolloutd_store_transaction_rows_bucket{le=\"10\"} 1\n"));
	assert_non_null(strstr(out, "rolloutd_store_transaction_rows_sum 7\n"));
	assert_non_null(strstr(out, "rolloutd_store_transaction_duration_seconds_count 1\n"));
	free(out);
	metrics_reset();
}

static void test_threads(void **state)
{
	pthread_t t[4];
	char *out;

	shared = metric_counter("t_hits_total", "Hits.", (const char *const[]){"k", NULL});
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	out = render();
	has(out, "t_hits_total{k=\"k0\"} 1600\n");
	has(out, "t_hits_total{k=\"k49\"} 1600\n");
	free(out);
	metrics_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counter_gauge), cmocka_unit_test(test_histogram),
	    cmocka_unit_test(test_collector),	  cmocka_unit_test(test_store_tx_before_declare),
	    cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
