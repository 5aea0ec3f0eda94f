/* daemon/store/store_shared_keys.c: the first value recorded under a name
 * stays; every later claim gets it back; a read without a value finds it
 * or -ENOENT. On SQLite and on PostgreSQL. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "store/store.h"
#include "store_backends.h"

static struct rd_error rerr;

static void test_claim(void **state)
{
	char *dir = tu_mkdtemp();
	struct store *st = NULL, *st2 = NULL;
	char *got = NULL;

	(void)state;
	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	assert_int_equal(store_shared_key_claim(st, "kek_check", NULL, &got), -ENOENT);
	assert_int_equal(store_shared_key_claim(st, "kek_check", "first", &got), 0);
	assert_string_equal(got, "first");
	free(got);
	/* another daemon on the same database */
	assert_int_equal(tu_store_open(dir, &st2, &rerr), 0);
	assert_int_equal(store_shared_key_claim(st2, "kek_check", "second", &got), 0);
	assert_string_equal(got, "first");
	free(got);
	assert_int_equal(store_shared_key_claim(st2, "kek_check", NULL, &got), 0);
	assert_string_equal(got, "first");
	free(got);
	/* names are apart */
	assert_int_equal(store_shared_key_claim(st2, "tls_sha256", "none", &got), 0);
	assert_string_equal(got, "none");
	free(got);
	store_close(st2);
	store_close(st);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_claim),
	};
	int r = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	if (!tu_pg_start())
		return r;
	tu_on_pg = true;
	return r | cmocka_run_group_tests_name("postgresql", tests, NULL, NULL);
}
