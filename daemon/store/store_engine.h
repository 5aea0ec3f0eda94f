/* The engine's queries. They live with the entity they touch:
 * transactions in store.c, groups and configs in store_group.c, deployments,
 * targets, events, host commands, hook logs and bundles in
 * store_deployment.c, instances in store_instance.c.
 *
 * The engine thread works in transactions: store_eng_begin() ... one or
 * many calls ... store_eng_commit(). Every call below except the
 * *_nt ("no transaction") ones takes the open transaction. Times are epoch
 * milliseconds. json_t results are new references owned by the caller. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;
struct store_tx;

int store_eng_begin(struct store *st, struct store_tx **ret);
/* Commits (durable: WAL + synchronous=FULL) and releases the transaction,
 * also on failure. */
int store_eng_commit(struct store_tx *tx);
void store_eng_rollback(struct store_tx *tx);
/* Whether anything was written since store_eng_begin(). */
bool store_eng_has_writes(struct store_tx *tx);
/* Rows written since store_eng_begin(). */
int64_t store_eng_changes(struct store_tx *tx);
/* The ids of the deployments whose state (status, overview, targets,
 * lifecycle events, hook logs, traffic shift) tx wrote, as the keys of an
 * object, or NULL when none; borrowed until commit or rollback. What a
 * watcher of those deployments is told once the commit succeeded. */
json_t *store_eng_touched(struct store_tx *tx);

/* ---- deployments (store_deployment.c) ---- */

/* Deployment row as an object: id, application, deployment_group,
 * deployment_config, compute_platform, status, creator, create_time,
 * start_time, revision (json or null), doc (json object), rollback_info. */
int store_eng_deployment(struct store_tx *tx, const char *id, json_t **ret);
/* Ids of deployments in status Created, Queued or InProgress, oldest first. */
int store_eng_active_ids(struct store_tx *tx, json_t **ret);
int store_eng_deployment_status(struct store_tx *tx, const char *id, const char *status, int64_t start_time,
				int64_t complete_time, const char *error_code, const char *error_message);
int store_eng_deployment_overview(struct store_tx *tx, const char *id, const json_t *overview);
int store_eng_deployment_rollback_info(struct store_tx *tx, const char *id, const json_t *info);
/* Sets member key of the deployment's stored document (DeploymentInfo
 * members the API reports as they are, e.g. instanceTerminationWaitTimeStarted). */
int store_eng_deployment_doc_set(struct store_tx *tx, const char *id, const char *key, const json_t *value);
/* Inserts a deployment the engine creates (rollback, auto-update) in status
 * Created, copying the columns named in row (same shape as above). */
int store_eng_deployment_insert(struct store_tx *tx, const json_t *row);

/* ---- leases of a cluster's daemons (store_cluster.c) ---- */

/* On PostgreSQL with self set: -ESTALE unless daemon self's row is alive.
 * Run first in each engine transaction: a daemon another one expired writes
 * nothing more. 0 on SQLite or with self NULL. */
int store_eng_fence_check(struct store_tx *tx, const char *self);
/* The daemon that drives deployment dep: its lease's when that daemon is
 * alive, else (leased now) the one driving another unfinished deployment of
 * its group, else self; every daemon is told at commit (NOTIFY
 * rolloutd_lease "leased OWNER DEP"). ret_owner gets it; on SQLite self. */
int store_eng_lease_take(struct store_tx *tx, const char *dep, const char *self, char *ret_owner, size_t len);
/* As store_eng_active_ids, only those leased to self (all with self NULL or
 * on SQLite). */
int store_eng_leased_ids(struct store_tx *tx, const char *self, json_t **ret);

/* ---- groups and configs (store_group.c) ---- */

/* The group's stored settings document (DeploymentGroupInfo members) with
 * its row added under the same member names: applicationName,
 * deploymentGroupName, deploymentGroupId, deploymentConfigName,
 * computePlatform, and targetRevision (the revision of the group's last
 * successful deployment, or null). */
int store_eng_group(struct store_tx *tx, const char *app, const char *group, json_t **ret);
/* The doc of a deployment config ({minimumHealthyHosts, ...}). */
int store_eng_config(struct store_tx *tx, const char *name, json_t **ret);
/* A deployment of the group succeeded: its revision (when not NULL) becomes
 * the group's targetRevision. */
int store_eng_group_succeeded(struct store_tx *tx, const char *app, const char *group, const json_t *revision);
/* [{application, name}] of every deployment group of compute platform Server. */
int store_eng_server_groups(struct store_tx *tx, json_t **ret);

/* ---- targets, lifecycle events, host commands, hook logs (store_deployment.c) ---- */

/* label: instanceLabel (Blue / Green) of a blue/green deployment's target, else NULL. */
int store_eng_target_insert(struct store_tx *tx, const char *dep, const char *target, int seq, const char *arn,
			    const char *status, const char *label, const json_t *doc, int64_t now);
int store_eng_target_status(struct store_tx *tx, const char *dep, const char *target, const char *status, int64_t now);
int store_eng_event_insert(struct store_tx *tx, const char *dep, const char *target, int seq, const char *name,
			   const char *status);
int store_eng_event_update(struct store_tx *tx, const char *dep, const char *target, int seq, const char *status,
			   int64_t start_time, int64_t end_time, const json_t *diagnostics);
/* Targets of a deployment in seq order: [{target_id, seq, target_arn, status,
 * doc, events: [{seq, name, status, start_time, end_time, diagnostics}],
 * command: {id, host, lifecycle_seq, status, acked_time} (latest, or null)}]. */
int store_eng_targets(struct store_tx *tx, const char *dep, json_t **ret);

/* Inserts a host command (status Pending) and returns its row id. */
int store_eng_cmd_insert(struct store_tx *tx, const char *host, const char *dep, const char *target, int lseq,
			 const char *name, int64_t now, int64_t *ret_id);
/* Sets status; acked/complete times when > 0; diagnostics when non-NULL. */
int store_eng_cmd_update(struct store_tx *tx, int64_t id, const char *status, int64_t acked_time, int64_t complete_time,
			 const json_t *diagnostics);

/* Status of the instance's target in its most recent finished deployment
 * other than exclude_dep ("Succeeded", "Failed", ...); *ret NULL when none.
 * ret is malloc'd. */
int store_eng_instance_last_status(struct store_tx *tx, const char *instance, const char *exclude_dep, char **ret);
/* Revision (json) of the instance's most recent Succeeded target in the
 * group; *ret NULL when none. */
int store_eng_instance_last_revision(struct store_tx *tx, const char *app, const char *group, const char *instance,
				     json_t **ret);
/* Creator (creator >= 64 bytes) and revision of the deployment that last
 * deployed to the instance successfully in the group; -ENOENT when none. */
int store_eng_instance_last_success(struct store_tx *tx, const char *app, const char *group, const char *instance,
				    char *ret_creator, json_t **ret_revision);
/* Whether a deployment of the group to instance by Auto Scaling (creator
 * autoscaling or autoscalingTermination) holds the lifecycle action token
 * (doc.rolloutLifecycle.token): Auto Scaling's message delivered again. */
int store_eng_lifecycle_token_known(struct store_tx *tx, const char *app, const char *group, const char *instance,
				    const char *token, bool *ret);
/* Whether the instance was ever a target of a deployment of the group. */
int store_eng_instance_in_group(struct store_tx *tx, const char *app, const char *group, const char *instance,
				bool *ret);
/* Whether the group has a deployment not Succeeded, Failed or Stopped (on
 * any daemon of a cluster). */
int store_eng_group_unfinished(struct store_tx *tx, const char *app, const char *group, bool *ret);
/* Id of the last Succeeded deployment of the group other than exclude_dep,
 * with its revision; -ENOENT when none. ret_id >= 16 bytes. */
int store_eng_last_good(struct store_tx *tx, const char *app, const char *group, const char *exclude_dep, char *ret_id,
			json_t **ret_revision);

/* Stores hook-output chunk number seq (the agent's, per command; a seq
 * already stored is ignored), keeping at most cap_bytes per instance and
 * event (older chunks are dropped first). */
int store_eng_hook_log(struct store_tx *tx, const char *dep, const char *target, const char *event, int64_t seq,
		       int64_t now, const char *chunk, size_t cap_bytes);

/* ---- instances (store_instance.c) ---- */

/* The instance's identifiers: iam user/session ARN; -ENOENT when unknown.
 * *ret malloc'd (NULL when the instance has neither). */
int store_eng_instance_arn(struct store_tx *tx, const char *instance, char **ret);
/* The instance whose IAM ARN or name is host_identifier; -ENOENT. *ret malloc'd. */
int store_eng_instance_by_identifier(struct store_tx *tx, const char *host_identifier, char **ret);

/* ---- the deployment's bundle (store_deployment.c) ---- */

/* The cached bundle of a deployment ({sha256, size, bundleType}), kept in
 * the meta table under "engine.bundle.<id>". *ret NULL when none. */
int store_eng_bundle_set(struct store_tx *tx, const char *dep, const json_t *bundle);
int store_eng_bundle_get(struct store_tx *tx, const char *dep, json_t **ret);

/* ---- platforms that shift traffic themselves (store_shift.c) ---- */

/* {plugin, appspec, state, cursor} of a Lambda/ECS deployment; -ENOENT
 * before its plugin was chosen. */
int store_eng_shift_get(struct store_tx *tx, const char *dep, json_t **ret);
/* Creates or updates it; a NULL plugin, appspec, state or cursor keeps the
 * stored one (a new row needs plugin). */
int store_eng_shift_put(struct store_tx *tx, const char *dep, const char *plugin, const json_t *appspec,
			const json_t *state, const json_t *cursor, int64_t now);
/* The target's platform view: deploymentTargetType (LambdaTarget, ECSTarget),
 * ARN and the type-specific members (lambdaFunctionInfo, ...); NULL keeps. */
int store_eng_target_view(struct store_tx *tx, const char *dep, const char *target, const char *type, const char *arn,
			  const json_t *doc, int64_t now);
/* The LifecycleEventHookExecutionId of an event (unique across the store). */
int store_eng_event_hook(struct store_tx *tx, const char *dep, const char *target, int seq, const char *exec_id);
struct store_hook_execution {
	char deployment_id[16];
	char target_id[256];
	int seq;
	char event[32];
	char status[16];
};
/* The event a hook execution id belongs to; -ENOENT when unknown. */
int store_eng_hook_find(struct store_tx *tx, const char *exec_id, struct store_hook_execution *ret);
