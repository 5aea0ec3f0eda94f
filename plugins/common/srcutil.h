/* Small helpers shared by the source plugins (s3, github, bitbucket, http).
 * Compiled into each plugin (plugins link nothing of rolloutd's). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Reads at most len-1 bytes of the start of path, NUL-terminated. 0 or -errno. */
int src_read_head(const char *path, char *buf, size_t len);

/* Text of the first <tag>...</tag> in xml into out ("" when absent). */
void src_xml_tag(const char *xml, const char *tag, char *out, size_t outlen);

/* Percent-encodes everything except RFC 3986 unreserved characters (and '/'
 * when keep_slash). 0 or -ENOSPC. */
int src_uri_encode(const char *in, bool keep_slash, char *out, size_t outlen);

/* "zip"/"tar"/"tgz" from a file name's extension (.zip, .tar, .tgz, .tar.gz), or NULL. */
const char *src_type_from_name(const char *name);

/* Whether s is a bundle type a server deployment can use. */
bool src_valid_type(const char *s);

/* One message line out of an error body (JSON "message", XML <Message>, or
 * the first line of text), truncated; "" when nothing useful. */
void src_error_text(const char *body, char *out, size_t outlen);

/* Copies s without trailing '/' characters into out. 0 or -ENOSPC. */
int src_strip_slash(const char *s, char *out, size_t outlen);
