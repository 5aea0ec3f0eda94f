/* Deployments on platforms that shift traffic themselves (Lambda, ECS): the
 * owning plugin, the validated AppSpec, the plugin's state and the engine's
 * cursor (which step, applied or about to run, waits), one row per
 * deployment; and the hook executions of their lifecycle events. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_hot.h"
#include "store/store_internal.h"

int store_eng_shift_get(struct store_tx *tx, const char *dep, json_t **ret)
{
	struct store_q q;
	json_t *o;
	int r = store_one(tx->c, &q,
			  "SELECT plugin, appspec, state, cursor FROM shift_deployments WHERE deployment_id = ?1",
			  SQL_TEXT(dep));

	if (r < 0)
		return r;
	o = json_pack("{s:s?, s:o?, s:o?, s:o?}", "plugin", store_text(&q, 0), "appspec", store_json(&q, 1), "state",
		      store_json(&q, 2), "cursor", store_json(&q, 3));
	r = store_done(&q, o ? 0 : -ENOMEM);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	*ret = o;
	return 0;
}

int store_eng_shift_put(struct store_tx *tx, const char *dep, const char *plugin, const json_t *appspec,
			const json_t *state, const json_t *cursor, int64_t now)
{
	store_tx_touch(tx, dep);
	if (!plugin)
		return store_run(tx->c,
				 "UPDATE shift_deployments SET appspec = COALESCE(?2, appspec),"
				 " state = COALESCE(?3, state), cursor = COALESCE(?4, cursor), updated = ?5"
				 " WHERE deployment_id = ?1",
				 SQL_TEXT(dep), SQL_JSON(appspec), SQL_JSON(state), SQL_JSON(cursor), SQL_INT(now));
	return store_run(
	    tx->c,
	    "INSERT INTO shift_deployments (deployment_id, plugin, appspec, state, cursor, updated)"
	    " VALUES (?1, ?2, ?3, ?4, COALESCE(?5, '{}'), ?6)"
	    " ON CONFLICT (deployment_id) DO UPDATE SET"
	    " plugin = ?2, appspec = COALESCE(?3, shift_deployments.appspec),"
	    " state = COALESCE(?4, shift_deployments.state), cursor = COALESCE(?5, shift_deployments.cursor),"
	    " updated = ?6",
	    SQL_TEXT(dep), SQL_TEXT(plugin), SQL_JSON(appspec), SQL_JSON(state), SQL_JSON(cursor), SQL_INT(now));
}

int store_eng_target_view(struct store_tx *tx, const char *dep, const char *target, const char *type, const char *arn,
			  const json_t *doc, int64_t now)
{
	return store_run(tx->c,
			 "UPDATE deployment_targets SET target_type = COALESCE(?3, target_type),"
			 " target_arn = COALESCE(?4, target_arn), doc = COALESCE(?5, doc), last_updated = ?6"
			 " WHERE deployment_id = ?1 AND target_id = ?2",
			 SQL_TEXT(dep), SQL_TEXT(target), SQL_TEXT(type), SQL_TEXT(arn), SQL_JSON(doc), SQL_INT(now));
}

int store_eng_event_hook(struct store_tx *tx, const char *dep, const char *target, int seq, const char *exec_id)
{
	return store_run(tx->c, SQL_ENG_EVENT_HOOK, SQL_TEXT(dep), SQL_TEXT(target), SQL_INT(seq), SQL_TEXT(exec_id));
}

int store_eng_hook_find(struct store_tx *tx, const char *exec_id, struct store_hook_execution *ret)
{
	struct store_hook_execution h = {0};
	struct store_q q;
	int r = store_one(tx->c, &q, SQL_ENG_HOOK_FIND, SQL_TEXT(exec_id));

	if (r < 0)
		return r;
	store_copy(&q, 0, h.deployment_id, sizeof(h.deployment_id));
	store_copy(&q, 1, h.target_id, sizeof(h.target_id));
	h.seq = (int)store_int(&q, 2);
	store_copy(&q, 3, h.event, sizeof(h.event));
	store_copy(&q, 4, h.status, sizeof(h.status));
	r = store_done(&q, 0);
	if (r == 0)
		*ret = h;
	return r;
}
