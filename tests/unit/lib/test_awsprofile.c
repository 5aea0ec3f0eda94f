/* lib/awsprofile: sections of both AWS shared files, comments, trimming, a
 * profile spread over two sections, the last value winning, and files. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "awsprofile.h"

static const char text[] = "[default]\naws_access_key_id = AKDEF\n\n[profile ops]\n# comment\nregion=eu-west-1\n"
			   "; another comment\n[ops]\naws_access_key_id=AKOPS\naws_secret_access_key = sec ret \n"
			   "[  profile   spaced  ]\nk = v\n[dup]\nk=first\nk=second\n";

static void expect(const char *profile, const char *key, const char *want)
{
	char *v = NULL;

	assert_int_equal(aws_profile_value(text, profile, key, &v), 0);
	assert_string_equal(v, want);
	free(v);
}

static void test_values(void **state)
{
	char *v = NULL;

	(void)state;
	expect("default", "aws_access_key_id", "AKDEF");
	expect("ops", "aws_access_key_id", "AKOPS");
	expect("ops", "region", "eu-west-1"); /* "[profile ops]" */
	expect("ops", "aws_secret_access_key", "sec ret");
	expect("spaced", "k", "v");
	expect("dup", "k", "second");
	assert_int_equal(aws_profile_value(text, "nope", "region", &v), -ENOENT);
	assert_int_equal(aws_profile_value(text, "default", "region", &v), -ENOENT);
	assert_int_equal(aws_profile_value(text, "profile ops", "region", &v), -ENOENT);
	assert_int_equal(aws_profile_value("", "default", "k", &v), -ENOENT);
	assert_null(v);
	/* a line that opens a section without closing it is skipped, as is a
	 * line without '=': the keys after it stay in the section before */
	assert_int_equal(aws_profile_value("[a]\nk=1\n[broken\nnoise\nk=2\n", "a", "k", &v), 0);
	assert_string_equal(v, "2");
	free(v);
}

static void test_exists(void **state)
{
	(void)state;
	assert_true(aws_profile_exists(text, "default"));
	assert_true(aws_profile_exists(text, "ops"));
	assert_true(aws_profile_exists(text, "spaced"));
	assert_false(aws_profile_exists(text, "nope"));
	assert_false(aws_profile_exists("[broken\n", "broken"));
	assert_true(aws_profile_exists("[empty]", "empty"));
}

static void test_file(void **state)
{
	char path[] = "/tmp/test_awsprofileXXXXXX";
	int fd = mkstemp(path);
	char *v = NULL;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(aws_profile_file_value(path, "ops", "region", &v), 0);
	assert_string_equal(v, "eu-west-1");
	free(v);
	v = NULL;
	assert_int_equal(aws_profile_file_value(path, "nope", "region", &v), -ENOENT);
	unlink(path);
	assert_int_equal(aws_profile_file_value(path, "ops", "region", &v), -ENOENT);
	assert_null(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_exists),
	    cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests_name("awsprofile", tests, NULL, NULL);
}
