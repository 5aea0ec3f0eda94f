/* Small helpers shared by the source plugins (s3, github, bitbucket, http).
 * Compiled into each plugin (plugins link nothing of rolloutd's). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <rollout/plugin.h>

/* Reads at most len-1 bytes of the start of path, NUL-terminated. 0 or -errno. */
int src_read_head(const char *path, char *buf, size_t len);

/* Code and Message of an AWS XML error body (S3's <Error>, the query APIs'
 * <ErrorResponse>), through the host's XML helper; "" when body is none. */
void src_aws_error(const struct rollout_host *host, struct rollout_handle *h, const char *body, char *code,
		   size_t codelen, char *msg, size_t msglen);

/* "zip"/"tar"/"tgz" from a file name's extension (.zip, .tar, .tgz, .tar.gz), or NULL. */
const char *src_type_from_name(const char *name);

/* Whether s is a bundle type a server deployment can use. */
bool src_valid_type(const char *s);

/* One message line out of an error body (an AWS XML error's Message, a
 * JSON object's "message", or the first line of text), truncated; "" when
 * nothing useful. */
void src_error_text(const struct rollout_host *host, struct rollout_handle *h, const char *body, char *out,
		    size_t outlen);

/* Whether s is a full 40-hex commit id (names one content, unlike a short
 * id or a branch). */
bool src_full_commit(const char *s);

/* Copies s without trailing '/' characters into out. 0 or -ENOSPC. */
int src_strip_slash(const char *s, char *out, size_t outlen);
