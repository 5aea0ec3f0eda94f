#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"
#include "util.h"

#define LINE_MAX_BYTES 4096
#define DRAIN_AFTER_EXIT_MS 2000

int runner_init(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

struct pidset {
	pid_t *v;
	size_t n, cap;
};

static int pidset_add(struct pidset *s, pid_t p)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 32;
		pid_t *nv = realloc(s->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n++] = p;
	return 0;
}

static bool pidset_has(const struct pidset *s, pid_t p)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == p)
			return true;
	return false;
}

/* All (pid, ppid) pairs from /proc. */
static int proc_table(struct pidset *pids, struct pidset *ppids)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[64], buf[512], *p;
		pid_t pid = (pid_t)atoi(de->d_name), ppid;
		int fd;
		ssize_t n;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
			continue;
		if (pidset_add(pids, pid) < 0 || pidset_add(ppids, ppid) < 0) {
			closedir(d);
			return -ENOMEM;
		}
	}
	closedir(d);
	return 0;
}

/* The children of this process from /proc/self/task/TID/children: a few
 * reads instead of one per process on the system. -ENOENT when the kernel
 * does not offer them (CONFIG_PROC_CHILDREN). */
static int task_children(struct pidset *out)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		char path[64], *buf = NULL, *p, *end;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%.20s/children", de->d_name);
		r = rd_read_file(path, 1 << 20, &buf, &len);
		for (p = buf; r == 0 && p && *p; p = end) {
			long v = strtol(p, &end, 10);
			if (end == p)
				break;
			if (v > 0 && pidset_add(out, (pid_t)v) < 0)
				r = -ENOMEM;
		}
		free(buf);
	}
	closedir(d);
	return r;
}

static void children_of_self(struct pidset *out)
{
	struct pidset pids = {0}, ppids = {0};
	pid_t self = getpid();

	if (task_children(out) == 0)
		return;
	out->n = 0;
	if (proc_table(&pids, &ppids) == 0)
		for (size_t i = 0; i < pids.n; i++)
			if (ppids.v[i] == self)
				pidset_add(out, pids.v[i]);
	free(pids.v);
	free(ppids.v);
}

/* Signals the hook's tree: descendants of the script, and children of the
 * agent that were not there before the hook (re-parented escapees), with
 * their descendants. Returns how many processes were signalled. */
static unsigned kill_tree(pid_t script, bool script_alive, const struct pidset *before, int sig)
{
	struct pidset pids = {0}, ppids = {0}, tree = {0};
	pid_t self = getpid();
	unsigned n = 0;
	bool grew = true;

	if (script_alive)
		kill(-script, sig); /* its process group (the script called no setsid: we did) */
	if (proc_table(&pids, &ppids) < 0)
		goto out;
	if (script_alive)
		pidset_add(&tree, script);
	for (size_t i = 0; i < pids.n; i++)
		if (ppids.v[i] == self && pids.v[i] != script && !pidset_has(before, pids.v[i]))
			pidset_add(&tree, pids.v[i]);
	while (grew) {
		grew = false;
		for (size_t i = 0; i < pids.n; i++)
			if (pidset_has(&tree, ppids.v[i]) && !pidset_has(&tree, pids.v[i])) {
				pidset_add(&tree, pids.v[i]);
				grew = true;
			}
	}
	for (size_t i = 0; i < tree.n; i++)
		if (kill(tree.v[i], sig) == 0)
			n++;
out:
	free(pids.v);
	free(ppids.v);
	free(tree.v);
	return n;
}

void runner_reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

struct stream {
	int fd;
	int id;
	char buf[LINE_MAX_BYTES];
	size_t len;
};

static void stream_read(struct stream *s, const struct run_spec *rs)
{
	char tmp[8192];
	ssize_t n = read(s->fd, tmp, sizeof(tmp));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (s->len && rs->on_line)
			rs->on_line(rs->ud, s->id, s->buf, s->len);
		s->len = 0;
		close(s->fd);
		s->fd = -1;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (tmp[i] == '\n') {
			if (rs->on_line)
				rs->on_line(rs->ud, s->id, s->buf, s->len);
			s->len = 0;
			continue;
		}
		if (s->len == sizeof(s->buf)) {
			if (rs->on_line)
				rs->on_line(rs->ud, s->id, s->buf, s->len);
			s->len = 0;
		}
		s->buf[s->len++] = tmp[i];
	}
}

static void stream_close(struct stream *s, const struct run_spec *rs)
{
	if (s->fd < 0)
		return;
	if (s->len && rs->on_line)
		rs->on_line(rs->ud, s->id, s->buf, s->len);
	s->len = 0;
	close(s->fd);
	s->fd = -1;
}

struct spawn_err {
	int stage;
	int err;
};

static const char *const stages[] = {"", "setgid", "initgroups", "setuid", "chdir", "exec", "stdio"};

static void __attribute__((noreturn)) child(const struct run_spec *rs, int out, int errfd, int status_fd)
{
	struct spawn_err se = {0};
	sigset_t none;
	int nul;
	char *argv[] = {(char *)rs->path, NULL};

	/* every signal is blocked (runner_run) until the agent's handlers are
	 * reset: none of them may run here */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	nul = open("/dev/null", O_RDONLY);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0) {
		se.stage = 6;
		goto fail;
	}
	if (rs->switch_user) {
		if (setgid(rs->gid) < 0) {
			se.stage = 1;
			goto fail;
		}
		if (initgroups(rs->user, rs->gid) < 0) {
			se.stage = 2;
			goto fail;
		}
		if (setuid(rs->uid) < 0) {
			se.stage = 3;
			goto fail;
		}
	}
	if (rs->cwd && chdir(rs->cwd) < 0) {
		se.stage = 4;
		goto fail;
	}
	execve(rs->path, argv, rs->envp);
	se.stage = 5;
fail:
	se.err = errno;
	if (write(status_fd, &se, sizeof(se)) < 0)
		_exit(126);
	_exit(127);
}

/* Starts child(); its pid or -errno. vfork: the child borrows the agent's
 * memory until it execs, so the agent's page tables are not copied for a
 * process that execs at once (a millisecond per hook on a virtual machine);
 * child() makes only system calls and never returns here. A user switch
 * takes fork: glibc's setgid, initgroups and setuid are not safe in a child
 * sharing the agent's memory. (A function of its own: nothing of
 * runner_run's frame lives across the vfork.) */
static pid_t __attribute__((noinline)) start_child(const struct run_spec *rs, int out, int errfd, int status_fd)
{
	sigset_t all, old;
	pid_t pid;
	int r;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = rs->switch_user ? fork() : vfork();
	if (pid == 0)
		child(rs, out, errfd, status_fd);
	r = pid < 0 ? -errno : pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

int runner_run(const struct run_spec *rs, struct run_result *ret)
{
	struct run_result res = {0};
	struct stream so = {.fd = -1, .id = 1}, se = {.fd = -1, .id = 2};
	struct pidset before = {0};
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, ps[2] = {-1, -1};
	int64_t start, deadline, kill_at = 0, exited_at = 0, last_tick;
	bool alive = true, killing = false, escalated = false;
	struct spawn_err spe;
	pid_t pid;
	int pidfd = -1;
	ssize_t n;
	int r = 0, wst = 0;

	children_of_self(&before);
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(ps, O_CLOEXEC) < 0) {
		r = -errno;
		goto out;
	}
	if ((pid = start_child(rs, po[1], pe[1], ps[1])) < 0) {
		r = pid;
		goto out;
	}
	close(po[1]);
	close(pe[1]);
	close(ps[1]);
	po[1] = pe[1] = ps[1] = -1;
	do
		n = read(ps[0], &spe, sizeof(spe));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(spe)) {
		waitpid(pid, NULL, 0);
		res.status = RUN_SPAWN_FAILED;
		res.code = spe.err;
		res.stage = stages[spe.stage < 7 ? spe.stage : 0];
		goto done;
	}
	so.fd = po[0];
	se.fd = pe[0];
	po[0] = pe[0] = -1;
	fcntl(so.fd, F_SETFL, O_NONBLOCK);
	fcntl(se.fd, F_SETFL, O_NONBLOCK);

	/* A pidfd turns readable when the hook exits, so the loop wakes at
	 * once instead of at its next tick when the pipes closed first. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	start = last_tick = rd_mono_ms();
	deadline = start + (int64_t)rs->timeout_s * 1000;
	for (;;) {
		struct pollfd pfd[3];
		int nfd = 0, timeout;
		int64_t now;
		pid_t w;

		while ((w = waitpid(-1, &wst, WNOHANG)) > 0)
			if (w == pid) {
				alive = false;
				exited_at = rd_mono_ms();
				if (!killing) {
					res.status = WIFEXITED(wst) ? RUN_EXITED : RUN_SIGNALED;
					res.code = WIFEXITED(wst) ? WEXITSTATUS(wst) : WTERMSIG(wst);
				}
			}
		now = rd_mono_ms();
		if (!alive && so.fd < 0 && se.fd < 0) {
			if (!killing)
				break;
			/* killing: wait until no process of the tree is left */
			if (kill_tree(pid, false, &before, 0) == 0 || now - kill_at > ((int64_t)rs->grace_s + 5) * 1000)
				break;
		}
		if (!alive && !killing && exited_at && now - exited_at > DRAIN_AFTER_EXIT_MS &&
		    (so.fd >= 0 || se.fd >= 0)) {
			res.outputs_left_open = true;
			stream_close(&so, rs);
			stream_close(&se, rs);
			continue;
		}
		if (!killing && alive && now >= deadline) {
			killing = true;
			kill_at = now;
			res.status = RUN_TIMED_OUT;
			res.killed += kill_tree(pid, alive, &before, SIGTERM);
		}
		if (killing && !escalated && now - kill_at >= (int64_t)rs->grace_s * 1000) {
			escalated = true;
			res.killed += kill_tree(pid, alive, &before, SIGKILL);
		}
		if (killing && escalated && now - kill_at >= (int64_t)rs->grace_s * 1000 + 1000) {
			/* SIGKILL again for anything forked meanwhile; stop reading pipes */
			kill_tree(pid, alive, &before, SIGKILL);
			stream_close(&so, rs);
			stream_close(&se, rs);
		}
		if (now - last_tick >= 250) {
			last_tick = now;
			if (!killing && rs->on_tick && rs->on_tick(rs->ud) < 0) {
				killing = true;
				kill_at = now;
				res.status = RUN_ABORTED;
				res.killed += kill_tree(pid, alive, &before, SIGTERM);
			}
		}
		if (so.fd >= 0) {
			pfd[nfd].fd = so.fd;
			pfd[nfd++].events = POLLIN;
		}
		if (se.fd >= 0) {
			pfd[nfd].fd = se.fd;
			pfd[nfd++].events = POLLIN;
		}
		if (alive && pidfd >= 0) {
			pfd[nfd].fd = pidfd;
			pfd[nfd++].events = POLLIN;
		}
		timeout = 100;
		if (poll(pfd, (nfds_t)nfd, timeout) > 0) {
			for (int i = 0; i < nfd; i++) {
				if (!pfd[i].revents || pfd[i].fd == pidfd)
					continue;
				stream_read(pfd[i].fd == so.fd ? &so : &se, rs);
			}
		}
	}
	if (alive)
		waitpid(pid, NULL, 0);
done:
	*ret = res;
out:
	stream_close(&so, rs);
	stream_close(&se, rs);
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
		if (ps[i] >= 0)
			close(ps[i]);
	}
	if (pidfd >= 0)
		close(pidfd);
	free(before.v);
	return r;
}
