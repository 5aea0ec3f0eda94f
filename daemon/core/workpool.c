#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/workpool.h"

struct job {
	struct job *next;
	workpool_fn fn;
	void *arg;
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	size_t queued;
	int idle; /* threads waiting on cond */
	bool stopping;
	int nthreads;
	pthread_t *threads;
};

static void *worker_main(void *arg)
{
	struct workpool *p = arg;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->cond, &p->lock);
			p->idle--;
		}
		struct job *j = p->head;
		if (!j) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->lock);
		j->fn(j->arg);
		free(j);
	}
}

int workpool_new(int nthreads, struct workpool **ret_pool)
{
	struct workpool *p;
	int r;

	if (nthreads < 1 || nthreads > 256)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->threads = calloc((size_t)nthreads, sizeof(pthread_t));
	if (!p->threads) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (int i = 0; i < nthreads; i++) {
		r = pthread_create(&p->threads[i], NULL, worker_main, p);
		if (r != 0) {
			p->nthreads = i;
			workpool_free(p);
			return -r;
		}
		char name[16];
		snprintf(name, sizeof(name), "rd-work-%d", i);
		pthread_setname_np(p->threads[i], name);
		p->nthreads = i + 1;
	}
	*ret_pool = p;
	return 0;
}

int workpool_submit(struct workpool *p, workpool_fn fn, void *arg)
{
	struct job *j = malloc(sizeof(*j));
	bool wake;

	if (!j)
		return -ENOMEM;
	j->next = NULL;
	j->fn = fn;
	j->arg = arg;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		free(j);
		return -ESHUTDOWN;
	}
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	/* A busy thread takes the job when it is done with its own, so only an
	 * idle one needs waking; and it is woken after the unlock, else it wakes
	 * only to block on the lock the submitter still holds (a second context
	 * switch per job, the largest cost of a cheap call's hop). Not a lost
	 * wake-up: a thread counted idle is inside pthread_cond_wait or about to
	 * retake the lock and see the queue. */
	wake = p->idle > 0;
	pthread_mutex_unlock(&p->lock);
	if (wake)
		pthread_cond_signal(&p->cond);
	return 0;
}

size_t workpool_queued(struct workpool *p)
{
	size_t n;

	pthread_mutex_lock(&p->lock);
	n = p->queued;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void workpool_shutdown(struct workpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	p->nthreads = 0;
}

struct workpool *workpool_free(struct workpool *p)
{
	if (!p)
		return NULL;
	workpool_shutdown(p);
	free(p->threads);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
	return NULL;
}
