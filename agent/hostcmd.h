/* The host-command calls of rollout-agent and the one rule that sorts their
 * errors (agent/PROTOCOL.md, "Errors"):
 *  - a transport error (refused, reset, timed out), an HTTP 5xx, throttling
 *    (HTTP 429, or a __type naming throttling / rate limits) and a reply
 *    that is not JSON are faults: the call is tried again after 1, 2, 4, 8
 *    and then every 10 s, for HOSTCMD_RETRY_WINDOW_S seconds in all (enough
 *    to ride out a rolloutd restart under systemd);
 *  - any other HTTP 4xx is rolloutd's answer: retrying cannot change it.
 * Acknowledgement, specification and completion block in hostcmd_call;
 * updates (heartbeats, live output) are sent from the hook loop, one try at
 * a time, on the same schedule (hostcmd_delay_s). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "client.h"

struct agent;

#define HOSTCMD_RETRY_WINDOW_S 120

enum hostcmd_outcome {
	HOSTCMD_OK,	 /* 200 with a JSON object */
	HOSTCMD_ANSWER,	 /* a 4xx answer (not throttling) */
	HOSTCMD_FAULT,	 /* still failing when the retry window ended */
	HOSTCMD_STOPPED, /* the agent is stopping: no further try */
};

/* Sorts one attempt: r is client_call's return, rep its reply facts. */
enum hostcmd_outcome hostcmd_classify(int r, const struct client_reply *rep);

/* Seconds to wait after the n-th consecutive fault (n >= 1): 1, 2, 4, 8, 10, 10, ... */
unsigned hostcmd_delay_s(unsigned n);

/* A 4xx answer saying the deployment (or command) does not exist any more. */
bool hostcmd_not_found(const struct client_reply *rep);

/* Calls CodeDeployCommandService_v20141006.<op> with req (borrowed) under the
 * rule above. HOSTCMD_OK: *ret_resp is a new reference. Otherwise err says
 * what the last attempt got and *ret_rep (optional) its reply facts. A
 * stopping agent makes no further attempt after a failed one, except for
 * PutHostCommandComplete, which gets one more. */
enum hostcmd_outcome hostcmd_call(struct agent *ag, const char *op, json_t *req, json_t **ret_resp,
				  struct client_reply *ret_rep, char *err, size_t errlen);

/* Sleeps s seconds, returning early when the agent stops; reaps finished
 * hook processes meanwhile. */
void hostcmd_sleep(struct agent *ag, unsigned s);
