/* The store: SQLite in <data_dir>/state.db (WAL, synchronous=FULL), the only
 * module with SQL. Schema migrations (store_migrations.c) are applied by
 * store_open(). All functions are thread-safe and may block on disk: call
 * them from workpool threads or main, never from the I/O thread.
 *
 * Conventions: 0 or negative errno; -ENOENT "no such row", -EEXIST
 * "already exists"; ret_ parameters written only on success; json_t results
 * are new references owned by the caller; row structs come with a _free()
 * that accepts NULL and returns NULL. Times are epoch milliseconds, 0 when
 * unset.
 *
 * The store returns rows, not API shapes: the control API (daemon/api/)
 * makes the CodeDeploy JSON from them. Nested CodeDeploy documents that the
 * API validated (a group's settings, a revision location, a deployment's
 * other members) are kept as JSON text next to indexed columns and handed
 * back as they were stored.
 *
 * List functions page by a cursor: pass the last item of the previous page
 * (NULL for the first page); *ret_more tells whether more items follow.
 * Lists of names are JSON arrays of strings. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"

struct store;
struct tagfilter_set;

/* Opens (creating with mode 0600) dir/state.db and migrates it. */
int store_open(const char *data_dir, struct store **ret, struct rd_error *err);
/* Opens the PostgreSQL database conninfo names (a libpq connection URI or
 * key=value string) and migrates it under an advisory lock. password, when
 * not NULL, is given to libpq apart from conninfo (store_password_file);
 * else libpq takes it from conninfo, PGPASSWORD or PGPASSFILE. */
int store_open_pg(const char *conninfo, const char *password, struct store **ret, struct rd_error *err);
/* True when st is the PostgreSQL store. */
bool store_is_postgresql(const struct store *st);
struct store *store_close(struct store *st);
/* The space each table and index takes in state.db, largest first:
 * fn(name, bytes, rows, ud), rows -1 for an index. Reads every page: for benches and reports, not hot paths.
 * -ENOTSUP when SQLite was built without the dbstat table. */
int store_size_report(struct store *st, void (*fn)(const char *name, int64_t bytes, int64_t rows, void *ud), void *ud);

/* A tag: on an application or deployment group (by ARN), or on an
 * on-premises instance. */
struct store_tag {
	char *key;
	char *value; /* read: "" when the tag has no value; written: NULL = none (see each function) */
};
struct store_tags {
	struct store_tag *v;
	size_t n;
};
void store_tags_clear(struct store_tags *tags);

/* ==== applications (store_app.c) ==== */

struct store_app {
	char *name, *id, *compute_platform;
	char *github_account; /* NULL when not linked to GitHub */
	int64_t create_time;
};
struct store_app *store_app_free(struct store_app *a);

int store_app_create(struct store *st, const char *name, const char *platform, char ret_id[37]);
int store_app_get(struct store *st, const char *name, struct store_app **ret);
int store_app_list(struct store *st, const char *after, size_t limit, json_t **ret_names, bool *ret_more);
/* Renames; moves tags from old_arn to new_arn and group ARNs under
 * old_group_arn_prefix to new_group_arn_prefix. -ENOENT, -EEXIST. */
int store_app_rename(struct store *st, const char *name, const char *new_name, const char *old_arn, const char *new_arn,
		     const char *old_group_arn_prefix, const char *new_group_arn_prefix);
/* Deletes the application, its groups, revisions, deployments and tags. */
int store_app_delete(struct store *st, const char *name, const char *arn, const char *group_arn_prefix);

/* ==== resource tags by ARN (store_tags.c) ==== */

/* Adds or replaces each tag. */
int store_tags_set(struct store *st, const char *arn, const struct store_tag *tags, size_t n);
/* keys: [string] */
int store_tags_remove(struct store *st, const char *arn, json_t *keys);
/* The tags ordered by key. */
int store_tags_list(struct store *st, const char *arn, struct store_tags *ret);

/* ==== deployment configs and groups (store_group.c) ==== */

/* doc = {minimumHealthyHosts?, trafficRoutingConfig?, zonalConfig?} */
struct store_config {
	char *name, *id, *compute_platform;
	bool builtin;
	int64_t create_time;
	json_t *doc;
};
struct store_config *store_config_free(struct store_config *cf);

int store_config_create(struct store *st, const char *name, const char *platform, json_t *doc, char ret_id[37]);
int store_config_get(struct store *st, const char *name, struct store_config **ret);
int store_config_list(struct store *st, const char *after, size_t limit, json_t **ret_names, bool *ret_more);
/* -ENOENT, -EPERM (built-in), -EBUSY (a deployment group uses it) */
int store_config_delete(struct store *st, const char *name);

/* A group's latest deployment (id "" when it has none). */
struct store_last_deployment {
	char id[16];
	char status[16];
	int64_t create_time, complete_time;
	json_t *revision; /* NULL when the deployment names none */
};

/* doc = the group's settings in DeploymentGroupInfo form */
struct store_group {
	char *app, *name, *id, *config, *compute_platform;
	json_t *doc;
	struct store_last_deployment last_attempted, last_successful;
};
struct store_group *store_group_free(struct store_group *g);

int store_group_create(struct store *st, const char *app, const char *name, const char *config, json_t *doc,
		       char ret_id[37]);
int store_group_get(struct store *st, const char *app, const char *name, struct store_group **ret);
int store_group_list(struct store *st, const char *app, const char *after, size_t limit, json_t **ret_names,
		     bool *ret_more);
/* 0 when the deployment group exists, -ENOENT when not (cheap). */
int store_group_exists(struct store *st, const char *app, const char *name);
/* Replaces settings (and renames when new_name differs). -ENOENT, -EEXIST. */
int store_group_update(struct store *st, const char *app, const char *name, const char *new_name, const char *config,
		       json_t *doc, const char *old_arn, const char *new_arn);
int store_group_delete(struct store *st, const char *app, const char *name, const char *arn);

/* ==== revisions (store_revision.c) ==== */

/* revision: a validated RevisionLocation */
int store_revision_register(struct store *st, const char *app, json_t *revision, const char *description);

struct store_revision {
	char *description;	   /* NULL when none */
	json_t *deployment_groups; /* [string] */
	int64_t register_time, first_used_time, last_used_time;
};
struct store_revision *store_revision_free(struct store_revision *rv);
/* -ENOENT when not registered or used */
int store_revision_get(struct store *st, const char *app, json_t *revision, struct store_revision **ret);

struct store_revision_query {
	const char *app;
	const char *sort_by; /* registerTime | firstUsedTime | lastUsedTime | NULL (registration order) */
	bool descending;
	const char *s3_bucket, *s3_key_prefix; /* NULL = any */
	const char *deployed;		       /* include | exclude | ignore | NULL */
	int64_t offset;
	size_t limit;
};
/* The revision locations as stored: [RevisionLocation]. */
int store_revision_list(struct store *st, const struct store_revision_query *q, json_t **ret_revisions, bool *ret_more);

/* ==== deployments, targets, lifecycle events, hook logs (store_deployment.c) ==== */

struct store_new_deployment {
	const char *id, *app, *group, *config, *platform, *creator, *external_id;
	json_t *revision;   /* RevisionLocation or NULL */
	json_t *doc;	    /* the other DeploymentInfo members */
	char active_id[16]; /* out: with -EALREADY, the group's active deployment */
};
/* Stores it Created and marks the revision used (the group's last attempted
 * deployment follows from it). -EEXIST on an id clash; -ENOENT when the
 * application is gone; -EALREADY when the group already has a deployment
 * that is Created, Queued, InProgress, Baking or Ready (one at a time per
 * group, as on AWS). */
int store_deployment_create(struct store *st, struct store_new_deployment *nd);

/* Targets per status, counted when the engine has stored no overview. */
struct store_target_counts {
	int64_t pending, in_progress, succeeded, failed, skipped, ready;
};

struct store_deployment {
	char *id, *app, *group, *config, *compute_platform, *status, *creator;
	char *external_id, *error_code, *error_message; /* NULL when none */
	int64_t create_time, start_time, complete_time;
	json_t *revision, *previous_revision; /* RevisionLocation or NULL */
	json_t *overview;		      /* as the engine stored it, or NULL: see counts */
	struct store_target_counts counts;
	json_t *status_messages; /* [string] or NULL */
	json_t *rollback_info;	 /* or NULL */
	json_t *doc;		 /* the other DeploymentInfo members (object) */
};
struct store_deployment *store_deployment_free(struct store_deployment *dp);
int store_deployment_get(struct store *st, const char *id, struct store_deployment **ret);

struct store_deployment_query {
	const char *app, *group, *external_id; /* NULL = any */
	json_t *statuses;		       /* [string] or NULL */
	int64_t start_ms, end_ms;	       /* -1 = open */
	int64_t before_seq;		       /* 0 = first page (newest first) */
	size_t limit;
};
int store_deployment_list(struct store *st, const struct store_deployment_query *q, json_t **ret_ids,
			  int64_t *ret_last_seq, bool *ret_more);
/* Deployments counted by status, application and compute platform:
 * fn(status, application, platform, count, ud) per group. */
int store_deployment_counts(struct store *st,
			    void (*fn)(const char *status, const char *app, const char *platform, int64_t n, void *ud),
			    void *ud);
/* The deployment's status and compute platform; -ENOENT. */
int store_deployment_brief(struct store *st, const char *id, char ret_status[16], char ret_platform[16]);
/* The application of deployment id (-ENOENT when there is none). */
int store_deployment_application(struct store *st, const char *id, char *ret_app, size_t len);

/* A deployment target (filled by the engine) with its lifecycle events. */
struct store_event {
	char *name, *status;
	int64_t start_time, end_time;
	json_t *diagnostics;	/* or NULL */
	char *diagnostics_text; /* store_targets_get: the diagnostics as stored JSON text (or NULL), not parsed */
};
struct store_target {
	char *deployment_id, *target_id;
	char *type;		    /* InstanceTarget | LambdaTarget | ECSTarget | CloudFormationTarget */
	char *arn, *status, *label; /* label: Blue | Green | NULL */
	int64_t last_updated;
	json_t *doc; /* type-specific members (object) */
	struct store_event *events;
	size_t n_events;
};
struct store_target *store_target_free(struct store_target *t);
int store_target_get(struct store *st, const char *deployment_id, const char *target_id, struct store_target **ret);
/* The targets named by target_ids (a JSON array of strings) with their
 * events (diagnostics in diagnostics_text), read in one snapshot with one
 * statement for all the events:
 * *ret has json_array_size(target_ids) entries in the order asked, NULL
 * where there is no such target (an id asked twice shares its target);
 * free it with store_targets_free. */
int store_targets_get(struct store *st, const char *deployment_id, json_t *target_ids, struct store_target ***ret);
struct store_target **store_targets_free(struct store_target **v, size_t n);
/* Ids in order; statuses / labels: [string] or NULL. */
int store_target_list(struct store *st, const char *deployment_id, json_t *statuses, json_t *labels, const char *after,
		      size_t limit, json_t **ret_ids, bool *ret_more);

/* Hook output (hook_logs) of a deployment in arrival order after cursor
 * (0 = from the start), optionally of one target. *ret_cursor is the cursor
 * to pass next time (unchanged when nothing new arrived). */
struct store_hook_log {
	char *target_id, *event, *data;
	int64_t seq, time;
};
struct store_hook_logs {
	struct store_hook_log *v;
	size_t n;
};
void store_hook_logs_clear(struct store_hook_logs *logs);
int store_hook_logs_read(struct store *st, const char *deployment_id, const char *target_id, int64_t after,
			 size_t limit, struct store_hook_logs *ret, int64_t *ret_cursor);

/* ==== on-premises instances (store_instance.c) ==== */

struct store_instance {
	char *name, *iam_session_arn, *iam_user_arn, *instance_arn; /* the IAM ARNs may be NULL */
	char *status;						    /* Registered | Deregistered */
	int64_t register_time, deregister_time;
	struct store_tags tags; /* ordered by key */
};
struct store_instances {
	struct store_instance *v;
	size_t n;
};
struct store_instance *store_instance_free(struct store_instance *in);
void store_instances_clear(struct store_instances *ins);

/* -EEXIST name registered, -EADDRINUSE when the ARN is another instance's */
int store_instance_register(struct store *st, const char *name, const char *session_arn, const char *user_arn,
			    const char *instance_arn);
int store_instance_deregister(struct store *st, const char *name);
int store_instance_get(struct store *st, const char *name, struct store_instance **ret);
/* Every instance (registered or not) with its tags, ordered by name. */
int store_instance_all(struct store *st, struct store_instances *ret);
/* Names ordered by name. registration_status: Registered | Deregistered |
 * NULL; filter: the instances whose tags it matches (lib/tagfilter.h), NULL
 * for every instance. */
int store_instance_list(struct store *st, const char *registration_status, const struct tagfilter_set *filter,
			const char *after, size_t limit, json_t **ret_names, bool *ret_more);
/* names: [string]. -ENOENT (with *ret_missing, borrowed from names) when
 * one is not registered; nothing is changed then. Removing a tag whose value
 * is NULL removes the key whatever its value. */
int store_instance_tags_add(struct store *st, json_t *names, const struct store_tag *tags, size_t n,
			    const char **ret_missing);
int store_instance_tags_remove(struct store *st, json_t *names, const struct store_tag *tags, size_t n,
			       const char **ret_missing);

/* ==== access keys: SigV4 credentials (store_access_key.c) ==== */

#define STORE_KEY_ID_LEN 20
#define STORE_SECRET_LEN 40

struct store_access_key {
	char id[STORE_KEY_ID_LEN + 1];
	char secret[STORE_SECRET_LEN + 1]; /* in the clear, from store_access_key_get only */
	char name[129];
	char policy[16]; /* admin | deployer | readonly | agent | enroll */
	/* agent: the instance the key acts for, an on-premises instance name
	 * or an EC2 instance id (i-...); enroll: the fleet it may enroll
	 * instances of, asg:AUTO_SCALING_GROUP or tag:KEY=VALUE; "" otherwise. */
	char instance[129];
	int64_t create_time;
	char status[16];		       /* Active | Inactive */
	char applications[1024];	       /* JSON array of application names or patterns; "" = every application */
	int64_t last_used;		       /* epoch ms, 0 = never (updated at most once a minute) */
	char old_secret[STORE_SECRET_LEN + 1]; /* during a rotation, from store_access_key_get only; "" = none */
	bool rotating;			       /* a previous secret is still accepted */
	int64_t old_secret_expires;	       /* when the previous secret stops being accepted; 0 = when retired */
	int64_t rotate_time;		       /* when the secret was last rotated; 0 = never */
};

struct auth_kek;
/* The key-encryption key that seals access-key secrets (daemon/auth/auth_secret.h);
 * borrowed, must outlive the store. The first call seals the secrets an
 * older rolloutd stored in the clear, overwriting their bytes in the file
 * (secure_delete, then a checkpoint of the WAL). Without a KEK the access-key
 * functions that read or write secrets fail with -ENOKEY. */
int store_set_kek(struct store *st, const struct auth_kek *kek, struct rd_error *err);

bool store_policy_valid(const char *policy);
/* s has the form of an EC2 instance id: i- and 8 or 17 hex digits. */
bool store_ec2_instance_id(const char *s);
/* s is an enroll key's scope: asg:NAME or tag:KEY=VALUE. */
bool store_enroll_scope_valid(const char *s);
/* Mints a new key; -EINVAL for an unknown policy, an agent key without
 * instance or an enroll key without a valid scope (message in err). */
int store_access_key_create(struct store *st, const char *name, const char *policy, const char *instance,
			    struct store_access_key *ret, char *err, size_t errlen);
/* The same, scoped to applications (a JSON array of 1 to 32 names or
 * fnmatch patterns; NULL = every application). */
int store_access_key_create_scoped(struct store *st, const char *name, const char *policy, const char *instance,
				   const json_t *applications, struct store_access_key *ret, char *err, size_t errlen);
/* The key with its secrets opened (old_secret only while it is still
 * accepted). -ENOENT, -ENOKEY (no KEK set), -EBADMSG (sealed under another
 * KEK, or tampered with). */
int store_access_key_get(struct store *st, const char *id, struct store_access_key *ret);
/* Every key ordered by id, secrets blanked; *ret malloc'd. */
int store_access_key_list(struct store *st, struct store_access_key **ret, size_t *ret_n);
int store_access_key_delete(struct store *st, const char *id);
/* Deletes the agent keys bound to instance (a terminated EC2 instance's);
 * *ret_n (may be NULL) says how many. */
int store_access_key_revoke_instance(struct store *st, const char *instance, int *ret_n);
/* Active | Inactive. -ENOENT, -EINVAL for another status. */
int store_access_key_set_status(struct store *st, const char *id, const char *status);
/* Scopes the key to applications (as in create_scoped; NULL = every application). */
int store_access_key_set_applications(struct store *st, const char *id, const json_t *applications, char *err,
				      size_t errlen);
/* A new secret for the key (returned in ret->secret); the current one stays
 * accepted until store_access_key_retire() or, when retire_after_ms > 0,
 * for that long. -EBUSY when a previous secret is still accepted (retire it
 * first). */
int store_access_key_rotate(struct store *st, const char *id, int64_t retire_after_ms, struct store_access_key *ret);
/* Stops accepting the previous secret. -ENOENT no key, -EALREADY no rotation. */
int store_access_key_retire(struct store *st, const char *id);
/* How many keys have a sealed secret (the store cannot be used without its KEK). */
int store_access_key_count_sealed(struct store *st, int64_t *ret_n);
/* Records a use of the key at when_ms. */
int store_access_key_touch(struct store *st, const char *id, int64_t when_ms);
/* The same for many keys in one transaction: uses maps key id to when_ms
 * (an integer). A fleet of agents then costs one commit per batch, not one
 * per key. */
int store_access_keys_touch(struct store *st, const json_t *uses);

/* ==== the audit trail (store_audit.c) ==== */

/* One audited call: a mutating call or a refused one. */
struct store_audit_record {
	int64_t seq;  /* set by the store */
	int64_t time; /* epoch ms */
	char request_id[40];
	char access_key_id[130]; /* the key that signed, or claimed to ("" when none) */
	char policy[16];	 /* the key's policy ("" when it was not authenticated) */
	char source[64];	 /* the client's address */
	char operation[128];	 /* "CodeDeploy_20141006.CreateApplication", "PUT /bundles/uploads" */
	char application[128];	 /* "" when the call names none */
	char resource[512];	 /* what it acted on: "web/prod", "d-ABC123DEF", ... */
	char result[16];	 /* Allowed | Failed | Refused */
	int status;		 /* HTTP status */
	char error_code[128];
	char error_message[1024];
};

/* Appends records in one transaction. */
int store_audit_insert(struct store *st, const struct store_audit_record *v, size_t n);

struct store_audit_query {
	const char *access_key_id;  /* NULL: any */
	const char *application;    /* NULL: any */
	const char *operation;	    /* NULL: any; matched against the part after the dot too */
	const char *result;	    /* NULL: any */
	int64_t since_ms, until_ms; /* 0: unbounded; since inclusive, until exclusive */
	int64_t before_seq;	    /* 0: from the newest; else records older than this seq (paging) */
	size_t limit;		    /* at most this many (1..1000) */
};
/* Newest first; *ret malloc'd; *ret_more when older records match. */
int store_audit_list(struct store *st, const struct store_audit_query *q, struct store_audit_record **ret,
		     size_t *ret_n, bool *ret_more);
/* Removes at most limit records older than before_ms; *ret_more when some are left. */
int store_audit_prune(struct store *st, int64_t before_ms, size_t limit, size_t *ret_removed, bool *ret_more);

/* ==== backup and restore (store_backup.c) ==== */

/* Writes a consistent copy of the store, taken in one read transaction while
 * the daemon may go on writing, to `out` (mode 0600, replaced atomically),
 * with data_dir's signing key and certificate inside. -ENOTSUP on
 * PostgreSQL (pg_dump backs it up). */
int store_backup(struct store *st, const char *data_dir, const char *out, struct rd_error *err);
/* Restores a backup into data_dir, which must hold no state.db yet (it is
 * created when missing). The next store_open() migrates it when it comes
 * from an older version. */
int store_restore(const char *backup, const char *data_dir, struct rd_error *err);

/* ==== bundles shared by the daemons of a cluster (store_bundle.c) ==== */

/* On a store several daemons share (PostgreSQL), a bundle that enters one
 * daemon's cache (daemon/bundles) is also written here, so that another
 * daemon asked for it can copy it into its own cache. Kept in chunks of
 * STORE_BUNDLE_CHUNK bytes, read and written one at a time: a bundle of any
 * size costs about two chunks of memory. A bundle becomes visible
 * (store_bundle_stat, store_bundle_read) only once every chunk is written:
 * a writer that dies half-way leaves nothing a reader takes. */
#define STORE_BUNDLE_CHUNK (1024 * 1024)

struct store_bundle {
	char sha256[65];
	uint64_t size;
	char bundle_type[8];
	int64_t complete_time; /* when its last chunk was written */
};

/* The complete bundle sha256: 0 and *ret, or -ENOENT (none, or not complete). */
int store_bundle_stat(struct store *st, const char *sha256, struct store_bundle *ret);
/* Writes the bundle read from fd (from offset 0 to its end; the caller
 * computed sha256 from the same bytes). Several daemons may write the same
 * bundle at once. 0 when it is complete (also when it was already), or a
 * negative errno; a failed write stays invisible and is completed by the
 * next one. */
int store_bundle_put(struct store *st, const char *sha256, const char *bundle_type, int fd);
/* Appends the bundle's bytes to fd, a chunk at a time; *ret (may be NULL)
 * gets its row. -ENOENT when it is not complete here, -EIO when a chunk went
 * missing while reading (removed meanwhile); the caller checks the sha256 of
 * what it got. */
int store_bundle_read(struct store *st, const char *sha256, int fd, struct store_bundle *ret);
/* Whether instance is a target of an unfinished deployment that deploys
 * bundle sha256: *ret true or false. The driving daemon grants its targets
 * the download in its memory (bundles_grant); another daemon asks here. */
int store_bundle_granted(struct store *st, const char *sha256, const char *instance, bool *ret);

/* ==== what the daemons of a cluster hold alike (store_shared_keys.c) ==== */

/* Records value under name unless a value is recorded already, and returns
 * the one recorded (value, or the earlier one) in *ret, malloc'd. With value
 * NULL only reads: -ENOENT when none is recorded. */
int store_shared_key_claim(struct store *st, const char *name, const char *value, char **ret);

/* ==== several daemons on one database (store_cluster.c, daemon/cluster/) ====
 * PostgreSQL only: -ENOTSUP on SQLite. Times are the database's clock. */

struct store_cluster_daemon {
	const char *id, *url, *hostname, *version;
	int64_t pid;
};
/* Records a running daemon, alive, its heartbeat now. */
int store_cluster_register(struct store *st, const struct store_cluster_daemon *self);
/* Marks expired the alive daemons other than self listening at url: earlier
 * incarnations of this daemon (killed, restarted), so that what they drove
 * is taken over at once instead of after their heartbeat grew old. */
int store_cluster_supersede(struct store *st, const char *url, const char *self);
/* Renews its heartbeat: 0, or -ESTALE when its row is not alive any more
 * (another daemon expired it). */
int store_cluster_heartbeat(struct store *st, const char *id);
/* Marks expired every alive daemon whose heartbeat is older than ttl_ms:
 * *ret_n how many. */
int store_cluster_expire(struct store *st, int64_t ttl_ms, size_t *ret_n);
/* A daemon stops: its row stopped, its job leases given back, and the others
 * told (NOTIFY rolloutd_lease) so that they take its deployments at once. */
int store_cluster_stop(struct store *st, const char *id);
/* The unfinished deployments no live daemon drives, oldest first:
 * [{id, app, group, leased}] (leased false: no lease row at all), and the
 * number of live daemons. */
int store_cluster_orphans(struct store *st, json_t **ret, int64_t *ret_alive);
/* Leases to self those of ids (strings) still orphaned, in one transaction
 * (generation + 1), and tells the others: *ret the ids taken. */
int store_cluster_claim(struct store *st, const char *self, const json_t *ids, json_t **ret);
/* {deployment id: [daemon id, its url]} of the unfinished deployments a live
 * daemon drives. */
int store_cluster_drivers(struct store *st, json_t **ret);
/* Takes or renews the cluster-wide lease name for ttl_ms: *ret_held whether
 * self holds it now. */
int store_cluster_lease_job(struct store *st, const char *name, const char *self, int64_t ttl_ms, bool *ret_held);
/* Which other live daemon (not self) drives an unfinished deployment with
 * host's target still to do: 0 with *ret_url (its advertise URL); -ENOENT
 * when none. host NULL: the registered instance whose name or IAM ARN is
 * host_identifier. *ret_host (the host's name, NULL when no instance has
 * that identifier) is written with 0 and -ENOENT alike; both malloc'd. */
int store_cluster_host_driver(struct store *st, const char *host, const char *host_identifier, const char *self,
			      char **ret_host, char **ret_url);
/* pg_notify(channel, payload). */
int store_cluster_notify(struct store *st, const char *channel, const char *payload);
/* `rolloutd cluster status`: {daemons: [{id, url, hostname, pid, version,
 * started_at, heartbeat_age_ms, state, deployments}], jobs: [{name,
 * daemon_id, expires_in_ms}], deployments: [{deployment_id, status,
 * application, deployment_group, daemon_id, daemon_state, generation,
 * acquired_at}]}. */
int store_cluster_status(struct store *st, json_t **ret);

/* LISTEN on a connection of its own, connected (again) by wait. */
struct store_listener;
int store_listener_new(struct store *st, struct store_listener **ret);
/* Listens to channel too (at most 63 bytes). */
int store_listener_add(struct store_listener *l, const char *channel);
/* Waits up to timeout_ms and calls fn(channel, payload, ud) for each
 * notification; fn(NULL, NULL, ud) after each (re)connection, since what was
 * sent while disconnected is lost. -errno when the connection failed or
 * broke (the next call connects again; a failed connection attempt waits
 * timeout_ms first). */
int store_listener_wait(struct store_listener *l, int timeout_ms,
			void (*fn)(const char *channel, const char *payload, void *ud), void *ud);
struct store_listener *store_listener_free(struct store_listener *l);

/* ==== retention (store_retention.c) ==== */

struct store_retention_counts {
	size_t deployments; /* deployments removed */
	size_t hook_logs;   /* hook-log chunks removed on their own */
	size_t rows;	    /* rows removed in all */
};
/* One bounded step: removes at most about `batch` rows in one transaction:
 * of the oldest finished deployment completed before deployments_before_ms
 * (0 = keep deployments), or else hook logs of finished deployments
 * completed before hook_logs_before_ms (0 = keep). Unfinished deployments and
 * each group's latest attempted and latest successful deployment are kept.
 * *ret_more: call again, there is more to remove. Adds to *counts. */
int store_retention_step(struct store *st, int64_t deployments_before_ms, int64_t hook_logs_before_ms, size_t batch,
			 struct store_retention_counts *counts, bool *ret_more);
/* Removes, in one short transaction, one shared bundle (store_bundle_put)
 * that nothing refers to any more: completed before unused_before_ms, and
 * neither the bundle of a deployment still in the store nor an uploaded
 * revision registered with an application; or left incomplete by a writer
 * that started before stale_before_ms. *ret_removed gets the chunks removed;
 * *ret_more: call again. */
int store_retention_bundles_step(struct store *st, int64_t unused_before_ms, int64_t stale_before_ms,
				 size_t *ret_removed, bool *ret_more);
