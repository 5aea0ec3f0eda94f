/* cli/nouns: the table of list/batch-get nouns and the one printer: columns of
 * members, dates and computed cells, fallbacks, and the -o json shape. */
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
#include "cli/nouns.h"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("bad test JSON at %d: %s", e.position, e.text);
	return j;
}

static char *print(const struct cli_noun *n, const char *infos_text, bool json)
{
	struct cli c = {.json = json};
	json_t *infos = load(infos_text);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	cli_noun_print(&c, n, infos, f);
	fclose(f);
	json_decref(infos);
	return buf;
}

static void expect_lines(const char *got, const char *const *want, size_t n)
{
	const char *p = got;

	for (size_t i = 0; i < n; i++) {
		const char *nl = strchr(p, '\n');
		if (!nl || strncmp(p, want[i], (size_t)(nl - p)) != 0 || strlen(want[i]) != (size_t)(nl - p))
			fail_msg("line %zu: got\n%s\nwant '%s'", i, got, want[i]);
		p = nl + 1;
	}
	if (*p)
		fail_msg("extra output: %s", p);
}

static void test_table(void **state)
{
	static const struct cli_noun *const all[] = {
	    &cli_noun_applications,	&cli_noun_groups,      &cli_noun_configs,
	    &cli_noun_revisions,	&cli_noun_deployments, &cli_noun_deployment_instances,
	    &cli_noun_onprem_instances,
	};

	/* every noun names its operations and keys; only batch gets have a chunk */
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const struct cli_noun *n = all[i];
		assert_non_null(n->list_op);
		assert_non_null(n->list_key);
		assert_non_null(n->get_op);
		assert_non_null(n->get_key);
		assert_non_null(n->result_key);
		assert_non_null(n->json_key);
		assert_true(n->get_one == (n->chunk == 0));
		assert_true(n->ncols <= 16);
		for (size_t k = 0; k < n->ncols; k++)
			assert_true(!!n->columns[k].member + !!n->columns[k].time_member + !!n->columns[k].format == 1);
	}
}

static void test_groups(void **state)
{
	char *out =
	    print(&cli_noun_groups,
		  "[{\"deploymentGroupName\":\"prod\",\"deploymentConfigName\":\"CodeDeployDefault.OneAtATime\","
		  "\"onPremisesInstanceTagFilters\":[{\"Key\":\"env\",\"Value\":\"prod\",\"Type\":\"KEY_AND_VALUE\"},"
		  "{\"Key\":\"web\",\"Type\":\"KEY_ONLY\"}],"
		  "\"autoRollbackConfiguration\":{\"enabled\":true},"
		  "\"lastSuccessfulDeployment\":{\"deploymentId\":\"d-1\"},"
		  "\"lastAttemptedDeployment\":{\"deploymentId\":\"d-2\",\"status\":\"Failed\"}},"
		  "{\"deploymentGroupName\":\"set\",\"onPremisesTagSet\":{\"onPremisesTagSetList\":"
		  "[[{\"Key\":\"a\",\"Value\":\"1\"}],[{\"Value\":\"x\",\"Type\":\"VALUE_ONLY\"}]]}}]",
		  false);
	static const char *const want[] = {
	    "NAME  CONFIG                        TARGETS         AUTO-ROLLBACK  LAST SUCCESS  LAST ATTEMPT",
	    "prod  CodeDeployDefault.OneAtATime  env=prod,web    on             d-1           d-2 Failed",
	    "set   -                             (a=1) AND (=x)  off            -             -",
	};

	expect_lines(out, want, 3);
	free(out);
}

static void test_configs_and_fallbacks(void **state)
{
	char *out = print(&cli_noun_configs,
			  "[{\"deploymentConfigName\":\"Half\",\"computePlatform\":\"Server\","
			  "\"minimumHealthyHosts\":{\"type\":\"FLEET_PERCENT\",\"value\":50}},"
			  "{\"deploymentConfigName\":\"Canary\",\"trafficRoutingConfig\":{\"type\":\"TimeBasedCanary\","
			  "\"timeBasedCanary\":{\"canaryPercentage\":10,\"canaryInterval\":5}}},"
			  "{\"computePlatform\":\"Lambda\"}]",
			  false);
	static const char *const want[] = {
	    "NAME    PLATFORM  RULE",
	    "Half    Server    min healthy FLEET_PERCENT 50",
	    "Canary  Server    canary 10% then rest after 5 min",
	    "?       Lambda    -",
	};

	expect_lines(out, want, 4);
	free(out);
}

static void test_deployments_and_instances(void **state)
{
	char *out =
	    print(&cli_noun_deployments,
		  "[{\"deploymentId\":\"d-ABC\",\"applicationName\":\"web\",\"deploymentGroupName\":\"prod\","
		  "\"status\":\"Succeeded\",\"createTime\":1700000000,"
		  "\"revision\":{\"revisionType\":\"S3\",\"s3Location\":{\"bucket\":\"b\",\"key\":\"k.zip\"}}}]",
		  false);
	static const char *const want[] = {
	    "ID     APP/GROUP  STATUS     CREATOR  REVISION      CREATED",
	    "d-ABC  web/prod   Succeeded  -        s3://b/k.zip  2023-11-14 22:13:20Z",
	};
	static const char *const want_inst[] = {
	    "NAME   TAGS           REGISTERED            STATUS",
	    "web-1  env=prod,web=  2023-11-14 22:13:20Z  Registered",
	    "old    -              -                     Deregistered",
	};

	expect_lines(out, want, 2);
	free(out);
	out = print(&cli_noun_onprem_instances,
		    "[{\"instanceName\":\"web-1\",\"registerTime\":1700000000,"
		    "\"tags\":[{\"Key\":\"env\",\"Value\":\"prod\"},{\"Key\":\"web\",\"Value\":\"\"}]},"
		    "{\"instanceName\":\"old\",\"deregisterTime\":1700000001}]",
		    false);
	expect_lines(out, want_inst, 3);
	free(out);
}

static void test_json(void **state)
{
	char *out = print(&cli_noun_applications, "[{\"applicationName\":\"web\"}]", true);
	json_t *got = load(out), *want = load("{\"applicationsInfo\":[{\"applicationName\":\"web\"}]}");

	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	free(out);
	out = print(&cli_noun_configs, "[]", true);
	assert_string_equal(out, "{\n  \"deploymentConfigsInfo\": []\n}\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_groups),
	    cmocka_unit_test(test_configs_and_fallbacks),
	    cmocka_unit_test(test_deployments_and_instances),
	    cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
