/* Logging for the programs (not for lib/ code, which returns errors instead).
 *
 * Lines go to the systemd journal when the process was started by systemd
 * with its stderr connected to the journal (JOURNAL_STREAM), else to stderr
 * as "2026-11-23T02:00:00.123Z rolloutd[pid] LEVEL [tag] message".
 * Thread-safe. */
#pragma once

#include <stdarg.h>
#include <syslog.h>

void rd_log_init(const char *ident, int min_level);
void rd_log_set_level(int min_level);
int rd_log_level(void);
/* Parses "debug", "info", "notice", "warning", "error"; -1 when unknown. */
int rd_log_level_parse(const char *s);

void rd_logv(int level, const char *tag, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
void rd_logt(int level, const char *tag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

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
