/* Timers ordered by due time; see timerheap.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "timerheap.h"

static bool before(const struct rd_timer *a, const struct rd_timer *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void place(struct rd_timerheap *h, size_t i, struct rd_timer *t)
{
	h->v[i] = t;
	t->pos = i + 1;
}

static void sift_up(struct rd_timerheap *h, size_t i)
{
	struct rd_timer *t = h->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(t, h->v[parent]))
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, t);
}

static void sift_down(struct rd_timerheap *h, size_t i)
{
	struct rd_timer *t = h->v[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && before(h->v[c + 1], h->v[c]))
			c++;
		if (!before(h->v[c], t))
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, t);
}

/* Takes the timer at index i out of the heap. */
static void remove_at(struct rd_timerheap *h, size_t i)
{
	struct rd_timer *t = h->v[i], *last = h->v[--h->n];

	t->pos = 0;
	if (i == h->n)
		return;
	place(h, i, last);
	if (i > 0 && before(last, h->v[(i - 1) / 2]))
		sift_up(h, i);
	else
		sift_down(h, i);
}

int rd_timer_schedule(struct rd_timerheap *h, struct rd_timer *t, int64_t at)
{
	if (t->pos) {
		/* moving it: take it out and put it back with a fresh sequence */
		remove_at(h, t->pos - 1);
	} else if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		struct rd_timer **v = cap > SIZE_MAX / sizeof(*v) ? NULL : realloc(h->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	t->at = at;
	t->seq = h->seq++;
	h->v[h->n] = t;
	t->pos = ++h->n;
	sift_up(h, h->n - 1);
	return 0;
}

void rd_timer_cancel(struct rd_timerheap *h, struct rd_timer *t)
{
	if (t->pos)
		remove_at(h, t->pos - 1);
}

struct rd_timer *rd_timerheap_pop_due(struct rd_timerheap *h, int64_t now)
{
	struct rd_timer *t = h->n ? h->v[0] : NULL;

	if (!t || t->at > now)
		return NULL;
	remove_at(h, 0);
	return t;
}

void rd_timerheap_clear(struct rd_timerheap *h)
{
	for (size_t i = 0; i < h->n; i++)
		h->v[i]->pos = 0;
	free(h->v);
	*h = (struct rd_timerheap)RD_TIMERHEAP_INIT;
}
