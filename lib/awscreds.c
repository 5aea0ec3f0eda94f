#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "awscreds.h"
#include "awsprofile.h"
#include "httpclient.h"
#include "util.h"

#define CRED_FILE_MAX (1u << 20)

static pthread_mutex_t imds_lock = PTHREAD_MUTEX_INITIALIZER;
static struct aws_credentials *imds_cache;

static int creds_new(const char *akid, const char *secret, const char *token, int64_t expires_ms, const char *source,
		     struct aws_credentials **ret)
{
	struct aws_credentials *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->access_key_id = strdup(akid);
	c->secret_access_key = strdup(secret);
	c->session_token = token && *token ? strdup(token) : NULL;
	c->expires_ms = expires_ms;
	c->source = source;
	if (!c->access_key_id || !c->secret_access_key || (token && *token && !c->session_token)) {
		aws_credentials_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

struct aws_credentials *aws_credentials_free(struct aws_credentials *c)
{
	if (!c)
		return NULL;
	if (c->secret_access_key) {
		explicit_bzero(c->secret_access_key, strlen(c->secret_access_key));
		free(c->secret_access_key);
	}
	if (c->session_token) {
		explicit_bzero(c->session_token, strlen(c->session_token));
		free(c->session_token);
	}
	free(c->access_key_id);
	free(c);
	return NULL;
}

void aws_credentials_clear_cache(void)
{
	pthread_mutex_lock(&imds_lock);
	imds_cache = aws_credentials_free(imds_cache);
	pthread_mutex_unlock(&imds_lock);
}

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* One key of the profile; a missing key leaves *ret NULL. */
static int lookup(const char *text, const char *profile, const char *key, char **ret)
{
	int r = aws_profile_value(text, profile, key, ret);

	return r == -ENOENT ? 0 : r;
}

static int from_file(const struct aws_cred_options *o, struct aws_credentials **ret, char *err, size_t errlen)
{
	const char *file = o->credentials_file, *profile = o->profile;
	char *akid = NULL, *secret = NULL, *token = NULL, *path = NULL, *buf = NULL;
	bool explicit_file = file != NULL, explicit_profile = profile != NULL;
	size_t len;
	int r;

	if (!file && !o->no_env)
		file = getenv("AWS_SHARED_CREDENTIALS_FILE");
	if (!file || !*file) {
		const char *home = getenv("HOME");
		if (!home || !*home)
			return 0;
		if (asprintf(&path, "%s/.aws/credentials", home) < 0)
			return -ENOMEM;
		file = path;
	}
	if (!profile && !o->no_env) {
		profile = getenv("AWS_PROFILE");
		explicit_profile = profile && *profile;
	}
	if (!profile || !*profile)
		profile = "default";

	r = rd_read_file(file, CRED_FILE_MAX, &buf, &len);
	if (r < 0) {
		if ((r == -ENOENT && !explicit_file && !explicit_profile))
			r = 0;
		else
			snprintf(err, errlen, "AWS credentials file %s: %s%s", file, strerror(-r),
				 r == -ENOENT ? "; create it or point credentials_file / AWS_SHARED_CREDENTIALS_FILE "
						"at an existing one"
					      : "");
		goto out;
	}
	if (!aws_profile_exists(buf, profile)) {
		if (explicit_profile) {
			snprintf(err, errlen,
				 "AWS credentials file %s has no profile [%s]; add it or choose another "
				 "profile",
				 file, profile);
			r = -ENOKEY;
		}
		goto out;
	}
	if ((r = lookup(buf, profile, "aws_access_key_id", &akid)) < 0 ||
	    (r = lookup(buf, profile, "aws_secret_access_key", &secret)) < 0 ||
	    (r = lookup(buf, profile, "aws_session_token", &token)) < 0)
		goto out;
	if (!akid || !secret || !*akid || !*secret) {
		snprintf(err, errlen,
			 "AWS credentials file %s: profile [%s] lacks aws_access_key_id or "
			 "aws_secret_access_key",
			 file, profile);
		r = -EINVAL;
		goto out;
	}
	r = creds_new(akid, secret, token, 0, "shared-credentials-file", ret);
	if (r == 0)
		r = 1;
out:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	free(akid);
	secret_free(secret);
	secret_free(token);
	free(path);
	return r;
}

static int64_t parse_iso8601_ms(const char *s)
{
	struct tm tm = {0};
	const char *end;

	if (!s || !(end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

static int imds_get(const char *base, const char *path, const char *token, int64_t timeout_ms, char **ret_body,
		    long *ret_status, char *err, size_t errlen)
{
	char url[1024], hdr[1200];
	const char *hdrs[] = {hdr, NULL};
	struct http_response *resp = NULL;
	int r;

	snprintf(url, sizeof(url), "%s%s", base, path);
	if (token)
		snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", token);
	else
		snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token-ttl-seconds: 21600");
	struct http_request req = {
	    .method = token ? "GET" : "PUT",
	    .url = url,
	    .headers = hdrs,
	    .timeout_ms = timeout_ms,
	    .max_body = 64 * 1024,
	};
	r = http_perform(&req, &resp, err, errlen);
	if (r < 0)
		return r;
	*ret_status = resp->status;
	*ret_body = resp->body;
	resp->body = NULL;
	http_response_free(resp);
	return 0;
}

static int from_imds(const struct aws_cred_options *o, struct aws_credentials **ret, char *err, size_t errlen)
{
	const char *base = o->imds_endpoint;
	int64_t timeout = o->imds_timeout_ms > 0 ? o->imds_timeout_ms : 1000;
	char *token = NULL, *role = NULL, *body = NULL, path[512], base_buf[512];
	json_t *j = NULL;
	long status;
	int r;

	if (!base)
		base = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!base || !*base)
		base = "http://169.254.169.254";
	snprintf(base_buf, sizeof(base_buf), "%s", base);
	for (size_t n = strlen(base_buf); n > 0 && base_buf[n - 1] == '/'; n--)
		base_buf[n - 1] = '\0';

	pthread_mutex_lock(&imds_lock);
	if (imds_cache && (imds_cache->expires_ms == 0 || imds_cache->expires_ms - 5 * 60 * 1000 > rd_wall_ms())) {
		r = creds_new(imds_cache->access_key_id, imds_cache->secret_access_key, imds_cache->session_token,
			      imds_cache->expires_ms, "imds", ret);
		pthread_mutex_unlock(&imds_lock);
		return r < 0 ? r : 1;
	}
	pthread_mutex_unlock(&imds_lock);

	r = imds_get(base_buf, "/latest/api/token", NULL, timeout, &token, &status, err, errlen);
	if (r < 0 || status != 200) {
		r = 0; /* not on EC2: the chain just ends here */
		goto out;
	}
	r = imds_get(base_buf, "/latest/meta-data/iam/security-credentials/", token, timeout, &role, &status, err,
		     errlen);
	if (r < 0 || status != 200) {
		r = 0;
		goto out;
	}
	role[strcspn(role, "\r\n")] = '\0';
	if (!*role || strchr(role, '/') || strlen(role) > 200) {
		r = 0;
		goto out;
	}
	snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%s", role);
	r = imds_get(base_buf, path, token, timeout, &body, &status, err, errlen);
	if (r < 0 || status != 200) {
		snprintf(err, errlen, "EC2 instance metadata: cannot read the credentials of role '%s' (HTTP %ld)",
			 role, r < 0 ? 0L : status);
		r = -EIO;
		goto out;
	}
	j = json_loads(body, 0, NULL);
	const char *akid = json_string_value(json_object_get(j, "AccessKeyId"));
	const char *secret = json_string_value(json_object_get(j, "SecretAccessKey"));
	const char *tok = json_string_value(json_object_get(j, "Token"));
	if (!akid || !secret) {
		snprintf(err, errlen, "EC2 instance metadata: credentials of role '%s' are malformed", role);
		r = -EIO;
		goto out;
	}
	r = creds_new(akid, secret, tok, parse_iso8601_ms(json_string_value(json_object_get(j, "Expiration"))), "imds",
		      ret);
	if (r < 0)
		goto out;
	pthread_mutex_lock(&imds_lock);
	aws_credentials_free(imds_cache);
	imds_cache = NULL;
	creds_new(akid, secret, tok, (*ret)->expires_ms, "imds", &imds_cache);
	pthread_mutex_unlock(&imds_lock);
	r = 1;
out:
	json_decref(j);
	free(token);
	free(role);
	if (body) {
		explicit_bzero(body, strlen(body));
		free(body);
	}
	return r;
}

int aws_credentials_resolve(const struct aws_cred_options *o, struct aws_credentials **ret, char *err, size_t errlen)
{
	static const struct aws_cred_options none = {0};
	int r;

	if (!o)
		o = &none;
	if (o->access_key_id || o->secret_access_key) {
		if (!o->access_key_id || !o->secret_access_key || !*o->access_key_id || !*o->secret_access_key) {
			snprintf(err, errlen,
				 "set both access_key_id and secret_access_key, or neither (to use the "
				 "environment, ~/.aws/credentials or instance metadata)");
			return -EINVAL;
		}
		return creds_new(o->access_key_id, o->secret_access_key, o->session_token, 0, "config", ret);
	}
	if (!o->no_env) {
		const char *a = getenv("AWS_ACCESS_KEY_ID"), *s = getenv("AWS_SECRET_ACCESS_KEY");
		if (a && *a && s && *s)
			return creds_new(a, s, getenv("AWS_SESSION_TOKEN"), 0, "environment", ret);
	}
	r = from_file(o, ret, err, errlen);
	if (r != 0)
		return r < 0 ? r : 0;
	if (!o->no_imds) {
		const char *dis = o->no_env ? NULL : getenv("AWS_EC2_METADATA_DISABLED");
		if (!dis || strcasecmp(dis, "true") != 0) {
			r = from_imds(o, ret, err, errlen);
			if (r != 0)
				return r < 0 ? r : 0;
		}
	}
	snprintf(err, errlen,
		 "no AWS credentials found: set access_key_id and secret_access_key in the config, or "
		 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials, or run on EC2 "
		 "with an instance role");
	return -ENOKEY;
}
