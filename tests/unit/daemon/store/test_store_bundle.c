/* daemon/store/store_bundle.c and its retention: a bundle written in chunks
 * reads back byte for byte; one left incomplete is invisible; a chunk gone
 * while reading is an error, not a shorter bundle; the grant of a download
 * to another daemon's targets; retention removes only what nothing refers
 * to. On SQLite and on PostgreSQL. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "store_backends.h"
#include "util.h"

static struct rd_error rerr;

static void exec(struct store *st, const char *sql)
{
	struct store_conn *c;
	assert_int_equal(store_conn_get(st, &c), 0);
	if (store_exec(c, sql) < 0)
		fail_msg("%s: %s", sql, store_errmsg(c));
	store_conn_put(st, c);
}

static int64_t count(struct store *st, const char *sql)
{
	struct store_conn *c;
	struct store_q q;
	int64_t n;

	assert_int_equal(store_conn_get(st, &c), 0);
	assert_int_equal(store_one_(c, &q, sql, NULL, 0), 0);
	n = store_int(&q, 0);
	store_done(&q, 0);
	store_conn_put(st, c);
	return n;
}

/* A file of n bytes of a pattern seeded by seed, every byte value in it
 * (NUL and backslash included, which text encodings mangle). */
static int make_file(const char *dir, const char *name, size_t n, unsigned seed, unsigned char **ret_bytes)
{
	char path[4096];
	unsigned char *b = malloc(n);
	int fd;

	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)((i * 31 + seed * 7 + (i >> 11)) & 0xff);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	*ret_bytes = b;
	return fd;
}

static void read_back(struct store *st, const char *dir, const char *sha, const unsigned char *want, size_t n)
{
	char path[4096];
	struct store_bundle b;
	unsigned char *got = malloc(n + 1);
	int fd;

	snprintf(path, sizeof(path), "%s/out", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(store_bundle_read(st, sha, fd, &b), 0);
	assert_int_equal(b.size, n);
	assert_string_equal(b.bundle_type, "zip");
	assert_int_equal(pread(fd, got, n + 1, 0), (ssize_t)n);
	assert_memory_equal(got, want, n);
	close(fd);
	free(got);
}

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define SHA_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define SHA_E "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

static void test_put_read(void **state)
{
	char *dir = tu_mkdtemp();
	struct store *st = NULL;
	struct store_bundle b;
	unsigned char *bytes;
	size_t n = 2 * STORE_BUNDLE_CHUNK + 12345; /* three chunks, the last one short */
	int fd;

	(void)state;
	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	fd = make_file(dir, "bundle", n, 1, &bytes);
	assert_int_equal(store_bundle_stat(st, SHA_A, &b), -ENOENT);
	assert_int_equal(store_bundle_put(st, SHA_A, "zip", fd), 0);
	assert_int_equal(store_bundle_stat(st, SHA_A, &b), 0);
	assert_int_equal(b.size, n);
	assert_true(b.complete_time > 0);
	assert_int_equal(count(st, "SELECT COUNT(*) FROM bundle_chunks WHERE sha256 = '" SHA_A "'"), 3);
	read_back(st, dir, SHA_A, bytes, n);
	/* again: nothing changes */
	assert_int_equal(store_bundle_put(st, SHA_A, "zip", fd), 0);
	assert_int_equal(count(st, "SELECT COUNT(*) FROM bundle_chunks"), 3);
	read_back(st, dir, SHA_A, bytes, n);

	/* a chunk gone while a reader reads: an error, never a shorter bundle */
	exec(st, "DELETE FROM bundle_chunks WHERE seq = 1");
	{
		int out = open(dir, O_TMPFILE | O_RDWR, 0600);
		assert_true(out >= 0);
		assert_int_equal(store_bundle_read(st, SHA_A, out, NULL), -EIO);
		close(out);
	}
	close(fd);
	free(bytes);
	store_close(st);
	tu_rm_rf(dir);
}

static void test_incomplete_invisible(void **state)
{
	char *dir = tu_mkdtemp();
	struct store *st = NULL;
	struct store_bundle b;
	unsigned char *bytes;
	size_t n = STORE_BUNDLE_CHUNK + 1;
	int fd, out;

	(void)state;
	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	/* a writer that died after its first chunk */
	exec(st, "INSERT INTO bundle_blobs (sha256, size, bundle_type, chunks, start_time)"
		 " VALUES ('" SHA_B "', 1048577, 'zip', 2, 1);"
		 "INSERT INTO bundle_chunks (sha256, seq, data) VALUES ('" SHA_B "', 0, 'x')");
	assert_int_equal(store_bundle_stat(st, SHA_B, &b), -ENOENT);
	out = open(dir, O_TMPFILE | O_RDWR, 0600);
	assert_true(out >= 0);
	assert_int_equal(store_bundle_read(st, SHA_B, out, NULL), -ENOENT);
	assert_int_equal(lseek(out, 0, SEEK_END), 0);
	close(out);
	/* the next writer completes it, its own bytes replacing the stale chunk */
	fd = make_file(dir, "bundle", n, 2, &bytes);
	assert_int_equal(store_bundle_put(st, SHA_B, "zip", fd), 0);
	read_back(st, dir, SHA_B, bytes, n);
	close(fd);
	free(bytes);
	store_close(st);
	tu_rm_rf(dir);
}

static void add_deployment(struct store *st, const char *id, const char *status, const char *target, const char *sha)
{
	char sql[2048];

	snprintf(
	    sql, sizeof(sql),
	    "INSERT INTO applications (name, id, compute_platform, create_time) VALUES ('app', 'a', 'Server', 1)"
	    " ON CONFLICT DO NOTHING;"
	    "INSERT INTO deployments (seq, id, application, deployment_group, deployment_config, compute_platform,"
	    " status, creator, create_time, complete_time, doc) VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM"
	    " deployments), '%s', 'app', 'grp', 'CodeDeployDefault.OneAtATime', 'Server', '%s', 'user', 1, 2, '{}');"
	    "INSERT INTO deployment_targets (deployment_id, target_id, seq, last_updated) VALUES ('%s', '%s', 0, 1);"
	    "INSERT INTO meta (key, value) VALUES ('engine.bundle.%s', '{\"sha256\":\"%s\",\"size\":1,"
	    "\"bundleType\":\"zip\"}')",
	    id, status, id, target, id, sha);
	exec(st, sql);
}

static void test_granted(void **state)
{
	char *dir = tu_mkdtemp();
	struct store *st = NULL;
	bool ok = true;

	(void)state;
	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	add_deployment(st, "d-RUNNING01", "InProgress", "host-1", SHA_A);
	add_deployment(st, "d-FINISHED1", "Succeeded", "host-2", SHA_A);
	assert_int_equal(store_bundle_granted(st, SHA_A, "host-1", &ok), 0);
	assert_true(ok);
	assert_int_equal(store_bundle_granted(st, SHA_B, "host-1", &ok), 0);
	assert_false(ok);
	/* its deployment is over */
	assert_int_equal(store_bundle_granted(st, SHA_A, "host-2", &ok), 0);
	assert_false(ok);
	assert_int_equal(store_bundle_granted(st, SHA_A, "host-3", &ok), 0);
	assert_false(ok);
	store_close(st);
	tu_rm_rf(dir);
}

static void add_blob(struct store *st, const char *sha, int64_t start, int64_t complete)
{
	char sql[1024];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO bundle_blobs (sha256, size, bundle_type, chunks, start_time, complete_time)"
		 " VALUES ('%s', 2, 'zip', 2, %lld, %s%lld);"
		 "INSERT INTO bundle_chunks (sha256, seq, data) VALUES ('%s', 0, 'a');"
		 "INSERT INTO bundle_chunks (sha256, seq, data) VALUES ('%s', 1, 'b')",
		 sha, (long long)start, complete ? "" : "NULL + ", (long long)complete, sha, sha);
	exec(st, sql);
}

static void test_retention(void **state)
{
	char *dir = tu_mkdtemp();
	struct store *st = NULL;
	size_t removed = 0, total = 0;
	bool more = true;
	int steps = 0;

	(void)state;
	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	add_blob(st, SHA_A, 100, 110);	 /* a deployment's bundle */
	add_blob(st, SHA_B, 100, 110);	 /* an uploaded revision's */
	add_blob(st, SHA_C, 100, 110);	 /* nobody's: goes */
	add_blob(st, SHA_D, 100, 0);	 /* a writer that died: goes */
	add_blob(st, SHA_E, 5000, 5010); /* nobody's, but recent: stays */
	add_deployment(st, "d-OLDDEPLOY", "Succeeded", "host-1", SHA_A);
	exec(st, "INSERT INTO meta (key, value) VALUES ('not.json', 'plain text')");
	exec(st, "INSERT INTO revisions (application, rkey, revision, revision_type) VALUES ('app', 'k',"
		 " '{\"revisionType\":\"Bundle\",\"bundleLocation\":{\"sha256\":\"" SHA_B "\"}}', 'Bundle')");
	while (more && steps++ < 100) {
		assert_int_equal(store_retention_bundles_step(st, 1000, 1000, &removed, &more), 0);
		total += removed;
	}
	assert_int_equal(total, 4);
	assert_int_equal(
	    count(st, "SELECT COUNT(*) FROM bundle_blobs WHERE sha256 IN ('" SHA_A "', '" SHA_B "', '" SHA_E "')"), 3);
	assert_int_equal(count(st, "SELECT COUNT(*) FROM bundle_blobs"), 3);
	assert_int_equal(count(st, "SELECT COUNT(*) FROM bundle_chunks"), 6);
	/* the deployment goes: so does its bundle */
	exec(st, "DELETE FROM deployment_targets; DELETE FROM deployments");
	assert_int_equal(store_retention_bundles_step(st, 1000, 1000, &removed, &more), 0);
	assert_int_equal(removed, 2);
	assert_true(more);
	assert_int_equal(store_retention_bundles_step(st, 1000, 1000, &removed, &more), 0);
	assert_false(more);
	assert_int_equal(count(st, "SELECT COUNT(*) FROM bundle_blobs"), 2);
	store_close(st);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_read),
	    cmocka_unit_test(test_incomplete_invisible),
	    cmocka_unit_test(test_granted),
	    cmocka_unit_test(test_retention),
	};
	int r = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	if (!tu_pg_start())
		return r;
	tu_on_pg = true;
	return r | cmocka_run_group_tests_name("postgresql", tests, NULL, NULL);
}
