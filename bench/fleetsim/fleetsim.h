/* fleet-sim-agents: N simulated host agents in one process, speaking the
 * host-command protocol of agent/PROTOCOL.md to a rolloutd (bench/fleet-sim
 * drives it). main.c: options, registration of the instances and their
 * keys through the control API, the run and its report; agent.c: one
 * agent's protocol state machine; loop.c: the event loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

#define FS_ACCOUNT "000000000000"

struct fs_stats {
	uint64_t requests;	 /* calls sent */
	uint64_t polls;		 /* PollHostCommand answered */
	uint64_t commands;	 /* HostCommands received */
	uint64_t events_ok;	 /* completed Succeeded */
	uint64_t events_failed;	 /* completed Failed (injected by --failure-rate) */
	uint64_t skipped;	 /* acknowledgement said Succeeded/Failed: not run */
	uint64_t specs_verified; /* CMS signature checked against daemon.crt */
	uint64_t specs_same;	 /* byte-identical to a spec verified before */
	uint64_t specs_kept;	 /* not asked: this agent holds its deployment's */
	uint64_t specs_rejected;
	uint64_t heartbeats;
	uint64_t transport_errors; /* no HTTP answer (reset, timeout) */
	uint64_t http_errors;	   /* an HTTP status other than 200 */
	uint64_t dropped;	   /* commands dropped after a failed spec/ack call */
	char first_error[512];
	char last_error[512];
};

struct fs_sim {
	struct loop *loop;
	struct call_ctx cmd; /* codedeploy-commands */
	const char *cert;    /* daemon.crt, to verify specifications */
	long hook_ms;
	double failure_rate;
	bool spec_every_event; /* as the official agent; else once per deployment */
	uint64_t rng;
	struct fs_stats st;
	unsigned n_agents;
	struct fs_agent **agents;
};

struct fs_agent;

/* A new agent for instance name / host identifier hid signing with
 * userpwd ("AKID:SECRET"); each gets a connection of its own. */
int fs_agent_new(struct fs_sim *s, unsigned idx, const char *name, const char *hid, const char *userpwd,
		 struct fs_agent **ret);
struct fs_agent *fs_agent_free(struct fs_agent *a);
/* Starts its poll loop. */
void fs_agent_start(struct fs_agent *a);
/* True while its long-poll is out (sent, no answer yet). */
bool fs_agent_polling(const struct fs_agent *a);

/* Counts an error and keeps the first message. */
void fs_error(struct fs_sim *s, bool transport, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
