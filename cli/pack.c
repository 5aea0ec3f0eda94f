#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* A bundle is held in memory before it is signed and sent; keep it bounded. */
#define PACK_MAX_BYTES (512u << 20)

struct membuf {
	unsigned char *data;
	size_t len, cap;
};

static la_ssize_t mem_write(struct archive *a, void *ud, const void *buf, size_t n)
{
	struct membuf *m = ud;

	if (m->len + n > PACK_MAX_BYTES) {
		archive_set_error(a, EFBIG, "bundle larger than %u MiB", PACK_MAX_BYTES >> 20);
		return -1;
	}
	if (m->len + n > m->cap) {
		size_t ncap = (m->len + n) * 2;
		unsigned char *nd = realloc(m->data, ncap);
		if (!nd) {
			archive_set_error(a, ENOMEM, "out of memory");
			return -1;
		}
		m->data = nd;
		m->cap = ncap;
	}
	memcpy(m->data + m->len, buf, n);
	m->len += n;
	return (la_ssize_t)n;
}

static int mem_close(struct archive *a, void *ud)
{
	(void)a;
	(void)ud;
	return ARCHIVE_OK;
}

int pack_directory(const char *dir, const char *format, void **ret_buf, size_t *ret_len, char *errbuf, size_t errlen)
{
	struct archive *disk = NULL, *out = NULL;
	struct archive_entry *entry = NULL;
	struct membuf m = {0};
	char path[4096];
	size_t dirlen;
	struct stat st;
	int r = 0;

	snprintf(path, sizeof(path), "%s/appspec.yml", dir);
	if (access(path, R_OK) < 0) {
		snprintf(path, sizeof(path), "%s/appspec.yaml", dir);
		if (access(path, R_OK) < 0) {
			snprintf(errbuf, errlen,
				 "%s has no appspec.yml at its top level: a revision needs one (see "
				 "examples/hello-web/appspec.yml)",
				 dir);
			return -ENOENT;
		}
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(errbuf, errlen, "%s is not a directory", dir);
		return -ENOTDIR;
	}

	out = archive_write_new();
	disk = archive_read_disk_new();
	if (!out || !disk) {
		r = -ENOMEM;
		goto out;
	}
	if (strcmp(format, "zip") == 0) {
		r = archive_write_set_format_zip(out);
	} else if (strcmp(format, "tgz") == 0) {
		r = archive_write_set_format_pax_restricted(out);
		if (r == ARCHIVE_OK)
			r = archive_write_add_filter_gzip(out);
	} else if (strcmp(format, "tar") == 0) {
		r = archive_write_set_format_pax_restricted(out);
	} else {
		snprintf(errbuf, errlen, "unknown bundle format '%s': use zip, tgz or tar", format);
		r = -EINVAL;
		goto out;
	}
	if (r != ARCHIVE_OK) {
		snprintf(errbuf, errlen, "libarchive: %s", archive_error_string(out));
		r = -EIO;
		goto out;
	}
	archive_write_set_bytes_in_last_block(out, 1);
	if (archive_write_open(out, &m, NULL, mem_write, mem_close) != ARCHIVE_OK) {
		snprintf(errbuf, errlen, "libarchive: %s", archive_error_string(out));
		r = -EIO;
		goto out;
	}
	archive_read_disk_set_symlink_physical(disk);
	archive_read_disk_set_standard_lookup(disk);
	if (archive_read_disk_open(disk, dir) != ARCHIVE_OK) {
		snprintf(errbuf, errlen, "cannot read %s: %s", dir, archive_error_string(disk));
		r = -EIO;
		goto out;
	}
	dirlen = strlen(dir);
	while (dirlen > 1 && dir[dirlen - 1] == '/')
		dirlen--;
	for (;;) {
		const char *name, *rel;
		int rr;

		entry = archive_entry_new();
		rr = archive_read_next_header2(disk, entry);
		if (rr == ARCHIVE_EOF)
			break;
		if (rr != ARCHIVE_OK && rr != ARCHIVE_WARN) {
			snprintf(errbuf, errlen, "cannot read %s: %s", dir, archive_error_string(disk));
			r = -EIO;
			goto out;
		}
		name = archive_entry_pathname(entry);
		rel = name;
		if (strncmp(name, dir, dirlen) == 0)
			rel = name + dirlen;
		while (*rel == '/')
			rel++;
		if (*rel == '\0') { /* the directory itself */
			archive_read_disk_descend(disk);
			archive_entry_free(entry);
			entry = NULL;
			continue;
		}
		/* Version-control metadata is never part of a revision. */
		if (strcmp(rel, ".git") == 0 || strncmp(rel, ".git/", 5) == 0) {
			archive_entry_free(entry);
			entry = NULL;
			continue;
		}
		archive_read_disk_descend(disk);
		{
			char *relcopy = strdup(rel);
			if (!relcopy) {
				r = -ENOMEM;
				goto out;
			}
			archive_entry_set_pathname(entry, relcopy);
			free(relcopy);
		}
		if (archive_write_header(out, entry) != ARCHIVE_OK) {
			snprintf(errbuf, errlen, "cannot pack %s: %s", name, archive_error_string(out));
			r = -EIO;
			goto out;
		}
		if (archive_entry_filetype(entry) == AE_IFREG && archive_entry_size(entry) > 0) {
			char buf[65536];
			la_ssize_t n;
			while ((n = archive_read_data(disk, buf, sizeof(buf))) > 0)
				if (archive_write_data(out, buf, (size_t)n) != n) {
					snprintf(errbuf, errlen, "cannot pack %s: %s", name, archive_error_string(out));
					r = -EIO;
					goto out;
				}
			if (n < 0) {
				snprintf(errbuf, errlen, "cannot read %s: %s", name, archive_error_string(disk));
				r = -EIO;
				goto out;
			}
		}
		archive_entry_free(entry);
		entry = NULL;
	}
	if (archive_write_close(out) != ARCHIVE_OK) {
		snprintf(errbuf, errlen, "cannot finish the bundle: %s", archive_error_string(out));
		r = -EIO;
		goto out;
	}
	*ret_buf = m.data;
	*ret_len = m.len;
	m.data = NULL;
	r = 0;
out:
	archive_entry_free(entry);
	if (disk)
		archive_read_free(disk);
	if (out)
		archive_write_free(out);
	free(m.data);
	return r;
}
