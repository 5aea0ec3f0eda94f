/* Helpers shared by the command files (cli/cmds.c, cli/deploy.c). */
#pragma once

#include <getopt.h>
#include <jansson.h>

#include "cli.h"

/* Prints "error: …" and the usage text to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Calls op with req (consumed); prints the error and returns an exit code on
 * failure. On success *ret_resp (when non-NULL) holds the answer. */
int cli_simple_call(struct cli *c, const char *prefix, const char *op, json_t *req, json_t **ret_resp);

void cli_print_kv(json_t *obj, int indent);
void cli_print_objects(json_t *arr, size_t ncols, const char *const *cols);
char *cli_tags_string(json_t *tags);
int cli_batch_get(struct cli *c, const char *op, json_t *base_req, const char *names_key, json_t *names, size_t chunk,
		  const char *result_key, json_t **ret_array);

/* getopt_long over argv[0..argc) (argv[0] is the command name) with options
 * and positionals mixed; -h/--help prints usage and returns 1; errors print
 * and return -1; fn gets every option. Short options: -h, -f, -o VALUE. */
int cli_parse(int argc, char **argv, const struct option *opts, const char *usage,
	      int (*fn)(int opt, const char *arg, void *ud), void *ud, const char **pos, int maxpos, int *ret_npos);

int cli_fetch_deployments(struct cli *c, const char *app, const char *group, const char *statuses, size_t limit,
			  json_t **ret_infos);
int cli_fetch_instances(struct cli *c, const char *id, json_t **ret_summaries);
int cli_fetch_onprem(struct cli *c, json_t *filters, const char *status, json_t **ret_infos);
char *cli_default_iam_arn(const char *name);
const char *cli_key_field(json_t *resp, const char *field);
