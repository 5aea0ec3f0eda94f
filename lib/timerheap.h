/* Timers ordered by due time: a binary min-heap of intrusive timers, so
 * whoever waits for many deadlines (the engine: every host's long poll,
 * pick-up and heartbeat window; every deployment's waits) looks only at the
 * earliest one instead of scanning them all.
 *
 * A struct rd_timer lives inside its owner (container_of finds the owner)
 * and knows its place in the heap, so schedule (also to move it), cancel
 * and pop are O(log n) and the earliest is O(1). Timers due at the same
 * time come out in the order they were scheduled. Not thread-safe. Library
 * code: never logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rd_timer {
	int64_t at;   /* when it is due (the caller's clock, e.g. rd_mono_ms) */
	uint64_t seq; /* schedule order, for ties */
	size_t pos;   /* its index in the heap plus one; 0: not scheduled */
};

struct rd_timerheap {
	struct rd_timer **v;
	size_t n, cap;
	uint64_t seq;
};

#define RD_TIMERHEAP_INIT                                                                                              \
	{                                                                                                              \
		0                                                                                                      \
	}

static inline bool rd_timer_pending(const struct rd_timer *t)
{
	return t->pos != 0;
}

/* Schedules t at `at`, or moves it there when it is already scheduled. 0,
 * or -ENOMEM (t keeps its previous state). */
int rd_timer_schedule(struct rd_timerheap *h, struct rd_timer *t, int64_t at);

/* Unschedules t; nothing when it is not scheduled. */
void rd_timer_cancel(struct rd_timerheap *h, struct rd_timer *t);

/* The earliest timer (still scheduled), or NULL when none is. */
static inline struct rd_timer *rd_timerheap_first(const struct rd_timerheap *h)
{
	return h->n ? h->v[0] : NULL;
}

/* Unschedules and returns the earliest timer if it is due at or before
 * now; NULL otherwise. */
struct rd_timer *rd_timerheap_pop_due(struct rd_timerheap *h, int64_t now);

/* Unschedules every timer and frees the heap's array. */
void rd_timerheap_clear(struct rd_timerheap *h);
