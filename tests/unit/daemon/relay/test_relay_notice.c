/* daemon/relay/relay_notice.c: the rolloutd_host notice. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/relay_notice.h"

static void test_round_trip(void **state)
{
	const char *hosts[] = {"web-1", "i-0123456789abcdef0", "h\"q"};
	char *p = NULL, url[64];
	json_t *got = NULL;
	size_t used = 0;

	(void)state;
	assert_int_equal(relay_notice_encode("https://a:8740", hosts, 3, &used, &p), 0);
	assert_int_equal(used, 3);
	assert_int_equal(relay_notice_decode(p, url, sizeof(url), &got), 0);
	assert_string_equal(url, "https://a:8740");
	assert_int_equal(json_array_size(got), 3);
	assert_string_equal(json_string_value(json_array_get(got, 2)), "h\"q");
	json_decref(got);
	/* the URL does not fit the caller's buffer */
	assert_int_equal(relay_notice_decode(p, url, 5, &got), -EINVAL);
	free(p);
}

static void test_split(void **state)
{
	static char names[400][24];
	const char *hosts[400];
	size_t used = 0, total = 0;
	char *p;

	(void)state;
	for (int i = 0; i < 400; i++) {
		snprintf(names[i], sizeof(names[i]), "host-%04d.example", i);
		hosts[i] = names[i];
	}
	/* what does not fit one notice goes in the next */
	while (total < 400) {
		assert_int_equal(relay_notice_encode("http://10.0.0.1:8740", hosts + total, 400 - total, &used, &p), 0);
		assert_true(strlen(p) <= RELAY_NOTICE_MAX);
		assert_true(used > 0);
		total += used;
		free(p);
	}
	assert_true(used < 400);
	assert_int_equal(relay_notice_encode("", hosts, 1, &used, &p), -EINVAL);
	assert_int_equal(relay_notice_encode("u", hosts, 0, &used, &p), -EINVAL);
}

static void test_refused(void **state)
{
	char url[64];
	json_t *got;

	(void)state;
	assert_int_equal(relay_notice_decode(NULL, url, sizeof(url), &got), -EINVAL);
	assert_int_equal(relay_notice_decode("not json", url, sizeof(url), &got), -EINVAL);
	assert_int_equal(relay_notice_decode("{\"u\":\"x\"}", url, sizeof(url), &got), -EINVAL);
	assert_int_equal(relay_notice_decode("{\"u\":\"x\",\"h\":[1]}", url, sizeof(url), &got), -EINVAL);
	assert_int_equal(relay_notice_decode("{\"u\":\"x\",\"h\":[\"\"]}", url, sizeof(url), &got), -EINVAL);
	assert_int_equal(relay_notice_decode("{\"u\":\"\",\"h\":[\"a\"]}", url, sizeof(url), &got), -EINVAL);
	assert_int_equal(relay_notice_decode("{\"u\":\"x\",\"h\":[\"a\"],\"z\":1}", url, sizeof(url), &got), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_split),
	    cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
