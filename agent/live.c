#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent.h"
#include "hostcmd.h"
#include "jsonutil.h"
#include "live.h"
#include "log.h"
#include "util.h"

#define LIVE_CHUNK 4096
#define LIVE_PENDING_MAX (64 * 1024)
#define LIVE_TOTAL_MAX (1024 * 1024)

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
		const char *st = rd_json_str(resp, "CommandStatus");
		if (st && (strcmp(st, "Failed") == 0 || strcmp(st, "Succeeded") == 0)) {
			log_notice("rolloutd answered CommandStatus %s: stopping the command", st);
			l->stop_requested = true;
		}
	}
	json_decref(resp);
	return 0;
}

int live_tick(void *ud)
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

void live_logf(struct live *l, const char *fmt, ...)
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

void live_line(void *ud, int stream, const char *line, size_t len)
{
	struct live *l = ud;
	const char *prefix = stream == 1 ? "[stdout]" : "[stderr]";
	char ts[32];
	bool cut = len >= 4096;

	now_str(ts, sizeof(ts));
	live_logf(l, "%s %s%.*s\n", ts, prefix, (int)len, line);
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
	if (l->tail)
		tail_add_line(l->tail, prefix, line, len);
	live_append(l, prefix, strlen(prefix));
	live_append(l, line, len);
	if (cut)
		live_append(l, " …[truncated]", strlen(" …[truncated]"));
	live_append(l, "\n", 1);
}

void live_init(struct live *l, struct agent *ag, const char *hcid, struct tail *tail)
{
	memset(l, 0, sizeof(*l));
	l->ag = ag;
	l->hcid = hcid;
	l->tail = tail;
	l->log_max = ag->cfg->scripts_log_max;
	l->last_update = rd_mono_ms();
	l->est_remaining_s = 600;
}

int live_open_logs(struct live *l, const char *logs_dir, const char *scripts_log, const char *deployment_id)
{
	int r;

	if ((r = rd_mkdir_p(logs_dir, 0755)) < 0)
		return r;
	if (!(l->log = fopen(scripts_log, "ae")))
		return -errno;
	fseek(l->log, 0, SEEK_END);
	l->log_size = (uint64_t)ftell(l->log);
	l->dep_id = deployment_id;
	l->dlog = deployments_log_open(l->ag);
	return 0;
}

void live_begin_event(struct live *l, const char *event)
{
	char ts[32];

	now_str(ts, sizeof(ts));
	live_logf(l, "%s LifecycleEvent - %s\n", ts, event);
}

void live_flush(struct live *l)
{
	for (int i = 0; i < 64 && l->pending_len && !l->limit_hit; i++)
		if (live_send(l) < 0)
			break;
}

void live_close(struct live *l)
{
	if (l->log)
		fclose(l->log);
	if (l->dlog)
		fclose(l->dlog);
	free(l->pending);
	l->log = l->dlog = NULL;
	l->pending = NULL;
}
