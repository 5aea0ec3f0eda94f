/* cli/options: one parser, two tables: what each command family takes, --tags
 * as filters or as tags, durations, and errors. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/cmdutil.h"

#define ARGV(...) ((char *[]){"cmd", __VA_ARGS__, NULL})

static int parse(struct cli_opts *o, const struct option *table, char **argv, const char **pos, int *ret_ex)
{
	static struct cli c;
	int argc = 0;

	while (argv[argc])
		argc++;
	*ret_ex = -1;
	return cli_opts_parse(&c, o, table, "usage\n", argc, argv, pos, 3, ret_ex);
}

static void test_resource(void **state)
{
	char **argv = ARGV("create", "--app", "web", "prod", "--tags", "env=prod,role", "--tag-set", "a=1", "--tag-set",
			   "=x", "--auto-rollback", "--limit", "5");
	const char *pos[3] = {0};
	struct cli_opts o;
	int ex;

	assert_int_equal(parse(&o, cli_resource_options, argv, pos, &ex), 2);
	assert_string_equal(pos[0], "create");
	assert_string_equal(pos[1], "prod");
	assert_string_equal(o.app, "web");
	assert_string_equal(o.limit, "5");
	assert_int_equal(o.auto_rollback, 1);
	/* --tags: filters, and tags too while they are plain key=value */
	assert_int_equal(json_array_size(o.filters), 2);
	assert_string_equal(rd_json_str(json_array_get(o.filters, 1), "Type"), "KEY_ONLY");
	assert_int_equal(json_array_size(o.tags), 2);
	assert_string_equal(o.tags_err, "");
	assert_int_equal(json_array_size(o.tag_sets), 2);
	cli_opts_free(&o);

	/* "=v" is a filter but not a tag: noted for the commands that want tags */
	argv = ARGV("list", "--tags", "=prod");
	assert_int_equal(parse(&o, cli_resource_options, argv, pos, &ex), 1);
	assert_int_equal(json_array_size(o.filters), 1);
	assert_non_null(strstr(o.tags_err, "no key"));
	cli_opts_free(&o);
}

static void test_workflow(void **state)
{
	char **argv = ARGV("SRC", "--app", "web", "--timeout", "1.5m", "--interval", "0.2", "--wait", "--tags",
			   "env=prod", "--no-rollback", "-f");
	const char *pos[3] = {0};
	struct cli_opts o;
	int ex;

	assert_int_equal(parse(&o, cli_workflow_options, argv, pos, &ex), 1);
	assert_string_equal(pos[0], "SRC");
	assert_int_equal(o.timeout_s, 90);
	assert_int_equal(o.interval_ms, 200);
	assert_true(o.wait);
	assert_true(o.follow);
	assert_int_equal(o.auto_rollback, 0);
	assert_int_equal(json_array_size(o.tags), 1);
	assert_null(o.filters);
	cli_opts_free(&o);
	/* defaults */
	argv = ARGV("x");
	assert_int_equal(parse(&o, cli_workflow_options, argv, pos, &ex), 1);
	assert_int_equal(o.interval_ms, 500);
	assert_int_equal(o.timeout_s, 0);
	assert_int_equal(o.auto_rollback, -1);
	cli_opts_free(&o);
}

static void test_auto_rollback(void **state)
{
	struct cli_opts o = {.auto_rollback = -1};
	json_t *j;

	assert_null(cli_opts_auto_rollback(&o));
	o.auto_rollback = 1;
	j = cli_opts_auto_rollback(&o);
	assert_true(json_is_true(json_object_get(j, "enabled")));
	assert_int_equal(json_array_size(json_object_get(j, "events")), 2);
	json_decref(j);
	o.auto_rollback = 0;
	j = cli_opts_auto_rollback(&o);
	assert_true(json_is_false(json_object_get(j, "enabled")));
	assert_int_equal(json_array_size(json_object_get(j, "events")), 0);
	json_decref(j);
}

static void test_errors(void **state)
{
	const char *pos[3] = {0};
	struct cli_opts o;
	int ex;

	/* an option of the other family is unknown */
	assert_int_equal(parse(&o, cli_resource_options, ARGV("list", "--wait"), pos, &ex), -1);
	assert_int_equal(ex, CLI_EXIT_USAGE);
	assert_int_equal(parse(&o, cli_workflow_options, ARGV("x", "--tag-set", "a=1"), pos, &ex), -1);
	assert_int_equal(ex, CLI_EXIT_USAGE);
	/* bad values */
	assert_int_equal(parse(&o, cli_workflow_options, ARGV("x", "--timeout", "5w"), pos, &ex), -1);
	assert_int_equal(parse(&o, cli_workflow_options, ARGV("x", "--timeout", "8d"), pos, &ex), -1);
	assert_int_equal(parse(&o, cli_workflow_options, ARGV("x", "--interval", "0"), pos, &ex), -1);
	assert_int_equal(parse(&o, cli_workflow_options, ARGV("x", "--bundle-type", "rar"), pos, &ex), -1);
	assert_int_equal(parse(&o, cli_workflow_options, ARGV("x", "--tags", "=v"), pos, &ex), -1);
	assert_int_equal(parse(&o, cli_resource_options, ARGV("list", "-o", "yaml"), pos, &ex), -1);
	/* too many positionals */
	assert_int_equal(parse(&o, cli_resource_options, ARGV("a", "b", "c", "d"), pos, &ex), -1);
	assert_int_equal(ex, CLI_EXIT_USAGE);
	/* --help is not an error */
	assert_int_equal(parse(&o, cli_resource_options, ARGV("list", "--help"), pos, &ex), -1);
	assert_int_equal(ex, CLI_EXIT_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resource),
	    cmocka_unit_test(test_workflow),
	    cmocka_unit_test(test_auto_rollback),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
