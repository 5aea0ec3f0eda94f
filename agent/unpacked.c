#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "unpacked.h"
#include "util.h"

#define MARKER "rollout-bundle"

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dots(const struct dirent *de)
{
	return strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

/* Hashes the entries under dir/rel in name order (the same tree gives the
 * same bytes whatever order the file system lists it in). */
static int walk_hash(EVP_MD_CTX *md, const char *dir, const char *rel)
{
	struct dirent **names = NULL;
	char path[8192], sub[8192], line[8192 + 4200];
	int n, r = 0;

	snprintf(path, sizeof(path), "%s%s%s", dir, rel[0] ? "/" : "", rel);
	n = scandir(path, &names, skip_dots, name_cmp);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		struct stat st;
		char target[4096] = "";
		int len;

		if (r == 0) {
			snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", names[i]->d_name);
			snprintf(path, sizeof(path), "%s/%s", dir, sub);
			if (lstat(path, &st) < 0) {
				r = -errno;
			} else if (S_ISDIR(st.st_mode)) {
				/* a directory's own times change with every link made in it */
				len = snprintf(line, sizeof(line), "d %s %o\n", sub, (unsigned)(st.st_mode & 07777));
				EVP_DigestUpdate(md, line, (size_t)len);
				r = walk_hash(md, dir, sub);
			} else {
				if (S_ISLNK(st.st_mode)) {
					ssize_t l = readlink(path, target, sizeof(target) - 1);
					target[l > 0 ? l : 0] = '\0';
				}
				len = snprintf(line, sizeof(line), "%c %s %o %" PRIu64 " %lld.%09ld %s\n",
					       S_ISLNK(st.st_mode) ? 'l' : 'f', sub, (unsigned)(st.st_mode & 07777),
					       (uint64_t)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
					       target);
				EVP_DigestUpdate(md, line, (size_t)len);
			}
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int unpacked_fingerprint(const char *dir, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int r;

	if (!md)
		return -ENOMEM;
	if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return -EIO;
	}
	r = walk_hash(md, dir, "");
	if (r == 0 && !EVP_DigestFinal_ex(md, d, &dlen))
		r = -EIO;
	EVP_MD_CTX_free(md);
	if (r == 0)
		rd_hex(d, dlen, out);
	return r;
}

static int marker_write(const char *dep_dir, const char *sha256, const char *tree)
{
	char path[4200], text[160];
	int n;

	snprintf(path, sizeof(path), "%s/" MARKER, dep_dir);
	n = snprintf(text, sizeof(text), "sha256 %s\ntree %s\n", sha256, tree);
	return rd_write_file_atomic(path, text, (size_t)n, 0644);
}

/* The marker of dep_dir: 0 with the bundle's sha256 and the tree's
 * fingerprint, or -errno. */
static int marker_read(const char *dep_dir, char sha256[65], char tree[65])
{
	char path[4200], *buf = NULL;
	size_t len = 0;
	int r;

	snprintf(path, sizeof(path), "%s/" MARKER, dep_dir);
	r = rd_read_file(path, 1024, &buf, &len);
	if (r < 0)
		return r;
	r = sscanf(buf, "sha256 %64s\ntree %64s", sha256, tree) == 2 && strlen(sha256) == 64 && strlen(tree) == 64
		? 0
		: -EINVAL;
	free(buf);
	return r;
}

int unpacked_record(const char *dep_dir, const char *sha256)
{
	char archive[4200], tree[65];
	int r;

	snprintf(archive, sizeof(archive), "%s/deployment-archive", dep_dir);
	r = unpacked_fingerprint(archive, tree);
	if (r < 0)
		return r;
	return marker_write(dep_dir, sha256, tree);
}

void unpacked_forget(const char *dep_dir)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/" MARKER, dep_dir);
	unlink(path);
}

int unpacked_find(const char *root, const char *dep_dir, const char *sha256, char *from, size_t fromlen)
{
	struct timespec best_t = {0, 0};
	char best[4200] = "";
	DIR *rd = opendir(root), *gd;
	struct dirent *g, *de;

	if (!rd)
		return -ENOENT;
	while ((g = readdir(rd))) {
		char gpath[4200];

		if (g->d_name[0] == '.' || strcmp(g->d_name, "deployment-instructions") == 0)
			continue;
		snprintf(gpath, sizeof(gpath), "%s/%s", root, g->d_name);
		if (!(gd = opendir(gpath)))
			continue;
		while ((de = readdir(gd))) {
			char dpath[4400], msha[65], mtree[65], marker[4500];
			struct stat st;

			if (de->d_name[0] == '.')
				continue;
			snprintf(dpath, sizeof(dpath), "%s/%s", gpath, de->d_name);
			snprintf(marker, sizeof(marker), "%s/" MARKER, dpath);
			if (strcmp(dpath, dep_dir) == 0 || marker_read(dpath, msha, mtree) < 0 ||
			    strcmp(msha, sha256) != 0 || stat(marker, &st) < 0)
				continue;
			if (st.st_mtim.tv_sec > best_t.tv_sec ||
			    (st.st_mtim.tv_sec == best_t.tv_sec && st.st_mtim.tv_nsec > best_t.tv_nsec)) {
				best_t = st.st_mtim;
				rd_strlcpy(best, dpath, sizeof(best));
			}
		}
		closedir(gd);
	}
	closedir(rd);
	if (!best[0])
		return -ENOENT;
	rd_strlcpy(from, best, fromlen);
	return 0;
}

/* mkdir and link the tree of src into dst (which does not exist yet). */
static int link_tree(const char *src, const char *dst, char *err, size_t errlen)
{
	struct dirent **names = NULL;
	struct stat st;
	int n, r = 0;

	if (lstat(src, &st) < 0 || mkdir(dst, 0700) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create %s: %s", dst, strerror(errno));
		return r;
	}
	n = scandir(src, &names, skip_dots, name_cmp);
	if (n < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot read %s: %s", src, strerror(errno));
		return r;
	}
	for (int i = 0; i < n; i++) {
		char s[8192], d[8192];
		struct stat est;

		if (r == 0) {
			snprintf(s, sizeof(s), "%s/%s", src, names[i]->d_name);
			snprintf(d, sizeof(d), "%s/%s", dst, names[i]->d_name);
			if (lstat(s, &est) < 0) {
				r = -errno;
				snprintf(err, errlen, "cannot read %s: %s", s, strerror(errno));
			} else if (S_ISDIR(est.st_mode)) {
				r = link_tree(s, d, err, errlen);
			} else if (linkat(AT_FDCWD, s, AT_FDCWD, d, 0) < 0) {
				/* a symbolic link is linked itself, not followed */
				r = -errno;
				snprintf(err, errlen, "cannot link %s to %s: %s", s, d, strerror(errno));
			}
		}
		free(names[i]);
	}
	free(names);
	if (r == 0 && chmod(dst, st.st_mode & 07777) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot chmod %s: %s", dst, strerror(errno));
	}
	return r;
}

int unpacked_link(const char *from, const char *dep_dir, char *err, size_t errlen)
{
	char src[4200], dst[4200], sha[65], want[65], got[65];
	int r;

	snprintf(src, sizeof(src), "%s/deployment-archive", from);
	snprintf(dst, sizeof(dst), "%s/deployment-archive", dep_dir);
	r = marker_read(from, sha, want);
	if (r < 0) {
		snprintf(err, errlen, "%s has no readable " MARKER " file", from);
		return r;
	}
	/* a hook may have changed the old tree since it was unpacked */
	r = unpacked_fingerprint(src, got);
	if (r < 0 || strcmp(got, want) != 0) {
		snprintf(err, errlen, "the tree in %s changed since it was unpacked", src);
		return r < 0 ? r : -ESTALE;
	}
	r = link_tree(src, dst, err, errlen);
	if (r == 0 && ((r = unpacked_fingerprint(dst, got)) < 0 || strcmp(got, want) != 0)) {
		snprintf(err, errlen, "the tree linked into %s differs from %s", dst, src);
		r = r < 0 ? r : -ESTALE;
	}
	if (r == 0 && (r = marker_write(dep_dir, sha, want)) < 0)
		snprintf(err, errlen, "cannot write %s/" MARKER ": %s", dep_dir, strerror(-r));
	if (r < 0)
		layout_rm_rf(dst);
	return r;
}
