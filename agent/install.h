/* The Install lifecycle event, as the official agent runs it: replay the
 * previous cleanup file in reverse, plan the copies of `files`, check
 * file_exists_behavior, write <group>-install.json, copy while writing the
 * new cleanup file, then apply `permissions` (chmod, then chown). */
#pragma once

#include <stddef.h>

#include "appspec.h"

struct install_ctx {
	const char *archive_dir; /* the revision's deployment-archive */
	const struct appspec *spec;
	enum appspec_feb feb;	       /* resolved: appspec, then deployment override, then DISALLOW */
	const char *cleanup_path;      /* deployment-instructions/<group>-cleanup */
	const char *install_json_path; /* deployment-instructions/<group>-install.json */
	int (*tick)(void *ud);	       /* optional, called about once a second (heartbeats) */
	void *ud;
};

/* Removes what the cleanup file lists, newest first (an unterminated last
 * line is dropped), then deletes the file. Missing file: 0. */
int install_cleanup_replay(const char *cleanup_path, char *err, size_t errlen);

/* Runs the whole Install. -EINVAL/-EEXIST with err for user errors (DISALLOW
 * conflict, colliding sources, unknown owner, ...), other -errno for I/O. */
int install_run(const struct install_ctx *ctx, char *err, size_t errlen);
