#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "awsquery.h"
#include "uri.h"

int awsq_param(char *body, size_t cap, const char *name, const char *value)
{
	size_t n = strlen(body);
	int w = snprintf(body + n, cap - n, "&%s=", name);

	if (w < 0 || (size_t)w >= cap - n)
		return -ENOSPC;
	n += (size_t)w;
	return uri_encode(value, false, body + n, cap - n);
}

const char *awsq_region(const struct awsq *q, const struct rollout_deployment *dep)
{
	if (q->region)
		return q->region;
	if (dep && dep->size >= offsetof(struct rollout_deployment, account_id) && dep->region && *dep->region)
		return dep->region;
	return "us-east-1";
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool throttled(const char *code)
{
	return code && (!strcmp(code, "Throttling") || !strcmp(code, "ThrottlingException") ||
			!strcmp(code, "RequestLimitExceeded") || !strcmp(code, "RequestThrottled") ||
			!strcmp(code, "ServiceUnavailable") || !strcmp(code, "InternalError"));
}

static bool denied(const char *code)
{
	return code && (!strcmp(code, "AccessDenied") || !strcmp(code, "AccessDeniedException") ||
			!strcmp(code, "UnauthorizedOperation") || !strcmp(code, "AuthFailure") ||
			!strcmp(code, "InvalidClientTokenId") || !strcmp(code, "SignatureDoesNotMatch") ||
			!strcmp(code, "ExpiredToken"));
}

int awsq_call(const struct awsq *q, const struct awsq_service *svc, const struct rollout_deployment *dep,
	      const char *action, const char *params, const char *err_code, struct rollout_xml **ret,
	      struct rollout_error *err)
{
	static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
					      "Accept: text/xml", NULL};
	const char *region = awsq_region(q, dep);
	char url[1100], herr[512], ecode[128] = "", emsg[512] = "";
	size_t blen = strlen(action) + strlen(svc->version) + strlen(params) + 32;
	char *body = malloc(blen);
	int64_t backoff = 200;
	long status = 0;
	int r = -EIO;

	*ret = NULL;
	if (!body)
		return -ENOMEM;
	snprintf(body, blen, "Action=%s&Version=%s%s", action, svc->version, params);
	if (svc->endpoint)
		snprintf(url, sizeof(url), "%s", svc->endpoint);
	else
		snprintf(url, sizeof(url), "https://%s.%s.amazonaws.com/", svc->sigv4, region);
	for (int64_t attempt = 1;; attempt++) {
		struct rollout_http_response *resp = NULL;
		struct rollout_http_request req =
		    ROLLOUT_HTTP_REQUEST_INIT(.method = "POST", .url = url, .headers = headers, .body = body,
					      .body_len = strlen(body), .timeout_ms = q->timeout_ms,
					      .max_body = 16 << 20, .aws_service = svc->sigv4, .aws_region = region);
		struct rollout_xml *doc = NULL;
		const char *c = "", *m = "";
		bool retry;

		ecode[0] = emsg[0] = '\0';
		herr[0] = '\0';
		r = q->host->http_request(q->h, &req, &resp, herr, sizeof(herr));
		if (r == 0) {
			size_t len = 0;
			const char *b = q->host->http_body(resp, &len);
			char perr[256];
			status = q->host->http_status(resp);
			r = q->host->xml_parse(q->h, b ? b : "", b ? len : 0, &doc, perr, sizeof(perr));
			if (status == 200 && r == 0) {
				q->host->http_free(resp);
				free(body);
				*ret = doc;
				return 0;
			}
			if (r == 0 && q->host->xml_aws_error(doc, &c, &m) == 1) {
				snprintf(ecode, sizeof(ecode), "%s", c);
				snprintf(emsg, sizeof(emsg), "%s", m);
			} else {
				snprintf(ecode, sizeof(ecode), "HTTP %ld", status);
				snprintf(emsg, sizeof(emsg), "%.*s", (int)strcspn(b ? b : "", "\r\n"), b ? b : "");
				if (strlen(emsg) > 200)
					emsg[200] = '\0';
			}
			if (doc)
				q->host->xml_free(doc);
			q->host->http_free(resp);
			r = -EIO;
			retry = status >= 500 || status == 429 || throttled(ecode);
		} else {
			snprintf(emsg, sizeof(emsg), "%s", herr);
			retry = r != -ENOKEY && r != -EINVAL && r != -EACCES;
		}
		if (!retry || attempt >= q->max_attempts)
			break;
		sleep_ms(backoff);
		backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
	}
	free(body);
	if (!ecode[0] && r == -EACCES) /* the group's service role could not be assumed */
		return rollout_error_set(err, r, "IAM_ROLE_PERMISSIONS", "%s", emsg);
	if (!ecode[0])
		return rollout_error_set(err, r, r == -ENOKEY ? "IAM_ROLE_MISSING" : err_code,
					 "cannot reach %s at %.300s for %s: %s", svc->sigv4, url, action, emsg);
	if (denied(ecode) || status == 403)
		return rollout_error_set(err, -EACCES, "IAM_ROLE_PERMISSIONS",
					 "%s %s was refused: %s: %s; allow %s:%s to the credentials rolloutd uses",
					 svc->sigv4, action, ecode, emsg, svc->sigv4, action);
	return rollout_error_set(err, strstr(ecode, "NotFound") ? -ENOENT : -EIO, err_code, "%s %s failed: %s: %s",
				 svc->sigv4, action, ecode, emsg);
}
