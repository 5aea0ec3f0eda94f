/* cli/progress: progress rendering from GetDeployment /
 * BatchGetDeploymentInstances JSON. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("bad test JSON at %d: %s", e.position, e.text);
	return j;
}

static const char info_inprogress[] =
    "{\"deploymentId\":\"d-ABCDEFGH1\",\"status\":\"InProgress\",\"applicationName\":\"web\","
    "\"deploymentGroupName\":\"prod\",\"deploymentConfigName\":\"CodeDeployDefault.OneAtATime\","
    "\"createTime\":1000,\"deploymentOverview\":{\"Pending\":1,\"InProgress\":1,\"Succeeded\":1,"
    "\"Failed\":0,\"Skipped\":0,\"Ready\":0}}";

/* host-1 done, host-2 in ApplicationStart, host-3 pending (ARN id). */
static const char summaries_inprogress[] =
    "[{\"instanceId\":\"host-2\",\"status\":\"InProgress\",\"lifecycleEvents\":["
    "{\"lifecycleEventName\":\"ApplicationStop\",\"status\":\"Succeeded\",\"startTime\":1010,\"endTime\":1011},"
    "{\"lifecycleEventName\":\"DownloadBundle\",\"status\":\"Succeeded\",\"startTime\":1011,\"endTime\":1012},"
    "{\"lifecycleEventName\":\"ApplicationStart\",\"status\":\"InProgress\",\"startTime\":1012},"
    "{\"lifecycleEventName\":\"ValidateService\",\"status\":\"Pending\"}]},"
    "{\"instanceId\":\"host-1\",\"status\":\"Succeeded\",\"lifecycleEvents\":["
    "{\"lifecycleEventName\":\"ApplicationStop\",\"status\":\"Skipped\",\"startTime\":1001,\"endTime\":1001},"
    "{\"lifecycleEventName\":\"DownloadBundle\",\"status\":\"Succeeded\",\"startTime\":1001,\"endTime\":1003},"
    "{\"lifecycleEventName\":\"ApplicationStart\",\"status\":\"Succeeded\",\"startTime\":1003,\"endTime\":1005},"
    "{\"lifecycleEventName\":\"ValidateService\",\"status\":\"Succeeded\",\"startTime\":1005,\"endTime\":1009}]},"
    "{\"instanceId\":\"arn:aws:codedeploy:us-east-1:000000000000:instance/host-3\",\"status\":\"Pending\","
    "\"lifecycleEvents\":[{\"lifecycleEventName\":\"ApplicationStop\",\"status\":\"Pending\"}]}]";

static void test_progress_parse(void **state)
{
	struct progress p = {0};
	json_t *info = load(info_inprogress), *sums = load(summaries_inprogress);

	assert_int_equal(progress_update(&p, info, sums), 0);
	assert_string_equal(p.deployment_id, "d-ABCDEFGH1");
	assert_false(progress_is_terminal(&p));
	assert_int_equal(p.n, 3);
	/* sorted by name, ARN shortened */
	assert_string_equal(p.inst[0].id, "host-1");
	assert_string_equal(p.inst[1].id, "host-2");
	assert_string_equal(p.inst[2].id, "host-3");
	assert_string_equal(p.inst[0].event, "ValidateService");
	assert_int_equal(p.inst[0].events_done, 4);
	assert_string_equal(p.inst[1].event, "ApplicationStart");
	assert_string_equal(p.inst[1].event_status, "InProgress");
	assert_int_equal(p.inst[1].events_done, 2);
	assert_int_equal(p.inst[1].events_total, 4);
	assert_string_equal(p.inst[2].event, "");
	assert_true(p.inst[0].start == 1001 && p.inst[0].end == 1009);
	assert_int_equal(p.pending, 1);
	assert_int_equal(p.succeeded, 1);
	/* an instance skipped after a failure elsewhere shows no event */
	json_t *skipped = load("[{\"instanceId\":\"h9\",\"status\":\"Skipped\",\"lifecycleEvents\":["
			       "{\"lifecycleEventName\":\"ApplicationStop\",\"status\":\"Skipped\"},"
			       "{\"lifecycleEventName\":\"ValidateService\",\"status\":\"Skipped\"}]}]");
	assert_int_equal(progress_update(&p, NULL, skipped), 0);
	assert_string_equal(p.inst[0].status, "Skipped");
	assert_string_equal(p.inst[0].event, "");
	assert_string_equal(p.deployment_id, "d-ABCDEFGH1"); /* info kept when only instances change */
	json_decref(skipped);
	progress_clear(&p);
	json_decref(info);
	json_decref(sums);
}

static void test_progress_tty(void **state)
{
	struct progress p = {0};
	json_t *info = load(info_inprogress), *sums = load(summaries_inprogress);
	char *s;

	progress_update(&p, info, sums);
	s = progress_render_tty(&p, 1020, 80, false);
	assert_non_null(s);
	/* header with elapsed time since createTime */
	assert_non_null(strstr(s, "Deployment d-ABCDEFGH1  web/prod  CodeDeployDefault.OneAtATime  InProgress  20s\n"));
	/* overall bar: 1 of 3 done, 30 wide on an 80-column terminal */
	assert_non_null(strstr(s, "[##########....................] 1/3 instances done, 1 in progress\n"));
	/* one row per instance: status, current event, elapsed, event bar */
	assert_non_null(strstr(s, "  host-1    Succeeded   ValidateService     8s       [#######] 4/4\n"));
	assert_non_null(strstr(s, "  host-2    InProgress  ApplicationStart    10s      [####...] 2/4\n"));
	assert_non_null(strstr(s, "  host-3    Pending     -                   -        [.......] 0/1\n"));
	assert_null(strstr(s, "\033["));
	free(s);
	/* with the batch size known (OneAtATime: 1), the current batch is shown */
	p.batch_size = 1;
	s = progress_render_tty(&p, 1020, 80, false);
	assert_non_null(strstr(s, " 1/3 instances done, 1 in progress · batch 2/3 [####...]\n"));
	free(s);
	p.batch_size = 2;
	s = progress_render_tty(&p, 1020, 80, false);
	assert_non_null(strstr(s, " · batch 1/2 [####...]\n"));
	free(s);
	/* colour only when asked */
	s = progress_render_tty(&p, 1020, 80, true);
	assert_non_null(strstr(s, "\033[32mSucceeded"));
	free(s);
	progress_clear(&p);
	json_decref(info);
	json_decref(sums);
}

static char *changes(const struct progress *old, const struct progress *p, double now, int *ret_lines)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*ret_lines = progress_render_changes(old, p, now, f);
	fclose(f);
	return buf;
}

static void test_progress_changes(void **state)
{
	struct progress empty = {0}, a = {0}, b = {0};
	json_t *info = load(info_inprogress), *sums = load(summaries_inprogress);
	json_t *info2, *sums2;
	char *out;
	int lines;

	progress_update(&a, info, sums);
	out = changes(&empty, &a, 1005, &lines);
	assert_int_equal(lines, 4); /* deployment status + 3 instances */
	assert_non_null(strstr(out, "[    5s] deployment d-ABCDEFGH1 InProgress\n"));
	assert_non_null(strstr(out, "[    5s] host-2 ApplicationStart InProgress (instance InProgress, 2/4 events)\n"));
	assert_non_null(strstr(out, "[    5s] host-3 Pending\n"));
	free(out);
	/* nothing changed: nothing printed */
	out = changes(&a, &a, 1006, &lines);
	assert_int_equal(lines, 0);
	assert_string_equal(out, "");
	free(out);
	/* host-2 moves on to ValidateService and fails it; the deployment fails */
	info2 = json_deep_copy(info);
	json_object_set_new(info2, "status", json_string("Failed"));
	sums2 = json_deep_copy(sums);
	json_t *h2 = json_array_get(sums2, 0);
	json_object_set_new(h2, "status", json_string("Failed"));
	json_t *evs = json_object_get(h2, "lifecycleEvents");
	json_object_set_new(json_array_get(evs, 2), "status", json_string("Succeeded"));
	json_object_set_new(json_array_get(evs, 3), "status", json_string("Failed"));
	progress_update(&b, info2, sums2);
	out = changes(&a, &b, 1030, &lines);
	assert_int_equal(lines, 2);
	assert_non_null(strstr(out, "[   30s] deployment d-ABCDEFGH1 Failed\n"));
	assert_non_null(strstr(out, "[   30s] host-2 ValidateService Failed (instance Failed, 3/4 events)\n"));
	assert_true(progress_is_terminal(&b));
	free(out);
	progress_clear(&a);
	progress_clear(&b);
	json_decref(info);
	json_decref(sums);
	json_decref(info2);
	json_decref(sums2);
}

/* A Lambda deployment: one lambdaTarget whose weight moves step by step. */
static void test_progress_lambda_weights(void **state)
{
	struct progress empty = {0}, a = {0}, b = {0};
	json_t *info = load(info_inprogress), *t1, *t2;
	const char *target =
	    "[{\"deploymentTargetType\":\"LambdaTarget\",\"lambdaTarget\":{\"targetId\":\"fn\",\"status\":"
	    "\"InProgress\",\"lifecycleEvents\":[{\"lifecycleEventName\":\"BeforeAllowTraffic\",\"status\":"
	    "\"Succeeded\",\"startTime\":1001,\"endTime\":1002},{\"lifecycleEventName\":\"AllowTraffic\","
	    "\"status\":\"InProgress\",\"startTime\":1002},{\"lifecycleEventName\":\"AfterAllowTraffic\","
	    "\"status\":\"Pending\"}],\"lambdaFunctionInfo\":{\"functionName\":\"fn\",\"targetVersionWeight\":"
	    "0.1}}}]";
	char *out, *tty;
	int lines;
	(void)state;

	t1 = load(target);
	t2 = json_deep_copy(t1);
	json_object_set_new(
	    json_object_get(json_object_get(json_array_get(t2, 0), "lambdaTarget"), "lambdaFunctionInfo"),
	    "targetVersionWeight", json_real(0.2));
	progress_update(&a, info, t1);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.inst[0].id, "fn");
	assert_string_equal(a.inst[0].event, "AllowTraffic");
	assert_int_equal(a.inst[0].weight, 10);
	out = changes(&empty, &a, 1005, &lines);
	assert_non_null(strstr(out,
			       "[    5s] fn AllowTraffic InProgress (target InProgress, 1/3 events, 10% of traffic on "
			       "the new version)\n"));
	free(out);
	/* the weight alone changed: one line */
	progress_update(&b, info, t2);
	out = changes(&a, &b, 1010, &lines);
	assert_int_equal(lines, 1);
	assert_non_null(strstr(out, "20% of traffic on the new version"));
	free(out);
	tty = progress_render_tty(&b, 1010, 120, false);
	assert_non_null(strstr(tty, "traffic 20%"));
	free(tty);
	progress_clear(&a);
	progress_clear(&b);
	json_decref(info);
	json_decref(t1);
	json_decref(t2);
}

static void test_progress_failure(void **state)
{
	struct progress p = {0};
	json_t *info = load("{\"deploymentId\":\"d-FAILED001\",\"status\":\"Failed\","
			    "\"errorInformation\":{\"code\":\"HEALTH_CONSTRAINTS\",\"message\":\"too many failed\"},"
			    "\"rollbackInfo\":{\"rollbackDeploymentId\":\"d-ROLLBACK1\"},"
			    "\"autoRollbackConfiguration\":{\"enabled\":true}}");
	/* BatchGetDeploymentTargets shape is understood too */
	json_t *targets =
	    load("[{\"deploymentTargetType\":\"InstanceTarget\",\"instanceTarget\":{"
		 "\"targetId\":\"web-2\",\"status\":\"Failed\",\"lifecycleEvents\":["
		 "{\"lifecycleEventName\":\"ApplicationStart\",\"status\":\"Succeeded\"},"
		 "{\"lifecycleEventName\":\"ValidateService\",\"status\":\"Failed\",\"diagnostics\":{"
		 "\"errorCode\":\"ScriptFailed\",\"scriptName\":\"scripts/validate.sh\","
		 "\"message\":\"exit code 1\",\"logTail\":\"[stdout]checking\\n[stderr]HTTP 500\\n\"}}]}}]");
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	progress_update(&p, info, targets);
	assert_true(p.auto_rollback);
	assert_string_equal(p.rollback_id, "d-ROLLBACK1");
	f = open_memstream(&buf, &len);
	progress_print_failure(&p, f);
	fclose(f);
	assert_string_equal(buf, "Deployment d-FAILED001 Failed: HEALTH_CONSTRAINTS: too many failed\n"
				 "  instance web-2 failed at ValidateService (ScriptFailed)\n"
				 "    script:  scripts/validate.sh\n"
				 "    message: exit code 1\n"
				 "    log tail:\n"
				 "      | [stdout]checking\n"
				 "      | [stderr]HTTP 500\n"
				 "  rolled back by deployment d-ROLLBACK1 (follow it: rolloutctl wait d-ROLLBACK1)\n");
	free(buf);
	progress_clear(&p);
	json_decref(info);
	json_decref(targets);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_progress_parse),	    cmocka_unit_test(test_progress_tty),
	    cmocka_unit_test(test_progress_changes),	    cmocka_unit_test(test_progress_failure),
	    cmocka_unit_test(test_progress_lambda_weights),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
