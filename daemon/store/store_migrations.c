/* Schema migrations, applied in order by store_open(). APPEND-ONLY: add a new
 * entry with the next version number at the end; never edit a shipped one.
 * Times are epoch milliseconds; nested CodeDeploy documents are JSON text
 * ('doc' columns). */
#include "config.h"

#include "store/store_internal.h"
#include "util.h"

#define NOW_MS "(CAST(strftime('%s','now') AS INTEGER) * 1000)"

static const char m1_base[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"

    "CREATE TABLE applications ("
    " name TEXT PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " compute_platform TEXT NOT NULL,"
    " create_time INTEGER NOT NULL,"
    " github_account TEXT);"

    /* doc: {minimumHealthyHosts?, trafficRoutingConfig?, zonalConfig?} */
    "CREATE TABLE deployment_configs ("
    " name TEXT PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " compute_platform TEXT NOT NULL,"
    " builtin INTEGER NOT NULL DEFAULT 0,"
    " create_time INTEGER NOT NULL,"
    " doc TEXT NOT NULL);"

    /* doc: the group's settings as DeploymentGroupInfo members (the input
     * members of Create/UpdateDeploymentGroup, validated). */
    "CREATE TABLE deployment_groups ("
    " application TEXT NOT NULL REFERENCES applications(name) ON UPDATE CASCADE ON DELETE CASCADE,"
    " name TEXT NOT NULL,"
    " id TEXT NOT NULL UNIQUE,"
    " deployment_config TEXT NOT NULL,"
    " create_time INTEGER NOT NULL,"
    " doc TEXT NOT NULL,"
    " target_revision TEXT,"		/* RevisionLocation JSON */
    " last_successful_deployment TEXT," /* LastDeploymentInfo JSON */
    " last_attempted_deployment TEXT,"
    " PRIMARY KEY (application, name));"

    /* rkey: canonical JSON of the RevisionLocation (identity). */
    "CREATE TABLE revisions ("
    " seq INTEGER PRIMARY KEY,"
    " application TEXT NOT NULL REFERENCES applications(name) ON UPDATE CASCADE ON DELETE CASCADE,"
    " rkey TEXT NOT NULL,"
    " revision TEXT NOT NULL,"
    " revision_type TEXT NOT NULL,"
    " s3_bucket TEXT,"
    " s3_key TEXT,"
    " description TEXT,"
    " register_time INTEGER,"
    " first_used_time INTEGER,"
    " last_used_time INTEGER,"
    " deployment_groups TEXT NOT NULL DEFAULT '[]',"
    " UNIQUE (application, rkey));"

    /* doc: DeploymentInfo members not held in columns (description,
     * targetInstances, autoRollbackConfiguration, deploymentStyle, ...). */
    "CREATE TABLE deployments ("
    " seq INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " application TEXT NOT NULL REFERENCES applications(name) ON UPDATE CASCADE ON DELETE CASCADE,"
    " deployment_group TEXT,"
    " deployment_config TEXT NOT NULL,"
    " compute_platform TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " creator TEXT NOT NULL,"
    " external_id TEXT,"
    " create_time INTEGER NOT NULL,"
    " start_time INTEGER,"
    " complete_time INTEGER,"
    " revision TEXT,"
    " previous_revision TEXT,"
    " error_code TEXT,"
    " error_message TEXT,"
    " overview TEXT,"	     /* DeploymentOverview JSON, NULL = derive from targets */
    " status_messages TEXT," /* JSON [string] */
    " rollback_info TEXT,"   /* RollbackInfo JSON */
    " doc TEXT NOT NULL);"
    "CREATE INDEX deployments_group ON deployments(application, deployment_group, seq);"
    "CREATE INDEX deployments_status ON deployments(status);"
    "CREATE INDEX deployments_external ON deployments(external_id);"

    /* One row per target (instance, Lambda function, ECS service) per
     * deployment. doc: type-specific members (lambdaFunctionInfo,
     * taskSetsInfo, resourceType, targetVersionWeight). */
    "CREATE TABLE deployment_targets ("
    " deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,"
    " target_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " target_type TEXT NOT NULL DEFAULT 'InstanceTarget',"
    " target_arn TEXT,"
    " status TEXT NOT NULL DEFAULT 'Pending',"
    " instance_label TEXT," /* Blue | Green */
    " last_updated INTEGER NOT NULL,"
    " doc TEXT NOT NULL DEFAULT '{}',"
    " PRIMARY KEY (deployment_id, target_id));"

    /* The lifecycle events of one target, in order (seq). */
    "CREATE TABLE lifecycle_events ("
    " deployment_id TEXT NOT NULL,"
    " target_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'Pending',"
    " start_time INTEGER,"
    " end_time INTEGER,"
    " diagnostics TEXT," /* Diagnostics JSON */
    " hook_execution_id TEXT UNIQUE,"
    " PRIMARY KEY (deployment_id, target_id, seq),"
    " FOREIGN KEY (deployment_id, target_id) REFERENCES deployment_targets(deployment_id, target_id)"
    "  ON DELETE CASCADE);"

    /* Commands queued for a host's agent (PollHostCommand). */
    "CREATE TABLE host_commands ("
    " id INTEGER PRIMARY KEY,"
    " host TEXT NOT NULL,"
    " deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,"
    " target_id TEXT NOT NULL,"
    " lifecycle_seq INTEGER,"
    " command_name TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'Pending'," /* Pending | InProgress | Succeeded | Failed */
    " create_time INTEGER NOT NULL,"
    " acked_time INTEGER,"
    " complete_time INTEGER,"
    " diagnostics TEXT);"
    "CREATE INDEX host_commands_host ON host_commands(host, status);"

    "CREATE TABLE instances ("
    " name TEXT PRIMARY KEY,"
    " iam_session_arn TEXT,"
    " iam_user_arn TEXT,"
    " instance_arn TEXT NOT NULL,"
    " status TEXT NOT NULL," /* Registered | Deregistered */
    " register_time INTEGER NOT NULL,"
    " deregister_time INTEGER);"

    "CREATE TABLE instance_tags ("
    " instance TEXT NOT NULL REFERENCES instances(name) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " value TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY (instance, key));"

    "CREATE TABLE access_keys ("
    " id TEXT PRIMARY KEY,"
    " secret TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " policy TEXT NOT NULL,"
    " instance TEXT,"
    " create_time INTEGER NOT NULL);"

    /* Tags on application and deployment-group ARNs. */
    "CREATE TABLE resource_tags ("
    " arn TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " value TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY (arn, key));"

    /* Hook output, appended in chunks as agents report. */
    "CREATE TABLE hook_logs ("
    " deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,"
    " target_id TEXT NOT NULL,"
    " lifecycle_event TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " time INTEGER NOT NULL,"
    " chunk TEXT NOT NULL,"
    " PRIMARY KEY (deployment_id, target_id, lifecycle_event, seq));"

    /* The content-addressed bundle cache (files under data_dir/bundles). */
    "CREATE TABLE bundles ("
    " sha256 TEXT PRIMARY KEY,"
    " size INTEGER NOT NULL,"
    " source_key TEXT," /* canonical revision identity it was fetched for */
    " bundle_type TEXT,"
    " create_time INTEGER NOT NULL,"
    " last_used_time INTEGER NOT NULL);"
    "CREATE INDEX bundles_source ON bundles(source_key);";

#define BUILTIN(n, plat, doc)                                                                                          \
	"INSERT INTO deployment_configs (name, id, compute_platform, builtin, create_time, doc) VALUES ('" n           \
	"', lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || "                                 \
	"substr(lower(hex(randomblob(2))), 2)"                                                                         \
	" || '-a' || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))), '" plat "', 1, " NOW_MS \
	", '" doc "');"
#define CANARY(p, i)                                                                                                   \
	"{\"trafficRoutingConfig\":{\"type\":\"TimeBasedCanary\",\"timeBasedCanary\":{\"canaryPercentage\":" #p        \
	",\"canaryInterval\":" #i "}}}"
#define LINEAR(p, i)                                                                                                   \
	"{\"trafficRoutingConfig\":{\"type\":\"TimeBasedLinear\",\"timeBasedLinear\":{\"linearPercentage\":" #p        \
	",\"linearInterval\":" #i "}}}"
#define ALLATONCE "{\"trafficRoutingConfig\":{\"type\":\"AllAtOnce\"}}"

/* The 17 built-in configs of CodeDeploy, with their names and settings. */
static const char m2_builtin_configs[] = BUILTIN(
    "CodeDeployDefault.OneAtATime", "Server", "{\"minimumHealthyHosts\":{\"type\":\"MOST_CONCURRENCY\",\"value\":1}}")
    BUILTIN("CodeDeployDefault.HalfAtATime", "Server",
	    "{\"minimumHealthyHosts\":{\"type\":\"FLEET_PERCENT\",\"value\":50}}")
	BUILTIN("CodeDeployDefault.AllAtOnce", "Server",
		"{\"minimumHealthyHosts\":{\"type\":\"FLEET_PERCENT\",\"value\":0}}")
	    BUILTIN("CodeDeployDefault.LambdaAllAtOnce", "Lambda",
		    ALLATONCE) BUILTIN("CodeDeployDefault.LambdaCanary10Percent5Minutes", "Lambda", CANARY(10, 5))
		BUILTIN("CodeDeployDefault.LambdaCanary10Percent10Minutes", "Lambda", CANARY(10, 10))
		    BUILTIN("CodeDeployDefault.LambdaCanary10Percent15Minutes", "Lambda", CANARY(10, 15)) BUILTIN(
			"CodeDeployDefault.LambdaCanary10Percent30Minutes", "Lambda", CANARY(10, 30))
			BUILTIN("CodeDeployDefault.LambdaLinear10PercentEvery1Minute", "Lambda", LINEAR(10, 1)) BUILTIN(
			    "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes", "Lambda", LINEAR(10, 2))
			    BUILTIN("CodeDeployDefault.LambdaLinear10PercentEvery3Minutes", "Lambda", LINEAR(10, 3))
				BUILTIN("CodeDeployDefault.LambdaLinear10PercentEvery10Minutes", "Lambda",
					LINEAR(10, 10)) BUILTIN("CodeDeployDefault.ECSAllAtOnce", "ECS", ALLATONCE)
				    BUILTIN("CodeDeployDefault.ECSCanary10Percent5Minutes", "ECS", CANARY(10, 5))
					BUILTIN("CodeDeployDefault.ECSCanary10Percent15Minutes", "ECS", CANARY(10, 15))
					    BUILTIN("CodeDeployDefault.ECSLinear10PercentEvery1Minutes", "ECS",
						    LINEAR(10, 1))
						BUILTIN("CodeDeployDefault.ECSLinear10PercentEvery3Minutes", "ECS",
							LINEAR(10, 3));

/* Trigger notifications (daemon/health/triggers.c): one row per delivery
 * of one event to one target; status Pending -> Delivered | Failed. */
static const char m3_trigger_deliveries[] =
    "CREATE TABLE trigger_deliveries ("
    " id INTEGER PRIMARY KEY,"
    " deployment_id TEXT,"
    " instance_id TEXT,"
    " event TEXT NOT NULL,"
    " trigger_name TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT,"
    " response TEXT,"
    " subject TEXT,"
    " message TEXT NOT NULL,"
    " create_time INTEGER NOT NULL,"
    " update_time INTEGER NOT NULL);"
    "CREATE INDEX trigger_deliveries_deployment ON trigger_deliveries(deployment_id);"
    "CREATE INDEX trigger_deliveries_pending ON trigger_deliveries(status) WHERE status = 'Pending';";

/* A group's last attempted and last successful deployments are read from
 * its deployments (epoch-ms columns). The copies the engine kept here were
 * LastDeploymentInfo JSON with times in seconds, written only when a
 * deployment finished: everything they held is in deployments, so they go. */
static const char m4_group_last_deployments[] = "ALTER TABLE deployment_groups DROP COLUMN last_successful_deployment;"
						"ALTER TABLE deployment_groups DROP COLUMN last_attempted_deployment;";
/* Retention removes finished deployments by completion time and their host
 * commands by deployment (a cascade without this index scans them all). */
/* plugin state and engine cursor of Lambda and ECS deployments (store_shift.c) */
static const char m6_shift_deployments[] =
    "CREATE TABLE shift_deployments ("
    " deployment_id TEXT PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,"
    " plugin TEXT NOT NULL,"
    " appspec TEXT,"			  /* the validated AppSpec (JSON) */
    " state TEXT,"			  /* the plugin's own state (JSON) */
    " cursor TEXT NOT NULL DEFAULT '{}'," /* the engine's step (JSON) */
    " updated INTEGER NOT NULL);";

static const char m5_retention_indexes[] = "CREATE INDEX deployments_finished ON deployments(complete_time)"
					   " WHERE status IN ('Succeeded', 'Failed', 'Stopped');"
					   "CREATE INDEX host_commands_deployment ON host_commands(deployment_id);";

/* Access keys get a life cycle: a status (Active | Inactive), the
 * applications a key is scoped to (a JSON array of names or fnmatch
 * patterns; NULL = every application), when it was last used (written at
 * most once a minute), and during a rotation the previous secret with the
 * time it stops being accepted (NULL = until retired explicitly). The
 * secret columns hold sealed secrets ("rdk1:..."); secrets an older rolloutd
 * stored in the clear are sealed by store_set_kek() at the first start.
 * The audit trail: every mutating call and every refused call. */
static const char m7_access_keys_audit[] = "ALTER TABLE access_keys ADD COLUMN status TEXT NOT NULL DEFAULT 'Active';"
					   "ALTER TABLE access_keys ADD COLUMN applications TEXT;"
					   "ALTER TABLE access_keys ADD COLUMN last_used INTEGER;"
					   "ALTER TABLE access_keys ADD COLUMN old_secret TEXT;"
					   "ALTER TABLE access_keys ADD COLUMN old_secret_expires INTEGER;"
					   "ALTER TABLE access_keys ADD COLUMN rotate_time INTEGER;"
					   "CREATE TABLE audit_log ("
					   " seq INTEGER PRIMARY KEY,"
					   " time INTEGER NOT NULL,"
					   " request_id TEXT,"
					   " access_key_id TEXT,"
					   " policy TEXT,"
					   " source TEXT,"
					   " operation TEXT NOT NULL,"
					   " application TEXT,"
					   " resource TEXT,"
					   " result TEXT NOT NULL," /* Allowed | Failed | Refused */
					   " status INTEGER NOT NULL,"
					   " error_code TEXT,"
					   " error_message TEXT);"
					   "CREATE INDEX audit_log_time ON audit_log(time);"
					   "CREATE INDEX audit_log_key ON audit_log(access_key_id, time);"
					   "CREATE INDEX audit_log_application ON audit_log(application, time);";

/* A long history (100,000 deployments, a million lifecycle events) read
 * without scanning it (the statements are in store_hot.h):
 * - ListDeployments pages newest first by (create_time, seq) with each
 *   combination of filters on an index in that order (the rowid, seq, ends
 *   every index); deployments_status(status) is a prefix of the new one;
 * - the engine finds an instance's earlier targets by target_id (the primary
 *   key starts with deployment_id), and an agent's instance by its ARNs;
 * - host_commands_host served no query (agents' polls are answered from
 *   memory) but cost a write on each of a command's three updates. */
static const char m8_history_indexes[] =
    "CREATE INDEX deployments_time ON deployments(create_time);"
    "CREATE INDEX deployments_group_time ON deployments(application, deployment_group, create_time);"
    "CREATE INDEX deployments_status_time ON deployments(status, create_time);"
    "CREATE INDEX deployments_group_status_time ON deployments(application, deployment_group, status, create_time);"
    "DROP INDEX deployments_status;"
    "CREATE INDEX deployment_targets_target ON deployment_targets(target_id);"
    "CREATE INDEX instances_session_arn ON instances(iam_session_arn);"
    "CREATE INDEX instances_user_arn ON instances(iam_user_arn);"
    "CREATE INDEX instances_instance_arn ON instances(instance_arn);"
    "DROP INDEX host_commands_host;";

/* /metrics counts deployments by status, application and platform at every
 * scrape: over the rows that read the whole table (about 500 ms with
 * 100,000 deployments), over this covering index about 30 ms. */
static const char m9_deployment_counts[] =
    "CREATE INDEX deployments_counts ON deployments(status, application, compute_platform);";

/* A version for every access key's row, new at each change of it but its
 * last use, from whichever process: the daemon keeps the keys it opened and
 * believes one only while its row's version is unchanged (store_key_cache.c).
 * Random, so that a key deleted and made again (a restored backup) does not
 * come back at a version seen before. */
static const char m10_access_key_versions[] =
    "ALTER TABLE access_keys ADD COLUMN version INTEGER NOT NULL DEFAULT 0;"
    "UPDATE access_keys SET version = random();"
    "CREATE TRIGGER access_keys_version_insert AFTER INSERT ON access_keys"
    " BEGIN UPDATE access_keys SET version = random() WHERE id = NEW.id; END;"
    "CREATE TRIGGER access_keys_version_update AFTER UPDATE OF id, secret, name, policy, instance, create_time,"
    " status, applications, old_secret, old_secret_expires, rotate_time ON access_keys"
    " BEGIN UPDATE access_keys SET version = random() WHERE id = NEW.id; END;";

/* Bundles kept in the database for the other daemons of a cluster
 * (store_bundle.c): a row per bundle, complete_time NULL while its chunks are
 * being written, then its chunks in order. Only a store several daemons
 * share (PostgreSQL) fills them; on SQLite they stay empty. */
static const char m11_shared_bundles[] = "CREATE TABLE bundle_blobs ("
					 " sha256 TEXT PRIMARY KEY,"
					 " size INTEGER NOT NULL,"
					 " bundle_type TEXT NOT NULL,"
					 " chunks INTEGER NOT NULL,"
					 " start_time INTEGER NOT NULL,"
					 " complete_time INTEGER);"
					 "CREATE TABLE bundle_chunks ("
					 " sha256 TEXT NOT NULL REFERENCES bundle_blobs(sha256) ON DELETE CASCADE,"
					 " seq INTEGER NOT NULL,"
					 " data BLOB NOT NULL,"
					 " PRIMARY KEY (sha256, seq));";

/* Several daemons on one database (daemon/cluster/, store_cluster.c): each
 * running daemon's row with its heartbeat, which daemon drives each
 * unfinished deployment (a lease that lives while its daemon's heartbeat is
 * fresh; generation counts the hands it went through), and the cluster-wide
 * jobs one daemon runs at a time. Times are the database's clock in epoch
 * milliseconds, never a daemon's. Only a store several daemons share
 * (PostgreSQL) fills them; on SQLite they stay empty. */
static const char m12_cluster_leases[] = "CREATE TABLE cluster_daemons ("
					 " id TEXT PRIMARY KEY,"
					 " url TEXT NOT NULL,"
					 " hostname TEXT NOT NULL,"
					 " pid INTEGER NOT NULL,"
					 " version TEXT NOT NULL,"
					 " started_at INTEGER NOT NULL,"
					 " heartbeat_at INTEGER NOT NULL,"
					 " state TEXT NOT NULL DEFAULT 'alive'"
					 "  CHECK (state IN ('alive', 'stopped', 'expired')));"
					 "CREATE INDEX cluster_daemons_state ON cluster_daemons(state, heartbeat_at);"
					 "CREATE TABLE deployment_leases ("
					 " deployment_id TEXT PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,"
					 " daemon_id TEXT NOT NULL,"
					 " acquired_at INTEGER NOT NULL,"
					 " generation INTEGER NOT NULL DEFAULT 1);"
					 "CREATE INDEX deployment_leases_daemon ON deployment_leases(daemon_id);"
					 "CREATE TABLE cluster_leases ("
					 " name TEXT PRIMARY KEY,"
					 " daemon_id TEXT NOT NULL,"
					 " expires_at INTEGER NOT NULL);";

/* Which daemon delivers a Pending trigger notification (cluster_self_id of
 * the daemon that recorded or adopted it; NULL on SQLite, one daemon). A
 * delivery whose owner is no longer alive is adopted by the daemon holding
 * the cluster-wide "triggers" lease (daemon/health/triggers.c). */
static const char m13_trigger_owner[] = "ALTER TABLE trigger_deliveries ADD COLUMN owner TEXT;";

const struct store_migration store_migrations[] = {
    {1, "base schema", m1_base},
    {2, "built-in deployment configs", m2_builtin_configs},
    {3, "trigger deliveries", m3_trigger_deliveries},
    {4, "group last deployments from deployments", m4_group_last_deployments},
    {5, "retention indexes", m5_retention_indexes},
    {6, "deployments that shift traffic themselves", m6_shift_deployments},
    {7, "access-key life cycle and audit log", m7_access_keys_audit},
    {8, "indexes for a long history", m8_history_indexes},
    {9, "deployment counts from an index", m9_deployment_counts},
    {10, "access-key versions", m10_access_key_versions},
    {11, "shared bundles", m11_shared_bundles},
    {12, "cluster leases", m12_cluster_leases},
    {13, "trigger delivery owners", m13_trigger_owner},
    /* append here: { 14, "…", m14_… }, */
};
const size_t store_n_migrations = RD_ARRAY_SIZE(store_migrations);
