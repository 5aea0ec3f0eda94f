#include "config.h"

#include <pthread.h>
#include <stdio.h>
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
	 * only log natively when stderr still is that stream. */
	const char *js = getenv("JOURNAL_STREAM");
	log_journal = 0;
	if (js) {
		unsigned long dev, ino;
		if (sscanf(js, "%lu:%lu", &dev, &ino) == 2)
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

void rd_logv(int level, const char *tag, const char *fmt, va_list ap)
{
	char msg[4096];

	if (level > log_min)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_journal) {
		if (tag)
			sd_journal_send("MESSAGE=[%s] %s", tag, msg, "PRIORITY=%d", level, "SYSLOG_IDENTIFIER=%s",
					log_ident, "ROLLOUT_TAG=%s", tag, NULL);
		else
			sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level, "SYSLOG_IDENTIFIER=%s", log_ident,
					NULL);
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

void rd_logt(int level, const char *tag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rd_logv(level, tag, fmt, ap);
	va_end(ap);
}
