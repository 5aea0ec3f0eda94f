/* cli/pack: a directory with an appspec packed as a zip or a gzip'd tar. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"

/* ---- pack ---- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void check_archive(const void *buf, size_t len, bool want_exec)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	bool saw_appspec = false, saw_script = false, saw_git = false;

	archive_read_support_format_all(a);
	archive_read_support_filter_all(a);
	assert_int_equal(archive_read_open_memory(a, buf, len), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(e);
		if (strcmp(p, "appspec.yml") == 0) {
			char data[64] = "";
			saw_appspec = true;
			archive_read_data(a, data, sizeof(data) - 1);
			assert_string_equal(data, "version: 0.0\nos: linux\n");
		}
		if (strcmp(p, "scripts/start.sh") == 0) {
			saw_script = true;
			if (want_exec)
				assert_true(archive_entry_perm(e) & 0100);
		}
		if (strncmp(p, ".git", 4) == 0)
			saw_git = true;
		assert_true(p[0] != '/');
	}
	archive_read_free(a);
	assert_true(saw_appspec);
	assert_true(saw_script);
	assert_false(saw_git);
}

static void test_pack(void **state)
{
	char dir[] = "/tmp/test_cli_packXXXXXX", p[512], err[512] = "";
	void *buf = NULL;
	size_t len = 0;

	assert_non_null(mkdtemp(dir));
	/* no appspec: refused with a message */
	assert_int_equal(pack_directory(dir, "zip", &buf, &len, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "appspec.yml"));

	snprintf(p, sizeof(p), "%s/appspec.yml", dir);
	write_file(p, "version: 0.0\nos: linux\n", 0644);
	snprintf(p, sizeof(p), "%s/scripts", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/scripts/start.sh", dir);
	write_file(p, "#!/bin/sh\necho hi\n", 0755);
	snprintf(p, sizeof(p), "%s/.git", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/.git/HEAD", dir);
	write_file(p, "ref\n", 0644);

	assert_int_equal(pack_directory(dir, "zip", &buf, &len, err, sizeof(err)), 0);
	assert_true(len > 22);
	assert_memory_equal(buf, "PK", 2);
	check_archive(buf, len, true);
	free(buf);
	assert_int_equal(pack_directory(dir, "tgz", &buf, &len, err, sizeof(err)), 0);
	assert_memory_equal(buf, "\x1f\x8b", 2);
	check_archive(buf, len, true);
	free(buf);
	assert_int_equal(pack_directory(dir, "rar", &buf, &len, err, sizeof(err)), -EINVAL);

	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	assert_int_equal(system(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
