/* The HTTP routes over the bundle cache: GET /bundles/<sha256> for agents
 * (Range, zero-copy through sendfile), and the chunked uploads under
 * /bundles/uploads (docs/api-extensions.md). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "bundles/bundles.h"
#include "bundles/bundles_cache.h"
#include "bundles/bundles_routes.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/error.h"
#include "core/httpd.h"
#include "store/store.h"
#include "cryptoutil.h"
#include "util.h"

#define UPLOAD_PART_SIZE HTTPD_MAX_RAW_BODY
#define UPLOAD_IDLE_S 3600
#define UPLOAD_MAX_OPEN 16 /* unfinished uploads at once */

void bundles_route_get(struct httpd_call *call, void *userdata)
{
	struct rd_daemon *d = httpd_call_daemon(call);
	const struct httpd_principal *pr = httpd_call_principal(call);
	struct bcache *c = bundles_cache(d);
	const char *path = httpd_call_path(call), *sha;
	struct rd_error e = RD_ERROR_INIT;
	struct cached_bundle b;
	uint64_t off = 0, len = 0;
	char p[4096], buf[128];
	struct stat st;
	int fd, r;

	(void)userdata;
	sha = path + strlen("/bundles/");
	if (!c) {
		httpd_call_error_status(call, 503, "ServiceUnavailableException", "the bundle cache is shutting down");
		return;
	}
	if (!bcache_valid_sha256(sha)) {
		httpd_call_error_status(call, 404, "ResourceNotFoundException",
					"'%s' is not a bundle: expected /bundles/<sha256 as 64 lower-case hex>", path);
		return;
	}
	if (pr && pr->policy && !strcmp(pr->policy, "agent") && !bundles_granted(d, sha, pr->instance)) {
		httpd_call_error_status(call, 403, "AccessDeniedException",
					"instance '%s' is not a target of a running deployment of bundle %s",
					pr->instance ? pr->instance : "(none)", sha);
		return;
	}
	/* a bundle another daemon of the cluster received is copied from the
	 * database first */
	r = bundles_lookup(d, sha, &b, &e);
	if (r < 0) {
		if (r == -ENOENT)
			httpd_call_error_status(call, 404, "ResourceNotFoundException",
						"bundle %s is not in the cache; it may have been removed after its "
						"deployment ended",
						sha);
		else
			httpd_call_error_status(call, 500, "InternalFailure", "%s", e.message);
		return;
	}
	if (bcache_path(c, sha, p, sizeof(p)) < 0 || (fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		httpd_call_error_status(call, 404, "ResourceNotFoundException",
					"bundle %s is not in the cache; it may have been removed after its deployment "
					"ended",
					sha);
		return;
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		httpd_call_error_status(call, 500, "InternalFailure", "cannot stat bundle %s", sha);
		return;
	}
	snprintf(buf, sizeof(buf), "\"%s\"", sha);
	httpd_call_add_header(call, "ETag", buf);
	httpd_call_add_header(call, "Accept-Ranges", "bytes");
	httpd_call_add_header(call, "Cache-Control", "private, max-age=31536000, immutable");
	r = bcache_parse_range(httpd_call_header(call, "Range"), (uint64_t)st.st_size, &off, &len);
	if (r != -ERANGE && !strcmp(httpd_call_method(call), "HEAD")) {
		/* libevent sends no body for HEAD and then omits the length */
		snprintf(buf, sizeof(buf), "%" PRIu64, r == 1 ? len : (uint64_t)st.st_size);
		httpd_call_add_header(call, "Content-Length", buf);
	}
	if (r == -ERANGE) {
		close(fd);
		snprintf(buf, sizeof(buf), "bytes */%" PRIu64, (uint64_t)st.st_size);
		httpd_call_add_header(call, "Content-Range", buf);
		httpd_call_error_status(call, 416, "InvalidRangeException",
					"the requested range is outside bundle %s of %" PRIu64 " bytes", sha,
					(uint64_t)st.st_size);
		return;
	}
	if (r == 1) {
		snprintf(buf, sizeof(buf), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off, off + len - 1,
			 (uint64_t)st.st_size);
		httpd_call_add_header(call, "Content-Range", buf);
		httpd_call_reply_fd(call, 206, "application/octet-stream", fd, (off_t)off, (off_t)len);
		return;
	}
	httpd_call_reply_fd(call, 200, "application/octet-stream", fd, 0, st.st_size);
}

/* ---- uploads ---- */

struct upload {
	struct upload *next;
	char id[24];
	char sha256[65];
	char type[8];
	char app[128]; /* register as a revision of this application; "" = no */
	char tmp[4096];
	int fd;
	uint64_t size, received;
	EVP_MD_CTX *md;
	int64_t last_ms;
	bool busy;
};

static pthread_mutex_t uploads_lock = PTHREAD_MUTEX_INITIALIZER;
static struct upload *uploads;

static struct upload *upload_free(struct upload *u)
{
	if (!u)
		return NULL;
	if (u->fd >= 0)
		close(u->fd);
	if (u->tmp[0])
		unlink(u->tmp);
	EVP_MD_CTX_free(u->md);
	free(u);
	return NULL;
}

/* Drops idle uploads; caller holds uploads_lock. */
static void uploads_expire(void)
{
	struct upload **pp = &uploads, *u;
	int64_t now = rd_mono_ms();

	while ((u = *pp)) {
		if (!u->busy && now - u->last_ms > UPLOAD_IDLE_S * 1000LL) {
			*pp = u->next;
			upload_free(u);
		} else {
			pp = &u->next;
		}
	}
}

static const char *query_get(struct evkeyvalq *q, const char *k)
{
	return evhttp_find_header(q, k);
}

static int preflight_check(void *ctx, const char *path, const struct cached_bundle *b, struct rd_error *err)
{
	(void)ctx;
	(void)b;
	return bundles_preflight(path, err);
}

/* RegisterApplicationRevision for an uploaded bundle; completes the call on error. */
static int register_revision(struct httpd_call *call, const char *app, const struct cached_bundle *b)
{
	struct rd_daemon *d = httpd_call_daemon(call);
	json_t *rev;
	int r;

	rev = json_pack("{s:s, s:{s:s, s:s, s:I}}", "revisionType", "Bundle", "bundleLocation", "sha256", b->sha256,
			"bundleType", b->bundle_type, "size", (json_int_t)b->size);
	r = rev && d->store ? store_revision_register(d->store, app, rev, "Uploaded to rolloutd") : -ENOMEM;
	json_decref(rev);
	if (r == -ENOENT)
		httpd_call_error(call, "ApplicationDoesNotExistException",
				 "application '%s' was deleted during the upload; the bundle is cached, register it "
				 "with RegisterApplicationRevision",
				 app);
	else if (r < 0)
		httpd_call_error_status(call, 500, "InternalFailure", "cannot register the revision: %s", strerror(-r));
	return r;
}

static json_t *finished_json(const struct cached_bundle *b)
{
	return json_pack("{s:I, s:b, s:{s:s, s:I, s:s}, s:{s:s, s:{s:s, s:s, s:I}}}", "offset", (json_int_t)b->size,
			 "complete", 1, "bundle", "sha256", b->sha256, "size", (json_int_t)b->size, "bundleType",
			 b->bundle_type, "revision", "revisionType", "Bundle", "bundleLocation", "sha256", b->sha256,
			 "bundleType", b->bundle_type, "size", (json_int_t)b->size);
}

static void upload_start(struct httpd_call *call, struct bcache *c)
{
	struct evkeyvalq q = {0};
	const char *sha, *size_s, *type, *app;
	struct cached_bundle b;
	struct upload *u = NULL;
	unsigned long long size;
	uint64_t upload_max = httpd_call_daemon(call)->cfg->bundle_upload_max;
	char *end;
	int r;

	q.tqh_first = NULL;
	q.tqh_last = &q.tqh_first;
	evhttp_parse_query_str(httpd_call_query(call) ? httpd_call_query(call) : "", &q);
	sha = query_get(&q, "sha256");
	size_s = query_get(&q, "size");
	type = query_get(&q, "bundleType");
	if (!bcache_valid_sha256(sha)) {
		httpd_call_error(call, "InvalidInputException",
				 "sha256 must be the lower-case hex sha256 of the whole bundle (64 characters)");
		goto out;
	}
	errno = 0;
	size = size_s ? strtoull(size_s, &end, 10) : 0;
	if (!size_s || errno || *end || size == 0) {
		httpd_call_error(call, "InvalidInputException", "size must be the bundle's size in bytes (> 0)");
		goto out;
	}
	if (!bcache_valid_type(type)) {
		httpd_call_error(call, "InvalidInputException", "bundleType must be zip, tar or tgz");
		goto out;
	}
	if (size > upload_max) {
		httpd_call_error(call, "BundleTooLargeException",
				 "the bundle is %llu bytes; this daemon accepts uploads of at most %llu bytes "
				 "(bundle_upload_max in its config): leave large files out of the bundle, serve it "
				 "from S3 or HTTP, or raise bundle_upload_max",
				 size, (unsigned long long)upload_max);
		goto out;
	}
	app = query_get(&q, "applicationName");
	if (app) {
		struct store_app *a = NULL;
		struct rd_daemon *d = httpd_call_daemon(call);
		if (!*app || strlen(app) > 100 || !d->store || store_app_get(d->store, app, &a) < 0) {
			httpd_call_error(call, "ApplicationDoesNotExistException",
					 "no application '%s'; create it first or leave applicationName out", app);
			goto out;
		}
		store_app_free(a);
	}
	/* already here, or received by another daemon of the cluster */
	if (bundles_lookup(httpd_call_daemon(call), sha, &b, NULL) == 0) {
		struct rd_error e = RD_ERROR_INIT;
		if (bundles_share(httpd_call_daemon(call), &b, &e) < 0) {
			httpd_call_error_status(call, 500, "InternalFailure", "%s", e.message);
			goto out;
		}
		if (app && register_revision(call, app, &b) < 0)
			goto out;
		httpd_call_reply(call, finished_json(&b));
		goto out;
	}
	u = calloc(1, sizeof(*u));
	if (!u || !(u->md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(u->md, EVP_sha256(), NULL)) {
		httpd_call_error_status(call, 500, "InternalFailure", "out of memory");
		goto out;
	}
	u->fd = -1;
	r = bcache_tmpfile(c, u->tmp, sizeof(u->tmp), &u->fd);
	if (r < 0) {
		u->tmp[0] = '\0';
		httpd_call_error_status(call, 500, "InternalFailure", "cannot create the upload file: %s",
					strerror(-r));
		goto out;
	}
	{
		unsigned char rnd[8];
		rd_random_bytes(rnd, sizeof(rnd));
		memcpy(u->id, "u-", 2);
		rd_hex(rnd, sizeof(rnd), u->id + 2);
	}
	rd_strlcpy(u->sha256, sha, sizeof(u->sha256));
	rd_strlcpy(u->type, type, sizeof(u->type));
	rd_strlcpy(u->app, app ? app : "", sizeof(u->app));
	u->size = size;
	u->last_ms = rd_mono_ms();
	pthread_mutex_lock(&uploads_lock);
	uploads_expire();
	{
		size_t open_n = 0;
		for (struct upload *o = uploads; o; o = o->next)
			open_n++;
		if (open_n >= UPLOAD_MAX_OPEN) {
			pthread_mutex_unlock(&uploads_lock);
			httpd_call_error(
			    call, "LimitExceededException",
			    "%d uploads are already in progress; finish them or wait an hour for idle ones "
			    "to expire",
			    UPLOAD_MAX_OPEN);
			goto out;
		}
	}
	u->next = uploads;
	uploads = u;
	pthread_mutex_unlock(&uploads_lock);
	httpd_call_reply(call, json_pack("{s:s, s:I, s:I}", "uploadId", u->id, "partSize", (json_int_t)UPLOAD_PART_SIZE,
					 "offset", (json_int_t)0));
	u = NULL;
out:
	upload_free(u);
	evhttp_clear_headers(&q);
}

/* Lets the next part of u in; u must not be touched afterwards (an idle
 * upload may be reaped). */
static void upload_release(struct upload *u)
{
	pthread_mutex_lock(&uploads_lock);
	u->busy = false;
	pthread_mutex_unlock(&uploads_lock);
}

static void upload_part(struct httpd_call *call, struct bcache *c, const char *id)
{
	struct evkeyvalq q = {0};
	struct upload *u, **pp;
	const unsigned char *body;
	unsigned long long off;
	const char *off_s;
	size_t len = 0, done;
	char *end;

	q.tqh_first = NULL;
	q.tqh_last = &q.tqh_first;
	evhttp_parse_query_str(httpd_call_query(call) ? httpd_call_query(call) : "", &q);
	off_s = query_get(&q, "offset");
	body = httpd_call_raw_body(call, &len);
	pthread_mutex_lock(&uploads_lock);
	for (u = uploads; u; u = u->next)
		if (!strcmp(u->id, id))
			break;
	if (!u || u->busy) {
		pthread_mutex_unlock(&uploads_lock);
		if (!u)
			httpd_call_error_status(call, 404, "ResourceNotFoundException",
						"no upload '%s' (finished, failed or idle for over an hour); start a "
						"new one with POST /bundles/uploads",
						id);
		else
			httpd_call_error_status(call, 409, "InvalidInputException",
						"upload '%s' is receiving another part; send parts one at a time", id);
		goto out;
	}
	u->busy = true;
	pthread_mutex_unlock(&uploads_lock);

	errno = 0;
	off = off_s ? strtoull(off_s, &end, 10) : ~0ULL;
	/* Each answer below is written at once (httpd), and the client may send
	 * the next part as soon as it has it: the upload is freed first. */
	if (!off_s || errno || *end || off != u->received) {
		json_t *e = json_pack("{s:s, s:s, s:I}", "__type", "InvalidInputException", "message",
				      "parts must be sent in order; resume at the returned offset", "offset",
				      (json_int_t)u->received);
		char *txt = json_dumps(e, JSON_COMPACT);
		upload_release(u);
		httpd_call_add_header(call, "x-amzn-ErrorType", "InvalidInputException");
		httpd_call_reply_bytes(call, 409, HTTPD_JSON_TYPE, txt, txt ? strlen(txt) : 0);
		free(txt);
		json_decref(e);
		goto out;
	}
	if (len == 0 || len > u->size - u->received) {
		unsigned long long left = u->size - u->received;
		upload_release(u);
		httpd_call_error(call, "InvalidInputException",
				 "a part must hold 1..%llu bytes (the rest of the announced size)", left);
		goto out;
	}
	for (done = 0; done < len;) {
		ssize_t n = write(u->fd, body + done, len - done);
		if (n < 0) {
			int err = errno;
			if (err == EINTR)
				continue;
			upload_release(u);
			httpd_call_error_status(call, 500, "InternalFailure",
						"cannot write the upload: %s; check free space of data_dir",
						strerror(err));
			goto out;
		}
		done += (size_t)n;
	}
	EVP_DigestUpdate(u->md, body, len);
	u->received += len;
	u->last_ms = rd_mono_ms();
	if (u->received == u->size) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		char got[65], u_app[128];
		struct rd_error e = RD_ERROR_INIT;
		struct cached_bundle b;
		int r;

		EVP_DigestFinal_ex(u->md, md, &mdlen);
		rd_hex(md, mdlen, got);
		fsync(u->fd);
		close(u->fd);
		u->fd = -1;
		/* the upload is over whatever happens next */
		pthread_mutex_lock(&uploads_lock);
		for (pp = &uploads; *pp; pp = &(*pp)->next)
			if (*pp == u) {
				*pp = u->next;
				break;
			}
		pthread_mutex_unlock(&uploads_lock);
		if (strcmp(got, u->sha256) != 0) {
			httpd_call_error(call, "InvalidRevisionException",
					 "the uploaded bytes have sha256 %s but the upload announced %s; the file "
					 "changed while uploading, upload it again",
					 got, u->sha256);
			upload_free(u);
			goto out;
		}
		rd_strlcpy(u_app, u->app, sizeof(u_app));
		r = bcache_commit(c, u->tmp, got, u->type, preflight_check, NULL, &b, &e);
		u->tmp[0] = '\0'; /* commit removed or moved it */
		upload_free(u);
		if (r < 0) {
			httpd_call_error(
			    call, !strcmp(e.code, "INVALID_REVISION") ? "InvalidRevisionException" : "InternalFailure",
			    "%s", e.message);
			goto out;
		}
		/* before the answer: once it says complete, any daemon serves it */
		r = bundles_share(httpd_call_daemon(call), &b, &e);
		if (r < 0) {
			httpd_call_error_status(call, 500, "InternalFailure", "%s", e.message);
			goto out;
		}
		bcache_gc(c, 0, NULL);
		if (u_app[0] && register_revision(call, u_app, &b) < 0)
			goto out;
		httpd_call_reply(call, finished_json(&b));
		goto out;
	}
	{
		json_int_t received = (json_int_t)u->received;
		upload_release(u);
		httpd_call_reply(call, json_pack("{s:I}", "offset", received));
	}
out:
	evhttp_clear_headers(&q);
}

void bundles_route_uploads(struct httpd_call *call, void *userdata)
{
	struct bcache *c = bundles_cache(httpd_call_daemon(call));
	const char *path = httpd_call_path(call), *method = httpd_call_method(call);

	(void)userdata;
	if (!c) {
		httpd_call_error_status(call, 503, "ServiceUnavailableException", "the bundle cache is shutting down");
		return;
	}
	if (!strcmp(method, "POST") && (!strcmp(path, "/bundles/uploads") || !strcmp(path, "/bundles/uploads/")))
		upload_start(call, c);
	else if (!strcmp(method, "PUT") && rd_str_has_prefix(path, "/bundles/uploads/") &&
		 !strchr(path + strlen("/bundles/uploads/"), '/'))
		upload_part(call, c, path + strlen("/bundles/uploads/"));
	else
		httpd_call_error_status(call, 405, "InvalidInputException",
					"use POST /bundles/uploads to start an upload and PUT "
					"/bundles/uploads/<uploadId>?offset=N to send parts");
}
void bundles_routes_stop(struct rd_daemon *d)
{
	(void)d;
	pthread_mutex_lock(&uploads_lock);
	while (uploads) {
		struct upload *u = uploads;
		uploads = u->next;
		upload_free(u);
	}
	pthread_mutex_unlock(&uploads_lock);
}
