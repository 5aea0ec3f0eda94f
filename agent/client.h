/* The host-command protocol client (agent/PROTOCOL.md): AWS JSON 1.1 over
 * lib/httpclient, SigV4-signed for the service codedeploy-commands; bundle
 * downloads from rolloutd. Reports what came back; hostcmd.h decides what
 * an error means. */
#pragma once

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct agent_config;
struct client;

int client_new(const struct agent_config *cfg, volatile sig_atomic_t *stop, struct client **ret);
struct client *client_free(struct client *c);

/* on_idle is called once per abortable call (the long-poll), about 2 s
 * after the request went out while no answer has arrived yet. */
void client_set_idle_hook(struct client *c, void (*on_idle)(void));

/* What came back from one call, for sorting its errors (hostcmd.h). */
struct client_reply {
	long status;   /* HTTP status; 0 when no HTTP answer arrived */
	char type[96]; /* the error's __type without its namespace, or "" */
};

/* Calls CodeDeployCommandService_v20141006.<op> with the JSON body req
 * (borrowed). On success *ret_resp is a new reference (an empty object for an
 * empty body). abortable: a set *stop flag aborts the transfer (-EINTR).
 * Returns 0, -EINTR, -EPROTO (HTTP error or a reply that is not a JSON
 * object; err holds "__type: message"), -EIO (transport) or -ENOMEM, and
 * always fills *ret_rep. timeout_s bounds the whole call. */
int client_call(struct client *c, const char *op, json_t *req, long timeout_s, bool abortable, json_t **ret_resp,
		struct client_reply *ret_rep, char *err, size_t errlen);

/* Downloads url (absolute, or a path resolved against the endpoint) to dest
 * with SigV4, resuming <dest>.part with Range on retries (5 attempts), and
 * checks size and sha256 (lower-case hex). tick is called about once a
 * second during the transfer (heartbeats); returning < 0 aborts. */
int client_download(struct client *c, const char *url, const char *dest, uint64_t size, const char *sha256,
		    int (*tick)(void *ud), void *ud, char *err, size_t errlen);

/* The user-visible agent version header value. */
#define AGENT_VERSION_HEADER "ROLLOUT_AGENT_" PACKAGE_VERSION
