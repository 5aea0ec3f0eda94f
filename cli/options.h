/* The options of rolloutctl's commands: one set of fields and one parser
 * for every command, and two tables saying which options a command family
 * takes (the resource commands and the workflow commands), so that an
 * option of the other family is refused as unknown. */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "cli.h"

struct cli_opts {
	struct cli *c;
	const char *usage;
	const char *app, *group, *name, *config, *platform, *description, *policy, *instance, *status;
	const char *service_role, *new_name, *min_healthy, *iam_user_arn, *iam_session_arn, *limit;
	const char *agent_config, *root_dir, *log_dir, *daemon_cert, *bundle_type, *file_exists, *access_key_name;
	const char *sha256;
	const char *applications, *retire_after, *key, *since, *until; /* access-key, audit */
	bool all_applications;
	json_t *tags;	   /* [Tag] */
	json_t *filters;   /* [TagFilter] (resource commands' --tags, --tag-filters) */
	json_t *tag_sets;  /* [[TagFilter]] */
	int auto_rollback; /* -1 unset, 0 off, 1 on */
	bool wait, follow, local, ignore_stop_failures, no_follow_rollback;
	int timeout_s;	 /* --timeout; 0 = none */
	int interval_ms; /* --interval; default 500 */
	char err[512];
	/* Resource commands: set when --tags holds filters that are not plain
	 * key=value tags; the commands that take tags (not filters) refuse it. */
	char tags_err[512];
};

/* app, group, config, revision, deployment, instance, access-key. --tags are
 * tag filters for lists and groups and tags for the resources that carry
 * them. */
extern const struct option cli_resource_options[];
/* deploy, wait, logs, plan, status, stop, rollback, register-instance.
 * --tags are tags. */
extern const struct option cli_workflow_options[];

/* Parses argv (argv[0] is the command name; options and positionals may be
 * mixed) into o with the given table, and up to maxpos positionals into pos.
 * Returns the number of positionals, or -1 with the exit code in *ret_exit
 * (0 after --help, CLI_EXIT_USAGE after printing the error and the usage);
 * o holds nothing to free then. */
int cli_opts_parse(struct cli *c, struct cli_opts *o, const struct option *table, const char *usage, int argc,
		   char **argv, const char **pos, int maxpos, int *ret_exit);

void cli_opts_free(struct cli_opts *o);

/* {"enabled": true, "events": [DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_REQUEST]}
 * for --auto-rollback, {"enabled": false, "events": []} for --no-auto-rollback,
 * NULL when neither was given. New reference. */
json_t *cli_opts_auto_rollback(const struct cli_opts *o);
