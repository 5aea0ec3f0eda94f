/* The daemon's bundle cache.
 *
 * Every revision a deployment needs is fetched once, by the source plugin of
 * its revision type, into a content-addressed cache under
 * <data_dir>/bundles/, validated (appspec.yml present and valid, every hook
 * script it names present and executable) and served to agents at
 * GET /bundles/<sha256>. Hosts therefore need no cloud credentials.
 *
 * Threads: bundles_ensure() blocks (network, disk) and must be called from a
 * worker thread (daemon/core/workpool.h), never from the I/O thread. Every other
 * function here is short, thread-safe and may be called from any thread.
 *
 * Revision JSON: a CodeDeploy RevisionLocation object, i.e. exactly what
 * CreateDeployment / RegisterApplicationRevision carry in "revision". The
 * daemon serves one type itself, the uploaded bundles of its cache
 * (docs/api-extensions.md):
 *   {"revisionType": "Bundle", "bundleLocation": {sha256, bundleType, size?}}
 * Every other type is served by the source plugin that declares it (e.g.
 * "S3" with "s3Location"): the plugin names the member holding the location
 * (the cache key) and says whether a location pins its content (fetched
 * once) and which sha256 it promises (source ops location_members and
 * describe in rollout/plugin.h). "String" and "AppSpecContent" revisions
 * have no bundle: bundles_ensure() answers -EINVAL with errcode
 * INVALID_REVISION for them (the engine of Lambda/ECS deployments does not
 * call it).
 *
 * BUNDLE_* environment variables: the engine keeps the ORIGINAL location in
 * the deployment specification's "Revision" (S3Revision / GitHubRevision), so
 * the agent still sets BUNDLE_BUCKET/KEY/VERSION/ETAG or BUNDLE_COMMIT from it
 * exactly as CodeDeploy does; only the download comes from the daemon, through
 * the spec extension "RolloutBundle": {"Url", "Sha256", "Size"} built with
 * bundles_url() and the cached_bundle (bundles_cache.h). For the extension revision types
 * (Bitbucket, HTTP, Bundle), which the official agent cannot download, the
 * spec's Revision carries the original location under "Location"; our agent
 * downloads from RolloutBundle and sets BUNDLE_COMMIT (Bitbucket), BUNDLE_URL
 * and BUNDLE_SHA256 (HTTP) or BUNDLE_SHA256 (Bundle) from it.
 *
 * Garbage collection keeps the cache under its size cap (least recently used
 * first) and never removes a bundle that is pinned, i.e. referenced by an
 * active deployment (bundles_pin) or by a deployment group's last successful
 * revision (bundles_set_last_good). Pins and last-good marks are persistent
 * (files under <data_dir>/bundles/refs/), so they survive a restart.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "bundles/bundles_cache.h" /* struct cached_bundle */
#include "core/error.h"

struct bcache;
struct rd_daemon;

/* Creates <data_dir>/bundles/ and the cache state. Called once by main.c
 * after the store and plugins are up; returns 0 or negative errno with a
 * message. The HTTP routes over the cache are bundles_routes.h's. */
int bundles_start(struct rd_daemon *d, struct rd_error *err);
/* Waits for in-flight fetches to finish; safe to call when start failed. */
void bundles_stop(struct rd_daemon *d);
/* The process's cache (NULL before bundles_start / after bundles_stop), for
 * code that works on it directly (bundles_cache.h), such as the routes. */
struct bcache *bundles_cache(struct rd_daemon *d);

/* Pre-flight of a bundle file: appspec present and valid, hook scripts
 * present and executable, files[].source present. 0 or negative errno with
 * err's code INVALID_REVISION (or INTERNAL_ERROR) and a user-facing message. */
int bundles_preflight(const char *path, struct rd_error *err);

/* Makes sure the bundle of revision_json (a RevisionLocation, see above) is in
 * the cache and valid, fetching it when needed. Blocks: call from a worker.
 * Several callers asking for the same revision at the same time share one
 * fetch (single-flight); a location its plugin says pins its content (an
 * S3 version or eTag, a full commit id, a promised sha256) is fetched at
 * most once per cache lifetime.
 *
 * On success fills *ret and returns 0. On failure returns a negative errno
 * and sets err's code to one of the deployment ErrorCode values
 *   INVALID_REVISION      the bundle is unusable (bad/missing appspec, hook
 *                         script missing or not executable, bad archive,
 *                         sha256/eTag/version mismatch, malformed location)
 *   REVISION_MISSING      the source says it does not exist (404, no such
 *                         bucket/key/version/commit), or no plugin serves
 *                         the revision type
 *   MISSING_GITHUB_TOKEN  GitHub/Bitbucket refused for lack of credentials
 *   THROTTLED             the source throttled us
 *   INTERNAL_ERROR        anything else (disk full, network down, ...)
 * and its message to one line a user can act on (what is wrong, how to fix
 * it). err may be NULL. The caller fails the deployment with it as
 * errorInformation {code, message} before any lifecycle event runs. */
int bundles_ensure(struct rd_daemon *d, const char *revision_json, struct cached_bundle *ret, struct rd_error *err);

/* The same, for a deployment of compute_platform ("Server", "Lambda", "ECS";
 * NULL = unknown, as bundles_ensure). An S3 revision may be an AppSpec file
 * (bundleType YAML or JSON, for Lambda/ECS): it is cached as is with
 * bundle_type "YAML"/"JSON" and no archive pre-flight; for "Server" it is
 * refused with INVALID_REVISION. With NULL, a caller deploying to servers must
 * refuse bundle_type YAML/JSON itself. */
int bundles_ensure_platform(struct rd_daemon *d, const char *revision_json, const char *compute_platform,
			    struct cached_bundle *ret, struct rd_error *err);

/* For a deployment that installs again what an earlier one installed (an
 * automatic rollback, the last successful revision deployed to new
 * instances): held_sha256 is the bundle that deployment had. When the cache
 * still holds it, it is the answer and the source is not asked at all (the
 * content is named by its hash, whatever the location holds now). Else, or
 * with held_sha256 NULL or "", as bundles_ensure_platform. */
int bundles_ensure_held(struct rd_daemon *d, const char *revision_json, const char *held_sha256,
			const char *compute_platform, struct cached_bundle *ret, struct rd_error *err);

/* The bundle sha256 from the cache; on a store the daemons of a cluster
 * share, copied from the database into the cache first when the cache lacks
 * it. Blocks: call from a worker. 0 and *ret, or a negative errno with err
 * (REVISION_MISSING when no daemon has it). */
int bundles_lookup(struct rd_daemon *d, const char *sha256, struct cached_bundle *ret, struct rd_error *err);
/* Stores the cached bundle b in the database the daemons share, unless it
 * is there already; 0 at once on SQLite. Blocks. 0 or negative errno with err. */
int bundles_share(struct rd_daemon *d, const struct cached_bundle *b, struct rd_error *err);
/* Whether the agent of instance_name may GET bundle sha256: granted by this
 * daemon's engine (bundles_grant), or, on a shared store, a target of an
 * unfinished deployment of it driven by another daemon. Blocks on the store. */
bool bundles_granted(struct rd_daemon *d, const char *sha256, const char *instance_name);

/* Pins sha256 for an active deployment so GC keeps it, until
 * bundles_unpin(deployment_id). Idempotent. 0, -ENOENT (not cached), -errno. */
int bundles_pin(struct rd_daemon *d, const char *sha256, const char *deployment_id);
int bundles_unpin(struct rd_daemon *d, const char *deployment_id);

/* Records sha256 as the last successful revision of a deployment group
 * (replacing the previous mark), so GC keeps it for rollbacks. */
int bundles_set_last_good(struct rd_daemon *d, const char *deployment_group_id, const char *sha256);

/* Allows the agent key bound to instance_name to GET the bundle pinned by
 * deployment_id. Admin and deployer keys may GET any bundle; agent keys only
 * bundles of deployments they were granted. Grants live in memory and end
 * with bundles_unpin(deployment_id); after a restart the engine grants again
 * when it resumes a deployment. 0, -ENOENT (deployment not pinned), -ENOMEM. */
int bundles_grant(struct rd_daemon *d, const char *deployment_id, const char *instance_name);

/* The download URL for the spec's RolloutBundle.Url: base (e.g.
 * "https://deploy.example:8740", no trailing slash) + "/bundles/<sha256>".
 * With base NULL or "" the URL is the bare path "/bundles/<sha256>", which
 * agents resolve against their configured endpoint. 0 or -ENOSPC. */
int bundles_url(const char *base, const char *sha256, char *buf, size_t buflen);

/* Absolute path of a cached bundle (for the engine or tests). 0, -ENOENT, -ENOSPC. */
int bundles_path(struct rd_daemon *d, const char *sha256, char *buf, size_t buflen);

/* Removes least-recently-used unpinned bundles until the cache is at most
 * max_bytes (0 = the configured cap). *ret_freed (may be NULL) gets the bytes
 * removed. Runs automatically after each fetch or upload. */
int bundles_gc(struct rd_daemon *d, uint64_t max_bytes, uint64_t *ret_freed);
