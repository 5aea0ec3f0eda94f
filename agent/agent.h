/* rollout-agent: shared state of the single agent process. */
#pragma once

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "client.h"
#include "extractor.h"
#include "settings.h"
#include "spec.h"

struct agent {
	struct agent_config *cfg;
	struct client *client;
	volatile sig_atomic_t stop; /* SIGTERM/SIGINT */
	char extract_helper[4096];  /* path of rollout-agent-extract */
	struct extractor standby;   /* waiting for the next DownloadBundle, or none */
};

/* Diagnostics of one command (the official Complete payload). */
struct cmd_outcome {
	bool failed;
	int error_code; /* 0..7: the EC_* below, as the official agent reports them */
	char script_name[512];
	char message[2048];
	char log[2048]; /* the tail */
};

enum {
	EC_SUCCEEDED = 0,
	EC_SCRIPT_MISSING = 1,
	EC_SCRIPT_NOT_EXECUTABLE = 2,
	EC_SCRIPT_TIMED_OUT = 3,
	EC_SCRIPT_FAILED = 4,
	EC_UNKNOWN = 5,
	EC_OUTPUTS_LEFT_OPEN = 6,
	EC_FAILED_AFTER_RESTART = 7,
};

/* Marks out failed with error code code and a message. */
static inline void cmd_fail(struct cmd_outcome *out, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void cmd_fail(struct cmd_outcome *out, int code, const char *fmt, ...)
{
	va_list ap;

	out->failed = true;
	out->error_code = code;
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
}

/* deploy.c */
bool deploy_command_supported(const char *command);
/* The ack-time noop flag: DownloadBundle and Install never are; a hook event
 * is a noop when the appspec that would run has no scripts for it. */
bool deploy_is_noop(struct agent *ag, const char *command, const struct deploy_spec *spec);
/* A command arrived (spec NULL: without a usable specification): at
 * ApplicationStop, which comes right before DownloadBundle in every
 * deployment, an extraction helper is started, unless one is waiting
 * already, so that it has loaded its libraries by the time the bundle is
 * there (extractor.h). */
void deploy_prepare(struct agent *ag, const char *command, const struct deploy_spec *spec);
/* No command for a while: the waiting extraction helper is ended. */
void deploy_idle(struct agent *ag);
/* Runs one command; fills *out. hcid is used for heartbeats and live output. */
void deploy_execute(struct agent *ag, const char *hcid, const char *command, const struct deploy_spec *spec,
		    struct cmd_outcome *out);

/* tail.c: the diagnostics log tail (newest whole lines < 2048 characters; a
 * longer last line is cut to its last 2047 characters, never dropped). */
struct tail {
	char buf[4096];
	size_t len;   /* bytes in buf (the newest ones) */
	bool dropped; /* older bytes were pushed out */
};
void tail_reset(struct tail *t);
void tail_add_line(struct tail *t, const char *prefix, const char *line, size_t len);
/* Writes the tail into out (outlen >= 2048). */
void tail_render(const struct tail *t, char *out, size_t outlen);
