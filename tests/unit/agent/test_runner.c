/* Hook runner: exit codes, output capture, timeouts with escaped setsid and
 * TERM-ignoring children, a background child holding stdout, environment,
 * runas, spawn errors, abort. Also the diagnostics tail rule. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/runner.h"
#include "util.h"

static char dir[256];
static char out[65536];
static size_t outlen;

static void on_line(void *ud, int stream, const char *line, size_t len)
{
	outlen += (size_t)snprintf(out + outlen, sizeof(out) - outlen, "%d:%.*s\n", stream, (int)len, line);
}

static const char *script(const char *name, const char *body, int mode)
{
	static char path[512];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static char *envp_default[] = {"PATH=/usr/bin:/bin", "FOO=bar", NULL};

static struct run_result run(const char *path, unsigned timeout, int (*tick)(void *))
{
	struct run_spec rs = {.path = path,
			      .cwd = "/",
			      .envp = envp_default,
			      .timeout_s = timeout,
			      .grace_s = 1,
			      .on_line = on_line,
			      .on_tick = tick};
	struct run_result res;
	outlen = 0;
	out[0] = 0;
	assert_int_equal(runner_run(&rs, &res), 0);
	return res;
}

static bool alive(pid_t p)
{
	runner_reap();
	return kill(p, 0) == 0;
}

static pid_t read_pid(const char *name)
{
	char path[512], *buf = NULL;
	size_t len;
	pid_t p;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (int i = 0; i < 50 && rd_read_file(path, 100, &buf, &len) < 0; i++)
		usleep(20000);
	assert_non_null(buf);
	p = (pid_t)atoi(buf);
	free(buf);
	return p;
}

static int setup(void **state)
{
	strcpy(dir, "/tmp/rollout-runner-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	chmod(dir, 0755);
	return runner_init() == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void test_exit_codes_and_output(void **state)
{
	struct run_result r =
	    run(script("a.sh", "#!/bin/sh\necho out1\necho err1 >&2\nprintf 'partial'\nexit 3\n", 0755), 10, NULL);
	assert_int_equal(r.status, RUN_EXITED);
	assert_int_equal(r.code, 3);
	assert_non_null(strstr(out, "1:out1\n"));
	assert_non_null(strstr(out, "2:err1\n"));
	assert_non_null(strstr(out, "1:partial\n"));
	r = run(script("ok.sh", "#!/bin/sh\nexit 0\n", 0755), 10, NULL);
	assert_int_equal(r.status, RUN_EXITED);
	assert_int_equal(r.code, 0);
	r = run(script("sig.sh", "#!/bin/sh\nkill -USR1 $$\nsleep 5\n", 0755), 10, NULL);
	assert_int_equal(r.status, RUN_SIGNALED);
	assert_int_equal(r.code, SIGUSR1);
}

static void test_env_and_cwd(void **state)
{
	struct run_result r = run(script("env.sh", "#!/bin/sh\nenv | sort\npwd\n", 0755), 10, NULL);
	assert_int_equal(r.status, RUN_EXITED);
	assert_non_null(strstr(out, "1:FOO=bar\n"));
	assert_non_null(strstr(out, "1:PATH=/usr/bin:/bin\n"));
	assert_null(strstr(out, "HOME="));
	assert_non_null(strstr(out, "1:/\n"));
}

static void test_timeout_kills_tree(void **state)
{
	/* a setsid escapee and a TERM-ignoring child */
	char body[1024];
	int64_t t0 = rd_mono_ms();
	pid_t esc, stubborn;
	snprintf(body, sizeof(body),
		 "#!/bin/sh\n"
		 "setsid sh -c 'echo $$ > %s/esc.pid; exec sleep 100' &\n"
		 "sh -c 'trap \"\" TERM; echo $$ > %s/stubborn.pid; while :; do sleep 1; done' &\n"
		 "echo started\n"
		 "sleep 100\n",
		 dir, dir);
	struct run_result r = run(script("t.sh", body, 0755), 1, NULL);
	int64_t took = rd_mono_ms() - t0;
	esc = read_pid("esc.pid");
	stubborn = read_pid("stubborn.pid");
	assert_int_equal(r.status, RUN_TIMED_OUT);
	assert_true(took >= 1000 && took < 6000);
	assert_true(r.killed >= 3);
	assert_non_null(strstr(out, "1:started"));
	assert_false(alive(esc));
	assert_false(alive(stubborn));
}

static void test_background_holds_stdout(void **state)
{
	char body[512];
	int64_t t0 = rd_mono_ms();
	snprintf(body, sizeof(body), "#!/bin/sh\nsleep 30 &\necho $! > %s/bg.pid\necho done\nexit 0\n", dir);
	struct run_result r = run(script("bg.sh", body, 0755), 20, NULL);
	int64_t took = rd_mono_ms() - t0;
	pid_t bg = read_pid("bg.pid");
	assert_int_equal(r.status, RUN_EXITED);
	assert_int_equal(r.code, 0);
	assert_true(r.outputs_left_open);
	assert_true(took < 5000);
	assert_non_null(strstr(out, "1:done"));
	/* a successful script's background process is left running */
	assert_true(alive(bg));
	kill(bg, SIGKILL);
	usleep(100000);
	assert_false(alive(bg));
}

static void test_spawn_errors(void **state)
{
	struct run_result r = run(script("noshebang.sh", "echo hi\n", 0755), 10, NULL);
	assert_int_equal(r.status, RUN_SPAWN_FAILED);
	assert_int_equal(r.code, ENOEXEC);
	assert_string_equal(r.stage, "exec");
	r = run("/nonexistent/x.sh", 10, NULL);
	assert_int_equal(r.status, RUN_SPAWN_FAILED);
	assert_int_equal(r.code, ENOENT);
}

static int ticks;
static int abort_tick(void *ud)
{
	return ++ticks > 2 ? -1 : 0;
}

static void test_abort(void **state)
{
	ticks = 0;
	struct run_result r = run(script("long.sh", "#!/bin/sh\nsleep 100\n", 0755), 100, abort_tick);
	assert_int_equal(r.status, RUN_ABORTED);
}

static void test_runas(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	struct run_spec rs = {.cwd = "/", .envp = envp_default, .timeout_s = 10, .grace_s = 1, .on_line = on_line};
	struct run_result res;
	if (geteuid() != 0 || !pw) {
		skip();
		return;
	}
	rs.path = script("id.sh", "#!/bin/sh\nid -u\nid -g\n", 0755);
	rs.switch_user = true;
	rs.user = "nobody";
	rs.uid = pw->pw_uid;
	rs.gid = pw->pw_gid;
	outlen = 0;
	assert_int_equal(runner_run(&rs, &res), 0);
	assert_int_equal(res.status, RUN_EXITED);
	char want[64];
	snprintf(want, sizeof(want), "1:%u\n1:%u\n", (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	assert_string_equal(out, want);
}

static void test_tail(void **state)
{
	struct tail t;
	char line[64], rendered[2048];

	/* host-agent.md §4.8: 100 lines of 52 characters keep 39 lines (2028) */
	tail_reset(&t);
	memset(line, 'x', 43);
	for (int i = 0; i < 100; i++)
		tail_add_line(&t, "[stdout]", line, 43);
	tail_render(&t, rendered, sizeof(rendered));
	assert_int_equal(strlen(rendered), 2028);
	assert_memory_equal(rendered, "[stdout]xxx", 11);

	/* a last line longer than the limit is cut, not dropped */
	char big[5000];
	memset(big, 'y', sizeof(big));
	tail_add_line(&t, "[stderr]", big, sizeof(big));
	tail_render(&t, rendered, sizeof(rendered));
	assert_int_equal(strlen(rendered), 2047);
	assert_int_equal(rendered[2046], '\n');
	assert_int_equal(rendered[0], 'y');

	tail_reset(&t);
	tail_add_line(&t, "[stdout]", "short", 5);
	tail_render(&t, rendered, sizeof(rendered));
	assert_string_equal(rendered, "[stdout]short\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_codes_and_output),
	    cmocka_unit_test(test_env_and_cwd),
	    cmocka_unit_test(test_timeout_kills_tree),
	    cmocka_unit_test(test_background_holds_stdout),
	    cmocka_unit_test(test_spawn_errors),
	    cmocka_unit_test(test_abort),
	    cmocka_unit_test(test_runas),
	    cmocka_unit_test(test_tail),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
