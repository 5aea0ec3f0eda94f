/* Hook events: the scripts the appspec names for an event, run one after
 * the other as their runas user with the hook environment (the agent's
 * allow-listed variables, never its AWS credentials, plus LIFECYCLE_EVENT,
 * DEPLOYMENT_ID & co and the BUNDLE_* of the revision), their output going
 * to the logs and rolloutd live. */
#pragma once

struct agent;
struct cmd_outcome;
struct deploy_spec;
struct layout;

void hooks_run(struct agent *ag, const char *hcid, const char *event, const struct deploy_spec *s,
	       const struct layout *p, struct cmd_outcome *out);
