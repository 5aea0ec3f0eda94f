/* lib/strmap: insert, replace, remove and grow, against a plain array as
 * the model, with many keys and keys that collide in the table. */
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

#include "strmap.h"

static void test_empty(void **state)
{
	struct rd_strmap m = RD_STRMAP_INIT;
	size_t it = 0;

	(void)state;
	assert_null(rd_strmap_get(&m, "a"));
	assert_null(rd_strmap_del(&m, "a"));
	assert_false(rd_strmap_next(&m, &it, NULL, NULL));
	assert_int_equal(rd_strmap_size(&m), 0);
	rd_strmap_clear(&m);
}

static void test_put_add_del(void **state)
{
	struct rd_strmap m = RD_STRMAP_INIT;
	int a = 1, b = 2, c = 3;
	char key[] = "host-1";

	(void)state;
	assert_int_equal(rd_strmap_put(&m, "host-1", &a), 0);
	assert_int_equal(rd_strmap_put(&m, "host-2", &b), 0);
	assert_ptr_equal(rd_strmap_get(&m, key), &a); /* equal strings, not equal pointers */
	assert_int_equal(rd_strmap_add(&m, "host-1", &c), -EEXIST);
	assert_ptr_equal(rd_strmap_get(&m, "host-1"), &a);
	assert_int_equal(rd_strmap_put(&m, "host-1", &c), 0); /* replaces */
	assert_ptr_equal(rd_strmap_get(&m, "host-1"), &c);
	assert_int_equal(rd_strmap_size(&m), 2);
	assert_null(rd_strmap_get(&m, "host-3"));
	assert_null(rd_strmap_get(&m, ""));
	assert_ptr_equal(rd_strmap_del(&m, "host-1"), &c);
	assert_null(rd_strmap_get(&m, "host-1"));
	assert_null(rd_strmap_del(&m, "host-1"));
	assert_ptr_equal(rd_strmap_get(&m, "host-2"), &b);
	assert_int_equal(rd_strmap_size(&m), 1);
	assert_int_equal(rd_strmap_add(&m, "", &a), 0); /* the empty string is a key like any other */
	assert_ptr_equal(rd_strmap_get(&m, ""), &a);
	rd_strmap_clear(&m);
	assert_int_equal(rd_strmap_size(&m), 0);
	assert_null(rd_strmap_get(&m, "host-2"));
}

/* Many keys, inserted, partly removed, reinserted: every lookup agrees with
 * the model (which keys are in), the map grows past many doublings, and
 * iteration visits each entry once. */
static void test_many(void **state)
{
	enum { N = 20000 };
	struct rd_strmap m = RD_STRMAP_INIT;
	static char keys[N][24];
	static bool in[N];
	size_t it = 0, seen = 0, want = 0;
	const char *k;
	void *v;

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "i-%08x", (unsigned)i * 2654435761u);
		assert_int_equal(rd_strmap_add(&m, keys[i], keys[i]), 0);
		in[i] = true;
	}
	assert_int_equal(rd_strmap_size(&m), N);
	assert_true(m.cap >= N && m.n * 4 <= m.cap * 3);
	/* remove every third key, then every fifth of the rest: holes in runs */
	for (int i = 0; i < N; i += 3) {
		assert_ptr_equal(rd_strmap_del(&m, keys[i]), keys[i]);
		in[i] = false;
	}
	for (int i = 1; i < N; i += 5) {
		if (in[i]) {
			assert_ptr_equal(rd_strmap_del(&m, keys[i]), keys[i]);
			in[i] = false;
		} else {
			assert_null(rd_strmap_del(&m, keys[i]));
		}
	}
	for (int i = 0; i < N; i++)
		assert_ptr_equal(rd_strmap_get(&m, keys[i]), in[i] ? keys[i] : NULL);
	/* reinsert half of the removed ones */
	for (int i = 0; i < N; i += 6) {
		if (!in[i]) {
			assert_int_equal(rd_strmap_add(&m, keys[i], keys[i]), 0);
			in[i] = true;
		}
	}
	for (int i = 0; i < N; i++) {
		want += in[i];
		assert_ptr_equal(rd_strmap_get(&m, keys[i]), in[i] ? keys[i] : NULL);
	}
	assert_int_equal(rd_strmap_size(&m), want);
	while (rd_strmap_next(&m, &it, &k, &v)) {
		assert_ptr_equal(k, v);
		seen++;
	}
	assert_int_equal(seen, want);
	rd_strmap_clear(&m);
}

/* A small table where every key lands in the same few slots: deletion in
 * the middle of a run, and a run that wraps around the table's end, still
 * leave every other key findable. */
static void test_runs_and_wrap(void **state)
{
	struct rd_strmap m = RD_STRMAP_INIT;
	static const int order[12] = {5, 0, 11, 3, 8, 1, 10, 2, 7, 4, 9, 6}; /* middles first */
	char keys[12][16];
	bool gone[12] = {false};
	int n = 0;

	(void)state;
	/* keys whose home is one of the last two slots of a 16-slot table */
	for (unsigned i = 0; n < 12 && i < 100000; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%u", i);
		if ((rd_strmap_hash(k) & 15) >= 14)
			memcpy(keys[n++], k, sizeof(k));
	}
	assert_int_equal(n, 12);
	for (int i = 0; i < n; i++)
		assert_int_equal(rd_strmap_add(&m, keys[i], keys[i]), 0);
	assert_int_equal(m.cap, 16); /* 12 of 16: no growth, the run wraps */
	for (int d = 0; d < n; d++) {
		assert_ptr_equal(rd_strmap_del(&m, keys[order[d]]), keys[order[d]]);
		gone[order[d]] = true;
		for (int i = 0; i < n; i++)
			assert_ptr_equal(rd_strmap_get(&m, keys[i]), gone[i] ? NULL : keys[i]);
	}
	assert_int_equal(rd_strmap_size(&m), 0);
	rd_strmap_clear(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_put_add_del),
	    cmocka_unit_test(test_many),
	    cmocka_unit_test(test_runs_and_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
