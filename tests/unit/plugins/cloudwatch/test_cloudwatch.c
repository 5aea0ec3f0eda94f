/* cloudwatch plugin: DescribeAlarms answers, the signed request, settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mock_host.h"

#include "plugins/cloudwatch/cloudwatch.c"

#define ANSWER(state, reason)                                                                                          \
	"<DescribeAlarmsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><DescribeAlarmsResult>"     \
	"<MetricAlarms><member><AlarmName>cpu</AlarmName><StateValue>" state "</StateValue><StateReason>" reason       \
	"</StateReason></member></MetricAlarms></DescribeAlarmsResult></DescribeAlarmsResponse>"

static void test_parse(void **state)
{
	struct rollout_alarm_result res = {.size = sizeof(res)};
	struct rollout_error e = {.size = sizeof(e)};
	(void)state;

	assert_int_equal(cw_parse("a", "cpu", 200, ANSWER("OK", "fine"), &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_OK);
	assert_int_equal(cw_parse("a", "cpu", 200, ANSWER("ALARM", "Threshold &gt; 5 &amp; rising"), &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	assert_non_null(strstr(res.reason, "Threshold > 5 & rising"));
	assert_int_equal(cw_parse("a", "cpu", 200, ANSWER("INSUFFICIENT_DATA", ""), &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_INSUFFICIENT_DATA);
	/* no such alarm: a failed poll naming the fix */
	assert_int_equal(cw_parse("a", "cpu", 200,
				  "<DescribeAlarmsResponse><DescribeAlarmsResult><MetricAlarms/></DescribeAlarmsResult>"
				  "</DescribeAlarmsResponse>",
				  &res, &e),
			 -ENOENT);
	assert_non_null(strstr(e.message, "no alarm named 'cpu'"));
	assert_int_equal(cw_parse("a", "cpu", 403,
				  "<ErrorResponse><Error><Code>AccessDenied</Code><Message>nope</Message></Error>"
				  "</ErrorResponse>",
				  &res, &e),
			 -EACCES);
	assert_non_null(strstr(e.message, "AccessDenied: nope"));
}

static void test_check(void **state)
{
	struct cw s = {.host = &mock_host, .timeout_ms = 1000, .endpoint = "http://cw:5000/"};
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.region = "eu-west-1");
	struct rollout_alarm_result res = {.size = sizeof(res)};
	struct rollout_error e = {.size = sizeof(e)};
	static const struct mock_answer answers[] = {{"http://cw:5000/", 200, ANSWER("ALARM", "x")}, {NULL}};
	(void)state;

	MOCK.answers = answers;
	assert_int_equal(cw_check(&s, &dep, "my alarm", "{\"plugin\":\"cloudwatch\"}", &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	assert_string_equal(MOCK.last_service, "monitoring");
	assert_string_equal(MOCK.last_body, "Action=DescribeAlarms&Version=2010-08-01&AlarmNames.member.1=my%20alarm");
	assert_int_equal(cw_check(&s, &dep, "x", "{\"alarm_name\":\"prod-cpu\"}", &res, &e), 0);
	assert_non_null(strstr(MOCK.last_body, "AlarmNames.member.1=prod-cpu"));
	assert_int_equal(cw_validate_alarm(&s, "x", "{\"alarm\":\"y\"}", &e), -EINVAL);
	assert_non_null(strstr(e.message, "unknown setting 'alarm'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
