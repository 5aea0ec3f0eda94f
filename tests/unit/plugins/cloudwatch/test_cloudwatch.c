/* cloudwatch plugin: DescribeAlarms answers, the signed request, settings;
 * against the SDK's test host (rollout/testing.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "plugins/cloudwatch/cloudwatch.c"

#include <rollout/testing.h>

#define ANSWER(state, reason)                                                                                          \
	"<DescribeAlarmsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><DescribeAlarmsResult>"     \
	"<MetricAlarms><member><AlarmName>cpu</AlarmName><StateValue>" state "</StateValue><StateReason>" reason       \
	"</StateReason></member></MetricAlarms></DescribeAlarmsResult></DescribeAlarmsResponse>"

static struct rollout_testing *T;
static struct cw *S;

static int setup(void **state)
{
	char err[512];

	T = rollout_testing_new("cloudwatch", "endpoint: http://cw:5000/\ntimeout: 1s\n");
	if (!T || rollout_testing_init(T, &cw_plugin, (void **)&S, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	cw_destroy(S);
	T = rollout_testing_free(T);
	return 0;
}

static void test_parse(void **state)
{
	struct rollout_alarm_result res = {.size = sizeof(res)};
	struct rollout_error e = {.size = sizeof(e)};
	(void)state;

	assert_int_equal(cw_parse(S, "a", "cpu", 200, ANSWER("OK", "fine"), &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_OK);
	assert_int_equal(cw_parse(S, "a", "cpu", 200, ANSWER("ALARM", "Threshold &gt; 5 &amp; rising"), &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	assert_non_null(strstr(res.reason, "Threshold > 5 & rising"));
	assert_int_equal(cw_parse(S, "a", "cpu", 200, ANSWER("INSUFFICIENT_DATA", ""), &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_INSUFFICIENT_DATA);
	/* a composite alarm answers under CompositeAlarms */
	assert_int_equal(
	    cw_parse(S, "a", "all", 200,
		     "<DescribeAlarmsResponse><DescribeAlarmsResult><MetricAlarms/><CompositeAlarms><member>"
		     "<StateValue>OK</StateValue></member></CompositeAlarms></DescribeAlarmsResult>"
		     "</DescribeAlarmsResponse>",
		     &res, &e),
	    0);
	assert_int_equal(res.state, ROLLOUT_ALARM_OK);
	/* no such alarm: a failed poll naming the fix */
	assert_int_equal(cw_parse(S, "a", "cpu", 200,
				  "<DescribeAlarmsResponse><DescribeAlarmsResult><MetricAlarms/></DescribeAlarmsResult>"
				  "</DescribeAlarmsResponse>",
				  &res, &e),
			 -ENOENT);
	assert_non_null(strstr(e.message, "no alarm named 'cpu'"));
	assert_int_equal(cw_parse(S, "a", "cpu", 403,
				  "<ErrorResponse><Error><Code>AccessDenied</Code><Message>nope</Message></Error>"
				  "</ErrorResponse>",
				  &res, &e),
			 -EACCES);
	assert_non_null(strstr(e.message, "AccessDenied: nope"));
	/* an answer that is not XML at all */
	assert_int_equal(cw_parse(S, "a", "cpu", 502, "Bad Gateway", &res, &e), -EIO);
	assert_non_null(strstr(e.message, "HTTP 502"));
	assert_int_equal(cw_parse(S, "a", "cpu", 200, "<oops", &res, &e), -EIO);
	assert_non_null(strstr(e.message, "answered no XML"));
}

static void test_check(void **state)
{
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.region = "eu-west-1");
	struct rollout_alarm_result res = {.size = sizeof(res)};
	struct rollout_error e = {.size = sizeof(e)};
	static const struct rollout_testing_answer answers[] = {
	    {.url_prefix = "http://cw:5000/", .status = 200, .body = ANSWER("ALARM", "x")}, {NULL}};
	const struct rollout_testing_request *last = rollout_testing_last_request(T);
	(void)state;

	rollout_testing_set_answers(T, answers);
	assert_int_equal(cw_check(S, &dep, "my alarm", "{\"plugin\":\"cloudwatch\"}", &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	assert_string_equal(last->aws_service, "monitoring");
	assert_string_equal(last->aws_region, "eu-west-1");
	assert_int_equal(last->timeout_ms, 1000);
	assert_string_equal(last->body, "Action=DescribeAlarms&Version=2010-08-01&AlarmNames.member.1=my%20alarm");
	assert_int_equal(cw_check(S, &dep, "x", "{\"alarm_name\":\"prod-cpu\"}", &res, &e), 0);
	assert_non_null(strstr(last->body, "AlarmNames.member.1=prod-cpu"));
	assert_int_equal(rollout_testing_calls(T), 2);
	assert_int_equal(cw_validate_alarm(S, "x", "{\"alarm\":\"y\"}", &e), -EINVAL);
	assert_non_null(strstr(e.message, "unknown setting 'alarm' (accepted: alarm_name, plugin, interval"));
	assert_int_equal(cw_validate_alarm(S, "x", "{\"alarm_name\":\"\"}", &e), -EINVAL);
	assert_non_null(strstr(e.message, "alarm_name must be 1 to 255 characters"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
