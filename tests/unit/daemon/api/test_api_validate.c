/* daemon/api_validate: the model-generated tables over request bodies. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/api_model.h"

static const char *run(const char *op, const char *body, json_t **ret_clean)
{
	const struct api_op_model *m = api_model_op(op);
	json_t *in = json_loads(body, 0, NULL), *clean = NULL;
	const char *exc = NULL;
	char msg[512];
	int r;

	assert_non_null(m);
	assert_non_null(in);
	r = api_validate(m, in, &clean, &exc, msg, sizeof(msg));
	json_decref(in);
	if (r == 0) {
		if (ret_clean)
			*ret_clean = clean;
		else
			json_decref(clean);
		return NULL;
	}
	assert_int_equal(r, -EINVAL);
	assert_true(strlen(msg) > 5);
	return exc;
}

static void test_model_complete(void **state)
{
	assert_int_equal(api_n_op_models, 47);
	assert_non_null(api_model_op("CreateDeployment"));
	assert_null(api_model_op("CreateDeploymentz"));
}

static void test_required_and_types(void **state)
{
	assert_string_equal(run("CreateApplication", "{}", NULL), "ApplicationNameRequiredException");
	assert_string_equal(run("CreateApplication", "{\"applicationName\": 3}", NULL), "SerializationException");
	assert_string_equal(run("CreateApplication", "{\"applicationName\": \"\"}", NULL),
			    "InvalidApplicationNameException");
	assert_string_equal(run("GetDeployment", "{}", NULL), "DeploymentIdRequiredException");
	assert_string_equal(
	    run("CreateDeploymentGroup", "{\"applicationName\": \"a\", \"deploymentGroupName\": \"g\"}", NULL),
	    "RoleRequiredException");
	assert_string_equal(run("GetDeploymentTarget", "{\"deploymentId\": \"d-1\"}", NULL),
			    "DeploymentTargetIdRequiredException"); /* newer model: required */
	assert_string_equal(run("ListDeployments", "{\"createTimeRange\": {\"start\": \"x\"}}", NULL),
			    "SerializationException");
	assert_null(
	    run("ListDeployments", "{\"createTimeRange\": {\"start\": 1700000000, \"end\": 1700000000.5}}", NULL));
	assert_string_equal(run("CreateDeploymentConfig",
				"{\"deploymentConfigName\": \"c\", \"minimumHealthyHosts\": {\"value\": 1.5}}", NULL),
			    "SerializationException");
}

static void test_enums(void **state)
{
	assert_string_equal(run("CreateApplication", "{\"applicationName\": \"a\", \"computePlatform\": \"VM\"}", NULL),
			    "InvalidComputePlatformException");
	assert_string_equal(run("ListDeployments", "{\"includeOnlyStatuses\": [\"Succeeded\", \"Sleeping\"]}", NULL),
			    "InvalidDeploymentStatusException");
	assert_string_equal(run("RegisterApplicationRevision",
				"{\"applicationName\": \"a\", \"revision\": {\"revisionType\": \"S3\", \"s3Location\": "
				"{\"bundleType\": \"rar\"}}}",
				NULL),
			    "InvalidRevisionException");
	assert_string_equal(
	    run("ListDeploymentTargets", "{\"deploymentId\": \"d-1\", \"targetFilters\": {\"Nope\": []}}", NULL),
	    "InvalidTargetFilterNameException");
}

static void test_clean_copy(void **state)
{
	json_t *clean = NULL;

	assert_null(
	    run("CreateApplication",
		"{\"applicationName\": \"a\", \"unknown\": 1, \"computePlatform\": null, \"tags\": [{\"Key\": \"k\", "
		"\"Extra\": 2}]}",
		&clean));
	assert_non_null(clean);
	assert_int_equal(json_object_size(clean), 2);
	assert_null(json_object_get(clean, "unknown"));
	assert_null(json_object_get(clean, "computePlatform"));
	assert_int_equal(json_object_size(json_array_get(json_object_get(clean, "tags"), 0)), 1);
	json_decref(clean);
	/* newer-model members are accepted */
	assert_null(run("CreateDeploymentConfig",
			"{\"deploymentConfigName\": \"c\", \"zonalConfig\": {\"monitorDurationInSeconds\": 5, "
			"\"minimumHealthyHostsPerZone\": {\"type\": \"HOST_COUNT\", \"value\": 1}}}",
			&clean));
	assert_non_null(json_object_get(clean, "zonalConfig"));
	json_decref(clean);
	assert_null(run("CreateDeploymentGroup",
			"{\"applicationName\": \"a\", \"deploymentGroupName\": \"g\", \"serviceRoleArn\": \"r\", "
			"\"terminationHookEnabled\": true}",
			&clean));
	assert_true(json_is_true(json_object_get(clean, "terminationHookEnabled")));
	json_decref(clean);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_model_complete),
	    cmocka_unit_test(test_required_and_types),
	    cmocka_unit_test(test_enums),
	    cmocka_unit_test(test_clean_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
