/* cli/plan: how `rolloutctl plan` shows a PlanDeployment answer: batches and
 * the instances left out, NO_INSTANCES as a plan, other failures as errors. */
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

/* Runs print into memory streams; returns what went to the first one. */
struct captured {
	char *out, *err;
	size_t out_len, err_len;
	FILE *o, *e;
};

static void capture(struct captured *c)
{
	memset(c, 0, sizeof(*c));
	c->o = open_memstream(&c->out, &c->out_len);
	c->e = open_memstream(&c->err, &c->err_len);
	assert_non_null(c->o);
	assert_non_null(c->e);
}

static void release(struct captured *c)
{
	fclose(c->o);
	fclose(c->e);
}

static void captured_free(struct captured *c)
{
	free(c->out);
	free(c->err);
}

static const char plan_ok[] =
    "{\"applicationName\":\"web\",\"deploymentGroupName\":\"prod\",\"computePlatform\":\"Server\","
    "\"deploymentConfigName\":\"CodeDeployDefault.HalfAtATime\","
    "\"minimumHealthyHosts\":{\"type\":\"FLEET_PERCENT\",\"value\":50},\"minimumHealthy\":2,\"batchSize\":2,"
    "\"targets\":[\"web-3\",\"web-1\",\"web-2\",\"web-4\"],"
    "\"batches\":[[\"web-3\",\"web-1\"],[\"web-2\",\"web-4\"]],\"failedFirst\":[\"web-3\"],"
    "\"excluded\":[{\"instance\":\"dev-1\",\"reason\":\"its tags match none of the group's tag filters\"}]}";

static void test_plan_batches(void **state)
{
	json_t *plan = load(plan_ok);
	struct captured c;

	capture(&c);
	assert_int_equal(cli_plan_print(plan, c.o, c.e), CLI_EXIT_OK);
	release(&c);
	assert_string_equal(c.out, "Plan for web/prod with CodeDeployDefault.HalfAtATime (minimum healthy hosts: "
				   "FLEET_PERCENT 50)\n"
				   "  4 target instances, 2 at a time; at least 2 must stay healthy\n"
				   "  batch 1: web-3 web-1\n"
				   "  batch 2: web-2 web-4\n"
				   "  web-3 goes first: it failed in the group's last deployment\n"
				   "Not targeted:\n"
				   "  dev-1: its tags match none of the group's tag filters\n");
	assert_string_equal(c.err, "");
	captured_free(&c);
	json_decref(plan);
}

static void test_plan_no_instances(void **state)
{
	json_t *plan = load("{\"applicationName\":\"web\",\"deploymentGroupName\":\"empty\","
			    "\"deploymentConfigName\":\"CodeDeployDefault.OneAtATime\","
			    "\"minimumHealthyHosts\":{\"type\":\"MOST_CONCURRENCY\",\"value\":1},"
			    "\"targets\":[],\"batches\":[],\"excluded\":[],"
			    "\"errorInformation\":{\"code\":\"NO_INSTANCES\",\"message\":\"no instances\"}}");
	struct captured c;

	capture(&c);
	/* a plan that reaches nothing is still a plan */
	assert_int_equal(cli_plan_print(plan, c.o, c.e), CLI_EXIT_OK);
	release(&c);
	assert_non_null(strstr(c.out, "  no registered instance matches the group's tag filters: a deployment would "
				      "fail with NO_INSTANCES\n"));
	assert_null(strstr(c.out, "Not targeted"));
	assert_string_equal(c.err, "");
	captured_free(&c);
	json_decref(plan);
}

static void test_plan_would_fail(void **state)
{
	json_t *plan = load("{\"applicationName\":\"web\",\"deploymentGroupName\":\"prod\","
			    "\"deploymentConfigName\":\"AllHealthy\","
			    "\"minimumHealthyHosts\":{\"type\":\"HOST_COUNT\",\"value\":2},"
			    "\"targets\":[\"h0\",\"h1\"],\"batches\":[],\"excluded\":[],"
			    "\"errorInformation\":{\"code\":\"HEALTH_CONSTRAINTS_INVALID\",\"message\":\"too few\"}}");
	struct captured c;

	capture(&c);
	assert_int_equal(cli_plan_print(plan, c.o, c.e), CLI_EXIT_FAILED);
	release(&c);
	assert_null(strstr(c.out, "batch"));
	assert_string_equal(
	    c.err, "error: a deployment would fail before its first batch: HEALTH_CONSTRAINTS_INVALID: too few\n");
	captured_free(&c);
	json_decref(plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan_batches),
	    cmocka_unit_test(test_plan_no_instances),
	    cmocka_unit_test(test_plan_would_fail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
