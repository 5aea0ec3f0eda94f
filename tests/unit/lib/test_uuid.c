/* lib/uuid: the layout of a version-4 UUID, that two are not alike, also
 * across the batches of random bytes and in a forked child. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "uuid.h"

static void test_layout(void **state)
{
	char u[RD_UUID_LEN];

	(void)state;
	for (int n = 0; n < 200; n++) {
		assert_int_equal(rd_uuid4(u), 0);
		assert_int_equal(strlen(u), 36);
		for (int i = 0; i < 36; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				assert_int_equal(u[i], '-');
			else if (!strchr("0123456789abcdef", u[i]))
				fail_msg("%s: '%c' at %d is not lower-case hex", u, u[i], i);
		}
		assert_int_equal(u[14], '4');		/* version */
		assert_non_null(strchr("89ab", u[19])); /* variant */
	}
}

static void test_unique(void **state)
{
	char a[RD_UUID_LEN], b[RD_UUID_LEN];

	(void)state;
	assert_int_equal(rd_uuid4(a), 0);
	assert_int_equal(rd_uuid4(b), 0);
	assert_string_not_equal(a, b);
}

/* Three batches' worth: no identifier comes twice (a batch reused, or a
 * slot handed out twice, would repeat one). */
static void test_unique_across_batches(void **state)
{
	enum { N = 200 };
	static char u[N][RD_UUID_LEN];

	(void)state;
	for (int i = 0; i < N; i++) {
		assert_int_equal(rd_uuid4(u[i]), 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(u[i], u[j]);
	}
}

/* A child forked in the middle of a batch must not hand out the UUIDs its
 * parent hands out next. */
static void test_fork(void **state)
{
	char parent[RD_UUID_LEN], child[RD_UUID_LEN] = "";
	int fds[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(rd_uuid4(parent), 0); /* a batch is drawn */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char u[RD_UUID_LEN];
		close(fds[0]);
		_exit(rd_uuid4(u) == 0 && write(fds[1], u, sizeof(u)) == (ssize_t)sizeof(u) ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], child, sizeof(child)), sizeof(child));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(rd_uuid4(parent), 0);
	assert_string_not_equal(parent, child);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_unique),
	    cmocka_unit_test(test_unique_across_batches),
	    cmocka_unit_test(test_fork),
	};
	return cmocka_run_group_tests_name("uuid", tests, NULL, NULL);
}
