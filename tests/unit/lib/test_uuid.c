/* lib/uuid: the layout of a version-4 UUID and that two are not alike. */
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

#include "uuid.h"

static void test_layout(void **state)
{
	char u[RD_UUID_LEN];

	(void)state;
	for (int n = 0; n < 200; n++) {
		assert_int_equal(rd_uuid4(u), 0);
		assert_int_equal(strlen(u), 36);
		for (int i = 0; i < 36; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				assert_int_equal(u[i], '-');
			else if (!strchr("0123456789abcdef", u[i]))
				fail_msg("%s: '%c' at %d is not lower-case hex", u, u[i], i);
		}
		assert_int_equal(u[14], '4');		/* version */
		assert_non_null(strchr("89ab", u[19])); /* variant */
	}
}

static void test_unique(void **state)
{
	char a[RD_UUID_LEN], b[RD_UUID_LEN];

	(void)state;
	assert_int_equal(rd_uuid4(a), 0);
	assert_int_equal(rd_uuid4(b), 0);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_unique),
	};
	return cmocka_run_group_tests_name("uuid", tests, NULL, NULL);
}
