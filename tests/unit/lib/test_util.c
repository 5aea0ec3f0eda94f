/* Writing a file whole or not at all (rd_write_file_atomic, with and without
 * fsync): the content and mode, an existing file replaced, no temporary file
 * left, and a directory that does not exist refused. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "util.h"

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void check_write(int (*write_file)(const char *, const void *, size_t, unsigned))
{
	char *dir = tu_mkdtemp(), path[4200], missing[4200], *buf = NULL;
	struct stat st;
	size_t len;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(write_file(path, "first", 5, 0600), 0);
	assert_int_equal(write_file(path, "second\n", 7, 0644), 0);
	assert_int_equal(rd_read_file(path, 100, &buf, &len), 0);
	assert_int_equal(len, 7);
	assert_string_equal(buf, "second\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(entries(dir), 1); /* no temporary file left */
	snprintf(missing, sizeof(missing), "%s/no/f", dir);
	assert_int_equal(write_file(missing, "x", 1, 0644), -ENOENT);
	assert_int_equal(entries(dir), 1);
	free(buf);
	tu_rm_rf(dir);
}

static void test_write_file_atomic(void **state)
{
	(void)state;
	check_write(rd_write_file_atomic);
}

static void test_write_file_atomic_nosync(void **state)
{
	(void)state;
	check_write(rd_write_file_atomic_nosync);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_file_atomic),
	    cmocka_unit_test(test_write_file_atomic_nosync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
