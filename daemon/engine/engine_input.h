/* The engine thread's input queue: everything that happens to the engine
 * arrives here from other threads (the API's notifications, agents' calls,
 * stop and continue requests, plugin jobs' results, alarms) and is taken by
 * the engine thread in batches, one transaction per batch. Inputs name
 * deployments by id: they never point into the engine's model. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"
#include "engine/engine.h"

enum eng_input_kind {
	IN_CREATED,    /* a deployment was stored as Created */
	IN_CALL,       /* an agent's host-command call */
	IN_RESOLVED,   /* a resolve job's targets (or its error) */
	IN_STOP,       /* StopDeployment */
	IN_INSTANCES,  /* on-premises instances changed */
	IN_AUTOUPDATE, /* an auto-update scan job's targets */
	IN_ALARM,      /* an alarm fired */
	IN_TRAFFIC,    /* BlockTraffic / AllowTraffic of one instance done */
	IN_BG,	       /* the blue/green traffic phase done */
	IN_CONTINUE,   /* ContinueDeployment */
	IN_GATE,       /* a per-instance health gate's verdict */
	IN_SHIFT,      /* a Lambda/ECS deployment's plugin job done (start or one step) */
	IN_HOOK,       /* PutLifecycleEventHookExecutionStatus */
	IN_LIFECYCLE,  /* launches reported by the platform plugin, or a lifecycle action completed */
	IN_ADOPT,      /* leased to this daemon by another one (cluster.h): resume it */
	IN_HOSTNOTE,   /* another daemon announced a command for a host (engine_notify_host) */
};

/* An agent's call as the engine sees it, taken from the transport on the
 * thread that received it; answered through engine_io with reply_to. */
struct eng_call {
	char op[64];	    /* "PollHostCommand", ... */
	json_t *body;	    /* the request (a reference) */
	char instance[129]; /* the instance the caller's key is bound to, "" for none */
	char access_key_id[129];
	bool rollout_agent; /* rollout-agent, which polls only between commands */
	bool relayed_in;    /* another daemon relayed it here: never handed on */
	int64_t hold_ms;    /* > 0: what is left of its long-poll (a poll relayed, or routed back here) */
	void *reply_to;	    /* the transport's call */
	bool unadmitted;    /* handed over before its caller was authenticated: only reply_to is set
			     * until engine_io.admit has run (engine_hostcmd_direct) */
};
struct eng_call *eng_call_free(struct eng_call *c);

/* A stop or continue request, waited for by its caller until the engine
 * committed it (eng_request_wait). */
struct eng_request {
	struct eng_request *next;
	pthread_mutex_t m;
	pthread_cond_t c;
	bool done;
	enum engine_rollback rollback; /* stop */
	const char *hook_execution_id; /* IN_HOOK: borrowed from the waiting caller */
	const char *hook_status;       /* "Succeeded" or "Failed" */
	bool termination_wait;	       /* IN_CONTINUE: TERMINATION_WAIT, not READY_WAIT */
	int result;
	char msg[512];
};

struct eng_input {
	struct eng_input *next;
	enum eng_input_kind kind;
	char dep[16];
	struct eng_call *call;	 /* IN_CALL, owned */
	struct eng_request *req; /* IN_STOP / IN_CONTINUE, the waiter's */
	json_t *targets;	 /* IN_RESOLVED / IN_AUTOUPDATE: array, or NULL with err */
	json_t *blue;		 /* IN_RESOLVED of a blue/green deployment: the original fleet's targets */
	struct rd_error err;	 /* the job's failure; IN_ALARM: the alarm's message */
	char app[128], group[128];
	bool alarm_rollback; /* IN_ALARM */
	bool bg;	     /* IN_RESOLVED: targets are a blue/green green fleet */
	bool bg_rollback;    /* IN_RESOLVED: targets are the original fleet a blue/green rollback returns to */
	char target[128];    /* IN_TRAFFIC / IN_GATE / IN_HOSTNOTE: the instance, event index, result */
	char url[256];	     /* IN_HOSTNOTE: the announcing daemon */
	int ev;
	bool ok;
	bool have_bundle; /* IN_RESOLVED: bundles_ensure succeeded */
	char sha256[65];
	uint64_t size;
	char bundle_type[8];
	json_t *result;	  /* IN_SHIFT: what the job found (engine_shift.h) */
	int64_t wait_end; /* IN_BG: not the end of the phase, but the start of its termination
			   * wait, which ends then (wall ms) */
};

struct eng_input *eng_input_new(enum eng_input_kind kind);
void eng_input_free(struct eng_input *in);

struct eng_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct eng_input *head, *tail;
	bool quit;
};

void eng_queue_init(struct eng_queue *q);
void eng_queue_destroy(struct eng_queue *q);
void eng_post(struct eng_queue *q, struct eng_input *in);
/* Takes every queued input (oldest first), waiting until there is one, the
 * engine is told to quit, or deadline_ms (monotonic) has passed; wait false
 * takes without waiting. *ret_quit tells whether engine_stop was called. */
struct eng_input *eng_queue_take(struct eng_queue *q, bool wait, int64_t deadline_ms, bool *ret_quit);
/* Tells the engine thread to end after its current batch. */
void eng_queue_quit(struct eng_queue *q);

/* eng_post for callers that may race with engine_stop (the transport's
 * handlers, on workers): -ESHUTDOWN (input not taken) once the engine
 * stopped. */
int eng_post_live(struct rd_daemon *d, struct eng_input *in);
/* engine_stop: no more eng_post_live to e. */
void eng_live_end(struct engine *e);
void eng_live_begin(struct engine *e);

/* Posts a stop or continue request and waits until the engine thread has
 * committed and answered it; returns its result. */
int eng_request_wait(struct engine *e, enum eng_input_kind kind, const char *deployment_id, struct eng_request *req);
/* Answers a request: result and done, the waiter wakes. */
void eng_request_done(struct eng_request *req, int result);
