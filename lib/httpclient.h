/* A small blocking HTTP client on libcurl (one easy handle per request),
 * with AWS SigV4 signing done by libcurl itself (CURLOPT_AWS_SIGV4).
 * Used by the daemon's host table (plugins), the agent and the cli.
 * Library code: returns errors with a message, never logs. Thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aws_credentials;

struct http_request {
	const char *method; /* NULL = GET */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value", or NULL */
	const void *body;
	size_t body_len;
	int64_t timeout_ms;	    /* whole transfer; 0 = 60 s */
	int64_t connect_timeout_ms; /* 0 = min(timeout, 10 s) */
	const char *output_path;    /* stream the body here (0600), hashing it */
	size_t max_body;	    /* in-memory cap; 0 = 16 MiB */
	bool follow_redirects;
	/* SigV4: both set to sign. */
	const char *aws_service;
	const char *aws_region;
	const struct aws_credentials *aws_creds;
	const char *ca_file; /* extra CA bundle (tests, private CAs), or NULL */
};

struct http_header {
	char *name;
	char *value;
};

struct http_response {
	unsigned magic; /* HTTP_RESPONSE_MAGIC while alive */
	long status;
	char *body; /* NUL-terminated; "" with output_path */
	size_t body_len;
	struct http_header *headers; /* of the final response */
	size_t n_headers;
	uint64_t out_bytes;
	char out_sha256[65];
};

#define HTTP_RESPONSE_MAGIC 0x48524553u /* "HRES" */

/* Performs req. 0 when any HTTP response arrived (check status); negative
 * errno with a one-line message otherwise: -EINVAL bad request, -ETIMEDOUT,
 * -ECONNREFUSED, -EHOSTUNREACH, -EFBIG body over max_body, -EIO others.
 * *ret owned by the caller (http_response_free). */
int http_perform(const struct http_request *req, struct http_response **ret, char *err, size_t errlen);
struct http_response *http_response_free(struct http_response *resp);
/* Last header of that name (case-insensitive), borrowed, or NULL. */
const char *http_response_header(const struct http_response *resp, const char *name);

/* "aws:amz:REGION:SERVICE" into out; -EINVAL when a part has ':' or is empty. */
int http_sigv4_param(const char *region, const char *service, char *out, size_t outlen);
