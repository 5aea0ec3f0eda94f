#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "appspec.h"
#include "layout.h"
#include "log.h"
#include "util.h"

void layout_init(struct layout *p, const struct agent *ag, const struct deploy_spec *s)
{
	const char *root = ag->cfg->root_dir;
	snprintf(p->group_dir, sizeof(p->group_dir), "%s/%s", root, s->group_id);
	snprintf(p->dep_dir, sizeof(p->dep_dir), "%s/%s/%s", root, s->group_id, s->deployment_id);
	snprintf(p->archive, sizeof(p->archive), "%s/deployment-archive", p->dep_dir);
	snprintf(p->bundle, sizeof(p->bundle), "%s/bundle.tar", p->dep_dir);
	snprintf(p->logs, sizeof(p->logs), "%s/logs", p->dep_dir);
	snprintf(p->scripts_log, sizeof(p->scripts_log), "%s/logs/scripts.log", p->dep_dir);
	snprintf(p->instr_dir, sizeof(p->instr_dir), "%s/deployment-instructions", root);
	snprintf(p->last_ok, sizeof(p->last_ok), "%s/%s_last_successful_install", p->instr_dir, s->group_id);
	snprintf(p->most_recent, sizeof(p->most_recent), "%s/%s_most_recent_install", p->instr_dir, s->group_id);
	snprintf(p->cleanup, sizeof(p->cleanup), "%s/%s-cleanup", p->instr_dir, s->group_id);
	snprintf(p->install_json, sizeof(p->install_json), "%s/%s-install.json", p->instr_dir, s->group_id);
}

int layout_read_marker(const char *path, char *out, size_t outlen)
{
	char *buf = NULL;
	size_t len = 0;
	int r = rd_read_file(path, 8192, &buf, &len);
	if (r < 0)
		return r;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (len == 0 || buf[0] != '/') {
		free(buf);
		return -EINVAL;
	}
	rd_strlcpy(out, buf, outlen);
	free(buf);
	return 0;
}

int layout_write_marker(const char *path, const char *dep_dir)
{
	return rd_write_file_atomic(path, dep_dir, strlen(dep_dir), 0644);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int layout_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	return nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

int layout_hook_revision(const struct layout *p, const struct deploy_spec *s, const char *event, char *dir,
			 size_t dirlen)
{
	bool bg_rollback = strcmp(s->creator, "codeDeployRollback") == 0 && strcmp(s->type, "BLUE_GREEN") == 0;
	const char *marker = NULL;
	struct stat st;

	if (strcmp(event, "ApplicationStop") == 0 || strcmp(event, "BeforeBlockTraffic") == 0 ||
	    strcmp(event, "AfterBlockTraffic") == 0)
		marker = p->last_ok;
	if (bg_rollback) {
		if (strcmp(event, "BeforeBlockTraffic") == 0 || strcmp(event, "AfterBlockTraffic") == 0)
			marker = p->most_recent;
		else if (strcmp(event, "BeforeAllowTraffic") == 0 || strcmp(event, "AfterAllowTraffic") == 0)
			marker = p->last_ok;
	}
	if (marker && stat(p->archive, &st) < 0) {
		if (layout_read_marker(marker, dir, dirlen) < 0)
			return -ENOENT;
		return 0;
	}
	rd_strlcpy(dir, p->dep_dir, dirlen);
	return 0;
}

int layout_load_appspec(const char *dep_dir, const struct deploy_spec *s, bool fallback, struct appspec **ret,
			char *err, size_t errlen)
{
	const char *names[3] = {s->appspec_filename, "appspec.yaml", "appspec.yml"};
	char path[4400], *buf = NULL;
	size_t len = 0;
	int r = -ENOENT;

	for (int i = 0; i < (fallback ? 3 : 1); i++) {
		snprintf(path, sizeof(path), "%s/deployment-archive/%s", dep_dir, names[i]);
		r = rd_read_file(path, APPSPEC_MAX_BYTES, &buf, &len);
		if (r != -ENOENT)
			break;
	}
	if (r == -ENOENT) {
		snprintf(err, errlen,
			 "did not find an AppSpec file (%s) in %s/deployment-archive; add it to the revision",
			 s->appspec_filename, dep_dir);
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	r = appspec_parse(buf, len, path, ret, err, errlen);
	free(buf);
	return r;
}

struct rev {
	char path[4400];
	struct timespec mtime;
};

static int rev_cmp(const void *a, const void *b)
{
	const struct rev *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : x->mtime.tv_nsec > y->mtime.tv_nsec;
}

void layout_retention(const struct layout *p, int max_revisions)
{
	char last_ok[4096] = "";
	struct rev *revs = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir(p->group_dir);
	struct dirent *de;

	if (!d)
		return;
	layout_read_marker(p->last_ok, last_ok, sizeof(last_ok));
	while ((de = readdir(d))) {
		struct stat st;
		char path[4400];
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->group_dir, de->d_name);
		if (strcmp(path, p->dep_dir) == 0 || lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			struct rev *nr = realloc(revs, cap * sizeof(*nr));
			if (!nr)
				break;
			revs = nr;
		}
		rd_strlcpy(revs[n].path, path, sizeof(revs[n].path));
		revs[n].mtime = st.st_mtim;
		n++;
	}
	closedir(d);
	if (n > 1) /* revs is NULL when there is none */
		qsort(revs, n, sizeof(*revs), rev_cmp);
	/* others allowed: max_revisions - 1 (the current one counts) */
	size_t keep = max_revisions > 0 ? (size_t)max_revisions - 1 : 0;
	for (size_t i = 0; i < n && n - i > keep; i++) {
		if (strcmp(revs[i].path, last_ok) == 0) {
			keep = keep ? keep - 1 : 0; /* it stays and takes a slot */
			continue;
		}
		log_info("retention: removing old revision %s", revs[i].path);
		layout_rm_rf(revs[i].path);
	}
	free(revs);
}
