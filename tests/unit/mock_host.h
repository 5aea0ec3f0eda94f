/* A mock host table for the health plugin unit tests: http_request answers
 * from a small table of canned responses keyed by URL prefix and records
 * the last request. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rollout/plugin.h>

struct rollout_http_response {
	long status;
	char *body;
};

struct mock_answer {
	const char *url_prefix;
	long status; /* 0: transport error */
	const char *body;
};

static struct {
	const struct mock_answer *answers;
	char last_url[8192];
	char last_body[4096];
	char last_service[32];
	int calls;
} MOCK;

static void mock_log(struct rollout_handle *h, int level, const char *fmt, ...)
{
	(void)h;
	(void)level;
	(void)fmt;
}

static int mock_http_request(struct rollout_handle *h, const struct rollout_http_request *req,
			     struct rollout_http_response **ret, char *err, size_t errlen)
{
	(void)h;
	MOCK.calls++;
	snprintf(MOCK.last_url, sizeof(MOCK.last_url), "%s", req->url);
	snprintf(MOCK.last_body, sizeof(MOCK.last_body), "%.*s", (int)req->body_len,
		 req->body ? (const char *)req->body : "");
	snprintf(MOCK.last_service, sizeof(MOCK.last_service), "%s", req->aws_service ? req->aws_service : "");
	for (const struct mock_answer *a = MOCK.answers; a && a->url_prefix; a++) {
		if (strncmp(req->url, a->url_prefix, strlen(a->url_prefix)) != 0)
			continue;
		if (a->status == 0) {
			snprintf(err, errlen, "connection refused");
			return -ECONNREFUSED;
		}
		*ret = calloc(1, sizeof(**ret));
		(*ret)->status = a->status;
		(*ret)->body = strdup(a->body ? a->body : "");
		return 0;
	}
	snprintf(err, errlen, "no mock answer for %s", req->url);
	return -EHOSTUNREACH;
}

static long mock_http_status(const struct rollout_http_response *r)
{
	return r->status;
}

static const char *mock_http_body(const struct rollout_http_response *r, size_t *len)
{
	if (len)
		*len = strlen(r->body);
	return r->body;
}

static struct rollout_http_response *mock_http_free(struct rollout_http_response *r)
{
	if (r)
		free(r->body);
	free(r);
	return NULL;
}

static const struct rollout_host mock_host = {
    .size = sizeof(struct rollout_host),
    .log = mock_log,
    .http_request = mock_http_request,
    .http_status = mock_http_status,
    .http_body = mock_http_body,
    .http_free = mock_http_free,
};
