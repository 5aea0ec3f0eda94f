/* STS AssumeRole for the AWS-calling plugins; see aws_assume.h. */
#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* timegm */
#endif
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/aws_assume.h"
#include "core/plugin_host.h"
#include "httpclient.h"
#include "util.h"

/* Temporary credentials are used until this long before they expire. */
#define ASSUME_REFRESH_MS (5 * 60 * 1000)
#define ASSUME_CACHE_MAX 64

struct cached {
	char *key; /* plugin, base access key, role, endpoint */
	struct aws_credentials *creds;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached cache[ASSUME_CACHE_MAX];
static __thread char current_role[2048];

void aws_assume_set_role(const char *role_arn)
{
	snprintf(current_role, sizeof(current_role), "%s", role_arn ? role_arn : "");
}

const char *aws_assume_current_role(void)
{
	return current_role[0] ? current_role : NULL;
}

static struct aws_credentials *creds_copy(const struct aws_credentials *c)
{
	struct aws_credentials *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->access_key_id = strdup(c->access_key_id);
	n->secret_access_key = strdup(c->secret_access_key);
	n->session_token = c->session_token ? strdup(c->session_token) : NULL;
	n->expires_ms = c->expires_ms;
	n->source = "sts-assume-role";
	if (!n->access_key_id || !n->secret_access_key || (c->session_token && !n->session_token))
		return aws_credentials_free(n);
	return n;
}

static struct aws_credentials *cache_get(const char *key)
{
	struct aws_credentials *r = NULL;

	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < ASSUME_CACHE_MAX; i++)
		if (cache[i].key && !strcmp(cache[i].key, key) &&
		    cache[i].creds->expires_ms - ASSUME_REFRESH_MS > rd_wall_ms()) {
			r = creds_copy(cache[i].creds);
			break;
		}
	pthread_mutex_unlock(&cache_lock);
	return r;
}

static void cache_put(const char *key, const struct aws_credentials *c)
{
	struct aws_credentials *n = creds_copy(c);
	char *k = strdup(key);
	size_t slot = 0;

	if (!n || !k) {
		aws_credentials_free(n);
		free(k);
		return;
	}
	pthread_mutex_lock(&cache_lock);
	/* the same key, else a free slot, else the one expiring first */
	for (size_t i = 0; i < ASSUME_CACHE_MAX; i++) {
		if (cache[i].key && !strcmp(cache[i].key, key)) {
			slot = i;
			break;
		}
		if (!cache[i].key || (cache[slot].key && cache[i].creds->expires_ms < cache[slot].creds->expires_ms))
			slot = i;
	}
	free(cache[slot].key);
	aws_credentials_free(cache[slot].creds);
	cache[slot].key = k;
	cache[slot].creds = n;
	pthread_mutex_unlock(&cache_lock);
}

void aws_assume_clear_cache(void)
{
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < ASSUME_CACHE_MAX; i++) {
		free(cache[i].key);
		aws_credentials_free(cache[i].creds);
		cache[i].key = NULL;
		cache[i].creds = NULL;
	}
	pthread_mutex_unlock(&cache_lock);
}

/* "2026-12-06T02:52:01Z" or with fractional seconds, as wall ms; 0 when not. */
static int64_t iso8601_ms(const char *s)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;

	if (!end)
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

int aws_assume_role(struct rollout_handle *h, const struct aws_credentials *base, const char *endpoint,
		    const char *region, const char *role_arn, struct aws_credentials **ret, char *err, size_t errlen)
{
	char *key = NULL, *role_q = NULL, *session_q = NULL, *body = NULL, url[1024], herr[512] = "";
	const char *headers[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL};
	struct http_response *resp = NULL;
	struct rollout_xml *doc = NULL;
	struct aws_credentials got = {0};
	struct http_request hr = {0};
	const char *code = "", *msg = "";
	int r;

	if (asprintf(&key, "%s\n%s\n%s\n%s", h->name, base->access_key_id, role_arn, endpoint ? endpoint : "") < 0)
		return -ENOMEM;
	if ((*ret = cache_get(key))) {
		free(key);
		return 0;
	}
	if (endpoint)
		snprintf(url, sizeof(url), "%s", endpoint);
	else
		snprintf(url, sizeof(url), "https://sts.%s.amazonaws.com/", region);
	role_q = http_url_escape(role_arn);
	{
		char session[64];
		snprintf(session, sizeof(session), "rolloutd-%.50s", h->name);
		session_q = http_url_escape(session);
	}
	if (!role_q || !session_q ||
	    asprintf(&body, "Action=AssumeRole&Version=2011-06-15&RoleArn=%s&RoleSessionName=%s&DurationSeconds=3600",
		     role_q, session_q) < 0) {
		body = NULL;
		r = -ENOMEM;
		goto out;
	}
	hr.method = "POST";
	hr.url = url;
	hr.headers = headers;
	hr.body = body;
	hr.body_len = strlen(body);
	hr.timeout_ms = 30000;
	hr.aws_service = "sts";
	hr.aws_region = region;
	hr.aws_creds = base;
	r = http_perform(&hr, &resp, herr, sizeof(herr));
	if (r < 0) {
		snprintf(err, errlen, "cannot reach STS at %s to assume role %s: %s", url, role_arn, herr);
		goto out;
	}
	r = host_xml_parse(h, resp->body ? resp->body : "", resp->body_len, &doc, herr, sizeof(herr));
	if (r == 0 && host_xml_aws_error(doc, &code, &msg) == 1) {
		bool denied = resp->status == 403 || strstr(code, "AccessDenied") || strstr(code, "NotAuthorized") ||
			      strstr(code, "InvalidClientTokenId");
		snprintf(err, errlen,
			 "STS AssumeRole of the deployment group's service role %s was refused: %s: %s; the role's "
			 "trust policy must let rolloutd's credentials assume it (sts:AssumeRole)",
			 role_arn, code, msg);
		r = denied ? -EACCES : -EIO;
		goto out;
	}
	if (r < 0 || resp->status != 200) {
		snprintf(err, errlen, "STS AssumeRole of %s answered HTTP %ld%s%s", role_arn, resp->status,
			 herr[0] ? ": " : "", herr);
		r = resp->status == 403 ? -EACCES : -EIO;
		goto out;
	}
	{
		const struct rollout_xml_node *c = host_xml_find(host_xml_root(doc), "AssumeRoleResult/Credentials");
		got.access_key_id = (char *)host_xml_text(c, "AccessKeyId");
		got.secret_access_key = (char *)host_xml_text(c, "SecretAccessKey");
		got.session_token = (char *)host_xml_text(c, "SessionToken");
		got.expires_ms = iso8601_ms(host_xml_text(c, "Expiration"));
	}
	if (!got.access_key_id || !got.secret_access_key || !got.expires_ms) {
		snprintf(err, errlen, "STS AssumeRole of %s answered no credentials", role_arn);
		r = -EIO;
		goto out;
	}
	cache_put(key, &got);
	*ret = creds_copy(&got);
	r = *ret ? 0 : -ENOMEM;
out:
	if (doc)
		host_xml_free(doc);
	http_response_free(resp);
	free(body);
	free(role_q);
	free(session_q);
	free(key);
	return r;
}
