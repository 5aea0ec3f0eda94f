/* The platform plugins taken together: which targets a deployment group
 * selects. Every caller that turns a group into instances (the engine's
 * resolve job, the blue fleet of a blue/green deployment, the traffic phase,
 * Rolloutd_v1.PlanDeployment) goes through platforms_resolve(), so they all
 * ask the same plugins in the same order and merge the answers the same way. */
#pragma once

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
