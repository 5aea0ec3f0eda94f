/* The deployment engine of server (in-place and blue/green) deployments and
 * of deployments on platforms that shift traffic themselves (Lambda, ECS):
 * what the rest of the daemon may call. main.c starts it after the store,
 * the plugins and the HTTP server exist, registers its host-command routes
 * (engine_hostcmd_call; engine_hostcmd_direct on one daemon, whose calls the
 * engine thread authenticates itself) and stops it before they go down. The API tells it
 * about new work through the engine_notify_* functions, which never block.
 *
 * One engine thread owns every running deployment. It takes the inputs
 * queued since its last turn (new deployments, agent calls, stop requests,
 * resolved targets, plugin results, timers), applies them in ONE store
 * transaction, commits, and only then acts: answers agents, hands out
 * commands, starts plugin work. Transitions that arrive together share one
 * fsync (group commit), an agent's report is answered only once it is
 * durable, and a daemon killed at any point resumes from the store.
 *
 * The engine's files, by layer (each uses only the ones above it):
 *   engine_plan.c         pure planning: health policy, batches, event and target order
 *   spec.c                the signed deployment specification
 *   engine_hostcmd_id.c   the host-command protocol's identifiers
 *   engine_model.c        the in-memory deployments, targets and events
 *   engine_input.c        the input queue and the entry points below that feed it
 *   engine_targets.c      which instances a deployment reaches (resolve, selection), PlanDeployment
 *   engine_jobs.c         plugin work on workers, one function per job kind
 *   engine_outbox.c       what waits for the commit: replies, trigger fires, jobs, requests
 *   engine_hostcmd.c      the host-command service: host queues and the agents' operations
 *   engine_hostcmd_http.c the service over HTTP: route handlers, admission and reply transport
 *   engine_bg.c           the blue/green steps around the traffic phase
 *   engine_shift.c        Lambda / ECS deployments: their steps, hooks and routing back
 *   engine_shift_jobs.c   their plugin work on workers (start, one step)
 *   engine_autodeploy.c   deployments it creates itself: rollbacks, auto-updates
 *   engine.c              the state machine and the engine thread
 * engine_context.h holds struct engine, the state they share.
 *
 * Durability of the host-command calls: PutHostCommandComplete, and an
 * acknowledgement of a noop command (its answer completes the command), are
 * answered only after their transaction committed. Polls, specification
 * requests, other acknowledgements and updates are answered at once; what they change
 * (handed out, acknowledged, live output) is written in the same batch's
 * transaction and so is durable milliseconds later. If the daemon dies in
 * that window, a command that looked handed out is offered again, which
 * rollout-agent tolerates (it polls only between commands). A command
 * handed out but not acknowledged (before a restart or not) is offered
 * again when rollout-agent polls; other agents get it again after 30 s,
 * time to acknowledge or complete it. A completion for a command handed out
 * but never acknowledged is accepted (the official agent sends one when its
 * specification call fails). This keeps one fsync per lifecycle event
 * instead of three.
 *
 * Liveness (agent/PROTOCOL.md):
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
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"

struct rd_daemon;
struct engine;
struct eng_job;
struct eng_call;
struct httpd_call;

/* How the engine reaches beyond its thread. main.c passes engine_http_io;
 * the engine's unit test passes fakes. */
struct engine_io {
	/* Answers an agent's call (reply_to as it arrived); steals body. Any thread. */
	void (*reply)(void *reply_to, json_t *body);
	/* Answers it with a JSON text already encoded (copied), so that an
	 * answer many agents ask for is encoded once. Any thread. NULL: the
	 * engine decodes the text and answers through reply. */
	void (*reply_text)(void *reply_to, const char *json, size_t len);
	/* Refuses it: HTTP status, exception name (__type) and message. */
	void (*error)(void *reply_to, int http_status, const char *type, const char *message);
	/* Admits a call handed over unadmitted (engine_hostcmd_direct): checks
	 * its caller as the transport checks every call and fills in c. False
	 * when the call was refused (answered already). Engine thread; may read
	 * the store. NULL: no call arrives unadmitted. */
	bool (*admit)(struct eng_call *c);
	/* Runs a plugin job off the engine thread, which reports with
	 * eng_job_done() (engine_jobs.h). NULL: on the daemon's workers. */
	void (*submit)(struct engine *e, struct eng_job *job);
	/* A deployment's stored state (status, targets, lifecycle events, hook
	 * output, traffic shift) changed, told once the change is committed so
	 * that a read that follows sees it: the dashboard's live updates.
	 * Engine thread; must not block. NULL: nobody listens. */
	void (*changed)(void *changed_arg, const char *deployment_id);
	void *changed_arg;
	/* Several daemons on one database (docs/cluster.md): the two below are
	 * set by main.c from daemon/relay and are NULL on a single daemon.
	 * hosts_due: commands became due on hosts[0..n) whose poll this daemon
	 * does not hold (their agents may poll another daemon), told once per
	 * command at the end of the engine's turn; must not block long.
	 * relay: hands a held PollHostCommand (reply_to) to the daemon at url,
	 * which announced a command for its host; the transport completes it
	 * with that daemon's answer. hold_ms: what is left of its long-poll.
	 * Must not block. Both on the engine thread. */
	void (*hosts_due)(void *cluster_arg, const char *const *hosts, size_t n);
	void (*relay)(void *cluster_arg, void *reply_to, const char *url, int64_t hold_ms);
	void *cluster_arg;
};

/* Answers through the daemon's HTTP transport (engine_hostcmd_http.c). */
extern const struct engine_io engine_http_io;

/* Starts the engine thread after loading every unfinished deployment (on a
 * cluster, those leased to this daemon; cluster.h). io
 * is borrowed for the engine's lifetime. */
int engine_start(struct rd_daemon *d, const struct engine_io *io, struct rd_error *err);
void engine_stop(struct rd_daemon *d);

/* The host-command service's route handler (targets
 * CodeDeployCommandService_v20141006 and CodeDeployCommandService):
 * userdata is the struct rd_daemon. Queues the call for the engine thread;
 * refuses it once the engine stopped. */
void engine_hostcmd_call(struct httpd_call *call, void *userdata);

/* The same as a direct handler (httpd_set_direct; on one daemon, where no
 * relay decides first where a call goes): on the I/O thread, the call goes
 * to the engine thread unadmitted and is admitted there, one thread switch
 * fewer per call than through a workpool thread. */
void engine_hostcmd_direct(struct httpd_call *call, void *userdata);

/* The same for a call the cluster's relay routes here itself: relayed_in
 * (another daemon relayed it here: never handed on) and hold_ms (what is
 * left of a PollHostCommand's long-poll, 0 for the whole of it). */
void engine_hostcmd_call_held(struct httpd_call *call, struct rd_daemon *d, bool relayed_in, int64_t hold_ms);

/* A deployment was stored as Created (CreateDeployment, rollback, auto-update). */
void engine_notify_created(struct rd_daemon *d, const char *deployment_id);

/* A deployment was leased to this daemon by another one (daemon/cluster/: a
 * takeover, or a new deployment of a group this daemon drives): the engine
 * loads it and goes on from its committed state, as after a restart. Any
 * thread; never blocks. */
void engine_adopt(struct rd_daemon *d, const char *deployment_id);

/* Another daemon of the cluster (at url, its advertise URL) announced a
 * command due for host: a poll of that host held here and not relayed here
 * itself goes to url at once (engine_io.relay); a poll arriving within the
 * next moments too, which covers a poll that was on its way to the engine
 * when the announcement came. A poll another daemon relayed here is
 * answered empty at once instead: the daemon the agent polls routes it on.
 * A host with a command of this daemon's keeps its poll: it polls the other
 * daemon once that is done. */
void engine_notify_host(struct rd_daemon *d, const char *host, const char *url);

/* On-premises instances were registered, deregistered or (un)tagged: the
 * engine checks whether a deployment group now selects instances that never
 * received its last successful revision and, if so, creates a deployment of
 * that revision to them (creator CodeDeployAutoUpdate). */
void engine_notify_instances_changed(struct rd_daemon *d);

/* Whether a stopped deployment rolls back. */
enum engine_rollback {
	ENGINE_ROLLBACK_DEFAULT = -1, /* its autoRollbackConfiguration decides */
	ENGINE_ROLLBACK_NO = 0,
	ENGINE_ROLLBACK_YES = 1,
};

/* StopDeployment. Blocks until the engine has committed the stop (call from
 * a worker, not the I/O thread). Returns 0 with *ret_status "Succeeded" and
 * a message, -ENOENT when no such deployment, -EALREADY when it already
 * completed (DeploymentAlreadyCompleted), or another negative errno.
 * status_msg gets a sentence for statusMessage. */
int engine_stop_deployment(struct rd_daemon *d, const char *deployment_id, enum engine_rollback rollback,
			   const char **ret_status, char *status_msg, size_t msglen);

/* ContinueDeployment(READY_WAIT) of a blue/green deployment whose green
 * fleet waits for the go-ahead (deploymentReadyOption STOP_DEPLOYMENT):
 * traffic moves now. Blocks like engine_stop_deployment. 0; -ENOENT no such
 * deployment; -EALREADY it completed; -EAGAIN it is not waiting
 * (DeploymentIsNotInReadyStateException); -ENOTSUP for TERMINATION_WAIT or a
 * deployment that is not blue/green (UnsupportedActionForDeploymentType). */
int engine_continue_deployment(struct rd_daemon *d, const char *deployment_id, const char *wait_type);

/* PutLifecycleEventHookExecutionStatus of a Lambda or ECS deployment: the
 * hook function's verdict (status "Succeeded" or "Failed") for the
 * invocation execution_id. Blocks until the engine committed it (call from
 * a worker). 0; -ENOENT no such deployment; -ENOTSUP a Server deployment;
 * -ESRCH the execution id is not one of this deployment's; -EALREADY the
 * execution already has a status (or its deployment ended); msg says why. */
int engine_hook_status(struct rd_daemon *d, const char *deployment_id, const char *execution_id, const char *status,
		       char *msg, size_t msglen);

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
