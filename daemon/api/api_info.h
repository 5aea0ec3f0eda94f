/* The CodeDeploy output shapes, made from the store's rows: the one place
 * where the API turns stored data (epoch milliseconds) into wire JSON
 * (epoch seconds). Each api_*_get() reads a row and returns its shape, with
 * the store's errors (-ENOENT, ...). json_t results are new references. */
#pragma once

#include <stddef.h>

#include <jansson.h>

#include "store/store.h"

struct rd_daemon;

json_t *api_app_info(const struct store_app *a);		/* ApplicationInfo */
json_t *api_config_info(const struct store_config *cf);		/* DeploymentConfigInfo */
json_t *api_group_info(const struct store_group *g);		/* DeploymentGroupInfo */
json_t *api_revision_info(const struct store_revision *rv);	/* GenericRevisionInfo */
json_t *api_deployment_info(const struct store_deployment *dp); /* DeploymentInfo */
json_t *api_target_info(const struct store_target *t);		/* DeploymentTarget */
/* BatchGetDeploymentTargets' reply, {"deploymentTargets": [...]}, as text:
 * the members of api_target_info() with each event's diagnostics from its
 * diagnostics_text (store_targets_get), neither parsed nor built as JSON
 * values. *ret malloc'd. 0 or -ENOMEM. */
int api_targets_text(struct store_target *const *v, size_t n, char **ret, size_t *ret_len);
json_t *api_instance_summary(const struct store_target *t);	/* InstanceSummary */
json_t *api_instance_info(const struct store_instance *in);	/* InstanceInfo */
json_t *api_tags_json(const struct store_tags *tags);		/* [Tag] */
json_t *api_hook_logs_json(const struct store_hook_logs *logs); /* [{InstanceId, LifecycleEventName, ...}] */
/* {AccessKeyId, Name, Policy, CreateTime, InstanceName?}, no secret. */
json_t *api_access_key_json(const struct store_access_key *k);

/* A list of [Tag] as the store's tags (copies; entries without a Key are
 * left out). -ENOMEM. */
int api_tags_parse(json_t *tags, struct store_tags *ret);
/* Adds or replaces the [Tag] tags on the resource arn. */
int api_tags_store(struct rd_daemon *d, const char *arn, json_t *tags);

int api_app_get(struct rd_daemon *d, const char *name, json_t **ret);
int api_config_get(struct rd_daemon *d, const char *name, json_t **ret);
int api_group_get(struct rd_daemon *d, const char *app, const char *name, json_t **ret);
int api_revision_get(struct rd_daemon *d, const char *app, json_t *revision, json_t **ret);
int api_deployment_get(struct rd_daemon *d, const char *id, json_t **ret);
int api_target_get(struct rd_daemon *d, const char *deployment_id, const char *target_id, json_t **ret);
int api_instance_summary_get(struct rd_daemon *d, const char *deployment_id, const char *instance_id, json_t **ret);
int api_instance_get(struct rd_daemon *d, const char *name, json_t **ret);
