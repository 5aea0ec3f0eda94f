/* The deployment root: paths, markers, which revision's appspec runs each
 * hook event (also for blue/green rollbacks), revision retention, and
 * rm -rf that does not follow symlinks. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/layout.h"
#include "tmpdir.h"
#include "util.h"

static char *root;
static struct agent_config cfg;
static struct agent ag = {.cfg = &cfg};
static struct deploy_spec spec;

static int setup(void **state)
{
	root = tu_mkdtemp();
	cfg.root_dir = root;
	spec = (struct deploy_spec){
	    .deployment_id = "d-NEW000001", .group_id = "g-1", .creator = "user", .type = "IN_PLACE"};
	return root ? 0 : -1;
}

static int teardown(void **state)
{
	tu_rm_rf(root); /* frees it */
	return 0;
}

static void mkdirs(const char *path)
{
	assert_int_equal(rd_mkdir_p(path, 0755), 0);
}

static void paths_and_markers(void **state)
{
	struct layout p;
	char want[4200], got[4096];

	layout_init(&p, &ag, &spec);
	snprintf(want, sizeof(want), "%s/g-1/d-NEW000001/deployment-archive", root);
	assert_string_equal(p.archive, want);
	snprintf(want, sizeof(want), "%s/deployment-instructions/g-1_last_successful_install", root);
	assert_string_equal(p.last_ok, want);
	snprintf(want, sizeof(want), "%s/g-1/d-NEW000001/logs/scripts.log", root);
	assert_string_equal(p.scripts_log, want);

	mkdirs(p.instr_dir);
	assert_int_equal(layout_write_marker(p.last_ok, p.dep_dir), 0);
	assert_int_equal(layout_read_marker(p.last_ok, got, sizeof(got)), 0);
	assert_string_equal(got, p.dep_dir);
	/* not an absolute path: not a marker */
	tu_write(p.instr_dir, "g-1_most_recent_install", "relative/dir\n");
	assert_int_equal(layout_read_marker(p.most_recent, got, sizeof(got)), -EINVAL);
	assert_int_equal(layout_read_marker("/nonexistent/marker", got, sizeof(got)), -ENOENT);
}

static void hook_revision(void **state)
{
	struct layout p;
	char dir[4096], prev[4200];

	layout_init(&p, &ag, &spec);
	/* first deployment: ApplicationStop has nothing to run, the others run this revision */
	assert_int_equal(layout_hook_revision(&p, &spec, "ApplicationStop", dir, sizeof(dir)), -ENOENT);
	assert_int_equal(layout_hook_revision(&p, &spec, "BeforeInstall", dir, sizeof(dir)), 0);
	assert_string_equal(dir, p.dep_dir);

	/* with a last successful revision: ApplicationStop and the BlockTraffic events run its scripts */
	snprintf(prev, sizeof(prev), "%s/g-1/d-OLD000001", root);
	mkdirs(p.instr_dir);
	assert_int_equal(layout_write_marker(p.last_ok, prev), 0);
	assert_int_equal(layout_hook_revision(&p, &spec, "ApplicationStop", dir, sizeof(dir)), 0);
	assert_string_equal(dir, prev);
	assert_int_equal(layout_hook_revision(&p, &spec, "BeforeBlockTraffic", dir, sizeof(dir)), 0);
	assert_string_equal(dir, prev);
	assert_int_equal(layout_hook_revision(&p, &spec, "AfterAllowTraffic", dir, sizeof(dir)), 0);
	assert_string_equal(dir, p.dep_dir);

	/* a blue/green rollback: BlockTraffic events run the most recent revision, AllowTraffic the last good one */
	spec.creator = "codeDeployRollback";
	spec.type = "BLUE_GREEN";
	assert_int_equal(layout_write_marker(p.most_recent, "/srv/most-recent"), 0);
	assert_int_equal(layout_hook_revision(&p, &spec, "AfterBlockTraffic", dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/srv/most-recent");
	assert_int_equal(layout_hook_revision(&p, &spec, "BeforeAllowTraffic", dir, sizeof(dir)), 0);
	assert_string_equal(dir, prev);

	/* once this revision is unpacked, every event runs its own scripts */
	mkdirs(p.archive);
	assert_int_equal(layout_hook_revision(&p, &spec, "ApplicationStop", dir, sizeof(dir)), 0);
	assert_string_equal(dir, p.dep_dir);
}

static void make_revision(const char *name, time_t mtime)
{
	char path[4200];
	struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};

	snprintf(path, sizeof(path), "%s/g-1/%s", root, name);
	mkdirs(path);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static bool exists(const char *name)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/g-1/%s", root, name);
	return stat(path, &st) == 0;
}

static void retention(void **state)
{
	struct layout p;
	char last_ok[4200];

	layout_init(&p, &ag, &spec);
	make_revision("d-A", 1000); /* oldest, but the last successful one */
	make_revision("d-B", 2000);
	make_revision("d-C", 3000);
	make_revision("d-D", 4000);
	mkdirs(p.dep_dir); /* the current one counts */
	mkdirs(p.instr_dir);
	snprintf(last_ok, sizeof(last_ok), "%s/g-1/d-A", root);
	assert_int_equal(layout_write_marker(p.last_ok, last_ok), 0);

	layout_retention(&p, 3);
	assert_true(exists("d-A"));
	assert_false(exists("d-B"));
	assert_false(exists("d-C"));
	assert_true(exists("d-D"));
	assert_true(exists("d-NEW000001"));
}

/* The first revision on a host, downloaded again (the daemon offered
 * DownloadBundle again after a restart): the current one is all there is. */
static void retention_of_the_only_revision(void **state)
{
	struct layout p;

	layout_init(&p, &ag, &spec);
	mkdirs(p.dep_dir);
	layout_retention(&p, 1);
	assert_true(exists("d-NEW000001"));
	layout_retention(&p, 0);
	assert_true(exists("d-NEW000001"));
}

static void rm_rf_stays_inside(void **state)
{
	char outside[4200], tree[4200], link[4300], file[4300];
	struct stat st;

	snprintf(outside, sizeof(outside), "%s/outside", root);
	snprintf(tree, sizeof(tree), "%s/tree/sub", root);
	mkdirs(outside);
	mkdirs(tree);
	tu_write(outside, "keep", "x");
	snprintf(link, sizeof(link), "%s/tree/sub/link", root);
	assert_int_equal(symlink(outside, link), 0);
	snprintf(tree, sizeof(tree), "%s/tree", root);
	assert_int_equal(layout_rm_rf(tree), 0);
	assert_int_not_equal(stat(tree, &st), 0);
	snprintf(file, sizeof(file), "%s/keep", outside);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(layout_rm_rf(tree), 0); /* already gone */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(paths_and_markers, setup, teardown),
	    cmocka_unit_test_setup_teardown(hook_revision, setup, teardown),
	    cmocka_unit_test_setup_teardown(retention, setup, teardown),
	    cmocka_unit_test_setup_teardown(retention_of_the_only_revision, setup, teardown),
	    cmocka_unit_test_setup_teardown(rm_rf_stays_inside, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
