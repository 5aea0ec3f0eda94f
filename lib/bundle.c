#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appspec.h"
#include "bundle.h"
#include "util.h"

#define RATIO_MIN_BYTES (64ull << 20)

void bundle_limits_default(struct bundle_limits *lim)
{
	lim->max_bytes = 8ull << 30;
	lim->max_entries = 200000;
	lim->max_ratio = 200;
}

static int open_reader(const char *bundle, struct archive **ret, uint64_t *ret_packed, char *err, size_t errlen)
{
	struct archive *a;
	struct stat st;

	if (stat(bundle, &st) < 0) {
		int r = -errno;
		snprintf(err, errlen, "bundle %s: %s", bundle, strerror(errno));
		return r;
	}
	a = archive_read_new();
	if (!a)
		return -ENOMEM;
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_format_zip(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	if (archive_read_open_filename(a, bundle, 64 * 1024) != ARCHIVE_OK) {
		snprintf(err, errlen, "bundle %s is not a zip, tar or tgz archive: %s", bundle,
			 archive_error_string(a) ? archive_error_string(a) : "unknown format");
		archive_read_free(a);
		return -EINVAL;
	}
	*ret = a;
	*ret_packed = (uint64_t)st.st_size;
	return 0;
}

/* Depth-checked lexical resolution of a relative symlink target from the
 * directory of the link: false when it would leave the root. */
static bool link_stays_inside(const char *relpath, const char *target)
{
	long depth = 0;
	const char *p;

	/* depth of the link's directory */
	for (p = relpath; *p; p++)
		if (*p == '/')
			depth++;
	p = target;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return false;
		} else if (n > 0 && !(n == 1 && p[0] == '.'))
			depth++;
		p += n;
		while (*p == '/')
			p++;
	}
	return true;
}

struct walk {
	char **links; /* symlink entries seen so far */
	size_t n_links;
};

static void walk_clear(struct walk *w)
{
	for (size_t i = 0; i < w->n_links; i++)
		free(w->links[i]);
	free(w->links);
}

/* Checks one entry. *ret_rel: normalised relative path (caller frees), "" for
 * the root itself (to be skipped). *ret_link: normalised hardlink target or
 * NULL. */
static int check_entry(struct walk *w, struct archive_entry *e, char **ret_rel, char **ret_link, char *err,
		       size_t errlen)
{
	const char *path = archive_entry_pathname(e);
	const char *hl = archive_entry_hardlink(e);
	char *rel = NULL, *link = NULL;
	mode_t type = archive_entry_filetype(e);
	int r;

	if (!path || !*path) {
		snprintf(err, errlen, "bundle entry with an empty or unreadable name; rebuild the bundle");
		return -EINVAL;
	}
	if (path[0] == '/') {
		snprintf(err, errlen, "bundle entry '%s' has an absolute path; bundles must hold relative paths", path);
		return -EINVAL;
	}
	if (strlen(path) >= PATH_MAX / 2) {
		snprintf(err, errlen, "bundle entry '%.64s…' has a name longer than %d bytes", path, PATH_MAX / 2);
		return -EINVAL;
	}
	r = appspec_norm_relpath(path, &rel);
	if (r == -EINVAL) {
		snprintf(err, errlen, "bundle entry '%s' contains '..'; it would be written outside the deployment",
			 path);
		return r;
	}
	if (r < 0)
		return r;
	for (size_t i = 0; i < w->n_links; i++) {
		size_t l = strlen(w->links[i]);
		if (strncmp(rel, w->links[i], l) == 0 && rel[l] == '/') {
			snprintf(err, errlen, "bundle entry '%s' passes through the symlink '%s'; refused", path,
				 w->links[i]);
			r = -EINVAL;
			goto fail;
		}
	}
	if (hl) {
		if (hl[0] == '/' || appspec_norm_relpath(hl, &link) < 0 || !link[0]) {
			snprintf(err, errlen, "bundle entry '%s' is a hardlink to '%s', outside the bundle; refused",
				 path, hl);
			r = -EINVAL;
			goto fail;
		}
	} else if (type == AE_IFLNK) {
		const char *t = archive_entry_symlink(e);
		if (!t || !*t || t[0] == '/' || !link_stays_inside(rel, t)) {
			snprintf(err, errlen,
				 "bundle entry '%s' is a symlink to '%s', which points outside the bundle; use a "
				 "relative link that stays inside the revision",
				 path, t ? t : "");
			r = -EINVAL;
			goto fail;
		}
		if (w->n_links % 16 == 0) {
			char **nl = realloc(w->links, (w->n_links + 16) * sizeof(*nl));
			if (!nl) {
				r = -ENOMEM;
				goto fail;
			}
			w->links = nl;
		}
		if (!(w->links[w->n_links] = strdup(rel))) {
			r = -ENOMEM;
			goto fail;
		}
		w->n_links++;
	} else if (type != AE_IFREG && type != AE_IFDIR) {
		snprintf(err, errlen,
			 "bundle entry '%s' is a device, fifo or socket; bundles may hold only files, "
			 "directories and links",
			 path);
		r = -EINVAL;
		goto fail;
	}
	*ret_rel = rel;
	*ret_link = link;
	return 0;
fail:
	free(rel);
	free(link);
	return r;
}

static int limit_check(const struct bundle_limits *lim, uint64_t entries, uint64_t bytes, uint64_t packed,
		       const char *bundle, char *err, size_t errlen)
{
	if (entries > lim->max_entries) {
		snprintf(err, errlen,
			 "bundle %s has more than %llu entries; refused (raise the entry limit if this is "
			 "intended)",
			 bundle, (unsigned long long)lim->max_entries);
		return -EFBIG;
	}
	if (bytes > lim->max_bytes) {
		snprintf(err, errlen,
			 "bundle %s unpacks to more than %llu bytes; refused (raise the size limit if this "
			 "is intended)",
			 bundle, (unsigned long long)lim->max_bytes);
		return -EFBIG;
	}
	if (bytes > RATIO_MIN_BYTES && packed > 0 && bytes / packed > lim->max_ratio) {
		snprintf(err, errlen,
			 "bundle %s expands more than %llu times (%llu bytes from %llu); refused as a "
			 "decompression bomb",
			 bundle, (unsigned long long)lim->max_ratio, (unsigned long long)bytes,
			 (unsigned long long)packed);
		return -EFBIG;
	}
	return 0;
}

/* ---- extraction ---- */

static int rmdir_if_empty_move_up(const char *dest, char *err, size_t errlen)
{
	DIR *d = opendir(dest);
	struct dirent *de;
	char only[NAME_MAX + 1] = "";
	int count = 0, r = 0;
	char *sub = NULL, *tmp = NULL;
	bool has_appspec = false;
	struct stat st;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (++count == 1)
			rd_strlcpy(only, de->d_name, sizeof(only));
	}
	closedir(d);
	if (count != 1)
		return 0;
	if (asprintf(&sub, "%s/%s", dest, only) < 0)
		return -ENOMEM;
	if (lstat(sub, &st) < 0 || !S_ISDIR(st.st_mode))
		goto out;
	d = opendir(sub);
	if (!d)
		goto out;
	while ((de = readdir(d)))
		if (strcasestr(de->d_name, "appspec"))
			has_appspec = true;
	closedir(d);
	if (!has_appspec)
		goto out;
	/* rename the single dir aside, move its children up, remove it */
	if (asprintf(&tmp, "%s/.rollout-strip-%d", dest, (int)getpid()) < 0) {
		r = -ENOMEM;
		goto out;
	}
	if (rename(sub, tmp) < 0) {
		r = -errno;
		snprintf(err, errlen, "moving %s up: %s", sub, strerror(errno));
		goto out;
	}
	d = opendir(tmp);
	if (!d) {
		r = -errno;
		goto out;
	}
	while ((de = readdir(d))) {
		char *from = NULL, *to = NULL;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&from, "%s/%s", tmp, de->d_name) < 0 || asprintf(&to, "%s/%s", dest, de->d_name) < 0) {
			free(from);
			r = -ENOMEM;
			break;
		}
		if (rename(from, to) < 0) {
			r = -errno;
			snprintf(err, errlen, "moving %s to %s: %s", from, to, strerror(errno));
		}
		free(from);
		free(to);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r == 0 && rmdir(tmp) < 0)
		r = -errno;
out:
	free(sub);
	free(tmp);
	return r;
}

int bundle_extract(const char *bundle, const char *dest, const struct bundle_limits *lim, char *err, size_t errlen)
{
	return bundle_extract_progress(bundle, dest, lim, NULL, NULL, err, errlen);
}

static int ticked(int (*tick)(void *ud), void *ud, int64_t *last, char *err, size_t errlen)
{
	int64_t now;
	if (!tick)
		return 0;
	now = rd_mono_ms();
	if (now - *last < 1000)
		return 0;
	*last = now;
	if (tick(ud) < 0) {
		snprintf(err, errlen, "extraction interrupted");
		return -EINTR;
	}
	return 0;
}

int bundle_extract_progress(const char *bundle, const char *dest, const struct bundle_limits *limp,
			    int (*tick)(void *ud), void *ud, char *err, size_t errlen)
{
	int64_t last_tick = rd_mono_ms();
	struct bundle_limits lim;
	struct archive *a = NULL, *w = NULL;
	struct archive_entry *e;
	uint64_t packed = 0, bytes = 0, entries = 0;
	char *rel = NULL, *link = NULL, *full = NULL, *fulllink = NULL, *real = NULL;
	struct walk walk = {0};
	int r, ar;

	if (limp)
		lim = *limp;
	else
		bundle_limits_default(&lim);
	if (mkdir(dest, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "cannot create %s: %s", dest, strerror(errno));
		return r;
	}
	if (!(real = realpath(dest, NULL))) {
		r = -errno;
		snprintf(err, errlen, "cannot resolve %s: %s", dest, strerror(errno));
		return r;
	}
	dest = real;
	if ((r = open_reader(bundle, &a, &packed, err, errlen)) < 0)
		goto out;
	w = archive_write_disk_new();
	if (!w) {
		r = -ENOMEM;
		goto out;
	}
	/* Our own checks refuse absolute and '..' names; the target is made
	 * canonical so SECURE_SYMLINKS only ever meets links the bundle made. */
	archive_write_disk_set_options(w, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
					      ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
					      ARCHIVE_EXTRACT_UNLINK);

	for (;;) {
		ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			snprintf(err, errlen, "bundle %s is corrupt: %s", bundle, archive_error_string(a));
			r = -EINVAL;
			goto out;
		}
		free(rel);
		free(link);
		rel = link = NULL;
		if ((r = check_entry(&walk, e, &rel, &link, err, errlen)) < 0)
			goto out;
		if ((r = limit_check(&lim, ++entries, bytes, packed, bundle, err, errlen)) < 0)
			goto out;
		if ((r = ticked(tick, ud, &last_tick, err, errlen)) < 0)
			goto out;
		if (!rel[0])
			continue;
		free(full);
		full = NULL;
		if (asprintf(&full, "%s/%s", dest, rel) < 0) {
			r = -ENOMEM;
			goto out;
		}
		archive_entry_set_pathname(e, full);
		if (link) {
			free(fulllink);
			fulllink = NULL;
			if (asprintf(&fulllink, "%s/%s", dest, link) < 0) {
				r = -ENOMEM;
				goto out;
			}
			archive_entry_set_hardlink(e, fulllink);
		}
		archive_entry_set_perm(e, archive_entry_perm(e) & 01777);
		if (archive_entry_filetype(e) == AE_IFDIR)
			archive_entry_set_perm(e, (archive_entry_perm(e) & 01777) | 0700);
		ar = archive_write_header(w, e);
		if (ar < ARCHIVE_WARN) {
			snprintf(err, errlen, "bundle entry '%s' cannot be written: %s", rel, archive_error_string(w));
			r = -EINVAL;
			goto out;
		}
		if (archive_entry_filetype(e) == AE_IFREG && !link) {
			for (;;) {
				const void *buf;
				size_t size;
				la_int64_t off;
				ar = archive_read_data_block(a, &buf, &size, &off);
				if (ar == ARCHIVE_EOF)
					break;
				if (ar < ARCHIVE_WARN) {
					snprintf(err, errlen, "bundle %s: entry '%s' is corrupt: %s", bundle, rel,
						 archive_error_string(a));
					r = -EINVAL;
					goto out;
				}
				bytes += size;
				if ((r = limit_check(&lim, entries, bytes, packed, bundle, err, errlen)) < 0)
					goto out;
				if ((r = ticked(tick, ud, &last_tick, err, errlen)) < 0)
					goto out;
				if (archive_write_data_block(w, buf, size, off) < ARCHIVE_WARN) {
					snprintf(err, errlen, "writing '%s': %s", rel, archive_error_string(w));
					r = -EIO;
					goto out;
				}
			}
		}
		if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
			snprintf(err, errlen, "writing '%s': %s", rel, archive_error_string(w));
			r = -EIO;
			goto out;
		}
	}
	if (archive_write_close(w) < ARCHIVE_WARN) {
		snprintf(err, errlen, "finishing extraction into %s: %s", dest, archive_error_string(w));
		r = -EIO;
		goto out;
	}
	r = rmdir_if_empty_move_up(dest, err, errlen);
out:
	free(rel);
	free(link);
	free(full);
	free(fulllink);
	if (w)
		archive_write_free(w);
	if (a)
		archive_read_free(a);
	free(real);
	walk_clear(&walk);
	return r;
}

/* ---- inspection ---- */

struct bentry {
	char *path;
	mode_t mode;
};

struct bundle_info {
	struct bentry *entries;
	size_t n, cap;
	char *prefix; /* "" or "dir/" of the leading-directory rule */
	/* appspec candidates, by rank: 0 = AppSpecFilename, 1 = appspec.yaml, 2 = appspec.yml; at top and one down */
	char *cand[2][3];
	size_t cand_len[2][3];
	char *appspec;
	size_t appspec_len;
	const char *appspec_name;
	char *names[3];
	uint64_t total_entries, total_bytes;
	size_t *slots; /* open-addressing index of entries by path: entry index + 1 */
	size_t nslots;
};

static size_t path_hash(const char *s)
{
	size_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static void index_put(struct bundle_info *info, size_t idx)
{
	for (size_t i = path_hash(info->entries[idx].path) & (info->nslots - 1);; i = (i + 1) & (info->nslots - 1))
		if (!info->slots[i]) {
			info->slots[i] = idx + 1;
			return;
		}
}

/* Makes room for one more entry in the index (load factor <= 1/2). */
static int index_grow(struct bundle_info *info)
{
	size_t ns;
	size_t *sl;
	if ((info->n + 1) * 2 <= info->nslots)
		return 0;
	ns = info->nslots ? info->nslots * 2 : 256;
	sl = calloc(ns, sizeof(*sl));
	if (!sl)
		return -ENOMEM;
	free(info->slots);
	info->slots = sl;
	info->nslots = ns;
	for (size_t i = 0; i < info->n; i++)
		index_put(info, i);
	return 0;
}

struct bundle_info *bundle_info_free(struct bundle_info *info)
{
	if (!info)
		return NULL;
	for (size_t i = 0; i < info->n; i++)
		free(info->entries[i].path);
	free(info->entries);
	free(info->slots);
	free(info->prefix);
	for (int d = 0; d < 2; d++)
		for (int k = 0; k < 3; k++)
			free(info->cand[d][k]);
	for (int k = 0; k < 3; k++)
		free(info->names[k]);
	free(info);
	return NULL;
}

static const struct bentry *find_entry(const struct bundle_info *info, const char *path)
{
	if (!info->nslots)
		return NULL;
	for (size_t i = path_hash(path) & (info->nslots - 1);; i = (i + 1) & (info->nslots - 1)) {
		if (!info->slots[i])
			return NULL;
		if (strcmp(info->entries[info->slots[i] - 1].path, path) == 0)
			return &info->entries[info->slots[i] - 1];
	}
}

static bool has_children(const struct bundle_info *info, const char *dir)
{
	size_t l = strlen(dir);
	for (size_t i = 0; i < info->n; i++)
		if (strncmp(info->entries[i].path, dir, l) == 0 && info->entries[i].path[l] == '/')
			return true;
	return false;
}

static void choose_prefix(struct bundle_info *info)
{
	const char *first = NULL;
	size_t flen = 0;
	bool appspec_inside = false;

	for (size_t i = 0; i < info->n; i++) {
		const char *p = info->entries[i].path;
		const char *s = strchr(p, '/');
		size_t l = s ? (size_t)(s - p) : strlen(p);
		if (!first) {
			first = p;
			flen = l;
		} else if (l != flen || strncmp(p, first, l) != 0)
			return; /* more than one top-level entry */
	}
	if (!first)
		return;
	{
		char *top = strndup(first, flen);
		const struct bentry *te;
		bool isdir;
		if (!top)
			return;
		te = find_entry(info, top);
		isdir = te ? S_ISDIR(te->mode) : has_children(info, top);
		for (size_t i = 0; isdir && i < info->n && !appspec_inside; i++) {
			const char *p = info->entries[i].path;
			if (strncmp(p, top, flen) == 0 && p[flen] == '/' && !strchr(p + flen + 1, '/') &&
			    strcasestr(p + flen + 1, "appspec"))
				appspec_inside = true;
		}
		if (isdir && appspec_inside && asprintf(&info->prefix, "%s/", top) < 0)
			info->prefix = NULL;
		free(top);
	}
}

int bundle_inspect(const char *bundle, const char *appspec_filename, const struct bundle_limits *limp,
		   struct bundle_info **ret, char *err, size_t errlen)
{
	struct bundle_limits lim;
	struct bundle_info *info = NULL;
	struct archive *a = NULL;
	struct archive_entry *e;
	uint64_t packed = 0;
	char *rel = NULL, *link = NULL;
	struct walk walk = {0};
	int r, ar;

	if (limp)
		lim = *limp;
	else
		bundle_limits_default(&lim);
	info = calloc(1, sizeof(*info));
	if (!info)
		return -ENOMEM;
	if (!(info->names[0] = strdup(appspec_filename && *appspec_filename ? appspec_filename : "appspec.yml")) ||
	    !(info->names[1] = strdup("appspec.yaml")) || !(info->names[2] = strdup("appspec.yml"))) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = open_reader(bundle, &a, &packed, err, errlen)) < 0)
		goto out;
	for (;;) {
		const char *base;
		int depth;
		mode_t mode;

		ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			snprintf(err, errlen, "bundle %s is corrupt: %s", bundle, archive_error_string(a));
			r = -EINVAL;
			goto out;
		}
		free(rel);
		free(link);
		rel = link = NULL;
		if ((r = check_entry(&walk, e, &rel, &link, err, errlen)) < 0)
			goto out;
		if ((r = limit_check(&lim, ++info->total_entries, info->total_bytes, packed, bundle, err, errlen)) < 0)
			goto out;
		if (!rel[0])
			continue;
		if (link) {
			const struct bentry *t = find_entry(info, link);
			if (!t || !S_ISREG(t->mode)) {
				snprintf(err, errlen,
					 "bundle entry '%s' is a hardlink to '%s', which is not an earlier file of the "
					 "bundle; refused",
					 rel, link);
				r = -EINVAL;
				goto out;
			}
			mode = t->mode;
		} else
			mode = (archive_entry_filetype(e) & S_IFMT) | (archive_entry_perm(e) & 07777);
		if (info->n == info->cap) {
			size_t nc = info->cap ? info->cap * 2 : 64;
			struct bentry *ne = realloc(info->entries, nc * sizeof(*ne));
			if (!ne) {
				r = -ENOMEM;
				goto out;
			}
			info->entries = ne;
			info->cap = nc;
		}
		if (index_grow(info) < 0) {
			r = -ENOMEM;
			goto out;
		}
		info->entries[info->n].path = rel;
		info->entries[info->n].mode = mode;
		index_put(info, info->n);
		info->n++;
		base = strrchr(rel, '/');
		depth = base ? (strchr(rel, '/') == base ? 1 : 2) : 0;
		base = base ? base + 1 : rel;
		rel = NULL;
		if (S_ISREG(mode) && !link && depth < 2) {
			for (int k = 0; k < 3; k++) {
				if (strcmp(base, info->names[k]) != 0 || info->cand[depth][k])
					continue;
				int64_t sz = archive_entry_size(e);
				if (sz > APPSPEC_MAX_BYTES) {
					snprintf(err, errlen, "bundle %s: %s is larger than %d bytes", bundle,
						 info->entries[info->n - 1].path, APPSPEC_MAX_BYTES);
					r = -EINVAL;
					goto out;
				}
				char *buf = malloc(APPSPEC_MAX_BYTES + 1);
				la_ssize_t got, len = 0;
				if (!buf) {
					r = -ENOMEM;
					goto out;
				}
				while ((got = archive_read_data(a, buf + len, APPSPEC_MAX_BYTES + 1 - len)) > 0)
					len += got;
				if (got < 0 || len > APPSPEC_MAX_BYTES) {
					snprintf(err, errlen, "bundle %s: cannot read %s: %s", bundle,
						 info->entries[info->n - 1].path,
						 got < 0 ? archive_error_string(a) : "too large");
					free(buf);
					r = -EINVAL;
					goto out;
				}
				buf[len] = '\0';
				info->cand[depth][k] = buf;
				info->cand_len[depth][k] = (size_t)len;
				info->total_bytes += (uint64_t)len;
				break;
			}
		}
		if (archive_entry_filetype(e) == AE_IFREG && !link) {
			/* count real bytes (headers may lie) */
			const void *buf;
			size_t size;
			la_int64_t off;
			while ((ar = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
				info->total_bytes += size;
				if ((r = limit_check(&lim, info->total_entries, info->total_bytes, packed, bundle, err,
						     errlen)) < 0)
					goto out;
			}
			if (ar < ARCHIVE_WARN) {
				snprintf(err, errlen, "bundle %s: entry '%s' is corrupt: %s", bundle,
					 info->entries[info->n - 1].path, archive_error_string(a));
				r = -EINVAL;
				goto out;
			}
		}
	}
	choose_prefix(info);
	{
		int depth = info->prefix ? 1 : 0;
		for (int k = 0; k < 3; k++)
			if (info->cand[depth][k]) {
				info->appspec = info->cand[depth][k];
				info->appspec_len = info->cand_len[depth][k];
				info->appspec_name = info->names[k];
				break;
			}
	}
	*ret = info;
	info = NULL;
	r = 0;
out:
	free(rel);
	free(link);
	if (a)
		archive_read_free(a);
	walk_clear(&walk);
	bundle_info_free(info);
	return r;
}

const char *bundle_info_appspec(const struct bundle_info *info, size_t *ret_len, const char **ret_name)
{
	if (!info->appspec)
		return NULL;
	if (ret_len)
		*ret_len = info->appspec_len;
	if (ret_name)
		*ret_name = info->appspec_name;
	return info->appspec;
}

int bundle_info_stat(const struct bundle_info *info, const char *relpath, mode_t *ret_mode)
{
	char *norm = NULL, *full = NULL;
	const struct bentry *be;
	int r;

	if ((r = appspec_norm_relpath(relpath, &norm)) < 0)
		return r == -EINVAL ? -ENOENT : r;
	if (!norm[0]) {
		free(norm);
		if (ret_mode)
			*ret_mode = S_IFDIR | 0755;
		return 0;
	}
	if (asprintf(&full, "%s%s", info->prefix ? info->prefix : "", norm) < 0) {
		free(norm);
		return -ENOMEM;
	}
	free(norm);
	be = find_entry(info, full);
	if (be) {
		if (ret_mode)
			*ret_mode = be->mode;
		r = 0;
	} else if (has_children(info, full)) {
		if (ret_mode)
			*ret_mode = S_IFDIR | 0755;
		r = 0;
	} else
		r = -ENOENT;
	free(full);
	return r;
}

int bundle_check_appspec(const struct bundle_info *info, const struct appspec *spec, bool require_exec, char *err,
			 size_t errlen)
{
	mode_t m;

	for (size_t i = 0; i < spec->n_hooks; i++)
		for (size_t j = 0; j < spec->hooks[i].n_scripts; j++) {
			const struct appspec_script *s = &spec->hooks[i].scripts[j];
			if (bundle_info_stat(info, s->location, &m) < 0) {
				snprintf(err, errlen,
					 "hooks.%s[%zu].location: script '%s' is not in the bundle; add it to the "
					 "revision or fix the path",
					 spec->hooks[i].event, j, s->location);
				return -EINVAL;
			}
			if (!S_ISREG(m)) {
				snprintf(err, errlen, "hooks.%s[%zu].location: '%s' is not a regular file",
					 spec->hooks[i].event, j, s->location);
				return -EINVAL;
			}
			if (require_exec && !(m & 0111)) {
				snprintf(err, errlen,
					 "hooks.%s[%zu].location: script '%s' is not executable; chmod +x it before "
					 "building the bundle",
					 spec->hooks[i].event, j, s->location);
				return -EINVAL;
			}
		}
	for (size_t i = 0; i < spec->n_files; i++)
		if (bundle_info_stat(info, spec->files[i].source, NULL) < 0) {
			snprintf(err, errlen, "files[%zu].source: '%s' is not in the bundle; fix the path", i,
				 spec->files[i].source);
			return -EINVAL;
		}
	return 0;
}

void bundle_info_totals(const struct bundle_info *info, uint64_t *ret_entries, uint64_t *ret_bytes)
{
	if (ret_entries)
		*ret_entries = info->total_entries;
	if (ret_bytes)
		*ret_bytes = info->total_bytes;
}
