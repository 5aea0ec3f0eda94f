/* The engine thread's input queue and the public entry points that feed it
 * (engine.h); see engine_input.h. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/daemon.h"
#include "engine/engine_context.h"
#include "engine/engine_input.h"
#include "util.h"

struct eng_call *eng_call_free(struct eng_call *c)
{
	if (c) {
		json_decref(c->body);
		free(c);
	}
	return NULL;
}

/* Freed inputs kept for reuse, at most SPARE_MAX: an input is larger than
 * glibc's per-thread cache keeps, and every agent call made one on the
 * thread that received it and freed it on the engine thread, through the
 * arenas each time. None under AddressSanitizer, which then still sees an
 * input used after it was freed. */
#ifdef __SANITIZE_ADDRESS__
#define SPARE_MAX 0
#else
#define SPARE_MAX 256
#endif
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static struct eng_input *spare;
static size_t n_spare;

struct eng_input *eng_input_new(enum eng_input_kind kind)
{
	struct eng_input *in;

	pthread_mutex_lock(&spare_lock);
	in = spare;
	if (in) {
		spare = in->next;
		n_spare--;
	}
	pthread_mutex_unlock(&spare_lock);
	if (in)
		memset(in, 0, sizeof(*in));
	else
		in = calloc(1, sizeof(*in));
	if (in)
		in->kind = kind;
	return in;
}

void eng_input_free(struct eng_input *in)
{
	if (!in)
		return;
	eng_call_free(in->call);
	json_decref(in->targets);
	json_decref(in->blue);
	json_decref(in->result);
#if SPARE_MAX > 0
	pthread_mutex_lock(&spare_lock);
	if (n_spare < SPARE_MAX) {
		in->next = spare;
		spare = in;
		n_spare++;
		in = NULL;
	}
	pthread_mutex_unlock(&spare_lock);
#endif
	free(in);
}

/* ---------------------------------------------------------------- the queue */

void eng_queue_init(struct eng_queue *q)
{
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->head = q->tail = NULL;
	q->quit = false;
}

void eng_queue_destroy(struct eng_queue *q)
{
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
}

void eng_post(struct eng_queue *q, struct eng_input *in)
{
	bool wake;

	in->next = NULL;
	pthread_mutex_lock(&q->lock);
	/* the engine waits only on an empty queue: whoever filled it wakes it */
	wake = !q->tail;
	if (q->tail)
		q->tail->next = in;
	else
		q->head = in;
	q->tail = in;
	pthread_mutex_unlock(&q->lock);
	/* After the unlock, else the engine wakes only to block on the lock
	 * still held. The queue is still there: engine_stop frees it only once
	 * no caller can post (eng_post_live holds live_lock throughout; a job
	 * posts before it stops counting as running). */
	if (wake)
		pthread_cond_signal(&q->cond);
}

struct eng_input *eng_queue_take(struct eng_queue *q, bool wait, int64_t deadline_ms, bool *ret_quit)
{
	struct eng_input *batch;

	pthread_mutex_lock(&q->lock);
	while (wait && !q->head && !q->quit) {
		int64_t ms = deadline_ms - rd_mono_ms();
		struct timespec ts;
		if (ms <= 0)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) != 0)
			break;
	}
	batch = q->head;
	q->head = q->tail = NULL;
	*ret_quit = q->quit;
	pthread_mutex_unlock(&q->lock);
	return batch;
}

void eng_queue_quit(struct eng_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->quit = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* ---------------------------------------------------------------- callers racing with engine_stop */

/* The engine that takes calls from the transport; cleared by engine_stop before it frees. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct engine *live_engine;

void eng_live_begin(struct engine *e)
{
	pthread_mutex_lock(&live_lock);
	live_engine = e;
	pthread_mutex_unlock(&live_lock);
}

void eng_live_end(struct engine *e)
{
	pthread_mutex_lock(&live_lock);
	if (live_engine == e)
		live_engine = NULL;
	pthread_mutex_unlock(&live_lock);
}

int eng_post_live(struct rd_daemon *d, struct eng_input *in)
{
	int r = -ESHUTDOWN;

	pthread_mutex_lock(&live_lock);
	if (live_engine && live_engine->d == d) {
		struct eng_queue *q = &live_engine->q;
		pthread_mutex_lock(&q->lock);
		bool quit = q->quit;
		pthread_mutex_unlock(&q->lock);
		if (!quit) {
			eng_post(q, in);
			r = 0;
		}
	}
	pthread_mutex_unlock(&live_lock);
	return r;
}

/* ---------------------------------------------------------------- requests */

void eng_request_done(struct eng_request *req, int result)
{
	pthread_mutex_lock(&req->m);
	req->result = result;
	req->done = true;
	pthread_cond_signal(&req->c);
	pthread_mutex_unlock(&req->m);
}

int eng_request_wait(struct engine *e, enum eng_input_kind kind, const char *deployment_id, struct eng_request *req)
{
	struct eng_input *in = eng_input_new(kind);
	int r;

	if (!in)
		return -ENOMEM;
	pthread_mutex_init(&req->m, NULL);
	pthread_cond_init(&req->c, NULL);
	snprintf(in->dep, sizeof(in->dep), "%s", deployment_id);
	in->req = req;
	eng_post(&e->q, in);
	pthread_mutex_lock(&req->m);
	while (!req->done)
		pthread_cond_wait(&req->c, &req->m);
	pthread_mutex_unlock(&req->m);
	r = req->result;
	pthread_mutex_destroy(&req->m);
	pthread_cond_destroy(&req->c);
	return r;
}

/* ---------------------------------------------------------------- entry points (engine.h) */

void engine_notify_created(struct rd_daemon *d, const char *deployment_id)
{
	struct eng_input *in;

	if (!d || !d->engine || !deployment_id)
		return;
	in = eng_input_new(IN_CREATED);
	if (!in)
		return; /* picked up at the next restart */
	snprintf(in->dep, sizeof(in->dep), "%s", deployment_id);
	eng_post(&d->engine->q, in);
}

void engine_adopt(struct rd_daemon *d, const char *deployment_id)
{
	struct eng_input *in;

	if (!d || !d->engine || !deployment_id || strlen(deployment_id) >= sizeof(in->dep))
		return;
	in = eng_input_new(IN_ADOPT);
	if (!in)
		return; /* loaded when the engine next reloads what it holds */
	snprintf(in->dep, sizeof(in->dep), "%s", deployment_id);
	eng_post(&d->engine->q, in);
}

void engine_notify_host(struct rd_daemon *d, const char *host, const char *url)
{
	struct eng_input *in;

	if (!d || !d->engine || strlen(host) >= sizeof(in->target) || strlen(url) >= sizeof(in->url))
		return;
	in = eng_input_new(IN_HOSTNOTE);
	if (!in)
		return;
	memcpy(in->target, host, strlen(host) + 1);
	memcpy(in->url, url, strlen(url) + 1);
	if (eng_post_live(d, in) < 0)
		eng_input_free(in);
}

void engine_notify_instances_changed(struct rd_daemon *d)
{
	struct eng_input *in;

	if (!d || !d->engine)
		return;
	in = eng_input_new(IN_INSTANCES);
	if (in)
		eng_post(&d->engine->q, in);
}

int engine_stop_deployment(struct rd_daemon *d, const char *deployment_id, enum engine_rollback rollback,
			   const char **ret_status, char *status_msg, size_t msglen)
{
	struct eng_request req = {.rollback = rollback};
	int r;

	if (!d || !d->engine)
		return -ESHUTDOWN;
	r = eng_request_wait(d->engine, IN_STOP, deployment_id, &req);
	if (r == -ENOMEM && !req.done)
		return r;
	if (status_msg && msglen)
		snprintf(status_msg, msglen, "%s", req.msg);
	if (r == 0 && ret_status)
		*ret_status = "Succeeded";
	return r;
}

int engine_continue_deployment(struct rd_daemon *d, const char *deployment_id, const char *wait_type)
{
	struct eng_request req = {.termination_wait = wait_type && strcmp(wait_type, "TERMINATION_WAIT") == 0};

	if (wait_type && strcmp(wait_type, "READY_WAIT") != 0 && !req.termination_wait)
		return -ENOTSUP;
	if (!d || !d->engine)
		return -ESHUTDOWN;
	return eng_request_wait(d->engine, IN_CONTINUE, deployment_id, &req);
}

int engine_hook_status(struct rd_daemon *d, const char *deployment_id, const char *execution_id, const char *status,
		       char *msg, size_t msglen)
{
	struct eng_request req = {.hook_execution_id = execution_id, .hook_status = status};
	int r;

	if (!d || !d->engine)
		return -ESHUTDOWN;
	r = eng_request_wait(d->engine, IN_HOOK, deployment_id, &req);
	if (msg && msglen)
		snprintf(msg, msglen, "%s", req.msg);
	return r;
}
