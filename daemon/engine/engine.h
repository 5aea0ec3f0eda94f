/* The deployment engine (issue 6). main.c calls engine_start() after the
 * store, plugins and HTTP server are up (and before d->base runs: it
 * registers the host-command service with httpd), and engine_stop() before
 * they go down. The API module tells the engine about new work through the
 * engine_notify_* functions; they never block (they queue and return).
 *
 * One engine thread owns every active deployment. Inputs (new deployments,
 * agent calls, stop requests, resolved targets, timers) are taken in
 * batches; each batch is applied in ONE store transaction, committed, and
 * only then acted on: agent calls are answered, commands handed out,
 * plugin work queued. So transitions arriving together share one fsync
 * (group commit, DESIGN.md point 7) and an agent's report is answered only
 * once it is durable. A daemon killed at any point resumes from the store.
 *
 * Durability of the host-command calls: PutHostCommandComplete is answered
 * only after its transaction committed. Polls, specification requests,
 * acknowledgements and updates are answered at once; what they change
 * (handed out, acknowledged, live output) is written in the same batch's
 * transaction and so is durable milliseconds later. If the daemon dies in
 * that window, a command that looked handed out is offered again, which
 * rollout-agent tolerates (it polls only between commands). A command
 * handed out but not acknowledged (before a restart or not) is offered
 * again when rollout-agent polls, since it polls only between commands;
 * other agents get it again after 30 s, time to acknowledge or complete it.
 * A completion for a command handed out but never acknowledged is accepted
 * (the official agent sends one when its specification call fails). This
 * keeps one fsync per lifecycle event instead of three.
 *
 * Liveness (host-agent protocol, agent/PROTOCOL.md):
 *  - a command not picked up by its host within 5 minutes fails its
 *    lifecycle event (deployment error AGENT_ISSUE if it fails for that);
 *  - a host that sends nothing (no poll held, no poll, ack, update or
 *    complete) for 45 s while its command was handed out is failed the same
 *    way. rollout-agent heartbeats every 10 s; the official agent long-polls
 *    continuously, so a held poll counts as alive: the bound is 45 s after
 *    the last request, at most long_poll + 45 s for the official agent.
 * For tests the two windows can be shortened with the environment variables
 * ROLLOUTD_PICKUP_TIMEOUT_MS and ROLLOUTD_HEARTBEAT_TIMEOUT_MS. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/error.h"

struct rd_daemon;

int engine_start(struct rd_daemon *d, char *err, size_t errlen);
void engine_stop(struct rd_daemon *d);

/* A deployment was stored as Created (CreateDeployment, rollback, auto-update). */
void engine_notify_created(struct rd_daemon *d, const char *deployment_id);

/* On-premises instances were registered, deregistered or (un)tagged: the
 * engine checks whether a deployment group now selects instances that never
 * received its last successful revision and, if so, creates a deployment of
 * that revision to them (creator CodeDeployAutoUpdate). */
void engine_notify_instances_changed(struct rd_daemon *d);

/* StopDeployment. Blocks until the engine has committed the stop (call from
 * a worker, not the I/O thread). auto_rollback: -1 unset (the deployment's
 * autoRollbackConfiguration decides: DEPLOYMENT_STOP_ON_REQUEST), 0 no, 1 yes.
 * Returns 0 with *ret_status "Succeeded" and a message, -ENOENT when no such
 * deployment, -EALREADY when it already completed (DeploymentAlreadyCompleted),
 * or another negative errno. status_msg gets a sentence for statusMessage. */
int engine_stop_deployment(struct rd_daemon *d, const char *deployment_id, int auto_rollback, const char **ret_status,
			   char *status_msg, size_t msglen);

/* ContinueDeployment(READY_WAIT) of a blue/green deployment whose green
 * fleet waits for the go-ahead (deploymentReadyOption STOP_DEPLOYMENT):
 * traffic moves now. Blocks like engine_stop_deployment. 0; -ENOENT no such
 * deployment; -EALREADY it completed; -EAGAIN it is not waiting
 * (DeploymentIsNotInReadyStateException); -ENOTSUP for TERMINATION_WAIT or a
 * deployment that is not blue/green (UnsupportedActionForDeploymentType). */
int engine_continue_deployment(struct rd_daemon *d, const char *deployment_id, const char *wait_type);

/* Rolloutd_v1.PlanDeployment: what a deployment to the group would do now,
 * computed by the functions the engine deploys with (engine_targets.h),
 * without deploying. */
struct engine_plan_request {
	const char *application_name;
	const char *deployment_group_name;
	const char *deployment_config_name; /* NULL: the group's */
	const json_t *target_instances;	    /* the deployment's targetInstances, or NULL */
	bool update_outdated_instances_only;
	const json_t *revision; /* compared under updateOutdatedInstancesOnly; NULL: the group's targetRevision */
};

/* Resolves the group through the platform plugins (blocks: call it from a
 * worker) and answers the plan: {applicationName, deploymentGroupName,
 * computePlatform, deploymentConfigName, minimumHealthyHosts?, batchSize,
 * minimumHealthy, targets, batches, failedFirst, excluded: [{instance,
 * reason}], errorInformation?: {code, message}} (errorInformation: the
 * deployment would fail before its first batch, e.g. NO_INSTANCES). 0 with
 * *ret (owned by the caller), or a negative errno with err (code: the API
 * exception, DeploymentGroupDoesNotExistException,
 * DeploymentConfigDoesNotExistException or InternalFailure). */
int engine_plan_deployment(struct rd_daemon *d, const struct engine_plan_request *req, json_t **ret,
			   struct rd_error *err);
