/* daemon/workpool: every job runs once; free drains the queue. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "core/workpool.h"

static atomic_int counter;

static void job(void *arg)
{
	atomic_fetch_add(&counter, (int)(intptr_t)arg);
}

static void test_runs_all(void **state)
{
	struct workpool *p = NULL;

	atomic_store(&counter, 0);
	assert_int_equal(workpool_new(4, &p), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(workpool_submit(p, job, (void *)(intptr_t)1), 0);
	p = workpool_free(p);
	assert_null(p);
	assert_int_equal(atomic_load(&counter), 1000);
}

static void test_shutdown_then_free(void **state)
{
	struct workpool *p = NULL;

	atomic_store(&counter, 0);
	assert_int_equal(workpool_new(2, &p), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(workpool_submit(p, job, (void *)(intptr_t)2), 0);
	workpool_shutdown(p);
	assert_int_equal(atomic_load(&counter), 200); /* queued jobs ran */
	assert_int_equal(workpool_submit(p, job, (void *)(intptr_t)1), -ESHUTDOWN);
	workpool_shutdown(p); /* idempotent */
	assert_null(workpool_free(p));
	assert_int_equal(atomic_load(&counter), 200);
}

static void test_bounds(void **state)
{
	struct workpool *p = NULL;

	assert_int_equal(workpool_new(0, &p), -EINVAL);
	assert_int_equal(workpool_new(257, &p), -EINVAL);
	assert_null(workpool_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_runs_all),
	    cmocka_unit_test(test_shutdown_then_free),
	    cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
