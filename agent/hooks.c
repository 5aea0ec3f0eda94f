#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "appspec.h"
#include "hooks.h"
#include "layout.h"
#include "live.h"
#include "log.h"
#include "runner.h"
#include "util.h"

extern char **environ;

struct envbuf {
	char **v;
	size_t n, cap;
};

static int env_add(struct envbuf *e, const char *name, const char *value)
{
	char *s;
	if (!value)
		return 0;
	for (size_t i = 0; i < e->n; i++) {
		size_t l = strlen(name);
		if (strncmp(e->v[i], name, l) == 0 && e->v[i][l] == '=') {
			if (asprintf(&s, "%s=%s", name, value) < 0)
				return -ENOMEM;
			free(e->v[i]);
			e->v[i] = s;
			return 0;
		}
	}
	if (e->n + 2 > e->cap) {
		size_t nc = e->cap ? e->cap * 2 : 32;
		char **nv = realloc(e->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		e->v = nv;
		e->cap = nc;
	}
	if (asprintf(&s, "%s=%s", name, value) < 0)
		return -ENOMEM;
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
	return 0;
}

static void env_free(struct envbuf *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
}

static bool env_denied(const char *name, size_t l)
{
	static const char *const deny[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
					   "AWS_ACCESS_KEY",	"AWS_SECRET_KEY",	 "AWS_CREDENTIALS_FILE",
					   "AWS_SECURITY_TOKEN"};
	for (size_t i = 0; i < RD_ARRAY_SIZE(deny); i++)
		if (strlen(deny[i]) == l && strncmp(name, deny[i], l) == 0)
			return true;
	return false;
}

static bool env_allowed(const struct agent_config *cfg, const char *name, size_t l)
{
	static const char *const base[] = {"PATH", "LANG", "LANGUAGE", "TZ", "LC_*"};
	if (env_denied(name, l))
		return false;
	for (size_t i = 0; i < RD_ARRAY_SIZE(base) + cfg->n_env_allow; i++) {
		const char *a = i < RD_ARRAY_SIZE(base) ? base[i] : cfg->env_allow[i - RD_ARRAY_SIZE(base)];
		size_t al = strlen(a);
		if (al && a[al - 1] == '*') {
			if (l >= al - 1 && strncmp(name, a, al - 1) == 0)
				return true;
		} else if (al == l && strncmp(name, a, l) == 0)
			return true;
	}
	return false;
}

static int build_env(const struct agent *ag, const struct deploy_spec *s, const char *event, const struct passwd *pw,
		     struct envbuf *e)
{
	int r = 0;
	for (char **ep = environ; *ep && r == 0; ep++) {
		const char *eq = strchr(*ep, '=');
		if (!eq || !env_allowed(ag->cfg, *ep, (size_t)(eq - *ep)))
			continue;
		char *name = strndup(*ep, (size_t)(eq - *ep));
		if (!name)
			return -ENOMEM;
		r = env_add(e, name, eq + 1);
		free(name);
	}
	if (r == 0 && !getenv("PATH"))
		r = env_add(e, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	if (r == 0 && pw) {
		if ((r = env_add(e, "HOME", pw->pw_dir)) == 0 && (r = env_add(e, "USER", pw->pw_name)) == 0 &&
		    (r = env_add(e, "LOGNAME", pw->pw_name)) == 0)
			r = env_add(e, "SHELL", pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh");
	}
	if (r == 0 && (r = env_add(e, "LIFECYCLE_EVENT", event)) == 0 &&
	    (r = env_add(e, "DEPLOYMENT_ID", s->deployment_id)) == 0 &&
	    (r = env_add(e, "APPLICATION_NAME", s->application_name)) == 0 &&
	    (r = env_add(e, "DEPLOYMENT_GROUP_NAME", s->group_name)) == 0)
		r = env_add(e, "DEPLOYMENT_GROUP_ID", s->group_id);
	if (r == 0 && s->s3_bucket) {
		if ((r = env_add(e, "BUNDLE_BUCKET", s->s3_bucket)) == 0 &&
		    (r = env_add(e, "BUNDLE_KEY", s->s3_key)) == 0 &&
		    (r = env_add(e, "BUNDLE_VERSION", s->s3_version)) == 0)
			r = env_add(e, "BUNDLE_ETAG", s->s3_etag);
	}
	if (r == 0 && s->commit_id) /* GitHub and Bitbucket */
		r = env_add(e, "BUNDLE_COMMIT", s->commit_id);
	if (r == 0 && s->http_url)
		r = env_add(e, "BUNDLE_URL", s->http_url);
	if (r == 0 && s->location_sha256) /* HTTP and Bundle */
		r = env_add(e, "BUNDLE_SHA256", s->location_sha256);
	if (r == 0 && !e->v)
		r = env_add(e, "PATH", "/usr/bin:/bin");
	return r;
}

void hooks_run(struct agent *ag, const char *hcid, const char *event, const struct deploy_spec *s,
	       const struct layout *p, struct cmd_outcome *out)
{
	char dir[4096], err[1024];
	struct appspec *a = NULL;
	const struct appspec_hook *h;
	struct tail tail;
	struct live live;
	bool previous;
	int r;

	tail_reset(&tail);
	live_init(&live, ag, hcid, &tail);
	if (layout_hook_revision(p, s, event, dir, sizeof(dir)) < 0) {
		log_info("%s: no previous successful revision of this group on this host; nothing to run", event);
		return;
	}
	previous = strcmp(dir, p->dep_dir) != 0;
	if ((r = layout_load_appspec(dir, s, false, &a, err, sizeof(err))) < 0) {
		if (previous)
			cmd_fail(out, EC_UNKNOWN,
				 "%s runs the appspec of the last successful revision (%s), which failed: %s. If that "
				 "revision is broken, redeploy with ignoreApplicationStopFailures or remove %s",
				 event, dir, err, p->last_ok);
		else
			cmd_fail(out, EC_UNKNOWN, "%s", err);
		goto out;
	}
	h = appspec_hook(a, event);
	if (!h)
		goto out;
	if ((r = live_open_logs(&live, p->logs, p->scripts_log, s->deployment_id)) < 0) {
		cmd_fail(out, EC_UNKNOWN, "cannot open %s: %s", p->scripts_log, strerror(-r));
		goto out;
	}
	live_begin_event(&live, event);
	for (size_t i = 0; i < h->n_scripts && !out->failed; i++) {
		const struct appspec_script *sc = &h->scripts[i];
		struct run_spec rs = {0};
		struct run_result res;
		struct envbuf env = {0};
		struct passwd *pw = NULL, pwcopy;
		char path[8192], *pwname = NULL, *pwdir = NULL, *pwshell = NULL;
		struct stat st;
		unsigned timeout = sc->timeout;

		rd_strlcpy(out->script_name, sc->location, sizeof(out->script_name));
		live.script = sc->location;
		live_logf(&live, "Script - %s\n", sc->location);
		snprintf(path, sizeof(path), "%s/deployment-archive/%s", dir, sc->location);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			/* a symlink to a file inside the archive is fine */
			if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
				cmd_fail(out, EC_SCRIPT_MISSING, "Script does not exist at specified location: %s",
					 path);
				break;
			}
		}
		if (access(path, X_OK) < 0) {
			if (chmod(path, (st.st_mode & 07777) | 0111) < 0 || access(path, X_OK) < 0) {
				cmd_fail(out, EC_SCRIPT_NOT_EXECUTABLE,
					 "Script at specified location: %s is not executable", sc->location);
				break;
			}
		}
		if (ag->cfg->hook_timeout_cap && timeout > ag->cfg->hook_timeout_cap)
			timeout = ag->cfg->hook_timeout_cap;
		if (sc->runas) {
			pw = getpwnam(sc->runas);
			if (!pw) {
				cmd_fail(
				    out, EC_SCRIPT_FAILED,
				    "Script at specified location: %s: runas user '%s' does not exist on this host",
				    sc->location, sc->runas);
				break;
			}
			rs.switch_user = pw->pw_uid != geteuid() || pw->pw_gid != getegid();
		} else
			pw = getpwuid(geteuid());
		if (pw) {
			pwcopy = *pw;
			pwname = strdup(pw->pw_name);
			pwdir = strdup(pw->pw_dir ? pw->pw_dir : "/");
			pwshell = strdup(pw->pw_shell ? pw->pw_shell : "/bin/sh");
			pwcopy.pw_name = pwname;
			pwcopy.pw_dir = pwdir;
			pwcopy.pw_shell = pwshell;
			pw = &pwcopy;
		}
		if (build_env(ag, s, event, pw, &env) < 0) {
			cmd_fail(out, EC_UNKNOWN, "out of memory building the hook environment");
			goto next;
		}
		rs.path = path;
		rs.cwd = "/";
		rs.envp = env.v;
		rs.user = pw ? pw->pw_name : NULL;
		rs.uid = pw ? pw->pw_uid : 0;
		rs.gid = pw ? pw->pw_gid : 0;
		rs.timeout_s = timeout;
		rs.grace_s = ag->cfg->kill_grace;
		rs.on_line = live_line;
		rs.on_tick = live_tick;
		rs.ud = &live;
		live.est_remaining_s = timeout;
		log_info("%s: running %s (timeout %us%s%s)", event, sc->location, timeout, sc->runas ? ", as " : "",
			 sc->runas ? sc->runas : "");
		if ((r = runner_run(&rs, &res)) < 0) {
			cmd_fail(out, EC_SCRIPT_FAILED, "Script at specified location: %s could not be started: %s",
				 sc->location, strerror(-r));
			goto next;
		}
		switch (res.status) {
		case RUN_EXITED:
			if (res.code != 0)
				cmd_fail(out, EC_SCRIPT_FAILED,
					 "Script at specified location: %s failed with exit code %d", sc->location,
					 res.code);
			break;
		case RUN_SIGNALED:
			cmd_fail(out, EC_SCRIPT_FAILED, "Script at specified location: %s was killed by signal %d",
				 sc->location, res.code);
			break;
		case RUN_TIMED_OUT:
			cmd_fail(out, EC_SCRIPT_TIMED_OUT,
				 "Script at specified location: %s failed to complete in %u seconds", sc->location,
				 timeout);
			break;
		case RUN_ABORTED:
			cmd_fail(out, EC_UNKNOWN, "Script at specified location: %s was stopped: %s", sc->location,
				 ag->stop ? "rollout-agent is shutting down" : "stopped by rolloutd");
			break;
		case RUN_SPAWN_FAILED:
			if (res.code == ENOEXEC)
				cmd_fail(
				    out, EC_SCRIPT_FAILED,
				    "Script at specified location: %s cannot be executed (no '#!' interpreter line?)",
				    sc->location);
			else
				cmd_fail(out, EC_SCRIPT_FAILED,
					 "Script at specified location: %s failed to start: %s: %s", sc->location,
					 res.stage, strerror(res.code));
			break;
		}
		if (res.outputs_left_open) {
			const char *m =
			    "a background process still held the script's stdout/stderr open; rollout-agent "
			    "stopped reading it (redirect its output, e.g. > /dev/null 2>&1)";
			live_logf(&live, "[rollout-agent] %s\n", m);
			live_line(&live, 2, m, strlen(m));
		}
		if (res.killed)
			live_logf(&live, "[rollout-agent] ended %u process(es) of the script's tree\n", res.killed);
		log_info("%s: %s %s", event, sc->location, out->failed ? out->message : "succeeded");
	next:
		env_free(&env);
		free(pwname);
		free(pwdir);
		free(pwshell);
	}
	live_flush(&live);
out:
	tail_render(&tail, out->log, sizeof(out->log));
	if (!out->failed)
		out->script_name[0] = '\0';
	live_close(&live);
	appspec_free(a);
}
