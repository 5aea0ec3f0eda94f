/* struct engine: what every layer of the engine reaches through the one
 * pointer it is handed. Each layer keeps its own state in its own member
 * (the input queue, the model's deployments, the host-command service's
 * hosts, the outbox); around them, the state of the engine thread's current
 * turn (the open store transaction and the clock) and the settings read at
 * start. Everything but `q` and `jobs_running` belongs to the engine thread. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <pthread.h>
#include <string.h>

#include "log.h"

#include "engine/engine.h"
#include "engine/engine_input.h"
#include "engine/engine_model.h"
#include "engine/engine_outbox.h"
#include "strmap.h"
#include "timerheap.h"

struct rd_daemon;
struct store_tx;
struct spec_signer;
struct workpool;
struct eng_host;

struct engine {
	struct rd_daemon *d;
	const struct engine_io *io;
	pthread_t thread;
	bool thread_started;
	struct eng_queue q; /* any thread */

	/* the model: running deployments, oldest first, and by id (engine.c
	 * adds and removes them: dep_append, reap_finished, free_state) */
	struct eng_dep *deps;
	struct rd_strmap dep_index;
	struct rd_timerheap dep_timers; /* eng_dep.timer: a shift's wake, a ready deadline */
	bool reap;			/* a deployment finished this turn */
	/* the host-command service's hosts (engine_hostcmd.c) by name, and
	 * their deadlines */
	struct rd_strmap hosts;
	struct rd_timerheap host_timers;
	/* held polls by access key id, when limits.long_polls_per_key caps them */
	struct rd_strmap key_polls;
	size_t long_polls_per_key; /* 0: no cap */
	/* hosts whose command became due this turn without a poll held here
	 * (engine_hostcmd.c: told to engine_io.hosts_due at the turn's end) */
	const char **due_hosts;
	size_t n_due, cap_due;
	struct spec_signer *signer;
	int64_t long_poll_ms, pickup_ms, heartbeat_ms;

	/* the current turn: every change goes into tx; tx_err is its first failure */
	struct store_tx *tx;
	int tx_err;
	int64_t now_wall, now_mono;
	bool instances_changed;		 /* an auto-update scan is due */
	bool autoupdate_leader;		 /* held the cluster's "autoupdate" lease at the last turn */
	struct eng_autoscale *autoscale; /* scale-out detection (engine_autoscale.c) */

	struct eng_outbox out;

	uint64_t commits, inputs_total;
	uint64_t incarnation;	    /* cluster.h: the registration whose leases are loaded */
	bool fenced;		    /* not driving: the cluster lease is stale */
	int jobs_running;	    /* plugin jobs on workers (atomic); engine_stop waits for them */
	struct workpool *gate_pool; /* per-instance health gates: they wait up to gate_timeout, so not on d->pool */
};

/* The running deployment of that id, or NULL. */
struct eng_dep *eng_dep_find(struct engine *e, const char *id);

/* A line about a deployment (and an instance, a lifecycle event): the
 * journal gets them as fields of their own (lib/log.h). */
#define ENG_DLOG(level, dep, inst, ev, ...) rd_logf((level), "engine", RD_LOG_FIELDS((dep), (inst), (ev)), __VA_ARGS__)

/* Records the first store failure of the turn: its transaction is rolled
 * back and the model reloaded from the store. r >= 0 is ignored. */
static inline void eng_store_error(struct engine *e, int r, const char *what)
{
	if (r < 0 && e->tx_err == 0) {
		e->tx_err = r;
		rd_logt(LOG_ERR, "engine", "store: %s: %s", what, strerror(-r));
	}
}
