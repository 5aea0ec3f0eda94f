/* Running one host command: DownloadBundle (fetch or copy the revision,
 * unpack it with rollout-agent-extract), Install, and the hook events
 * (hooks.c), in the deployment root of layout.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "appspec.h"
#include "extractor.h"
#include "hooks.h"
#include "install.h"
#include "layout.h"
#include "live.h"
#include "log.h"
#include "unpacked.h"
#include "util.h"

static const char *const hook_events[] = {
    "ApplicationStop",	  "BeforeInstall",     "AfterInstall",	     "ApplicationStart",  "ValidateService",
    "BeforeBlockTraffic", "AfterBlockTraffic", "BeforeAllowTraffic", "AfterAllowTraffic",
};

bool deploy_command_supported(const char *command)
{
	if (strcmp(command, "DownloadBundle") == 0 || strcmp(command, "Install") == 0)
		return true;
	for (size_t i = 0; i < RD_ARRAY_SIZE(hook_events); i++)
		if (strcmp(command, hook_events[i]) == 0)
			return true;
	return false;
}

bool deploy_is_noop(struct agent *ag, const char *command, const struct deploy_spec *s)
{
	struct layout p;
	char dir[4096], err[512];
	struct appspec *a = NULL;
	bool noop;

	if (!deploy_command_supported(command))
		return true;
	if (strcmp(command, "DownloadBundle") == 0 || strcmp(command, "Install") == 0)
		return false;
	layout_init(&p, ag, s);
	if (layout_hook_revision(&p, s, command, dir, sizeof(dir)) < 0)
		return true;
	if (layout_load_appspec(dir, s, false, &a, err, sizeof(err)) < 0)
		return false; /* run it, so the error is reported */
	noop = appspec_hook(a, command) == NULL;
	appspec_free(a);
	return noop;
}

/* --- DownloadBundle --- */

/* Unpacks bundle into dest with the rollout-agent-extract helper (libarchive
 * lives only there): the standby, or a new one. A fresh standby is started
 * for the next deployment's bundle meanwhile. */
static int extract(struct agent *ag, const char *bundle, const char *dest, int (*tick)(void *ud), void *ud, char *err,
		   size_t errlen)
{
	return extractor_run(&ag->standby, ag->extract_helper, bundle, dest, true, tick, ud, err, errlen);
}

/* Whether DownloadBundle of s may unpack a bundle: one of rolloutd's cache
 * (unless the host still holds it unpacked) or a local archive. */
static bool may_unpack(const struct deploy_spec *s)
{
	if (s->has_rollout_bundle)
		return true;
	return s->local_location && !(s->bundle_type && strcmp(s->bundle_type, "directory") == 0);
}

void deploy_prepare(struct agent *ag, const char *command, const struct deploy_spec *s)
{
	int r;

	/* one waiting already (from the last unpacking) stays until the agent
	 * goes idle */
	if (extractor_started(&ag->standby) || !s || strcmp(command, "ApplicationStop") != 0 || !may_unpack(s))
		return;
	if ((r = extractor_start(&ag->standby, ag->extract_helper)) < 0)
		log_warning("cannot start %s ahead of DownloadBundle (%s); DownloadBundle will try again",
			    ag->extract_helper, strerror(-r));
}

void deploy_idle(struct agent *ag)
{
	extractor_discard(&ag->standby);
}

static int cp_tree(const char *src, const char *dst, char *err, size_t errlen)
{
	DIR *d = opendir(src);
	struct dirent *de;
	int r = 0;

	if (!d) {
		snprintf(err, errlen, "cannot read %s: %s", src, strerror(errno));
		return -errno;
	}
	if (mkdir(dst, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "mkdir %s: %s", dst, strerror(errno));
		closedir(d);
		return r;
	}
	while (r == 0 && (de = readdir(d))) {
		char s[4400], t[4400];
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(s, sizeof(s), "%s/%s", src, de->d_name);
		snprintf(t, sizeof(t), "%s/%s", dst, de->d_name);
		if (lstat(s, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			r = cp_tree(s, t, err, errlen);
		else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t l = readlink(s, target, sizeof(target) - 1);
			if (l >= 0) {
				target[l] = '\0';
				if (symlink(target, t) < 0)
					r = -errno;
			}
		} else if (S_ISREG(st.st_mode)) {
			int in = open(s, O_RDONLY | O_CLOEXEC), out;
			char buf[65536];
			ssize_t n;
			if (in < 0) {
				r = -errno;
				break;
			}
			out = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 0777);
			if (out < 0) {
				r = -errno;
				close(in);
				break;
			}
			while ((n = read(in, buf, sizeof(buf))) > 0)
				if (write(out, buf, (size_t)n) != n) {
					r = -EIO;
					break;
				}
			close(in);
			if (close(out) < 0 && r == 0)
				r = -errno;
		}
		if (r < 0 && !err[0])
			snprintf(err, errlen, "copying %s: %s", s, strerror(-r));
	}
	closedir(d);
	return r;
}

/* A bundle this host holds unpacked in another deployment directory (a
 * redeploy, a rollback): its tree is linked instead of downloading and
 * extracting the bundle again. False: download it. */
static bool reuse_unpacked(const struct agent *ag, const struct deploy_spec *s, const struct layout *p)
{
	char from[4096], err[1024] = "";
	int r;

	if (!s->rb_sha256 || strlen(s->rb_sha256) != 64 ||
	    unpacked_find(ag->cfg->root_dir, p->dep_dir, s->rb_sha256, from, sizeof(from)) < 0)
		return false;
	r = unpacked_link(from, p->dep_dir, err, sizeof(err));
	if (r < 0) {
		log_info("DownloadBundle: not reusing %s (%s); downloading the bundle", from, err);
		return false;
	}
	log_info("DownloadBundle: bundle sha256 %.12s… is already unpacked in %s: linked, nothing downloaded or "
		 "extracted",
		 s->rb_sha256, from);
	return true;
}

static void download_bundle(struct agent *ag, const char *hcid, const struct deploy_spec *s, const struct layout *p,
			    struct cmd_outcome *out)
{
	char err[1024] = "";
	int r;

	if (!s->has_rollout_bundle && !s->local_location) {
		cmd_fail(
		    out, EC_UNKNOWN,
		    "the deployment specification has neither RolloutBundle nor a Local File/Directory revision "
		    "(revision type %s); rollout-agent downloads bundles only from rolloutd's bundle cache (enable the "
		    "source plugin of this revision type in rolloutd)",
		    s->revision_type ? s->revision_type : "none");
		return;
	}
	layout_retention(p, ag->cfg->max_revisions);
	if ((r = rd_mkdir_p(p->logs, 0755)) < 0 || (r = rd_mkdir_p(p->instr_dir, 0755)) < 0) {
		cmd_fail(out, EC_UNKNOWN, "cannot create %s: %s", p->dep_dir, strerror(-r));
		return;
	}
	unpacked_forget(p->dep_dir);
	if ((r = layout_rm_rf(p->archive)) < 0) {
		cmd_fail(out, EC_UNKNOWN, "cannot remove %s: %s", p->archive, strerror(-r));
		return;
	}
	struct live live;
	live_init(&live, ag, hcid, NULL);
	if (s->has_rollout_bundle && reuse_unpacked(ag, s, p)) {
		/* nothing downloaded, nothing extracted (the standby waits on, for
		 * a later bundle, until the agent goes idle) */
	} else if (s->has_rollout_bundle) {
		log_info("DownloadBundle: fetching %s (%llu bytes, sha256 %.12s…)", s->rb_url,
			 (unsigned long long)s->rb_size, s->rb_sha256);
		r = client_download(ag->client, s->rb_url, p->bundle, s->rb_size, s->rb_sha256, live_tick, &live, err,
				    sizeof(err));
		if (r < 0) {
			cmd_fail(out, EC_UNKNOWN, "%s", err);
			return;
		}
		r = extract(ag, p->bundle, p->archive, live_tick, &live, err, sizeof(err));
		unlink(p->bundle); /* keep one copy: the unpacked tree */
		if (r < 0) {
			cmd_fail(out, EC_UNKNOWN, "the bundle cannot be unpacked: %s", err);
			layout_rm_rf(p->archive);
			return;
		}
		/* so a redeploy or a rollback of this bundle can take the tree */
		if ((r = unpacked_record(p->dep_dir, s->rb_sha256)) < 0)
			log_warning("DownloadBundle: cannot record what %s holds: %s", p->archive, strerror(-r));
	} else if (s->bundle_type && strcmp(s->bundle_type, "directory") == 0) {
		if ((r = cp_tree(s->local_location, p->archive, err, sizeof(err))) < 0) {
			cmd_fail(out, EC_UNKNOWN, "copying the local revision %s: %s", s->local_location, err);
			layout_rm_rf(p->archive);
			return;
		}
	} else {
		unlink(p->bundle);
		if (symlink(s->local_location, p->bundle) < 0) {
			cmd_fail(out, EC_UNKNOWN, "cannot link %s: %s", p->bundle, strerror(errno));
			return;
		}
		if ((r = extract(ag, s->local_location, p->archive, live_tick, &live, err, sizeof(err))) < 0) {
			cmd_fail(out, EC_UNKNOWN, "the bundle %s cannot be unpacked: %s", s->local_location, err);
			layout_rm_rf(p->archive);
			return;
		}
	}
	if ((r = layout_write_marker(p->most_recent, p->dep_dir)) < 0)
		cmd_fail(out, EC_UNKNOWN, "cannot write %s: %s", p->most_recent, strerror(-r));
	live_close(&live);
}

/* --- Install --- */

static int install_tick(void *ud)
{
	live_tick(ud);
	return 0;
}

static void install(struct agent *ag, const char *hcid, const struct deploy_spec *s, const struct layout *p,
		    struct cmd_outcome *out)
{
	struct live live;
	char err[2048] = "";
	struct appspec *a = NULL;
	struct install_ctx ctx = {0};
	int r;

	live_init(&live, ag, hcid, NULL);
	if ((r = layout_load_appspec(p->dep_dir, s, true, &a, err, sizeof(err))) < 0) {
		cmd_fail(out, EC_UNKNOWN, "%s", err);
		return;
	}
	if (s->n_all_events &&
	    appspec_check_events(a, (const char *const *)s->all_events, s->n_all_events, err, sizeof(err)) < 0) {
		cmd_fail(out, EC_UNKNOWN, "%s", err);
		goto out;
	}
	ctx.archive_dir = p->archive;
	ctx.spec = a;
	ctx.feb = a->file_exists_behavior ? a->file_exists_behavior
		  : s->feb_override	  ? s->feb_override
					  : APPSPEC_FEB_DISALLOW;
	ctx.cleanup_path = p->cleanup;
	ctx.install_json_path = p->install_json;
	ctx.tick = install_tick;
	ctx.ud = &live;
	if ((r = rd_mkdir_p(p->instr_dir, 0755)) < 0) {
		cmd_fail(out, EC_UNKNOWN, "cannot create %s: %s", p->instr_dir, strerror(-r));
		goto out;
	}
	log_info("Install: %zu file entries, file_exists_behavior %s", a->n_files, appspec_feb_name(ctx.feb));
	if ((r = install_run(&ctx, err, sizeof(err))) < 0) {
		cmd_fail(out, EC_UNKNOWN, "%s", err);
		goto out;
	}
	if ((r = layout_write_marker(p->last_ok, p->dep_dir)) < 0)
		cmd_fail(out, EC_UNKNOWN, "cannot write %s: %s", p->last_ok, strerror(-r));
out:
	live_close(&live);
	appspec_free(a);
}

void deploy_execute(struct agent *ag, const char *hcid, const char *command, const struct deploy_spec *s,
		    struct cmd_outcome *out)
{
	struct layout p;

	memset(out, 0, sizeof(*out));
	layout_init(&p, ag, s);
	if (!deploy_command_supported(command))
		cmd_fail(out, EC_UNKNOWN, "Unsupported command type: %s", command);
	else if (strcmp(command, "DownloadBundle") == 0)
		download_bundle(ag, hcid, s, &p, out);
	else if (strcmp(command, "Install") == 0)
		install(ag, hcid, s, &p, out);
	else
		hooks_run(ag, hcid, command, s, &p, out);
	if (!out->failed)
		snprintf(out->message, sizeof(out->message), "Succeeded: ");
}
