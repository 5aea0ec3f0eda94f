/* The ec2 platform plugin's logic, its .c included, against the SDK's test
 * host (rollout/testing.h): what a group selects, the DescribeInstances
 * filters that find the candidates, and the parsing of an answer (states,
 * tags, ARNs). The AWS calls themselves are tested against moto_server
 * (tests/integration/test_ec2_*.py). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "plugins/ec2/ec2.c"

#include <rollout/testing.h>

static struct rollout_testing *T;
static void *S;

static int setup(void **state)
{
	char err[512];

	T = rollout_testing_new("ec2", "{\"endpoint\": \"http://127.0.0.1:1\", \"max_attempts\": \"1\"}");
	if (!T || rollout_testing_init(T, &ec2_plugin, &S, err, sizeof(err)) < 0) {
		fprintf(stderr, "init: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	ec2_destroy(S);
	T = rollout_testing_free(T);
	return 0;
}

static void test_selection(void **state)
{
	struct ec2_selection s;
	char err[128];

	assert_int_equal(ec2_selection_parse("{\"ec2TagFilters\":[{\"Key\":\"env\",\"Value\":\"prod\"}],"
					     "\"autoScalingGroups\":[{\"name\":\"web\"},{\"name\":\"\"}]}",
					     &s, err, sizeof(err)),
			 0);
	assert_string_equal(s.filter_json, "[{\"Key\":\"env\",\"Value\":\"prod\"}]");
	assert_string_equal(s.asgs_json, "[\"web\"]");
	assert_null(s.ids_json);
	ec2_selection_clear(&s);
	/* the deployment's targetInstances replaces the group's selection */
	assert_int_equal(ec2_selection_parse("{\"ec2TagFilters\":[{\"Key\":\"env\",\"Value\":\"prod\"}],"
					     "\"targetInstances\":{\"autoScalingGroups\":[\"green\"]}}",
					     &s, err, sizeof(err)),
			 0);
	assert_null(s.filter_json);
	assert_string_equal(s.asgs_json, "[\"green\"]");
	ec2_selection_clear(&s);
	assert_int_equal(ec2_selection_parse("{\"ec2TagSet\":{\"ec2TagSetList\":[[{\"Key\":\"a\",\"Value\":\"b\"}]]}}",
					     &s, err, sizeof(err)),
			 0);
	assert_non_null(strstr(s.filter_json, "ec2TagSetList"));
	ec2_selection_clear(&s);
	/* an on-premises group selects no EC2 instance */
	assert_int_equal(
	    ec2_selection_parse("{\"onPremisesInstanceTagFilters\":[{\"Key\":\"a\"}]}", &s, err, sizeof(err)), 0);
	assert_null(s.filter_json);
	assert_null(s.asgs_json);
	ec2_selection_clear(&s);
	assert_int_equal(ec2_selection_parse("[]", &s, err, sizeof(err)), -EINVAL);
}

static void test_server_filters(void **state)
{
	char **f = NULL;
	size_t n = 0;

	assert_int_equal(ec2_server_filters("[{\"Key\":\"env\",\"Value\":\"pr*\",\"Type\":\"KEY_AND_VALUE\"},"
					    "{\"Key\":\"role\",\"Type\":\"KEY_ONLY\"},"
					    "{\"Value\":\"web 1\",\"Type\":\"VALUE_ONLY\"},"
					    "{\"Type\":\"KEY_ONLY\"}]",
					    &f, &n),
			 0);
	assert_int_equal(n, 3); /* a filter with nothing to compare selects nothing */
	assert_string_equal(f[0], "&Filter.1.Name=tag%3Aenv&Filter.1.Value.1=pr%2A");
	assert_string_equal(f[1], "&Filter.1.Name=tag-key&Filter.1.Value.1=role");
	assert_string_equal(f[2], "&Filter.1.Name=tag-value&Filter.1.Value.1=web%201");
	ec2_strv_free(f, n);
	/* a tag set: the first non-empty inner list finds every candidate */
	assert_int_equal(
	    ec2_server_filters("{\"ec2TagSetList\":[[],[{\"Key\":\"a\",\"Value\":\"b\"}],[{\"Key\":\"c\"}]]}", &f, &n),
	    0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0], "&Filter.1.Name=tag%3Aa&Filter.1.Value.1=b");
	ec2_strv_free(f, n);
	/* KEY_AND_VALUE without a Value means the empty value */
	assert_int_equal(ec2_server_filters("[{\"Key\":\"k\",\"Type\":\"KEY_AND_VALUE\"}]", &f, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0], "&Filter.1.Name=tag%3Ak&Filter.1.Value.1=");
	ec2_strv_free(f, n);
}

static const char *answer =
    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
    "<reservationSet><item><ownerId>111122223333</ownerId><instancesSet>"
    "<item><instanceId>i-00000000000000001</instanceId><instanceState><name>running</name></instanceState>"
    "<tagSet><item><key>env</key><value>prod</value></item><item><key>empty</key><value></value></item></tagSet></item>"
    "<item><instanceId>i-00000000000000002</instanceId><instanceState><name>stopped</name></instanceState></item>"
    "<item><instanceId>i-00000000000000003</instanceId><instanceState><name>terminated</name></instanceState></item>"
    "<item><instanceId>i-00000000000000004</instanceId><instanceState><name>shutting-down</name></instanceState></item>"
    "</instancesSet></item></reservationSet><nextToken>abc</nextToken></DescribeInstancesResponse>";

static void test_parse_instances(void **state)
{
	const struct rollout_host *host = rollout_testing_host(T);
	struct rollout_xml *doc = NULL;
	char err[256], *next = NULL;
	json_t *out = json_object(), *t;

	assert_int_equal(host->xml_parse(rollout_testing_handle(T), answer, strlen(answer), &doc, err, sizeof(err)), 0);
	assert_int_equal(ec2_parse_instances(host, doc, "eu-west-1", "000000000000", false, out, &next), 0);
	assert_string_equal(next, "abc");
	free(next);
	assert_int_equal(json_object_size(out), 2); /* shutting-down and terminated are no targets */
	t = json_object_get(out, "i-00000000000000001");
	assert_string_equal(json_string_value(json_object_get(t, "targetArn")),
			    "arn:aws:ec2:eu-west-1:111122223333:instance/i-00000000000000001");
	assert_string_equal(json_string_value(json_object_get(t, "hostIdentifier")),
			    json_string_value(json_object_get(t, "targetArn")));
	assert_string_equal(json_string_value(json_object_get(t, "instanceType")), "EC2");
	assert_string_equal(json_string_value(json_object_get(t, "instanceState")), "running");
	assert_int_equal(json_array_size(json_object_get(t, "tags")), 2);
	t = json_object_get(out, "i-00000000000000002");
	assert_string_equal(json_string_value(json_object_get(t, "instanceState")), "stopped");
	/* the daemon's own lookup by id sees every state */
	json_object_clear(out);
	assert_int_equal(ec2_parse_instances(host, doc, "eu-west-1", "0", true, out, &next), 0);
	free(next);
	assert_int_equal(json_object_size(out), 4);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(out, "i-00000000000000003"), "instanceState")),
	    "terminated");
	host->xml_free(doc);
	json_decref(out);
	assert_true(ec2_state_is_target("pending"));
	assert_true(ec2_state_is_target("stopping"));
	assert_false(ec2_state_is_target("terminated"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_selection),
	    cmocka_unit_test(test_server_filters),
	    cmocka_unit_test(test_parse_instances),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
