/* The store: SQLite in <data_dir>/state.db (WAL, synchronous=FULL), the only
 * module with SQL. Schema migrations (store_migrations.c) are applied by
 * store_open(). All functions are thread-safe and may block on disk: call
 * them from workpool threads or main, never from the I/O thread.
 *
 * Conventions: 0 or negative errno; -ENOENT "no such row", -EEXIST
 * "already exists"; ret_ parameters written only on success; json_t results
 * are new references owned by the caller. Times are epoch milliseconds.
 *
 * Nested CodeDeploy documents are validated by the API layer and stored as
 * JSON text next to indexed columns. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;

/* Opens (creating with mode 0600) dir/state.db and migrates it. */
int store_open(const char *data_dir, struct store **ret, char *err, size_t errlen);
struct store *store_close(struct store *st);
/* Highest applied migration version. */
int store_schema_version(struct store *st, int *ret_version);

/* ---- access keys (SigV4 credentials) ---- */
#define STORE_KEY_ID_LEN 20
#define STORE_SECRET_LEN 40

struct store_access_key {
	char id[STORE_KEY_ID_LEN + 1];
	char secret[STORE_SECRET_LEN + 1];
	char name[129];
	char policy[16];    /* admin | deployer | readonly | agent */
	char instance[129]; /* bound instance name (agent), "" when none */
	int64_t create_time;
};

bool store_policy_valid(const char *policy);
/* Mints a new key; -EINVAL for an unknown policy or an agent key without
 * instance (message in err). */
int store_access_key_create(struct store *st, const char *name, const char *policy, const char *instance,
			    struct store_access_key *ret, char *err, size_t errlen);
int store_access_key_get(struct store *st, const char *id, struct store_access_key *ret);
/* [{AccessKeyId, Name, Policy, InstanceName?, CreateTime(seconds)}] ordered by id, no secrets. */
int store_access_key_list(struct store *st, json_t **ret);
int store_access_key_delete(struct store *st, const char *id);

/* ==== control API queries (store_api.c) ====
 * Get functions return the CodeDeploy output shape (ApplicationInfo,
 * DeploymentGroupInfo, ...) as JSON with epoch-second timestamps. List
 * functions page by a cursor: pass the last item of the previous page (NULL
 * for the first page); *ret_more tells whether more items follow. */

/* applications */
int store_app_create(struct store *st, const char *name, const char *platform, char ret_id[37]);
int store_app_get(struct store *st, const char *name, json_t **ret_info);
int store_app_list(struct store *st, const char *after, size_t limit, json_t **ret_names, bool *ret_more);
/* Renames; moves tags from old_arn to new_arn and group ARNs under
 * old_group_arn_prefix to new_group_arn_prefix. -ENOENT, -EEXIST. */
int store_app_rename(struct store *st, const char *name, const char *new_name, const char *old_arn, const char *new_arn,
		     const char *old_group_arn_prefix, const char *new_group_arn_prefix);
/* Deletes the application, its groups, revisions, deployments and tags. */
int store_app_delete(struct store *st, const char *name, const char *arn, const char *group_arn_prefix);

/* deployment configs; doc = {minimumHealthyHosts?, trafficRoutingConfig?, zonalConfig?} */
int store_config_create(struct store *st, const char *name, const char *platform, json_t *doc, char ret_id[37]);
int store_config_get(struct store *st, const char *name, json_t **ret_info);
int store_config_list(struct store *st, const char *after, size_t limit, json_t **ret_names, bool *ret_more);
/* -ENOENT, -EPERM (built-in), -EBUSY (a deployment group uses it) */
int store_config_delete(struct store *st, const char *name);

/* deployment groups; doc = settings in DeploymentGroupInfo form */
int store_group_create(struct store *st, const char *app, const char *name, const char *config, json_t *doc,
		       char ret_id[37]);
int store_group_get(struct store *st, const char *app, const char *name, json_t **ret_info);
int store_group_list(struct store *st, const char *app, const char *after, size_t limit, json_t **ret_names,
		     bool *ret_more);
/* Replaces settings (and renames when new_name differs). -ENOENT, -EEXIST. */
int store_group_update(struct store *st, const char *app, const char *name, const char *new_name, const char *config,
		       json_t *doc, const char *old_arn, const char *new_arn);
int store_group_delete(struct store *st, const char *app, const char *name, const char *arn);

/* revisions (revision: a validated RevisionLocation) */
int store_revision_register(struct store *st, const char *app, json_t *revision, const char *description);
/* GenericRevisionInfo. -ENOENT */
int store_revision_get(struct store *st, const char *app, json_t *revision, json_t **ret_info);
struct store_revision_query {
	const char *app;
	const char *sort_by; /* registerTime | firstUsedTime | lastUsedTime | NULL (registration order) */
	bool descending;
	const char *s3_bucket, *s3_key_prefix; /* NULL = any */
	const char *deployed;		       /* include | exclude | ignore | NULL */
	int64_t offset;
	size_t limit;
};
/* [RevisionLocation] */
int store_revision_list(struct store *st, const struct store_revision_query *q, json_t **ret_revisions, bool *ret_more);

/* deployments */
struct store_new_deployment {
	const char *id, *app, *group, *config, *platform, *creator, *external_id;
	json_t *revision;   /* RevisionLocation or NULL */
	json_t *doc;	    /* the other DeploymentInfo members */
	char active_id[16]; /* out: with -EALREADY, the group's active deployment */
};
/* Stores it Created and marks the revision used (the group's targetRevision
 * and lastAttemptedDeployment follow from it). -EEXIST on an id clash;
 * -EALREADY when the group already has a deployment that is Created, Queued,
 * InProgress, Baking or Ready (one at a time per group, as on AWS). */
int store_deployment_create(struct store *st, struct store_new_deployment *nd);
int store_deployment_get(struct store *st, const char *id, json_t **ret_info); /* DeploymentInfo */
struct store_deployment_query {
	const char *app, *group, *external_id; /* NULL = any */
	json_t *statuses;		       /* [string] or NULL */
	int64_t start_ms, end_ms;	       /* -1 = open */
	int64_t before_seq;		       /* 0 = first page (newest first) */
	size_t limit;
};
int store_deployment_list(struct store *st, const struct store_deployment_query *q, json_t **ret_ids,
			  int64_t *ret_last_seq, bool *ret_more);
/* The deployment's status, compute platform and group; -ENOENT. */
int store_deployment_brief(struct store *st, const char *id, char ret_status[16], char ret_platform[16]);

/* deployment targets (filled by the engine) */
/* DeploymentTarget {deploymentTargetType, instanceTarget|lambdaTarget|...} */
int store_target_get(struct store *st, const char *deployment_id, const char *target_id, json_t **ret_target);
/* InstanceSummary (deprecated API) */
int store_instance_summary_get(struct store *st, const char *deployment_id, const char *target_id, json_t **ret);
/* Ids in order; statuses / labels: [string] or NULL. */
int store_target_list(struct store *st, const char *deployment_id, json_t *statuses, json_t *labels, const char *after,
		      size_t limit, json_t **ret_ids, bool *ret_more);

/* on-premises instances */
/* -EEXIST name registered, -EADDRINUSE when the ARN is another instance's */
int store_instance_register(struct store *st, const char *name, const char *session_arn, const char *user_arn,
			    const char *instance_arn);
int store_instance_deregister(struct store *st, const char *name);
int store_instance_get(struct store *st, const char *name, json_t **ret_info); /* InstanceInfo */
/* registration_status: Registered | Deregistered | NULL; tag_filters: [TagFilter] (any matches) or NULL */
int store_instance_list(struct store *st, const char *registration_status, json_t *tag_filters, const char *after,
			size_t limit, json_t **ret_names, bool *ret_more);
/* names: [string], tags: [Tag]. -ENOENT (with *ret_missing, borrowed from
 * names) when one is not registered; nothing is changed then. */
int store_instance_tags_add(struct store *st, json_t *names, json_t *tags, const char **ret_missing);
int store_instance_tags_remove(struct store *st, json_t *names, json_t *tags, const char **ret_missing);
/* Registered instance names, tags: for platform plugins. */
int store_instance_all(struct store *st, json_t **ret_infos);

/* resource tags by ARN */
int store_tags_set(struct store *st, const char *arn, json_t *tags);	   /* [Tag] */
int store_tags_remove(struct store *st, const char *arn, json_t *keys);	   /* [string] */
int store_tags_list(struct store *st, const char *arn, json_t **ret_tags); /* [Tag] */

/* Hook output (hook_logs) of a deployment in arrival order after cursor
 * (0 = from the start), optionally of one target: [{InstanceId,
 * LifecycleEventName, Sequence, Time, Data}]. *ret_cursor is the cursor to
 * pass next time (unchanged when nothing new arrived). */
int store_hook_logs_read(struct store *st, const char *deployment_id, const char *target_id, int64_t after,
			 size_t limit, json_t **ret_items, int64_t *ret_cursor);
/* 0 when the deployment group exists, -ENOENT when not (cheap). */
int store_group_exists(struct store *st, const char *app, const char *name);
