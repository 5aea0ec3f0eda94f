/* rolloutctl's shared internals: settings, the client, argument parsing,
 * output, progress rendering, bundle packing, agent configs, and the
 * commands main.c dispatches to (one file each under cli/; their shared
 * helpers are in cmdutil.h, the list/batch-get nouns in nouns.h).
 *
 * Everything that does not talk to the network is pure and unit-tested in
 * tests/unit/cli/. Functions return 0 or a negative errno; those that can
 * fail because of user input also fill a message the caller prints. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "jsonutil.h"

struct http_session;

/* Exit codes (documented in docs/cli.md). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,  /* the API refused, or the deployment failed / was stopped */
	CLI_EXIT_USAGE = 2,   /* bad command line */
	CLI_EXIT_CONFIG = 3,  /* no endpoint, credentials or region; unreadable file */
	CLI_EXIT_NETWORK = 4, /* the endpoint could not be reached or answered garbage */
	CLI_EXIT_TIMEOUT = 5, /* --wait gave up (--timeout) */
};

#define CLI_TARGET_CODEDEPLOY "CodeDeploy_20141006"
#define CLI_TARGET_ROLLOUTD "Rolloutd_v1"

struct cli {
	/* resolved settings */
	char *endpoint; /* without trailing slash */
	char *access_key_id;
	char *secret_access_key;
	char *session_token;
	char *region;
	char *profile;
	char *ca_file; /* --ca-file / ROLLOUT_CA_FILE: CA bundle for an https endpoint */
	bool json;     /* -o json */
	bool verbose;  /* --debug: print requests to stderr */
	bool tty;      /* stdout is a terminal */
	bool color;
	int timeout_s;		   /* per request */
	struct http_session *http; /* the connection the calls share (cli/client.c) */
	/* last API error, filled by cli_call when it returns -EREMOTEIO */
	long http_status;
	char err_type[128];
	char err_msg[1024];
};

/* ---- settings (cli/settings.c) ---- */

/* Fills endpoint, credentials and region from the flags already stored in c
 * (non-NULL fields win), then the environment (ROLLOUT_ENDPOINT,
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 * AWS_DEFAULT_REGION / AWS_REGION, AWS_PROFILE), then the shared files
 * (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, AWS_CONFIG_FILE or
 * ~/.aws/config). On error returns -ENOENT / -EINVAL and a message. */
int cli_settings_resolve(struct cli *c, char *errbuf, size_t errlen);
/* Frees everything c holds (settings and connection). */
void cli_settings_free(struct cli *c);

/* ---- calls to rolloutd (cli/client.c, over lib/httpclient) ---- */

/* Calls <prefix>.<op> with the JSON body req (NULL = {}). On 200 returns 0
 * and the parsed answer (never NULL; {} when the body was empty). On an API
 * error returns -EREMOTEIO with c->err_type / c->err_msg set; on a transport
 * error -EIO / -ECONNREFUSED with c->err_msg set. */
int cli_call(struct cli *c, const char *prefix, const char *op, json_t *req, json_t **ret_resp);

/* Same, but takes ownership of req (convenient with json_pack). */
int cli_call_new(struct cli *c, const char *prefix, const char *op, json_t *req, json_t **ret_resp);

/* Same, but the body is raw bytes with the given content type and extra
 * headers (NULL-terminated array of "Name: value"). */
int cli_call_raw(struct cli *c, const char *prefix, const char *op, const void *body, size_t len,
		 const char *content_type, const char *const *headers, json_t **ret_resp);

/* Any signed request: method, path (with query) below the endpoint; prefix
 * and op name the X-Amz-Target (prefix NULL: no target header, op is only
 * used in messages). A 404/405 without an API error body gives -ENOENT. */
int cli_http(struct cli *c, const char *method, const char *path, const char *prefix, const char *op, const void *body,
	     size_t len, const char *content_type, const char *const *headers, json_t **ret_resp);

/* Prints the error of the last failed call, with a hint, to stderr; returns
 * the exit code that matches it. */
int cli_report_error(struct cli *c, const char *what, int r);

/* Calls a List operation page by page and appends the elements of result_key
 * to a new array. */
int cli_list_all(struct cli *c, const char *op, json_t *req, const char *result_key, json_t **ret_array);

/* ---- argument helpers (cli/args.c) ---- */

/* "k=v,k2=v2" -> [{"Key":"k","Value":"v"},…]. A missing "=v" gives an empty
 * value. Appends to *array (created when NULL). */
int cli_parse_tags(const char *s, json_t **array, char *errbuf, size_t errlen);

/* "k=v" -> KEY_AND_VALUE, "k" -> KEY_ONLY, "=v" -> VALUE_ONLY; comma-separated
 * filters are OR-ed (one TagFilter each). Appends to *array. */
int cli_parse_tag_filters(const char *s, json_t **array, char *errbuf, size_t errlen);

/* Parses a revision location given on the command line:
 *   s3://bucket/key[?bundleType=zip&version=V&eTag=E]  (bundleType guessed from the suffix)
 *   github:owner/repo@commit
 *   bitbucket:workspace/repo@commit                     (rolloutd extension, Bitbucket)
 *   https://host/path[#sha256=HEX[&bundleType=T]]      (rolloutd extension, HTTP; http:// too)
 * Returns a new RevisionLocation object. -EINVAL with a message otherwise. */
int cli_parse_revision(const char *s, json_t **ret_rev, char *errbuf, size_t errlen);
/* The same with deploy's --sha256 (HTTP only; must agree with any #sha256=)
 * and --bundle-type (HTTP: zip, tgz or tar; Bitbucket: zip or tgz). Both may
 * be NULL. */
int cli_parse_revision_ext(const char *s, const char *sha256, const char *bundle_type, json_t **ret_rev, char *errbuf,
			   size_t errlen);
/* Whether s is written as a revision location (s3://, github:, bitbucket:,
 * http://, https://) rather than a local path. */
bool cli_is_revision_location(const char *s);

/* A one-line human description of a RevisionLocation. malloc'd. */
char *cli_revision_describe(json_t *rev);

/* Bundle type from a file name: zip, tgz, tar or NULL. */
const char *cli_bundle_type_from_name(const char *name);

/* "HOST_COUNT:2", "FLEET_PERCENT:50", "2" (host count), "50%" (percent). */
int cli_parse_min_healthy(const char *s, json_t **ret_obj, char *errbuf, size_t errlen);

/* Longest duration rolloutctl takes (--timeout): a week. */
#define CLI_DURATION_MAX_MS (7 * 24 * 3600 * 1000LL)

/* A duration (lib/duration.h: "90", "90s", "1.5m", "500ms", "1h", "1d") in whole
 * seconds, rounded up. -EINVAL when it is not one or is over a week. */
int cli_parse_duration(const char *s, int *ret_seconds);

/* ---- output (cli/table.c) ---- */

struct table;
struct table *table_new(size_t ncols, const char *const *headers);
struct table *table_free(struct table *t);
/* Appends one row of ncols strings (copied; NULL prints as "-"). */
int table_add_row(struct table *t, const char *const *cells);
int table_add_rowv(struct table *t, ...); /* ncols const char * arguments */
/* Renders with columns separated by two spaces, headers in capitals. */
void table_print(const struct table *t, FILE *f);
size_t table_rows(const struct table *t);

/* Prints j as indented JSON followed by a newline. */
void cli_print_json(json_t *j);

/* Epoch seconds (a JSON number or string) -> "2026-11-23 02:10:05Z" into buf. */
const char *cli_fmt_time(json_t *ts, char *buf, size_t len);
/* Seconds -> "3s", "1m05s", "2h03m". */
const char *cli_fmt_elapsed(double seconds, char *buf, size_t len);

/* ---- progress rendering (cli/progress.c) ---- */

/* One instance as seen by --wait. */
struct progress_instance {
	char id[256];
	char status[32]; /* InstanceStatus */
	char event[64];	 /* current (or failing / last) lifecycle event */
	char event_status[32];
	double start;	 /* epoch seconds of the first event start, 0 when not started */
	double end;	 /* epoch seconds of the last event end when finished */
	int events_done; /* events Succeeded or Skipped */
	int events_total;
	char script[256]; /* diagnostics of a failed event */
	char error_code[64];
	char message[512];
	char log_tail[4096];
	int weight; /* Lambda / ECS: percent of traffic on the target version, -1 when none */
};

struct progress {
	char deployment_id[64];
	char status[32];
	char config[128];
	char app[128];
	char group[128];
	char creator[64];
	char error_code[64];
	char error_message[512];
	char rollback_id[64]; /* rollbackInfo.rollbackDeploymentId */
	bool auto_rollback;   /* autoRollbackConfiguration.enabled */
	size_t batch_size;    /* instances per batch when known (from the config), else 0 */
	double create_time;
	double complete_time;
	long pending, in_progress, succeeded, failed, skipped, ready;
	size_t n;
	struct progress_instance *inst;
};

/* Fills p from GetDeployment's deploymentInfo and the instance summaries of
 * BatchGetDeploymentInstances (instancesSummary) or the DeploymentTarget
 * objects of BatchGetDeploymentTargets (instanceTarget, lambdaTarget,
 * ecsTarget; either may be NULL). */
int progress_update(struct progress *p, json_t *deployment_info, json_t *instances);
void progress_clear(struct progress *p);
bool progress_is_terminal(const struct progress *p);

/* Renders the TTY view (one row per instance, an overall bar) into a
 * malloc'd string; width is the terminal width. now is epoch seconds. */
char *progress_render_tty(const struct progress *p, double now, int width, bool color);

/* Appends to f one line per change between old and new (instance event or
 * status changes, deployment status changes): the non-TTY view. old may be
 * an empty progress. Returns the number of lines written. */
int progress_render_changes(const struct progress *old, const struct progress *p, double now, FILE *f);

/* Prints the failure summary (failing instance, event, script, log tail). */
void progress_print_failure(const struct progress *p, FILE *f);

/* ---- bundles (cli/pack.c) ---- */

/* Packs directory dir (which must contain appspec.yml or appspec.yaml) into
 * an in-memory zip ("zip") or gzip'd tar ("tgz"). */
int pack_directory(const char *dir, const char *format, void **ret_buf, size_t *ret_len, char *errbuf, size_t errlen);

/* ---- agent config (cli/agentconf.c) ---- */

struct agent_config {
	const char *endpoint;
	const char *host_identifier;
	const char *access_key_id;
	const char *secret_access_key;
	const char *region;
	const char *root_dir;
	const char *log_dir;
	const char *daemon_cert; /* may be NULL */
	/* an EC2 fleet's enroll key (instead of access_key_id / secret_access_key) */
	const char *enroll_key_id;
	const char *enroll_secret_access_key;
};

/* YAML text for rollout-agent --config; malloc'd. Values are quoted. */
char *agent_config_render(const struct agent_config *a);

/* ---- commands ---- */

int cmd_app(struct cli *c, int argc, char **argv);
int cmd_group(struct cli *c, int argc, char **argv);
int cmd_config(struct cli *c, int argc, char **argv);
int cmd_revision(struct cli *c, int argc, char **argv);
int cmd_deployment(struct cli *c, int argc, char **argv);
int cmd_instance(struct cli *c, int argc, char **argv);
int cmd_access_key(struct cli *c, int argc, char **argv);
int cmd_audit(struct cli *c, int argc, char **argv);
int cmd_deploy(struct cli *c, int argc, char **argv);
int cmd_wait(struct cli *c, int argc, char **argv);
int cmd_logs(struct cli *c, int argc, char **argv);
int cmd_plan(struct cli *c, int argc, char **argv);
int cmd_register_instance(struct cli *c, int argc, char **argv);
int cmd_ec2_agent_config(struct cli *c, int argc, char **argv);
int cmd_stop(struct cli *c, int argc, char **argv);
int cmd_rollback(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_tls(struct cli *c, int argc, char **argv);

/* The pure parts of two commands, unit-tested: */

/* Does an instance's tag list ([{Key,Value}]) match the group's
 * onPremisesInstanceTagFilters (ANY) or onPremisesTagSet (EVERY group)?
 * A group with neither matches nothing (lib/tagfilter decides). */
bool cli_group_selects(json_t *group_info, json_t *instance_tags);

/* Prints a PlanDeployment answer as `rolloutctl plan` shows it. Returns
 * CLI_EXIT_FAILED (after printing the error to err) when the plan carries an
 * errorInformation other than NO_INSTANCES. */
int cli_plan_print(json_t *plan, FILE *out, FILE *err);

/* True when argv holds -h or --help (before a "--"). */
bool cli_wants_help(int argc, char **argv);
