/* STS AssumeRole for the AWS-calling plugins: a plugin configured with
 * `assume_service_role: true` signs the AWS requests it makes for a
 * deployment with temporary credentials of the deployment group's
 * serviceRoleArn, assumed with its own credentials (its config, else the
 * host's chain), so one daemon deploys into several accounts. The engine
 * names the role for the thread that runs a deployment's plugin work
 * (aws_assume_set_role); the host's http_request reads it. Credentials are
 * cached per plugin, base key, role and endpoint until 5 minutes before
 * they expire. Thread-safe. */
#pragma once

#include "awscreds.h"

struct rollout_handle;

/* The service role of the deployment the calling thread works for (NULL or
 * "": none); aws_assume_current_role() reads it back (NULL when none). */
void aws_assume_set_role(const char *role_arn);
const char *aws_assume_current_role(void);

/* Temporary credentials of role_arn assumed with base through STS at
 * endpoint (NULL: https://sts.REGION.amazonaws.com/), from the cache when
 * fresh. -EACCES when STS refuses (AccessDenied: the role's trust policy),
 * -EIO for other answers, other negative errno for transport errors; err
 * names the role and the reason. *ret owned by the caller. */
int aws_assume_role(struct rollout_handle *h, const struct aws_credentials *base, const char *endpoint,
		    const char *region, const char *role_arn, struct aws_credentials **ret, char *err, size_t errlen);

/* Forgets every cached credential (tests). */
void aws_assume_clear_cache(void);
