/* The rollout-agent-extract helper process, which unpacks one bundle.
 *
 * libarchive lives only in the helper, so a fault in an archive decoder
 * cannot take the agent down and the idle agent stays small. The price is
 * the helper's start (exec and dynamic linking: a few milliseconds, more
 * than unpacking a small bundle). So a helper is started ahead of need
 * ("standby"): it loads its libraries and then blocks reading the bundle
 * and destination paths from its stdin while the agent does something else.
 * The agent starts one when ApplicationStop arrives (DownloadBundle comes
 * right after it) and, while deployments follow each other, a fresh one as
 * soon as a helper has been handed its bundle; it ends the standby when it
 * goes idle. Each helper still unpacks one bundle and exits.
 *
 * Protocol (extract_main.c): started as `rollout-agent-extract -`, it reads
 * BUNDLE '\0' DEST '\0' from stdin (EOF first: it exits 0 having done
 * nothing); then, as when started as `rollout-agent-extract BUNDLE DEST`, a
 * 0x01 byte on stdout about once a second while it works, the error message
 * on stdout and exit 1 on failure, exit 0 on success. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct extractor {
	pid_t pid; /* 0: none */
	int in;	   /* its stdin (write end) */
	int out;   /* its stdout and stderr (read end) */
};

#define EXTRACTOR_NONE ((struct extractor){.pid = 0, .in = -1, .out = -1})

/* Starts the helper at path, waiting for its paths on stdin. 0 or -errno. */
int extractor_start(struct extractor *x, const char *path);

static inline bool extractor_started(const struct extractor *x)
{
	return x->pid > 0;
}

/* Has x (started, or started now when it is not) unpack bundle into dest,
 * calling tick about once a second (< 0 from tick kills the helper: -EINTR).
 * 0, or -errno with err. A standby that died before it was given its paths
 * is replaced by a new helper. Afterwards x is none, or with restock a fresh
 * standby for the next bundle, started as soon as this helper had its paths
 * (it loads its libraries while this one unpacks; none when it cannot be
 * started: the next run starts one itself). */
int extractor_run(struct extractor *x, const char *path, const char *bundle, const char *dest, bool restock,
		  int (*tick)(void *ud), void *ud, char *err, size_t errlen);

/* Ends an unused helper (it has unpacked nothing) and reaps it. */
void extractor_discard(struct extractor *x);
