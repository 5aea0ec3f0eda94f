/* The ec2 plugin's pure parts, exposed for its unit test. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "asg.h"
#include "awsquery.h"

/* The plugin's state (ec2.c's init). */
struct ec2 {
	const struct rollout_host *host;
	struct rollout_handle *h;
	int64_t timeout_ms;
	int64_t max_attempts;
	int64_t fleet_poll_ms;
	const char *endpoint, *ec2_endpoint, *autoscaling_endpoint;
	const char *region;
	struct awsq q;
	struct awsq_service svc_ec2, svc_asg, svc_sqs;
	/* Auto Scaling lifecycle (asg.c) */
	const char *sqs_endpoint, *queue_url, *queue_arn, *role_arn;
	int64_t poll_ms, queue_wait_ms, queue_pause_ms, heartbeat_ms, hook_timeout_ms;
	struct asg_ctx asg;
};

/* Server blue/green fleets (asgcopy.c): COPY_AUTO_SCALING_GROUP copies the
 * group's Auto Scaling group as CodeDeploy_<group>_<deployment id>; the
 * original fleet is terminated (TerminateInstances, or the original group
 * deleted) or kept. See struct rollout_platform_ops' fleet_* ops. */
int ec2_fleet_provision(void *state, const struct rollout_fleet_call *call, char **ret_json, struct rollout_error *err);
int ec2_fleet_retire(void *state, const struct rollout_fleet_call *call, char **ret_json, struct rollout_error *err);
int ec2_fleet_discard(void *state, const struct rollout_fleet_call *call, char **ret_json, struct rollout_error *err);

/* The name of the Auto Scaling group a deployment copies, into buf. */
int ec2_copy_name(const char *group, const char *deployment_id, char *buf, size_t len);

/* What a deployment group selects on EC2: the deployment's targetInstances
 * when given, else the group's own. */
struct ec2_selection {
	char *filter_json; /* [TagFilter] or {"ec2TagSetList": ...}; NULL: none */
	char *asgs_json;   /* ["asg name", ...]; NULL: none */
	/* rolloutd's own member ec2InstanceIds (the daemon checking the
	 * instances its agent keys are bound to): these instances in every
	 * state, terminated included; ["i-...", ...] or NULL. */
	char *ids_json;
};
int ec2_selection_parse(const char *group_json, struct ec2_selection *ret, char *err, size_t errlen);
void ec2_selection_clear(struct ec2_selection *s);

/* DescribeInstances filter parameters ("&Filter.1.Name=...&Filter.1.Value.1=...")
 * that find every instance the tag filter can select, one per call (the
 * filters of a list are OR-ed; EC2 ANDs filters of one call). They may
 * find more (wildcards): match the result again. */
int ec2_server_filters(const char *filter_json, char ***ret, size_t *ret_n);
void ec2_strv_free(char **v, size_t n);

/* Whether an instance in this EC2 state is a deployment target. */
bool ec2_state_is_target(const char *state);

/* The targets of one DescribeInstances page into out (keyed by instance
 * id); *ret_next: the NextToken (malloc'd) or NULL. */
int ec2_parse_instances(const struct rollout_host *host, const struct rollout_xml *doc, const char *region,
			const char *account, bool all_states, json_t *out, char **ret_next);
