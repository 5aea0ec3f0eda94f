/* Following a deployment (cli/wait.c), for wait, deploy --wait, stop --wait,
 * rollback --wait and logs. */
#pragma once

#include <jansson.h>

#include "cli.h"
#include "options.h"

/* One look at a deployment: its DeploymentInfo and instance summaries (an
 * empty array before it started). */
int cli_poll_deployment(struct cli *c, const char *id, json_t **ret_info, json_t **ret_summaries);

/* Follows deployment id with o's --timeout, --interval and
 * --no-follow-rollback until it ends, then explains the result; follows an
 * automatic rollback. Returns an exit code. */
int cli_wait_and_report(struct cli *c, const char *id, const struct cli_opts *o);
