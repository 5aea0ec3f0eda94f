/* Which instances a deployment reaches and in which order: the resolve
 * (platform plugins, narrowed by the deployment's targetInstances or, for a
 * blue/green group, the green fleet's selector), the selection (duplicates
 * and instances outside rolloutTargetIds dropped, instances whose last
 * deployment failed first, instances already on the revision skipped under
 * updateOutdatedInstancesOnly) and the health policy of the deployment
 * config. The engine's resolve job and state machine use these functions,
 * and so does Rolloutd_v1.PlanDeployment (engine_plan_deployment), so a plan
 * shows what a deployment then does. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <rollout/plugin.h>

#include "core/error.h"
#include "engine/engine_plan.h"

struct plugin_registry;
struct store_tx;

/* Resolves the instances a deployment reaches through the platform plugins
 * (blocks: workers only). deployment_doc: the deployment's own members
 * (targetInstances), or NULL to resolve the whole group as it is (the
 * auto-update scan). With a deployment and a BLUE_GREEN group the green
 * fleet's selector replaces the group's filters and *ret_bg is set. 0 with
 * *ret a new array of target objects, or a negative errno with err (the
 * code a deployment fails with). */
int eng_targets_resolve(const struct plugin_registry *reg, const struct rollout_deployment *dep, const json_t *group,
			const json_t *deployment_doc, json_t **ret, bool *ret_bg, struct rd_error *err);

/* The original (blue) fleet of a blue/green deployment: every instance the
 * group selects without the deployment's targetInstances, minus green (an
 * array of target objects). Blocks like eng_targets_resolve. NULL when the
 * platform cannot say. */
json_t *eng_targets_blue(const struct plugin_registry *reg, const struct rollout_deployment *dep, const json_t *group,
			 const json_t *green);

struct eng_selected {
	const char *id;	   /* borrowed from the resolved array */
	const json_t *src; /* the target object the platform returned */
	bool last_failed;  /* its last finished deployment failed: it goes first */
	bool up_to_date;   /* updateOutdatedInstancesOnly and it already runs the revision */
};

struct eng_selection {
	struct eng_selected *v; /* in deployment order */
	size_t n;
	size_t deploy; /* entries not up to date */
};

/* Selects and orders the resolved targets of a deployment of app/group:
 * duplicates dropped; only (rolloutTargetIds, may be NULL) keeps the named
 * ones; last status read from the store excluding deployment dep_id (may
 * be ""); under outdated_only an instance whose last successful revision in
 * the group equals revision is up to date. Entries borrow from resolved.
 * 0, or a negative errno from the store. */
int eng_targets_select(struct store_tx *tx, const char *dep_id, const char *app, const char *group,
		       const json_t *resolved, const json_t *only, bool outdated_only, const json_t *revision,
		       struct eng_selection *ret);
void eng_selection_free(struct eng_selection *s);

/* The health policy of deployment config `config` for `total` hosts to
 * deploy to. On failure err carries the code the deployment fails with:
 * HEALTH_CONSTRAINTS_INVALID (-ERANGE: the minimum leaves no host to take
 * out of service), INTERNAL_ERROR otherwise (unknown config, bad type). */
int eng_targets_policy(struct store_tx *tx, const char *config, int total, struct eng_policy *ret,
		       struct rd_error *err);
