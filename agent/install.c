#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "install.h"
#include "util.h"

enum op { OP_MKDIR = 1, OP_COPY };

struct item {
	enum op op;
	char *src; /* OP_COPY */
	char *dst;
	bool skip; /* RETAIN kept the existing file */
	int perm;  /* index of the permissions entry that matched, -1 */
};

struct plan {
	struct item *v;
	size_t n, cap;
	/* open-addressing index of dst -> item index + 1 */
	size_t *slots;
	size_t nslots;
};

static size_t hash(const char *s)
{
	size_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static struct item *plan_find(const struct plan *p, const char *dst)
{
	if (!p->nslots)
		return NULL;
	for (size_t i = hash(dst) & (p->nslots - 1);; i = (i + 1) & (p->nslots - 1)) {
		if (!p->slots[i])
			return NULL;
		if (strcmp(p->v[p->slots[i] - 1].dst, dst) == 0)
			return &p->v[p->slots[i] - 1];
	}
}

static int plan_index(struct plan *p, size_t idx)
{
	for (size_t i = hash(p->v[idx].dst) & (p->nslots - 1);; i = (i + 1) & (p->nslots - 1))
		if (!p->slots[i]) {
			p->slots[i] = idx + 1;
			return 0;
		}
}

static int plan_add(struct plan *p, enum op op, const char *src, const char *dst)
{
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 64;
		struct item *nv = realloc(p->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		p->v = nv;
		p->cap = nc;
	}
	if ((p->n + 1) * 2 > p->nslots) {
		size_t ns = p->nslots ? p->nslots * 2 : 128;
		size_t *sl = calloc(ns, sizeof(*sl));
		if (!sl)
			return -ENOMEM;
		free(p->slots);
		p->slots = sl;
		p->nslots = ns;
		for (size_t i = 0; i < p->n; i++)
			plan_index(p, i);
	}
	p->v[p->n] = (struct item){.op = op, .perm = -1};
	if (!(p->v[p->n].dst = strdup(dst)) || (src && !(p->v[p->n].src = strdup(src)))) {
		free(p->v[p->n].dst);
		return -ENOMEM;
	}
	plan_index(p, p->n);
	p->n++;
	return 0;
}

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].src);
		free(p->v[i].dst);
	}
	free(p->v);
	free(p->slots);
}

int install_cleanup_replay(const char *cleanup_path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int r = rd_read_file(cleanup_path, 1ull << 32, &buf, &len);

	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s: %s", cleanup_path, strerror(-r));
		return r;
	}
	/* drop an unterminated last line (crash mid-write) */
	while (len > 0 && buf[len - 1] != '\n')
		len--;
	buf[len] = '\0';
	/* walk lines from the end */
	while (len > 0) {
		size_t end = len - 1, start = end;
		struct stat st;
		char *line;

		while (start > 0 && buf[start - 1] != '\n')
			start--;
		buf[end] = '\0';
		line = buf + start;
		len = start;
		if (!*line || line[0] != '/')
			continue; /* also skips "semanage\0..." lines we never write */
		if (lstat(line, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			rmdir(line); /* ENOTEMPTY is fine: something else lives there */
		else
			unlink(line);
	}
	free(buf);
	if (unlink(cleanup_path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", cleanup_path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* mkdir items for missing ancestors of dir (and dir itself) */
static int plan_dirs(struct plan *p, const char *dir, char *err, size_t errlen)
{
	char *path = strdup(dir);
	int r = 0;

	if (!path)
		return -ENOMEM;
	for (char *s = path + 1;; s++) {
		bool last = *s == '\0';
		struct stat st;
		struct item *it;

		if (*s != '/' && !last)
			continue;
		*s = '\0';
		it = plan_find(p, path);
		if (it) {
			if (it->op != OP_MKDIR) {
				snprintf(err, errlen,
					 "files: %s is both a copied file and a directory; fix the destinations", path);
				r = -EINVAL;
				break;
			}
		} else if (lstat(path, &st) == 0) {
			if (!S_ISDIR(st.st_mode)) {
				snprintf(err, errlen,
					 "files: %s exists and is not a directory, but files are to be copied "
					 "into it",
					 path);
				r = -EEXIST;
				break;
			}
		} else if ((r = plan_add(p, OP_MKDIR, NULL, path)) < 0)
			break;
		if (last)
			break;
		*s = '/';
	}
	free(path);
	return r;
}

static int plan_copy(struct plan *p, const char *src, const char *dst, char *err, size_t errlen)
{
	struct item *it = plan_find(p, dst);
	if (it) {
		snprintf(err, errlen,
			 it->op == OP_COPY ? "files: two sources are copied to %s; give them different destinations"
					   : "files: %s is both a created directory and a copied file",
			 dst);
		return -EINVAL;
	}
	return plan_add(p, OP_COPY, src, dst);
}

static int plan_tree(struct plan *p, const char *src, const char *dst, char *err, size_t errlen)
{
	DIR *d = opendir(src);
	struct dirent *de;
	int r = 0;

	if (!d) {
		snprintf(err, errlen, "cannot read %s: %s", src, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d)) && r == 0) {
		char *s = NULL, *t = NULL;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&s, "%s/%s", src, de->d_name) < 0 ||
		    asprintf(&t, "%s%s%s", dst, strcmp(dst, "/") ? "/" : "", de->d_name) < 0) {
			free(s);
			r = -ENOMEM;
			break;
		}
		if (lstat(s, &st) < 0)
			r = -errno;
		else if (S_ISDIR(st.st_mode)) {
			if ((r = plan_dirs(p, t, err, errlen)) == 0)
				r = plan_tree(p, s, t, err, errlen);
		} else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
			r = plan_copy(p, s, t, err, errlen);
		free(s);
		free(t);
	}
	closedir(d);
	return r;
}

static int copy_one(const struct item *it, char *err, size_t errlen)
{
	struct stat st;
	int in = -1, out = -1, r = 0;
	char buf[65536];
	ssize_t n;

	if (lstat(it->src, &st) < 0)
		goto fail;
	if (unlink(it->dst) < 0 && errno != ENOENT)
		goto fail; /* OVERWRITE */
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t l = readlink(it->src, target, sizeof(target) - 1);
		if (l < 0)
			goto fail;
		target[l] = '\0';
		if (symlink(target, it->dst) < 0)
			goto fail;
		return 0;
	}
	in = open(it->src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		goto fail;
	out = open(it->dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 0777);
	if (out < 0)
		goto fail;
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0)
				goto fail;
			off += w;
		}
	}
	if (n < 0)
		goto fail;
	if (fchmod(out, st.st_mode & 01777) < 0)
		goto fail;
	{
		struct timespec ts[2] = {st.st_atim, st.st_mtim};
		futimens(out, ts);
	}
	goto out;
fail:
	r = -errno;
	snprintf(err, errlen, "copying %s to %s: %s", it->src, it->dst, strerror(errno));
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && r == 0) {
		r = -errno;
		snprintf(err, errlen, "writing %s: %s", it->dst, strerror(errno));
	}
	return r;
}

static int record(int fd, const char *path)
{
	size_t l = strlen(path);
	if (write(fd, path, l) != (ssize_t)l || write(fd, "\n", 1) != 1)
		return -errno;
	return 0;
}

static bool perm_matches(const struct appspec_permission *pm, const struct item *it, bool *ret_is_object)
{
	size_t ol = strlen(pm->object);
	const char *rel;

	*ret_is_object = false;
	if (strcmp(it->dst, pm->object) == 0) {
		*ret_is_object = true;
		return it->op == OP_COPY;
	}
	if (strcmp(pm->object, "/") == 0)
		rel = it->dst + 1;
	else if (strncmp(it->dst, pm->object, ol) == 0 && it->dst[ol] == '/')
		rel = it->dst + ol + 1;
	else
		return false;
	if (!(pm->types & (it->op == OP_MKDIR ? APPSPEC_TYPE_DIRECTORY : APPSPEC_TYPE_FILE)))
		return false;
	if (strcmp(pm->pattern, "**") != 0 && (strchr(rel, '/') || !appspec_glob_match(pm->pattern, rel)))
		return false;
	for (size_t i = 0; i < pm->n_except; i++) {
		const char *base = strrchr(rel, '/');
		if (appspec_glob_match(pm->except[i], rel) || appspec_glob_match(pm->except[i], base ? base + 1 : rel))
			return false;
	}
	return true;
}

static int apply_permissions(const struct install_ctx *ctx, struct plan *p, json_t *instr, char *err, size_t errlen)
{
	const struct appspec *spec = ctx->spec;

	for (size_t k = 0; k < spec->n_permissions; k++) {
		const struct appspec_permission *pm = &spec->permissions[k];
		uid_t uid = (uid_t)-1;
		gid_t gid = (gid_t)-1;

		if (pm->owner) {
			struct passwd *pw = getpwnam(pm->owner);
			if (!pw) {
				snprintf(err, errlen, "permissions[%zu].owner: there is no user '%s' on this host", k,
					 pm->owner);
				return -EINVAL;
			}
			uid = pw->pw_uid;
		}
		if (pm->group) {
			struct group *gr = getgrnam(pm->group);
			if (!gr) {
				snprintf(err, errlen, "permissions[%zu].group: there is no group '%s' on this host", k,
					 pm->group);
				return -EINVAL;
			}
			gid = gr->gr_gid;
		}
		for (size_t i = 0; i < p->n; i++) {
			struct item *it = &p->v[i];
			bool is_object;
			struct stat st;

			if (it->skip || !perm_matches(pm, it, &is_object))
				continue;
			if (is_object && (strcmp(pm->pattern, "**") != 0 || pm->n_except)) {
				snprintf(
				    err, errlen,
				    "permissions[%zu]: object %s is a file, so pattern must be '**' and except empty",
				    k, pm->object);
				return -EINVAL;
			}
			if (lstat(it->dst, &st) < 0 || S_ISLNK(st.st_mode))
				continue;
			if (it->perm >= 0) {
				snprintf(err, errlen,
					 "permissions[%zu] and permissions[%d] both apply to %s; make them "
					 "disjoint",
					 k, it->perm, it->dst);
				return -EINVAL;
			}
			it->perm = (int)k;
			if (pm->mode >= 0) {
				char m[8];
				if (chmod(it->dst, (mode_t)pm->mode) < 0) {
					snprintf(err, errlen, "chmod %o %s: %s", pm->mode, it->dst, strerror(errno));
					return -errno;
				}
				snprintf(m, sizeof(m), "%03o", pm->mode);
				json_array_append_new(
				    instr, json_pack("{s:s,s:s,s:s}", "type", "chmod", "mode", m, "file", it->dst));
			}
			if (pm->owner || pm->group) {
				if (lchown(it->dst, uid, gid) < 0) {
					snprintf(err, errlen, "chown %s:%s %s: %s", pm->owner ? pm->owner : "",
						 pm->group ? pm->group : "", it->dst, strerror(errno));
					return -errno;
				}
				json_t *o = json_pack("{s:s,s:s}", "type", "chown", "file", it->dst);
				if (pm->owner)
					json_object_set_new(o, "owner", json_string(pm->owner));
				if (pm->group)
					json_object_set_new(o, "group", json_string(pm->group));
				json_array_append_new(instr, o);
			}
		}
	}
	return 0;
}

int install_run(const struct install_ctx *ctx, char *err, size_t errlen)
{
	const struct appspec *spec = ctx->spec;
	struct plan p = {0};
	json_t *doc = NULL, *instr;
	char *text = NULL;
	int fd = -1, r;

	if ((r = install_cleanup_replay(ctx->cleanup_path, err, errlen)) < 0)
		return r;
	for (size_t i = 0; i < spec->n_files; i++) {
		const struct appspec_file *f = &spec->files[i];
		char *src = NULL;
		struct stat st;

		if (asprintf(&src, "%s%s%s", ctx->archive_dir, f->source[0] ? "/" : "", f->source) < 0) {
			r = -ENOMEM;
			goto out;
		}
		if (lstat(src, &st) < 0) {
			snprintf(err, errlen, "files[%zu].source: '%s' does not exist in the revision", i,
				 f->source[0] ? f->source : "/");
			free(src);
			r = -EINVAL;
			goto out;
		}
		if ((r = plan_dirs(&p, f->destination, err, errlen)) == 0) {
			if (S_ISDIR(st.st_mode))
				r = plan_tree(&p, src, f->destination, err, errlen);
			else {
				const char *base = strrchr(f->source, '/');
				char *dst = NULL;
				base = base ? base + 1 : f->source;
				if (asprintf(&dst, "%s%s%s", f->destination, strcmp(f->destination, "/") ? "/" : "",
					     base) < 0)
					r = -ENOMEM;
				else
					r = plan_copy(&p, src, dst, err, errlen);
				free(dst);
			}
		}
		free(src);
		if (r < 0)
			goto out;
	}
	/* file_exists_behavior, after the cleanup replay */
	for (size_t i = 0; i < p.n; i++) {
		struct item *it = &p.v[i];
		struct stat st;
		if (it->op != OP_COPY || lstat(it->dst, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "cannot copy %s: %s is an existing directory", it->src, it->dst);
			r = -EEXIST;
			goto out;
		}
		switch (ctx->feb) {
		case APPSPEC_FEB_OVERWRITE:
			break;
		case APPSPEC_FEB_RETAIN:
			it->skip = true;
			break;
		default:
			snprintf(err, errlen,
				 "The deployment failed because a specified file already exists at this location: %s "
				 "(set file_exists_behavior: OVERWRITE or RETAIN in the appspec, or choose it for the "
				 "deployment)",
				 it->dst);
			r = -EEXIST;
			goto out;
		}
	}
	doc = json_object();
	instr = json_array();
	if (!doc || !instr) {
		json_decref(instr);
		r = -ENOMEM;
		goto out;
	}
	json_object_set_new(doc, "instructions", instr);
	for (size_t i = 0; i < p.n; i++) {
		const struct item *it = &p.v[i];
		if (it->skip)
			continue;
		json_array_append_new(
		    instr, it->op == OP_MKDIR
			       ? json_pack("{s:s,s:s}", "type", "mkdir", "directory", it->dst)
			       : json_pack("{s:s,s:s,s:s}", "type", "copy", "source", it->src, "destination", it->dst));
	}
	fd = open(ctx->cleanup_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create %s: %s", ctx->cleanup_path, strerror(errno));
		goto out;
	}
	int64_t last_tick = rd_mono_ms();
	for (size_t i = 0; i < p.n; i++) {
		const struct item *it = &p.v[i];
		if (ctx->tick && rd_mono_ms() - last_tick >= 1000) {
			last_tick = rd_mono_ms();
			ctx->tick(ctx->ud);
		}
		if (it->skip)
			continue;
		if (it->op == OP_MKDIR) {
			struct stat st;
			if (mkdir(it->dst, 0755) < 0 &&
			    !(errno == EEXIST && stat(it->dst, &st) == 0 && S_ISDIR(st.st_mode))) {
				r = -errno;
				snprintf(err, errlen, "mkdir %s: %s", it->dst, strerror(errno));
				goto out;
			}
			if ((r = record(fd, it->dst)) < 0)
				goto io;
		} else {
			if ((r = record(fd, it->dst)) < 0)
				goto io;
			if ((r = copy_one(it, err, errlen)) < 0)
				goto out;
		}
	}
	if ((r = apply_permissions(ctx, &p, instr, err, errlen)) < 0)
		goto out;
	fsync(fd);
	text = json_dumps(doc, JSON_INDENT(1));
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = rd_write_file_atomic(ctx->install_json_path, text, strlen(text), 0644)) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", ctx->install_json_path, strerror(-r));
		goto out;
	}
	r = 0;
	goto out;
io:
	snprintf(err, errlen, "cannot write %s: %s", ctx->cleanup_path, strerror(-r));
out:
	if (fd >= 0)
		close(fd);
	free(text);
	json_decref(doc);
	plan_free(&p);
	return r;
}
