/* s3: the source plugin for S3 revisions.
 *
 * Fetches {"revisionType": "S3", "s3Location": {bucket, key, bundleType,
 * version?, eTag?}} with a SigV4-signed GetObject through the host's HTTP
 * client (which also resolves credentials: plugin config, environment,
 * shared credentials profile, IMDSv2). A key without version or eTag is
 * revalidated: GetObject with If-None-Match (the ETag of the copy the
 * daemon holds), downloaded again only when S3 answers other than 304.
 *
 * Settings (plugins.s3), all optional:
 *   endpoint            custom S3 endpoint, e.g. http://127.0.0.1:9000
 *                       (default https://s3.<region>.amazonaws.com)
 *   region              signing region (default: the daemon's)
 *   access_key_id, secret_access_key, session_token, profile, credentials_file
 *   addressing          auto | path | virtual (default auto: virtual-hosted
 *                       on AWS for DNS-compatible bucket names, path-style
 *                       with a custom endpoint)
 *   timeout             whole download (default 30m)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "srcutil.h"
#include "uri.h"

struct s3 {
	const struct rollout_host *host;
	struct rollout_handle *h;
	const char *addressing;
	int64_t timeout_ms;
	const char *endpoint; /* NULL: AWS */
	const char *region;   /* NULL: the daemon's */
};

static const struct rollout_option s3_options[] = {
    ROLLOUT_AWS_OPTIONS,
    {.name = "addressing",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct s3, addressing),
     .def = "auto",
     .help = "auto, path or virtual"},
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct s3, timeout_ms),
     .min = 1000,
     .max = 24LL * 3600 * 1000,
     .def = "30m"},
    ROLLOUT_OPTION_END,
};

static int s3_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		   size_t errlen)
{
	struct s3 *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = host;
	s->h = h;
	r = rollout_config_parse(host, h, s3_options, s, err, errlen);
	if (r < 0)
		goto fail;
	if (strcmp(s->addressing, "auto") && strcmp(s->addressing, "path") && strcmp(s->addressing, "virtual")) {
		snprintf(err, errlen, "plugins.s3.addressing: '%s' is not one of auto, path, virtual", s->addressing);
		r = -EINVAL;
		goto fail;
	}
	r = host->config_string(h, "endpoint", NULL, &s->endpoint, err, errlen);
	if (r < 0)
		goto fail;
	r = host->config_string(h, "region", NULL, &s->region, err, errlen);
	if (r < 0)
		goto fail;
	if (s->endpoint && strncmp(s->endpoint, "http://", 7) && strncmp(s->endpoint, "https://", 8)) {
		snprintf(err, errlen, "plugins.s3.endpoint: '%s' must start with http:// or https://", s->endpoint);
		r = -EINVAL;
		goto fail;
	}
	*ret_state = s;
	return 0;
fail:
	free(s);
	return r;
}

static void s3_destroy(void *state)
{
	free(state);
}

/* Virtual-hosted addressing needs a bucket name that is a DNS label set
 * without dots (TLS wildcard certificates cover one label). */
static bool dns_bucket(const char *b)
{
	size_t n = strlen(b), i;

	if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-'))
			return false;
	return true;
}

/* Builds the GetObject URL. Exposed (non-static) for the unit test. */
int s3_object_url(const char *endpoint, const char *region, const char *addressing, const char *bucket, const char *key,
		  const char *version, char *out, size_t outlen);
int s3_object_url(const char *endpoint, const char *region, const char *addressing, const char *bucket, const char *key,
		  const char *version, char *out, size_t outlen)
{
	char ep[1024], ekey[3 * 1024 + 1], ever[3 * 256 + 1] = "", scheme[8];
	const char *host, *rest;
	bool virt;
	int n;

	if (strlen(key) > 1024 || (version && strlen(version) > 256))
		return -ENAMETOOLONG;
	if (endpoint) {
		if (src_strip_slash(endpoint, ep, sizeof(ep)) < 0)
			return -ENOSPC;
	} else {
		snprintf(ep, sizeof(ep), "https://s3.%s.amazonaws.com", region ? region : "us-east-1");
	}
	if (uri_encode(key, true, ekey, sizeof(ekey)) < 0)
		return -ENOSPC;
	if (version && uri_encode(version, false, ever, sizeof(ever)) < 0)
		return -ENOSPC;
	if (!strcmp(addressing, "virtual"))
		virt = true;
	else if (!strcmp(addressing, "path"))
		virt = false;
	else
		virt = !endpoint && dns_bucket(bucket);
	if (virt && !dns_bucket(bucket) && strchr(bucket, '.') == NULL)
		return -EINVAL;
	if (virt) {
		rest = strstr(ep, "://");
		if (!rest)
			return -EINVAL;
		snprintf(scheme, sizeof(scheme), "%.*s", (int)(rest - ep), ep);
		host = rest + 3;
		n = snprintf(out, outlen, "%s://%s.%s/%s%s%s", scheme, bucket, host, ekey, version ? "?versionId=" : "",
			     ever);
	} else {
		n = snprintf(out, outlen, "%s/%s/%s%s%s", ep, bucket, ekey, version ? "?versionId=" : "", ever);
	}
	return n < 0 || (size_t)n >= outlen ? -ENOSPC : 0;
}

static void strip_quotes(const char *in, char *out, size_t outlen)
{
	size_t n;

	if (!in) {
		out[0] = '\0';
		return;
	}
	while (*in == '"' || *in == ' ')
		in++;
	n = strlen(in);
	while (n > 0 && (in[n - 1] == '"' || in[n - 1] == ' '))
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

/* An object version or an eTag names one content: fetched once. */
static int s3_describe(void *state, const char *revision_json, struct rollout_revision_info *ret,
		       struct rollout_error *err)
{
	json_t *rev = json_loads(revision_json, 0, NULL), *loc = json_object_get(rev, "s3Location");
	const char *bucket = json_string_value(json_object_get(loc, "bucket"));
	const char *key = json_string_value(json_object_get(loc, "key"));
	int r = 0;

	if (!bucket || !*bucket || !key || !*key)
		r = rollout_error_set(err, -EINVAL, "INVALID_REVISION",
				      "an S3 revision needs s3Location with bucket and key");
	else
		ret->pinned =
		    json_is_string(json_object_get(loc, "version")) || json_is_string(json_object_get(loc, "eTag"));
	json_decref(rev);
	return r;
}

/* GetObject into dest_path; with cached (a key the daemon holds, neither
 * version nor eTag given) a conditional one: If-None-Match with the ETag S3
 * gave last time (else If-Modified-Since), 304 meaning unchanged. Only one
 * of the two is sent: S3 answers 304 when If-Modified-Since holds even if
 * the ETag differs, and Last-Modified has a one-second resolution. */
static int s3_get(struct s3 *s, const struct rollout_deployment *dep, const char *revision_json,
		  const struct rollout_fetch_cached *cached, const char *dest_path, int64_t timeout_ms,
		  struct rollout_fetch_result *res, struct rollout_error *err)
{
	const struct rollout_host *host = s->host;
	struct rollout_http_response *resp = NULL;
	const char *bucket, *key, *version, *etag, *type;
	char url[4096], herr[512] = "", body[4096], code[128], msg[512], got_etag[256], want_etag[256];
	char cond[400] = "";
	const char *headers[2] = {NULL, NULL};
	json_t *rev = NULL, *loc;
	long status;
	int r;

	rev = json_loads(revision_json, 0, NULL);
	loc = json_object_get(rev, "s3Location");
	bucket = json_string_value(json_object_get(loc, "bucket"));
	key = json_string_value(json_object_get(loc, "key"));
	version = json_string_value(json_object_get(loc, "version"));
	etag = json_string_value(json_object_get(loc, "eTag"));
	type = json_string_value(json_object_get(loc, "bundleType"));
	if (!bucket || !*bucket || !key || !*key) {
		r = rollout_error_set(err, -EINVAL, "INVALID_REVISION",
				      "the S3 revision needs s3Location.bucket and s3Location.key");
		goto out;
	}
	if (version && !*version)
		version = NULL;
	if (!type)
		type = src_type_from_name(key);
	if (!type) {
		r = rollout_error_set(err, -EINVAL, "INVALID_REVISION",
				      "s3Location.bundleType is missing for s3://%s/%s; set it to zip, tar or tgz",
				      bucket, key);
		goto out;
	}
	if (!src_valid_type(type) && strcmp(type, "YAML") && strcmp(type, "JSON")) {
		r = rollout_error_set(err, -EINVAL, "INVALID_REVISION",
				      "s3Location.bundleType '%s' is not zip, tar, tgz (archives for servers) or YAML, "
				      "JSON (AppSpec files for Lambda and ECS)",
				      type);
		goto out;
	}
	if (dep && dep->compute_platform && !strcmp(dep->compute_platform, "Server") && !src_valid_type(type)) {
		r = rollout_error_set(err, -EINVAL, "INVALID_REVISION",
				      "s3Location.bundleType %s is an AppSpec file for Lambda and ECS; a server "
				      "deployment needs a zip, tar or tgz bundle",
				      type);
		goto out;
	}
	r = s3_object_url(s->endpoint,
			  s->region ? s->region
			  : dep	    ? dep->region
				    : NULL,
			  s->addressing, bucket, key, version, url, sizeof(url));
	if (r < 0) {
		r = rollout_error_set(err, r, "INVALID_REVISION",
				      "cannot build a virtual-hosted S3 URL for bucket '%s'; set plugins.s3.addressing "
				      "to path",
				      bucket);
		goto out;
	}
	if (cached && !version && !(etag && *etag)) {
		if (cached->etag && *cached->etag && !strpbrk(cached->etag, "\r\n\""))
			snprintf(cond, sizeof(cond), "If-None-Match: \"%s\"", cached->etag);
		else if (cached->last_modified && *cached->last_modified && !strpbrk(cached->last_modified, "\r\n"))
			snprintf(cond, sizeof(cond), "If-Modified-Since: %s", cached->last_modified);
		if (cond[0])
			headers[0] = cond;
	}
	{
		struct rollout_http_request req =
		    ROLLOUT_HTTP_REQUEST_INIT(.method = "GET", .url = url, .output_path = dest_path,
					      .headers = headers[0] ? headers : NULL,
					      .timeout_ms = timeout_ms > 0 && timeout_ms < s->timeout_ms
								? timeout_ms
								: s->timeout_ms,
					      .aws_service = "s3", .aws_region = s->region);
		r = host->http_request(s->h, &req, &resp, herr, sizeof(herr));
	}
	if (r == -ENOKEY) {
		r = rollout_error_set(err, r, "IAM_ROLE_MISSING",
				      "no AWS credentials to read s3://%s/%s: set access_key_id and secret_access_key "
				      "under plugins.s3, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a shared "
				      "credentials profile, or run on EC2 with an instance role (%s)",
				      bucket, key, herr);
		goto out;
	}
	if (r < 0) {
		r = rollout_error_set(err, r, "INTERNAL_ERROR",
				      "cannot reach S3 for s3://%s/%s: %s; check plugins.s3.endpoint and the network",
				      bucket, key, herr);
		goto out;
	}
	status = host->http_status(resp);
	if (status == 304 && cond[0]) {
		if (ROLLOUT_HAS(res, struct rollout_fetch_result, not_modified))
			res->not_modified = true;
		host->log(s->h, LOG_DEBUG, "s3://%s/%s not modified (%s)", bucket, key, cond);
		r = 0;
		goto out;
	}
	if (status != 200) {
		src_read_head(dest_path, body, sizeof(body));
		src_aws_error(host, s->h, body, code, sizeof(code), msg, sizeof(msg));
		if (status == 404 || !strcmp(code, "NoSuchKey") || !strcmp(code, "NoSuchBucket") ||
		    !strcmp(code, "NoSuchVersion") || (version && !strcmp(code, "InvalidArgument")))
			r = rollout_error_set(err, -ENOENT, "REVISION_MISSING",
					      "s3://%s/%s%s%s does not exist (%s%s%s); check bucket, key and version, "
					      "or upload the bundle",
					      bucket, key, version ? " version " : "", version ? version : "",
					      code[0] ? code : "HTTP 404", msg[0] ? ": " : "", msg);
		else if (status == 403)
			r = rollout_error_set(err, -EACCES, "IAM_ROLE_PERMISSIONS",
					      "S3 denied reading s3://%s/%s (%s%s%s); give the s3 plugin's credentials "
					      "s3:GetObject%s on it",
					      bucket, key, code[0] ? code : "HTTP 403", msg[0] ? ": " : "", msg,
					      version ? " and s3:GetObjectVersion" : "");
		else if (status == 301 || !strcmp(code, "PermanentRedirect") ||
			 !strcmp(code, "AuthorizationHeaderMalformed"))
			r = rollout_error_set(err, -EINVAL, "REVISION_MISSING",
					      "bucket '%s' is not in region %s (%s); set plugins.s3.region to the "
					      "bucket's region",
					      bucket,
					      s->region		   ? s->region
					      : dep && dep->region ? dep->region
								   : "?",
					      code[0] ? code : "HTTP 301");
		else if (status == 503 || !strcmp(code, "SlowDown"))
			r = rollout_error_set(err, -EAGAIN, "THROTTLED", "S3 throttled reading s3://%s/%s (%s)", bucket,
					      key, code[0] ? code : "HTTP 503");
		else
			r = rollout_error_set(err, -EIO, "INTERNAL_ERROR",
					      "S3 answered HTTP %ld for s3://%s/%s (%s%s%s)", status, bucket, key,
					      code[0] ? code : "no error code", msg[0] ? ": " : "", msg);
		goto out;
	}
	if (etag && *etag) {
		strip_quotes(etag, want_etag, sizeof(want_etag));
		strip_quotes(host->http_header(resp, "ETag"), got_etag, sizeof(got_etag));
		if (strcmp(want_etag, got_etag) != 0) {
			r = rollout_error_set(
			    err, -EBADMSG, "INVALID_REVISION",
			    "s3://%s/%s has ETag %s but the revision says eTag %s: the object changed "
			    "since the revision was registered; register the revision again with the "
			    "current eTag (or a version)",
			    bucket, key, got_etag[0] ? got_etag : "(none)", want_etag);
			goto out;
		}
	}
	if (version) {
		const char *gv = host->http_header(resp, "x-amz-version-id");
		if (!gv || strcmp(gv, version) != 0) {
			r = rollout_error_set(
			    err, -EBADMSG, "INVALID_REVISION",
			    "S3 returned version %s of s3://%s/%s but the revision asks for version %s; "
			    "check that versioning is enabled on the bucket and the version id is right",
			    gv ? gv : "(none)", bucket, key, version);
			goto out;
		}
	}
	host->http_output(resp, &res->bytes, res->sha256);
	snprintf(res->bundle_type, sizeof(res->bundle_type), "%s", type);
	snprintf(res->version, sizeof(res->version), "%s",
		 host->http_header(resp, "x-amz-version-id") ? host->http_header(resp, "x-amz-version-id") : "");
	if (ROLLOUT_HAS(res, struct rollout_fetch_result, not_modified)) {
		strip_quotes(host->http_header(resp, "ETag"), res->etag, sizeof(res->etag));
		snprintf(res->last_modified, sizeof(res->last_modified), "%s",
			 host->http_header(resp, "Last-Modified") ? host->http_header(resp, "Last-Modified") : "");
	}
	r = 0;
out:
	if (resp)
		host->http_free(resp);
	json_decref(rev);
	return r;
}

static int s3_fetch(void *state, const struct rollout_deployment *dep, const char *revision_json, const char *dest_path,
		    int64_t timeout_ms, struct rollout_fetch_result *res, struct rollout_error *err)
{
	return s3_get(state, dep, revision_json, NULL, dest_path, timeout_ms, res, err);
}

static int s3_fetch_if_changed(void *state, const struct rollout_deployment *dep, const char *revision_json,
			       const struct rollout_fetch_cached *cached, const char *dest_path, int64_t timeout_ms,
			       struct rollout_fetch_result *res, struct rollout_error *err)
{
	return s3_get(state, dep, revision_json, cached, dest_path, timeout_ms, res, err);
}

static const char *const s3_types[] = {"S3", NULL};
static const char *const s3_locations[] = {"s3Location", NULL};

static const struct rollout_source_ops s3_ops =
    ROLLOUT_SOURCE_OPS_INIT(.revision_types = s3_types, .fetch = s3_fetch, .location_members = s3_locations,
			    .describe = s3_describe, .fetch_if_changed = s3_fetch_if_changed);

static const struct rollout_plugin s3_plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_SOURCE, .name = "s3", .version = "1.2.0",
			.description = "S3 revisions (GetObject with SigV4; versions, eTags, custom endpoints)",
			.init = s3_init, .destroy = s3_destroy, .ops.source = &s3_ops);

ROLLOUT_PLUGIN_EXPORT(s3_plugin)
