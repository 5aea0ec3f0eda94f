/* daemon/cluster/cluster.c without a database: how many orphaned
 * deployments one daemon takes per takeover round (cluster_share), and the
 * URL it advertises to the others (a wildcard listen needs
 * cluster.advertise_url). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/cluster.h"
#include "core/conf.h"

static void test_share(void **state)
{
	(void)state;
	/* nothing orphaned: nothing to take */
	assert_int_equal(cluster_share(0, 3), 0);
	assert_int_equal(cluster_share(0, 0), 0);
	/* fewer orphans than daemons: each takes one (the first to claim wins) */
	assert_int_equal(cluster_share(1, 3), 1);
	assert_int_equal(cluster_share(2, 3), 1);
	/* rounded up, so that the daemons alive together take every orphan in one round */
	assert_int_equal(cluster_share(3, 3), 1);
	assert_int_equal(cluster_share(4, 3), 2);
	assert_int_equal(cluster_share(7, 2), 4);
	assert_int_equal(cluster_share(10, 1), 10);
	/* a daemon that counted no live daemon (itself not yet visible) takes all */
	assert_int_equal(cluster_share(5, 0), 5);
	for (size_t n = 0; n <= 50; n++) {
		for (size_t alive = 1; alive <= 8; alive++) {
			size_t s = cluster_share(n, alive);
			/* together they cover n, and no daemon takes more than one extra */
			assert_true(s * alive >= n);
			assert_true(s == 0 || (s - 1) * alive < n);
			assert_true(n == 0 || s >= 1);
		}
	}
}

static int advertise(const char *listen, const char *advertise_url, const char *tls_cert, char *buf, size_t len,
		     struct rd_error *err)
{
	struct rd_config cfg = {0};

	cfg.path = (char *)"/etc/rolloutd/rolloutd.yml";
	cfg.listen = (char *)listen;
	cfg.cluster_advertise_url = (char *)advertise_url;
	cfg.tls_cert = (char *)tls_cert;
	*err = (struct rd_error)RD_ERROR_INIT;
	return cluster_advertise_url(&cfg, buf, len, err);
}

static void test_advertise_url(void **state)
{
	static const char *const wildcards[] = {"0.0.0.0:8740", "[::]:8740", "[0:0:0:0:0:0:0:0]:8740", "[::0]:8740",
						"*:8740"};
	struct rd_error err;
	char buf[256];

	(void)state;
	/* a listener with a host: that host */
	assert_int_equal(advertise("10.0.0.11:8740", NULL, NULL, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "http://10.0.0.11:8740");
	assert_int_equal(advertise("[fd00::11]:8740", NULL, "/etc/rolloutd/tls.crt", buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "https://[fd00::11]:8740");
	assert_int_equal(advertise("rolloutd-1.internal:8740", NULL, NULL, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "http://rolloutd-1.internal:8740");
	/* a wildcard: refused, naming the file, the listener and the setting */
	for (size_t i = 0; i < sizeof(wildcards) / sizeof(wildcards[0]); i++) {
		assert_int_equal(advertise(wildcards[i], NULL, NULL, buf, sizeof(buf), &err), -EINVAL);
		assert_string_equal(err.code, "ConfigError");
		assert_non_null(strstr(err.message, "/etc/rolloutd/rolloutd.yml: listen "));
		assert_non_null(strstr(err.message, wildcards[i]));
		assert_non_null(strstr(err.message, "is a wildcard address"));
		assert_non_null(strstr(err.message, "set cluster.advertise_url (e.g. http://10.0.0.11:8740)"));
	}
	assert_int_equal(advertise("0.0.0.0:8740", NULL, "/etc/rolloutd/tls.crt", buf, sizeof(buf), &err), -EINVAL);
	assert_non_null(strstr(err.message, "(e.g. https://10.0.0.11:8740)"));
	/* not wildcards: an address that merely contains zeros */
	assert_int_equal(advertise("10.0.0.0:8740", NULL, NULL, buf, sizeof(buf), &err), 0);
	assert_int_equal(advertise("[::1]:8740", NULL, NULL, buf, sizeof(buf), &err), 0);
	/* a wildcard with advertise_url set: the setting */
	assert_int_equal(advertise("0.0.0.0:8740", "https://10.0.0.12:8740", NULL, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "https://10.0.0.12:8740");
	/* too long for the caller's buffer: an error, not a cut URL */
	assert_int_equal(advertise("10.0.0.11:8740", NULL, NULL, buf, 10, &err), -ENAMETOOLONG);
	assert_non_null(strstr(err.message, "set cluster.advertise_url"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_share),
	    cmocka_unit_test(test_advertise_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
