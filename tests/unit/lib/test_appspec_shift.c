/* lib/appspec_shift: Lambda and ECS AppSpecs in YAML and JSON, keys in
 * either spelling, hooks per platform, and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "lib/appspec_shift.h"

static int parse(const char *text, const char *platform, json_t **ret, char *err, size_t errlen)
{
	return appspec_shift_parse(text, strlen(text), "appspec.yaml", platform, ret, err, errlen);
}

static void test_yaml(void **unused)
{
	char err[512] = "";
	json_t *a = NULL;
	char *s;
	(void)unused;

	assert_int_equal(parse("version: 0.0\n"
			       "Resources:\n"
			       "  - myLambdaFunction:\n"
			       "      Type: AWS::Lambda::Function\n"
			       "      Properties:\n"
			       "        Name: \"myLambdaFunction\"\n"
			       "        Alias: \"myLambdaFunctionAlias\"\n"
			       "        CurrentVersion: 1\n"
			       "        TargetVersion: 2\n"
			       "Hooks:\n"
			       "  - BeforeAllowTraffic: \"LambdaFunctionToValidateBeforeTrafficShift\"\n"
			       "  - AfterAllowTraffic: \"LambdaFunctionToValidateAfterTrafficShift\"\n",
			       "Lambda", &a, err, sizeof(err)),
			 0);
	s = json_dumps(a, JSON_COMPACT);
	assert_string_equal(s, "{\"version\":\"0.0\",\"Resources\":[{\"myLambdaFunction\":{\"Type\":\"AWS::Lambda::"
			       "Function\",\"Properties\":{\"Name\":\"myLambdaFunction\",\"Alias\":"
			       "\"myLambdaFunctionAlias\",\"CurrentVersion\":\"1\",\"TargetVersion\":\"2\"}}}],"
			       "\"Hooks\":[{\"BeforeAllowTraffic\":\"LambdaFunctionToValidateBeforeTrafficShift\"},"
			       "{\"AfterAllowTraffic\":\"LambdaFunctionToValidateAfterTrafficShift\"}]}");
	free(s);
	assert_string_equal(appspec_shift_hook(a, "AfterAllowTraffic"), "LambdaFunctionToValidateAfterTrafficShift");
	assert_null(appspec_shift_hook(a, "BeforeInstall"));
	json_decref(a);
}

static void test_json_lowercase(void **unused)
{
	char err[512] = "";
	json_t *a = NULL;
	char *s;
	(void)unused;

	/* JSON, lower-case keys as AWS's resources reference spells them, no hooks */
	assert_int_equal(parse("{\"version\": 0.0, \"resources\": [{\"f\": {\"type\": \"AWS::Lambda::Function\","
			       " \"properties\": {\"name\": \"f\", \"alias\": \"live\", \"currentversion\": \"1\","
			       " \"targetversion\": \"2\"}}}], \"hooks\": [{\"beforeallowtraffic\": \"h\"}]}",
			       "Lambda", &a, err, sizeof(err)),
			 0);
	s = json_dumps(a, JSON_COMPACT);
	assert_non_null(strstr(s, "\"Hooks\":[{\"BeforeAllowTraffic\":\"h\"}]"));
	assert_non_null(strstr(s, "\"properties\":{\"name\":\"f\""));
	free(s);
	json_decref(a);
	/* ECS hooks */
	assert_int_equal(parse("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n"
			       "      Properties: {TaskDefinition: arn}\nHooks:\n  - AfterAllowTestTraffic: t\n",
			       "ECS", &a, err, sizeof(err)),
			 0);
	assert_string_equal(appspec_shift_hook(a, "AfterAllowTestTraffic"), "t");
	json_decref(a);
}

static void test_errors(void **unused)
{
	static const struct {
		const char *text, *platform, *msg;
	} bad[] = {
	    {"version: 0.0\n", "Lambda", "Resources must list the function"},
	    {"version: 1.0\nResources: [{f: {}}]\n", "Lambda", "1:10: version must be 0.0, not 1.0"},
	    {"Resources: [{f: {}}]\n", "Lambda", "version must be 0.0"},
	    {"version: 0.0\nResources: [f]\n", "Lambda", "Resources entry 1 must be one"},
	    {"version: 0.0\nResources: [{f: {}}]\nfiles: []\n", "Lambda", "unknown AppSpec key 'files'"},
	    {"version: 0.0\nresources: [{f: {}}]\nResources: [{f: {}}]\n", "Lambda", "'Resources' is given twice"},
	    {"version: 0.0\nResources: [{f: {}}]\nHooks:\n  - BeforeInstall: x\n", "Lambda",
	     "4:5: Hooks: BeforeInstall is not a hook of a Lambda deployment; use BeforeAllowTraffic, "
	     "AfterAllowTraffic"},
	    {"version: 0.0\nResources: [{f: {}}]\nHooks:\n  - BeforeAllowTraffic: x\n  - BeforeAllowTraffic: y\n",
	     "Lambda", "BeforeAllowTraffic is given twice"},
	    {"version: 0.0\nResources: [{f: {}}]\nHooks:\n  - BeforeAllowTraffic:\n", "Lambda",
	     "BeforeAllowTraffic needs the name of a Lambda function"},
	    {"version: 0.0\nResources: [{f: {}}]\nHooks: {BeforeAllowTraffic: x}\n", "Lambda", "Hooks must be a list"},
	    {"version: 0.0\nResources: [{f: {}}]\n", "Server", "compute platform Server has no AppSpec"},
	    {"[unclosed", "Lambda", "appspec.yaml:"},
	};
	(void)unused;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[512] = "";
		json_t *a = NULL;
		assert_int_equal(parse(bad[i].text, bad[i].platform, &a, err, sizeof(err)), -EINVAL);
		assert_null(a);
		if (!strstr(err, bad[i].msg))
			fail_msg("case %zu: '%s' does not contain '%s'", i, err, bad[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_yaml),
	    cmocka_unit_test(test_json_lowercase),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
