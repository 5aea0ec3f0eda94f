/* lib/jsonutil: member reads that tolerate missing and mistyped members, and
 * the AWS JSON-protocol error body. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jsonutil.h"

static void test_str(void **state)
{
	json_t *o = json_pack("{s:s, s:i, s:n}", "name", "web", "count", 3, "nothing");

	(void)state;
	assert_string_equal(rd_json_str(o, "name"), "web");
	assert_null(rd_json_str(o, "count")); /* not a string */
	assert_null(rd_json_str(o, "nothing"));
	assert_null(rd_json_str(o, "missing"));
	assert_null(rd_json_str(NULL, "name"));
	assert_null(rd_json_str(json_array_get(NULL, 0), "name"));
	assert_string_equal(rd_json_str_or(o, "name", "-"), "web");
	assert_string_equal(rd_json_str_or(o, "count", "-"), "-");
	assert_string_equal(rd_json_str_or(NULL, "x", "fb"), "fb");
	assert_null(rd_json_str_or(o, "missing", NULL));
	json_decref(o);
}

static void test_number(void **state)
{
	json_t *o = json_pack("{s:i, s:f, s:s, s:s, s:b}", "i", 7, "f", 1.5, "s", "1700000000.25", "junk", "x", "b", 1);

	(void)state;
	assert_true(rd_json_number(json_object_get(o, "i")) == 7);
	assert_true(rd_json_number(json_object_get(o, "f")) == 1.5);
	assert_true(rd_json_number(json_object_get(o, "s")) == 1700000000.25);
	assert_true(rd_json_number(json_object_get(o, "junk")) == 0);
	assert_true(rd_json_number(json_object_get(o, "b")) == 0);
	assert_true(rd_json_number(NULL) == 0);
	json_decref(o);
}

static void test_aws_error(void **state)
{
	char type[64], msg[128];
	const char *b;

	(void)state;
	b = "{\"__type\":\"com.amazonaws.codedeploy#ApplicationDoesNotExistException\",\"message\":\"no app\"}";
	assert_true(rd_json_aws_error(b, strlen(b), type, sizeof(type), msg, sizeof(msg)));
	assert_string_equal(type, "ApplicationDoesNotExistException");
	assert_string_equal(msg, "no app");
	/* "Message" spelling and a ":http://..." suffix on the type */
	b = "{\"__type\":\"AccessDeniedException:http://internal.amazon.com/\",\"Message\":\"denied\"}";
	assert_true(rd_json_aws_error(b, strlen(b), type, sizeof(type), msg, sizeof(msg)));
	assert_string_equal(type, "AccessDeniedException");
	assert_string_equal(msg, "denied");
	/* no message at all */
	b = "{\"__type\":\"ThrottlingException\"}";
	assert_true(rd_json_aws_error(b, strlen(b), type, sizeof(type), msg, sizeof(msg)));
	assert_string_equal(msg, "");
	/* small buffers truncate; NULL buffers are skipped */
	b = "{\"__type\":\"InvalidDeploymentIdException\",\"message\":\"m\"}";
	assert_true(rd_json_aws_error(b, strlen(b), type, 8, NULL, 0));
	assert_string_equal(type, "Invalid");
	/* not an error body */
	b = "{\"message\":\"no type\"}";
	assert_false(rd_json_aws_error(b, strlen(b), type, sizeof(type), msg, sizeof(msg)));
	b = "<html>502 Bad Gateway</html>";
	assert_false(rd_json_aws_error(b, strlen(b), type, sizeof(type), msg, sizeof(msg)));
	b = "[\"__type\"]";
	assert_false(rd_json_aws_error(b, strlen(b), type, sizeof(type), msg, sizeof(msg)));
	assert_false(rd_json_aws_error(NULL, 0, type, sizeof(type), msg, sizeof(msg)));
	assert_false(rd_json_aws_error("", 0, type, sizeof(type), msg, sizeof(msg)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_str),
	    cmocka_unit_test(test_number),
	    cmocka_unit_test(test_aws_error),
	};
	return cmocka_run_group_tests_name("jsonutil", tests, NULL, NULL);
}
