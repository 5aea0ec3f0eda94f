/* The hot statements: those run for every read of the deployment history
 * (GetDeployment, ListDeployments, ListDeploymentTargets,
 * BatchGetDeploymentTargets), for every agent report the engine stores,
 * for every agent poll and every signed request. The tables they touch grow
 * with the history (100,000 deployments, a million lifecycle events and as
 * many host commands), so each must find its rows through an index, never
 * by scanning a table.
 *
 * Their text lives here, once: the entity files use these macros, and
 * STORE_HOT_LIST names every one of them for
 * tests/unit/daemon/store/test_store_plan.c, which checks with EXPLAIN QUERY
 * PLAN that none scans a table or sorts what it did not find by index. A new
 * statement on one of those paths belongs here and in the list. */
#pragma once

#include <stdbool.h>

/* ---- GetDeployment, BatchGetDeployments (store_deployment.c) ---- */

#define SQL_DEPLOYMENT_GET                                                                                             \
	"SELECT id, application, deployment_group, deployment_config, compute_platform, status, creator, "             \
	"external_id, error_code, error_message, create_time, start_time, complete_time, revision, "                   \
	"previous_revision, overview, status_messages, rollback_info, doc FROM deployments WHERE id = ?1"
/* the overview of a deployment the engine has not summed up yet */
#define SQL_DEPLOYMENT_COUNT_TARGETS                                                                                   \
	"SELECT status, COUNT(*) FROM deployment_targets WHERE deployment_id = ?1 GROUP BY status"
/* every deployment-scoped call checks the deployment first */
#define SQL_DEPLOYMENT_BRIEF "SELECT status, compute_platform FROM deployments WHERE id = ?1"

/* ---- ListDeployments (store_deployment.c) ----
 * Newest first: by (create_time, seq) descending, each combination of
 * filters on the index that yields that order (deployments_time,
 * deployments_group_time, deployments_status_time,
 * deployments_group_status_time), so that a page reads about as many rows
 * as it returns, however deep it is and however long the history.
 * ?1..?2: the creation-time range (closed; the upper end lowered to the
 * cursor's time), ?3/?4: the cursor's (create_time, seq), ?5: limit,
 * ?6/?7: application/group, ?8: status. A list of statuses runs the status
 * statement once per status and merges. */
#define SQL_LIST_KEYSET                                                                                                \
	"create_time >= ?1 AND create_time <= ?2 AND (create_time < ?3 OR seq < ?4) "                                  \
	"ORDER BY create_time DESC, seq DESC LIMIT ?5"
#define SQL_LIST_ALL "SELECT id, seq, create_time FROM deployments WHERE " SQL_LIST_KEYSET
#define SQL_LIST_GROUP                                                                                                 \
	"SELECT id, seq, create_time FROM deployments WHERE application = ?6 AND deployment_group = ?7 "               \
	"AND " SQL_LIST_KEYSET
#define SQL_LIST_STATUS "SELECT id, seq, create_time FROM deployments WHERE status = ?8 AND " SQL_LIST_KEYSET
#define SQL_LIST_GROUP_STATUS                                                                                          \
	"SELECT id, seq, create_time FROM deployments WHERE application = ?6 AND deployment_group = ?7 "               \
	"AND status = ?8 AND " SQL_LIST_KEYSET
/* externalId (CloudFormation) names a handful of deployments: found by
 * its index, the other filters applied to those, sorted. ?8: statuses as a
 * JSON array or NULL; ?9: externalId. */
#define SQL_LIST_EXTERNAL                                                                                              \
	"SELECT id, seq, create_time FROM deployments WHERE external_id = ?9 "                                         \
	"AND (?6 IS NULL OR application = ?6) AND (?7 IS NULL OR deployment_group = ?7) "                              \
	"AND (?8 IS NULL OR status IN (SELECT value FROM json_each(?8))) AND " SQL_LIST_KEYSET
/* PostgreSQL reads the JSON array with json_array_elements_text */
#define SQL_LIST_EXTERNAL_PG                                                                                           \
	"SELECT id, seq, create_time FROM deployments WHERE external_id = ?9 "                                         \
	"AND (?6::text IS NULL OR application = ?6) AND (?7::text IS NULL OR deployment_group = ?7) "                  \
	"AND (?8::json IS NULL OR status IN (SELECT json_array_elements_text(?8::json))) AND " SQL_LIST_KEYSET
/* the creation time of the previous page's last deployment (the cursor is
 * its seq); when retention removed it, that of the next older one */
#define SQL_LIST_CURSOR "SELECT create_time FROM deployments WHERE seq = ?1"
#define SQL_LIST_CURSOR_NEAR "SELECT create_time FROM deployments WHERE seq < ?1 ORDER BY seq DESC LIMIT 1"

/* ---- ListDeploymentTargets, BatchGetDeploymentTargets, GetDeploymentTarget
 * (store_deployment.c) ---- */

/* ?4: the cursor, '' for the first page (every target id sorts after it) */
#define SQL_TARGET_LIST                                                                                                \
	"SELECT target_id FROM deployment_targets WHERE deployment_id = ?1 AND target_id > ?4 "                        \
	"AND (?2 IS NULL OR status IN (SELECT value FROM json_each(?2))) "                                             \
	"AND (?3 IS NULL OR instance_label IN (SELECT value FROM json_each(?3))) ORDER BY target_id"
#define SQL_TARGET_LIST_PG                                                                                             \
	"SELECT target_id FROM deployment_targets WHERE deployment_id = ?1 AND target_id > ?4 "                        \
	"AND (?2::json IS NULL OR status IN (SELECT json_array_elements_text(?2::json))) "                             \
	"AND (?3::json IS NULL OR instance_label IN (SELECT json_array_elements_text(?3::json))) ORDER BY target_id"
#define SQL_TARGET_GET                                                                                                 \
	"SELECT deployment_id, target_id, target_type, target_arn, status, instance_label, last_updated, doc "         \
	"FROM deployment_targets WHERE deployment_id = ?1 AND target_id = ?2"
/* BatchGetDeploymentTargets: ?2 a JSON array of target ids */
#define SQL_TARGETS_GET                                                                                                \
	"SELECT deployment_id, target_id, target_type, target_arn, status, instance_label, last_updated, doc "         \
	"FROM deployment_targets WHERE deployment_id = ?1 AND target_id IN (SELECT value FROM json_each(?2))"
#define SQL_TARGETS_EVENTS                                                                                             \
	"SELECT target_id, name, status, start_time, end_time, CASE WHEN json_valid(diagnostics) THEN diagnostics "    \
	"END "                                                                                                         \
	"FROM lifecycle_events "                                                                                       \
	"WHERE deployment_id = ?1 AND target_id IN (SELECT value FROM json_each(?2)) ORDER BY target_id, seq"
/* PostgreSQL reads the JSON array with json_array_elements_text; its
 * diagnostics were all written as JSON (SQL_JSON), none needs checking */
#define SQL_TARGETS_GET_PG                                                                                             \
	"SELECT deployment_id, target_id, target_type, target_arn, status, instance_label, last_updated, doc "         \
	"FROM deployment_targets WHERE deployment_id = ?1 AND target_id IN (SELECT "                                   \
	"json_array_elements_text(?2::json))"
#define SQL_TARGETS_EVENTS_PG                                                                                          \
	"SELECT target_id, name, status, start_time, end_time, diagnostics FROM lifecycle_events "                     \
	"WHERE deployment_id = ?1 AND target_id IN (SELECT json_array_elements_text(?2::json)) ORDER BY target_id, "   \
	"seq"
#define SQL_TARGET_EVENTS                                                                                              \
	"SELECT name, status, start_time, end_time, diagnostics FROM lifecycle_events "                                \
	"WHERE deployment_id = ?1 AND target_id = ?2 ORDER BY seq"

/* ---- the engine: per report, per deployment start (store_deployment.c,
 * store_shift.c) ---- */

#define SQL_ENG_EVENT_UPDATE                                                                                           \
	"UPDATE lifecycle_events SET status = ?4,"                                                                     \
	" start_time = CASE WHEN ?5 > 0 THEN ?5 ELSE start_time END,"                                                  \
	" end_time = CASE WHEN ?6 > 0 THEN ?6 ELSE end_time END,"                                                      \
	" diagnostics = COALESCE(?7, diagnostics)"                                                                     \
	" WHERE deployment_id = ?1 AND target_id = ?2 AND seq = ?3"
#define SQL_ENG_TARGET_STATUS                                                                                          \
	"UPDATE deployment_targets SET status = ?3, last_updated = ?4 WHERE deployment_id = ?1 AND target_id = ?2"
#define SQL_ENG_CMD_UPDATE                                                                                             \
	"UPDATE host_commands SET status = ?2,"                                                                        \
	" acked_time = CASE WHEN ?3 > 0 THEN ?3 ELSE acked_time END,"                                                  \
	" complete_time = CASE WHEN ?4 > 0 THEN ?4 ELSE complete_time END,"                                            \
	" diagnostics = COALESCE(?5, diagnostics) WHERE id = ?1"
#define SQL_ENG_DEPLOYMENT_STATUS                                                                                      \
	"UPDATE deployments SET status = ?2,"                                                                          \
	" start_time = CASE WHEN ?3 > 0 THEN ?3 ELSE start_time END,"                                                  \
	" complete_time = CASE WHEN ?4 > 0 THEN ?4 ELSE complete_time END,"                                            \
	" error_code = COALESCE(?5, error_code), error_message = COALESCE(?6, error_message)"                          \
	" WHERE id = ?1"
#define SQL_ENG_DEPLOYMENT_OVERVIEW "UPDATE deployments SET overview = ?2 WHERE id = ?1"
#define SQL_ENG_DEPLOYMENT                                                                                             \
	"SELECT id, application, deployment_group, deployment_config, compute_platform, status, creator, "             \
	"create_time, start_time, revision, doc, rollback_info, complete_time FROM deployments WHERE id = ?1"
/* a deployment's targets, their events and their latest commands, when
 * the engine loads it */
#define SQL_ENG_TARGETS                                                                                                \
	"SELECT target_id, seq, target_arn, status, doc, instance_label FROM deployment_targets"                       \
	" WHERE deployment_id = ?1 ORDER BY seq"
#define SQL_ENG_TARGETS_EVENTS                                                                                         \
	"SELECT target_id, seq, name, status, start_time, end_time, diagnostics FROM "                                 \
	"lifecycle_events WHERE deployment_id = ?1 ORDER BY target_id, seq"
#define SQL_ENG_TARGETS_COMMANDS                                                                                       \
	"SELECT target_id, id, host, lifecycle_seq, status, acked_time FROM host_commands"                             \
	" WHERE deployment_id = ?1 ORDER BY id"
/* Per target when a deployment starts. An instance's targets are found by
 * deployment_targets_target; "most recent" is the target row inserted last
 * (rowid order: a deployment's targets are inserted when it starts), which
 * the index yields without a sort or a join per row. */
#define SQL_ENG_INSTANCE_LAST_STATUS                                                                                   \
	"SELECT status FROM deployment_targets WHERE target_id = ?1 AND deployment_id != ?2"                           \
	" AND status IN ('Succeeded', 'Failed') ORDER BY rowid DESC LIMIT 1"
#define SQL_ENG_INSTANCE_LAST_REVISION                                                                                 \
	"SELECT d.revision FROM deployment_targets t JOIN deployments d ON d.id = t.deployment_id"                     \
	" WHERE t.target_id = ?3 AND d.application = ?1 AND d.deployment_group = ?2"                                   \
	" AND t.status = 'Succeeded' AND COALESCE(t.instance_label, '') != 'Blue'" /* blue kept its revision */        \
	" ORDER BY t.rowid DESC LIMIT 1"
#define SQL_ENG_INSTANCE_IN_GROUP                                                                                      \
	"SELECT 1 FROM deployment_targets t JOIN deployments d ON d.id = t.deployment_id"                              \
	" WHERE t.target_id = ?3 AND d.application = ?1 AND d.deployment_group = ?2 LIMIT 1"
#define SQL_ENG_LAST_GOOD                                                                                              \
	"SELECT id, revision FROM deployments WHERE application = ?1 AND deployment_group = ?2"                        \
	" AND status = 'Succeeded' AND id != ?3 AND revision IS NOT NULL ORDER BY create_time DESC, seq DESC LIMIT 1"
/* hook output: the chunk, then the oldest beyond the cap dropped */
#define SQL_ENG_HOOK_LOG_TRIM                                                                                          \
	"DELETE FROM hook_logs WHERE deployment_id = ?1 AND target_id = ?2 AND lifecycle_event = ?3"                   \
	" AND seq IN (SELECT seq FROM (SELECT seq, SUM(length(chunk)) OVER (ORDER BY seq DESC) AS tot"                 \
	" FROM hook_logs WHERE deployment_id = ?1 AND target_id = ?2 AND lifecycle_event = ?3)"                        \
	" WHERE tot > ?4)"
/* Lambda and ECS hooks report by execution id (store_shift.c) */
#define SQL_ENG_HOOK_FIND                                                                                              \
	"SELECT deployment_id, target_id, seq, name, status FROM lifecycle_events WHERE hook_execution_id = ?1"
#define SQL_ENG_EVENT_HOOK                                                                                             \
	"UPDATE lifecycle_events SET hook_execution_id = ?4 WHERE deployment_id = ?1 AND target_id = ?2 AND seq = ?3"

/* ---- agents: the first poll of a host, its bundle (store_instance.c,
 * store_deployment.c) ---- */

#define SQL_ENG_INSTANCE_ARN "SELECT COALESCE(iam_session_arn, iam_user_arn) FROM instances WHERE name = ?1"
/* by the identity the agent signs with: OR over indexed columns */
#define SQL_ENG_INSTANCE_BY_IDENTIFIER                                                                                 \
	"SELECT name FROM instances WHERE (iam_session_arn = ?1 OR iam_user_arn = ?1 OR name = ?1"                     \
	" OR instance_arn = ?1) AND status = 'Registered' LIMIT 1"
/* registering 10,000 instances checks each ARN is nobody else's */
#define SQL_INSTANCE_REGISTER_CHECK                                                                                    \
	"SELECT (SELECT COUNT(*) FROM instances WHERE name = ?1 AND status = 'Registered'), "                          \
	"(SELECT COUNT(*) FROM instances WHERE status = 'Registered' AND name <> ?1 AND "                              \
	" (iam_session_arn = ?2 OR iam_user_arn = ?3))"
#define SQL_ENG_BUNDLE_GET "SELECT value FROM meta WHERE key = ?1"

/* ---- every signed request (store_access_key.c) ---- */

/* ?1: the time the previous secret is compared with */
#define SQL_KEY_COLUMNS                                                                                                \
	"id, name, policy, instance, create_time, status, applications, last_used, old_secret IS NOT NULL AND"         \
	" (old_secret_expires IS NULL OR old_secret_expires > ?1), old_secret_expires, rotate_time"
#define SQL_ACCESS_KEY_GET "SELECT " SQL_KEY_COLUMNS ", secret, old_secret, version FROM access_keys WHERE id = ?2"
/* what a signed request reads when its key is in memory (store_key_cache.c) */
#define SQL_ACCESS_KEY_VERSION "SELECT version, last_used FROM access_keys WHERE id = ?1"
#define SQL_ACCESS_KEY_TOUCH                                                                                           \
	"UPDATE access_keys SET last_used = ?2 WHERE id = ?1 AND (last_used IS NULL OR last_used < ?2)"

/* The list the plan test walks. may_sort: the statement sorts the few rows
 * an index found (a deployment's targets by status, an externalId's
 * deployments); every other one must get its order from the index. */
struct store_hot_stmt {
	const char *name;
	const char *sql;
	bool may_sort;
};

#define STORE_HOT_LIST                                                                                                 \
	{"deployment_get", SQL_DEPLOYMENT_GET, false},                                                                 \
	    {"deployment_count_targets", SQL_DEPLOYMENT_COUNT_TARGETS, false},                                         \
	    {"deployment_brief", SQL_DEPLOYMENT_BRIEF, false}, {"list_all", SQL_LIST_ALL, false},                      \
	    {"list_group", SQL_LIST_GROUP, false}, {"list_status", SQL_LIST_STATUS, false},                            \
	    {"list_group_status", SQL_LIST_GROUP_STATUS, false}, {"list_external", SQL_LIST_EXTERNAL, true},           \
	    {"list_cursor", SQL_LIST_CURSOR, false}, {"list_cursor_near", SQL_LIST_CURSOR_NEAR, false},                \
	    {"target_list", SQL_TARGET_LIST, false}, {"target_get", SQL_TARGET_GET, false},                            \
	    {"target_events", SQL_TARGET_EVENTS, false}, {"targets_get", SQL_TARGETS_GET, false},                      \
	    {"targets_events", SQL_TARGETS_EVENTS, false}, {"eng_event_update", SQL_ENG_EVENT_UPDATE, false},          \
	    {"eng_target_status", SQL_ENG_TARGET_STATUS, false}, {"eng_cmd_update", SQL_ENG_CMD_UPDATE, false},        \
	    {"eng_deployment_status", SQL_ENG_DEPLOYMENT_STATUS, false},                                               \
	    {"eng_deployment_overview", SQL_ENG_DEPLOYMENT_OVERVIEW, false},                                           \
	    {"eng_deployment", SQL_ENG_DEPLOYMENT, false}, {"eng_targets", SQL_ENG_TARGETS, true},                     \
	    {"eng_targets_events", SQL_ENG_TARGETS_EVENTS, false},                                                     \
	    {"eng_targets_commands", SQL_ENG_TARGETS_COMMANDS, false},                                                 \
	    {"eng_instance_last_status", SQL_ENG_INSTANCE_LAST_STATUS, false},                                         \
	    {"eng_instance_last_revision", SQL_ENG_INSTANCE_LAST_REVISION, false},                                     \
	    {"eng_instance_in_group", SQL_ENG_INSTANCE_IN_GROUP, false}, {"eng_last_good", SQL_ENG_LAST_GOOD, false},  \
	    {"eng_hook_log_trim", SQL_ENG_HOOK_LOG_TRIM, true}, {"eng_hook_find", SQL_ENG_HOOK_FIND, false},           \
	    {"eng_event_hook", SQL_ENG_EVENT_HOOK, false}, {"eng_instance_arn", SQL_ENG_INSTANCE_ARN, false},          \
	    {"eng_instance_by_identifier", SQL_ENG_INSTANCE_BY_IDENTIFIER, false},                                     \
	    {"instance_register_check", SQL_INSTANCE_REGISTER_CHECK, false},                                           \
	    {"eng_bundle_get", SQL_ENG_BUNDLE_GET, false}, {"access_key_get", SQL_ACCESS_KEY_GET, false},              \
	    {"access_key_version", SQL_ACCESS_KEY_VERSION, false},                                                     \
	{                                                                                                              \
		"access_key_touch", SQL_ACCESS_KEY_TOUCH, false                                                        \
	}
