/* Runs one hook script without a shell: execve of the script itself in a new
 * session, optionally as another user (setgid/initgroups/setuid), stdin
 * /dev/null, stdout/stderr captured line by line.
 *
 * Timeout: SIGTERM to the script's whole tree, a grace period, then SIGKILL.
 * The tree is the script's process group plus every descendant, including
 * those that called setsid or double-forked: the agent is a child subreaper
 * (runner_init), so orphans of the hook are re-parented to it and found by
 * walking /proc. Processes that were already children of the agent before
 * the hook started (daemons started by earlier hooks) are left alone.
 *
 * A script that exits while a background child still holds stdout/stderr
 * open does not hang the event: output is read for up to 2 s more, then the
 * pipes are closed and the script's own exit status counts. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

enum run_status {
	RUN_EXITED = 0, /* code = exit status */
	RUN_SIGNALED,	/* code = signal number */
	RUN_TIMED_OUT,
	RUN_ABORTED,	  /* on_tick asked to stop; the tree was killed */
	RUN_SPAWN_FAILED, /* code = errno; stage says where */
};

struct run_result {
	enum run_status status;
	int code;
	const char *stage; /* RUN_SPAWN_FAILED: "exec", "chdir", "setuid", ... */
	bool outputs_left_open;
	unsigned killed; /* processes signalled at timeout/abort */
};

struct run_spec {
	const char *path; /* script to execve (argv[0] too) */
	const char *cwd;
	char *const *envp;
	bool switch_user; /* when true: user/uid/gid are used */
	const char *user;
	uid_t uid;
	gid_t gid;
	unsigned timeout_s;
	unsigned grace_s;
	/* stream: 1 stdout, 2 stderr; line without its '\n' (may be cut at 4096 bytes) */
	void (*on_line)(void *ud, int stream, const char *line, size_t len);
	/* called about every 250 ms while the script runs; < 0 aborts the script */
	int (*on_tick)(void *ud);
	void *ud;
};

/* Becomes a child subreaper (PR_SET_CHILD_SUBREAPER). 0 or -errno. */
int runner_init(void);
/* Runs the script; returns 0 with *ret filled, or -errno for agent-side
 * failures (pipe, fork). */
int runner_run(const struct run_spec *rs, struct run_result *ret);
/* Reaps exited orphans (no zombies while idle). */
void runner_reap(void);
