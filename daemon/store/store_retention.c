/* Retention: finished deployments older than a cut-off are removed with
 * their targets, lifecycle events, host commands, hook logs and trigger
 * deliveries; hook logs may be removed earlier on their own. Every call
 * removes at most `batch` rows in one short write transaction, so the
 * engine's transactions wait for one batch at most; the caller loops.
 *
 * Never removed: unfinished deployments, and the latest attempted and the
 * latest successful deployment of each deployment group (the group's
 * "last deployment" answers, and what an automatic rollback redeploys).
 *
 * Shared bundles (store_bundle.c) go one at a time once nothing refers to
 * them; a daemon's own cache keeps its copy under its size cap. */
#include "config.h"

#include <errno.h>

#include "store/store_internal.h"

/* finished deployments, complete before ?1, that are neither their group's
 * latest attempted nor its latest successful one */
#define PRUNABLE                                                                                                       \
	"SELECT d.id FROM deployments d"                                                                               \
	" WHERE d.status IN ('Succeeded', 'Failed', 'Stopped') AND d.complete_time > 0 AND d.complete_time < ?1"       \
	" AND d.seq <> (SELECT MAX(x.seq) FROM deployments x"                                                          \
	"  WHERE x.application = d.application AND x.deployment_group IS NOT DISTINCT FROM d.deployment_group)"        \
	" AND d.seq <> COALESCE((SELECT MAX(x.seq) FROM deployments x WHERE x.application = d.application"             \
	"  AND x.deployment_group IS NOT DISTINCT FROM d.deployment_group AND x.status = 'Succeeded'), -1)"

static int changes(struct store_conn *c)
{
	return (int)store_changes(c);
}

/* Deletes up to `batch` rows belonging to deployment `id` from its child
 * tables, children first; *ret_n is how many. */
static int prune_children(struct store_conn *c, const char *id, size_t batch, size_t *ret_n)
{
	int64_t lim = (int64_t)batch;
	size_t n = 0;
	int r;

	r = store_run(
	    c, "DELETE FROM hook_logs WHERE rowid IN (SELECT rowid FROM hook_logs WHERE deployment_id = ?1 LIMIT ?2)",
	    SQL_TEXT(id), SQL_INT(lim));
	n += r == 0 ? (size_t)changes(c) : 0;
	if (r == 0 && n < batch) {
		r = store_run(c,
			      "DELETE FROM lifecycle_events WHERE rowid IN (SELECT rowid FROM lifecycle_events"
			      " WHERE deployment_id = ?1 LIMIT ?2)",
			      SQL_TEXT(id), SQL_INT(lim - (int64_t)n));
		n += r == 0 ? (size_t)changes(c) : 0;
	}
	if (r == 0 && n < batch) {
		r = store_run(c,
			      "DELETE FROM host_commands WHERE id IN (SELECT id FROM host_commands"
			      " WHERE deployment_id = ?1 LIMIT ?2)",
			      SQL_TEXT(id), SQL_INT(lim - (int64_t)n));
		n += r == 0 ? (size_t)changes(c) : 0;
	}
	if (r == 0 && n < batch) {
		r = store_run(c,
			      "DELETE FROM trigger_deliveries WHERE id IN (SELECT id FROM trigger_deliveries"
			      " WHERE deployment_id = ?1 LIMIT ?2)",
			      SQL_TEXT(id), SQL_INT(lim - (int64_t)n));
		n += r == 0 ? (size_t)changes(c) : 0;
	}
	if (r == 0 && n < batch) {
		r = store_run(c,
			      "DELETE FROM deployment_targets WHERE rowid IN (SELECT rowid FROM deployment_targets"
			      " WHERE deployment_id = ?1 LIMIT ?2)",
			      SQL_TEXT(id), SQL_INT(lim - (int64_t)n));
		n += r == 0 ? (size_t)changes(c) : 0;
	}
	*ret_n = n;
	return r;
}

int store_retention_step(struct store *st, int64_t deployments_before_ms, int64_t hook_logs_before_ms, size_t batch,
			 struct store_retention_counts *counts, bool *ret_more)
{
	struct store_conn *c;
	struct store_q q;
	char id[64] = "";
	size_t n = 0;
	bool more = false;
	int r;

	if (batch == 0)
		batch = 1;
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_tx_begin(c);
	if (r < 0)
		goto out;
	if (deployments_before_ms > 0) {
		r = store_one(c, &q, PRUNABLE " ORDER BY d.seq LIMIT 1", SQL_INT(deployments_before_ms));
		if (r == 0) {
			store_copy(&q, 0, id, sizeof(id));
			store_done(&q, 0);
		} else if (r == -ENOENT) {
			r = 0;
		}
	}
	if (r == 0 && *id) {
		size_t k = 0;
		r = prune_children(c, id, batch, &k);
		n += k;
		if (r == 0 && k < batch) {
			r = store_run(c, "DELETE FROM deployments WHERE id = ?1", SQL_TEXT(id));
			if (r == 0 && changes(c) > 0) {
				n++;
				if (counts)
					counts->deployments++;
			}
		}
		if (counts)
			counts->rows += k;
		more = true; /* this deployment's rest, or the next one */
	} else if (r == 0 && hook_logs_before_ms > 0) {
		r = store_run(c,
			      "DELETE FROM hook_logs WHERE rowid IN (SELECT h.rowid FROM hook_logs h"
			      " JOIN deployments d ON d.id = h.deployment_id"
			      " WHERE d.status IN ('Succeeded', 'Failed', 'Stopped') AND d.complete_time > 0"
			      " AND d.complete_time < ?1 LIMIT ?2)",
			      SQL_INT(hook_logs_before_ms), SQL_INT((int64_t)batch));
		if (r == 0) {
			n = (size_t)changes(c);
			more = n == batch;
			if (counts) {
				counts->hook_logs += n;
				counts->rows += n;
			}
		}
	}
	if (r == 0)
		r = store_tx_commit(c);
	else
		store_tx_rollback(c);
out:
	store_conn_put(st, c);
	if (r == 0)
		*ret_more = more;
	return r;
}

/* A shared bundle (store_bundle.c) still referred to: the bundle of a
 * deployment the store still holds, or an uploaded revision registered with
 * an application (it may be deployed later). meta holds other values than
 * JSON: only the keys of bundles are parsed (CASE fixes the order). */
#define BUNDLE_USED_LITE                                                                                               \
	"EXISTS (SELECT 1 FROM meta m JOIN deployments d ON m.key = 'engine.bundle.' || d.id"                          \
	" WHERE CASE WHEN m.key LIKE 'engine.bundle.%' THEN json_extract(m.value, '$.sha256') END = b.sha256)"         \
	" OR EXISTS (SELECT 1 FROM revisions r WHERE r.revision_type = 'Bundle'"                                       \
	" AND json_extract(r.revision, '$.bundleLocation.sha256') = b.sha256)"
#define BUNDLE_USED_PG                                                                                                 \
	"EXISTS (SELECT 1 FROM meta m JOIN deployments d ON m.key = 'engine.bundle.' || d.id"                          \
	" WHERE CASE WHEN m.key LIKE 'engine.bundle.%' THEN m.value::json->>'sha256' END = b.sha256)"                  \
	" OR EXISTS (SELECT 1 FROM revisions r WHERE r.revision_type = 'Bundle'"                                       \
	" AND r.revision::json->'bundleLocation'->>'sha256' = b.sha256)"
#define BUNDLE_PRUNABLE(used)                                                                                          \
	"SELECT b.sha256 FROM bundle_blobs b"                                                                          \
	" WHERE (b.complete_time IS NULL AND b.start_time < ?2)"                                                       \
	" OR (b.complete_time IS NOT NULL AND b.complete_time < ?1 AND NOT (" used "))"                                \
	" LIMIT 1"

int store_retention_bundles_step(struct store *st, int64_t unused_before_ms, int64_t stale_before_ms,
				 size_t *ret_removed, bool *ret_more)
{
	struct store_conn *c;
	struct store_q q;
	char sha[65] = "";
	size_t n = 0;
	int r;

	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_tx_begin(c);
	if (r < 0)
		goto out;
	r = store_one2(c, &q, BUNDLE_PRUNABLE(BUNDLE_USED_LITE), BUNDLE_PRUNABLE(BUNDLE_USED_PG),
		       SQL_INT(unused_before_ms), SQL_INT(stale_before_ms));
	if (r == 0) {
		store_copy(&q, 0, sha, sizeof(sha));
		store_done(&q, 0);
	} else if (r == -ENOENT) {
		r = 0;
	}
	if (r == 0 && *sha) {
		r = store_run(c, "DELETE FROM bundle_chunks WHERE sha256 = ?1", SQL_TEXT(sha));
		n = r == 0 ? (size_t)changes(c) : 0;
		if (r == 0)
			r = store_run(c, "DELETE FROM bundle_blobs WHERE sha256 = ?1", SQL_TEXT(sha));
	}
	if (r == 0)
		r = store_tx_commit(c);
	else
		store_tx_rollback(c);
out:
	store_conn_put(st, c);
	if (r == 0) {
		*ret_removed = n;
		*ret_more = *sha != '\0';
	}
	return r;
}
