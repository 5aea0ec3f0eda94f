/* A small blocking HTTP client on libcurl (one easy handle per request,
 * or one per session), with AWS SigV4 signing done by libcurl itself
 * (CURLOPT_AWS_SIGV4). Used by the daemon's host table (plugins), the agent
 * and the cli. Library code: returns errors with a message, never logs.
 * Thread-safe; a session is used by one request at a time. */
#pragma once

#include <signal.h>
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
	int64_t timeout_ms;	    /* whole transfer; 0 = 60 s (see stall_timeout_ms) */
	int64_t connect_timeout_ms; /* 0 = min(timeout, 10 s) */
	const char *output_path;    /* stream the body here (0600), hashing it */
	size_t max_body;	    /* in-memory cap; 0 = 16 MiB */
	bool follow_redirects;
	/* SigV4: both set to sign. */
	const char *aws_service;
	const char *aws_region;
	const struct aws_credentials *aws_creds;
	const char *ca_file;	 /* the CAs to trust instead of the system's (private CAs), or NULL */
	const char *client_cert; /* PEM client certificate for TLS client authentication, or NULL */
	const char *client_key;	 /* its PEM private key */

	/* Optional (zero: off), for long polls and interruptible transfers. */
	const char *user_agent;	       /* NULL = "rolloutd/<version>" */
	struct http_session *session;  /* keep the connection for the next request */
	volatile sig_atomic_t *cancel; /* once set (a signal handler may): -ECANCELED */
	int (*tick)(void *ud);	       /* about once a second while it runs; < 0: -ECANCELED */
	void (*on_idle)(void *ud);     /* once, idle_after_ms in while no answer has come */
	int64_t idle_after_ms;
	void *ud;
	/* Ends the transfer when no byte moved for this long; timeout_ms 0
	 * then means no bound on the whole transfer (large downloads). */
	int64_t stall_timeout_ms;
	/* With output_path: keep what the file holds, ask for the rest with
	 * "Range: bytes=<size>-" and append; a 200 answer (Range ignored)
	 * starts the file over, and the body of an answer other than 200 or
	 * 206 goes to body instead of the file. out_sha256 then covers the
	 * whole file. */
	bool output_resume;
	/* With output_path: no fsync at the end (the caller verifies the file
	 * and can fetch it again after a crash). */
	bool output_no_sync;
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
 * -ECONNREFUSED, -EHOSTUNREACH, -EFBIG body over max_body, -ECANCELED
 * (cancel or tick), -EIO others. *ret owned by the caller
 * (http_response_free). A request with a session, cancel, tick or on_idle
 * waits in poll(2) on the connection and wakes up only for it (and once a
 * second with a tick), so an idle long poll costs no CPU. */
int http_perform(const struct http_request *req, struct http_response **ret, char *err, size_t errlen);
struct http_response *http_response_free(struct http_response *resp);
/* Last header of that name (case-insensitive), borrowed, or NULL. */
const char *http_response_header(const struct http_response *resp, const char *name);

/* "aws:amz:REGION:SERVICE" into out; -EINVAL when a part has ':' or is empty. */
int http_sigv4_param(const char *region, const char *service, char *out, size_t outlen);

/* s percent-encoded for a URL's path segment or query value (every byte but
 * A-Z a-z 0-9 - . _ ~), malloc'd; NULL when out of memory. */
char *http_url_escape(const char *s);

/* A kept-alive connection (and TLS session) for requests one after the
 * other. http_session_free accepts NULL and returns NULL. */
int http_session_new(struct http_session **ret);
struct http_session *http_session_free(struct http_session *s);
