/* Identifiers of the host-command protocol (agent/PROTOCOL.md), pure
 * functions, unit-tested.
 *
 * HostCommandIdentifier: base64 of "rd1|<deploymentId>|<instanceName>|<event>|<attempt>".
 * Opaque to agents; it names the deployment, host, lifecycle event and
 * attempt, so late and duplicate reports are matched to exactly one event.
 *
 * DeploymentExecutionId: "CodeDeploy/<region>/Prod/arn:aws:sds:<region>:<account>:deployment/<deploymentId>",
 * which matches the model pattern ^[^/]+/[^/]+/[^/]+/.+$ (at most 129 characters). */
#pragma once

#include <stddef.h>

#define CMD_ID_MAX 512 /* buffer size for an encoded HostCommandIdentifier */

struct cmd_id {
	char deployment_id[16];
	char instance[128];
	char event[32];
	int attempt;
};

/* Encodes into out (CMD_ID_MAX bytes). -EINVAL when a part contains '|' or
 * is too long. */
int cmd_id_encode(const struct cmd_id *id, char *out, size_t outlen);
/* Decodes; -EINVAL for anything that is not one of ours. */
int cmd_id_decode(const char *s, struct cmd_id *ret);

/* Builds the DeploymentExecutionId; -ENAMETOOLONG over 129 characters. */
int cmd_execution_id(const char *region, const char *account, const char *deployment_id, char *out, size_t outlen);
/* Extracts the deployment id (the part after "deployment/") of an execution
 * id; -EINVAL when it has not the expected form. out >= 16 bytes. */
int cmd_execution_id_parse(const char *s, char *out, size_t outlen);

/* The instance id of an EC2 agent's host identifier,
 * arn:aws:ec2:REGION:ACCOUNT:instance/i-... (any aws partition). -EINVAL
 * when hid is not one. out >= 20 bytes. */
int cmd_ec2_instance_id(const char *hid, char *out, size_t outlen);
