/* The audit trail: who did what, from where, and what came of it.
 *
 * Recorded: every mutating call (the control API's and rolloutd's
 * operations other than Get*, BatchGet*, List* and PlanDeployment; bundle
 * uploads) whatever its result, and every refused call (a missing, bad or
 * disabled credential, a call outside the key's policy or application
 * scope) on any route. Not recorded: reads that succeed or fail for another
 * reason, and the agents' host-command calls (a fleet polls all the time;
 * their effect is in the deployment's own events) unless refused.
 *
 * Each record (time, request id, key id, policy, source address, operation,
 * application, resource, result, status, error) goes to the store
 * (audit_log, store_audit.c) and to the log as one line, with journal
 * fields ROLLOUT_AUDIT_* under systemd.
 *
 * Cost on the request path: audit_observe() runs on the I/O thread for
 * every call; for a read it compares the operation's name and returns.
 * A recorded call is copied (its body up to 16 KiB) into a bounded queue;
 * a writer thread parses the body for the application and resource,
 * writes the queue in one transaction and logs. When the queue is full
 * (10,000 records: the store is stuck) records are dropped and counted in
 * a warning. */
#pragma once

#include <stdbool.h>

struct httpd_call;
struct store;
struct audit;

enum audit_kind {
	AUDIT_NONE,	/* not recorded */
	AUDIT_MUTATING, /* recorded: Allowed or Failed */
	AUDIT_REFUSED,	/* recorded: Refused */
};

/* Whether a call is recorded, from what it asked and how it was answered.
 * target_prefix/op NULL for routes that are not JSON services. */
enum audit_kind audit_classify(const char *target_prefix, const char *op, const char *method, int status,
			       const char *error_type);

/* Starts the writer thread over st (borrowed; stop the audit before closing
 * the store). */
int audit_start(struct store *st, struct audit **ret);
/* Writes what is queued and stops; NULL-safe. */
struct audit *audit_stop(struct audit *a);
/* An httpd_observer_fn (core/httpd.h) whose userdata is the struct audit. */
void audit_observe(void *audit, const struct httpd_call *call);
