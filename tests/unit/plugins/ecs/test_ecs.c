/* ecs plugin: the AppSpec's TargetService, the deployment group's service
 * and target-group pair, and the target view (taskSetsInfo) from a stored
 * state. The AWS calls are covered by the integration tests against
 * moto_server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "plugins/ecs/ecs.c"

static const char *appspec(const char *props)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{\"version\":\"0.0\",\"Resources\":[{\"TargetService\":{\"Type\":\"AWS::ECS::Service\","
		 "\"Properties\":{%s}}}]}",
		 props);
	return buf;
}

#define TD "\"TaskDefinition\":\"arn:aws:ecs:us-east-1:1:task-definition/web:2\""
#define LBI "\"LoadBalancerInfo\":{\"ContainerName\":\"web\",\"ContainerPort\":\"80\"}"

static void expect_error(const char *props, const char *text)
{
	struct rollout_error e = {.size = sizeof(e)};
	struct ecs_spec s;

	assert_int_equal(ecs_parse_appspec(appspec(props), &s, &e), -EINVAL);
	assert_string_equal(e.code, "INVALID_REVISION");
	if (!strstr(e.message, text))
		fail_msg("'%s' not in '%s'", text, e.message);
}

static void test_appspec(void **unused)
{
	struct rollout_error e = {.size = sizeof(e)};
	struct ecs_spec s;
	char *txt;
	(void)unused;

	/* scalars arrive as strings; keys in either case */
	assert_int_equal(
	    ecs_parse_appspec(appspec(TD ",\"loadbalancerinfo\":{\"containername\":\"web\","
					 "\"containerport\":\"8080\"},\"PlatformVersion\":\"1.4.0\","
					 "\"NetworkConfiguration\":{\"AwsvpcConfiguration\":{\"Subnets\":"
					 "[\"s-1\",\"s-2\"],\"SecurityGroups\":[\"sg-1\"],\"AssignPublicIp\":"
					 "\"DISABLED\"}},\"CapacityProviderStrategy\":[{\"CapacityProvider\":"
					 "\"FARGATE_SPOT\",\"Weight\":\"2\",\"Base\":\"1\"}]"),
			      &s, &e),
	    0);
	assert_string_equal(s.container, "web");
	assert_int_equal(s.port, 8080);
	assert_string_equal(s.platform_version, "1.4.0");
	txt = json_dumps(s.network, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(txt, "{\"awsvpcConfiguration\":{\"assignPublicIp\":\"DISABLED\",\"securityGroups\":"
				 "[\"sg-1\"],\"subnets\":[\"s-1\",\"s-2\"]}}");
	free(txt);
	txt = json_dumps(s.cps, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(txt, "[{\"base\":1,\"capacityProvider\":\"FARGATE_SPOT\",\"weight\":2}]");
	free(txt);
	ecs_spec_clear(&s);
	assert_int_equal(ecs_parse_appspec(appspec(TD "," LBI ",\"LaunchType\":\"FARGATE\""), &s, &e), 0);
	assert_string_equal(s.launch_type, "FARGATE");
	assert_null(s.network);
	ecs_spec_clear(&s);

	expect_error(LBI, "TaskDefinition is missing");
	expect_error(TD, "ContainerName is missing");
	expect_error(TD ",\"LoadBalancerInfo\":{\"ContainerName\":\"web\",\"ContainerPort\":\"http\"}",
		     "ContainerPort is missing or not a port number");
	expect_error(TD "," LBI ",\"NetworkConfiguration\":{\"AwsvpcConfiguration\":{\"Subnets\":[\"s-1\"]}}",
		     "all or none");
	expect_error(TD "," LBI ",\"LaunchType\":\"LAMBDA\"", "FARGATE, EC2 or EXTERNAL");
	expect_error(TD "," LBI
			",\"LaunchType\":\"FARGATE\",\"CapacityProviderStrategy\":[{\"CapacityProvider\":\"x\"}]",
		     "give one");
	assert_int_equal(ecs_parse_appspec("{\"Resources\":[{\"f\":{\"Type\":\"AWS::Lambda::Function\"}}]}", &s, &e),
			 -EINVAL);
	assert_non_null(strstr(e.message, "AWS::ECS::Service"));
}

static void test_group(void **unused)
{
	struct rollout_error e = {.size = sizeof(e)};
	struct ecs_group g;
	(void)unused;

	assert_int_equal(
	    ecs_parse_group("{\"ecsServices\":[{\"serviceName\":\"web\",\"clusterName\":\"c1\"}],"
			    "\"loadBalancerInfo\":{\"targetGroupPairInfoList\":[{\"targetGroups\":[{\"name\":"
			    "\"a\"},{\"name\":\"b\"}],\"prodTrafficRoute\":{\"listenerArns\":[\"L80\"]}}]}}",
			    &g, &e),
	    0);
	assert_string_equal(g.cluster, "c1");
	assert_string_equal(g.service, "web");
	assert_string_equal(g.tg[1], "b");
	assert_string_equal(g.prod, "L80");
	assert_string_equal(g.test, "");
	assert_int_equal(ecs_parse_group("{}", &g, &e), -EINVAL);
	assert_string_equal(e.code, "INVALID_ECS_SERVICE");
	assert_int_equal(
	    ecs_parse_group("{\"ecsServices\":[{\"serviceName\":\"web\",\"clusterName\":\"c1\"}],"
			    "\"loadBalancerInfo\":{\"targetGroupPairInfoList\":[{\"targetGroups\":[{\"name\":"
			    "\"a\"},{\"name\":\"a\"}]}]}}",
			    &g, &e),
	    -EINVAL);
	assert_string_equal(e.code, "ELASTIC_LOAD_BALANCING_INVALID");
}

static void test_describe(void **unused)
{
	struct rollout_error e = {.size = sizeof(e)};
	const char *st = "{\"cluster\":\"c1\",\"service\":\"web\",\"serviceArn\":\"arn:svc\",\"tg\":[\"a\",\"b\"],"
			 "\"tgArn\":[\"A\",\"B\"],\"orig\":1,\"prod\":\"L\",\"origSet\":\"arn:o\",\"info\":{\"orig\":"
			 "{\"identifer\":\"ecs-svc/1\",\"status\":\"PRIMARY\"},\"repl\":{\"identifer\":\"ecs-svc/2\","
			 "\"status\":\"ACTIVE\",\"desiredCount\":2,\"runningCount\":1}}}";
	struct rollout_shift_call call = ROLLOUT_SHIFT_CALL_INIT(.state_json = st, .percent = 30);
	char *out = NULL;
	(void)unused;

	assert_int_equal(ecs_describe(NULL, &call, &out, &e), 0);
	assert_string_equal(out, "{\"targetArn\":\"arn:svc\",\"taskSetsInfo\":[{\"identifer\":\"ecs-svc/1\",\"status\":"
				 "\"PRIMARY\",\"trafficWeight\":70.0,\"targetGroup\":{\"name\":\"b\"},\"taskSetLabel\":"
				 "\"Blue\"},{\"identifer\":\"ecs-svc/2\",\"status\":\"ACTIVE\",\"desiredCount\":2,"
				 "\"runningCount\":1,\"trafficWeight\":30.0,\"targetGroup\":{\"name\":\"a\"},"
				 "\"taskSetLabel\":\"Green\"}]}");
	free(out);
	call.state_json = "{\"cluster\":\"c1\"}";
	assert_int_equal(ecs_describe(NULL, &call, &out, &e), -EINVAL);
	assert_non_null(strstr(e.message, "damaged"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_appspec),
	    cmocka_unit_test(test_group),
	    cmocka_unit_test(test_describe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
