/* Trigger notifications: a deployment group's
 * triggerConfigurations [{triggerName, triggerTargetArn, triggerEvents}]
 * fire on their events (DeploymentStart, DeploymentSuccess,
 * DeploymentFailure, DeploymentStop, DeploymentRollback, DeploymentReady,
 * InstanceStart, InstanceSuccess, InstanceFailure, InstanceReady).
 *
 *  - triggerTargetArn an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME):
 *    SNS Publish (query API, SigV4 service "sns", region from the ARN),
 *    credentials from the standard chain (environment, shared credentials
 *    file, IMDSv2), endpoint $AWS_ENDPOINT_URL_SNS, else $AWS_ENDPOINT_URL,
 *    else https://sns.REGION.amazonaws.com/ (the AWS SDKs' variables).
 *  - triggerTargetArn an http:// or https:// URL (rolloutd extension): the
 *    same JSON message is POSTed with Content-Type application/json and
 *    X-Rolloutd-Event / X-Rolloutd-Delivery headers; any 2xx is delivered.
 *
 * Delivery happens on one delivery thread, never on the caller's: fire only
 * queues. Every delivery is recorded in the store (trigger_deliveries:
 * Pending -> Delivered | Failed, attempts, last error, SNS MessageId / HTTP
 * status). Transport errors, 5xx and throttling are retried with
 * exponential backoff (1 s, 2 s, 4 s, ... at most 60 s apart, 6 attempts;
 * $ROLLOUTD_TRIGGER_RETRY_BASE_MS and $ROLLOUTD_TRIGGER_MAX_ATTEMPTS change
 * them); other 4xx answers fail at once. Deliveries still Pending at
 * shutdown are resumed by triggers_resume() at the next start.
 *
 * On a cluster (docs/cluster.md) each delivery's row names its owner, the
 * daemon that fired it; a daemon sends one only while it is alive
 * (cluster_driving) and the row is still its own, and the daemon holding the
 * "triggers" lease adopts the Pending deliveries of daemons that are gone
 * (triggers_resume starts that look-out instead of resending every Pending
 * delivery, which the other daemons may be sending).
 *
 * The engine records its deliveries in the transaction of the transition
 * that fires them and queues them once it committed (triggers_fire_tx; its
 * outbox, daemon/engine/engine_outbox.c): DeploymentStart, DeploymentSuccess,
 * DeploymentFailure, DeploymentStop, DeploymentRollback, DeploymentReady
 * (blue/green), InstanceStart, InstanceSuccess, InstanceFailure
 * with info = {"deploymentId", "status" (CodeDeploy's upper-case: CREATED,
 * IN_PROGRESS, SUCCEEDED, FAILED, STOPPED), "createTime", "completeTime",
 * "deploymentOverview" {...}, "errorInformation" {...}, "instanceId",
 * "instanceStatus", "rollbackDeploymentId"} -- any subset; see
 * docs/health.md for the message. main.c calls triggers_resume(d) before
 * engine_start (what the engine records from then on it queues itself) and
 * triggers_shutdown(d) after engine_stop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct rd_daemon;

/* Queues one delivery per trigger of group_doc subscribed to event (group_doc
 * and info borrowed; copied). Never blocks on I/O. 0 (also when nothing
 * subscribes), -EINVAL for an unknown event, -ENOMEM. */
int triggers_fire(struct rd_daemon *d, const char *event, const json_t *group_doc, const json_t *info);

/* The engine's way: inside its transaction tx (store_engine.h), records one
 * Pending delivery per subscribed trigger (owned by this daemon on a
 * cluster), so that a notification is stored if and only if the transition
 * that fired it is, and adds them to *batch (created when NULL). After the
 * commit triggers_batch_send() queues them; after a rollback
 * triggers_batch_free() forgets them. 0, or a negative errno (a failed
 * insert fails the transaction: the caller rolls back). */
struct triggers_batch;
struct store_tx;
int triggers_fire_tx(struct rd_daemon *d, struct store_tx *tx, const char *event, const json_t *group_doc,
		     const json_t *info, struct triggers_batch **batch);
void triggers_batch_send(struct triggers_batch *b);
void triggers_batch_free(struct triggers_batch *b);

/* triggers_fire with the info built from plain values (for the engine):
 * status is the engine's deployment status name ("Created", "Queued",
 * "InProgress", "Succeeded", "Failed", "Stopped", "Ready"), sent upper-case
 * as CodeDeploy does (IN_PROGRESS, ...); instance_id / instance_status
 * ("InProgress", "Succeeded", "Failed", "Skipped") for Instance* events and
 * error_code / error_message (errorInformation) may be NULL. Returns at once
 * when the group has no triggerConfigurations. */
int triggers_fire_status(struct rd_daemon *d, const char *event, const json_t *group_doc, const char *deployment_id,
			 const char *status, const char *instance_id, const char *instance_status,
			 const char *error_code, const char *error_message);

/* Re-queues the deliveries the store still has Pending (after a restart). */
int triggers_resume(struct rd_daemon *d);

/* Waits at most timeout_ms until nothing is queued or in flight (tests,
 * drivers). 0, or -ETIMEDOUT. */
int triggers_drain(struct rd_daemon *d, int64_t timeout_ms);

/* Stops the delivery thread after the attempt in flight; what is still
 * queued stays Pending in the store. */
void triggers_shutdown(struct rd_daemon *d);

/* ---- pure helpers (unit-tested) ---- */

/* True for the ten TriggerEventType names. */
bool triggers_event_valid(const char *event);
/* The region of an SNS topic ARN into out; -EINVAL when target is not one. */
int triggers_sns_region(const char *arn, char *out, size_t outlen);
/* The notification body and SNS subject (malloc'd; the caller frees). */
int triggers_message(const char *event, const char *trigger_name, const char *region, const char *account_id,
		     const json_t *group_doc, const json_t *info, char **ret_message, char **ret_subject);
