/* cli/cmdutil: the helpers of the command files that print API objects and
 * read CreateAccessKey answers. */
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

static void test_tags_string(void **state)
{
	json_t *t = load("[{\"Key\":\"env\",\"Value\":\"prod\"},{\"Key\":\"web\",\"Type\":\"KEY_ONLY\"},"
			 "{\"Value\":\"x\",\"Type\":\"VALUE_ONLY\"},{\"Key\":\"e\",\"Value\":\"\"}]");
	char *s = cli_tags_string(t);

	assert_string_equal(s, "env=prod,web,=x,e=");
	free(s);
	json_decref(t);
	s = cli_tags_string(NULL);
	assert_string_equal(s, "");
	free(s);
}

static void test_print_kv(void **state)
{
	json_t *o = load("{\"name\":\"web\",\"createTime\":1700000000,\"count\":3,\"list\":[1,2],"
			 "\"nested\":{\"a\":\"b\"},\"empty\":{}}");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cli_print_kv(f, o, 0);
	fclose(f);
	assert_string_equal(buf, "name: web\n"
				 "createTime: 2023-11-14 22:13:20Z\n"
				 "count: 3\n"
				 "list: [1,2]\n"
				 "nested:\n"
				 "  a: b\n"
				 "empty: {}\n");
	free(buf);
	json_decref(o);
}

static void test_print_objects(void **state)
{
	static const char *const cols[] = {"AccessKeyId", "Name", "CreateTime"};
	json_t *a =
	    load("[{\"AccessKeyId\":\"AK1\",\"Name\":\"ci\",\"CreateTime\":1700000000},{\"AccessKeyId\":\"AK2\"}]");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cli_print_objects(f, a, 3, cols);
	fclose(f);
	/* headers in capitals, camel case split into words */
	assert_string_equal(buf, "ACCESS KEY ID  NAME  CREATE TIME\n"
				 "AK1            ci    2023-11-14 22:13:20Z\n"
				 "AK2            -     -\n");
	free(buf);
	json_decref(a);
}

static void test_key_field(void **state)
{
	json_t *r = load("{\"AccessKeyId\":\"AK1\",\"accessKey\":{\"secretAccessKey\":\"s1\"}}");
	char *arn = cli_default_iam_arn("web-1");

	assert_string_equal(cli_key_field(r, "AccessKeyId"), "AK1");
	assert_string_equal(cli_key_field(r, "SecretAccessKey"), "s1");
	assert_null(cli_key_field(r, "SessionToken"));
	json_decref(r);
	assert_string_equal(arn, "arn:aws:iam::000000000000:user/rollout/web-1");
	free(arn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tags_string),
	    cmocka_unit_test(test_print_kv),
	    cmocka_unit_test(test_print_objects),
	    cmocka_unit_test(test_key_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
