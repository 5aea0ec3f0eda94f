/* The ec2 plugin's Auto Scaling side: the launch (and termination)
 * lifecycle hooks CodeDeploy installs on a deployment group's Auto Scaling
 * groups, the lifecycle messages Auto Scaling sends to the user's SQS
 * queue, and, without a queue, polling the groups for instances in
 * service. The platform ops lifecycle_hooks / lifecycle_receive /
 * lifecycle_complete (rollout/plugin.h) are these functions. */
#pragma once

#include <stdint.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "awsquery.h"

#define ASG_LAUNCH_HOOK_PREFIX "CodeDeploy-managed-automatic-launch-deployment-hook-"
#define ASG_TERMINATION_HOOK_PREFIX "CodeDeploy-managed-automatic-termination-deployment-hook-"

struct asg_ctx {
	const struct rollout_host *host;
	struct rollout_handle *h;
	const struct awsq *q;
	const struct awsq_service *svc_asg, *svc_sqs;
	const char *queue_url;	/* the user's SQS queue; NULL: poll the groups */
	const char *queue_arn;	/* NotificationTargetARN; derived from queue_url when NULL */
	const char *role_arn;	/* RoleARN Auto Scaling assumes to publish; may be NULL */
	const char *region;	/* for a derived queue ARN */
	int64_t poll_ms;	/* without a queue: how often the groups are described */
	int64_t queue_pause_ms; /* with a queue: pause after an empty receive */
	int64_t queue_wait_ms;	/* with a queue: ReceiveMessage's WaitTimeSeconds */
	int64_t heartbeat_ms;	/* RecordLifecycleActionHeartbeat period while deploying */
	int64_t hook_timeout_s; /* the hooks' HeartbeatTimeout */
};

int asg_lifecycle_hooks(const struct asg_ctx *c, const struct rollout_deployment *dep, const char *group_json,
			const char *previous_json, char **ret_json, struct rollout_error *err);
int asg_lifecycle_receive(const struct asg_ctx *c, const char *groups_json, char **ret_json, struct rollout_error *err);
int asg_lifecycle_complete(const struct asg_ctx *c, const char *action_json, struct rollout_error *err);

/* The queue ARN of an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME,
 * or any URL ending in /ACCOUNT/NAME): arn:aws:sqs:REGION:ACCOUNT:NAME. */
int asg_queue_arn(const char *queue_url, const char *region, char *buf, size_t len);
/* The lifecycle event of one SQS message body (Auto Scaling's JSON), as
 * lifecycle_receive reports it, matched to its group by hook name among
 * groups (the groups_json array); NULL for a test notification or
 * something else. */
json_t *asg_parse_message(const char *body, const json_t *groups);
