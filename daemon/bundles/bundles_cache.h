/* The content-addressed bundle store behind daemon/bundles/bundles.h, independent of
 * the rest of the daemon so it can be unit-tested on its own.
 *
 * Layout under dir:
 *   objects/<sha256>            validated bundles, read-only, mtime = last use
 *   loc/<sha256 of location key> "<sha256> <bundleType>\n": memo of immutable locations;
 *                               for other locations, followed by the validators the
 *                               source gave ("etag <v>\n", "last-modified <v>\n")
 *   refs/d-<deployment id>      "<sha256>\n": pinned by an active deployment
 *   refs/g-<group id>           "<sha256>\n": a group's last successful revision
 *   tmp/                        partial fetches and uploads (emptied at start)
 * Every file is written to tmp/ (or next to its target) and renamed into place,
 * so a crash leaves either the old state or the new one.
 *
 * Thread-safe: every function may be called from any thread; bcache_ensure()
 * and bcache_commit() block on disk and on the fetch callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bcache;
struct rd_error;

#define BCACHE_DEFAULT_MAX_BYTES (10ULL << 30) /* the size cap when none is configured: 10 GiB */

/* A bundle in the cache. */
struct cached_bundle {
	char sha256[65];     /* lower-case hex of the bundle file */
	uint64_t size;	     /* bytes */
	char bundle_type[8]; /* "zip", "tar" or "tgz" (from the content); "YAML"/"JSON" for AppSpec files */
};

/* A source's validators of a bundle (HTTP ETag and Last-Modified), kept
 * with a location that does not pin its content so the next fetch can be a
 * conditional one. "" when the source gave none. */
struct bcache_validators {
	char etag[256];
	char last_modified[64];
};

/* One fetch. In: tmp_path, and for a location that does not pin its content
 * what the cache holds for it from an earlier fetch (have, with the
 * validators have_v; NULL when nothing is held or the source gave no
 * validators). Out: bundle_type, the validators of what was fetched, or
 * not_modified when the source says the held bundle is still current. */
struct bcache_fetch {
	const char *tmp_path;
	const struct cached_bundle *have;
	const struct bcache_validators *have_v;
	char bundle_type[8];
	struct bcache_validators got_v;
	bool not_modified;
};

/* Writes the bundle into f->tmp_path (an existing empty file, mode 0600)
 * and fills f->bundle_type ("zip", "tar", "tgz", or "YAML"/"JSON" for a
 * Lambda/ECS AppSpec file). Archive types are re-detected from the content;
 * YAML/JSON are kept as claimed. With f->have it may instead set
 * f->not_modified and write nothing. 0 or negative errno, with err's code a
 * deployment ErrorCode and its message one a user can act on. */
typedef int (*bcache_fetch_fn)(void *ctx, struct bcache_fetch *f, struct rd_error *err);
/* Validates a fetched bundle before it enters the cache (pre-flight). */
typedef int (*bcache_check_fn)(void *ctx, const char *path, const struct cached_bundle *info, struct rd_error *err);

int bcache_new(const char *dir, uint64_t max_bytes, struct bcache **ret);
/* Waits for nothing: callers must have finished. NULL-safe; returns NULL. */
struct bcache *bcache_free(struct bcache *c);

const char *bcache_dir(const struct bcache *c);
uint64_t bcache_max_bytes(const struct bcache *c);

/* Single-flight fetch. key identifies the location (canonical string);
 * callers passing the same key concurrently share one fetch and its result.
 * With cacheable, the key -> sha256 mapping is remembered (on disk), and a
 * later call is answered from the cache without fetching. Without it, the
 * bundle last fetched for the key and its validators are remembered too, and
 * handed to the next fetch (revalidation): a not_modified answer is served
 * from the cache. expect_sha256 (may be NULL) is checked against what was
 * fetched. check (may be NULL) runs on bundles not yet in the cache. */
int bcache_ensure(struct bcache *c, const char *key, bool cacheable, const char *expect_sha256, bcache_fetch_fn fetch,
		  bcache_check_fn check, void *ctx, struct cached_bundle *ret, struct rd_error *err);

/* Creates an empty file in tmp/ for an upload; path gets its name. */
int bcache_tmpfile(struct bcache *c, char *path, size_t pathlen, int *ret_fd);
/* Moves a finished tmp file (whose sha256 the caller computed) into the
 * cache after check; removes tmp_path in every case. */
int bcache_commit(struct bcache *c, const char *tmp_path, const char *sha256, const char *bundle_type,
		  bcache_check_fn check, void *ctx, struct cached_bundle *ret, struct rd_error *err);

/* Looks up a cached bundle: 0 and *ret, or -ENOENT. */
int bcache_lookup(struct bcache *c, const char *sha256, struct cached_bundle *ret);
int bcache_path(struct bcache *c, const char *sha256, char *buf, size_t buflen);

int bcache_pin(struct bcache *c, const char *sha256, const char *deployment_id);
int bcache_unpin(struct bcache *c, const char *deployment_id);
int bcache_set_last_good(struct bcache *c, const char *group_id, const char *sha256);
int bcache_grant(struct bcache *c, const char *deployment_id, const char *instance_name);
/* Whether instance_name was granted a deployment pinning sha256. */
bool bcache_granted(struct bcache *c, const char *sha256, const char *instance_name);

/* Never removes pinned bundles nor ones used in the last BCACHE_GC_GRACE_S
 * seconds (just fetched, about to be pinned). */
#define BCACHE_GC_GRACE_S 120
int bcache_gc(struct bcache *c, uint64_t max_bytes, uint64_t *ret_freed);

/* sha256 of a file as 64 hex + NUL. */
int bcache_sha256_file(const char *path, char out[65], uint64_t *ret_size);
bool bcache_valid_sha256(const char *s);
bool bcache_valid_type(const char *t);
/* "YAML" / "JSON": an AppSpec file for Lambda/ECS, not an archive. */
bool bcache_is_appspec_type(const char *t);

/* A Range header against a file of size bytes. 0: no header (whole file);
 * 1: ret_off and ret_len set (206); -EINVAL: malformed or several ranges
 * (serve the whole file, as RFC 9110 allows); -ERANGE: unsatisfiable (416). */
int bcache_parse_range(const char *hdr, uint64_t size, uint64_t *ret_off, uint64_t *ret_len);
