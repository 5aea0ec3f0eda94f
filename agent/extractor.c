/* The rollout-agent-extract helper process: started for one unpacking, or
 * ahead of it (extractor.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "extractor.h"

extern char **environ;

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int extractor_start(struct extractor *x, const char *path)
{
	char *argv[] = {(char *)path, (char *)"-", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, pipe_sig;
	int in[2], out[2], r;
	pid_t pid;

	*x = EXTRACTOR_NONE;
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		r = -errno;
		close(in[0]);
		close(in[1]);
		return r;
	}
	/* posix_spawn, not fork: no copy of the agent's page tables for a
	 * process that execs at once (measurably cheaper on virtual machines) */
	sigemptyset(&none);
	sigemptyset(&pipe_sig);
	sigaddset(&pipe_sig, SIGPIPE); /* the agent ignores it; the helper must not */
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDERR_FILENO);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &pipe_sig);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	r = -posix_spawn(&pid, path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(in[0]);
	close(out[1]);
	if (r < 0) {
		close(in[1]);
		close(out[0]);
		return r;
	}
	*x = (struct extractor){.pid = pid, .in = in[1], .out = out[0]};
	return 0;
}

void extractor_discard(struct extractor *x)
{
	if (!extractor_started(x))
		return;
	/* EOF on its stdin: it exits having done nothing, at once or once it
	 * has loaded its libraries (a few milliseconds). Reaped here so that
	 * no zombie is left while the agent waits in a long poll; it may have
	 * died and been reaped already (ECHILD). */
	close_fd(&x->in);
	close_fd(&x->out);
	while (waitpid(x->pid, NULL, 0) < 0 && errno == EINTR)
		;
	*x = EXTRACTOR_NONE;
}

/* Hands x its two paths. -EPIPE when it has already exited. */
static int send_paths(struct extractor *x, const char *bundle, const char *dest)
{
	const char *parts[] = {bundle, dest};

	for (size_t i = 0; i < 2; i++) {
		/* with the NUL; the pipe is empty and its buffer holds both paths */
		const char *p = parts[i];
		size_t left = strlen(p) + 1;
		while (left > 0) {
			ssize_t n = write(x->in, p, left);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			p += n;
			left -= (size_t)n;
		}
	}
	close_fd(&x->in);
	return 0;
}

int extractor_run(struct extractor *x, const char *path, const char *bundle, const char *dest, bool restock,
		  int (*tick)(void *ud), void *ud, char *err, size_t errlen)
{
	struct extractor cur;
	size_t elen = 0;
	bool interrupted = false;
	int st = 0, r;

	err[0] = '\0';
	if (extractor_started(x) && send_paths(x, bundle, dest) < 0)
		extractor_discard(x); /* the standby is gone: start another */
	if (!extractor_started(x)) {
		if ((r = extractor_start(x, path)) < 0) {
			snprintf(err, errlen, "cannot run %s: %s", path, strerror(-r));
			return r;
		}
		if ((r = send_paths(x, bundle, dest)) < 0) {
			snprintf(err, errlen, "%s exited before it was given the bundle: %s", path, strerror(-r));
			extractor_discard(x);
			return r;
		}
	}
	cur = *x;
	*x = EXTRACTOR_NONE;
	if (restock && extractor_start(x, path) < 0)
		*x = EXTRACTOR_NONE;
	for (;;) {
		struct pollfd p = {.fd = cur.out, .events = POLLIN};
		char buf[512];
		ssize_t n;
		int pr = poll(&p, 1, 1000);
		if (pr < 0 && errno != EINTR)
			break;
		if (tick && tick(ud) < 0) {
			kill(cur.pid, SIGKILL);
			interrupted = true;
			break;
		}
		if (pr <= 0)
			continue;
		n = read(cur.out, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != '\1' && buf[i] != '\n' && elen + 1 < errlen) {
				err[elen++] = buf[i];
				err[elen] = '\0';
			}
	}
	close_fd(&cur.out);
	/* nothing else reaps it meanwhile: the agent does one thing at a time */
	while ((r = waitpid(cur.pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (interrupted) {
		snprintf(err, errlen, "extraction interrupted");
		return -EINTR;
	}
	if (r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (!err[0]) {
		if (r < 0)
			snprintf(err, errlen, "cannot learn how %s ended: %s", path, strerror(errno));
		else
			snprintf(err, errlen, "%s ended with status %d", path, st);
	}
	return -EINVAL;
}
