/* Helpers shared by the command files (cli/<command>.c): usage errors,
 * argument parsing, one-call commands, printing API objects, Ctrl-C. */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>

#include "cli.h"
#include "options.h"

/* Prints "error: …" and the usage text to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* In a command function with `int ex`, `const char *usage` and a label
 * `out`: a usage error unless cond holds. */
#define REQUIRE(cond, ...)                                                                                             \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			ex = cli_usage_error(usage, __VA_ARGS__);                                                      \
			goto out;                                                                                      \
		}                                                                                                      \
	} while (0)

/* getopt_long over argv[0..argc) (argv[0] is the command name) with options
 * and positionals mixed; -h/--help prints usage and returns 1; errors print
 * and return -1; fn gets every option. Short options: -h, -f, -o VALUE. */
int cli_parse(int argc, char **argv, const struct option *opts, const char *usage,
	      int (*fn)(int opt, const char *arg, void *ud), void *ud, const char **pos, int maxpos, int *ret_npos);

/* Calls op with req (consumed); prints the error and returns an exit code on
 * failure. On success *ret_resp (when non-NULL) holds the answer. */
int cli_simple_call(struct cli *c, const char *prefix, const char *op, json_t *req, json_t **ret_resp);

/* Scalar members as "key: value" lines (times formatted), nested objects
 * indented below their key, anything else as compact JSON. */
void cli_print_kv(FILE *f, json_t *obj, int indent);
/* A table of an array of objects; the columns are member names. */
void cli_print_objects(FILE *f, json_t *arr, size_t ncols, const char *const *cols);
/* "k=v,k2,=v3" from [{Key,Value}] tags or tag filters; malloc'd. */
char *cli_tags_string(json_t *tags);

/* The IAM user ARN rolloutctl registers an instance with when none is given. */
char *cli_default_iam_arn(const char *name);
/* AccessKeyId / SecretAccessKey of a CreateAccessKey answer, at the top level
 * or inside "accessKey", capitalised or not. */
const char *cli_key_field(json_t *resp, const char *field);

/* ---- Ctrl-C while following ---- */

/* Set by SIGINT while cli_catch_sigint is in force. */
extern volatile sig_atomic_t cli_interrupted;
void cli_catch_sigint(struct sigaction *ret_old);
void cli_restore_sigint(const struct sigaction *old);
/* Sleeps ms milliseconds, or less when interrupted. */
void cli_sleep_ms(int ms);
/* Wall clock in seconds. */
double cli_now(void);
