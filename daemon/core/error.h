/* The daemon's one error shape, passed by pointer from the part that finds a
 * problem to the part that reports it: a stable code and a one-line message
 * for a person (what was wrong, how to fix it).
 *
 * The code is a CodeDeploy name wherever the error reaches a user: an
 * exception name for the API ("DeploymentGroupDoesNotExistException"), a
 * deployment error code for the engine ("HEALTH_CONSTRAINTS"), an agent or
 * plugin code as reported. Functions return 0 or a negative errno and fill
 * the error on failure only; rd_error_set() returns its `r` so a failure is
 * one line: `return rd_error_set(err, -EINVAL, "InvalidInputException", …);`.
 * A NULL error is allowed where the caller does not want the details. */
#pragma once

#include <stdarg.h>
#include <stdio.h>

#include <rollout/plugin.h>

struct rd_error {
	char code[64];
	char message[1024];
};

#define RD_ERROR_INIT                                                                                                  \
	{                                                                                                              \
		{0},                                                                                                   \
		{                                                                                                      \
			0                                                                                              \
		}                                                                                                      \
	}

static inline int rd_error_setv(struct rd_error *e, int r, const char *code, const char *fmt, va_list ap)
{
	if (e) {
		snprintf(e->code, sizeof(e->code), "%s", code ? code : "");
		vsnprintf(e->message, sizeof(e->message), fmt, ap);
	}
	return r;
}

__attribute__((format(printf, 4, 5))) static inline int rd_error_set(struct rd_error *e, int r, const char *code,
								     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rd_error_setv(e, r, code, fmt, ap);
	va_end(ap);
	return r;
}

/* Takes over what a plugin reported (its code, or `fallback_code` when it set none). */
static inline int rd_error_from_plugin(struct rd_error *e, int r, const struct rollout_error *pe,
				       const char *fallback_code)
{
	return rd_error_set(e, r, pe->code[0] ? pe->code : fallback_code, "%s",
			    pe->message[0] ? pe->message : "the plugin failed without saying why");
}

static inline void rd_error_clear(struct rd_error *e)
{
	if (e) {
		e->code[0] = 0;
		e->message[0] = 0;
	}
}
