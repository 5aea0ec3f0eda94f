/* The workflow commands: deploy, wait, logs, plan, register-instance, stop,
 * rollback, status. */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmdutil.h"
#include "util.h"

/* Bundles read from disk or packed are bounded (same as pack.c). */
#define BUNDLE_MAX_BYTES (512u << 20)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (!interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 100;
}

/* Shared option state of the workflow commands. */
struct wopts {
	struct cli *c;
	const char *usage;
	const char *app, *group, *config, *description, *instance, *agent_config, *root_dir, *log_dir;
	const char *daemon_cert, *bundle_type, *file_exists, *iam_user_arn, *access_key_name, *sha256;
	json_t *tags;
	bool wait, follow, local, ignore_stop_failures, no_follow_rollback;
	int auto_rollback; /* -1 unset */
	int timeout_s;
	int interval_ms;
	char err[512];
};

enum {
	W_APP = 2000,
	W_GROUP,
	W_CONFIG,
	W_DESCRIPTION,
	W_INSTANCE,
	W_AGENT_CONFIG,
	W_ROOT_DIR,
	W_LOG_DIR,
	W_DAEMON_CERT,
	W_BUNDLE_TYPE,
	W_FILE_EXISTS,
	W_TAGS,
	W_WAIT,
	W_LOCAL,
	W_IGNORE_STOP,
	W_ROLLBACK,
	W_NO_ROLLBACK,
	W_TIMEOUT,
	W_INTERVAL,
	W_IAM_USER_ARN,
	W_NO_FOLLOW_ROLLBACK,
	W_KEY_NAME,
	W_SHA256,
};

static const struct option wopts_table[] = {
    {"app", required_argument, NULL, W_APP},
    {"application", required_argument, NULL, W_APP},
    {"group", required_argument, NULL, W_GROUP},
    {"config", required_argument, NULL, W_CONFIG},
    {"description", required_argument, NULL, W_DESCRIPTION},
    {"instance", required_argument, NULL, W_INSTANCE},
    {"agent-config", required_argument, NULL, W_AGENT_CONFIG},
    {"root-dir", required_argument, NULL, W_ROOT_DIR},
    {"log-dir", required_argument, NULL, W_LOG_DIR},
    {"daemon-cert", required_argument, NULL, W_DAEMON_CERT},
    {"bundle-type", required_argument, NULL, W_BUNDLE_TYPE},
    {"file-exists", required_argument, NULL, W_FILE_EXISTS},
    {"tags", required_argument, NULL, W_TAGS},
    {"wait", no_argument, NULL, W_WAIT},
    {"local", no_argument, NULL, W_LOCAL},
    {"ignore-stop-failures", no_argument, NULL, W_IGNORE_STOP},
    {"auto-rollback", no_argument, NULL, W_ROLLBACK},
    {"rollback", no_argument, NULL, W_ROLLBACK},
    {"no-auto-rollback", no_argument, NULL, W_NO_ROLLBACK},
    {"no-rollback", no_argument, NULL, W_NO_ROLLBACK},
    {"no-follow-rollback", no_argument, NULL, W_NO_FOLLOW_ROLLBACK},
    {"timeout", required_argument, NULL, W_TIMEOUT},
    {"interval", required_argument, NULL, W_INTERVAL},
    {"iam-user-arn", required_argument, NULL, W_IAM_USER_ARN},
    {"key-name", required_argument, NULL, W_KEY_NAME},
    {"sha256", required_argument, NULL, W_SHA256},
    {"follow", no_argument, NULL, 'f'},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

static int on_wopt(int opt, const char *arg, void *ud)
{
	struct wopts *o = ud;
	int r = 0, secs;

	switch (opt) {
	case W_APP:
		o->app = arg;
		break;
	case W_GROUP:
		o->group = arg;
		break;
	case W_CONFIG:
		o->config = arg;
		break;
	case W_DESCRIPTION:
		o->description = arg;
		break;
	case W_INSTANCE:
		o->instance = arg;
		break;
	case W_AGENT_CONFIG:
		o->agent_config = arg;
		break;
	case W_ROOT_DIR:
		o->root_dir = arg;
		break;
	case W_LOG_DIR:
		o->log_dir = arg;
		break;
	case W_DAEMON_CERT:
		o->daemon_cert = arg;
		break;
	case W_IAM_USER_ARN:
		o->iam_user_arn = arg;
		break;
	case W_KEY_NAME:
		o->access_key_name = arg;
		break;
	case W_SHA256:
		o->sha256 = arg;
		break;
	case W_BUNDLE_TYPE:
		if (strcmp(arg, "zip") && strcmp(arg, "tgz") && strcmp(arg, "tar")) {
			snprintf(o->err, sizeof(o->err), "--bundle-type takes zip, tgz or tar, not '%s'", arg);
			r = -EINVAL;
		}
		o->bundle_type = arg;
		break;
	case W_FILE_EXISTS:
		if (strcmp(arg, "DISALLOW") && strcmp(arg, "OVERWRITE") && strcmp(arg, "RETAIN")) {
			snprintf(o->err, sizeof(o->err), "--file-exists takes DISALLOW, OVERWRITE or RETAIN, not '%s'",
				 arg);
			r = -EINVAL;
		}
		o->file_exists = arg;
		break;
	case W_TAGS:
		r = cli_parse_tags(arg, &o->tags, o->err, sizeof(o->err));
		break;
	case W_WAIT:
		o->wait = true;
		break;
	case 'f':
		o->follow = true;
		break;
	case W_LOCAL:
		o->local = true;
		break;
	case W_IGNORE_STOP:
		o->ignore_stop_failures = true;
		break;
	case W_ROLLBACK:
		o->auto_rollback = 1;
		break;
	case W_NO_ROLLBACK:
		o->auto_rollback = 0;
		break;
	case W_NO_FOLLOW_ROLLBACK:
		o->no_follow_rollback = true;
		break;
	case W_TIMEOUT:
		if (cli_parse_duration(arg, &secs) < 0) {
			snprintf(o->err, sizeof(o->err), "--timeout takes a duration such as 90s, 10m or 1h, not '%s'",
				 arg);
			r = -EINVAL;
		}
		o->timeout_s = secs;
		break;
	case W_INTERVAL: {
		char *end;
		double v = strtod(arg, &end);
		if (end == arg || *end || v < 0.05 || v > 60) {
			snprintf(o->err, sizeof(o->err), "--interval takes seconds between 0.05 and 60, not '%s'", arg);
			r = -EINVAL;
		}
		o->interval_ms = (int)(v * 1000);
		break;
	}
	case 'o':
		if (strcmp(arg, "json") == 0)
			o->c->json = true;
		else if (strcmp(arg, "table") == 0)
			o->c->json = false;
		else {
			snprintf(o->err, sizeof(o->err), "-o takes json or table, not '%s'", arg);
			r = -EINVAL;
		}
		break;
	default:
		snprintf(o->err, sizeof(o->err), "unexpected option");
		r = -EINVAL;
	}
	if (r < 0) {
		cli_usage_error(o->usage, "%s", o->err);
		return -1;
	}
	return 0;
}

static int parse_w(struct cli *c, struct wopts *o, const char *usage, int argc, char **argv, const char **pos,
		   int maxpos, int *ret_exit)
{
	int npos = 0, r;

	memset(o, 0, sizeof(*o));
	o->c = c;
	o->usage = usage;
	o->auto_rollback = -1;
	o->interval_ms = 500;
	r = cli_parse(argc, argv, wopts_table, usage, on_wopt, o, pos, maxpos, &npos);
	if (r != 0) {
		*ret_exit = r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
		json_decref(o->tags);
		o->tags = NULL;
		return -1;
	}
	return npos;
}

#define REQUIRE(cond, ...)                                                                                             \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			ex = cli_usage_error(usage, __VA_ARGS__);                                                      \
			goto out;                                                                                      \
		}                                                                                                      \
	} while (0)

/* ------------------------------------------------------------------- wait */

static bool is_loopback_endpoint(const char *endpoint)
{
	const char *h = strstr(endpoint, "://");

	h = h ? h + 3 : endpoint;
	return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 || strncmp(h, "[::1]", 5) == 0;
}

/* Prints text with every line cut to at most width visible characters
 * (escape sequences and UTF-8 continuation bytes take no room); returns the
 * number of lines. */
static int print_clipped(const char *text, int width, bool color)
{
	int lines = 0;

	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		int vis = 0;
		bool clipped = false;

		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)text[i];
			if (ch == 0x1b) { /* copy the whole CSI sequence */
				size_t j = i + 1;
				while (j < len &&
				       !((text[j] >= 'A' && text[j] <= 'Z') || (text[j] >= 'a' && text[j] <= 'z')))
					j++;
				fwrite(text + i, 1, j < len ? j - i + 1 : len - i, stdout);
				i = j;
				continue;
			}
			if ((ch & 0xC0) != 0x80 && ++vis > width) {
				clipped = true;
				continue;
			}
			if (!clipped)
				putchar(ch);
		}
		if (clipped && color)
			fputs("\033[0m", stdout);
		putchar('\n');
		lines++;
		text += len + (nl ? 1 : 0);
	}
	return lines;
}

/* One poll: deployment info + instance summaries. */
static int poll_once(struct cli *c, const char *id, json_t **ret_info, json_t **ret_summaries)
{
	json_t *resp = NULL, *summaries = NULL;
	int r;

	r = cli_call_new(c, CLI_TARGET_CODEDEPLOY, "GetDeployment", json_pack("{s:s}", "deploymentId", id), &resp);
	if (r < 0)
		return r;
	r = cli_fetch_instances(c, id, &summaries);
	if (r < 0) {
		/* Not started yet: no instances to show. */
		if (r == -EREMOTEIO && strcmp(c->err_type, "DeploymentNotStartedException") == 0) {
			summaries = json_array();
		} else {
			json_decref(resp);
			return r;
		}
	}
	*ret_info = json_incref(json_object_get(resp, "deploymentInfo"));
	json_decref(resp);
	*ret_summaries = summaries;
	return 0;
}

static int wait_one(struct cli *c, const char *id, int timeout_s, int interval_ms, struct progress *ret_p)
{
	struct progress old = {0}, p = {0};
	double start = now_s();
	int lines = 0, r, ex = CLI_EXIT_OK;
	char el[32];
	bool tty = c->tty && !c->json, batch_known = false;
	size_t batch_size = 0;

	for (;;) {
		json_t *info = NULL, *summaries = NULL;

		r = poll_once(c, id, &info, &summaries);
		if (r < 0) {
			ex = cli_report_error(c, "GetDeployment", r);
			goto out;
		}
		progress_update(&p, info, summaries);
		json_decref(info);
		json_decref(summaries);
		if (!batch_known && p.config[0] && p.n > 0) {
			/* The batch size follows from the config and the number of targets. */
			json_t *cr = NULL;
			size_t bs = 0, mh = 0;
			char e[256];
			batch_known = true;
			if (cli_call_new(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentConfig",
					 json_pack("{s:s}", "deploymentConfigName", p.config), &cr) == 0 &&
			    plan_batch_size(json_object_get(cr, "deploymentConfigInfo"), p.n, &bs, &mh, e, sizeof(e)) ==
				0)
				batch_size = bs;
			json_decref(cr);
		}
		p.batch_size = batch_size;
		if (tty) {
			int width = term_width();
			char *s = progress_render_tty(&p, now_s(), width, c->color);
			if (lines > 0)
				printf("\033[%dA\033[J", lines);
			/* Lines must not wrap, or moving up by the line count would not reach the
			 * top of the previous frame. */
			lines = print_clipped(s ? s : "", width - 1, c->color);
			fflush(stdout);
			free(s);
		} else if (!c->json) {
			progress_render_changes(&old, &p, now_s(), stdout);
			fflush(stdout);
		}
		/* keep a copy for the next diff */
		progress_clear(&old);
		old = p;
		old.inst = p.n ? malloc(p.n * sizeof(*p.inst)) : NULL;
		if (old.inst)
			memcpy(old.inst, p.inst, p.n * sizeof(*p.inst));
		else
			old.n = 0;
		if (progress_is_terminal(&p))
			break;
		if (interrupted) {
			fprintf(stderr,
				"\ninterrupted: deployment %s goes on; follow it again with 'rolloutctl wait %s'\n", id,
				id);
			ex = 130;
			goto out;
		}
		if (timeout_s > 0 && now_s() - start > timeout_s) {
			fprintf(stderr,
				"error: deployment %s is still %s after %s (--timeout); it goes on: follow it "
				"with 'rolloutctl wait %s'\n",
				id, p.status, cli_fmt_elapsed(now_s() - start, el, sizeof(el)), id);
			ex = CLI_EXIT_TIMEOUT;
			goto out;
		}
		sleep_ms(interval_ms);
	}
	ex = strcmp(p.status, "Succeeded") == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
out:
	progress_clear(&old);
	*ret_p = p;
	return ex;
}

int cli_wait_deployment(struct cli *c, const char *id, int timeout_s)
{
	struct progress p = {0};
	int ex;

	ex = wait_one(c, id, timeout_s, 500, &p);
	progress_clear(&p);
	return ex;
}

/* Waits, then explains the result; follows an automatic rollback. */
static int wait_and_report(struct cli *c, const char *id, struct wopts *o)
{
	struct progress p = {0};
	char el[32];
	int ex;
	struct sigaction sa = {.sa_handler = on_sigint}, old_sa;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_sa);
	ex = wait_one(c, id, o->timeout_s, o->interval_ms, &p);
	if (ex == CLI_EXIT_OK) {
		if (c->json) {
			json_t *j = json_pack("{s:s, s:s}", "deploymentId", id, "status", p.status);
			cli_print_json(j);
			json_decref(j);
		} else
			printf("deployment %s succeeded in %s\n", id,
			       cli_fmt_elapsed(
				   p.complete_time > 0 && p.create_time > 0 ? p.complete_time - p.create_time : 0, el,
				   sizeof(el)));
	} else if (ex == CLI_EXIT_FAILED) {
		/* With automatic rollback on, the engine creates the rollback right after
		 * failing: give rollbackInfo a moment to show up. */
		if (!p.auto_rollback && p.app[0] && p.group[0]) {
			json_t *g = NULL;
			if (cli_call_new(
				c, CLI_TARGET_CODEDEPLOY, "GetDeploymentGroup",
				json_pack("{s:s, s:s}", "applicationName", p.app, "deploymentGroupName", p.group),
				&g) == 0)
				p.auto_rollback = json_is_true(
				    json_object_get(json_object_get(json_object_get(g, "deploymentGroupInfo"),
								    "autoRollbackConfiguration"),
						    "enabled"));
			json_decref(g);
		}
		for (int i = 0;
		     i < 25 && p.auto_rollback && !p.rollback_id[0] && !o->no_follow_rollback && !interrupted; i++) {
			json_t *resp = NULL;
			sleep_ms(200);
			if (cli_call_new(c, CLI_TARGET_CODEDEPLOY, "GetDeployment",
					 json_pack("{s:s}", "deploymentId", id), &resp) < 0)
				break;
			progress_update(&p, json_object_get(resp, "deploymentInfo"), NULL);
			json_decref(resp);
		}
		progress_print_failure(&p, stderr);
		if (c->json) {
			json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "deploymentId", id, "status", p.status,
					      "errorCode", p.error_code, "errorMessage", p.error_message);
			if (p.rollback_id[0])
				json_object_set_new(j, "rollbackDeploymentId", json_string(p.rollback_id));
			cli_print_json(j);
			json_decref(j);
		}
		if (p.rollback_id[0] && !o->no_follow_rollback && !interrupted) {
			struct progress rp = {0};
			int rex;
			if (!c->json)
				printf("\nautomatic rollback: deployment %s redeploys the last good revision\n",
				       p.rollback_id);
			rex = wait_one(c, p.rollback_id, o->timeout_s, o->interval_ms, &rp);
			if (!c->json) {
				if (rex == CLI_EXIT_OK)
					printf("rollback %s succeeded: the group runs the previous revision again\n",
					       p.rollback_id);
				else if (rex == CLI_EXIT_FAILED)
					progress_print_failure(&rp, stderr);
			}
			progress_clear(&rp);
		}
	}
	sigaction(SIGINT, &old_sa, NULL);
	progress_clear(&p);
	return ex;
}

static const char wait_usage[] =
    "Usage: rolloutctl wait DEPLOYMENT_ID [--timeout DURATION] [--interval SECONDS (0.5)] [--no-follow-rollback]\n"
    "\nFollows a deployment with live progress until it ends. Exit status 0 when it\n"
    "succeeded, 1 when it failed or was stopped (the failing instance, event, script and\n"
    "log tail are printed), 5 on --timeout. An automatic rollback is followed too.\n";

int cmd_wait(struct cli *c, int argc, char **argv)
{
	const char *usage = wait_usage, *pos[1] = {0};
	struct wopts o;
	int ex = 0, n;

	n = parse_w(c, &o, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n == 1, "wait needs the DEPLOYMENT_ID");
	ex = wait_and_report(c, pos[0], &o);
out:
	json_decref(o.tags);
	return ex;
}

/* ----------------------------------------------------------------- deploy */

static const char deploy_usage[] =
    "Usage: rolloutctl deploy --app APP --group GROUP [options] SOURCE\n"
    "\nSOURCE is one of\n"
    "  DIR                  a directory with appspec.yml: packed (zip) and uploaded to rolloutd\n"
    "  FILE.zip|.tgz|.tar   a bundle: uploaded to rolloutd\n"
    "  s3://BUCKET/KEY      a bundle in S3 (?bundleType=zip&version=V&eTag=E)\n"
    "  github:OWNER/REPO@COMMIT\n"
    "  bitbucket:WORKSPACE/REPO@COMMIT   (rolloutd's Bitbucket source; --bundle-type zip|tgz)\n"
    "  https://HOST/PATH#sha256=HEX      (rolloutd's HTTP source; or --sha256 HEX;\n"
    "                                    bundle type from the path, #...&bundleType=T or --bundle-type)\n"
    "\nOptions:\n"
    "  --config NAME          deployment config for this deployment (default: the group's)\n"
    "  --description TEXT\n"
    "  --wait                 follow the deployment live; exit 0 on success, 1 on failure\n"
    "  --timeout DURATION     give up waiting after DURATION (e.g. 10m); exit 5\n"
    "  --bundle-type zip|tgz  how to pack a directory (default zip); the type of a bitbucket: or\n"
    "                         https:// source\n"
    "  --sha256 HEX           the sha256 of the bundle at an http(s):// SOURCE\n"
    "  --local                do not upload: deploy DIR/FILE as a 'Local Directory'/'Local File'\n"
    "                         revision read by the agents from this path (same host only)\n"
    "  --auto-rollback | --no-auto-rollback   override the group's automatic rollback\n"
    "  --ignore-stop-failures ApplicationStop failures do not fail the deployment\n"
    "  --file-exists DISALLOW|OVERWRITE|RETAIN\n"
    "  --interval SECONDS     with --wait, time between polls (default 0.5)\n"
    "  --no-follow-rollback   with --wait, do not follow an automatic rollback\n";

static json_t *local_revision(const char *path, bool dir)
{
	char abs[PATH_MAX];
	const char *bt;

	if (!realpath(path, abs))
		snprintf(abs, sizeof(abs), "%s", path);
	bt = dir ? "directory" : cli_bundle_type_from_name(path);
	return json_pack("{s:s, s:{s:s, s:s}}", "revisionType", dir ? "Local Directory" : "Local File", "localRevision",
			 "location", abs, "bundleType", bt ? bt : "zip");
}

/* Uploads a bundle through POST/PUT /bundles/uploads (docs/api-extensions.md
 * §2) and returns the revision to deploy. */
static int upload_bundle(struct cli *c, const char *app, const void *buf, size_t len, const char *bundle_type,
			 json_t **ret_rev)
{
	char sha[65], path[1024], *app_q = NULL;
	json_t *resp = NULL, *rev;
	size_t off = 0, part;
	const char *id;
	CURL *h = curl_easy_init();
	int r;

	if (!h)
		return -ENOMEM;
	app_q = curl_easy_escape(h, app, 0);
	curl_easy_cleanup(h);
	if (!app_q)
		return -ENOMEM;
	rd_sha256_hex(buf, len, sha);
	snprintf(path, sizeof(path), "/bundles/uploads?applicationName=%s&bundleType=%s&sha256=%s&size=%zu", app_q,
		 bundle_type, sha, len);
	curl_free(app_q);
	r = cli_http(c, "POST", path, NULL, "start upload", "", 0, "application/octet-stream", NULL, &resp);
	if (r < 0)
		return r;
	part = (size_t)rd_json_number(json_object_get(resp, "partSize"));
	if (part == 0)
		part = 1024 * 1024;
	id = rd_json_str_or(resp, "uploadId", NULL);
	while (!json_is_true(json_object_get(resp, "complete"))) {
		size_t n;
		if (!id) {
			snprintf(c->err_msg, sizeof(c->err_msg), "the upload start answered without an uploadId");
			r = -EIO;
			goto out;
		}
		off = (size_t)rd_json_number(json_object_get(resp, "offset"));
		if (off >= len) {
			snprintf(c->err_msg, sizeof(c->err_msg),
				 "upload %s: the daemon expects offset %zu of %zu bytes", id, off, len);
			r = -EIO;
			goto out;
		}
		n = len - off < part ? len - off : part;
		snprintf(path, sizeof(path), "/bundles/uploads/%s?offset=%zu", id, off);
		json_t *next = NULL;
		r = cli_http(c, "PUT", path, NULL, "upload part", (const char *)buf + off, n,
			     "application/octet-stream", NULL, &next);
		if (r < 0)
			goto out;
		/* keep the id alive: it points into resp */
		json_object_set(next, "uploadId", json_object_get(resp, "uploadId"));
		json_decref(resp);
		resp = next;
		id = rd_json_str_or(resp, "uploadId", NULL);
	}
	rev = json_object_get(resp, "revision");
	if (!json_is_object(rev)) {
		snprintf(c->err_msg, sizeof(c->err_msg), "the finished upload has no 'revision' object");
		r = -EIO;
		goto out;
	}
	*ret_rev = json_incref(rev);
	r = 0;
out:
	json_decref(resp);
	return r;
}

/* Turns SOURCE into a RevisionLocation, uploading when needed. */
static int resolve_source(struct cli *c, struct wopts *o, const char *src, json_t **ret_rev)
{
	char err[512];
	struct stat st;
	void *buf = NULL;
	size_t len = 0;
	const char *bt;
	bool dir;
	int r;

	if (cli_is_revision_location(src)) {
		r = cli_parse_revision_ext(src, o->sha256, o->bundle_type, ret_rev, err, sizeof(err));
		if (r < 0)
			fprintf(stderr, "error: %s\n", err);
		return r < 0 ? CLI_EXIT_USAGE : 0;
	}
	if (o->sha256) {
		fprintf(stderr, "error: --sha256 is for http:// and https:// sources only; an uploaded bundle's "
				"hash is computed for you\n");
		return CLI_EXIT_USAGE;
	}
	if (stat(src, &st) < 0) {
		fprintf(stderr,
			"error: %s: %s; SOURCE is a directory, a bundle file, s3://…, github:…, bitbucket:… or "
			"https://…#sha256=…\n",
			src, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	dir = S_ISDIR(st.st_mode);
	if (o->local) {
		*ret_rev = local_revision(src, dir);
		return 0;
	}
	if (dir) {
		bt = o->bundle_type ? o->bundle_type : "zip";
		r = pack_directory(src, bt, &buf, &len, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "error: %s\n", err);
			return CLI_EXIT_FAILED;
		}
		if (!c->json)
			fprintf(stderr, "packed %s into a %zu-byte %s bundle\n", src, len, bt);
	} else {
		bt = o->bundle_type ? o->bundle_type : cli_bundle_type_from_name(src);
		if (!bt || (strcmp(bt, "zip") && strcmp(bt, "tgz") && strcmp(bt, "tar"))) {
			fprintf(stderr,
				"error: cannot tell the bundle type of %s: name it .zip, .tgz or .tar, or pass "
				"--bundle-type\n",
				src);
			return CLI_EXIT_USAGE;
		}
		char *data = NULL;
		r = rd_read_file(src, BUNDLE_MAX_BYTES, &data, &len);
		if (r < 0) {
			fprintf(stderr, "error: cannot read %s: %s\n", src,
				r == -EFBIG ? "larger than 512 MiB" : strerror(-r));
			return CLI_EXIT_CONFIG;
		}
		buf = data;
	}
	r = upload_bundle(c, o->app, buf, len, bt, ret_rev);
	free(buf);
	if (r == -ENOENT || (r == -EREMOTEIO && strcmp(c->err_type, "UnknownOperationException") == 0)) {
		fprintf(stderr,
			"error: rolloutd at %s does not accept bundle uploads (POST /bundles/uploads is not served): "
			"deploy s3://BUCKET/KEY or github:OWNER/REPO@COMMIT instead%s\n",
			c->endpoint,
			is_loopback_endpoint(c->endpoint)
			    ? ", or --local if your rolloutd takes Local Directory revisions"
			    : "");
		return CLI_EXIT_FAILED;
	}
	if (r < 0)
		return cli_report_error(c, "bundle upload", r);
	if (!c->json) {
		char *d = cli_revision_describe(*ret_rev);
		fprintf(stderr, "uploaded %s\n", d ? d : "the bundle");
		free(d);
	}
	return 0;
}

int cmd_deploy(struct cli *c, int argc, char **argv)
{
	const char *usage = deploy_usage, *pos[1] = {0};
	struct wopts o;
	json_t *rev = NULL, *req = NULL, *resp = NULL;
	int ex = 0, n;
	const char *id;

	n = parse_w(c, &o, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	REQUIRE(o.app, "deploy needs --app APP");
	REQUIRE(o.group, "deploy needs --group GROUP");
	REQUIRE(n == 1, "deploy needs a SOURCE: a directory, a bundle file, s3://BUCKET/KEY, github:OWNER/REPO@COMMIT, "
			"bitbucket:WORKSPACE/REPO@COMMIT or https://HOST/PATH#sha256=HEX");
	ex = resolve_source(c, &o, pos[0], &rev);
	if (ex != 0)
		goto out;
	req = json_pack("{s:s, s:s, s:O}", "applicationName", o.app, "deploymentGroupName", o.group, "revision", rev);
	if (o.config)
		json_object_set_new(req, "deploymentConfigName", json_string(o.config));
	if (o.description)
		json_object_set_new(req, "description", json_string(o.description));
	if (o.ignore_stop_failures)
		json_object_set_new(req, "ignoreApplicationStopFailures", json_true());
	if (o.file_exists)
		json_object_set_new(req, "fileExistsBehavior", json_string(o.file_exists));
	if (o.auto_rollback == 1)
		json_object_set_new(req, "autoRollbackConfiguration",
				    json_pack("{s:b, s:[s,s]}", "enabled", 1, "events", "DEPLOYMENT_FAILURE",
					      "DEPLOYMENT_STOP_ON_REQUEST"));
	else if (o.auto_rollback == 0)
		json_object_set_new(req, "autoRollbackConfiguration", json_pack("{s:b, s:[]}", "enabled", 0, "events"));
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "CreateDeployment", req, &resp);
	req = NULL;
	if (ex != 0)
		goto out;
	id = rd_json_str_or(resp, "deploymentId", NULL);
	if (!id) {
		fprintf(stderr, "error: CreateDeployment answered without a deploymentId\n");
		ex = CLI_EXIT_NETWORK;
		goto out;
	}
	if (!o.wait) {
		if (c->json)
			cli_print_json(resp);
		else
			printf("deployment %s created; follow it with: rolloutctl wait %s\n", id, id);
		goto out;
	}
	if (!c->json)
		printf("deployment %s created\n", id);
	ex = wait_and_report(c, id, &o);
out:
	json_decref(rev);
	json_decref(req);
	json_decref(resp);
	json_decref(o.tags);
	return ex;
}

/* ------------------------------------------------------------------- logs */

static const char logs_usage[] = "Usage: rolloutctl logs DEPLOYMENT_ID [--instance NAME] [-f]\n"
				 "\nPrints the output of the lifecycle hook scripts of a deployment, per instance and\n"
				 "event. -f follows it live until the deployment ends.\n";

/* Prints a block of log text with a prefix per line. */
static void print_prefixed(const char *prefix, const char *text)
{
	while (text && *text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		printf("%s%.*s\n", prefix, (int)len, text);
		text += len + (nl ? 1 : 0);
	}
}

/* Fallback when the daemon has no log operation: diagnostics of each event. */
static int logs_from_diagnostics(struct cli *c, const char *id, const char *instance, bool follow, int interval_ms)
{
	json_t *seen = json_object();
	int ex = CLI_EXIT_OK, r;

	for (;;) {
		json_t *summaries = NULL, *info = NULL, *s;
		size_t i;
		bool terminal;

		r = poll_once(c, id, &info, &summaries);
		if (r < 0) {
			ex = cli_report_error(c, "GetDeployment", r);
			break;
		}
		terminal = strcmp(rd_json_str_or(info, "status", ""), "Succeeded") == 0 ||
			   strcmp(rd_json_str_or(info, "status", ""), "Failed") == 0 ||
			   strcmp(rd_json_str_or(info, "status", ""), "Stopped") == 0;
		json_array_foreach(summaries, i, s)
		{
			const char *iid = rd_json_str_or(s, "instanceId", rd_json_str_or(s, "targetId", "?"));
			const char *slash = strncmp(iid, "arn:", 4) == 0 ? strrchr(iid, '/') : NULL;
			const char *name = slash ? slash + 1 : iid;
			size_t k;
			json_t *ev;

			if (instance && strcmp(name, instance) != 0 && strcmp(iid, instance) != 0)
				continue;
			json_array_foreach(json_object_get(s, "lifecycleEvents"), k, ev)
			{
				const char *evn = rd_json_str_or(ev, "lifecycleEventName", "?");
				const char *st = rd_json_str_or(ev, "status", "Pending");
				json_t *diag = json_object_get(ev, "diagnostics");
				const char *tail = rd_json_str_or(diag, "logTail", "");
				const char *msg = rd_json_str_or(diag, "message", "");
				char key[600], prefix[400];

				if (!strcmp(st, "Pending") || !strcmp(st, "InProgress") || !strcmp(st, "Unknown"))
					continue;
				snprintf(key, sizeof(key), "%s/%s", name, evn);
				if (json_object_get(seen, key))
					continue;
				json_object_set_new(seen, key, json_true());
				if (c->json) {
					json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "instanceId", name,
							      "lifecycleEventName", evn, "status", st, "message", msg,
							      "logTail", tail);
					char *line = json_dumps(j, JSON_COMPACT);
					printf("%s\n", line ? line : "{}");
					free(line);
					json_decref(j);
					continue;
				}
				snprintf(prefix, sizeof(prefix), "%s %s | ", name, evn);
				if (!*tail && !*msg && !strcmp(st, "Skipped"))
					continue;
				printf("%s%s%s\n", prefix, st, *msg ? ": " : "");
				if (*msg && strcmp(msg, "Succeeded: ") != 0)
					print_prefixed(prefix, msg);
				print_prefixed(prefix, tail);
			}
		}
		fflush(stdout);
		json_decref(summaries);
		json_decref(info);
		if (!follow || terminal || interrupted)
			break;
		sleep_ms(interval_ms);
	}
	json_decref(seen);
	return ex;
}

int cmd_logs(struct cli *c, int argc, char **argv)
{
	const char *usage = logs_usage, *pos[1] = {0};
	struct wopts o;
	json_t *token = NULL;
	int ex = 0, n, r;
	bool got_any = false, printed_any = false;
	struct sigaction sa = {.sa_handler = on_sigint}, old_sa;

	n = parse_w(c, &o, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n == 1, "logs needs the DEPLOYMENT_ID");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_sa);
	for (;;) {
		json_t *req = json_pack("{s:s}", "DeploymentId", pos[0]), *resp = NULL, *items, *it;
		size_t i;

		if (o.instance)
			json_object_set_new(req, "InstanceId", json_string(o.instance));
		if (token)
			json_object_set(req, "NextToken", token);
		r = cli_call(c, CLI_TARGET_ROLLOUTD, "GetDeploymentLogs", req, &resp);
		json_decref(req);
		if (r == -EREMOTEIO && !got_any && strcmp(c->err_type, "UnknownOperationException") == 0) {
			/* Older daemon: the log tails in the lifecycle diagnostics are all there is. */
			ex = logs_from_diagnostics(c, pos[0], o.instance, o.follow, o.interval_ms);
			goto done;
		}
		if (r < 0) {
			ex = cli_report_error(c, "GetDeploymentLogs", r);
			goto done;
		}
		got_any = true;
		items = json_object_get(resp, "Logs");
		if (json_array_size(items) > 0)
			printed_any = true;
		json_array_foreach(items, i, it)
		{
			if (c->json) {
				char *line = json_dumps(it, JSON_COMPACT);
				printf("%s\n", line ? line : "{}");
				free(line);
			} else {
				char prefix[400];
				snprintf(prefix, sizeof(prefix), "%s %s | ", rd_json_str_or(it, "InstanceId", "?"),
					 rd_json_str_or(it, "LifecycleEventName", "?"));
				print_prefixed(prefix, rd_json_str_or(it, "Data", ""));
			}
		}
		fflush(stdout);
		json_t *next = json_object_get(resp, "NextToken");
		bool complete = json_is_true(json_object_get(resp, "DeploymentComplete"));
		if (json_is_string(next) && json_string_length(next) > 0) {
			json_decref(token);
			token = json_incref(next);
		}
		json_decref(resp);
		if (json_array_size(items) > 0 && json_is_string(next))
			continue; /* more pages right away */
		if (!o.follow || complete || interrupted)
			break;
		sleep_ms(o.interval_ms);
	}
	if (ex == 0 && !printed_any && !c->json)
		fprintf(stderr, "no hook output stored for %s%s%s yet\n", pos[0], o.instance ? " on " : "",
			o.instance ? o.instance : "");
done:
	sigaction(SIGINT, &old_sa, NULL);
out:
	json_decref(token);
	json_decref(o.tags);
	return ex;
}

/* ------------------------------------------------------------------- plan */

static const char plan_usage[] = "Usage: rolloutctl plan --app APP --group GROUP [--config CONFIG]\n"
				 "\nShows which instances a deployment to GROUP would reach, in which batches and in\n"
				 "which order, and why, without deploying anything.\n";

/* Names of the instances that failed in the group's last attempted deployment. */
static json_t *failed_instances(struct cli *c, json_t *group_info)
{
	json_t *la = json_object_get(group_info, "lastAttemptedDeployment"), *out = json_array(), *sums = NULL;
	const char *id = rd_json_str_or(la, "deploymentId", NULL);
	struct progress p = {0};

	if (!id || strcmp(rd_json_str_or(la, "status", ""), "Succeeded") == 0)
		return out;
	if (cli_fetch_instances(c, id, &sums) < 0)
		return out;
	progress_update(&p, NULL, sums);
	for (size_t i = 0; i < p.n; i++)
		if (strcmp(p.inst[i].status, "Failed") == 0)
			json_array_append_new(out, json_string(p.inst[i].id));
	progress_clear(&p);
	json_decref(sums);
	return out;
}

int cmd_plan(struct cli *c, int argc, char **argv)
{
	const char *usage = plan_usage, *pos[1] = {0};
	struct wopts o;
	json_t *gresp = NULL, *cresp = NULL, *infos = NULL, *failed = NULL, *plan = NULL, *group, *config;
	int ex = 0, n, r;
	char err[512];
	const char *cfg;

	n = parse_w(c, &o, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	if (n == 1 && !o.group)
		o.group = pos[0];
	REQUIRE(o.app, "plan needs --app APP");
	REQUIRE(o.group, "plan needs --group GROUP");
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentGroup",
			     json_pack("{s:s, s:s}", "applicationName", o.app, "deploymentGroupName", o.group), &gresp);
	if (ex != 0)
		goto out;
	group = json_object_get(gresp, "deploymentGroupInfo");
	cfg = o.config ? o.config : rd_json_str_or(group, "deploymentConfigName", "CodeDeployDefault.OneAtATime");
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentConfig",
			     json_pack("{s:s}", "deploymentConfigName", cfg), &cresp);
	if (ex != 0)
		goto out;
	config = json_object_get(cresp, "deploymentConfigInfo");
	r = cli_fetch_onprem(c, NULL, "Registered", &infos);
	if (r < 0) {
		ex = cli_report_error(c, "ListOnPremisesInstances", r);
		goto out;
	}
	failed = failed_instances(c, group);
	r = plan_compute(group, config, infos, failed, &plan, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "error: %s\n", err);
		ex = CLI_EXIT_FAILED;
		goto out;
	}
	json_object_set_new(plan, "applicationName", json_string(o.app));
	json_object_set_new(plan, "deploymentGroupName", json_string(o.group));
	if (c->json) {
		cli_print_json(plan);
		goto out;
	}
	{
		json_t *mhh = json_object_get(config, "minimumHealthyHosts"), *b, *x;
		size_t i, k, nt = json_array_size(json_object_get(plan, "targets"));
		long long bs = (long long)rd_json_number(json_object_get(plan, "batchSize"));
		long long mh = (long long)rd_json_number(json_object_get(plan, "minimumHealthy"));

		printf("Plan for %s/%s with %s (minimum healthy hosts: %s %lld)\n", o.app, o.group, cfg,
		       rd_json_str_or(mhh, "type", "?"), (long long)rd_json_number(json_object_get(mhh, "value")));
		if (nt == 0) {
			printf("  no registered instance matches the group's tag filters: a deployment would fail with "
			       "NO_INSTANCES\n");
		} else {
			printf("  %zu target instance%s, %lld at a time; at least %lld must stay healthy\n", nt,
			       nt == 1 ? "" : "s", bs, mh);
			json_array_foreach(json_object_get(plan, "batches"), i, b)
			{
				printf("  batch %zu:", i + 1);
				json_array_foreach(b, k, x) printf(" %s", json_string_value(x));
				putchar('\n');
			}
			json_array_foreach(json_object_get(plan, "failedFirst"), i, x)
			    printf("  %s goes first: it failed in the group's last deployment\n", json_string_value(x));
		}
		if (json_array_size(json_object_get(plan, "excluded")) > 0) {
			printf("Not targeted:\n");
			json_array_foreach(json_object_get(plan, "excluded"), i, x)
			    printf("  %s: %s\n", rd_json_str_or(x, "instance", "?"), rd_json_str_or(x, "reason", ""));
		}
	}
out:
	json_decref(gresp);
	json_decref(cresp);
	json_decref(infos);
	json_decref(failed);
	json_decref(plan);
	json_decref(o.tags);
	return ex;
}

/* ------------------------------------------------------- register-instance */

static const char register_usage[] =
    "Usage: rolloutctl register-instance NAME --agent-config FILE [--tags k=v,…]\n"
    "                                    [--root-dir DIR] [--log-dir DIR] [--daemon-cert FILE]\n"
    "                                    [--iam-user-arn ARN] [--key-name NAME]\n"
    "\nRegisters an on-premises instance, tags it, creates its agent access key (policy\n"
    "'agent', bound to the instance) and writes a ready rollout-agent config to FILE\n"
    "(mode 0600). Start the agent on that host with: rollout-agent --config FILE\n"
    "\n  --root-dir DIR      the agent's deployment root (default /var/lib/rollout-agent/deployment-root)\n"
    "  --log-dir DIR       the agent's log directory (default /var/log/rollout-agent)\n"
    "  --daemon-cert FILE  rolloutd's certificate (data_dir/daemon.crt) the agent pins\n";

int cmd_register_instance(struct cli *c, int argc, char **argv)
{
	const char *usage = register_usage, *pos[1] = {0};
	struct wopts o;
	json_t *req, *kresp = NULL, *iresp = NULL;
	char *arn = NULL, *yaml = NULL, *cert = NULL, *keyname = NULL;
	int ex = 0, n, r;
	bool registered = false;

	n = parse_w(c, &o, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n == 1, "register-instance needs the instance NAME");
	REQUIRE(o.agent_config, "register-instance needs --agent-config FILE (where to write the agent's config)");
	if (o.daemon_cert) {
		cert = realpath(o.daemon_cert, NULL);
		REQUIRE(cert, "--daemon-cert %s: %s", o.daemon_cert, strerror(errno));
	}
	arn = o.iam_user_arn ? strdup(o.iam_user_arn) : cli_default_iam_arn(pos[0]);
	req = json_pack("{s:s, s:s}", "instanceName", pos[0], "iamUserArn", arn);
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "RegisterOnPremisesInstance", req, NULL);
	if (ex != 0)
		goto out;
	registered = true;
	if (o.tags) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "AddTagsToOnPremisesInstances",
				     json_pack("{s:O, s:[s]}", "tags", o.tags, "instanceNames", pos[0]), NULL);
		if (ex != 0)
			goto out;
	}
	if (asprintf(&keyname, "agent-%s", pos[0]) < 0) {
		ex = CLI_EXIT_FAILED;
		goto out;
	}
	ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "CreateAccessKey",
			     json_pack("{s:s, s:s, s:s}", "Name", o.access_key_name ? o.access_key_name : keyname,
				       "Policy", "agent", "InstanceName", pos[0]),
			     &kresp);
	if (ex != 0)
		goto out;
	/* The identifier the agent sends is the IAM ARN rolloutd stored for the instance. */
	if (cli_call_new(c, CLI_TARGET_CODEDEPLOY, "GetOnPremisesInstance", json_pack("{s:s}", "instanceName", pos[0]),
			 &iresp) == 0) {
		json_t *ii = json_object_get(iresp, "instanceInfo");
		const char *stored = rd_json_str_or(ii, "iamUserArn", rd_json_str_or(ii, "iamSessionArn", NULL));
		if (stored) {
			free(arn);
			arn = strdup(stored);
		}
	}
	{
		struct agent_config ac = {
		    .endpoint = c->endpoint,
		    .host_identifier = arn,
		    .access_key_id = cli_key_field(kresp, "AccessKeyId"),
		    .secret_access_key = cli_key_field(kresp, "SecretAccessKey"),
		    .region = c->region,
		    .root_dir = o.root_dir ? o.root_dir : "/var/lib/rollout-agent/deployment-root",
		    .log_dir = o.log_dir ? o.log_dir : "/var/log/rollout-agent",
		    .daemon_cert = cert,
		};
		if (!ac.access_key_id || !ac.secret_access_key) {
			fprintf(stderr, "error: CreateAccessKey answered without AccessKeyId/SecretAccessKey\n");
			ex = CLI_EXIT_NETWORK;
			goto out;
		}
		yaml = agent_config_render(&ac);
		r = yaml ? rd_write_file_atomic(o.agent_config, yaml, strlen(yaml), 0600) : -ENOMEM;
		if (r < 0) {
			fprintf(stderr,
				"error: cannot write %s: %s; the instance is registered and key %s exists: "
				"fix the path and run 'rolloutctl instance deregister %s' and "
				"'rolloutctl access-key delete %s' before trying again\n",
				o.agent_config, strerror(-r), ac.access_key_id, pos[0], ac.access_key_id);
			ex = CLI_EXIT_CONFIG;
			goto out;
		}
		if (c->json) {
			json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "instanceName", pos[0], "hostIdentifier", arn,
					      "accessKeyId", ac.access_key_id, "agentConfig", o.agent_config);
			cli_print_json(j);
			json_decref(j);
		} else {
			printf("instance %s registered (%s)\n", pos[0], arn);
			printf("agent key %s created; agent config written to %s (mode 0600)\n", ac.access_key_id,
			       o.agent_config);
			printf("start the agent on that host: rollout-agent --config %s\n", o.agent_config);
		}
		if (!cert)
			fprintf(stderr,
				"note: no --daemon-cert: copy rolloutd's data_dir/daemon.crt to the host and add "
				"'daemon_cert: PATH' to %s; the agent verifies deployment specifications with it and "
				"does not start without it\n",
				o.agent_config);
	}
out:
	if (ex != 0 && registered && ex != CLI_EXIT_USAGE)
		fprintf(stderr,
			"note: instance %s stays registered; remove it with 'rolloutctl instance deregister %s'\n",
			pos[0], pos[0]);
	free(arn);
	free(yaml);
	free(cert);
	free(keyname);
	json_decref(kresp);
	json_decref(iresp);
	json_decref(o.tags);
	return ex;
}

/* ------------------------------------------------------------------- stop */

static const char stop_usage[] =
    "Usage: rolloutctl stop DEPLOYMENT_ID [--rollback|--no-rollback] [--wait]\n"
    "\nStops a running deployment. --rollback redeploys the last good revision afterwards\n"
    "(default: the group's automatic-rollback setting).\n";

int cmd_stop(struct cli *c, int argc, char **argv)
{
	const char *usage = stop_usage, *pos[1] = {0};
	struct wopts o;
	json_t *req, *resp = NULL;
	int ex = 0, n;

	n = parse_w(c, &o, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n == 1, "stop needs the DEPLOYMENT_ID");
	req = json_pack("{s:s}", "deploymentId", pos[0]);
	if (o.auto_rollback >= 0)
		json_object_set_new(req, "autoRollbackEnabled", json_boolean(o.auto_rollback));
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "StopDeployment", req, &resp);
	if (ex != 0)
		goto out;
	if (c->json && !o.wait)
		cli_print_json(resp);
	else if (!c->json)
		printf("stop of %s: %s%s%s\n", pos[0], rd_json_str_or(resp, "status", "?"),
		       rd_json_str_or(resp, "statusMessage", NULL) ? " - " : "",
		       rd_json_str_or(resp, "statusMessage", ""));
	if (o.wait) {
		ex = wait_and_report(c, pos[0], &o);
		/* A stop that took effect is what the user asked for. */
		if (ex == CLI_EXIT_FAILED)
			ex = CLI_EXIT_OK;
	}
out:
	json_decref(resp);
	json_decref(o.tags);
	return ex;
}

/* --------------------------------------------------------------- rollback */

static const char rollback_usage[] =
    "Usage: rolloutctl rollback --app APP --group GROUP [--wait] [--timeout DURATION]\n"
    "\nRedeploys the newest revision that deployed successfully to GROUP before the\n"
    "current one.\n";

int cmd_rollback(struct cli *c, int argc, char **argv)
{
	const char *usage = rollback_usage, *pos[1] = {0};
	struct wopts o;
	json_t *gresp = NULL, *infos = NULL, *current = NULL, *pick = NULL, *req, *resp = NULL, *info;
	int ex = 0, n, r;
	size_t i;
	char *desc = NULL, *revs = NULL;

	n = parse_w(c, &o, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n == 0, "rollback takes no positional argument");
	REQUIRE(o.app && o.group, "rollback needs --app APP and --group GROUP");
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentGroup",
			     json_pack("{s:s, s:s}", "applicationName", o.app, "deploymentGroupName", o.group), &gresp);
	if (ex != 0)
		goto out;
	r = cli_fetch_deployments(c, o.app, o.group, NULL, 0, &infos);
	if (r < 0) {
		ex = cli_report_error(c, "ListDeployments", r);
		goto out;
	}
	/* The current revision: what the newest deployment (any status) tried to install. */
	current = json_object_get(json_object_get(gresp, "deploymentGroupInfo"), "targetRevision");
	if (!current && json_array_size(infos) > 0)
		current = json_object_get(json_array_get(infos, 0), "revision");
	json_array_foreach(infos, i, info)
	{
		json_t *rv = json_object_get(info, "revision");
		if (strcmp(rd_json_str_or(info, "status", ""), "Succeeded") != 0 || !rv)
			continue;
		if (current && json_equal(rv, current))
			continue;
		pick = info;
		break;
	}
	if (!pick) {
		fprintf(stderr,
			"error: %s/%s has no successful deployment of a revision other than the current one: "
			"nothing to roll back to\n",
			o.app, o.group);
		ex = CLI_EXIT_FAILED;
		goto out;
	}
	revs = cli_revision_describe(json_object_get(pick, "revision"));
	if (asprintf(&desc, "rollback to %s (deployed by %s) via rolloutctl", revs,
		     rd_json_str_or(pick, "deploymentId", "?")) < 0)
		desc = NULL;
	req = json_pack("{s:s, s:s, s:O}", "applicationName", o.app, "deploymentGroupName", o.group, "revision",
			json_object_get(pick, "revision"));
	if (desc)
		json_object_set_new(req, "description", json_string(desc));
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "CreateDeployment", req, &resp);
	if (ex != 0)
		goto out;
	if (!c->json)
		printf("deployment %s rolls %s/%s back to %s (last deployed by %s)\n",
		       rd_json_str_or(resp, "deploymentId", "?"), o.app, o.group, revs,
		       rd_json_str_or(pick, "deploymentId", "?"));
	if (o.wait)
		ex = wait_and_report(c, rd_json_str_or(resp, "deploymentId", "?"), &o);
	else if (c->json)
		cli_print_json(resp);
out:
	free(desc);
	free(revs);
	json_decref(gresp);
	json_decref(infos);
	json_decref(resp);
	json_decref(o.tags);
	return ex;
}

/* ----------------------------------------------------------------- status */

static const char status_usage[] = "Usage: rolloutctl status --app APP --group GROUP\n"
				   "\nShows which revision each instance of GROUP runs (its newest successful\n"
				   "deployment) and how its last deployment attempt went.\n";

int cmd_status(struct cli *c, int argc, char **argv)
{
	const char *usage = status_usage, *pos[1] = {0};
	struct wopts o;
	json_t *gresp = NULL, *infos = NULL, *rows = json_object(), *onprem = NULL, *info;
	int ex = 0, n, r;
	size_t i;

	n = parse_w(c, &o, usage, argc, argv, pos, 1, &ex);
	if (n < 0) {
		json_decref(rows);
		return ex;
	}
	if (n == 1 && !o.group)
		o.group = pos[0];
	REQUIRE(o.app && o.group, "status needs --app APP and --group GROUP");
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentGroup",
			     json_pack("{s:s, s:s}", "applicationName", o.app, "deploymentGroupName", o.group), &gresp);
	if (ex != 0)
		goto out;
	/* Instances that are targets now, even if nothing was deployed to them yet. */
	if (cli_fetch_onprem(c, NULL, "Registered", &onprem) == 0) {
		json_array_foreach(onprem, i, info)
		{
			const char *name = rd_json_str_or(info, "instanceName", NULL);
			if (name && plan_instance_matches(json_object_get(gresp, "deploymentGroupInfo"),
							  json_object_get(info, "tags")))
				json_object_set_new(rows, name, json_pack("{s:s}", "instanceName", name));
		}
	}
	r = cli_fetch_deployments(c, o.app, o.group, NULL, 25, &infos);
	if (r < 0) {
		ex = cli_report_error(c, "ListDeployments", r);
		goto out;
	}
	json_array_foreach(infos, i, info)
	{
		const char *id = rd_json_str_or(info, "deploymentId", "?");
		json_t *sums = NULL;
		struct progress p = {0};

		if (cli_fetch_instances(c, id, &sums) < 0)
			continue;
		progress_update(&p, NULL, sums);
		for (size_t k = 0; k < p.n; k++) {
			json_t *row = json_object_get(rows, p.inst[k].id);
			if (!row) {
				row = json_pack("{s:s}", "instanceName", p.inst[k].id);
				json_object_set_new(rows, p.inst[k].id, row);
			}
			if (!json_object_get(row, "lastAttempt"))
				json_object_set_new(
				    row, "lastAttempt",
				    json_pack("{s:s, s:s}", "deploymentId", id, "status", p.inst[k].status));
			if (!json_object_get(row, "revision") && strcmp(p.inst[k].status, "Succeeded") == 0) {
				json_object_set(row, "revision", json_object_get(info, "revision"));
				json_object_set_new(row, "deploymentId", json_string(id));
				json_object_set(row, "deployedAt", json_object_get(info, "completeTime"));
			}
		}
		progress_clear(&p);
		json_decref(sums);
	}
	if (c->json) {
		json_t *arr = json_array(), *v;
		const char *k;
		json_object_foreach(rows, k, v) json_array_append(arr, v);
		json_t *j = json_pack("{s:s, s:s, s:o}", "applicationName", o.app, "deploymentGroupName", o.group,
				      "instances", arr);
		cli_print_json(j);
		json_decref(j);
		goto out;
	}
	{
		static const char *const cols[] = {"instance", "revision", "deployed by", "deployed at",
						   "last attempt"};
		struct table *t = table_new(5, cols);
		const char *k;
		json_t *v;
		json_object_foreach(rows, k, v)
		{
			char *rev = json_object_get(v, "revision")
					? cli_revision_describe(json_object_get(v, "revision"))
					: strdup("(none yet)");
			json_t *la = json_object_get(v, "lastAttempt");
			char last[200], tb[64];
			if (la)
				snprintf(last, sizeof(last), "%s %s", rd_json_str_or(la, "deploymentId", "?"),
					 rd_json_str_or(la, "status", ""));
			else
				snprintf(last, sizeof(last), "-");
			table_add_rowv(t, k, rev, rd_json_str_or(v, "deploymentId", "-"),
				       cli_fmt_time(json_object_get(v, "deployedAt"), tb, sizeof(tb)), last);
			free(rev);
		}
		if (table_rows(t) == 0)
			printf("no instance matches %s/%s and nothing was deployed to it yet\n", o.app, o.group);
		else
			table_print(t, stdout);
		table_free(t);
	}
out:
	json_decref(gresp);
	json_decref(infos);
	json_decref(rows);
	json_decref(onprem);
	json_decref(o.tags);
	return ex;
}
