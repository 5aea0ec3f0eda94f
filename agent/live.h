/* A running command's output and liveness: heartbeats and live output to
 * rolloutd (PostHostCommandUpdate, agent/PROTOCOL.md), the deployment's
 * scripts.log (size-capped), <root>/deployment-logs/codedeploy-agent-
 * deployments.log (all deployments, one rotation) and the diagnostics tail. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct agent;
struct tail;

struct live {
	struct agent *ag;
	const char *hcid;
	const char *script; /* current script location */
	char *pending;
	size_t pending_len;
	size_t sent_total;
	bool limit_hit, dropped;
	long seq;
	int64_t last_update;
	unsigned faults; /* consecutive failed updates */
	unsigned est_remaining_s;
	bool stop_requested;
	/* scripts.log */
	FILE *log;
	uint64_t log_size, log_max;
	bool log_full;
	struct tail *tail;
	/* <root>/deployment-logs/codedeploy-agent-deployments.log (all deployments) */
	FILE *dlog;
	const char *dep_id;
};

/* Starts the state of one command; tail (may be NULL) collects its lines. */
void live_init(struct live *l, struct agent *ag, const char *hcid, struct tail *tail);
/* Opens scripts.log (creating logs_dir) and the deployments log. */
int live_open_logs(struct live *l, const char *logs_dir, const char *scripts_log, const char *deployment_id);
/* Writes to scripts.log. */
void live_logf(struct live *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<time> LifecycleEvent - <event>" in scripts.log. */
void live_begin_event(struct live *l, const char *event);
/* One line of a script's output (stream 1 stdout, 2 stderr): the logs, the
 * tail and the live output. A runner on_line callback (ud: the live). */
void live_line(void *ud, int stream, const char *line, size_t len);
/* Sends an update when one is due: heartbeat, pending output, or a retry on
 * the host-command schedule. -1 when the command must stop (the agent stops,
 * or rolloutd answered Failed/Succeeded). A runner on_tick callback. */
int live_tick(void *ud);
/* Sends what output is still pending (at the end of a hook). */
void live_flush(struct live *l);
/* Closes the logs and frees the pending output. */
void live_close(struct live *l);
