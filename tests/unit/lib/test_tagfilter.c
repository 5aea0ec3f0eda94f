/* lib/tagfilter: every filter form, lists, tag sets and the parse errors. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tagfilter.h"

/* Hosts used throughout: web-1 {env=prod, role=web}, api-1 {env=dev, role=api},
 * bare {} and blank {note=""} (a tag with an empty value). */
static const struct tagfilter_tag web1[] = {{"env", "prod"}, {"role", "web"}};
static const struct tagfilter_tag api1[] = {{"env", "dev"}, {"role", "api"}};
static const struct tagfilter_tag blank[] = {{"note", NULL}};

static struct tagfilter_set *parse_ok(const char *text)
{
	struct tagfilter_set *s = NULL;
	char err[256] = "";

	if (tagfilter_parse_text(text, "f", &s, err, sizeof(err)) < 0)
		fail_msg("parse of %s failed: %s", text, err);
	return s;
}

static void parse_err(const char *text, const char *want)
{
	struct tagfilter_set *s = NULL;
	char err[256] = "";

	assert_int_equal(tagfilter_parse_text(text, "f", &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

/* Which of web1, api1, bare, blank the filter text selects, as "wab." letters. */
static void expect(const char *text, const char *want)
{
	struct tagfilter_set *s = parse_ok(text);
	char got[5] = "....";

	if (tagfilter_match(s, web1, 2))
		got[0] = 'w';
	if (tagfilter_match(s, api1, 2))
		got[1] = 'a';
	if (tagfilter_match(s, NULL, 0))
		got[2] = 'b';
	if (tagfilter_match(s, blank, 1))
		got[3] = 'n';
	if (strcmp(got, want) != 0)
		fail_msg("%s selects %s, expected %s", text, got, want);
	tagfilter_set_free(s);
}

static void test_typed_filters(void **state)
{
	(void)state;
	expect("[{\"Key\":\"role\",\"Type\":\"KEY_ONLY\"}]", "wa..");
	expect("[{\"Key\":\"role\",\"Value\":\"web\",\"Type\":\"KEY_ONLY\"}]", "wa..");
	expect("[{\"Value\":\"dev\",\"Type\":\"VALUE_ONLY\"}]", ".a..");
	expect("[{\"Key\":\"role\",\"Value\":\"dev\",\"Type\":\"VALUE_ONLY\"}]", ".a..");
	expect("[{\"Key\":\"env\",\"Value\":\"prod\",\"Type\":\"KEY_AND_VALUE\"}]", "w...");
	expect("[{\"Key\":\"env\",\"Value\":\"web\",\"Type\":\"KEY_AND_VALUE\"}]", "....");
	/* Exact and case-sensitive, no wildcards. */
	expect("[{\"Key\":\"Env\",\"Type\":\"KEY_ONLY\"}]", "....");
	expect("[{\"Key\":\"env\",\"Value\":\"pro*\",\"Type\":\"KEY_AND_VALUE\"}]", "....");
	expect("[{\"Key\":\"en\",\"Type\":\"KEY_ONLY\"}]", "....");
}

static void test_untyped_filters(void **state)
{
	(void)state;
	/* {Key} alone is KEY_ONLY, {Value} alone is VALUE_ONLY, both is KEY_AND_VALUE. */
	expect("[{\"Key\":\"role\"}]", "wa..");
	expect("[{\"Value\":\"api\"}]", ".a..");
	expect("[{\"Key\":\"role\",\"Value\":\"api\"}]", ".a..");
	expect("[{\"Key\":\"env\",\"Value\":\"api\"}]", "....");
	/* null members are absent members. */
	expect("[{\"Key\":\"role\",\"Value\":null,\"Type\":null}]", "wa..");
}

static void test_empty_strings(void **state)
{
	struct tagfilter_set *s;

	(void)state;
	/* Without a Type a blank Value is no Value: {Key, Value: ""} is KEY_ONLY. */
	expect("[{\"Key\":\"note\",\"Value\":\"\"}]", "...n");
	expect("[{\"Key\":\"role\",\"Value\":\"\"}]", "wa..");
	/* A blank Key is no Key. */
	expect("[{\"Key\":\"\",\"Value\":\"dev\"}]", ".a..");
	expect("[{\"Key\":\"\"}]", "....");
	expect("[{\"Value\":\"\"}]", "....");
	expect("[{\"Key\":\"\",\"Value\":\"\"}]", "....");
	expect("[{}]", "....");
	/* With a Type the Value is compared as given. */
	expect("[{\"Value\":\"\",\"Type\":\"VALUE_ONLY\"}]", "...n");
	expect("[{\"Key\":\"note\",\"Value\":\"\",\"Type\":\"KEY_AND_VALUE\"}]", "...n");
	expect("[{\"Key\":\"note\",\"Type\":\"KEY_AND_VALUE\"}]", "...n");
	expect("[{\"Key\":\"role\",\"Type\":\"KEY_AND_VALUE\"}]", "....");
	expect("[{\"Key\":\"\",\"Type\":\"KEY_ONLY\"}]", "....");
	expect("[{\"Type\":\"VALUE_ONLY\"}]", "....");

	/* tagfilter_problem tells the API which of these select nothing. */
	s = parse_ok("[{\"Key\":\"\"},{\"Value\":\"x\"},{\"Type\":\"KEY_AND_VALUE\",\"Value\":\"v\"},"
		     "{\"Value\":\"\",\"Type\":\"VALUE_ONLY\"},{\"Key\":\"k\",\"Type\":\"KEY_ONLY\"}]");
	assert_int_equal(s->n, 1);
	assert_int_equal(s->groups[0].n, 5);
	assert_non_null(strstr(tagfilter_problem(&s->groups[0].filters[0]), "neither"));
	assert_null(tagfilter_problem(&s->groups[0].filters[1]));
	assert_non_null(strstr(tagfilter_problem(&s->groups[0].filters[2]), "KEY_AND_VALUE needs"));
	assert_null(tagfilter_problem(&s->groups[0].filters[3]));
	assert_null(tagfilter_problem(&s->groups[0].filters[4]));
	tagfilter_set_free(s);
}

static void test_lists_or(void **state)
{
	(void)state;
	expect("[{\"Key\":\"env\",\"Value\":\"prod\"},{\"Value\":\"api\"}]", "wa..");
	expect("[{\"Key\":\"env\",\"Value\":\"prod\"},{\"Key\":\"note\"}]", "w..n");
	/* An empty list selects nothing. */
	expect("[]", "....");
}

static void test_sets_and_of_or(void **state)
{
	(void)state;
	/* env=prod AND (role=web OR role=api) */
	expect("{\"onPremisesTagSetList\":[[{\"Key\":\"env\",\"Value\":\"prod\",\"Type\":\"KEY_AND_VALUE\"}],"
	       "[{\"Key\":\"role\",\"Value\":\"web\"},{\"Key\":\"role\",\"Value\":\"api\"}]]}",
	       "w...");
	/* (env) AND (role): both hosts have both keys. */
	expect("{\"ec2TagSetList\":[[{\"Key\":\"env\"}],[{\"Key\":\"role\",\"Type\":\"KEY_ONLY\"}]]}", "wa..");
	/* (env=dev OR role=web) AND (role): both. */
	expect("[[{\"Key\":\"env\",\"Value\":\"dev\"},{\"Key\":\"role\",\"Value\":\"web\"}],[{\"Key\":\"role\"}]]",
	       "wa..");
	/* A group nobody matches makes the set select nothing. */
	expect("[[{\"Key\":\"env\"}],[{\"Key\":\"zone\"}]]", "....");
	/* Empty inner lists are ignored; a set of only empty lists selects nothing. */
	expect("{\"onPremisesTagSetList\":[[],[{\"Value\":\"dev\"}],[]]}", ".a..");
	expect("{\"onPremisesTagSetList\":[[],[]]}", "....");
	expect("{\"onPremisesTagSetList\":[]}", "....");
	expect("{}", "....");
}

static void test_match_json(void **state)
{
	struct tagfilter_set *s = parse_ok("[{\"Key\":\"env\",\"Value\":\"\",\"Type\":\"KEY_AND_VALUE\"}]");
	json_t *tags =
	    json_loads("[{\"Key\":\"x\",\"Value\":\"1\"},{\"Value\":\"no key\"},{\"Key\":\"env\"}]", 0, NULL);
	json_t *many = json_array();

	(void)state;
	assert_true(tagfilter_match_json(s, tags));
	/* More tags than the matcher keeps on its stack. */
	for (int i = 0; i < 100; i++)
		json_array_append_new(many, json_pack("{s:s,s:s}", "Key", i == 99 ? "env" : "k", "Value", ""));
	assert_true(tagfilter_match_json(s, many));
	json_array_remove(many, 99);
	assert_false(tagfilter_match_json(s, many));
	assert_false(tagfilter_match_json(s, NULL));
	assert_false(tagfilter_match_json(NULL, tags));
	json_decref(tags);
	json_decref(many);
	tagfilter_set_free(s);
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_err("[{\"Key\":\"a\",\"Type\":\"KEY\"}]",
		  "f[0].Type: expected KEY_ONLY, VALUE_ONLY or KEY_AND_VALUE, found 'KEY'");
	parse_err("[{\"Key\":1}]", "f[0].Key: expected a string");
	parse_err("[{\"Key\":\"a\"},\"b\"]", "f[1]: expected a tag filter object");
	parse_err("[[{\"Key\":\"a\"}],{\"Key\":\"b\"}]", "f[1]: expected a list of tag filters");
	parse_err("{\"ec2TagSetList\":[[{\"Value\":true}]]}", "f.ec2TagSetList[0][0].Value: expected a string");
	parse_err("{\"ec2TagSetList\":{}}", "f.ec2TagSetList: expected a list of lists");
	parse_err("{\"ec2TagSetList\":[],\"onPremisesTagSetList\":[]}", "found both");
	parse_err("\"KEY_ONLY\"", "f: expected a list of tag filters or a tag set");
	parse_err("[{", "f: not JSON");
	assert_string_equal(tagfilter_type_name(TAGFILTER_VALUE_ONLY), "VALUE_ONLY");
	assert_null(tagfilter_set_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_typed_filters),  cmocka_unit_test(test_untyped_filters),
	    cmocka_unit_test(test_empty_strings),  cmocka_unit_test(test_lists_or),
	    cmocka_unit_test(test_sets_and_of_or), cmocka_unit_test(test_match_json),
	    cmocka_unit_test(test_parse_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
