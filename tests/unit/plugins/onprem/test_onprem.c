/* The onprem platform plugin, its .c included, against the SDK's test host
 * (rollout/testing.h): the selection runs the daemon's own tag filter. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "plugins/onprem/onprem.c"

#include <rollout/testing.h>

static struct rollout_testing *T;
static void *S;

static int setup(void **state)
{
	char err[512];

	T = rollout_testing_new("onprem", NULL);
	if (!T || rollout_testing_init(T, &onprem_plugin, &S, err, sizeof(err)) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	onprem_destroy(S);
	T = rollout_testing_free(T);
	return 0;
}

static const char *fleet =
    "["
    "{\"instanceName\":\"a\",\"iamUserArn\":\"arn:aws:iam::0:user/a\",\"instanceArn\":\"arn:i/a\","
    "\"registrationStatus\":\"Registered\",\"tags\":[{\"Key\":\"env\",\"Value\":\"prod\"},{\"Key\":\"role\",\"Value\":"
    "\"web\"}]},"
    "{\"instanceName\":\"b\",\"iamSessionArn\":\"arn:aws:sts::0:assumed-role/r/b\","
    "\"registrationStatus\":\"Registered\",\"tags\":[{\"Key\":\"env\",\"Value\":\"staging\"},{\"Key\":\"role\","
    "\"Value\":\"web\"}]},"
    "{\"instanceName\":\"c\",\"iamUserArn\":\"arn:aws:iam::0:user/c\","
    "\"registrationStatus\":\"Registered\",\"tags\":[{\"Key\":\"env\",\"Value\":\"prod\"},{\"Key\":\"role\",\"Value\":"
    "\"db\"}]},"
    "{\"instanceName\":\"d\",\"iamUserArn\":\"arn:aws:iam::0:user/d\","
    "\"registrationStatus\":\"Deregistered\",\"deregisterTime\":5,\"tags\":[{\"Key\":\"env\",\"Value\":\"prod\"}]},"
    "{\"instanceName\":\"e\",\"iamUserArn\":\"arn:aws:iam::0:user/e\","
    "\"registrationStatus\":\"Registered\",\"tags\":[{\"Key\":\"owner\",\"Value\":\"prod\"}]}"
    "]";

/* Resolves group and returns the selected names joined by ',' (static buffer). */
static const char *resolve(const char *group)
{
	static char names[256];
	struct rollout_error err = {.size = sizeof(err)};
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.deployment_id = "d-TEST00000");
	char *out = NULL;
	json_t *arr;
	size_t i;
	json_t *t;

	assert_int_equal(rollout_testing_set_onprem_instances(T, fleet), 0);
	if (onprem_resolve(S, &dep, group, &out, &err) < 0)
		fail_msg("resolve failed: %s %s", err.code, err.message);
	arr = json_loads(out, 0, NULL);
	assert_non_null(arr);
	names[0] = 0;
	json_array_foreach(arr, i, t)
	{
		if (i)
			strcat(names, ",");
		strcat(names, json_string_value(json_object_get(t, "targetId")));
		assert_string_equal(json_string_value(json_object_get(t, "instanceType")), "OnPremises");
		assert_non_null(json_object_get(t, "hostIdentifier"));
	}
	json_decref(arr);
	free(out);
	return names;
}

static void test_filters(void **state)
{
	/* KEY_AND_VALUE */
	assert_string_equal(resolve("{\"onPremisesInstanceTagFilters\":[{\"Key\":\"env\",\"Value\":\"prod\","
				    "\"Type\":\"KEY_AND_VALUE\"}]}"),
			    "a,c");
	/* KEY_ONLY: d is deregistered and never a target */
	assert_string_equal(resolve("{\"onPremisesInstanceTagFilters\":[{\"Key\":\"env\",\"Type\":\"KEY_ONLY\"}]}"),
			    "a,b,c");
	/* VALUE_ONLY matches any key */
	assert_string_equal(
	    resolve("{\"onPremisesInstanceTagFilters\":[{\"Value\":\"prod\",\"Type\":\"VALUE_ONLY\"}]}"), "a,c,e");
	/* OR of filters */
	assert_string_equal(resolve("{\"onPremisesInstanceTagFilters\":["
				    "{\"Key\":\"role\",\"Value\":\"db\",\"Type\":\"KEY_AND_VALUE\"},"
				    "{\"Key\":\"env\",\"Value\":\"staging\",\"Type\":\"KEY_AND_VALUE\"}]}"),
			    "b,c");
	/* no Type: inferred */
	assert_string_equal(resolve("{\"onPremisesInstanceTagFilters\":[{\"Key\":\"role\",\"Value\":\"web\"}]}"),
			    "a,b");
	/* {Key} alone is KEY_ONLY, {Value} alone VALUE_ONLY; {Key, Value: ""} is KEY_ONLY too */
	assert_string_equal(resolve("{\"onPremisesInstanceTagFilters\":[{\"Key\":\"role\"}]}"), "a,b,c");
	assert_string_equal(resolve("{\"onPremisesInstanceTagFilters\":[{\"Value\":\"prod\"}]}"), "a,c,e");
	assert_string_equal(resolve("{\"onPremisesInstanceTagFilters\":[{\"Key\":\"owner\",\"Value\":\"\"}]}"), "e");
	/* nothing selects nothing */
	assert_string_equal(resolve("{}"), "");
	assert_string_equal(resolve("{\"onPremisesInstanceTagFilters\":[]}"), "");
}

static void test_bad_filter(void **state)
{
	struct rollout_error err = {.size = sizeof(err)};
	char *out = NULL;

	assert_int_equal(rollout_testing_set_onprem_instances(T, fleet), 0);
	assert_int_equal(onprem_resolve(S, NULL,
					"{\"onPremisesInstanceTagFilters\":[{\"Key\":\"a\",\"Type\":\"SOME\"}]}", &out,
					&err),
			 -EINVAL);
	assert_null(out);
	assert_non_null(strstr(err.message, "Type: expected KEY_ONLY, VALUE_ONLY or KEY_AND_VALUE, found 'SOME'"));
	assert_non_null(strstr(err.message, "UpdateDeploymentGroup"));
}

/* On a daemon of ABI 1.0 (no tag filter in its host table) init says why it
 * cannot run, instead of calling what is not there. */
static void test_old_daemon(void **state)
{
	struct rollout_testing *old = rollout_testing_new("onprem", NULL);
	char err[512];
	void *st = NULL;

	assert_non_null(old);
	rollout_testing_set_abi_minor(old, 0);
	assert_int_equal(rollout_testing_init(old, &onprem_plugin, &st, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "needs the host function tag_filter_new of plugin ABI 1.1"));
	assert_non_null(strstr(err, "offers ABI 1.0; upgrade rolloutd"));
	rollout_testing_free(old);
}

static void test_tag_set(void **state)
{
	/* (env=prod) AND (role=web OR role=db) */
	assert_string_equal(resolve("{\"onPremisesTagSet\":{\"onPremisesTagSetList\":["
				    "[{\"Key\":\"env\",\"Value\":\"prod\",\"Type\":\"KEY_AND_VALUE\"}],"
				    "[{\"Key\":\"role\",\"Value\":\"web\",\"Type\":\"KEY_AND_VALUE\"},"
				    " {\"Key\":\"role\",\"Value\":\"db\",\"Type\":\"KEY_AND_VALUE\"}]]}}"),
			    "a,c");
	/* (role=web) AND (env=staging) */
	assert_string_equal(resolve("{\"onPremisesTagSet\":{\"onPremisesTagSetList\":["
				    "[{\"Key\":\"role\",\"Value\":\"web\",\"Type\":\"KEY_AND_VALUE\"}],"
				    "[{\"Key\":\"env\",\"Value\":\"staging\",\"Type\":\"KEY_AND_VALUE\"}]]}}"),
			    "b");
	/* targetInstances overrides the group's selection */
	assert_string_equal(resolve("{\"onPremisesInstanceTagFilters\":[{\"Key\":\"env\",\"Type\":\"KEY_ONLY\"}],"
				    "\"targetInstances\":{\"tagFilters\":[{\"Key\":\"role\",\"Value\":\"db\",\"Type\":"
				    "\"KEY_AND_VALUE\"}]}}"),
			    "c");
}

static void test_descriptor(void **state)
{
	const struct rollout_plugin *p = rollout_plugin_v1();
	assert_int_equal(p->magic, ROLLOUT_PLUGIN_MAGIC);
	assert_int_equal(p->kind, ROLLOUT_KIND_PLATFORM);
	assert_string_equal(p->name, "onprem");
	assert_non_null(p->ops.platform->resolve);
	assert_true(p->ops.platform->compute_platforms & ROLLOUT_COMPUTE_SERVER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_filters),    cmocka_unit_test(test_bad_filter), cmocka_unit_test(test_tag_set),
	    cmocka_unit_test(test_old_daemon), cmocka_unit_test(test_descriptor),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
