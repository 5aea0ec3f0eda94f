/* Tag filters for plugins (daemon/core/plugin_tags.c): lib/tagfilter behind
 * the host table (the rule itself is tested in tests/unit/lib). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/plugin_host.h"

static void test_match(void **st)
{
	struct host_shared shared = {0};
	const struct rollout_host *X = host_table();
	struct rollout_handle *h = NULL;
	struct rollout_tag_filter *f = NULL;
	char err[256];

	assert_int_equal(host_handle_new("onprem", NULL, NULL, &shared, &h), 0);
	assert_int_equal(X->tag_filter_new(h,
					   "{\"onPremisesTagSetList\":[[{\"Key\":\"env\",\"Value\":\"prod\"}],"
					   "[{\"Key\":\"role\"},{\"Value\":\"db\"}]]}",
					   &f, err, sizeof(err)),
			 0);
	assert_int_equal(
	    X->tag_filter_match(f, "[{\"Key\":\"env\",\"Value\":\"prod\"},{\"Key\":\"role\",\"Value\":\"x\"}]"), 1);
	assert_int_equal(
	    X->tag_filter_match(f, "[{\"Key\":\"env\",\"Value\":\"prod\"},{\"Key\":\"tier\",\"Value\":\"db\"}]"), 1);
	assert_int_equal(X->tag_filter_match(f, "[{\"Key\":\"env\",\"Value\":\"prod\"}]"), 0);
	assert_int_equal(X->tag_filter_match(f, "[]"), 0);
	assert_int_equal(X->tag_filter_match(f, "{}"), -EINVAL);
	assert_int_equal(X->tag_filter_match(f, "not json"), -EINVAL);
	assert_null(X->tag_filter_free(f));

	f = NULL;
	assert_int_equal(X->tag_filter_new(h, "[{\"Key\":\"k\",\"Type\":\"KEYS\"}]", &f, err, sizeof(err)), -EINVAL);
	assert_null(f);
	assert_string_equal(err, "tag filter[0].Type: expected KEY_ONLY, VALUE_ONLY or KEY_AND_VALUE, found 'KEYS'");
	assert_int_equal(X->tag_filter_new(h, "{", &f, err, sizeof(err)), -EINVAL);

	/* freed or foreign pointers are refused */
	{
		char junk[32] = "";
		assert_int_equal(X->tag_filter_match((const struct rollout_tag_filter *)junk, "[]"), -EINVAL);
		assert_null(X->tag_filter_free((struct rollout_tag_filter *)junk));
	}
	host_handle_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
