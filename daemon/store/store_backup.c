/* Backup and restore of the store with SQLite's online backup API.
 *
 * A backup is one SQLite file: a copy of state.db taken in a single read
 * transaction (WAL: writers go on meanwhile, and the copy is the store as one
 * committed transaction left it), plus a table backup_files holding the
 * small files of data_dir the store needs beside it (the specification
 * signing key and certificate agents pin, the key-encryption key of the
 * access-key secrets). Restore copies it into a data_dir
 * that has no store yet, writes those files back and drops the table. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util.h"

#define ERR(...) ((void)rd_error_set(err, 0, "StoreError", __VA_ARGS__))

/* data_dir files kept in a backup; none is larger than a few KiB. The
 * key-encryption key is one of them (a KEK at a kek_file path outside
 * data_dir is not): a backup opens its access-key secrets. */
static const char *const backup_file_names[] = {"daemon.key", "daemon.crt", "kek"};
#define BACKUP_FILE_MAX (1 << 20)

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int fsync_dir_of(const char *path)
{
	char *dir = strdup(path), *slash;
	int r;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	r = fsync_path(dir, O_RDONLY | O_DIRECTORY);
	free(dir);
	return r;
}

/* Copies every page of src's "main" into dst in one step, i.e. in one read
 * transaction of src. */
static int copy_db(sqlite3 *dst, sqlite3 *src, struct rd_error *err)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc;

	if (!b) {
		ERR("cannot start the backup: %s", sqlite3_errmsg(dst));
		return -EIO;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		ERR("the backup failed: %s", sqlite3_errstr(rc));
		return store_errno(rc) < 0 ? store_errno(rc) : -EIO;
	}
	return 0;
}

static int open_file_db(const char *path, int flags, sqlite3 **ret, struct rd_error *err)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags, NULL);

	if (rc != SQLITE_OK) {
		ERR("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close_v2(db);
		return store_errno(rc) < 0 ? store_errno(rc) : -EIO;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_extended_result_codes(db, 1);
	*ret = db;
	return 0;
}

static int add_files(sqlite3 *db, const char *data_dir, struct rd_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc =
	    sqlite3_exec(db,
			 "CREATE TABLE backup_files (name TEXT PRIMARY KEY, mode INTEGER NOT NULL, data BLOB NOT NULL);"
			 "CREATE TABLE backup_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
			 NULL, NULL, NULL);
	int r = 0;

	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "INSERT INTO backup_files (name, mode, data) VALUES (?1, ?2, ?3)", -1, &s,
					NULL);
	if (rc != SQLITE_OK) {
		ERR("cannot write the backup: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	for (size_t i = 0; i < RD_ARRAY_SIZE(backup_file_names) && r == 0; i++) {
		char path[4096], *data = NULL;
		size_t len = 0;
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", data_dir, backup_file_names[i]);
		if (stat(path, &st) < 0) {
			if (errno == ENOENT)
				continue; /* made at the daemon's first start */
			r = -errno;
			ERR("cannot read %s: %s", path, strerror(errno));
			break;
		}
		r = rd_read_file(path, BACKUP_FILE_MAX, &data, &len);
		if (r < 0) {
			ERR("cannot read %s: %s", path, strerror(-r));
			break;
		}
		sqlite3_bind_text(s, 1, backup_file_names[i], -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 2, (int)(st.st_mode & 07777));
		sqlite3_bind_blob(s, 3, data, (int)len, SQLITE_TRANSIENT);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		free(data);
		if (rc != SQLITE_DONE) {
			ERR("cannot write the backup: %s", sqlite3_errmsg(db));
			r = -EIO;
		}
	}
	sqlite3_finalize(s);
	if (r == 0 &&
	    sqlite3_exec(db,
			 "INSERT INTO backup_info VALUES ('format', 'rolloutd-backup-1');"
			 "INSERT INTO backup_info VALUES ('time_ms', CAST(strftime('%s','now') AS INTEGER) * 1000);",
			 NULL, NULL, NULL) != SQLITE_OK) {
		ERR("cannot write the backup: %s", sqlite3_errmsg(db));
		r = -EIO;
	}
	return r;
}

int store_backup(struct store *st, const char *data_dir, const char *out, struct rd_error *err)
{
	struct store_conn *c = NULL;
	sqlite3 *dst = NULL;
	char *tmp = NULL;
	int fd, r;

	if (store_is_postgresql(st)) {
		/* SQLite's online backup has no PostgreSQL counterpart here */
		ERR("the store is PostgreSQL: back it up with pg_dump (and data_dir's signing key, certificate and "
		    "secret key with it); 'rolloutd backup' copies only a SQLite store");
		return -ENOTSUP;
	}
	if (asprintf(&tmp, "%s.tmp-%d", out, (int)getpid()) < 0)
		return -ENOMEM;
	/* the backup holds the signing key: 0600 whatever the umask */
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		ERR("cannot create %s: %s; check that its folder exists and is writable", tmp, strerror(errno));
		free(tmp);
		return r;
	}
	close(fd);
	r = open_file_db(tmp, SQLITE_OPEN_READWRITE, &dst, err);
	if (r == 0)
		r = store_conn_get(st, &c);
	if (r == 0)
		r = copy_db(dst, c->db, err);
	store_conn_put(st, c);
	/* the copy has the source's WAL mode; a backup is one self-contained file */
	if (r == 0 && sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
		ERR("cannot write the backup: %s", sqlite3_errmsg(dst));
		r = -EIO;
	}
	if (r == 0)
		r = add_files(dst, data_dir, err);
	if (dst && sqlite3_close_v2(dst) != SQLITE_OK && r == 0) {
		ERR("cannot close %s", tmp);
		r = -EIO;
	}
	if (r == 0 && (r = fsync_path(tmp, O_RDONLY)) < 0)
		ERR("cannot write %s: %s", tmp, strerror(-r));
	if (r == 0 && rename(tmp, out) < 0) {
		r = -errno;
		ERR("cannot rename %s to %s: %s", tmp, out, strerror(errno));
	}
	if (r == 0)
		fsync_dir_of(out);
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	const char *p = data;
	int r = 0;

	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		unlink(path);
	return r;
}

static int restore_files(sqlite3 *db, const char *data_dir, struct rd_error *err)
{
	sqlite3_stmt *s = NULL;
	int rc, r = 0;

	if (sqlite3_prepare_v2(db, "SELECT name, mode, data FROM backup_files", -1, &s, NULL) != SQLITE_OK) {
		ERR("cannot read the backup's files: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		char path[4096];
		bool known = false;

		for (size_t i = 0; i < RD_ARRAY_SIZE(backup_file_names); i++)
			known |= name && strcmp(name, backup_file_names[i]) == 0;
		if (!known)
			continue; /* never write a name this version does not know */
		snprintf(path, sizeof(path), "%s/%s", data_dir, name);
		r = write_file(path, sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2),
			       (mode_t)(sqlite3_column_int(s, 1) & 0600));
		if (r < 0)
			ERR("cannot write %s: %s%s", path, strerror(-r),
			    r == -EEXIST ? " (restore into a data_dir without a store)" : "");
	}
	sqlite3_finalize(s);
	return r;
}

int store_restore(const char *backup, const char *data_dir, struct rd_error *err)
{
	sqlite3 *src = NULL, *dst = NULL;
	char db_path[4096], tmp[4200];
	struct stat st;
	sqlite3_stmt *s = NULL;
	int fd, r;

	r = rd_mkdir_p(data_dir, 0700);
	if (r < 0) {
		ERR("cannot create data_dir %s: %s", data_dir, strerror(-r));
		return r;
	}
	snprintf(db_path, sizeof(db_path), "%s/state.db", data_dir);
	if (stat(db_path, &st) == 0) {
		ERR("%s already holds a store (%s); restore into a fresh data_dir, or move the old one away first",
		    data_dir, db_path);
		return -EEXIST;
	}
	r = open_file_db(backup, SQLITE_OPEN_READONLY, &src, err);
	if (r < 0)
		return r;
	if (sqlite3_prepare_v2(src, "SELECT value FROM backup_info WHERE key = 'format'", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(s, 0), "rolloutd-backup-1") != 0) {
		ERR("%s is not a rolloutd backup (made by 'rolloutd backup FILE')", backup);
		r = -EINVAL;
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(src, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0) {
		ERR("%s is damaged (SQLite quick_check failed); use another backup", backup);
		r = -EBADMSG;
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;

	snprintf(tmp, sizeof(tmp), "%s.restore-%d", db_path, (int)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		ERR("cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	r = open_file_db(tmp, SQLITE_OPEN_READWRITE, &dst, err);
	if (r == 0)
		r = copy_db(dst, src, err);
	if (r == 0 && sqlite3_exec(dst, "DROP TABLE backup_files; DROP TABLE backup_info; PRAGMA journal_mode=WAL;",
				   NULL, NULL, NULL) != SQLITE_OK) {
		ERR("cannot write %s: %s", tmp, sqlite3_errmsg(dst));
		r = -EIO;
	}
	if (dst && sqlite3_close_v2(dst) != SQLITE_OK && r == 0)
		r = -EIO;
	dst = NULL;
	if (r == 0)
		r = restore_files(src, data_dir, err);
	if (r == 0 && (r = fsync_path(tmp, O_RDONLY)) < 0)
		ERR("cannot write %s: %s", tmp, strerror(-r));
	if (r == 0 && rename(tmp, db_path) < 0) {
		r = -errno;
		ERR("cannot rename %s to %s: %s", tmp, db_path, strerror(errno));
	}
	if (r == 0)
		fsync_dir_of(db_path);
	else
		unlink(tmp);
out:
	sqlite3_finalize(s);
	sqlite3_close_v2(dst);
	sqlite3_close_v2(src);
	return r;
}
