/* URL helpers shared by the in-tree plugins that build URLs or form bodies
 * (s3, prometheus, cloudwatch, http-check). Compiled into each plugin
 * (plugins link nothing of rolloutd's). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Percent-encodes everything except RFC 3986 unreserved characters (and '/'
 * when keep_slash), as S3 paths and application/x-www-form-urlencoded query
 * bodies want it. 0 or -ENOSPC. */
int uri_encode(const char *in, bool keep_slash, char *out, size_t outlen);

/* Whether s is an http:// or https:// URL without whitespace. */
bool uri_is_http(const char *s);
