/* Bundles held unpacked: what a deployment directory records, which one a
 * redeploy finds, the tree linked (the same files, nothing copied), and a
 * tree changed since it was unpacked, or lost, not reused. */
#include "config.h"

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

#include "agent/layout.h"
#include "agent/unpacked.h"
#include "tmpdir.h"
#include "util.h"

#define SHA1 "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA2 "2222222222222222222222222222222222222222222222222222222222222222"

static void mkd(const char *root, const char *rel)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(rd_mkdir_p(p, 0755), 0);
}

/* <root>/<group>/<dep>/deployment-archive with a few files, recorded as sha */
static void unpack(const char *root, const char *group, const char *dep, const char *sha)
{
	char d[4096], a[4200], p[4400];

	snprintf(d, sizeof(d), "%s/%s/%s", root, group, dep);
	snprintf(a, sizeof(a), "%s/deployment-archive", d);
	mkd(a, "scripts");
	tu_write(a, "appspec.yml", "version: 0.0\nos: linux\n");
	tu_write(a, "scripts/start.sh", "#!/bin/sh\necho %s\n", dep);
	snprintf(p, sizeof(p), "%s/scripts/start.sh", a);
	assert_int_equal(chmod(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/scripts/run", a);
	assert_int_equal(symlink("start.sh", p), 0);
	assert_int_equal(unpacked_record(d, sha), 0);
}

static ino_t inode(const char *dep_dir, const char *rel)
{
	char p[4400];
	struct stat st;

	snprintf(p, sizeof(p), "%s/deployment-archive/%s", dep_dir, rel);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_ino;
}

static void test_find_and_link(void **state)
{
	char *root = tu_mkdtemp();
	char d1[4096], d2[4096], d3[4096], from[4096], err[512], f1[65], f2[65], a[4200];

	snprintf(d1, sizeof(d1), "%s/g1/d-1", root);
	snprintf(d2, sizeof(d2), "%s/g1/d-2", root);
	snprintf(d3, sizeof(d3), "%s/g2/d-3", root);
	unpack(root, "g1", "d-1", SHA1);
	mkd(root, "deployment-instructions");
	mkd(root, "g1/d-2");

	/* a bundle held nowhere, and the directory itself, are not found */
	assert_int_equal(unpacked_find(root, d2, SHA2, from, sizeof(from)), -ENOENT);
	assert_int_equal(unpacked_find(root, d1, SHA1, from, sizeof(from)), -ENOENT);
	assert_int_equal(unpacked_find(root, d2, SHA1, from, sizeof(from)), 0);
	assert_string_equal(from, d1);

	/* linked: the same files, and recorded for the new directory */
	assert_int_equal(unpacked_link(from, d2, err, sizeof(err)), 0);
	assert_int_equal(inode(d2, "appspec.yml"), inode(d1, "appspec.yml"));
	assert_int_equal(inode(d2, "scripts/start.sh"), inode(d1, "scripts/start.sh"));
	assert_int_equal(inode(d2, "scripts/run"), inode(d1, "scripts/run"));
	snprintf(a, sizeof(a), "%s/deployment-archive", d1);
	assert_int_equal(unpacked_fingerprint(a, f1), 0);
	snprintf(a, sizeof(a), "%s/deployment-archive", d2);
	assert_int_equal(unpacked_fingerprint(a, f2), 0);
	assert_string_equal(f1, f2);
	/* another group's copy is found too */
	mkd(root, "g2/d-3");
	assert_int_equal(unpacked_find(root, d3, SHA1, from, sizeof(from)), 0);

	/* a hook changed a file of the tree: not reused, nothing left behind */
	snprintf(a, sizeof(a), "%s/deployment-archive", d2);
	tu_write(a, "appspec.yml", "version: 0.0\nos: linux\n# changed\n");
	assert_int_equal(unpacked_link(d1, d3, err, sizeof(err)), -ESTALE);
	assert_non_null(strstr(err, "changed since it was unpacked"));
	snprintf(a, sizeof(a), "%s/deployment-archive", d3);
	assert_int_equal(access(a, F_OK), -1);

	/* forgotten: not found any more */
	unpacked_forget(d1);
	unpacked_forget(d2);
	assert_int_equal(unpacked_find(root, d3, SHA1, from, sizeof(from)), -ENOENT);
	layout_rm_rf(root);
	free(root);
}

/* A file removed from the tree changes its fingerprint. */
static void test_fingerprint(void **state)
{
	char *root = tu_mkdtemp();
	char d[4096], a[4200], p[4400], f1[65], f2[65];

	unpack(root, "g", "d-1", SHA1);
	snprintf(d, sizeof(d), "%s/g/d-1", root);
	snprintf(a, sizeof(a), "%s/deployment-archive", d);
	assert_int_equal(unpacked_fingerprint(a, f1), 0);
	assert_int_equal(unpacked_fingerprint(a, f2), 0);
	assert_string_equal(f1, f2);
	snprintf(p, sizeof(p), "%s/scripts/run", a);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(unpacked_fingerprint(a, f2), 0);
	assert_string_not_equal(f1, f2);
	layout_rm_rf(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find_and_link),
	    cmocka_unit_test(test_fingerprint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
