/* The extraction helper: started ahead of need and given its paths later,
 * started on demand, restocked (a fresh standby started while one unpacks,
 * which unpacks the next bundle), a standby that died replaced, an unused one ending
 * having done nothing, and its failures said (a broken bundle, a missing
 * helper, an interruption). Runs the rollout-agent-extract just built. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/extractor.h"
#include "tmpdir.h"

struct fixture {
	char *dir;
	char bundle[4200]; /* a tgz holding appspec.yml and hooks/a.sh */
	char dest[4200];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char cmd[9000];

	f->dir = tu_mkdtemp();
	assert_non_null(f->dir);
	tu_write(f->dir, "appspec.yml", "version: 0.0\nos: linux\n");
	snprintf(cmd, sizeof(cmd),
		 "mkdir %s/hooks && echo 'exit 0' >%s/hooks/a.sh && tar -C %s -czf %s/b.tgz appspec.yml hooks", f->dir,
		 f->dir, f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(f->bundle, sizeof(f->bundle), "%s/b.tgz", f->dir);
	snprintf(f->dest, sizeof(f->dest), "%s/out", f->dir);
	signal(SIGPIPE, SIG_IGN); /* as rollout-agent does */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_rm_rf(f->dir); /* and frees it */
	free(f);
	return 0;
}

static void assert_unpacked(const struct fixture *f)
{
	char p[4400];
	struct stat st;

	snprintf(p, sizeof(p), "%s/hooks/a.sh", f->dest);
	assert_int_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/appspec.yml", f->dest);
	assert_int_equal(stat(p, &st), 0);
}

static void test_standby_unpacks_when_given_its_paths(void **state)
{
	struct fixture *f = *state;
	struct extractor x = EXTRACTOR_NONE;
	char err[512];

	assert_int_equal(extractor_start(&x, TEST_EXTRACT_HELPER), 0);
	assert_true(extractor_started(&x));
	usleep(50 * 1000); /* it has loaded its libraries and waits on stdin */
	assert_int_equal(waitpid(x.pid, NULL, WNOHANG), 0);
	assert_int_equal(
	    extractor_run(&x, TEST_EXTRACT_HELPER, f->bundle, f->dest, false, NULL, NULL, err, sizeof(err)), 0);
	assert_false(extractor_started(&x));
	assert_unpacked(f);
}

static void test_started_on_demand(void **state)
{
	struct fixture *f = *state;
	struct extractor x = EXTRACTOR_NONE;
	char err[512];

	assert_int_equal(
	    extractor_run(&x, TEST_EXTRACT_HELPER, f->bundle, f->dest, false, NULL, NULL, err, sizeof(err)), 0);
	assert_unpacked(f);
}

static void test_restocked_for_the_next_bundle(void **state)
{
	struct fixture *f = *state;
	struct extractor x = EXTRACTOR_NONE;
	char err[512], dest2[4400];
	pid_t first;

	assert_int_equal(extractor_start(&x, TEST_EXTRACT_HELPER), 0);
	first = x.pid;
	assert_int_equal(extractor_run(&x, TEST_EXTRACT_HELPER, f->bundle, f->dest, true, NULL, NULL, err, sizeof(err)),
			 0);
	assert_unpacked(f);
	/* the first one is reaped; a fresh one waits for its paths */
	assert_int_equal(waitpid(first, NULL, WNOHANG), -1);
	assert_true(extractor_started(&x));
	assert_int_not_equal(x.pid, first);
	usleep(50 * 1000);
	assert_int_equal(waitpid(x.pid, NULL, WNOHANG), 0);
	snprintf(dest2, sizeof(dest2), "%s/out2", f->dir);
	assert_int_equal(extractor_run(&x, TEST_EXTRACT_HELPER, f->bundle, dest2, false, NULL, NULL, err, sizeof(err)),
			 0);
	assert_false(extractor_started(&x));
	snprintf(dest2, sizeof(dest2), "%s/out2/hooks/a.sh", f->dir);
	assert_int_equal(access(dest2, F_OK), 0);
	/* a failed unpacking restocks too: the standby is for the next bundle */
	snprintf(dest2, sizeof(dest2), "%s/appspec.yml", f->dir);
	assert_int_equal(extractor_run(&x, TEST_EXTRACT_HELPER, dest2, f->dest, true, NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_true(extractor_started(&x));
	extractor_discard(&x);
}

static void test_dead_standby_replaced(void **state)
{
	struct fixture *f = *state;
	struct extractor x = EXTRACTOR_NONE;
	char err[512];

	assert_int_equal(extractor_start(&x, TEST_EXTRACT_HELPER), 0);
	/* killed and reaped meanwhile, as the agent reaps exited children */
	kill(x.pid, SIGKILL);
	assert_int_equal(waitpid(x.pid, NULL, 0), x.pid);
	assert_int_equal(
	    extractor_run(&x, TEST_EXTRACT_HELPER, f->bundle, f->dest, false, NULL, NULL, err, sizeof(err)), 0);
	assert_unpacked(f);
}

static void test_discarded_standby_ends_having_done_nothing(void **state)
{
	struct fixture *f = *state;
	struct extractor x = EXTRACTOR_NONE;
	int st = -1;
	pid_t pid;

	assert_int_equal(extractor_start(&x, TEST_EXTRACT_HELPER), 0);
	pid = x.pid;
	extractor_discard(&x);
	assert_false(extractor_started(&x));
	assert_int_equal(x.in, -1);
	assert_int_equal(x.out, -1);
	/* reaped by the discard: no zombie left */
	assert_int_equal(waitpid(pid, &st, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_int_equal(access(f->dest, F_OK), -1);
	extractor_discard(&x); /* none: nothing happens */
}

static void test_broken_bundle_said(void **state)
{
	struct fixture *f = *state;
	struct extractor x = EXTRACTOR_NONE;
	char err[512], p[4400];

	snprintf(p, sizeof(p), "%s/appspec.yml", f->dir); /* not an archive */
	assert_int_equal(extractor_start(&x, TEST_EXTRACT_HELPER), 0);
	assert_int_equal(extractor_run(&x, TEST_EXTRACT_HELPER, p, f->dest, false, NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_true(err[0] != '\0');
	assert_null(strstr(err, "ended with status"));
	assert_false(extractor_started(&x));
}

static void test_missing_helper_said(void **state)
{
	struct fixture *f = *state;
	struct extractor x = EXTRACTOR_NONE;
	char err[512];

	assert_int_equal(extractor_run(&x, "/nonexistent/rollout-agent-extract", f->bundle, f->dest, false, NULL, NULL,
				       err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "cannot run /nonexistent/rollout-agent-extract: No such file or directory");
	assert_int_equal(extractor_start(&x, "/nonexistent/rollout-agent-extract"), -ENOENT);
	assert_false(extractor_started(&x));
}

static int stop_now(void *ud)
{
	(void)ud;
	return -1;
}

static void test_interrupted(void **state)
{
	struct fixture *f = *state;
	struct extractor x = EXTRACTOR_NONE;
	char err[512];

	assert_int_equal(
	    extractor_run(&x, TEST_EXTRACT_HELPER, f->bundle, f->dest, false, stop_now, NULL, err, sizeof(err)),
	    -EINTR);
	assert_string_equal(err, "extraction interrupted");
	assert_false(extractor_started(&x));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_standby_unpacks_when_given_its_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_started_on_demand, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restocked_for_the_next_bundle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dead_standby_replaced, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discarded_standby_ends_having_done_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_bundle_said, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_helper_said, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interrupted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
