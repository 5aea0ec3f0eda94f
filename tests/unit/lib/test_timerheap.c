/* lib/timerheap: due order (ties in scheduling order), cancel and
 * reschedule anywhere in the heap, and many timers against a sorted model. */
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

#include "timerheap.h"

struct item {
	int id;
	struct rd_timer timer;
};

#define ITEM(t) ((struct item *)((char *)(t)-offsetof(struct item, timer)))

static void test_order_and_ties(void **state)
{
	struct rd_timerheap h = RD_TIMERHEAP_INIT;
	struct item it[6] = {{0}, {1}, {2}, {3}, {4}, {5}};
	static const int64_t at[6] = {50, 10, 30, 10, 20, 10};
	static const int want[6] = {1, 3, 5, 4, 2, 0}; /* the three at 10 in scheduling order */
	struct rd_timer *t;

	(void)state;
	assert_null(rd_timerheap_first(&h));
	assert_null(rd_timerheap_pop_due(&h, 1000));
	for (int i = 0; i < 6; i++) {
		assert_false(rd_timer_pending(&it[i].timer));
		assert_int_equal(rd_timer_schedule(&h, &it[i].timer, at[i]), 0);
		assert_true(rd_timer_pending(&it[i].timer));
	}
	assert_int_equal(ITEM(rd_timerheap_first(&h))->id, 1);
	assert_null(rd_timerheap_pop_due(&h, 9)); /* nothing due yet */
	for (int i = 0; i < 6; i++) {
		t = rd_timerheap_pop_due(&h, 100);
		assert_non_null(t);
		assert_int_equal(ITEM(t)->id, want[i]);
		assert_false(rd_timer_pending(t));
	}
	assert_null(rd_timerheap_pop_due(&h, 100));
	rd_timerheap_clear(&h);
}

static void test_cancel_reschedule(void **state)
{
	struct rd_timerheap h = RD_TIMERHEAP_INIT;
	struct item it[5] = {{0}, {1}, {2}, {3}, {4}};

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_int_equal(rd_timer_schedule(&h, &it[i].timer, 100 + 10 * i), 0);
	rd_timer_cancel(&h, &it[0].timer); /* the first */
	rd_timer_cancel(&h, &it[0].timer); /* twice: nothing */
	rd_timer_cancel(&h, &it[3].timer); /* one in the middle */
	assert_false(rd_timer_pending(&it[0].timer));
	assert_int_equal(rd_timer_schedule(&h, &it[4].timer, 5), 0);   /* moved earlier */
	assert_int_equal(rd_timer_schedule(&h, &it[1].timer, 500), 0); /* moved later */
	assert_int_equal(h.n, 3);
	assert_int_equal(ITEM(rd_timerheap_pop_due(&h, 1000))->id, 4);
	assert_int_equal(ITEM(rd_timerheap_pop_due(&h, 1000))->id, 2);
	assert_null(rd_timerheap_pop_due(&h, 499));
	assert_int_equal(ITEM(rd_timerheap_pop_due(&h, 500))->id, 1);
	assert_null(rd_timerheap_first(&h));
	/* a popped timer can be scheduled again */
	assert_int_equal(rd_timer_schedule(&h, &it[1].timer, 7), 0);
	assert_int_equal(rd_timer_schedule(&h, &it[0].timer, 8), 0);
	rd_timerheap_clear(&h);
	assert_false(rd_timer_pending(&it[0].timer));
	assert_false(rd_timer_pending(&it[1].timer));
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* 20,000 timers at pseudo-random times, a third cancelled, a third moved:
 * they come out in due order, each once, and the heap holds exactly the
 * pending ones. */
static void test_many(void **state)
{
	enum { N = 20000 };
	struct rd_timerheap h = RD_TIMERHEAP_INIT;
	static struct item it[N];
	static int64_t model[N];
	size_t nm = 0;
	uint32_t x = 12345;
	int64_t last = INT64_MIN;
	struct rd_timer *t;

	(void)state;
	for (int i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		it[i].id = i;
		assert_int_equal(rd_timer_schedule(&h, &it[i].timer, (int64_t)(x >> 8) % 100000), 0);
	}
	for (int i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		if (i % 3 == 0)
			rd_timer_cancel(&h, &it[i].timer);
		else if (i % 3 == 1)
			assert_int_equal(rd_timer_schedule(&h, &it[i].timer, (int64_t)(x >> 8) % 100000), 0);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(rd_timer_pending(&it[i].timer), i % 3 != 0);
		if (i % 3 != 0)
			model[nm++] = it[i].timer.at;
	}
	assert_int_equal(h.n, nm);
	qsort(model, nm, sizeof(*model), cmp_i64);
	for (size_t k = 0; k < nm; k++) {
		t = rd_timerheap_pop_due(&h, INT64_MAX);
		assert_non_null(t);
		assert_true(t->at >= last);
		assert_int_equal(t->at, model[k]);
		assert_int_not_equal(ITEM(t)->id % 3, 0);
		last = t->at;
	}
	assert_null(rd_timerheap_pop_due(&h, INT64_MAX));
	rd_timerheap_clear(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_and_ties),
	    cmocka_unit_test(test_cancel_reschedule),
	    cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
