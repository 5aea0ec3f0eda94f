#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundles/bundles_cache.h"
#include "core/error.h"
#include "cryptoutil.h"
#include "util.h"

struct flight {
	struct flight *next;
	char *key;
	int waiters; /* callers holding this flight, the fetching one included */
	bool done;
	int r;
	struct cached_bundle info;
	struct rd_error err;
};

struct grant {
	struct grant *next;
	char *deployment_id;
	char sha256[65];
	char **instances;
	size_t n, cap;
};

struct bcache {
	char *dir;
	uint64_t max_bytes;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct flight *flights;
	struct grant *grants;
};

bool bcache_valid_sha256(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

bool bcache_is_appspec_type(const char *t)
{
	return t && (!strcmp(t, "YAML") || !strcmp(t, "JSON"));
}

bool bcache_valid_type(const char *t)
{
	return t && (!strcmp(t, "zip") || !strcmp(t, "tar") || !strcmp(t, "tgz"));
}

/* Ids become file names: allow a conservative set only. */
static bool valid_id(const char *s)
{
	size_t n = 0;

	if (!s || !*s || s[0] == '.')
		return false;
	for (; *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return false;
	return n <= 128;
}

int bcache_sha256_file(const char *path, char out[65], uint64_t *ret_size)
{
	unsigned char md[EVP_MAX_MD_SIZE], *buf = NULL;
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	uint64_t total = 0;
	int fd = -1, r;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(1 << 20);
	ctx = EVP_MD_CTX_new();
	if (!buf || !ctx) {
		r = -ENOMEM;
		goto out;
	}
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		r = -EIO;
		goto out;
	}
	while ((n = read(fd, buf, 1 << 20)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen)) {
		r = -EIO;
		goto out;
	}
	rd_hex(md, mdlen, out);
	if (ret_size)
		*ret_size = total;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	close(fd);
	return r;
}

/* The type from the first bytes, so the agent always gets the truth whatever
 * the revision claimed. */
static void detect_type(const char *path, char type[8])
{
	unsigned char b[4] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	rd_strlcpy(type, "tar", 8);
	if (fd < 0)
		return;
	if (read(fd, b, sizeof(b)) == (ssize_t)sizeof(b)) {
		if (b[0] == 'P' && b[1] == 'K')
			rd_strlcpy(type, "zip", 8);
		else if (b[0] == 0x1f && b[1] == 0x8b)
			rd_strlcpy(type, "tgz", 8);
	}
	close(fd);
}

static int subpath(const struct bcache *c, const char *sub, const char *name, char *buf, size_t buflen)
{
	int n = snprintf(buf, buflen, "%s/%s%s%s", c->dir, sub, name ? "/" : "", name ? name : "");

	return n < 0 || (size_t)n >= buflen ? -ENOSPC : 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static void clear_dir(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *de;

	if (!dh)
		return;
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(dh), de->d_name, 0);
	closedir(dh);
}

int bcache_new(const char *dir, uint64_t max_bytes, struct bcache **ret)
{
	static const char *const subs[] = {"objects", "loc", "refs", "tmp"};
	struct bcache *c;
	char p[4096];
	size_t i;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->dir = strdup(dir);
	c->max_bytes = max_bytes ? max_bytes : BCACHE_DEFAULT_MAX_BYTES;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (!c->dir) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < RD_ARRAY_SIZE(subs); i++) {
		r = subpath(c, subs[i], NULL, p, sizeof(p));
		if (r < 0)
			goto fail;
		r = rd_mkdir_p(p, 0750);
		if (r < 0)
			goto fail;
	}
	subpath(c, "tmp", NULL, p, sizeof(p));
	clear_dir(p);
	*ret = c;
	return 0;
fail:
	bcache_free(c);
	return r;
}

static struct grant *grant_free(struct grant *g)
{
	size_t i;

	if (!g)
		return NULL;
	for (i = 0; i < g->n; i++)
		free(g->instances[i]);
	free(g->instances);
	free(g->deployment_id);
	free(g);
	return NULL;
}

struct bcache *bcache_free(struct bcache *c)
{
	if (!c)
		return NULL;
	while (c->grants) {
		struct grant *g = c->grants;
		c->grants = g->next;
		grant_free(g);
	}
	/* flights are owned by their callers, all finished by now */
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c->dir);
	free(c);
	return NULL;
}

const char *bcache_dir(const struct bcache *c)
{
	return c->dir;
}

uint64_t bcache_max_bytes(const struct bcache *c)
{
	return c->max_bytes;
}

int bcache_path(struct bcache *c, const char *sha256, char *buf, size_t buflen)
{
	if (!bcache_valid_sha256(sha256))
		return -EINVAL;
	return subpath(c, "objects", sha256, buf, buflen);
}

int bcache_lookup(struct bcache *c, const char *sha256, struct cached_bundle *ret)
{
	struct cached_bundle info = {0};
	struct stat st;
	char p[4096];
	int r;

	r = bcache_path(c, sha256, p, sizeof(p));
	if (r < 0)
		return r;
	if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
		return -ENOENT;
	rd_strlcpy(info.sha256, sha256, sizeof(info.sha256));
	info.size = (uint64_t)st.st_size;
	detect_type(p, info.bundle_type);
	/* last use, for GC's least-recently-used order */
	utimensat(AT_FDCWD, p, NULL, 0);
	*ret = info;
	return 0;
}

/* The value of "<name> <value>\n" in a memo's later lines, into out. */
static void memo_field(const char *buf, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	const char *l;

	for (l = strchr(buf, '\n'); l; l = strchr(l, '\n')) {
		l++;
		if (strncmp(l, name, n) == 0 && l[n] == ' ') {
			size_t vlen = strcspn(l + n + 1, "\n");
			if (vlen >= outlen)
				vlen = outlen - 1;
			memcpy(out, l + n + 1, vlen);
			out[vlen] = '\0';
			return;
		}
	}
}

/* Reads "<sha> <type>" memo of a location key, and the validators after it
 * when ret_v is not NULL. */
static int memo_get(struct bcache *c, const char *key, struct cached_bundle *ret, struct bcache_validators *ret_v)
{
	char name[65], p[4096], *buf = NULL, sha[65];
	size_t len;
	int r;

	rd_sha256_hex(key, strlen(key), name);
	r = subpath(c, "loc", name, p, sizeof(p));
	if (r < 0)
		return r;
	r = rd_read_file(p, 1024, &buf, &len);
	if (r < 0)
		return r;
	if (len < 64) {
		r = -EINVAL;
		goto out;
	}
	memcpy(sha, buf, 64);
	sha[64] = '\0';
	r = bcache_lookup(c, sha, ret);
	if (r == 0 && len > 65) {
		char t[8] = "";
		sscanf(buf + 65, "%7s", t);
		if (bcache_is_appspec_type(t))
			rd_strlcpy(ret->bundle_type, t, sizeof(ret->bundle_type));
	}
	if (r == 0 && ret_v) {
		memset(ret_v, 0, sizeof(*ret_v));
		memo_field(buf, "etag", ret_v->etag, sizeof(ret_v->etag));
		memo_field(buf, "last-modified", ret_v->last_modified, sizeof(ret_v->last_modified));
	}
out:
	free(buf);
	return r;
}

/* A validator goes on one line of the memo: nothing that would break it. */
static bool memo_value_ok(const char *v)
{
	return *v && !strpbrk(v, "\r\n");
}

static int memo_put(struct bcache *c, const char *key, const struct cached_bundle *info,
		    const struct bcache_validators *v)
{
	char name[65], p[4096], text[512];
	int n, r;

	rd_sha256_hex(key, strlen(key), name);
	r = subpath(c, "loc", name, p, sizeof(p));
	if (r < 0)
		return r;
	n = snprintf(text, sizeof(text), "%s %s\n", info->sha256, info->bundle_type);
	if (v && memo_value_ok(v->etag))
		n += snprintf(text + n, sizeof(text) - (size_t)n, "etag %s\n", v->etag);
	if (v && memo_value_ok(v->last_modified))
		n += snprintf(text + n, sizeof(text) - (size_t)n, "last-modified %s\n", v->last_modified);
	return rd_write_file_atomic(p, text, (size_t)n, 0640);
}

int bcache_tmpfile(struct bcache *c, char *path, size_t pathlen, int *ret_fd)
{
	int fd, r;

	r = subpath(c, "tmp", "b-XXXXXX", path, pathlen);
	if (r < 0)
		return r;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int bcache_commit(struct bcache *c, const char *tmp_path, const char *sha256, const char *bundle_type,
		  bcache_check_fn check, void *ctx, struct cached_bundle *ret, struct rd_error *err)
{
	struct cached_bundle info = {0};
	char dst[4096], objdir[4096];
	struct stat st;
	int r;

	r = bcache_path(c, sha256, dst, sizeof(dst));
	if (r < 0)
		goto out;
	/* already cached, hence already validated */
	if (bcache_lookup(c, sha256, &info) == 0)
		goto done;
	if (stat(tmp_path, &st) < 0) {
		r = -errno;
		goto out;
	}
	rd_strlcpy(info.sha256, sha256, sizeof(info.sha256));
	info.size = (uint64_t)st.st_size;
	if (bcache_is_appspec_type(bundle_type))
		rd_strlcpy(info.bundle_type, bundle_type, sizeof(info.bundle_type));
	else
		detect_type(tmp_path, info.bundle_type);
	if (check) {
		r = check(ctx, tmp_path, &info, err);
		if (r < 0)
			goto out_noerr;
	}
	if (chmod(tmp_path, 0440) < 0 || rename(tmp_path, dst) < 0) {
		r = -errno;
		goto out;
	}
	subpath(c, "objects", NULL, objdir, sizeof(objdir));
	fsync_dir(objdir);
done:
	*ret = info;
	r = 0;
out:
	if (r < 0)
		rd_error_set(
		    err, r, "INTERNAL_ERROR",
		    "could not store the bundle in the cache %s: %s; check free space and permissions of data_dir",
		    c->dir, strerror(-r));
out_noerr:
	unlink(tmp_path);
	return r;
}

/* Fetches into the cache. held/held_v: what the cache holds for an
 * unpinned location (revalidation), or NULL; *ret_v gets the validators of
 * what the source answered. */
static int fetch_into_cache(struct bcache *c, const char *expect_sha256, const struct cached_bundle *held,
			    const struct bcache_validators *held_v, bcache_fetch_fn fetch, bcache_check_fn check,
			    void *ctx, struct cached_bundle *ret, struct bcache_validators *ret_v, struct rd_error *err)
{
	struct bcache_fetch f = {.have = held, .have_v = held ? held_v : NULL};
	char tmp[4096], sha[65];
	uint64_t size;
	int fd = -1, r; /* set by bcache_tmpfile (-O2 cannot tell) */

	r = bcache_tmpfile(c, tmp, sizeof(tmp), &fd);
	if (r < 0)
		return rd_error_set(
		    err, r, "INTERNAL_ERROR",
		    "could not create a file in %s/tmp: %s; check free space and permissions of data_dir", c->dir,
		    strerror(-r));
	close(fd);
	f.tmp_path = tmp;
	r = fetch(ctx, &f, err);
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	*ret_v = f.got_v;
	if (f.not_modified) {
		unlink(tmp);
		/* still held (GC keeps what was used in its grace period), and
		 * the lookup marks it used */
		if (!held || bcache_lookup(c, held->sha256, ret) < 0)
			return rd_error_set(err, -ENOENT, "INTERNAL_ERROR",
					    "the source said the revision did not change, but the bundle cache no "
					    "longer holds it; deploy again");
		rd_strlcpy(ret->bundle_type, held->bundle_type, sizeof(ret->bundle_type));
		if (!ret_v->etag[0] && !ret_v->last_modified[0] && held_v)
			*ret_v = *held_v;
		return 0;
	}
	r = bcache_sha256_file(tmp, sha, &size);
	if (r < 0) {
		unlink(tmp);
		return rd_error_set(err, r, "INTERNAL_ERROR", "could not read the fetched bundle: %s", strerror(-r));
	}
	if (expect_sha256 && *expect_sha256 && strcmp(expect_sha256, sha) != 0) {
		unlink(tmp);
		return rd_error_set(
		    err, -EBADMSG, "INVALID_REVISION",
		    "the bundle's sha256 is %s but the revision says %s; fix the sha256 in the revision "
		    "or the file at its location",
		    sha, expect_sha256);
	}
	{
		int fd2 = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd2 >= 0) {
			fsync(fd2);
			close(fd2);
		}
	}
	return bcache_commit(c, tmp, sha, f.bundle_type, check, ctx, ret, err);
}

int bcache_ensure(struct bcache *c, const char *key, bool cacheable, const char *expect_sha256, bcache_fetch_fn fetch,
		  bcache_check_fn check, void *ctx, struct cached_bundle *ret, struct rd_error *err)
{
	struct cached_bundle info, held;
	struct bcache_validators held_v, got_v;
	struct flight *f, **pp;
	bool have_held = false;
	int r;

	pthread_mutex_lock(&c->lock);
	if (cacheable && memo_get(c, key, &info, NULL) == 0) {
		pthread_mutex_unlock(&c->lock);
		*ret = info;
		return 0;
	}
	for (f = c->flights; f; f = f->next)
		if (!strcmp(f->key, key))
			break;
	if (f) {
		f->waiters++;
		while (!f->done)
			pthread_cond_wait(&c->cond, &c->lock);
	} else {
		f = calloc(1, sizeof(*f));
		if (!f || !(f->key = strdup(key))) {
			free(f);
			pthread_mutex_unlock(&c->lock);
			return rd_error_set(err, -ENOMEM, "INTERNAL_ERROR", "out of memory");
		}
		f->waiters = 1;
		f->next = c->flights;
		c->flights = f;
		/* an unpinned location fetched before: revalidate what is held,
		 * when the source gave validators to do it with */
		if (!cacheable && memo_get(c, key, &held, &held_v) == 0)
			have_held = held_v.etag[0] || held_v.last_modified[0];
		pthread_mutex_unlock(&c->lock);

		f->r = fetch_into_cache(c, expect_sha256, have_held ? &held : NULL, &held_v, fetch, check, ctx,
					&f->info, &got_v, &f->err);
		if (f->r == 0)
			memo_put(c, key, &f->info, cacheable ? NULL : &got_v);

		pthread_mutex_lock(&c->lock);
		f->done = true;
		pthread_cond_broadcast(&c->cond);
	}
	r = f->r;
	if (r == 0)
		*ret = f->info;
	else
		rd_error_set(err, r, f->err.code[0] ? f->err.code : "INTERNAL_ERROR", "%s",
			     f->err.message[0] ? f->err.message : "fetching the revision failed");
	if (--f->waiters == 0) {
		for (pp = &c->flights; *pp; pp = &(*pp)->next)
			if (*pp == f) {
				*pp = f->next;
				break;
			}
		free(f->key);
		free(f);
	}
	pthread_mutex_unlock(&c->lock);
	if (r == 0)
		bcache_gc(c, 0, NULL);
	return r;
}

static int ref_write(struct bcache *c, const char *prefix, const char *id, const char *sha256)
{
	char name[160], p[4096], line[70];

	if (!valid_id(id) || !bcache_valid_sha256(sha256))
		return -EINVAL;
	snprintf(name, sizeof(name), "%s%s", prefix, id);
	if (subpath(c, "refs", name, p, sizeof(p)) < 0)
		return -ENOSPC;
	snprintf(line, sizeof(line), "%s\n", sha256);
	return rd_write_file_atomic(p, line, 65, 0640);
}

int bcache_pin(struct bcache *c, const char *sha256, const char *deployment_id)
{
	struct cached_bundle info;
	int r;

	if (!bcache_valid_sha256(sha256) || !valid_id(deployment_id))
		return -EINVAL;
	r = bcache_lookup(c, sha256, &info);
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->lock);
	r = ref_write(c, "d-", deployment_id, sha256);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int bcache_unpin(struct bcache *c, const char *deployment_id)
{
	struct grant **pp, *g;
	char name[160], p[4096];
	int r = 0;

	if (!valid_id(deployment_id))
		return -EINVAL;
	snprintf(name, sizeof(name), "d-%s", deployment_id);
	if (subpath(c, "refs", name, p, sizeof(p)) < 0)
		return -ENOSPC;
	pthread_mutex_lock(&c->lock);
	if (unlink(p) < 0 && errno != ENOENT)
		r = -errno;
	for (pp = &c->grants; *pp;) {
		g = *pp;
		if (!strcmp(g->deployment_id, deployment_id)) {
			*pp = g->next;
			grant_free(g);
		} else {
			pp = &g->next;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int bcache_set_last_good(struct bcache *c, const char *group_id, const char *sha256)
{
	int r;

	pthread_mutex_lock(&c->lock);
	r = ref_write(c, "g-", group_id, sha256);
	pthread_mutex_unlock(&c->lock);
	return r;
}

static int ref_read(struct bcache *c, const char *name, char sha[65])
{
	char p[4096], *buf = NULL;
	size_t len;
	int r;

	if (subpath(c, "refs", name, p, sizeof(p)) < 0)
		return -ENOSPC;
	r = rd_read_file(p, 128, &buf, &len);
	if (r < 0)
		return r;
	if (len < 64) {
		free(buf);
		return -EINVAL;
	}
	memcpy(sha, buf, 64);
	sha[64] = '\0';
	free(buf);
	return bcache_valid_sha256(sha) ? 0 : -EINVAL;
}

int bcache_grant(struct bcache *c, const char *deployment_id, const char *instance_name)
{
	char name[160], sha[65];
	struct grant *g;
	size_t i;
	int r = 0;

	if (!valid_id(deployment_id) || !instance_name || !*instance_name)
		return -EINVAL;
	snprintf(name, sizeof(name), "d-%s", deployment_id);
	pthread_mutex_lock(&c->lock);
	for (g = c->grants; g; g = g->next)
		if (!strcmp(g->deployment_id, deployment_id))
			break;
	if (!g) {
		r = ref_read(c, name, sha);
		if (r < 0) {
			r = -ENOENT;
			goto out;
		}
		g = calloc(1, sizeof(*g));
		if (!g || !(g->deployment_id = strdup(deployment_id))) {
			free(g);
			r = -ENOMEM;
			goto out;
		}
		memcpy(g->sha256, sha, sizeof(sha));
		g->next = c->grants;
		c->grants = g;
	}
	for (i = 0; i < g->n; i++)
		if (!strcmp(g->instances[i], instance_name))
			goto out;
	if (g->n == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 8;
		char **n = realloc(g->instances, ncap * sizeof(*n));
		if (!n) {
			r = -ENOMEM;
			goto out;
		}
		g->instances = n;
		g->cap = ncap;
	}
	if (!(g->instances[g->n] = strdup(instance_name))) {
		r = -ENOMEM;
		goto out;
	}
	g->n++;
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

bool bcache_granted(struct bcache *c, const char *sha256, const char *instance_name)
{
	struct grant *g;
	bool ok = false;
	size_t i;

	if (!sha256 || !instance_name)
		return false;
	pthread_mutex_lock(&c->lock);
	for (g = c->grants; g && !ok; g = g->next) {
		if (strcmp(g->sha256, sha256))
			continue;
		for (i = 0; i < g->n; i++)
			if (!strcmp(g->instances[i], instance_name)) {
				ok = true;
				break;
			}
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

struct obj {
	char sha[65];
	uint64_t size;
	struct timespec mtime;
	bool pinned;
};

static int cmp_obj(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->sha, y->sha);
}

/* Removes loc/ entries naming a bundle that objects/ no longer holds (or
 * unreadable ones). Caller holds c->lock. */
static int gc_memos(struct bcache *c)
{
	char p[4096], obj[4096], *buf = NULL, sha[65];
	struct dirent *de;
	struct stat st;
	size_t len;
	DIR *dh;
	int dfd;

	if (subpath(c, "loc", NULL, p, sizeof(p)) < 0)
		return -ENAMETOOLONG;
	dh = opendir(p);
	if (!dh)
		return errno == ENOENT ? 0 : -errno;
	dfd = dirfd(dh);
	while ((de = readdir(dh))) {
		bool keep = false;

		if (!bcache_valid_sha256(de->d_name))
			continue; /* ".", "..", temporary files of rd_write_file_atomic */
		if (snprintf(obj, sizeof(obj), "%s/%s", p, de->d_name) >= (int)sizeof(obj))
			continue;
		if (rd_read_file(obj, 256, &buf, &len) == 0 && len >= 64) {
			memcpy(sha, buf, 64);
			sha[64] = '\0';
			keep = bcache_path(c, sha, obj, sizeof(obj)) == 0 && stat(obj, &st) == 0;
		}
		free(buf);
		buf = NULL;
		if (!keep)
			unlinkat(dfd, de->d_name, 0);
	}
	closedir(dh);
	return 0;
}

int bcache_gc(struct bcache *c, uint64_t max_bytes, uint64_t *ret_freed)
{
	struct obj *objs = NULL;
	size_t n = 0, cap = 0, i, j;
	uint64_t total = 0, freed = 0;
	char p[4096], sha[65];
	struct dirent *de;
	DIR *dh = NULL;
	struct stat st;
	time_t now;
	int r = 0;

	if (!max_bytes)
		max_bytes = c->max_bytes;
	pthread_mutex_lock(&c->lock);
	subpath(c, "objects", NULL, p, sizeof(p));
	dh = opendir(p);
	if (!dh) {
		r = -errno;
		goto out;
	}
	while ((de = readdir(dh))) {
		if (!bcache_valid_sha256(de->d_name))
			continue;
		if (fstatat(dirfd(dh), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct obj *no = realloc(objs, ncap * sizeof(*no));
			if (!no) {
				r = -ENOMEM;
				goto out;
			}
			objs = no;
			cap = ncap;
		}
		memset(&objs[n], 0, sizeof(objs[n]));
		rd_strlcpy(objs[n].sha, de->d_name, sizeof(objs[n].sha));
		objs[n].size = (uint64_t)st.st_size;
		objs[n].mtime = st.st_mtim;
		total += objs[n].size;
		n++;
	}
	closedir(dh);
	dh = NULL;
	if (total <= max_bytes)
		goto memos;

	/* pinned: every ref names a sha */
	subpath(c, "refs", NULL, p, sizeof(p));
	dh = opendir(p);
	if (!dh) {
		r = -errno;
		goto out;
	}
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.' || ref_read(c, de->d_name, sha) < 0)
			continue;
		for (j = 0; j < n; j++)
			if (!strcmp(objs[j].sha, sha))
				objs[j].pinned = true;
	}
	closedir(dh);
	dh = NULL;
	qsort(objs, n, sizeof(*objs), cmp_obj);
	now = time(NULL);
	for (i = 0; i < n && total > max_bytes; i++) {
		/* a bundle used moments ago may be about to be pinned */
		if (objs[i].pinned || objs[i].mtime.tv_sec > now - BCACHE_GC_GRACE_S)
			continue;
		if (subpath(c, "objects", objs[i].sha, p, sizeof(p)) < 0 || unlink(p) < 0)
			continue;
		total -= objs[i].size;
		freed += objs[i].size;
	}
memos:
	/* Location memos whose bundle is gone (removed above or by hand) would
	 * only cost a failed lookup and a refetch; drop them. Under c->lock, so
	 * no memo written by bcache_ensure is judged before its bundle lands. */
	r = gc_memos(c);
out:
	if (dh)
		closedir(dh);
	pthread_mutex_unlock(&c->lock);
	free(objs);
	if (r == 0 && ret_freed)
		*ret_freed = freed;
	return r;
}

int bcache_parse_range(const char *hdr, uint64_t size, uint64_t *ret_off, uint64_t *ret_len)
{
	unsigned long long a, b;
	const char *p;
	char *end;

	if (!hdr)
		return 0;
	if (strncmp(hdr, "bytes=", 6) != 0 || strchr(hdr, ','))
		return -EINVAL; /* other units or several ranges: serve it whole */
	p = hdr + 6;
	while (*p == ' ')
		p++;
	if (*p == '-') {
		/* suffix: the last N bytes */
		errno = 0;
		b = strtoull(p + 1, &end, 10);
		if (errno || end == p + 1 || *end)
			return -EINVAL;
		if (b == 0 || size == 0)
			return -ERANGE;
		if (b > size)
			b = size;
		*ret_off = size - b;
		*ret_len = b;
		return 1;
	}
	errno = 0;
	a = strtoull(p, &end, 10);
	if (errno || end == p || *end != '-')
		return -EINVAL;
	p = end + 1;
	if (*p == '\0') {
		b = size ? size - 1 : 0;
	} else {
		b = strtoull(p, &end, 10);
		if (errno || *end || b < a)
			return -EINVAL;
		if (b >= size)
			b = size - 1;
	}
	if (a >= size)
		return -ERANGE;
	*ret_off = a;
	*ret_len = b - a + 1;
	return 1;
}
