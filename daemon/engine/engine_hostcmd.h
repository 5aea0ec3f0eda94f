/* The host-command service: the server side of the agents' protocol
 * (agent/PROTOCOL.md) on the engine thread. It keeps one queue of commands
 * per host (a host runs one command at a time), holds long polls and hands
 * commands to them, and answers the five operations (PollHostCommand,
 * GetDeploymentSpecification, PutHostCommandAcknowledgement,
 * PostHostCommandUpdate, PutHostCommandComplete).
 *
 * It never decides a deployment's fate: what an agent reports about a
 * lifecycle event (or a host's silence) comes back to the state machine as
 * a struct eng_report, which the state machine applies.
 *
 * Agent keys are bound to one instance: such a caller sees and reports only
 * commands of that instance, and its HostIdentifier must be the instance's
 * IAM ARN (or its name). Admin keys may act for any registered instance. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/engine_model.h"

struct engine;
struct eng_call;

struct eng_host {
	char *name;			  /* the key in struct engine's host map */
	struct eng_target *cur;		  /* the host's one command at a time */
	struct eng_target *qhead, *qtail; /* waiting to become cur */
	struct eng_call *poll;		  /* held PollHostCommand */
	int64_t poll_deadline;		  /* monotonic */
	char *poll_identifier;		  /* HostIdentifier of the held/last poll */
	int64_t last_seen;		  /* monotonic */
	char *verified_identifier;	  /* HostIdentifier proven to belong to name */
	/* Due at or before the host's next deadline (its held poll's end, its
	 * command's pick-up window or heartbeat window); it may fire early, the
	 * check then arms it again. */
	struct rd_timer timer;
	bool announced;	    /* cur's command was announced to the cluster (engine_io.hosts_due) */
	char *hint_url;	    /* another daemon announced a command for this host ... */
	int64_t hint_until; /* ... this recently (monotonic): a poll arriving goes there */
};

/* The end of a target's current lifecycle event as the service saw it. */
struct eng_report {
	struct eng_target *t;
	enum eng_status status; /* ST_SUCCEEDED, ST_FAILED or ST_SKIPPED */
	json_t *diag;		/* owned; may be NULL */
	bool agent_issue;	/* the agent did not pick up or stopped reporting */
};

int eng_hosts_init(struct engine *e);
/* Answers held polls and frees every host. */
void eng_hosts_free(struct engine *e);

/* Handles one agent call (answering it, now or at commit). Returns 1 with
 * *ret filled when the call ended its target's current event. */
int eng_hostcmd_handle(struct engine *e, struct eng_call *call, struct eng_report *ret);

/* Stores a command for t's current event and queues it for t's host. */
void eng_hostcmd_send(struct engine *e, struct eng_target *t);
/* After a restart: queues t's stored command cmd_id again. handed_out: it
 * was handed out (acknowledged or not) before the restart; the agent gets
 * time to report before it is offered again. */
void eng_hostcmd_restore(struct engine *e, struct eng_target *t, int64_t cmd_id, bool handed_out, bool acked);
/* Detaches t's command from its host: its event ended. */
void eng_hostcmd_release(struct engine *e, struct eng_target *t);
/* The same for an event the deployment gives up on: a command handed out
 * is marked Failed, so its agent is told to stop when it next reports. */
void eng_hostcmd_abandon(struct engine *e, struct eng_target *t);

/* The hosts whose timer is due (e->now_mono): answers held polls whose
 * time is up, and reports commands not picked up within the pick-up window
 * or whose host went silent (as failed, agent_issue). Looks at those hosts
 * only. *ret is a malloc'd array (NULL when none); returns its length. */
size_t eng_hostcmd_timers(struct engine *e, struct eng_report **ret);
/* Another daemon announced a command for host (engine_notify_host). */
void eng_hostcmd_notice(struct engine *e, const char *host, const char *url);
/* Tells engine_io.hosts_due the hosts whose command became due this turn
 * without a poll held here; end of each turn. */
void eng_hostcmd_announce(struct engine *e);

/* When the next host timer is due (monotonic), or INT64_MAX. */
int64_t eng_hostcmd_next_timer(const struct engine *e);
