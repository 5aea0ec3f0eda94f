/* daemon/engine/engine_hostcmd_id.c: the host-command protocol's
 * identifiers (HostCommandIdentifier, DeploymentExecutionId). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine_hostcmd_id.h"

static void test_cmd_id(void **state)
{
	struct cmd_id a = {.deployment_id = "d-ABCDEFGHI",
			   .instance = "web-1.example",
			   .event = "BeforeInstall",
			   .attempt = 2},
		      b;
	char s[CMD_ID_MAX];

	assert_int_equal(cmd_id_encode(&a, s, sizeof(s)), 0);
	assert_null(strchr(s, '|'));
	assert_int_equal(cmd_id_decode(s, &b), 0);
	assert_string_equal(b.deployment_id, a.deployment_id);
	assert_string_equal(b.instance, a.instance);
	assert_string_equal(b.event, a.event);
	assert_int_equal(b.attempt, 2);

	assert_int_equal(cmd_id_decode("", &b), -EINVAL);
	assert_int_equal(cmd_id_decode("not base64!!", &b), -EINVAL);
	assert_int_equal(cmd_id_decode("eyJhIjoxfQ==", &b), -EINVAL); /* {"a":1} */
	strcpy(a.instance, "bad|name");
	assert_int_equal(cmd_id_encode(&a, s, sizeof(s)), -EINVAL);

	char ex[160], dep[16];
	assert_int_equal(cmd_execution_id("us-east-1", "000000000000", "d-ABCDEFGHI", ex, sizeof(ex)), 0);
	assert_string_equal(ex, "CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:000000000000:deployment/d-ABCDEFGHI");
	assert_int_equal(cmd_execution_id_parse(ex, dep, sizeof(dep)), 0);
	assert_string_equal(dep, "d-ABCDEFGHI");
	assert_int_equal(cmd_execution_id_parse("a/b/c", dep, sizeof(dep)), -EINVAL);
	assert_int_equal(cmd_execution_id_parse("a/b/c/arn:x:deployment/", dep, sizeof(dep)), -EINVAL);
}

/* EC2 agents report their instance ARN; the engine knows them by instance id. */
static void test_ec2_instance_id(void **state)
{
	char id[20];

	assert_int_equal(
	    cmd_ec2_instance_id("arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0", id, sizeof(id)), 0);
	assert_string_equal(id, "i-0123456789abcdef0");
	assert_int_equal(cmd_ec2_instance_id("arn:aws-cn:ec2:cn-north-1:1:instance/i-12345678", id, sizeof(id)), 0);
	assert_string_equal(id, "i-12345678");
	assert_int_equal(cmd_ec2_instance_id("i-12345678", id, sizeof(id)), -EINVAL);
	assert_int_equal(cmd_ec2_instance_id("arn:aws:iam::1:user/i-12345678", id, sizeof(id)), -EINVAL);
	assert_int_equal(cmd_ec2_instance_id("arn:aws:ec2:r:1:instance/i-web", id, sizeof(id)), -EINVAL);
	assert_int_equal(cmd_ec2_instance_id("arn:aws:ec2:r:1:instance/i-1234567Z", id, sizeof(id)), -EINVAL);
	assert_int_equal(cmd_ec2_instance_id("arn:aws:ec2:r:1:x:instance/i-12345678", id, sizeof(id)), -EINVAL);
	assert_int_equal(cmd_ec2_instance_id(NULL, id, sizeof(id)), -EINVAL);
	assert_int_equal(cmd_ec2_instance_id("arn:aws:ec2:r:1:instance/i-12345678", id, 5), -ENOBUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cmd_id),
	    cmocka_unit_test(test_ec2_instance_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
