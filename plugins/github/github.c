/* github: the source plugin for GitHub revisions.
 *
 * Fetches {"revisionType": "GitHub", "gitHubLocation": {"repository":
 * "owner/name", "commitId": "<sha>"}} as the archive the GitHub REST API
 * serves at GET <api_url>/repos/<owner>/<name>/{tarball|zipball}/<commitId>
 * (following its redirect to codeload). The archive's single top-level
 * folder (owner-name-<sha>/) is kept in the cached bundle; pre-flight and the
 * agents apply CodeDeploy's leading-directory rule to it.
 *
 * Settings (plugins.github), all optional:
 *   token        a personal access / fine-grained / app installation token;
 *                without one only public repositories can be fetched
 *   api_url      default https://api.github.com; for GitHub Enterprise
 *                Server https://HOST/api/v3
 *   archive      tarball (default, bundle type tgz) or zipball (zip)
 *   timeout      whole download (default 30m)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "srcutil.h"

struct github {
	const struct rollout_host *host;
	struct rollout_handle *h;
	const char *token;
	const char *api_url;
	const char *archive;
	int64_t timeout_ms;
	char base[1024];
};

static const struct rollout_option github_options[] = {
    {.name = "token", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct github, token)},
    {.name = "api_url",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct github, api_url),
     .def = "https://api.github.com"},
    {.name = "archive",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct github, archive),
     .def = "tarball",
     .help = "tarball or zipball"},
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct github, timeout_ms),
     .min = 1000,
     .max = 24LL * 3600 * 1000,
     .def = "30m"},
    ROLLOUT_OPTION_END,
};

static int github_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		       size_t errlen)
{
	struct github *g;
	int r;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->host = host;
	g->h = h;
	r = rollout_config_parse(host, h, github_options, g, err, errlen);
	if (r < 0)
		goto fail;
	if (strcmp(g->archive, "tarball") && strcmp(g->archive, "zipball")) {
		snprintf(err, errlen, "plugins.github.archive: '%s' is not tarball or zipball", g->archive);
		r = -EINVAL;
		goto fail;
	}
	if ((strncmp(g->api_url, "http://", 7) && strncmp(g->api_url, "https://", 8)) ||
	    src_strip_slash(g->api_url, g->base, sizeof(g->base)) < 0) {
		snprintf(err, errlen,
			 "plugins.github.api_url: '%s' must be an http(s) URL such as https://api.github.com "
			 "or https://github.example.com/api/v3",
			 g->api_url);
		r = -EINVAL;
		goto fail;
	}
	if (g->token && !*g->token)
		g->token = NULL;
	*ret_state = g;
	return 0;
fail:
	free(g);
	return r;
}

static void github_destroy(void *state)
{
	free(state);
}

/* owner/name with GitHub's characters only, so it cannot alter the URL. */
static bool valid_repo(const char *s)
{
	const char *slash = strchr(s, '/');
	size_t n = strlen(s);

	if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/') || n > 200)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.' || *s == '/'))
			return false;
	return true;
}

static bool valid_ref(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return false;
	return true;
}

/* A full commit id names one content: fetched once. The API checks the
 * location's members itself (GitHub is CodeDeploy's own type). */
static int github_describe(void *state, const char *revision_json, struct rollout_revision_info *ret,
			   struct rollout_error *err)
{
	json_t *rev = json_loads(revision_json, 0, NULL);

	ret->pinned =
	    src_full_commit(json_string_value(json_object_get(json_object_get(rev, "gitHubLocation"), "commitId")));
	json_decref(rev);
	return 0;
}

static int github_fetch(void *state, const struct rollout_deployment *dep, const char *revision_json,
			const char *dest_path, int64_t timeout_ms, struct rollout_fetch_result *res,
			struct rollout_error *err)
{
	struct github *g = state;
	const struct rollout_host *host = g->host;
	struct rollout_http_response *resp = NULL;
	const char *repo, *commit;
	char url[2048], auth[1100], body[2048], msg[300], herr[512] = "";
	const char *headers[5];
	json_t *rev;
	long status;
	int r, nh = 0;

	rev = json_loads(revision_json, 0, NULL);
	repo = json_string_value(json_object_get(json_object_get(rev, "gitHubLocation"), "repository"));
	commit = json_string_value(json_object_get(json_object_get(rev, "gitHubLocation"), "commitId"));
	if (!repo || !valid_repo(repo)) {
		r = rollout_error_set(err, -EINVAL, "INVALID_REVISION",
				      "gitHubLocation.repository must be 'owner/name' (found '%s')", repo ? repo : "");
		goto out;
	}
	if (!commit || !valid_ref(commit)) {
		r = rollout_error_set(err, -EINVAL, "INVALID_REVISION",
				      "gitHubLocation.commitId must be a commit id (found '%s')", commit ? commit : "");
		goto out;
	}
	snprintf(url, sizeof(url), "%s/repos/%s/%s/%s", g->base, repo, g->archive, commit);
	headers[nh++] = "Accept: application/vnd.github+json";
	headers[nh++] = "X-GitHub-Api-Version: 2022-11-28";
	headers[nh++] = "User-Agent: rolloutd-github";
	if (g->token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", g->token);
		headers[nh++] = auth;
	}
	headers[nh] = NULL;
	{
		struct rollout_http_request req =
		    ROLLOUT_HTTP_REQUEST_INIT(.method = "GET", .url = url, .headers = headers, .output_path = dest_path,
					      .timeout_ms = timeout_ms > 0 && timeout_ms < g->timeout_ms
								? timeout_ms
								: g->timeout_ms,
					      .follow_redirects = true);
		r = host->http_request(g->h, &req, &resp, herr, sizeof(herr));
	}
	if (r < 0) {
		r = rollout_error_set(err, r, "INTERNAL_ERROR",
				      "cannot reach GitHub at %s: %s; check plugins.github.api_url "
				      "and the network",
				      g->base, herr);
		goto out;
	}
	status = host->http_status(resp);
	if (status != 200) {
		src_read_head(dest_path, body, sizeof(body));
		src_error_text(host, g->h, body, msg, sizeof(msg));
		if ((status == 401 || status == 403 || status == 404) && !g->token)
			r = rollout_error_set(err, -EACCES, "MISSING_GITHUB_TOKEN",
					      "GitHub answered %ld for %s@%s and rolloutd has no GitHub token; set "
					      "plugins.github.token to a token that can read the repository%s%s",
					      status, repo, commit, msg[0] ? " (GitHub said: " : "", msg[0] ? msg : "");
		else if (status == 401)
			r = rollout_error_set(err, -EACCES, "MISSING_GITHUB_TOKEN",
					      "GitHub rejected plugins.github.token (HTTP 401%s%s); renew the token",
					      msg[0] ? ": " : "", msg);
		else if (status == 403 && host->http_header(resp, "X-RateLimit-Remaining") &&
			 !strcmp(host->http_header(resp, "X-RateLimit-Remaining"), "0"))
			r = rollout_error_set(err, -EAGAIN, "THROTTLED",
					      "GitHub's API rate limit is used up; retry later or use a token with a "
					      "higher limit");
		else if (status == 403)
			r = rollout_error_set(
			    err, -EACCES, "MISSING_GITHUB_TOKEN",
			    "plugins.github.token may not read %s (HTTP 403%s%s); grant it read access "
			    "to the repository's contents",
			    repo, msg[0] ? ": " : "", msg);
		else if (status == 404 || status == 422)
			r = rollout_error_set(err, -ENOENT, "REVISION_MISSING",
					      "GitHub has no commit %s in %s (HTTP %ld%s%s); check repository and "
					      "commitId, and that the token can see the repository",
					      commit, repo, status, msg[0] ? ": " : "", msg);
		else
			r = rollout_error_set(err, -EIO, "INTERNAL_ERROR", "GitHub answered HTTP %ld for %s@%s%s%s",
					      status, repo, commit, msg[0] ? ": " : "", msg);
		goto out;
	}
	host->http_output(resp, &res->bytes, res->sha256);
	snprintf(res->bundle_type, sizeof(res->bundle_type), "%s", !strcmp(g->archive, "zipball") ? "zip" : "tgz");
	snprintf(res->version, sizeof(res->version), "%s", commit);
	r = 0;
out:
	if (resp)
		host->http_free(resp);
	json_decref(rev);
	return r;
}

static const char *const github_types[] = {"GitHub", NULL};
static const char *const github_locations[] = {"gitHubLocation", NULL};

static const struct rollout_source_ops github_ops =
    ROLLOUT_SOURCE_OPS_INIT(.revision_types = github_types, .fetch = github_fetch, .location_members = github_locations,
			    .describe = github_describe);

static const struct rollout_plugin github_plugin = ROLLOUT_PLUGIN_INIT(
    ROLLOUT_KIND_SOURCE, .name = "github", .version = "1.1.0",
    .description = "GitHub revisions (repository archives through the REST API; GitHub Enterprise too)",
    .init = github_init, .destroy = github_destroy, .ops.source = &github_ops);

ROLLOUT_PLUGIN_EXPORT(github_plugin)
