/* A fixed pool of worker threads for blocking work (disk, plugins), so the
 * I/O thread never waits. Jobs run in submission order, each on one thread.
 *
 * Threading: workpool_submit() may be called from any thread. Jobs must not
 * call workpool_free(). */
#pragma once

#include <stddef.h>

struct workpool;

typedef void (*workpool_fn)(void *arg);

/* Starts nthreads (1..256) threads named "rd-work-N". */
int workpool_new(int nthreads, struct workpool **ret_pool);

/* Queues fn(arg). 0, or -ESHUTDOWN once workpool_free() has begun (the job
 * is then not run and arg stays the caller's). */
int workpool_submit(struct workpool *pool, workpool_fn fn, void *arg);

/* Number of jobs queued and not yet started (for metrics / back-pressure). */
size_t workpool_queued(struct workpool *pool);

/* Stops taking jobs (workpool_submit then fails with -ESHUTDOWN), runs
 * every job already queued and joins the threads. The pool stays valid, so
 * late submitters get -ESHUTDOWN instead of a freed pointer. Idempotent;
 * not from a job. main.c calls it before engine_stop(), so no job of the
 * engine's outlives the engine. */
void workpool_shutdown(struct workpool *pool);

/* workpool_shutdown() if not done, then frees. NULL-safe. */
struct workpool *workpool_free(struct workpool *pool);
