/* lib/duration: the one duration syntax, its units, its errors and the
 * caller's cap. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "duration.h"

static int64_t ok(const char *s, int64_t max_ms)
{
	int64_t ms = -1;

	assert_int_equal(rd_duration_parse_ms(s, max_ms, &ms), 0);
	return ms;
}

static void test_units(void **state)
{
	(void)state;
	assert_int_equal(ok("90", INT64_MAX), 90000); /* a bare number is seconds */
	assert_int_equal(ok("90s", INT64_MAX), 90000);
	assert_int_equal(ok("250ms", INT64_MAX), 250);
	assert_int_equal(ok("5m", INT64_MAX), 300000);
	assert_int_equal(ok("2h", INT64_MAX), 7200000);
	assert_int_equal(ok("90d", INT64_MAX), 7776000000LL);
	assert_int_equal(ok("1.5s", INT64_MAX), 1500);
	assert_int_equal(ok("0.25m", INT64_MAX), 15000);
	assert_int_equal(ok("0", INT64_MAX), 0);
	assert_int_equal(ok("0.4ms", INT64_MAX), 0); /* fractions of a millisecond are dropped */
}

static void test_not_a_duration(void **state)
{
	static const char *const bad[] = {"", "s", "5w", "5 m", "5mm", "-3", "-1s", "abc", "inf", "nan", "1e400"};
	int64_t ms = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = rd_duration_parse_ms(bad[i], INT64_MAX, &ms);
		if (r != -EINVAL)
			fail_msg("'%s': got %d, want -EINVAL", bad[i], r);
	}
	assert_int_equal(rd_duration_parse_ms(NULL, INT64_MAX, &ms), -EINVAL);
	assert_int_equal(ms, 42); /* untouched on error */
}

static void test_cap(void **state)
{
	int64_t ms = 42;

	(void)state;
	/* each caller passes its own cap; at the cap is fine, above is -ERANGE */
	assert_int_equal(ok("1h", 3600000), 3600000);
	assert_int_equal(rd_duration_parse_ms("3601s", 3600000, &ms), -ERANGE);
	assert_int_equal(rd_duration_parse_ms("168h", 7 * 24 * 3600 * 1000LL, &ms), 0);
	assert_int_equal(rd_duration_parse_ms("999999h", 7 * 24 * 3600 * 1000LL, &ms), -ERANGE);
	/* past what a double holds to the millisecond, whatever the cap */
	assert_int_equal(rd_duration_parse_ms("1e13s", INT64_MAX, &ms), -ERANGE);
	assert_int_equal(ms, 604800000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_units),
	    cmocka_unit_test(test_not_a_duration),
	    cmocka_unit_test(test_cap),
	};
	return cmocka_run_group_tests_name("duration", tests, NULL, NULL);
}
