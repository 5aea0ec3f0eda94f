/* A small YAML document tree on top of libyaml, shared by the daemon config,
 * the agent config and the appspec parser.
 *
 * Every node remembers where it came from (file name, 1-based line and
 * column), so callers can write errors as "FILE:LINE:COL: what is wrong".
 * Aliases are refused (no billion-laughs), depth and node count are capped,
 * and duplicate mapping keys are an error. Library code: never logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum yt_type { YT_SCALAR = 1, YT_MAP, YT_SEQ };

struct yt_node {
	enum yt_type type;
	char *value;		/* YT_SCALAR: the text; NULL otherwise */
	bool plain;		/* scalar was unquoted (so "null", "~", "" mean null) */
	unsigned line;		/* 1-based */
	unsigned col;		/* 1-based */
	const char *file;	/* borrowed from the root; valid while the tree lives */
	size_t n;		/* number of items (seq) or pairs (map) */
	struct yt_node **keys;	/* YT_MAP: scalar key nodes */
	struct yt_node **items; /* YT_MAP: values; YT_SEQ: items */
	char *file_owned;	/* set on the root only */
};

#define YT_MAX_DEPTH 64
#define YT_MAX_NODES 200000

/* Parse a whole file / buffer holding exactly one document (an empty
 * document gives an empty map). On error returns -EINVAL (or -errno for I/O)
 * and writes "FILE:LINE:COL: message" into err. *ret_root on success is
 * owned by the caller: free with yt_free(). */
int yt_parse_file(const char *path, size_t max_bytes, struct yt_node **ret_root, char *err, size_t errlen);
int yt_parse_buffer(const char *buf, size_t len, const char *name, struct yt_node **ret_root, char *err, size_t errlen);
struct yt_node *yt_free(struct yt_node *root);

/* Lookups. Return borrowed nodes or NULL. */
const struct yt_node *yt_map_get(const struct yt_node *map, const char *key);
bool yt_is_null(const struct yt_node *n);

/* Typed scalar conversions. Each returns 0 or -EINVAL with err set to
 * "FILE:LINE:COL: <what>: <why>" where <what> is the caller's name for the
 * value (e.g. "listen" or "plugins.s3.endpoint"). */
int yt_as_string(const struct yt_node *n, const char *what, const char **ret, char *err, size_t errlen);
int yt_as_int(const struct yt_node *n, const char *what, int64_t min, int64_t max, int64_t *ret, char *err,
	      size_t errlen);
int yt_as_bool(const struct yt_node *n, const char *what, bool *ret, char *err, size_t errlen);
/* "30", "30s", "5m", "2h", "250ms" -> milliseconds */
int yt_as_duration_ms(const struct yt_node *n, const char *what, int64_t min_ms, int64_t max_ms, int64_t *ret,
		      char *err, size_t errlen);

/* Writes "FILE:LINE:COL: " + formatted message into err. Returns -EINVAL. */
int yt_error(const struct yt_node *n, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Refuses a key of map that is not one of known[0..n): -EINVAL with err
 * "FILE:LINE:COL: <prefix>unknown setting 'K' (known: A, B, ...)", the
 * list made from known itself so that it cannot drift from what is read.
 * prefix: "" or e.g. "limits: ". 0 when every key is known. */
int yt_check_keys(const struct yt_node *map, const char *prefix, const char *const *known, size_t n, char *err,
		  size_t errlen);

/* Converts a (sub)tree to JSON text-equivalent values: scalars become
 * strings (plain true/false/null and numbers stay strings too: YAML typing
 * is the caller's business). Returns a new reference (json_t *) or NULL. */
struct json_t;
struct json_t *yt_to_json(const struct yt_node *n);
