/* Server-side AWS Signature Version 4 verification (AWS4-HMAC-SHA256,
 * Authorization header form). Signing on clients is libcurl's / botocore's
 * job; sigv4_signature() exists so verification can be tested.
 *
 * Library code: returns 0 / negative errno with a message, never logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIGV4_MAX_SKEW_S (15 * 60)

struct sigv4_header {
	const char *name; /* any case */
	const char *value;
};

/* The request as received. path is the raw (still percent-encoded) path,
 * query the raw query string without '?' (NULL or "" when none). Headers
 * with the same name are joined with ',' as SigV4 prescribes. */
struct sigv4_request {
	const char *method;
	const char *path;
	const char *query;
	const struct sigv4_header *headers;
	size_t n_headers;
	const void *body;
	size_t body_len;
};

/* The parsed Authorization header. */
struct sigv4_auth {
	char access_key[129];
	char date[9]; /* yyyymmdd of the scope */
	char region[64];
	char service[64];
	char signed_headers[1024]; /* "content-type;host;..." */
	char signature[65];	   /* lower-case hex */
};

/* Parses "AWS4-HMAC-SHA256 Credential=K/D/R/S/aws4_request, SignedHeaders=...,
 * Signature=...". -EINVAL with a message when malformed. */
int sigv4_parse_authorization(const char *authorization, struct sigv4_auth *ret, char *err, size_t errlen);

/* Computes the hex signature of req for the given scope, X-Amz-Date value
 * and secret. The body hash is X-Amz-Content-Sha256 when that header is
 * signed and not UNSIGNED-PAYLOAD, else sha256(body). */
int sigv4_signature(const struct sigv4_request *req, const struct sigv4_auth *auth, const char *amz_date,
		    const char *secret, char ret_hex[65], char *err, size_t errlen);

/* Verifies req against auth and secret at wall time now_s:
 *   -EINVAL    malformed (missing X-Amz-Date, scope date mismatch, a signed
 *              header absent, host not signed)
 *   -ETIMEDOUT X-Amz-Date more than max_skew_s away from now ("Signature expired…")
 *   -EBADMSG   the body does not match a signed X-Amz-Content-Sha256
 *   -EACCES    the signature does not match
 * Message in err for each. Constant-time comparison. */
int sigv4_verify(const struct sigv4_request *req, const struct sigv4_auth *auth, const char *secret, int64_t now_s,
		 int64_t max_skew_s, char *err, size_t errlen);

/* Looks a header up by case-insensitive name (first match); NULL if absent. */
const char *sigv4_header_get(const struct sigv4_request *req, const char *name);

/* Parses "YYYYMMDDTHHMMSSZ" into epoch seconds. -EINVAL if malformed. */
int sigv4_parse_amz_date(const char *s, int64_t *ret_epoch);
