/* Logging for the programs (not for lib/ code, which returns errors instead).
 *
 * Lines go to the systemd journal when the process was started by systemd
 * with its stderr connected to the journal (JOURNAL_STREAM names stderr),
 * else to stderr as "2026-11-23T02:00:00.123Z rolloutd[pid] LEVEL [tag] message".
 * In the journal a line about a deployment carries it in fields of its own,
 * so that "journalctl ROLLOUT_DEPLOYMENT_ID=d-…" finds them:
 * ROLLOUT_DEPLOYMENT_ID, ROLLOUT_INSTANCE, ROLLOUT_EVENT (lifecycle event),
 * plus ROLLOUT_TAG (the part of the program). Thread-safe. */
#pragma once

#include <stdarg.h>
#include <syslog.h>

void rd_log_init(const char *ident, int min_level);
void rd_log_set_level(int min_level);
int rd_log_level(void);
/* Parses "debug", "info", "notice", "warning", "error"; -1 when unknown. */
int rd_log_level_parse(const char *s);

/* What a line is about; any member may be NULL. Borrowed for the call. */
struct rd_log_fields {
	const char *deployment; /* deployment id, d-XXXXXXXXX */
	const char *instance;	/* instance (target) id */
	const char *event;	/* lifecycle event name */
	/* more journal fields, "NAME=value", NULL-terminated (the audit
	 * trail's ROLLOUT_AUDIT_*); on stderr the message carries them */
	const char *const *extra;
};
#define RD_LOG_FIELDS(dep, inst, ev) (&(const struct rd_log_fields){(dep), (inst), (ev), NULL})

void rd_logv(int level, const char *tag, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
void rd_logt(int level, const char *tag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* rd_logt with the fields of what the line is about (f may be NULL). */
void rd_logf(int level, const char *tag, const struct rd_log_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define rd_log(level, ...) rd_logt((level), NULL, __VA_ARGS__)
#define log_error(...) rd_logt(LOG_ERR, NULL, __VA_ARGS__)
#define log_warning(...) rd_logt(LOG_WARNING, NULL, __VA_ARGS__)
#define log_notice(...) rd_logt(LOG_NOTICE, NULL, __VA_ARGS__)
#define log_info(...) rd_logt(LOG_INFO, NULL, __VA_ARGS__)
#ifdef NDEBUG_LOG
#define log_debug(...) ((void)0)
#else
#define log_debug(...)                                                                                                 \
	do {                                                                                                           \
		if (rd_log_level() >= LOG_DEBUG)                                                                       \
			rd_logt(LOG_DEBUG, NULL, __VA_ARGS__);                                                         \
	} while (0)
#endif
