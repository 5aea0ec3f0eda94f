/* cli/status: which of a group's instances it selects by their tags, through
 * lib/tagfilter: filters OR-ed, tag sets AND of ORs, no filter selects nothing. */
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

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("bad test JSON at %d: %s", e.position, e.text);
	return j;
}

static void test_group_selects(void **state)
{
	json_t *tags = load("[{\"Key\":\"env\",\"Value\":\"prod\"},{\"Key\":\"role\",\"Value\":\"web\"}]");
	json_t *g;

	g = load(
	    "{\"onPremisesInstanceTagFilters\":[{\"Key\":\"env\",\"Value\":\"prod\",\"Type\":\"KEY_AND_VALUE\"}]}");
	assert_true(cli_group_selects(g, tags));
	json_decref(g);
	g = load("{\"onPremisesInstanceTagFilters\":[{\"Key\":\"env\",\"Value\":\"dev\",\"Type\":\"KEY_AND_VALUE\"},"
		 "{\"Key\":\"role\",\"Type\":\"KEY_ONLY\"}]}");
	assert_true(cli_group_selects(g, tags)); /* OR */
	json_decref(g);
	g = load("{\"onPremisesInstanceTagFilters\":[{\"Value\":\"web\",\"Type\":\"VALUE_ONLY\"}]}");
	assert_true(cli_group_selects(g, tags));
	json_decref(g);
	g = load("{\"onPremisesInstanceTagFilters\":[{\"Key\":\"env\",\"Value\":\"dev\",\"Type\":\"KEY_AND_VALUE\"}]}");
	assert_false(cli_group_selects(g, tags));
	json_decref(g);
	/* tag set: AND of ORs */
	g = load("{\"onPremisesTagSet\":{\"onPremisesTagSetList\":[[{\"Key\":\"env\",\"Value\":\"prod\",\"Type\":\"KEY_"
		 "AND_VALUE\"}],"
		 "[{\"Key\":\"role\",\"Value\":\"db\",\"Type\":\"KEY_AND_VALUE\"},{\"Key\":\"role\",\"Value\":\"web\","
		 "\"Type\":\"KEY_AND_VALUE\"}]]}}");
	assert_true(cli_group_selects(g, tags));
	json_decref(g);
	g = load("{\"onPremisesTagSet\":{\"onPremisesTagSetList\":[[{\"Key\":\"env\",\"Value\":\"prod\",\"Type\":\"KEY_"
		 "AND_VALUE\"}],"
		 "[{\"Key\":\"role\",\"Value\":\"db\",\"Type\":\"KEY_AND_VALUE\"}]]}}");
	assert_false(cli_group_selects(g, tags));
	json_decref(g);
	/* a filter with only a Key is KEY_ONLY, as everywhere else */
	g = load("{\"onPremisesInstanceTagFilters\":[{\"Key\":\"role\"}]}");
	assert_true(cli_group_selects(g, tags));
	json_decref(g);
	g = load("{\"onPremisesInstanceTagFilters\":[{\"Key\":\"role\",\"Value\":\"\"}]}");
	assert_true(cli_group_selects(g, tags));
	json_decref(g);
	g = load("{\"onPremisesInstanceTagFilters\":[]}");
	assert_false(cli_group_selects(g, tags));
	json_decref(g);
	g = load("{}");
	assert_false(cli_group_selects(g, tags)); /* no filters: no targets */
	json_decref(g);
	json_decref(tags);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_group_selects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
