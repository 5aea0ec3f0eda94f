/* daemon/core/httpd_limit: an address past its failed signatures waits out
 * its minute, others do not; a full table makes room with its oldest entry. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

#include "core/httpd_internal.h"

static void test_limit_per_address(void **state)
{
	struct httpd_limit *l = httpd_limit_new(3);

	assert_non_null(l);
	assert_int_equal(httpd_limit_wait_ms(l, "10.0.0.1"), 0);
	for (int i = 0; i < 2; i++)
		httpd_limit_failed(l, "10.0.0.1");
	assert_int_equal(httpd_limit_wait_ms(l, "10.0.0.1"), 0);
	httpd_limit_failed(l, "10.0.0.1");
	int w = httpd_limit_wait_ms(l, "10.0.0.1");
	assert_true(w > 55000 && w <= 60000);
	assert_int_equal(httpd_limit_wait_ms(l, "10.0.0.2"), 0);
	assert_int_equal(httpd_limit_wait_ms(l, ""), 0);
	l = httpd_limit_free(l);
	assert_null(l);
}

static void test_no_limit(void **state)
{
	struct httpd_limit *l = httpd_limit_new(0);

	for (int i = 0; i < 10; i++)
		httpd_limit_failed(l, "10.0.0.1");
	assert_int_equal(httpd_limit_wait_ms(l, "10.0.0.1"), 0);
	httpd_limit_free(l);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* 1,024 slots: a new address in a full table takes the slot whose minute
 * began first, the others keep their counts */
static void test_full_table_replaces_oldest(void **state)
{
	struct httpd_limit *l = httpd_limit_new(1);
	char a[64];

	httpd_limit_failed(l, "oldest");
	sleep_ms(5); /* the other minutes begin later */
	for (int i = 0; i < 1023; i++) {
		snprintf(a, sizeof(a), "10.1.%d.%d", i / 256, i % 256);
		httpd_limit_failed(l, a);
	}
	assert_true(httpd_limit_wait_ms(l, "oldest") > 0);
	assert_true(httpd_limit_wait_ms(l, "10.1.3.254") > 0);
	httpd_limit_failed(l, "newcomer");
	assert_true(httpd_limit_wait_ms(l, "newcomer") > 0);
	assert_int_equal(httpd_limit_wait_ms(l, "oldest"), 0);
	for (int i = 0; i < 1023; i++) {
		snprintf(a, sizeof(a), "10.1.%d.%d", i / 256, i % 256);
		assert_true(httpd_limit_wait_ms(l, a) > 0);
	}
	httpd_limit_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limit_per_address),
	    cmocka_unit_test(test_no_limit),
	    cmocka_unit_test(test_full_table_replaces_oldest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
