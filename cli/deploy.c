/* rolloutctl deploy: turns a source (a directory or bundle, uploaded to
 * rolloutd, or a revision location) into a deployment, and follows it with
 * --wait. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmdutil.h"
#include "cryptoutil.h"
#include "httpclient.h"
#include "util.h"
#include "wait.h"

/* Bundles read from disk or packed are bounded (same as pack.c). */
#define BUNDLE_MAX_BYTES (512u << 20)

static bool is_loopback_endpoint(const char *endpoint)
{
	const char *h = strstr(endpoint, "://");

	h = h ? h + 3 : endpoint;
	return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 || strncmp(h, "[::1]", 5) == 0;
}

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
	int r;

	app_q = http_url_escape(app);
	if (!app_q)
		return -ENOMEM;
	rd_sha256_hex(buf, len, sha);
	snprintf(path, sizeof(path), "/bundles/uploads?applicationName=%s&bundleType=%s&sha256=%s&size=%zu", app_q,
		 bundle_type, sha, len);
	free(app_q);
	r = cli_http(c, "POST", path, NULL, "start upload", "", 0, "application/octet-stream", NULL, &resp);
	if (r < 0)
		return r;
	part = (size_t)rd_json_number(json_object_get(resp, "partSize"));
	if (part == 0)
		part = 1024 * 1024;
	id = rd_json_str(resp, "uploadId");
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
		id = rd_json_str(resp, "uploadId");
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
static int resolve_source(struct cli *c, const struct cli_opts *o, const char *src, json_t **ret_rev)
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
	struct cli_opts o;
	json_t *rev = NULL, *req = NULL, *resp = NULL;
	int ex = 0, n;
	const char *id;

	n = cli_opts_parse(c, &o, cli_workflow_options, usage, argc, argv, pos, 1, &ex);
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
	if (o.auto_rollback >= 0)
		json_object_set_new(req, "autoRollbackConfiguration", cli_opts_auto_rollback(&o));
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "CreateDeployment", req, &resp);
	req = NULL;
	if (ex != 0)
		goto out;
	id = rd_json_str(resp, "deploymentId");
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
	ex = cli_wait_and_report(c, id, &o);
out:
	json_decref(rev);
	json_decref(req);
	json_decref(resp);
	cli_opts_free(&o);
	return ex;
}
