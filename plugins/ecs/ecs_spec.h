/* The ECS plugin's reading of what it is given: the AppSpec's TargetService
 * (task definition, container and port, platform version, launch type,
 * network configuration, capacity providers) and the deployment group's
 * service and target-group pair. Pure parsing, no AWS call: unit-tested on
 * its own. */
#pragma once

#include <stdbool.h>

#include <jansson.h>
#include <rollout/plugin.h>

/* What the AppSpec's TargetService says. The json_t members are in the
 * form the ECS API wants (awsvpcConfiguration, capacityProviderStrategy). */
struct ecs_spec {
	char task_definition[2048];
	char container[256];
	long long port;
	char platform_version[64];
	char launch_type[32];
	json_t *network; /* {"awsvpcConfiguration": {...}} or NULL */
	json_t *cps;	 /* [{capacityProvider, weight, base}] or NULL */
};

void ecs_spec_clear(struct ecs_spec *s);
/* Reads the AppSpec (JSON, as the daemon validated it). -EINVAL with err
 * naming what is wrong. */
int ecs_parse_appspec(const char *appspec_json, struct ecs_spec *ret, struct rollout_error *err);

/* What the deployment group names. */
struct ecs_group {
	char cluster[256], service[256];
	char tg[2][64];
	char prod[512], test[512]; /* listener ARNs; test "" when none */
};

/* Reads the deployment group's ecsServices and
 * loadBalancerInfo.targetGroupPairInfoList. -EINVAL with err naming what is
 * wrong. */
int ecs_parse_group(const char *group_json, struct ecs_group *ret, struct rollout_error *err);

/* o's member k when it is a string, else NULL. */
const char *ecs_jstr(const json_t *o, const char *k);
