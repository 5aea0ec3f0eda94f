/* The store's records for health: trigger-notification deliveries, one row
 * per delivery of one event to one target (store_health.c); conventions as in store.h (0 / negative
 * errno, times in epoch milliseconds, json_t results owned by the caller). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct store;
struct store_tx;

struct store_trigger_delivery {
	const char *deployment_id; /* may be NULL */
	const char *instance_id;   /* NULL for deployment events */
	const char *event;	   /* TriggerEventType, e.g. "DeploymentSuccess" */
	const char *trigger_name;
	const char *target; /* SNS topic ARN or webhook URL */
	const char *subject;
	const char *message; /* the JSON text delivered */
	const char *owner;   /* the daemon that delivers it (cluster_self_id), NULL on SQLite */
};

/* Records a new delivery as Pending; *ret_id is its row id. */
int store_trigger_delivery_insert(struct store *st, const struct store_trigger_delivery *td, int64_t *ret_id);
/* The same inside the engine's transaction (store_engine.h): the delivery
 * is recorded if and only if the transition that fired it is. */
int store_eng_trigger_delivery_insert(struct store_tx *tx, const struct store_trigger_delivery *td, int64_t *ret_id);
/* Sets status ("Pending", "Delivered", "Failed"), attempts, last_error and
 * response (SNS MessageId / HTTP status), each may be NULL. -ENOENT. */
int store_trigger_delivery_update(struct store *st, int64_t id, const char *status, int attempts,
				  const char *last_error, const char *response);
/* Deletes Delivered and Failed rows last updated before before_ms; the
 * number deleted in *ret_n (may be NULL). */
int store_trigger_delivery_prune(struct store *st, int64_t before_ms, int64_t *ret_n);
/* Deliveries as [{id, deploymentId, instanceId, event, triggerName, target,
 * status, attempts, lastError, response, subject, message, createTime,
 * updateTime, owner}] in id order: of one deployment (deployment_id non-NULL), or
 * those still Pending (deployment_id NULL, pending_only true), or all. */
int store_trigger_delivery_list(struct store *st, const char *deployment_id, bool pending_only, json_t **ret);
/* Takes the Pending deliveries whose owner is not an alive daemon of
 * cluster_daemons (one that died, stopped or was expired; NULL: recorded on
 * SQLite) for owner, and returns them as store_trigger_delivery_list does.
 * Nothing is taken when owner is not alive itself; owner NULL (SQLite, one
 * daemon) takes every Pending delivery. */
int store_trigger_delivery_adopt(struct store *st, const char *owner, json_t **ret);
/* Before an attempt on a cluster: 0 when delivery id is still Pending,
 * owned by owner, and owner is alive; -ESTALE when not (another daemon
 * adopted it, or owner was expired), then it must not be sent. */
int store_trigger_delivery_claim(struct store *st, int64_t id, const char *owner);
