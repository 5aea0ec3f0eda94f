/* Install: cleanup replay, file_exists_behavior, collisions, permissions. */
#include "config.h"

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

#include "agent/install.h"
#include "appspec.h"
#include "util.h"

static char dir[256], archive[300], dest[300], cleanup[300], ijson[300];

static void put(const char *path, const char *content, int mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	chmod(path, mode);
}

static char *get(const char *path)
{
	static char buf[4096];
	char *b = NULL;
	size_t len;
	if (rd_read_file(path, sizeof(buf) - 1, &b, &len) < 0)
		return NULL;
	memcpy(buf, b, len + 1);
	free(b);
	return buf;
}

static int setup(void **state)
{
	char p[400];
	strcpy(dir, "/tmp/rollout-install-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(archive, sizeof(archive), "%s/archive", dir);
	snprintf(dest, sizeof(dest), "%s/dest/app", dir);
	snprintf(cleanup, sizeof(cleanup), "%s/g-cleanup", dir);
	snprintf(ijson, sizeof(ijson), "%s/g-install.json", dir);
	mkdir(archive, 0755);
	snprintf(p, sizeof(p), "%s/sub", archive);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/a.txt", archive);
	put(p, "A1", 0644);
	snprintf(p, sizeof(p), "%s/run.sh", archive);
	put(p, "#!/bin/sh\n", 0755);
	snprintf(p, sizeof(p), "%s/sub/b.txt", archive);
	put(p, "B1", 0644);
	snprintf(p, sizeof(p), "%s/link", archive);
	symlink("a.txt", p);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static struct appspec *spec_for(const char *extra)
{
	char text[2048], err[512];
	struct appspec *a = NULL;
	snprintf(text, sizeof(text), "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: %s\n%s", dest,
		 extra);
	if (appspec_parse(text, strlen(text), "appspec.yml", &a, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return a;
}

static int install(struct appspec *a, enum appspec_feb feb, char *err, size_t errlen)
{
	struct install_ctx ctx = {
	    .archive_dir = archive, .spec = a, .feb = feb, .cleanup_path = cleanup, .install_json_path = ijson};
	return install_run(&ctx, err, errlen);
}

static void test_install_and_feb(void **state)
{
	char err[1024] = "", p[400], foreign[400];
	struct appspec *a = spec_for("");
	struct stat st;

	/* first install: everything is new */
	if (install(a, APPSPEC_FEB_DISALLOW, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	snprintf(p, sizeof(p), "%s/sub/b.txt", dest);
	assert_string_equal(get(p), "B1");
	snprintf(p, sizeof(p), "%s/run.sh", dest);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	snprintf(p, sizeof(p), "%s/link", dest);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_non_null(strstr(get(cleanup), "/dest/app/sub/b.txt\n"));
	assert_non_null(strstr(get(cleanup), "/dest\n")); /* created ancestors are recorded */
	assert_non_null(strstr(get(ijson), "\"type\": \"copy\""));

	/* the same revision again under DISALLOW: our own files do not count as existing */
	if (install(a, APPSPEC_FEB_DISALLOW, err, sizeof(err)) < 0)
		fail_msg("%s", err);

	/* a file the agent did not install is in the way */
	snprintf(foreign, sizeof(foreign), "%s/sub/c.txt", archive);
	put(foreign, "NEW", 0644);
	snprintf(foreign, sizeof(foreign), "%s/sub/c.txt", dest);
	assert_int_equal(install_cleanup_replay(cleanup, err, sizeof(err)), 0);
	assert_int_equal(access(dest, F_OK), -1); /* replay removed files and the now-empty dirs */
	rd_mkdir_p(dest, 0755);
	snprintf(p, sizeof(p), "%s/sub", dest);
	mkdir(p, 0755);
	put(foreign, "OLD", 0644);
	assert_int_equal(install(a, APPSPEC_FEB_DISALLOW, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "a specified file already exists at this location"));
	assert_non_null(strstr(err, "sub/c.txt"));
	assert_string_equal(get(foreign), "OLD");

	assert_int_equal(install(a, APPSPEC_FEB_RETAIN, err, sizeof(err)), 0);
	assert_string_equal(get(foreign), "OLD");
	assert_null(strstr(get(cleanup), "sub/c.txt")); /* retained: not ours to remove */

	assert_int_equal(install(a, APPSPEC_FEB_OVERWRITE, err, sizeof(err)), 0);
	assert_string_equal(get(foreign), "NEW");
	assert_non_null(strstr(get(cleanup), "sub/c.txt")); /* overwritten: now ours */
	appspec_free(a);

	/* precedence is the caller's: the appspec value parses through */
	a = spec_for("file_exists_behavior: RETAIN\n");
	assert_int_equal(a->file_exists_behavior, APPSPEC_FEB_RETAIN);
	appspec_free(a);
}

static void test_collisions(void **state)
{
	char text[1024], err[512] = "";
	struct appspec *a = NULL;
	snprintf(text, sizeof(text),
		 "version: 0.0\nos: linux\nfiles:\n  - source: a.txt\n    destination: %s\n  - source: sub/../a.txt\n"
		 "    destination: %s\n",
		 dest, dest);
	/* '..' is refused by the parser already */
	assert_int_equal(appspec_parse(text, strlen(text), "x", &a, err, sizeof(err)), -EINVAL);
	snprintf(text, sizeof(text),
		 "version: 0.0\nos: linux\nfiles:\n  - source: a.txt\n    destination: %s\n  - source: /a.txt\n"
		 "    destination: %s\n",
		 dest, dest);
	assert_int_equal(appspec_parse(text, strlen(text), "x", &a, err, sizeof(err)), 0);
	assert_int_equal(install(a, APPSPEC_FEB_OVERWRITE, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "two sources are copied to"));
	appspec_free(a);
}

static void test_permissions(void **state)
{
	char err[1024] = "", p[400], extra[1024];
	struct stat st;
	struct appspec *a;

	snprintf(extra, sizeof(extra),
		 "permissions:\n  - object: %s\n    pattern: \"*.txt\"\n    mode: 0640\n    type: [file]\n"
		 "  - object: %s/sub\n    mode: 600\n    except: [nothing]\n",
		 dest, dest);
	a = spec_for(extra);
	if (install(a, APPSPEC_FEB_OVERWRITE, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	snprintf(p, sizeof(p), "%s/a.txt", dest);
	stat(p, &st);
	assert_int_equal(st.st_mode & 0777, 0640); /* read as octal 0640, not decimal */
	snprintf(p, sizeof(p), "%s/run.sh", dest);
	stat(p, &st);
	assert_int_equal(st.st_mode & 0777, 0755); /* pattern does not match */
	snprintf(p, sizeof(p), "%s/sub/b.txt", dest);
	stat(p, &st);
	assert_int_equal(st.st_mode & 0777, 0600); /* second entry; first matches direct children only */
	assert_non_null(strstr(get(ijson), "\"chmod\""));
	appspec_free(a);

	/* overlapping entries are an error */
	snprintf(extra, sizeof(extra),
		 "permissions:\n  - object: %s\n    mode: 644\n  - object: %s/sub\n    mode: 600\n", dest, dest);
	a = spec_for(extra);
	assert_int_equal(install(a, APPSPEC_FEB_OVERWRITE, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "both apply to"));
	appspec_free(a);

	snprintf(extra, sizeof(extra), "permissions:\n  - object: %s\n    owner: no-such-user-xyz\n", dest);
	a = spec_for(extra);
	assert_int_equal(install(a, APPSPEC_FEB_OVERWRITE, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "there is no user 'no-such-user-xyz'"));
	appspec_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_install_and_feb, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_collisions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
