#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "yamltree.h"

static struct yt_node *parse_ok(const char *s)
{
	char err[256] = "";
	struct yt_node *root = NULL;
	int r = yt_parse_buffer(s, strlen(s), "t.yml", &root, err, sizeof(err));
	if (r < 0)
		fail_msg("parse failed: %s", err);
	return root;
}

static void parse_err(const char *s, const char *want)
{
	char err[256] = "";
	struct yt_node *root = NULL;
	int r = yt_parse_buffer(s, strlen(s), "t.yml", &root, err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	assert_null(root);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void test_map(void **state)
{
	struct yt_node *r = parse_ok("a: 1\nb:\n  - x\n  - 'y'\nc: {d: true}\n");
	const struct yt_node *b = yt_map_get(r, "b");
	int64_t v;
	bool bv;
	char err[256];

	assert_non_null(b);
	assert_int_equal(b->type, YT_SEQ);
	assert_int_equal(b->n, 2);
	assert_string_equal(b->items[1]->value, "y");
	assert_int_equal(b->line, 3);
	assert_int_equal(yt_as_int(yt_map_get(r, "a"), "a", 0, 10, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1);
	assert_int_equal(yt_as_bool(yt_map_get(yt_map_get(r, "c"), "d"), "d", &bv, err, sizeof(err)), 0);
	assert_true(bv);
	assert_int_equal(yt_as_int(yt_map_get(r, "a"), "a", 5, 10, &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.yml:1:4: a: 1 is out of range [5, 10]");
	yt_free(r);
}

static void test_errors(void **state)
{
	parse_err("a: 1\na: 2\n", "t.yml:2:1: duplicate key 'a' (first at line 1)");
	parse_err("a: &x 1\nb: *x\n", "aliases");
	parse_err("a: [1, 2\n", "t.yml:");
	parse_err("---\na: 1\n---\nb: 2\n", "more than one YAML document");
	parse_err("? [a]\n: 1\n", "mapping keys must be plain strings");
}

static void test_duration(void **state)
{
	struct yt_node *r = parse_ok("a: 5m\nb: 250ms\nc: 3x\nd: 10\n");
	char err[256];
	int64_t ms;

	assert_int_equal(yt_as_duration_ms(yt_map_get(r, "a"), "a", 0, INT64_MAX, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(yt_as_duration_ms(yt_map_get(r, "b"), "b", 0, INT64_MAX, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(yt_as_duration_ms(yt_map_get(r, "c"), "c", 0, INT64_MAX, &ms, err, sizeof(err)), -EINVAL);
	assert_int_equal(yt_as_duration_ms(yt_map_get(r, "d"), "d", 0, INT64_MAX, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 10000);
	yt_free(r);
}

static void test_empty(void **state)
{
	struct yt_node *r = parse_ok("");
	assert_int_equal(r->type, YT_MAP);
	assert_int_equal(r->n, 0);
	yt_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_map),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests_name("yamltree", tests, NULL, NULL);
}
