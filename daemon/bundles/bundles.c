/* The daemon side of the bundle cache: revision JSON -> source plugin ->
 * content-addressed cache (bundles_cache.c), with pre-flight validation
 * through the shared appspec parser and bundle inspection (lib/). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "appspec.h"
#include "bundle.h"
#include "bundles/bundles.h"
#include "bundles/bundles_cache.h"
#include "core/metrics.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/error.h"
#include "log.h"
#include "core/plugins.h"
#include "jsonutil.h"
#include "store/store.h"
#include "util.h"

#define FETCH_TIMEOUT_MS (30LL * 60 * 1000)

/* One cache per process: struct rd_daemon has no slot for it yet. */
static struct bcache *the_cache;

struct bcache *bundles_cache(struct rd_daemon *d)
{
	(void)d;
	return the_cache;
}

int bundles_preflight(const char *path, struct rd_error *err)
{
	struct bundle_info *info = NULL;
	struct appspec *spec = NULL;
	const char *text, *name = NULL;
	char why[768] = "";
	size_t len = 0;
	int r;

	r = bundle_inspect(path, NULL, NULL, &info, why, sizeof(why));
	if (r < 0) {
		if (r == -EINVAL || r == -EFBIG)
			rd_error_set(err, r, "INVALID_REVISION",
				     "the revision's bundle cannot be used: %s; rebuild the archive (zip, tar or tgz) "
				     "from the application directory",
				     why[0] ? why : strerror(-r));
		else
			rd_error_set(err, r, "INTERNAL_ERROR", "could not read the revision's bundle: %s",
				     why[0] ? why : strerror(-r));
		goto out;
	}
	text = bundle_info_appspec(info, &len, &name);
	if (!text) {
		r = -ENOENT;
		rd_error_set(
		    err, r, "INVALID_REVISION",
		    "the revision has no appspec.yml (nor appspec.yaml) at the root of its bundle; add one next to "
		    "your application's files and create the revision again");
		goto out;
	}
	r = appspec_parse(text, len, name ? name : "appspec.yml", &spec, why, sizeof(why));
	if (r < 0) {
		rd_error_set(err, r, "INVALID_REVISION", "the revision's appspec is invalid: %s",
			     why[0] ? why : strerror(-r));
		goto out;
	}
	r = bundle_check_appspec(info, spec, true, why, sizeof(why));
	if (r < 0) {
		rd_error_set(err, r, "INVALID_REVISION", "the revision does not match its appspec: %s",
			     why[0] ? why : strerror(-r));
		goto out;
	}
	r = 0;
out:
	appspec_free(spec);
	bundle_info_free(info);
	return r;
}

struct fetch_ctx {
	struct rd_daemon *d;
	const struct plugin *p;
	const char *revision_json;
	const char *platform; /* "Server", "Lambda", "ECS" or NULL */
	char type[16];	      /* what the plugin fetched */
	bool fetched;	      /* the plugin ran: the cache did not have it */
	bool revalidated;     /* the plugin said the held bundle is current */
};

static int preflight_cb(void *ctx, const char *path, const struct cached_bundle *b, struct rd_error *err)
{
	/* A Lambda/ECS AppSpec file (S3 bundleType YAML/JSON) is no archive:
	 * the platform plugin reads it; nothing to open here. */
	struct fetch_ctx *fc = ctx;
	int r;

	if (bcache_is_appspec_type(b->bundle_type)) {
		if (fc && fc->platform && !strcmp(fc->platform, "Server")) {
			return rd_error_set(
			    err, -EINVAL, "INVALID_REVISION",
			    "the revision is a %s AppSpec file (for Lambda and ECS); a server deployment "
			    "needs a zip, tar or tgz bundle with appspec.yml and the application's files",
			    b->bundle_type);
		}
		return 0;
	}
	r = bundles_preflight(path, err);
	if (r < 0)
		rd_logt(LOG_NOTICE, "bundles", "bundle %s refused by pre-flight: %s", b->sha256,
			err ? err->message : "");
	return r;
}

int bundles_start(struct rd_daemon *d, struct rd_error *err)
{
	char dir[4096];
	int r;

	if (the_cache)
		return 0;
	if (snprintf(dir, sizeof(dir), "%s/bundles", d->cfg->data_dir) >= (int)sizeof(dir))
		return rd_error_set(err, -ENAMETOOLONG, "InvalidConfiguration",
				    "data_dir '%s' is too long; use a shorter path", d->cfg->data_dir);
	r = bcache_new(dir, d->cfg->bundle_cache_max, &the_cache);
	if (r < 0)
		return rd_error_set(err, r, "InternalFailure",
				    "cannot create the bundle cache in %s: %s; check that data_dir is writable", dir,
				    strerror(-r));
	return 0;
}

void bundles_stop(struct rd_daemon *d)
{
	(void)d;
	the_cache = bcache_free(the_cache);
}

/* ---- revision locations ---- */

static int plugin_fetch_cb(void *ctx, struct bcache_fetch *f, struct rd_error *err)
{
	struct fetch_ctx *fc = ctx;
	const struct rollout_source_ops *ops = fc->p->desc->ops.source;
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.compute_platform = fc->platform);
	struct rollout_fetch_result res = {.size = sizeof(res)};
	struct rollout_error e = {.size = sizeof(e)};
	bool conditional =
	    f->have && ROLLOUT_HAS(ops, struct rollout_source_ops, fetch_if_changed) && ops->fetch_if_changed;
	int64_t t0;
	int r;

	if (fc->d && fc->d->cfg) {
		dep.region = fc->d->cfg->region;
		dep.account_id = fc->d->cfg->account_id;
	}
	t0 = rd_mono_ms();
	if (conditional) {
		struct rollout_fetch_cached held = {.size = sizeof(held),
						    .sha256 = f->have->sha256,
						    .etag = f->have_v->etag[0] ? f->have_v->etag : NULL,
						    .last_modified =
							f->have_v->last_modified[0] ? f->have_v->last_modified : NULL};
		r = ops->fetch_if_changed(fc->p->state, &dep, fc->revision_json, &held, f->tmp_path, FETCH_TIMEOUT_MS,
					  &res, &e);
	} else {
		r = ops->fetch(fc->p->state, &dep, fc->revision_json, f->tmp_path, FETCH_TIMEOUT_MS, &res, &e);
	}
	fc->fetched = true;
	metric_plugin_op(fc->p->name, conditional ? "fetch_if_changed" : "fetch", t0, r);
	if (r < 0) {
		rd_logt(LOG_NOTICE, "bundles", "plugin %s could not fetch a revision: %s: %s", fc->p->name,
			e.code[0] ? e.code : "INTERNAL_ERROR", e.message);
		return rd_error_from_plugin(err, r, &e, "INTERNAL_ERROR");
	}
	res.etag[sizeof(res.etag) - 1] = '\0';
	res.last_modified[sizeof(res.last_modified) - 1] = '\0';
	rd_strlcpy(f->got_v.etag, res.etag, sizeof(f->got_v.etag));
	rd_strlcpy(f->got_v.last_modified, res.last_modified, sizeof(f->got_v.last_modified));
	if (conditional && res.not_modified) {
		f->not_modified = true;
		fc->revalidated = true;
		rd_logt(
		    LOG_INFO, "bundles",
		    "plugin %s: the revision did not change (bundle %.12s, %s %s), served from the cache in %" PRId64
		    " ms",
		    fc->p->name, f->have->sha256, f->have_v->etag[0] ? "ETag" : "Last-Modified",
		    f->have_v->etag[0] ? f->have_v->etag : f->have_v->last_modified, rd_mono_ms() - t0);
		return 0;
	}
	metric_observe(metric_histogram("rolloutd_bundle_fetch_duration_seconds", NULL,
					(const char *const[]){"source", NULL}, metric_seconds_buckets,
					metric_seconds_n_buckets),
		       (double)(rd_mono_ms() - t0) / 1000.0, fc->p->name);
	rd_strlcpy(f->bundle_type, res.bundle_type, sizeof(f->bundle_type));
	rd_strlcpy(fc->type, res.bundle_type, sizeof(fc->type));
	rd_logt(LOG_INFO, "bundles", "plugin %s fetched %" PRIu64 " bytes (%s%s%s)%s in %" PRId64 " ms", fc->p->name,
		res.bytes, res.bundle_type, res.version[0] ? ", " : "", res.version,
		conditional ? ", changed since the cached copy" : "", rd_mono_ms() - t0);
	return 0;
}

/* ---- the copy in a store the daemons of a cluster share ---- */

static bool shared(struct rd_daemon *d)
{
	return d && d->store && store_is_postgresql(d->store);
}

int bundles_share(struct rd_daemon *d, const struct cached_bundle *b, struct rd_error *err)
{
	struct store_bundle have;
	char p[4096];
	int fd, r;

	if (!shared(d) || !the_cache)
		return 0;
	if (store_bundle_stat(d->store, b->sha256, &have) == 0)
		return 0;
	r = bcache_path(the_cache, b->sha256, p, sizeof(p));
	fd = r < 0 ? -1 : open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rd_error_set(err, r < 0 ? r : -errno, "INTERNAL_ERROR",
				    "bundle %s left the cache before it was stored in the database", b->sha256);
	r = store_bundle_put(d->store, b->sha256, b->bundle_type, fd);
	close(fd);
	if (r < 0)
		return rd_error_set(err, r, "INTERNAL_ERROR",
				    "could not store bundle %s in the database the daemons share (%s), so the other "
				    "daemons cannot serve it; check the database's free space and its log",
				    b->sha256, strerror(-r));
	rd_logt(LOG_INFO, "bundles", "bundle %.12s (%" PRIu64 " bytes) stored in the database for the other daemons",
		b->sha256, b->size);
	return 0;
}

struct shared_ctx {
	struct rd_daemon *d;
	const char *sha256;
};

/* bcache's fetch from the database: sha256 is checked by bcache against the
 * name it is fetched under, before it enters the cache. */
static int shared_fetch_cb(void *ctx, struct bcache_fetch *f, struct rd_error *err)
{
	struct shared_ctx *sc = ctx;
	struct store_bundle b;
	int64_t t0 = rd_mono_ms();
	int fd, r;

	fd = open(f->tmp_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return rd_error_set(err, -errno, "INTERNAL_ERROR", "cannot write %s: %s", f->tmp_path, strerror(errno));
	r = store_bundle_read(sc->d->store, sc->sha256, fd, &b);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == -ENOENT)
		return rd_error_set(err, r, "REVISION_MISSING",
				    "bundle %s is neither in this daemon's cache nor in the database the daemons share "
				    "(never uploaded, or removed by retention); upload it again, e.g. with 'rolloutctl "
				    "deploy DIR'",
				    sc->sha256);
	if (r < 0)
		return rd_error_set(err, r, "INTERNAL_ERROR",
				    "could not copy bundle %s from the database the daemons share: %s", sc->sha256,
				    strerror(-r));
	rd_strlcpy(f->bundle_type, b.bundle_type, sizeof(f->bundle_type));
	rd_logt(LOG_INFO, "bundles", "bundle %.12s (%" PRIu64 " bytes) copied from the database in %" PRId64 " ms",
		sc->sha256, b.size, rd_mono_ms() - t0);
	return 0;
}

int bundles_lookup(struct rd_daemon *d, const char *sha256, struct cached_bundle *ret, struct rd_error *err)
{
	struct shared_ctx sc = {.d = d, .sha256 = sha256};
	char key[80];

	if (!the_cache)
		return rd_error_set(err, -ESHUTDOWN, "INTERNAL_ERROR", "the bundle cache is not running");
	if (bcache_lookup(the_cache, sha256, ret) == 0)
		return 0;
	if (!shared(d))
		return rd_error_set(
		    err, -ENOENT, "REVISION_MISSING",
		    "bundle %s is not in the daemon's cache (never uploaded, or removed to keep the cache "
		    "under its size cap); upload it again, e.g. with 'rolloutctl deploy DIR'",
		    sha256);
	/* single-flight: agents asking at once share one copy; it was
	 * validated by the daemon that stored it */
	snprintf(key, sizeof(key), "shared:%s", sha256);
	return bcache_ensure(the_cache, key, true, sha256, shared_fetch_cb, NULL, &sc, ret, err);
}

bool bundles_granted(struct rd_daemon *d, const char *sha256, const char *instance_name)
{
	bool ok = false;

	if (!the_cache || !instance_name)
		return false;
	if (bcache_granted(the_cache, sha256, instance_name))
		return true;
	/* the deployment may be driven by another daemon of the cluster */
	return shared(d) && store_bundle_granted(d->store, sha256, instance_name, &ok) == 0 && ok;
}

int bundles_ensure(struct rd_daemon *d, const char *revision_json, struct cached_bundle *ret, struct rd_error *err)
{
	return bundles_ensure_platform(d, revision_json, NULL, ret, err);
}

int bundles_ensure_platform(struct rd_daemon *d, const char *revision_json, const char *compute_platform,
			    struct cached_bundle *ret, struct rd_error *err)
{
	json_t *rev = NULL, *loc = NULL;
	const char *type, *locname = NULL;
	struct fetch_ctx fc = {.d = d, .revision_json = revision_json, .platform = compute_platform};
	struct rollout_revision_info info;
	struct rollout_error e = {.size = sizeof(e)};
	struct cached_bundle got;
	char *lockey = NULL, *key = NULL;
	json_error_t jerr;
	int r;

	if (!the_cache)
		return rd_error_set(err, -ESHUTDOWN, "INTERNAL_ERROR", "the bundle cache is not running");
	rev = json_loads(revision_json ? revision_json : "", 0, &jerr);
	if (!json_is_object(rev) || !(type = rd_json_str(rev, "revisionType"))) {
		r = rd_error_set(
		    err, -EINVAL, "INVALID_REVISION",
		    "the revision has no revisionType; give Bundle or a type a loaded source plugin serves");
		goto out;
	}
	if (!strcmp(type, "String") || !strcmp(type, "AppSpecContent")) {
		r = rd_error_set(
		    err, -EINVAL, "INVALID_REVISION",
		    "a %s revision has no bundle to deploy to servers; use an uploaded (Bundle) revision or one a "
		    "source plugin fetches",
		    type);
		goto out;
	}
	if (!strcmp(type, "Bundle")) {
		const char *sha;
		loc = json_object_get(rev, "bundleLocation");
		sha = rd_json_str(loc, "sha256");
		if (!bcache_valid_sha256(sha)) {
			r = rd_error_set(err, -EINVAL, "INVALID_REVISION",
					 "bundleLocation.sha256 must be 64 lower-case hex characters");
			goto out;
		}
		r = bundles_lookup(d, sha, ret, err);
		goto out;
	}
	/* Which types exist, where their location is and how it may be cached
	 * are the source plugins' to say. */
	fc.p = d->plugins ? plugins_source_for(d->plugins, type) : NULL;
	if (!fc.p) {
		char types[512];
		if (!d->plugins || plugins_revision_types(d->plugins, types, sizeof(types)) == 0)
			snprintf(types, sizeof(types), "none");
		r = rd_error_set(
		    err, -ENOENT, "REVISION_MISSING",
		    "no loaded source plugin serves revisionType '%s' (served: Bundle by the daemon, and %s); "
		    "enable a source plugin that declares it under 'plugins:' in the daemon config",
		    type, types);
		goto out;
	}
	locname = plugins_source_location_member(fc.p, type);
	loc = locname ? json_object_get(rev, locname) : NULL;
	if (locname && !json_is_object(loc)) {
		r = rd_error_set(err, -EINVAL, "INVALID_REVISION", "a %s revision needs its %s object", type, locname);
		goto out;
	}
	r = plugins_source_describe(fc.p, revision_json, &info, &e);
	if (r < 0) {
		rd_error_set(err, r, e.code, "%s", e.message);
		goto out;
	}
	lockey = loc ? json_dumps(loc, JSON_COMPACT | JSON_SORT_KEYS) : json_dumps(rev, JSON_COMPACT | JSON_SORT_KEYS);
	if (!lockey || asprintf(&key, "%s:%s", type, lockey) < 0) {
		key = NULL;
		r = rd_error_set(err, -ENOMEM, "INTERNAL_ERROR", "out of memory");
		goto out;
	}
	/* A location that pins its content (a version, an eTag, a full commit,
	 * a hash) is fetched once for the cache's lifetime. */
	r = bcache_ensure(the_cache, key, info.pinned, info.sha256[0] ? info.sha256 : NULL, plugin_fetch_cb,
			  preflight_cb, &fc, &got, err);
	if (r == 0 && fc.revalidated)
		metric_inc(metric_counter("rolloutd_bundle_revalidated_total",
					  "Unpinned revisions the source said had not changed (a conditional request, "
					  "nothing downloaded), by source plugin.",
					  (const char *const[]){"source", NULL}),
			   fc.p->name);
	if (r == 0)
		metric_inc(fc.fetched && !fc.revalidated ? metric_counter("rolloutd_bundle_cache_misses_total", NULL,
									  (const char *const[]){"source", NULL})
							 : metric_counter("rolloutd_bundle_cache_hits_total", NULL,
									  (const char *const[]){"source", NULL}),
			   fc.p->name);
	/* also when the answer came from the cache, fetched for another platform */
	if (r == 0 && compute_platform && !strcmp(compute_platform, "Server") &&
	    bcache_is_appspec_type(got.bundle_type)) {
		r = rd_error_set(
		    err, -EINVAL, "INVALID_REVISION",
		    "the revision is a %s AppSpec file (for Lambda and ECS); a server deployment needs a zip, tar "
		    "or tgz bundle with appspec.yml and the application's files",
		    got.bundle_type);
	}
	/* the daemons of a cluster serve what any of them fetched */
	if (r == 0)
		r = bundles_share(d, &got, err);
	if (r == 0)
		*ret = got;
out:
	free(key);
	free(lockey);
	json_decref(rev);
	return r;
}

int bundles_ensure_held(struct rd_daemon *d, const char *revision_json, const char *held_sha256,
			const char *compute_platform, struct cached_bundle *ret, struct rd_error *err)
{
	struct cached_bundle got;

	if (!the_cache)
		return rd_error_set(err, -ESHUTDOWN, "INTERNAL_ERROR", "the bundle cache is not running");
	if (held_sha256 && bcache_valid_sha256(held_sha256) && bundles_lookup(d, held_sha256, &got, NULL) == 0) {
		rd_logt(LOG_INFO, "bundles", "bundle %.12s served from the cache by its sha256, the source not asked",
			held_sha256);
		metric_inc(
		    metric_counter("rolloutd_bundle_cache_hits_total", NULL, (const char *const[]){"source", NULL}),
		    "held");
		*ret = got;
		return 0;
	}
	if (held_sha256 && *held_sha256)
		rd_logt(LOG_NOTICE, "bundles",
			"bundle %.12s is no longer in the cache: its revision's location is fetched again, and what it "
			"holds now is deployed",
			held_sha256);
	return bundles_ensure_platform(d, revision_json, compute_platform, ret, err);
}

int bundles_pin(struct rd_daemon *d, const char *sha256, const char *deployment_id)
{
	return the_cache ? bcache_pin(the_cache, sha256, deployment_id) : -ESHUTDOWN;
}

int bundles_unpin(struct rd_daemon *d, const char *deployment_id)
{
	return the_cache ? bcache_unpin(the_cache, deployment_id) : -ESHUTDOWN;
}

int bundles_set_last_good(struct rd_daemon *d, const char *deployment_group_id, const char *sha256)
{
	return the_cache ? bcache_set_last_good(the_cache, deployment_group_id, sha256) : -ESHUTDOWN;
}

int bundles_grant(struct rd_daemon *d, const char *deployment_id, const char *instance_name)
{
	return the_cache ? bcache_grant(the_cache, deployment_id, instance_name) : -ESHUTDOWN;
}

int bundles_url(const char *base, const char *sha256, char *buf, size_t buflen)
{
	int n;

	if (!bcache_valid_sha256(sha256))
		return -EINVAL;
	n = snprintf(buf, buflen, "%s/bundles/%s", base ? base : "", sha256);
	return n < 0 || (size_t)n >= buflen ? -ENOSPC : 0;
}

int bundles_path(struct rd_daemon *d, const char *sha256, char *buf, size_t buflen)
{
	struct stat st;
	int r;

	if (!the_cache)
		return -ESHUTDOWN;
	r = bcache_path(the_cache, sha256, buf, buflen);
	if (r < 0)
		return r;
	return stat(buf, &st) == 0 ? 0 : -ENOENT;
}

int bundles_gc(struct rd_daemon *d, uint64_t max_bytes, uint64_t *ret_freed)
{
	return the_cache ? bcache_gc(the_cache, max_bytes, ret_freed) : -ESHUTDOWN;
}
