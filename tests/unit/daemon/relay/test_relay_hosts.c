/* daemon/relay/relay_hosts.c: which daemon drives the command waiting for a
 * host, remembered for a while. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay/relay_hosts.h"

static void test_put_get_expire(void **state)
{
	struct relay_hosts *m = relay_hosts_new(100);
	char url[64];

	(void)state;
	assert_int_equal(relay_hosts_get(m, "web-1", 0, url, sizeof(url)), -ENOENT);
	relay_hosts_put(m, "web-1", "https://a:8740", 1000, 500);
	assert_int_equal(relay_hosts_get(m, "web-1", 1499, url, sizeof(url)), 0);
	assert_string_equal(url, "https://a:8740");
	assert_int_equal(relay_hosts_get(m, "web-1", 1500, url, sizeof(url)), -ENOENT);
	/* a newer announcement moves the host and extends its life */
	relay_hosts_put(m, "web-1", "https://b:8740", 1400, 500);
	assert_int_equal(relay_hosts_get(m, "web-1", 1800, url, sizeof(url)), 0);
	assert_string_equal(url, "https://b:8740");
	/* a buffer too small is no answer */
	assert_int_equal(relay_hosts_get(m, "web-1", 1800, url, 5), -ENOENT);
	assert_int_equal(relay_hosts_size(m), 1);
	relay_hosts_free(m);
}

static void test_forget(void **state)
{
	struct relay_hosts *m = relay_hosts_new(100);
	char url[64];

	(void)state;
	relay_hosts_put(m, "web-1", "https://b:8740", 0, 1000);
	/* a poll relayed to a came back empty, but b announced since: b stays */
	relay_hosts_forget(m, "web-1", "https://a:8740");
	assert_int_equal(relay_hosts_get(m, "web-1", 10, url, sizeof(url)), 0);
	relay_hosts_forget(m, "web-1", "https://b:8740");
	assert_int_equal(relay_hosts_get(m, "web-1", 10, url, sizeof(url)), -ENOENT);
	relay_hosts_forget(m, "nobody", "https://b:8740");
	assert_int_equal(relay_hosts_size(m), 0);
	relay_hosts_free(m);
}

static void test_cap(void **state)
{
	struct relay_hosts *m = relay_hosts_new(3);
	char url[64];

	(void)state;
	relay_hosts_put(m, "h1", "u", 0, 100);
	relay_hosts_put(m, "h2", "u", 0, 100);
	relay_hosts_put(m, "h3", "u", 0, 1000);
	/* full and nothing expired: not remembered (the database answers) */
	relay_hosts_put(m, "h4", "u", 50, 100);
	assert_int_equal(relay_hosts_get(m, "h4", 60, url, sizeof(url)), -ENOENT);
	/* full, two expired: swept, then remembered */
	relay_hosts_put(m, "h4", "u", 200, 100);
	assert_int_equal(relay_hosts_get(m, "h4", 210, url, sizeof(url)), 0);
	assert_int_equal(relay_hosts_get(m, "h3", 210, url, sizeof(url)), 0);
	assert_int_equal(relay_hosts_size(m), 2);
	assert_null(relay_hosts_free(m));
	assert_null(relay_hosts_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_get_expire),
	    cmocka_unit_test(test_forget),
	    cmocka_unit_test(test_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
