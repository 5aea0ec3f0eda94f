/* The dashboard's long-polls (ui_wait.h). One lock guards the counters and
 * the waiters: it is taken by the engine thread (changes), the workpool
 * threads (new waits), and the I/O thread (expiry, clients gone). Replies
 * are sent after the lock is released. Waiters are few (one per open
 * deployment page), so a change looks through the list. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "core/httpd.h"
#include "ui/ui_wait.h"
#include "util.h"

/* How often expired waits are answered: a timeout is a deadline for the
 * page, not a promise to the millisecond. */
#define EXPIRY_TICK_MS 250

struct waiter {
	struct waiter *next;
	struct httpd_call *call;
	char deployment_id[64];
	int64_t seq;
	int64_t deadline_ms; /* monotonic */
};

struct ui_waits {
	pthread_mutex_t lock;
	json_t *seqs; /* deployment id -> its change counter (a hash table) */
	struct waiter *waiters;
	struct event *tick;
};

/* Caller holds the lock. */
static int64_t seq_of(struct ui_waits *w, const char *id)
{
	return json_integer_value(json_object_get(w->seqs, id));
}

static void answer(struct waiter *x, int64_t seq)
{
	httpd_call_reply(x->call, json_pack("{s:I}", "seq", (json_int_t)seq));
	free(x);
}

/* Unlinks the waiters pred picks into a list of their own, with the seq
 * each is answered with. Caller holds the lock. */
static struct waiter *take(struct ui_waits *w, bool (*pred)(struct ui_waits *, struct waiter *, const void *),
			   const void *arg)
{
	struct waiter *out = NULL;

	for (struct waiter **p = &w->waiters; *p;) {
		struct waiter *x = *p;
		if (pred(w, x, arg)) {
			*p = x->next;
			x->seq = seq_of(w, x->deployment_id);
			x->next = out;
			out = x;
		} else {
			p = &x->next;
		}
	}
	return out;
}

static void answer_all(struct waiter *list)
{
	for (struct waiter *x = list, *next; x; x = next) {
		next = x->next;
		answer(x, x->seq);
	}
}

static bool is_expired(struct ui_waits *w, struct waiter *x, const void *now)
{
	(void)w;
	return x->deadline_ms <= *(const int64_t *)now;
}

static bool is_of(struct ui_waits *w, struct waiter *x, const void *id)
{
	(void)w;
	return strcmp(x->deployment_id, id) == 0;
}

static bool is_call(struct ui_waits *w, struct waiter *x, const void *call)
{
	(void)w;
	return x->call == call;
}

static bool any(struct ui_waits *w, struct waiter *x, const void *arg)
{
	(void)w;
	(void)x;
	(void)arg;
	return true;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct ui_waits *w = arg;
	int64_t now = rd_mono_ms();
	struct waiter *due;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->lock);
	due = take(w, is_expired, &now);
	pthread_mutex_unlock(&w->lock);
	answer_all(due);
}

/* The page went away: its call is completed (the reply is discarded). */
static void on_gone(struct httpd_call *call, void *arg)
{
	struct ui_waits *w = arg;
	struct waiter *gone;

	pthread_mutex_lock(&w->lock);
	gone = take(w, is_call, call);
	pthread_mutex_unlock(&w->lock);
	answer_all(gone);
}

int ui_waits_new(struct event_base *base, struct ui_waits **ret)
{
	struct ui_waits *w = calloc(1, sizeof(*w));
	struct timeval tv = {.tv_sec = 0, .tv_usec = EXPIRY_TICK_MS * 1000};

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	w->seqs = json_object();
	w->tick = event_new(base, -1, EV_PERSIST, on_tick, w);
	if (!w->seqs || !w->tick || event_add(w->tick, &tv) < 0) {
		ui_waits_free(w);
		return -ENOMEM;
	}
	*ret = w;
	return 0;
}

struct ui_waits *ui_waits_free(struct ui_waits *w)
{
	struct waiter *all;

	if (!w)
		return NULL;
	if (w->tick)
		event_free(w->tick);
	pthread_mutex_lock(&w->lock);
	all = take(w, any, NULL);
	pthread_mutex_unlock(&w->lock);
	for (struct waiter *x = all, *next; x; x = next) {
		next = x->next;
		httpd_call_error_status(x->call, 503, "ServerException", "rolloutd is shutting down; reload the page");
		free(x);
	}
	json_decref(w->seqs);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return NULL;
}

void ui_waits_changed(struct ui_waits *w, const char *deployment_id)
{
	struct waiter *woken;

	pthread_mutex_lock(&w->lock);
	if (json_object_size(w->seqs) >= UI_WAIT_MAX_DEPLOYMENTS && !json_object_get(w->seqs, deployment_id))
		json_object_clear(w->seqs); /* every page then reads once more */
	json_object_set_new(w->seqs, deployment_id, json_integer(seq_of(w, deployment_id) + 1));
	woken = take(w, is_of, deployment_id);
	pthread_mutex_unlock(&w->lock);
	answer_all(woken);
}

void ui_waits_add(struct ui_waits *w, struct httpd_call *call, const char *deployment_id, int64_t seq,
		  int64_t timeout_ms)
{
	struct waiter *x = calloc(1, sizeof(*x));
	int64_t now;

	if (!x) {
		httpd_call_error_status(call, 500, "ServerException", "out of memory; retry");
		return;
	}
	if (timeout_ms < 100)
		timeout_ms = 100;
	if (timeout_ms > UI_WAIT_MAX_MS)
		timeout_ms = UI_WAIT_MAX_MS;
	x->call = call;
	snprintf(x->deployment_id, sizeof(x->deployment_id), "%s", deployment_id);
	x->seq = seq;
	now = rd_mono_ms();
	x->deadline_ms = now + timeout_ms;
	pthread_mutex_lock(&w->lock);
	if (seq_of(w, deployment_id) != seq) {
		int64_t cur = seq_of(w, deployment_id);
		pthread_mutex_unlock(&w->lock);
		answer(x, cur);
		return;
	}
	x->next = w->waiters;
	w->waiters = x;
	/* registered under the lock: a gone callback finds it listed */
	httpd_call_on_gone(call, on_gone, w);
	pthread_mutex_unlock(&w->lock);
}
