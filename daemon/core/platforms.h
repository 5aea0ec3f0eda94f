/* The platform plugins taken together: which targets a deployment group
 * selects. Every caller that turns a group into instances (the engine's
 * resolve job, the blue fleet of a blue/green deployment, the traffic phase,
 * Rolloutd_v1.PlanDeployment) goes through platforms_resolve(), so they all
 * ask the same plugins in the same order and merge the answers the same way. */
#pragma once

#include <stdbool.h>

#include <jansson.h>

#include <rollout/plugin.h>

#include "core/error.h"

struct plugin_registry;

/* Asks every platform plugin serving compute_platform ("Server", ...), in
 * load order, to resolve group (a DeploymentGroupInfo; with a
 * "targetInstances" member when a deployment narrows the selection) and
 * merges their answers: a targetId named twice keeps its first entry.
 * Blocks on the plugins: call it from a worker, never on the engine or I/O
 * thread. Returns 0 with *ret a new JSON array of target objects
 * ({targetId, targetArn?, ...}), or a negative errno with err: the failing
 * plugin's code (message prefixed with its name), INTERNAL_ERROR when a
 * plugin answers something that is not a JSON array or when no plugin
 * serves the compute platform. */
int platforms_resolve(const struct plugin_registry *reg, const struct rollout_deployment *dep,
		      const char *compute_platform, const json_t *group, json_t **ret, struct rd_error *err);

/* The server blue/green fleet ops (fleet_provision, fleet_retire,
 * fleet_discard of struct rollout_platform_ops) of every platform plugin
 * serving "Server" that sets the op, in load order. */
enum platforms_fleet_op { PLATFORMS_FLEET_PROVISION, PLATFORMS_FLEET_RETIRE, PLATFORMS_FLEET_DISCARD };
/* Calls op on each such plugin with call (size and the members the op uses
 * set by the caller). The answers (JSON objects) are merged into *ret (a
 * new object, empty when no plugin answered); NULL ret: answers dropped.
 * Stops at the first failure: a negative errno with err (the plugin's code,
 * message prefixed with its name). Blocks: call it from a worker. */
int platforms_fleet(const struct plugin_registry *reg, enum platforms_fleet_op op,
		    const struct rollout_fleet_call *call, json_t **ret, struct rd_error *err);

/* Auto Scaling (the lifecycle_* platform ops, ABI 1.1 appended): served by
 * the first Server platform plugin that has them (the ec2 plugin). */
/* Whether any plugin has lifecycle_receive. */
bool platforms_lifecycle_served(const struct plugin_registry *reg);
/* lifecycle_hooks for a group being created (previous NULL), updated or
 * deleted (group NULL): *ret is {"autoScalingGroups": [...],
 * "hooksNotCleanedUp": [...]}, or NULL when no plugin installs hooks (the
 * caller keeps the group's list as it is). Blocks: call it from a worker. */
int platforms_lifecycle_hooks(const struct plugin_registry *reg, const struct rollout_deployment *dep,
			      const json_t *group, const json_t *previous, json_t **ret, struct rd_error *err);
/* lifecycle_receive: *ret is the plugin's answer ({"events", "nextPollMs", "heartbeatMs"}). */
int platforms_lifecycle_receive(const struct plugin_registry *reg, const json_t *groups, json_t **ret,
				struct rd_error *err);
/* lifecycle_complete of one action (an event plus "result"). */
int platforms_lifecycle_complete(const struct plugin_registry *reg, const json_t *action, struct rd_error *err);
