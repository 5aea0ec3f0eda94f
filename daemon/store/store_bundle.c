/* Bundles kept in the database for the other daemons of a cluster (see
 * store.h): bundle_blobs has a row per bundle, complete_time NULL until
 * every chunk is in bundle_chunks. The chunks are written and read each in
 * its own statement, outside the store's write lock: a 100 MB bundle would
 * otherwise hold every other writer of the cluster for as long as it takes
 * to send, and a chunk is written by content (the same sha256 and seq are
 * the same bytes whoever writes them), so writers of one bundle need no
 * order between them. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util.h"

static int stat_c(struct store_conn *c, const char *sha256, struct store_bundle *ret, int64_t *ret_chunks)
{
	struct store_q q;
	int r;

	r = store_one(c, &q,
		      "SELECT size, bundle_type, chunks, complete_time FROM bundle_blobs"
		      " WHERE sha256 = ?1 AND complete_time IS NOT NULL",
		      SQL_TEXT(sha256));
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	rd_strlcpy(ret->sha256, sha256, sizeof(ret->sha256));
	ret->size = (uint64_t)store_int(&q, 0);
	store_copy(&q, 1, ret->bundle_type, sizeof(ret->bundle_type));
	*ret_chunks = store_int(&q, 2);
	ret->complete_time = store_int(&q, 3);
	return store_done(&q, 0);
}

int store_bundle_stat(struct store *st, const char *sha256, struct store_bundle *ret)
{
	struct store_conn *c;
	struct store_bundle b;
	int64_t chunks;
	int r;

	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = stat_c(c, sha256, &b, &chunks);
	store_conn_put(st, c);
	if (r == 0)
		*ret = b;
	return r;
}

int store_bundle_put(struct store *st, const char *sha256, const char *bundle_type, int fd)
{
	struct store_conn *c = NULL;
	struct store_bundle have;
	unsigned char *buf = NULL;
	int64_t chunks, seq = 0;
	uint64_t off = 0;
	struct stat sb;
	int r;

	if (fstat(fd, &sb) < 0)
		return -errno;
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	if (stat_c(c, sha256, &have, &chunks) == 0)
		goto out; /* another daemon, or an earlier call, wrote it */
	chunks = ((int64_t)sb.st_size + STORE_BUNDLE_CHUNK - 1) / STORE_BUNDLE_CHUNK;
	/* a row an earlier writer left incomplete is taken over: its start
	 * time is renewed so that retention does not remove it under us */
	r = store_run(
	    c,
	    "INSERT INTO bundle_blobs (sha256, size, bundle_type, chunks, start_time) VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (sha256) DO UPDATE SET size = excluded.size, bundle_type = excluded.bundle_type,"
	    " chunks = excluded.chunks, start_time = excluded.start_time"
	    " WHERE bundle_blobs.complete_time IS NULL",
	    SQL_TEXT(sha256), SQL_INT((int64_t)sb.st_size), SQL_TEXT(bundle_type), SQL_INT(chunks),
	    SQL_INT(rd_wall_ms()));
	if (r < 0)
		goto out;
	buf = malloc(STORE_BUNDLE_CHUNK);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (seq = 0; seq < chunks; seq++) {
		size_t len = 0;
		while (len < STORE_BUNDLE_CHUNK && off + len < (uint64_t)sb.st_size) {
			ssize_t n = pread(fd, buf + len, STORE_BUNDLE_CHUNK - len, (off_t)(off + len));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				r = n < 0 ? -errno : -EIO; /* shorter than it was */
				goto out;
			}
			len += (size_t)n;
		}
		r = store_run(c,
			      "INSERT INTO bundle_chunks (sha256, seq, data) VALUES (?1, ?2, ?3)"
			      " ON CONFLICT (sha256, seq) DO UPDATE SET data = excluded.data",
			      SQL_TEXT(sha256), SQL_INT(seq), SQL_BLOB(buf, len));
		if (r < 0)
			goto out;
		off += len;
	}
	/* visible only with every chunk in (none removed meanwhile) */
	r = store_run(c,
		      "UPDATE bundle_blobs SET complete_time = ?2 WHERE sha256 = ?1 AND complete_time IS NULL"
		      " AND (SELECT COUNT(*) FROM bundle_chunks WHERE sha256 = ?1) = ?3",
		      SQL_TEXT(sha256), SQL_INT(rd_wall_ms()), SQL_INT(chunks));
	if (r == 0 && store_changes(c) != 1 && stat_c(c, sha256, &have, &chunks) < 0)
		r = -EIO;
out:
	free(buf);
	store_conn_put(st, c);
	return r;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int store_bundle_read(struct store *st, const char *sha256, int fd, struct store_bundle *ret)
{
	struct store_conn *c;
	struct store_bundle b;
	struct store_q q;
	int64_t chunks;
	uint64_t total = 0;
	int r;

	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = stat_c(c, sha256, &b, &chunks);
	for (int64_t seq = 0; r == 0 && seq < chunks; seq++) {
		unsigned char *data = NULL;
		size_t len = 0;

		r = store_one(c, &q, "SELECT data FROM bundle_chunks WHERE sha256 = ?1 AND seq = ?2", SQL_TEXT(sha256),
			      SQL_INT(seq));
		if (r == -ENOENT)
			r = -EIO;
		if (r < 0)
			break;
		r = store_blob(&q, 0, &data, &len);
		store_done(&q, 0);
		if (r == 0)
			r = write_all(fd, data, len);
		free(data);
		total += len;
	}
	store_conn_put(st, c);
	if (r == 0 && total != b.size)
		r = -EIO;
	if (r == 0 && ret)
		*ret = b;
	return r;
}

int store_bundle_granted(struct store *st, const char *sha256, const char *instance, bool *ret)
{
	struct store_conn *c;
	struct store_q q;
	bool found = false;
	int r;

	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	/* the instance's unfinished deployments (a few), and the bundle each
	 * was resolved to (meta engine.bundle.<id>, store_eng_bundle_set) */
	r = store_query(
	    c, &q,
	    "SELECT m.value FROM deployment_targets t JOIN deployments d ON d.id = t.deployment_id"
	    " JOIN meta m ON m.key = 'engine.bundle.' || d.id"
	    " WHERE t.target_id = ?1 AND d.status IN ('Created', 'Queued', 'InProgress', 'Baking', 'Ready')",
	    SQL_TEXT(instance));
	while (r == 0 && !found && store_next(&q)) {
		json_t *b = store_json(&q, 0);
		const char *s = json_string_value(json_object_get(b, "sha256"));
		found = s && !strcmp(s, sha256);
		json_decref(b);
	}
	r = store_done(&q, r);
	store_conn_put(st, c);
	if (r == 0)
		*ret = found;
	return r;
}
