/* The content-addressed bundle cache: single-flight, memo, verification,
 * pre-flight hook, pins, grants and GC. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bundles/bundles_cache.h"
#include "core/error.h"
#include "cryptoutil.h"
#include "util.h"

struct src {
	const char *content;
	int calls;
	int delay_ms;
	int fail;
	pthread_mutex_t lock;
	/* a source that gives validators (an HTTP server, S3): the current
	 * ETag of the content, and what the last fetch was handed */
	const char *etag;
	int downloads;	     /* fetches that wrote content */
	int conditional;     /* fetches handed what the cache held */
	char had_etag[256];  /* the validator the last conditional one got */
	char had_sha256[65]; /* and the bundle the cache held */
};

static int fake_fetch(void *ctx, struct bcache_fetch *bf, struct rd_error *err)
{
	struct src *s = ctx;
	FILE *f;

	pthread_mutex_lock(&s->lock);
	s->calls++;
	pthread_mutex_unlock(&s->lock);
	if (s->delay_ms)
		usleep((useconds_t)s->delay_ms * 1000);
	if (s->fail) {
		return rd_error_set(err, -ENOENT, "REVISION_MISSING", "no such object");
	}
	if (bf->have) {
		s->conditional++;
		snprintf(s->had_etag, sizeof(s->had_etag), "%s", bf->have_v->etag);
		snprintf(s->had_sha256, sizeof(s->had_sha256), "%s", bf->have->sha256);
		/* the server's 304 */
		if (s->etag && strcmp(bf->have_v->etag, s->etag) == 0) {
			bf->not_modified = true;
			return 0;
		}
	}
	f = fopen(bf->tmp_path, "w");
	if (!f)
		return -errno;
	fputs(s->content, f);
	fclose(f);
	s->downloads++;
	strcpy(bf->bundle_type, "zip");
	if (s->etag)
		snprintf(bf->got_v.etag, sizeof(bf->got_v.etag), "%s", s->etag);
	snprintf(bf->got_v.last_modified, sizeof(bf->got_v.last_modified), "Sun, 06 Dec 2026 01:00:00 GMT");
	return 0;
}

static int reject_check(void *ctx, const char *path, const struct cached_bundle *info, struct rd_error *err)
{
	return rd_error_set(err, -EINVAL, "INVALID_REVISION", "appspec.yml is missing");
}

static char *mkcache(struct bcache **c)
{
	char tmpl[] = "/tmp/rd-bcache-XXXXXX";
	char *dir = mkdtemp(tmpl);

	assert_non_null(dir);
	assert_int_equal(bcache_new(dir, 1 << 20, c), 0);
	return strdup(dir);
}

static void rmrf(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_ensure_memo(void **state)
{
	struct src s = {.content = "PK\x03\x04hello", .lock = PTHREAD_MUTEX_INITIALIZER};
	struct cached_bundle a, b;
	struct rd_error e = RD_ERROR_INIT;
	char want[65], p[4096];
	struct bcache *c;
	char *dir = mkcache(&c);

	rd_sha256_hex(s.content, strlen(s.content), want);
	assert_int_equal(bcache_ensure(c, "S3:b/k@v1", true, NULL, fake_fetch, NULL, &s, &a, &e), 0);
	assert_string_equal(a.sha256, want);
	assert_int_equal(a.size, strlen(s.content));
	assert_string_equal(a.bundle_type, "zip");
	assert_int_equal(bcache_ensure(c, "S3:b/k@v1", true, NULL, fake_fetch, NULL, &s, &b, &e), 0);
	assert_int_equal(s.calls, 1);
	assert_string_equal(b.sha256, want);
	/* not cacheable: fetched again, same object */
	assert_int_equal(bcache_ensure(c, "S3:b/k", false, NULL, fake_fetch, NULL, &s, &b, &e), 0);
	assert_int_equal(s.calls, 2);
	assert_int_equal(bcache_path(c, want, p, sizeof(p)), 0);
	assert_int_equal(access(p, R_OK), 0);
	assert_int_equal(bcache_lookup(c, want, &b), 0);
	assert_int_equal(bcache_lookup(c, "0000000000000000000000000000000000000000000000000000000000000000", &b),
			 -ENOENT);
	bcache_free(c);
	/* the memo survives a restart */
	assert_int_equal(bcache_new(dir, 1 << 20, &c), 0);
	assert_int_equal(bcache_ensure(c, "S3:b/k@v1", true, NULL, fake_fetch, NULL, &s, &b, &e), 0);
	assert_int_equal(s.calls, 2);
	bcache_free(c);
	rmrf(dir);
	free(dir);
}

/* A location that does not pin its content is revalidated: the fetch is
 * handed the bundle held and its validators; a 304 serves the cache, a
 * changed object is downloaded again; a bundle gone from the cache is
 * fetched unconditionally; pinned locations are never asked again. */
static void test_revalidate(void **state)
{
	struct src s = {.content = "PK\x03\x04version-1", .etag = "e1", .lock = PTHREAD_MUTEX_INITIALIZER};
	struct cached_bundle a, b;
	struct rd_error e = RD_ERROR_INIT;
	char v1[65], v2[65], p[4096];
	struct bcache *c;
	char *dir = mkcache(&c);

	rd_sha256_hex(s.content, strlen(s.content), v1);
	assert_int_equal(bcache_ensure(c, "S3:b/k", false, NULL, fake_fetch, NULL, &s, &a, &e), 0);
	assert_string_equal(a.sha256, v1);
	assert_int_equal(s.downloads, 1);
	assert_int_equal(s.conditional, 0);

	/* unchanged: asked with the ETag and the bundle held, 304, nothing downloaded */
	assert_int_equal(bcache_ensure(c, "S3:b/k", false, NULL, fake_fetch, NULL, &s, &b, &e), 0);
	assert_int_equal(s.conditional, 1);
	assert_int_equal(s.downloads, 1);
	assert_string_equal(s.had_etag, "e1");
	assert_string_equal(s.had_sha256, v1);
	assert_string_equal(b.sha256, v1);
	assert_string_equal(b.bundle_type, "zip");

	/* the validators survive a restart */
	bcache_free(c);
	assert_int_equal(bcache_new(dir, 1 << 20, &c), 0);
	assert_int_equal(bcache_ensure(c, "S3:b/k", false, NULL, fake_fetch, NULL, &s, &b, &e), 0);
	assert_int_equal(s.conditional, 2);
	assert_int_equal(s.downloads, 1);
	assert_string_equal(b.sha256, v1);

	/* the object changed: downloaded again, and its new ETag kept */
	s.content = "PK\x03\x04version-2";
	s.etag = "e2";
	rd_sha256_hex(s.content, strlen(s.content), v2);
	assert_int_equal(bcache_ensure(c, "S3:b/k", false, NULL, fake_fetch, NULL, &s, &b, &e), 0);
	assert_int_equal(s.conditional, 3);
	assert_string_equal(s.had_etag, "e1");
	assert_int_equal(s.downloads, 2);
	assert_string_equal(b.sha256, v2);
	assert_int_equal(bcache_ensure(c, "S3:b/k", false, NULL, fake_fetch, NULL, &s, &b, &e), 0);
	assert_int_equal(s.conditional, 4);
	assert_string_equal(s.had_etag, "e2");
	assert_string_equal(s.had_sha256, v2);
	assert_int_equal(s.downloads, 2);
	assert_string_equal(b.sha256, v2);

	/* a rollback to version 1 names its bundle: the cache still holds
	 * it, and the source is not asked */
	assert_int_equal(bcache_lookup(c, v1, &a), 0);
	assert_int_equal(s.calls, 5);

	/* the bundle removed from the cache: nothing to revalidate, a plain fetch */
	assert_int_equal(bcache_path(c, v2, p, sizeof(p)), 0);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(bcache_ensure(c, "S3:b/k", false, NULL, fake_fetch, NULL, &s, &b, &e), 0);
	assert_int_equal(s.conditional, 4);
	assert_int_equal(s.downloads, 3);
	assert_string_equal(b.sha256, v2);

	/* a pinned location is answered from its memo, never asked again */
	assert_int_equal(bcache_ensure(c, "S3:b/k@e2", true, NULL, fake_fetch, NULL, &s, &b, &e), 0);
	assert_int_equal(bcache_ensure(c, "S3:b/k@e2", true, NULL, fake_fetch, NULL, &s, &b, &e), 0);
	assert_int_equal(s.calls, 7);
	bcache_free(c);
	rmrf(dir);
	free(dir);
}

/* A source that gives no validators cannot be asked conditionally: it is
 * fetched in full each time, as before. */
static void test_no_validators(void **state)
{
	struct src s = {.content = "PK\x03\x04plain", .lock = PTHREAD_MUTEX_INITIALIZER};
	struct cached_bundle b;
	struct rd_error e = RD_ERROR_INIT;
	struct bcache *c;
	char *dir = mkcache(&c);
	char name[65], p[4200];

	assert_int_equal(bcache_ensure(c, "HTTP:u", false, NULL, fake_fetch, NULL, &s, &b, &e), 0);
	/* the fake always gives a Last-Modified; drop it from the memo */
	rd_sha256_hex("HTTP:u", 6, name);
	snprintf(p, sizeof(p), "%s/loc/%s", dir, name);
	{
		char line[100];
		int n = snprintf(line, sizeof(line), "%s zip\n", b.sha256);
		assert_int_equal(rd_write_file_atomic(p, line, (size_t)n, 0640), 0);
	}
	assert_int_equal(bcache_ensure(c, "HTTP:u", false, NULL, fake_fetch, NULL, &s, &b, &e), 0);
	assert_int_equal(s.conditional, 0);
	assert_int_equal(s.downloads, 2);
	bcache_free(c);
	rmrf(dir);
	free(dir);
}

struct worker {
	struct bcache *c;
	struct src *s;
	int r;
	struct cached_bundle info;
};

static void *run_ensure(void *arg)
{
	struct worker *w = arg;
	struct rd_error e = RD_ERROR_INIT;

	w->r = bcache_ensure(w->c, "GitHub:o/r@abc", false, NULL, fake_fetch, NULL, w->s, &w->info, &e);
	return NULL;
}

static void test_single_flight(void **state)
{
	struct src s = {.content = "single flight body", .delay_ms = 300, .lock = PTHREAD_MUTEX_INITIALIZER};
	struct worker w[8];
	pthread_t t[8];
	struct bcache *c;
	char *dir = mkcache(&c);
	int i;

	for (i = 0; i < 8; i++) {
		w[i] = (struct worker){.c = c, .s = &s};
		assert_int_equal(pthread_create(&t[i], NULL, run_ensure, &w[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].r, 0);
		assert_string_equal(w[i].info.sha256, w[0].info.sha256);
	}
	assert_int_equal(s.calls, 1);
	assert_string_equal(w[0].info.bundle_type, "tar");
	bcache_free(c);
	rmrf(dir);
	free(dir);
}

static void test_errors(void **state)
{
	struct src s = {.content = "abc", .lock = PTHREAD_MUTEX_INITIALIZER};
	struct rd_error e = RD_ERROR_INIT;
	char sha[65];
	struct cached_bundle info;
	struct bcache *c;
	char *dir = mkcache(&c);

	/* wrong expected sha256 */
	assert_int_equal(bcache_ensure(c, "HTTP:x", true,
				       "1111111111111111111111111111111111111111111111111111111111111111", fake_fetch,
				       NULL, &s, &info, &e),
			 -EBADMSG);
	assert_string_equal(e.code, "INVALID_REVISION");
	assert_non_null(strstr(e.message, "1111111111"));
	/* pre-flight refuses: nothing enters the cache */
	assert_int_equal(bcache_ensure(c, "HTTP:y", true, NULL, fake_fetch, reject_check, &s, &info, &e), -EINVAL);
	assert_string_equal(e.code, "INVALID_REVISION");
	assert_string_equal(e.message, "appspec.yml is missing");
	rd_sha256_hex("abc", 3, sha);
	assert_int_equal(bcache_lookup(c, sha, &info), -ENOENT);
	/* the source's own error comes through */
	s.fail = 1;
	assert_int_equal(bcache_ensure(c, "HTTP:z", true, NULL, fake_fetch, NULL, &s, &info, &e), -ENOENT);
	assert_string_equal(e.code, "REVISION_MISSING");
	assert_string_equal(e.message, "no such object");
	bcache_free(c);
	rmrf(dir);
	free(dir);
}

static void put(struct bcache *c, const char *content, char sha[65], time_t age)
{
	struct src s = {.content = content, .lock = PTHREAD_MUTEX_INITIALIZER};
	struct timespec ts[2];
	struct cached_bundle info;
	struct rd_error e = RD_ERROR_INIT;
	char p[4096];

	assert_int_equal(bcache_ensure(c, content, false, NULL, fake_fetch, NULL, &s, &info, &e), 0);
	strcpy(sha, info.sha256);
	bcache_path(c, sha, p, sizeof(p));
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void test_gc_pins_grants(void **state)
{
	char a[65], b[65], c3[65], d[65], big[2000];
	struct cached_bundle info;
	uint64_t freed = 0;
	struct bcache *c;
	char *dir = mkcache(&c);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = 'a';
	put(c, big, a, 5000);
	big[0] = 'b';
	put(c, big, b, 4000);
	big[0] = 'c';
	put(c, big, c3, 3000);
	big[0] = 'd';
	put(c, big, d, 0); /* just used: inside the grace period */

	assert_int_equal(bcache_pin(c, a, "d-AAAAAAAAA"), 0);
	assert_int_equal(bcache_set_last_good(c, "grp-1", b), 0);
	assert_int_equal(bcache_pin(c, a, "../evil"), -EINVAL);
	assert_int_equal(bcache_pin(c, "0000000000000000000000000000000000000000000000000000000000000000", "d-X"),
			 -ENOENT);

	assert_int_equal(bcache_gc(c, 100, &freed), 0);
	assert_int_equal(freed, 1999);
	assert_int_equal(bcache_lookup(c, a, &info), 0);
	assert_int_equal(bcache_lookup(c, b, &info), 0);
	assert_int_equal(bcache_lookup(c, c3, &info), -ENOENT);
	assert_int_equal(bcache_lookup(c, d, &info), 0);

	/* grants: only for pinned deployments, gone with the pin */
	assert_int_equal(bcache_grant(c, "d-BBBBBBBBB", "host-1"), -ENOENT);
	assert_int_equal(bcache_grant(c, "d-AAAAAAAAA", "host-1"), 0);
	assert_int_equal(bcache_grant(c, "d-AAAAAAAAA", "host-1"), 0);
	assert_true(bcache_granted(c, a, "host-1"));
	assert_false(bcache_granted(c, a, "host-2"));
	assert_false(bcache_granted(c, b, "host-1"));
	assert_int_equal(bcache_unpin(c, "d-AAAAAAAAA"), 0);
	assert_false(bcache_granted(c, a, "host-1"));

	/* once unpinned (and not recently used) it can go; b stays as last good */
	{
		struct timespec ts[2] = {{time(NULL) - 9000, 0}, {time(NULL) - 9000, 0}};
		char p[4096];
		bcache_path(c, a, p, sizeof(p));
		utimensat(AT_FDCWD, p, ts, 0);
	}
	assert_int_equal(bcache_gc(c, 100, &freed), 0);
	assert_int_equal(bcache_lookup(c, a, &info), -ENOENT);
	assert_int_equal(bcache_lookup(c, b, &info), 0);
	/* under the cap: nothing removed */
	assert_int_equal(bcache_gc(c, 1 << 20, &freed), 0);
	assert_int_equal(freed, 0);
	bcache_free(c);
	rmrf(dir);
	free(dir);
}

static int count_memos(const char *dir)
{
	char p[4200];
	struct dirent *de;
	int n = 0;
	DIR *dh;

	snprintf(p, sizeof(p), "%s/loc", dir);
	dh = opendir(p);
	assert_non_null(dh);
	while ((de = readdir(dh)))
		n += de->d_name[0] != '.';
	closedir(dh);
	return n;
}

static void age(struct bcache *c, const char *sha, time_t secs)
{
	struct timespec ts[2] = {{time(NULL) - secs, 0}, {time(NULL) - secs, 0}};
	char p[4096];

	assert_int_equal(bcache_path(c, sha, p, sizeof(p)), 0);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

/* GC drops loc/ memos whose bundle is gone, and keeps the others. */
static void test_gc_memos(void **state)
{
	struct src sa = {.content = "PK\x03\x04"
				    "aaaaaaaaaaaaaaaa",
			 .lock = PTHREAD_MUTEX_INITIALIZER};
	struct src sb = {.content = "PK\x03\x04"
				    "bb",
			 .lock = PTHREAD_MUTEX_INITIALIZER};
	struct rd_error e = RD_ERROR_INIT;
	char p[4096];
	struct cached_bundle a, b, info;
	uint64_t freed = 0;
	struct bcache *c;
	char *dir = mkcache(&c);

	assert_int_equal(bcache_ensure(c, "GitHub:o/r@a", true, NULL, fake_fetch, NULL, &sa, &a, &e), 0);
	assert_int_equal(bcache_ensure(c, "GitHub:o/r@b", true, NULL, fake_fetch, NULL, &sb, &b, &e), 0);
	assert_int_equal(count_memos(dir), 2);
	/* under the cap, every bundle there: nothing goes */
	assert_int_equal(bcache_gc(c, 1 << 20, &freed), 0);
	assert_int_equal(count_memos(dir), 2);

	/* a is evicted by the cap: its memo goes with it, b's stays */
	age(c, a.sha256, 5000);
	assert_int_equal(bcache_gc(c, b.size, &freed), 0);
	assert_int_equal(freed, a.size);
	assert_int_equal(bcache_lookup(c, a.sha256, &info), -ENOENT);
	assert_int_equal(count_memos(dir), 1);
	assert_int_equal(bcache_ensure(c, "GitHub:o/r@b", true, NULL, fake_fetch, NULL, &sb, &info, &e), 0);
	assert_int_equal(sb.calls, 1); /* still answered from the memo */

	/* a bundle removed by hand: its memo goes at the next GC, even under the cap */
	assert_int_equal(bcache_path(c, b.sha256, p, sizeof(p)), 0);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(bcache_gc(c, 1 << 20, &freed), 0);
	assert_int_equal(count_memos(dir), 0);
	/* and the location is fetched again */
	assert_int_equal(bcache_ensure(c, "GitHub:o/r@b", true, NULL, fake_fetch, NULL, &sb, &info, &e), 0);
	assert_int_equal(sb.calls, 2);
	assert_int_equal(count_memos(dir), 1);
	bcache_free(c);
	rmrf(dir);
	free(dir);
}

static void test_commit_upload(void **state)
{
	struct rd_error e = RD_ERROR_INIT;
	char tmp[4096], sha[65];
	struct cached_bundle info;
	struct bcache *c;
	char *dir = mkcache(&c);
	int fd;

	assert_int_equal(bcache_tmpfile(c, tmp, sizeof(tmp), &fd), 0);
	assert_int_equal(write(fd, "\x1f\x8b\x08\x00zz", 6), 6);
	close(fd);
	rd_sha256_hex("\x1f\x8b\x08\x00zz", 6, sha);
	assert_int_equal(bcache_commit(c, tmp, sha, "tgz", NULL, NULL, &info, &e), 0);
	assert_string_equal(info.bundle_type, "tgz");
	assert_int_equal(info.size, 6);
	assert_int_not_equal(access(tmp, F_OK), 0);
	assert_true(bcache_valid_sha256(sha));
	assert_false(bcache_valid_sha256("ABC"));
	assert_true(bcache_valid_type("tgz"));
	assert_false(bcache_valid_type("rar"));
	bcache_free(c);
	rmrf(dir);
	free(dir);
}

static void test_range(void **state)
{
	uint64_t off = 99, len = 99;

	assert_int_equal(bcache_parse_range(NULL, 100, &off, &len), 0);
	assert_int_equal(bcache_parse_range("bytes=0-9", 100, &off, &len), 1);
	assert_int_equal(off, 0);
	assert_int_equal(len, 10);
	assert_int_equal(bcache_parse_range("bytes=90-", 100, &off, &len), 1);
	assert_int_equal(off, 90);
	assert_int_equal(len, 10);
	assert_int_equal(bcache_parse_range("bytes=95-500", 100, &off, &len), 1);
	assert_int_equal(len, 5);
	assert_int_equal(bcache_parse_range("bytes=-30", 100, &off, &len), 1);
	assert_int_equal(off, 70);
	assert_int_equal(len, 30);
	assert_int_equal(bcache_parse_range("bytes=-300", 100, &off, &len), 1);
	assert_int_equal(off, 0);
	assert_int_equal(len, 100);
	assert_int_equal(bcache_parse_range("bytes=100-", 100, &off, &len), -ERANGE);
	assert_int_equal(bcache_parse_range("bytes=-0", 100, &off, &len), -ERANGE);
	assert_int_equal(bcache_parse_range("bytes=5-1", 100, &off, &len), -EINVAL);
	assert_int_equal(bcache_parse_range("bytes=0-1,5-6", 100, &off, &len), -EINVAL);
	assert_int_equal(bcache_parse_range("items=0-1", 100, &off, &len), -EINVAL);
	assert_int_equal(bcache_parse_range("bytes=x-1", 100, &off, &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ensure_memo),	  cmocka_unit_test(test_revalidate),
	    cmocka_unit_test(test_no_validators), cmocka_unit_test(test_single_flight),
	    cmocka_unit_test(test_errors),	  cmocka_unit_test(test_gc_pins_grants),
	    cmocka_unit_test(test_gc_memos),	  cmocka_unit_test(test_commit_upload),
	    cmocka_unit_test(test_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
