/* http: the source plugin for plain HTTP(S) bundles (a rolloutd extension of
 * RevisionLocation, docs/api-extensions.md §1.3):
 *
 *   {"revisionType": "HTTP", "httpLocation": {"url": "https://...",
 *    "sha256": "<64 hex>", "bundleType": "zip" | "tar" | "tgz"}}
 *
 * The sha256 is required: a download with any other content is refused, so
 * a URL alone can never change what a deployment installs. With
 * allow_unpinned it may be left out: the URL's content is then whatever the
 * server holds at each deployment, revalidated with If-None-Match (the ETag
 * of the copy the daemon holds) or If-Modified-Since and downloaded again
 * only when the server answers other than 304.
 *
 * Settings (plugins.http), all optional:
 *   allow_http    accept http:// URLs (default true; false: https only)
 *   allow_unpinned  accept locations without sha256 (default false)
 *   headers       extra request headers, a map (e.g. {Authorization: "Bearer X"})
 *   timeout       whole download (default 30m)
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "srcutil.h"

#define MAX_HEADERS 16

struct httpsrc {
	const struct rollout_host *host;
	struct rollout_handle *h;
	bool allow_http;
	bool allow_unpinned;
	const char *headers_json;
	int64_t timeout_ms;
	char *headers[MAX_HEADERS + 1];
};

static const struct rollout_option http_options[] = {
    {.name = "allow_http", .type = ROLLOUT_OPT_BOOL, .offset = offsetof(struct httpsrc, allow_http), .def = "true"},
    {.name = "allow_unpinned",
     .type = ROLLOUT_OPT_BOOL,
     .offset = offsetof(struct httpsrc, allow_unpinned),
     .def = "false"},
    {.name = "headers", .type = ROLLOUT_OPT_JSON, .offset = offsetof(struct httpsrc, headers_json)},
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct httpsrc, timeout_ms),
     .min = 1000,
     .max = 24LL * 3600 * 1000,
     .def = "30m"},
    ROLLOUT_OPTION_END,
};

static void http_destroy(void *state)
{
	struct httpsrc *s = state;

	if (!s)
		return;
	for (size_t i = 0; i < MAX_HEADERS; i++)
		free(s->headers[i]);
	free(s);
}

static int http_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		     size_t errlen)
{
	struct httpsrc *s;
	json_t *hj = NULL, *v;
	const char *k;
	size_t n = 0;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = host;
	s->h = h;
	r = rollout_config_parse(host, h, http_options, s, err, errlen);
	if (r < 0)
		goto fail;
	if (s->headers_json) {
		hj = json_loads(s->headers_json, 0, NULL);
		if (!json_is_object(hj)) {
			snprintf(err, errlen, "plugins.http.headers: expected a map of header name to value");
			r = -EINVAL;
			goto fail;
		}
		json_object_foreach(hj, k, v)
		{
			if (n == MAX_HEADERS || !json_is_string(v) || strpbrk(k, ":\r\n") ||
			    strpbrk(json_string_value(v), "\r\n")) {
				snprintf(err, errlen,
					 "plugins.http.headers.%s: at most %d headers, each a one-line string", k,
					 MAX_HEADERS);
				r = -EINVAL;
				goto fail;
			}
			if (asprintf(&s->headers[n], "%s: %s", k, json_string_value(v)) < 0) {
				s->headers[n] = NULL;
				r = -ENOMEM;
				goto fail;
			}
			n++;
		}
	}
	json_decref(hj);
	*ret_state = s;
	return 0;
fail:
	json_decref(hj);
	http_destroy(s);
	return r;
}

static bool valid_sha(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* The location of rev (url, sha256 or NULL when unpinned locations are
 * allowed, bundle type; borrowed from rev), or -EINVAL with
 * INVALID_REVISION saying what is wrong. */
static int http_location(const struct httpsrc *s, const json_t *rev, const char **ret_url, const char **ret_sha,
			 const char **ret_type, struct rollout_error *err)
{
	const json_t *loc = json_object_get(rev, "httpLocation");
	const char *url = json_string_value(json_object_get(loc, "url"));
	const char *sha = json_string_value(json_object_get(loc, "sha256"));
	const char *type = json_string_value(json_object_get(loc, "bundleType"));

	if (!url || (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)))
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION", "httpLocation.url must be an http(s) URL");
	if (!s->allow_http && strncmp(url, "https://", 8))
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "httpLocation.url %s is not https and plugins.http.allow_http is false; serve "
					 "the bundle over https",
					 url);
	if (!(sha == NULL && s->allow_unpinned) && !valid_sha(sha))
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "httpLocation.sha256 is required: the lower-case hex sha256 of the bundle "
					 "(sha256sum FILE)%s",
					 s->allow_unpinned ? "" : ", unless plugins.http.allow_unpinned is true");
	if (!type)
		type = src_type_from_name(url);
	if (!src_valid_type(type))
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "httpLocation.bundleType must be zip, tar or tgz (found '%s')",
					 type ? type : "nothing, and the URL has no such extension");
	*ret_url = url;
	*ret_sha = sha;
	*ret_type = type;
	return 0;
}

/* The sha256 pins the content: fetched once, and checked. Without it the
 * location is revalidated at each deployment. */
static int http_describe(void *state, const char *revision_json, struct rollout_revision_info *ret,
			 struct rollout_error *err)
{
	json_t *rev = json_loads(revision_json, 0, NULL);
	const char *url, *sha, *type;
	int r = http_location(state, rev, &url, &sha, &type, err);

	if (r == 0 && sha) {
		ret->pinned = true;
		snprintf(ret->sha256, sizeof(ret->sha256), "%s", sha);
	}
	json_decref(rev);
	return r;
}

/* GET url into dest_path; with cached (an unpinned location the daemon
 * holds) a conditional one. Only one condition is sent: If-None-Match when
 * an ETag is known (If-Modified-Since has a one-second resolution). */
static int http_get(struct httpsrc *s, const char *revision_json, const struct rollout_fetch_cached *cached,
		    const char *dest_path, int64_t timeout_ms, struct rollout_fetch_result *res,
		    struct rollout_error *err)
{
	const struct rollout_host *host = s->host;
	struct rollout_http_response *resp = NULL;
	const char *url, *sha, *type, *hdrs[MAX_HEADERS + 2];
	char body[2048], msg[300], herr[512] = "", cond[400] = "";
	size_t nh = 0;
	json_t *rev;
	long status;
	int r;

	rev = json_loads(revision_json, 0, NULL);
	if ((r = http_location(s, rev, &url, &sha, &type, err)) < 0)
		goto out;
	for (; nh < MAX_HEADERS && s->headers[nh]; nh++)
		hdrs[nh] = s->headers[nh];
	if (cached && !sha) {
		if (cached->etag && *cached->etag && !strpbrk(cached->etag, "\r\n"))
			snprintf(cond, sizeof(cond), "If-None-Match: %s", cached->etag);
		else if (cached->last_modified && *cached->last_modified && !strpbrk(cached->last_modified, "\r\n"))
			snprintf(cond, sizeof(cond), "If-Modified-Since: %s", cached->last_modified);
		if (cond[0])
			hdrs[nh++] = cond;
	}
	hdrs[nh] = NULL;
	{
		struct rollout_http_request req =
		    ROLLOUT_HTTP_REQUEST_INIT(.method = "GET", .url = url, .headers = hdrs, .output_path = dest_path,
					      .timeout_ms = timeout_ms > 0 && timeout_ms < s->timeout_ms
								? timeout_ms
								: s->timeout_ms,
					      .follow_redirects = true);
		r = host->http_request(s->h, &req, &resp, herr, sizeof(herr));
	}
	if (r < 0) {
		r = rollout_error_set(err, r, "REVISION_MISSING", "cannot download %s: %s", url, herr);
		goto out;
	}
	status = host->http_status(resp);
	if (status == 304 && cond[0]) {
		if (ROLLOUT_HAS(res, struct rollout_fetch_result, not_modified))
			res->not_modified = true;
		r = 0;
		goto out;
	}
	if (status != 200) {
		src_read_head(dest_path, body, sizeof(body));
		src_error_text(host, s->h, body, msg, sizeof(msg));
		if (status == 404 || status == 410)
			r = rollout_error_set(err, -ENOENT, "REVISION_MISSING", "%s does not exist (HTTP %ld)", url,
					      status);
		else if (status == 401 || status == 403)
			r = rollout_error_set(err, -EACCES, "REVISION_MISSING",
					      "%s refused the download (HTTP %ld%s%s); add credentials with "
					      "plugins.http.headers",
					      url, status, msg[0] ? ": " : "", msg);
		else if (status == 429 || status == 503)
			r = rollout_error_set(err, -EAGAIN, "THROTTLED", "%s answered HTTP %ld; retry later", url,
					      status);
		else
			r = rollout_error_set(err, -EIO, "REVISION_MISSING", "%s answered HTTP %ld%s%s", url, status,
					      msg[0] ? ": " : "", msg);
		goto out;
	}
	host->http_output(resp, &res->bytes, res->sha256);
	if (sha && strcmp(res->sha256, sha) != 0) {
		r = rollout_error_set(err, -EBADMSG, "INVALID_REVISION",
				      "%s has sha256 %s but the revision says %s; fix httpLocation.sha256 or the file "
				      "on the server",
				      url, res->sha256, sha);
		goto out;
	}
	snprintf(res->bundle_type, sizeof(res->bundle_type), "%s", type);
	if (!sha && ROLLOUT_HAS(res, struct rollout_fetch_result, not_modified)) {
		/* the ETag as sent (quotes included): If-None-Match wants it so */
		const char *et = host->http_header(resp, "ETag"), *lm = host->http_header(resp, "Last-Modified");
		snprintf(res->etag, sizeof(res->etag), "%s", et ? et : "");
		snprintf(res->last_modified, sizeof(res->last_modified), "%s", lm ? lm : "");
	}
	r = 0;
out:
	if (resp)
		host->http_free(resp);
	json_decref(rev);
	return r;
}

static int http_fetch(void *state, const struct rollout_deployment *dep, const char *revision_json,
		      const char *dest_path, int64_t timeout_ms, struct rollout_fetch_result *res,
		      struct rollout_error *err)
{
	(void)dep;
	return http_get(state, revision_json, NULL, dest_path, timeout_ms, res, err);
}

static int http_fetch_if_changed(void *state, const struct rollout_deployment *dep, const char *revision_json,
				 const struct rollout_fetch_cached *cached, const char *dest_path, int64_t timeout_ms,
				 struct rollout_fetch_result *res, struct rollout_error *err)
{
	(void)dep;
	return http_get(state, revision_json, cached, dest_path, timeout_ms, res, err);
}

static const char *const http_types[] = {"HTTP", NULL};
static const char *const http_locations[] = {"httpLocation", NULL};

static const struct rollout_source_ops http_ops =
    ROLLOUT_SOURCE_OPS_INIT(.revision_types = http_types, .fetch = http_fetch, .location_members = http_locations,
			    .describe = http_describe, .fetch_if_changed = http_fetch_if_changed);

static const struct rollout_plugin http_plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_SOURCE, .name = "http", .version = "1.2.0",
			.description = "bundles from http(s) URLs pinned by sha256 (a rolloutd extension)",
			.init = http_init, .destroy = http_destroy, .ops.source = &http_ops);

ROLLOUT_PLUGIN_EXPORT(http_plugin)
