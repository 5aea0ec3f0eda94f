/* bitbucket: the source plugin for Bitbucket revisions (a rolloutd
 * extension of RevisionLocation, docs/api-extensions.md §1.2):
 *
 *   {"revisionType": "Bitbucket", "bitbucketLocation": {"repository":
 *    "workspace/repo_slug" (Cloud) or "PROJECT/repo_slug" (Server),
 *    "commitId": "<hash>", "bundleType": "zip" | "tgz"}}
 *
 * Bitbucket Cloud: GET <url>/<workspace>/<repo_slug>/get/<commit>.{zip,tar.gz}
 *   (the archive has one top-level folder workspace-repo-<short hash>/).
 * Bitbucket Server / Data Center: GET <url>/rest/api/latest/projects/<PROJECT>/
 *   repos/<repo_slug>/archive?at=<commit>&format={zip,tgz}.
 *
 * Settings (plugins.bitbucket), all optional:
 *   url            default https://bitbucket.org; a Server's base URL
 *   server         true for Bitbucket Server / Data Center (default false)
 *   token          sent as "Authorization: Bearer" (Cloud repository/workspace
 *                  access tokens, Server HTTP access tokens)
 *   username, app_password   Basic authentication instead (Cloud app passwords)
 *   timeout        whole download (default 30m)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <rollout/plugin.h>

#include "srcutil.h"

struct bitbucket {
	const struct rollout_host *host;
	struct rollout_handle *h;
	const char *url;
	bool server;
	const char *token;
	const char *username;
	const char *app_password;
	int64_t timeout_ms;
	char base[1024];
	char auth[1200];
};

static const struct rollout_option bitbucket_options[] = {
    {.name = "url",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct bitbucket, url),
     .def = "https://bitbucket.org"},
    {.name = "server", .type = ROLLOUT_OPT_BOOL, .offset = offsetof(struct bitbucket, server), .def = "false"},
    {.name = "token", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct bitbucket, token)},
    {.name = "username", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct bitbucket, username)},
    {.name = "app_password", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct bitbucket, app_password)},
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct bitbucket, timeout_ms),
     .min = 1000,
     .max = 24LL * 3600 * 1000,
     .def = "30m"},
    ROLLOUT_OPTION_END,
};

static int bitbucket_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
			  size_t errlen)
{
	struct bitbucket *b;
	int r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->host = host;
	b->h = h;
	r = rollout_config_parse(host, h, bitbucket_options, b, err, errlen);
	if (r < 0)
		goto fail;
	if ((strncmp(b->url, "http://", 7) && strncmp(b->url, "https://", 8)) ||
	    src_strip_slash(b->url, b->base, sizeof(b->base)) < 0) {
		snprintf(err, errlen,
			 "plugins.bitbucket.url: '%s' must be an http(s) URL such as https://bitbucket.org", b->url);
		r = -EINVAL;
		goto fail;
	}
	if (!b->username != !b->app_password) {
		snprintf(err, errlen, "plugins.bitbucket: set both username and app_password, or neither");
		r = -EINVAL;
		goto fail;
	}
	if (b->token && b->username) {
		snprintf(err, errlen, "plugins.bitbucket: set either token or username/app_password, not both");
		r = -EINVAL;
		goto fail;
	}
	if (b->token && *b->token) {
		snprintf(b->auth, sizeof(b->auth), "Authorization: Bearer %s", b->token);
	} else if (b->username) {
		char plain[512];
		unsigned char enc[700];
		int n = snprintf(plain, sizeof(plain), "%s:%s", b->username, b->app_password);
		if (n < 0 || (size_t)n >= sizeof(plain)) {
			snprintf(err, errlen, "plugins.bitbucket: username/app_password are too long");
			r = -EINVAL;
			goto fail;
		}
		EVP_EncodeBlock(enc, (const unsigned char *)plain, n);
		snprintf(b->auth, sizeof(b->auth), "Authorization: Basic %s", enc);
	}
	*ret_state = b;
	return 0;
fail:
	free(b);
	return r;
}

static void bitbucket_destroy(void *state)
{
	free(state);
}

static bool valid_part(const char *s, size_t n)
{
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_' || s[i] == '.' || s[i] == '~'))
			return false;
	return true;
}

/* A full commit id names one content: fetched once. */
static int bitbucket_describe(void *state, const char *revision_json, struct rollout_revision_info *ret,
			      struct rollout_error *err)
{
	json_t *rev = json_loads(revision_json, 0, NULL), *loc = json_object_get(rev, "bitbucketLocation");
	const char *repo = json_string_value(json_object_get(loc, "repository"));
	const char *commit = json_string_value(json_object_get(loc, "commitId"));
	int r = 0;

	if (!repo || !commit || !strchr(repo, '/'))
		r = rollout_error_set(err, -EINVAL, "INVALID_REVISION",
				      "a Bitbucket revision needs bitbucketLocation with repository "
				      "(workspace/repo_slug) and commitId");
	else
		ret->pinned = src_full_commit(commit);
	json_decref(rev);
	return r;
}

static int bitbucket_fetch(void *state, const struct rollout_deployment *dep, const char *revision_json,
			   const char *dest_path, int64_t timeout_ms, struct rollout_fetch_result *res,
			   struct rollout_error *err)
{
	struct bitbucket *b = state;
	const struct rollout_host *host = b->host;
	struct rollout_http_response *resp = NULL;
	const char *repo, *commit, *type, *slash;
	char url[2048], body[2048], msg[300], herr[512] = "", owner[130];
	const char *headers[3];
	json_t *rev, *loc;
	long status;
	int r, nh = 0;

	rev = json_loads(revision_json, 0, NULL);
	loc = json_object_get(rev, "bitbucketLocation");
	repo = json_string_value(json_object_get(loc, "repository"));
	commit = json_string_value(json_object_get(loc, "commitId"));
	type = json_string_value(json_object_get(loc, "bundleType"));
	if (!type)
		type = "zip";
	slash = repo ? strchr(repo, '/') : NULL;
	if (!slash || !valid_part(repo, (size_t)(slash - repo)) || !valid_part(slash + 1, strlen(slash + 1))) {
		r = rollout_error_set(
		    err, -EINVAL, "INVALID_REVISION",
		    "bitbucketLocation.repository must be 'workspace/repo_slug' (or 'PROJECT/repo_slug' "
		    "on Bitbucket Server), found '%s'",
		    repo ? repo : "");
		goto out;
	}
	if (!commit || !valid_part(commit, strlen(commit))) {
		r = rollout_error_set(err, -EINVAL, "INVALID_REVISION",
				      "bitbucketLocation.commitId must be a commit hash (found '%s')",
				      commit ? commit : "");
		goto out;
	}
	if (strcmp(type, "zip") && strcmp(type, "tgz")) {
		r = rollout_error_set(err, -EINVAL, "INVALID_REVISION",
				      "bitbucketLocation.bundleType must be zip or tgz (found '%s')", type);
		goto out;
	}
	snprintf(owner, sizeof(owner), "%.*s", (int)(slash - repo), repo);
	if (b->server)
		snprintf(url, sizeof(url), "%s/rest/api/latest/projects/%s/repos/%s/archive?at=%s&format=%s", b->base,
			 owner, slash + 1, commit, type);
	else
		snprintf(url, sizeof(url), "%s/%s/%s/get/%s.%s", b->base, owner, slash + 1, commit,
			 !strcmp(type, "zip") ? "zip" : "tar.gz");
	headers[nh++] = "User-Agent: rolloutd-bitbucket";
	if (b->auth[0])
		headers[nh++] = b->auth;
	headers[nh] = NULL;
	{
		struct rollout_http_request req =
		    ROLLOUT_HTTP_REQUEST_INIT(.method = "GET", .url = url, .headers = headers, .output_path = dest_path,
					      .timeout_ms = timeout_ms > 0 && timeout_ms < b->timeout_ms
								? timeout_ms
								: b->timeout_ms,
					      .follow_redirects = true);
		r = host->http_request(b->h, &req, &resp, herr, sizeof(herr));
	}
	if (r < 0) {
		r = rollout_error_set(err, r, "INTERNAL_ERROR",
				      "cannot reach Bitbucket at %s: %s; check plugins.bitbucket.url and the network",
				      b->base, herr);
		goto out;
	}
	status = host->http_status(resp);
	if (status != 200) {
		src_read_head(dest_path, body, sizeof(body));
		src_error_text(host, b->h, body, msg, sizeof(msg));
		if (status == 401 || (status == 403 && !b->auth[0]))
			r = rollout_error_set(
			    err, -EACCES, "MISSING_GITHUB_TOKEN", "Bitbucket refused %s@%s (HTTP %ld%s%s); %s", repo,
			    commit, status, msg[0] ? ": " : "", msg,
			    b->auth[0] ? "check plugins.bitbucket.token (or username/app_password)"
				       : "set plugins.bitbucket.token (or username and app_password)");
		else if (status == 403)
			r = rollout_error_set(err, -EACCES, "MISSING_GITHUB_TOKEN",
					      "the Bitbucket credentials may not read %s (HTTP 403%s%s); grant them "
					      "repository read access",
					      repo, msg[0] ? ": " : "", msg);
		else if (status == 404)
			r = rollout_error_set(
			    err, -ENOENT, "REVISION_MISSING", "Bitbucket has no commit %s in %s (HTTP 404%s%s)%s",
			    commit, repo, msg[0] ? ": " : "", msg,
			    b->auth[0] ? "; check repository and commitId"
				       : "; check repository and commitId, or set plugins.bitbucket.token "
					 "for a private repository");
		else if (status == 429)
			r = rollout_error_set(err, -EAGAIN, "THROTTLED", "Bitbucket rate-limited the download of %s",
					      repo);
		else
			r = rollout_error_set(err, -EIO, "INTERNAL_ERROR", "Bitbucket answered HTTP %ld for %s@%s%s%s",
					      status, repo, commit, msg[0] ? ": " : "", msg);
		goto out;
	}
	host->http_output(resp, &res->bytes, res->sha256);
	snprintf(res->bundle_type, sizeof(res->bundle_type), "%s", type);
	snprintf(res->version, sizeof(res->version), "%s", commit);
	r = 0;
out:
	if (resp)
		host->http_free(resp);
	json_decref(rev);
	return r;
}

static const char *const bitbucket_types[] = {"Bitbucket", NULL};
static const char *const bitbucket_locations[] = {"bitbucketLocation", NULL};

static const struct rollout_source_ops bitbucket_ops =
    ROLLOUT_SOURCE_OPS_INIT(.revision_types = bitbucket_types, .fetch = bitbucket_fetch,
			    .location_members = bitbucket_locations, .describe = bitbucket_describe);

static const struct rollout_plugin bitbucket_plugin = ROLLOUT_PLUGIN_INIT(
    ROLLOUT_KIND_SOURCE, .name = "bitbucket", .version = "1.1.0",
    .description = "Bitbucket Cloud and Server revisions (repository archives; a rolloutd extension)",
    .init = bitbucket_init, .destroy = bitbucket_destroy, .ops.source = &bitbucket_ops);

ROLLOUT_PLUGIN_EXPORT(bitbucket_plugin)
