#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

static const char *log_ident = "rollout";
static int log_min = LOG_INFO;
static int log_journal;

static const char *const level_names[] = {
    [LOG_EMERG] = "EMERG",     [LOG_ALERT] = "ALERT",	[LOG_CRIT] = "CRIT", [LOG_ERR] = "ERROR",
    [LOG_WARNING] = "WARNING", [LOG_NOTICE] = "NOTICE", [LOG_INFO] = "INFO", [LOG_DEBUG] = "DEBUG",
};

void rd_log_init(const char *ident, int min_level)
{
	log_ident = ident;
	log_min = min_level;
	/* systemd sets JOURNAL_STREAM to "dev:ino" of the stream it gave us;
	 * only log natively when stderr still is that stream (not when a child
	 * of the service had its stderr redirected, say to a file). */
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	log_journal = 0;
	if (js && fstat(STDERR_FILENO, &st) == 0) {
		unsigned long long dev, ino;
		if (sscanf(js, "%llu:%llu", &dev, &ino) == 2 && dev == (unsigned long long)st.st_dev &&
		    ino == (unsigned long long)st.st_ino)
			log_journal = 1;
	}
}

void rd_log_set_level(int min_level)
{
	log_min = min_level;
}
int rd_log_level(void)
{
	return log_min;
}

int rd_log_level_parse(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} t[] = {{"debug", LOG_DEBUG},
		 {"info", LOG_INFO},
		 {"notice", LOG_NOTICE},
		 {"warning", LOG_WARNING},
		 {"error", LOG_ERR}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].name) == 0)
			return t[i].level;
	return -1;
}

#define RD_LOG_MAX_EXTRA 24

/* One journal entry: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and the fields
 * that are set; sd_journal_sendv copies what it sends. */
static void journal_send(int level, const char *tag, const struct rd_log_fields *f, const char *msg)
{
	char mbuf[4200], fbuf[6][320];
	struct iovec iov[7 + RD_LOG_MAX_EXTRA];
	int n = 0, l;

	l = tag ? snprintf(mbuf, sizeof(mbuf), "MESSAGE=[%s] %s", tag, msg)
		: snprintf(mbuf, sizeof(mbuf), "MESSAGE=%s", msg);
	iov[n].iov_base = mbuf;
	iov[n++].iov_len = l < 0 ? 0 : (size_t)l >= sizeof(mbuf) ? sizeof(mbuf) - 1 : (size_t)l;
#define FIELD(...)                                                                                                     \
	do {                                                                                                           \
		l = snprintf(fbuf[n - 1], sizeof(fbuf[0]), __VA_ARGS__);                                               \
		iov[n].iov_base = fbuf[n - 1];                                                                         \
		iov[n].iov_len = l < 0 ? 0 : (size_t)l >= sizeof(fbuf[0]) ? sizeof(fbuf[0]) - 1 : (size_t)l;           \
		n++;                                                                                                   \
	} while (0)
	FIELD("PRIORITY=%d", level);
	FIELD("SYSLOG_IDENTIFIER=%s", log_ident);
	if (tag)
		FIELD("ROLLOUT_TAG=%s", tag);
	if (f && f->deployment && *f->deployment)
		FIELD("ROLLOUT_DEPLOYMENT_ID=%s", f->deployment);
	if (f && f->instance && *f->instance)
		FIELD("ROLLOUT_INSTANCE=%s", f->instance);
	if (f && f->event && *f->event)
		FIELD("ROLLOUT_EVENT=%s", f->event);
#undef FIELD
	for (size_t i = 0; f && f->extra && f->extra[i] && i < RD_LOG_MAX_EXTRA; i++) {
		iov[n].iov_base = (void *)f->extra[i];
		iov[n++].iov_len = strlen(f->extra[i]);
	}
	sd_journal_sendv(iov, n);
}

static void logv_fields(int level, const char *tag, const struct rd_log_fields *f, const char *fmt, va_list ap)
{
	char msg[4096];

	if (level > log_min)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_journal) {
		journal_send(level, tag, f, msg);
		return;
	}

	struct timeval tv;
	struct tm tm;
	char ts[32];
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s.%03ldZ %s[%d] %s %s%s%s%s\n", ts, (long)tv.tv_usec / 1000, log_ident, (int)getpid(),
		level_names[level & 7], tag ? "[" : "", tag ? tag : "", tag ? "] " : "", msg);
	funlockfile(stderr);
}

void rd_logv(int level, const char *tag, const char *fmt, va_list ap)
{
	logv_fields(level, tag, NULL, fmt, ap);
}

void rd_logf(int level, const char *tag, const struct rd_log_fields *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	logv_fields(level, tag, f, fmt, ap);
	va_end(ap);
}

void rd_logt(int level, const char *tag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rd_logv(level, tag, fmt, ap);
	va_end(ap);
}
