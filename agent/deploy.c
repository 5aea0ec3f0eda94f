/* Running one host command: DownloadBundle, Install and the hook events,
 * with the deployment root laid out like the official agent's
 * (host-agent.md §5.1):
 *   <root>/<groupId>/<deploymentId>/{bundle.tar, deployment-archive/, logs/scripts.log}
 *   <root>/deployment-instructions/<groupId>{-cleanup,-install.json,_last_successful_install,_most_recent_install}
 * Difference: bundle.tar is removed once unpacked (one copy, not two). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "appspec.h"
#include "hostcmd.h"
#include "install.h"
#include "log.h"
#include "runner.h"
#include "util.h"

extern char **environ;

#define LIVE_CHUNK 4096
#define LIVE_PENDING_MAX (64 * 1024)
#define LIVE_TOTAL_MAX (1024 * 1024)

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

struct paths {
	char dep_dir[4096];
	char archive[4096];
	char bundle[4096];
	char logs[4096];
	char scripts_log[4096];
	char instr_dir[4096];
	char last_ok[4096];
	char most_recent[4096];
	char cleanup[4096];
	char install_json[4096];
	char group_dir[4096];
};

static void make_paths(const struct agent *ag, const struct deploy_spec *s, struct paths *p)
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

static void fail(struct cmd_outcome *out, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct cmd_outcome *out, int code, const char *fmt, ...)
{
	va_list ap;
	out->failed = true;
	out->error_code = code;
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
}

/* reads a marker file: the absolute path of a deployment directory */
static int read_marker(const char *path, char *out, size_t outlen)
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

static int write_marker(const char *path, const char *dep_dir)
{
	return rd_write_file_atomic(path, dep_dir, strlen(dep_dir), 0644);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

static int rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	return nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

/* --- which revision's appspec runs a hook (host-agent.md §4.7) --- */

/* Fills dir with the deployment directory whose scripts run the event, or
 * returns -ENOENT when there is none (a silent noop). */
static int hook_revision(const struct agent *ag, const struct deploy_spec *s, const char *event, const struct paths *p,
			 char *dir, size_t dirlen)
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
		if (read_marker(marker, dir, dirlen) < 0)
			return -ENOENT;
		return 0;
	}
	rd_strlcpy(dir, p->dep_dir, dirlen);
	return 0;
}

static int load_appspec(const char *dep_dir, const struct deploy_spec *s, bool fallback, struct appspec **ret,
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

bool deploy_is_noop(struct agent *ag, const char *command, const struct deploy_spec *s)
{
	struct paths p;
	char dir[4096], err[512];
	struct appspec *a = NULL;
	bool noop;

	if (!deploy_command_supported(command))
		return true;
	if (strcmp(command, "DownloadBundle") == 0 || strcmp(command, "Install") == 0)
		return false;
	make_paths(ag, s, &p);
	if (hook_revision(ag, s, command, &p, dir, sizeof(dir)) < 0)
		return true;
	if (load_appspec(dir, s, false, &a, err, sizeof(err)) < 0)
		return false; /* run it, so the error is reported */
	noop = appspec_hook(a, command) == NULL;
	appspec_free(a);
	return noop;
}

/* --- heartbeats and live output --- */

struct live {
	struct agent *ag;
	const char *hcid;
	const char *script; /* current script location */
	char *pending;
	size_t pending_len;
	size_t sent_total;
	bool limit_hit, dropped;
	long seq;
	int64_t last_update;
	unsigned faults; /* consecutive failed updates */
	unsigned est_remaining_s;
	bool stop_requested;
	/* scripts.log */
	FILE *log;
	uint64_t log_size, log_max;
	bool log_full;
	struct tail *tail;
	/* <root>/deployment-logs/codedeploy-agent-deployments.log (all deployments) */
	FILE *dlog;
	const char *dep_id;
};

#define DEPLOYMENTS_LOG_MAX (64u << 20)

/* Opens the deployments log, keeping one rotated file (.1) past 64 MiB. */
static FILE *deployments_log_open(const struct agent *ag)
{
	char dir[4200], path[4300], old[4400];
	struct stat st;
	snprintf(dir, sizeof(dir), "%s/deployment-logs", ag->cfg->root_dir);
	if (rd_mkdir_p(dir, 0755) < 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/codedeploy-agent-deployments.log", dir);
	if (stat(path, &st) == 0 && (uint64_t)st.st_size > DEPLOYMENTS_LOG_MAX) {
		snprintf(old, sizeof(old), "%s.1", path);
		rename(path, old);
	}
	return fopen(path, "ae");
}

static void live_append(struct live *l, const char *s, size_t n)
{
	char *np;
	if (l->limit_hit)
		return;
	if (l->pending_len + n > LIVE_PENDING_MAX) {
		l->dropped = true;
		return;
	}
	np = realloc(l->pending, l->pending_len + n + 1);
	if (!np)
		return;
	l->pending = np;
	memcpy(l->pending + l->pending_len, s, n);
	l->pending_len += n;
	l->pending[l->pending_len] = '\0';
}

/* Sends one PostHostCommandUpdate (with up to LIVE_CHUNK of pending output). */
static int live_send(struct live *l)
{
	json_t *req, *resp = NULL;
	struct client_reply rep;
	char err[512];
	size_t n = 0;
	int r;

	if (l->dropped && !l->limit_hit) {
		const char *m = "[rollout-agent] output too fast; some lines were not sent live (see scripts.log)\n";
		l->dropped = false;
		live_append(l, m, strlen(m));
	}
	req = json_pack("{s:s,s:I}", "HostCommandIdentifier", l->hcid, "EstimatedCompletionTime",
			(json_int_t)(time(NULL) + l->est_remaining_s));
	if (!req)
		return -ENOMEM;
	if (l->pending_len) {
		json_t *payload;
		char *text;
		n = l->pending_len;
		if (n > LIVE_CHUNK) {
			/* whole lines when possible */
			n = LIVE_CHUNK;
			while (n > 0 && l->pending[n - 1] != '\n')
				n--;
			if (n == 0)
				n = LIVE_CHUNK;
		}
		if (l->sent_total + n > LIVE_TOTAL_MAX) {
			const char *m = "[rollout-agent] live output limit reached; see scripts.log on the host\n";
			l->limit_hit = true;
			free(l->pending);
			l->pending = strdup(m);
			l->pending_len = n = l->pending ? strlen(m) : 0;
		}
		payload = json_pack("{s:I,s:s,s:s%}", "seq", (json_int_t)(l->seq + 1), "script_name",
				    l->script ? l->script : "", "log", l->pending ? l->pending : "", n);
		text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
		json_decref(payload);
		if (!text) {
			json_decref(req);
			return -ENOMEM;
		}
		json_object_set_new(req, "Diagnostics", json_pack("{s:s,s:s}", "Format", "JSON", "Payload", text));
		free(text);
	}
	r = client_call(l->ag->client, "PostHostCommandUpdate", req, 15, false, &resp, &rep, err, sizeof(err));
	json_decref(req);
	l->last_update = rd_mono_ms();
	switch (hostcmd_classify(r, &rep)) {
	case HOSTCMD_OK:
		l->faults = 0;
		break;
	case HOSTCMD_ANSWER:
		/* the same update would be refused again: its output stays in scripts.log only */
		log_warning("rolloutd refused PostHostCommandUpdate: %s", err);
		l->faults = 0;
		break;
	default:
		l->faults++;
		log_warning("PostHostCommandUpdate failed (retrying in %u s): %s", hostcmd_delay_s(l->faults), err);
		return r;
	}
	if (n) {
		l->seq++;
		l->sent_total += n;
		memmove(l->pending, l->pending + n, l->pending_len - n);
		l->pending_len -= n;
	}
	{
		const char *st = json_string_value(json_object_get(resp, "CommandStatus"));
		if (st && (strcmp(st, "Failed") == 0 || strcmp(st, "Succeeded") == 0)) {
			log_notice("rolloutd answered CommandStatus %s: stopping the command", st);
			l->stop_requested = true;
		}
	}
	json_decref(resp);
	return 0;
}

static int live_tick(void *ud)
{
	struct live *l = ud;
	int64_t now = rd_mono_ms();
	int64_t since = now - l->last_update;
	int64_t wait = l->pending_len ? 1000 : (int64_t)l->ag->cfg->heartbeat * 1000;

	if (l->ag->stop)
		return -1;
	if (l->faults) /* the host-command schedule, never slower than the heartbeat */
		wait = 1000 * (int64_t)(hostcmd_delay_s(l->faults) < l->ag->cfg->heartbeat ? hostcmd_delay_s(l->faults)
											   : l->ag->cfg->heartbeat);
	if (since >= wait)
		live_send(l);
	return l->stop_requested ? -1 : 0;
}

static void log_write(struct live *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_write(struct live *l, const char *fmt, ...)
{
	va_list ap;
	int n;
	if (!l->log || l->log_full)
		return;
	if (l->log_size >= l->log_max) {
		fprintf(l->log,
			"[rollout-agent] scripts.log size limit (%llu bytes) reached; further output is not logged\n",
			(unsigned long long)l->log_max);
		fflush(l->log);
		l->log_full = true;
		return;
	}
	va_start(ap, fmt);
	n = vfprintf(l->log, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->log_size += (uint64_t)n;
	fflush(l->log);
}

static void now_str(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static void on_line(void *ud, int stream, const char *line, size_t len)
{
	struct live *l = ud;
	const char *prefix = stream == 1 ? "[stdout]" : "[stderr]";
	char ts[32];
	bool cut = len >= 4096;

	now_str(ts, sizeof(ts));
	log_write(l, "%s %s%.*s\n", ts, prefix, (int)len, line);
	if (l->dlog) {
		struct timespec tsp;
		struct tm tm;
		char d[32];
		clock_gettime(CLOCK_REALTIME, &tsp);
		gmtime_r(&tsp.tv_sec, &tm);
		strftime(d, sizeof(d), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(l->dlog, "[%s.%03ld] [%s]%s%.*s\n", d, tsp.tv_nsec / 1000000, l->dep_id ? l->dep_id : "",
			prefix, (int)len, line);
		fflush(l->dlog);
	}
	tail_add_line(l->tail, prefix, line, len);
	live_append(l, prefix, strlen(prefix));
	live_append(l, line, len);
	if (cut)
		live_append(l, " …[truncated]", strlen(" …[truncated]"));
	live_append(l, "\n", 1);
}

/* --- hook environment --- */

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

/* --- hook events --- */

static void run_hook(struct agent *ag, const char *hcid, const char *event, const struct deploy_spec *s,
		     const struct paths *p, struct cmd_outcome *out)
{
	char dir[4096], err[1024], ts[32];
	struct appspec *a = NULL;
	const struct appspec_hook *h;
	struct tail tail;
	struct live live = {
	    .ag = ag, .hcid = hcid, .log_max = ag->cfg->scripts_log_max, .tail = &tail, .last_update = rd_mono_ms()};
	bool previous;
	int r;

	tail_reset(&tail);
	if (hook_revision(ag, s, event, p, dir, sizeof(dir)) < 0) {
		log_info("%s: no previous successful revision of this group on this host; nothing to run", event);
		return;
	}
	previous = strcmp(dir, p->dep_dir) != 0;
	if ((r = load_appspec(dir, s, false, &a, err, sizeof(err))) < 0) {
		if (previous)
			fail(out, EC_UNKNOWN,
			     "%s runs the appspec of the last successful revision (%s), which failed: %s. If that "
			     "revision is broken, redeploy with ignoreApplicationStopFailures or remove %s",
			     event, dir, err, p->last_ok);
		else
			fail(out, EC_UNKNOWN, "%s", err);
		goto out;
	}
	h = appspec_hook(a, event);
	if (!h)
		goto out;
	if (rd_mkdir_p(p->logs, 0755) < 0 || !(live.log = fopen(p->scripts_log, "ae"))) {
		fail(out, EC_UNKNOWN, "cannot open %s: %s", p->scripts_log, strerror(errno));
		goto out;
	}
	fseek(live.log, 0, SEEK_END);
	live.log_size = (uint64_t)ftell(live.log);
	live.dep_id = s->deployment_id;
	live.dlog = deployments_log_open(ag);
	now_str(ts, sizeof(ts));
	log_write(&live, "%s LifecycleEvent - %s\n", ts, event);
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
		log_write(&live, "Script - %s\n", sc->location);
		snprintf(path, sizeof(path), "%s/deployment-archive/%s", dir, sc->location);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			/* a symlink to a file inside the archive is fine */
			if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
				fail(out, EC_SCRIPT_MISSING, "Script does not exist at specified location: %s", path);
				break;
			}
		}
		if (access(path, X_OK) < 0) {
			if (chmod(path, (st.st_mode & 07777) | 0111) < 0 || access(path, X_OK) < 0) {
				fail(out, EC_SCRIPT_NOT_EXECUTABLE,
				     "Script at specified location: %s is not executable", sc->location);
				break;
			}
		}
		if (ag->cfg->hook_timeout_cap && timeout > ag->cfg->hook_timeout_cap)
			timeout = ag->cfg->hook_timeout_cap;
		if (sc->runas) {
			pw = getpwnam(sc->runas);
			if (!pw) {
				fail(out, EC_SCRIPT_FAILED,
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
			fail(out, EC_UNKNOWN, "out of memory building the hook environment");
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
		rs.on_line = on_line;
		rs.on_tick = live_tick;
		rs.ud = &live;
		live.est_remaining_s = timeout;
		log_info("%s: running %s (timeout %us%s%s)", event, sc->location, timeout, sc->runas ? ", as " : "",
			 sc->runas ? sc->runas : "");
		if ((r = runner_run(&rs, &res)) < 0) {
			fail(out, EC_SCRIPT_FAILED, "Script at specified location: %s could not be started: %s",
			     sc->location, strerror(-r));
			goto next;
		}
		switch (res.status) {
		case RUN_EXITED:
			if (res.code != 0)
				fail(out, EC_SCRIPT_FAILED, "Script at specified location: %s failed with exit code %d",
				     sc->location, res.code);
			break;
		case RUN_SIGNALED:
			fail(out, EC_SCRIPT_FAILED, "Script at specified location: %s was killed by signal %d",
			     sc->location, res.code);
			break;
		case RUN_TIMED_OUT:
			fail(out, EC_SCRIPT_TIMED_OUT,
			     "Script at specified location: %s failed to complete in %u seconds", sc->location,
			     timeout);
			break;
		case RUN_ABORTED:
			fail(out, EC_UNKNOWN, "Script at specified location: %s was stopped: %s", sc->location,
			     ag->stop ? "rollout-agent is shutting down" : "stopped by rolloutd");
			break;
		case RUN_SPAWN_FAILED:
			if (res.code == ENOEXEC)
				fail(out, EC_SCRIPT_FAILED,
				     "Script at specified location: %s cannot be executed (no '#!' interpreter line?)",
				     sc->location);
			else
				fail(out, EC_SCRIPT_FAILED, "Script at specified location: %s failed to start: %s: %s",
				     sc->location, res.stage, strerror(res.code));
			break;
		}
		if (res.outputs_left_open) {
			const char *m =
			    "a background process still held the script's stdout/stderr open; rollout-agent "
			    "stopped reading it (redirect its output, e.g. > /dev/null 2>&1)";
			log_write(&live, "[rollout-agent] %s\n", m);
			on_line(&live, 2, m, strlen(m));
		}
		if (res.killed)
			log_write(&live, "[rollout-agent] ended %u process(es) of the script's tree\n", res.killed);
		log_info("%s: %s %s", event, sc->location, out->failed ? out->message : "succeeded");
	next:
		env_free(&env);
		free(pwname);
		free(pwdir);
		free(pwshell);
	}
	/* flush the remaining live output */
	for (int i = 0; i < 64 && live.pending_len && !live.limit_hit; i++)
		if (live_send(&live) < 0)
			break;
out:
	tail_render(&tail, out->log, sizeof(out->log));
	if (!out->failed)
		out->script_name[0] = '\0';
	if (live.log)
		fclose(live.log);
	if (live.dlog)
		fclose(live.dlog);
	free(live.pending);
	appspec_free(a);
}

/* --- DownloadBundle --- */

/* Unpacks bundle into dest with the rollout-agent-extract helper (libarchive
 * lives only there), calling tick about once a second. */
static int extract(const struct agent *ag, const char *bundle, const char *dest, int (*tick)(void *ud), void *ud,
		   char *err, size_t errlen)
{
	int pfd[2], st = 0, r = 0;
	size_t elen = 0;
	bool interrupted = false;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return r;
	}
	if (pid == 0) {
		char *argv[] = {(char *)ag->extract_helper, (char *)bundle, (char *)dest, NULL};
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execv(ag->extract_helper, argv);
		dprintf(pfd[1], "cannot run %s: %s", ag->extract_helper, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	err[0] = '\0';
	for (;;) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		char buf[512];
		ssize_t n;
		int pr = poll(&p, 1, 1000);
		if (pr < 0 && errno != EINTR)
			break;
		if (tick && tick(ud) < 0) {
			kill(pid, SIGKILL);
			interrupted = true;
			break;
		}
		if (pr <= 0)
			continue;
		n = read(pfd[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != '\1' && buf[i] != '\n' && elen + 1 < errlen) {
				err[elen++] = buf[i];
				err[elen] = '\0';
			}
	}
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (interrupted) {
		snprintf(err, errlen, "extraction interrupted");
		return -EINTR;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (!err[0])
		snprintf(err, errlen, "%s ended with status %d", ag->extract_helper, st);
	return -EINVAL;
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

/* Keeps max_revisions directories per group counting the current one,
 * oldest first out, never the last successful one. */
static void retention(const struct agent *ag, const struct paths *p)
{
	char last_ok[4096] = "";
	struct rev *revs = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir(p->group_dir);
	struct dirent *de;

	if (!d)
		return;
	read_marker(p->last_ok, last_ok, sizeof(last_ok));
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
	qsort(revs, n, sizeof(*revs), rev_cmp);
	/* others allowed: max_revisions - 1 (the current one counts) */
	size_t keep = ag->cfg->max_revisions > 0 ? (size_t)ag->cfg->max_revisions - 1 : 0;
	for (size_t i = 0; i < n && n - i > keep; i++) {
		if (strcmp(revs[i].path, last_ok) == 0) {
			keep = keep ? keep - 1 : 0; /* it stays and takes a slot */
			continue;
		}
		log_info("retention: removing old revision %s", revs[i].path);
		rm_rf(revs[i].path);
	}
	free(revs);
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

struct dl_tick {
	struct live *live;
};

static int download_tick(void *ud)
{
	return live_tick(ud);
}

static void download_bundle(struct agent *ag, const char *hcid, const struct deploy_spec *s, const struct paths *p,
			    struct cmd_outcome *out)
{
	char err[1024] = "";
	int r;

	if (!s->has_rollout_bundle && !s->local_location) {
		fail(
		    out, EC_UNKNOWN,
		    "the deployment specification has neither RolloutBundle nor a Local File/Directory revision "
		    "(revision type %s); rollout-agent downloads bundles only from rolloutd's bundle cache (enable the "
		    "source plugin of this revision type in rolloutd)",
		    s->revision_type ? s->revision_type : "none");
		return;
	}
	retention(ag, p);
	if ((r = rd_mkdir_p(p->logs, 0755)) < 0 || (r = rd_mkdir_p(p->instr_dir, 0755)) < 0) {
		fail(out, EC_UNKNOWN, "cannot create %s: %s", p->dep_dir, strerror(-r));
		return;
	}
	if ((r = rm_rf(p->archive)) < 0) {
		fail(out, EC_UNKNOWN, "cannot remove %s: %s", p->archive, strerror(-r));
		return;
	}
	struct live live = {.ag = ag, .hcid = hcid, .last_update = rd_mono_ms(), .est_remaining_s = 600};
	struct tail t;
	live.tail = &t;
	if (s->has_rollout_bundle) {
		log_info("DownloadBundle: fetching %s (%llu bytes, sha256 %.12s…)", s->rb_url,
			 (unsigned long long)s->rb_size, s->rb_sha256);
		r = client_download(ag->client, s->rb_url, p->bundle, s->rb_size, s->rb_sha256, download_tick, &live,
				    err, sizeof(err));
		if (r < 0) {
			fail(out, EC_UNKNOWN, "%s", err);
			return;
		}
		r = extract(ag, p->bundle, p->archive, live_tick, &live, err, sizeof(err));
		unlink(p->bundle); /* keep one copy: the unpacked tree */
		if (r < 0) {
			fail(out, EC_UNKNOWN, "the bundle cannot be unpacked: %s", err);
			rm_rf(p->archive);
			return;
		}
	} else if (s->bundle_type && strcmp(s->bundle_type, "directory") == 0) {
		if ((r = cp_tree(s->local_location, p->archive, err, sizeof(err))) < 0) {
			fail(out, EC_UNKNOWN, "copying the local revision %s: %s", s->local_location, err);
			rm_rf(p->archive);
			return;
		}
	} else {
		unlink(p->bundle);
		if (symlink(s->local_location, p->bundle) < 0) {
			fail(out, EC_UNKNOWN, "cannot link %s: %s", p->bundle, strerror(errno));
			return;
		}
		if ((r = extract(ag, s->local_location, p->archive, live_tick, &live, err, sizeof(err))) < 0) {
			fail(out, EC_UNKNOWN, "the bundle %s cannot be unpacked: %s", s->local_location, err);
			rm_rf(p->archive);
			return;
		}
	}
	if ((r = write_marker(p->most_recent, p->dep_dir)) < 0)
		fail(out, EC_UNKNOWN, "cannot write %s: %s", p->most_recent, strerror(-r));
	free(live.pending);
}

/* --- Install --- */

static int install_tick(void *ud)
{
	live_tick(ud);
	return 0;
}

static void install(struct agent *ag, const char *hcid, const struct deploy_spec *s, const struct paths *p,
		    struct cmd_outcome *out)
{
	struct live live = {.ag = ag, .hcid = hcid, .last_update = rd_mono_ms(), .est_remaining_s = 600};
	char err[2048] = "";
	struct appspec *a = NULL;
	struct install_ctx ctx = {0};
	int r;

	if ((r = load_appspec(p->dep_dir, s, true, &a, err, sizeof(err))) < 0) {
		fail(out, EC_UNKNOWN, "%s", err);
		return;
	}
	if (s->n_all_events &&
	    appspec_check_events(a, (const char *const *)s->all_events, s->n_all_events, err, sizeof(err)) < 0) {
		fail(out, EC_UNKNOWN, "%s", err);
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
		fail(out, EC_UNKNOWN, "cannot create %s: %s", p->instr_dir, strerror(-r));
		goto out;
	}
	log_info("Install: %zu file entries, file_exists_behavior %s", a->n_files, appspec_feb_name(ctx.feb));
	if ((r = install_run(&ctx, err, sizeof(err))) < 0) {
		fail(out, EC_UNKNOWN, "%s", err);
		goto out;
	}
	if ((r = write_marker(p->last_ok, p->dep_dir)) < 0)
		fail(out, EC_UNKNOWN, "cannot write %s: %s", p->last_ok, strerror(-r));
out:
	appspec_free(a);
}

void deploy_execute(struct agent *ag, const char *hcid, const char *command, const struct deploy_spec *s,
		    struct cmd_outcome *out)
{
	struct paths p;

	memset(out, 0, sizeof(*out));
	make_paths(ag, s, &p);
	if (!deploy_command_supported(command))
		fail(out, EC_UNKNOWN, "Unsupported command type: %s", command);
	else if (strcmp(command, "DownloadBundle") == 0)
		download_bundle(ag, hcid, s, &p, out);
	else if (strcmp(command, "Install") == 0)
		install(ag, hcid, s, &p, out);
	else
		run_hook(ag, hcid, command, s, &p, out);
	if (!out->failed)
		snprintf(out->message, sizeof(out->message), "Succeeded: ");
}
