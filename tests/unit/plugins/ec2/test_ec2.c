/* The ec2 platform plugin's logic, its .c included, against the SDK's test
 * host (rollout/testing.h): what a group selects, the DescribeInstances
 * filters that find the candidates, and the parsing of an answer (states,
 * tags, ARNs). The AWS calls themselves are tested against moto_server
 * (tests/integration/test_ec2_*.py). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "plugins/ec2/ec2.c"

#include <rollout/testing.h>

static struct rollout_testing *T;
static void *S;

static int setup(void **state)
{
	char err[512];

	T = rollout_testing_new("ec2", "{\"endpoint\": \"http://127.0.0.1:1\", \"max_attempts\": \"1\"}");
	if (!T || rollout_testing_init(T, &ec2_plugin, &S, err, sizeof(err)) < 0) {
		fprintf(stderr, "init: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	ec2_destroy(S);
	T = rollout_testing_free(T);
	return 0;
}

static void test_selection(void **state)
{
	struct ec2_selection s;
	char err[128];

	assert_int_equal(ec2_selection_parse("{\"ec2TagFilters\":[{\"Key\":\"env\",\"Value\":\"prod\"}],"
					     "\"autoScalingGroups\":[{\"name\":\"web\"},{\"name\":\"\"}]}",
					     &s, err, sizeof(err)),
			 0);
	assert_string_equal(s.filter_json, "[{\"Key\":\"env\",\"Value\":\"prod\"}]");
	assert_string_equal(s.asgs_json, "[\"web\"]");
	assert_null(s.ids_json);
	ec2_selection_clear(&s);
	/* the deployment's targetInstances replaces the group's selection */
	assert_int_equal(ec2_selection_parse("{\"ec2TagFilters\":[{\"Key\":\"env\",\"Value\":\"prod\"}],"
					     "\"targetInstances\":{\"autoScalingGroups\":[\"green\"]}}",
					     &s, err, sizeof(err)),
			 0);
	assert_null(s.filter_json);
	assert_string_equal(s.asgs_json, "[\"green\"]");
	ec2_selection_clear(&s);
	assert_int_equal(ec2_selection_parse("{\"ec2TagSet\":{\"ec2TagSetList\":[[{\"Key\":\"a\",\"Value\":\"b\"}]]}}",
					     &s, err, sizeof(err)),
			 0);
	assert_non_null(strstr(s.filter_json, "ec2TagSetList"));
	ec2_selection_clear(&s);
	/* an on-premises group selects no EC2 instance */
	assert_int_equal(
	    ec2_selection_parse("{\"onPremisesInstanceTagFilters\":[{\"Key\":\"a\"}]}", &s, err, sizeof(err)), 0);
	assert_null(s.filter_json);
	assert_null(s.asgs_json);
	ec2_selection_clear(&s);
	assert_int_equal(ec2_selection_parse("[]", &s, err, sizeof(err)), -EINVAL);
}

static void test_server_filters(void **state)
{
	char **f = NULL;
	size_t n = 0;

	assert_int_equal(ec2_server_filters("[{\"Key\":\"env\",\"Value\":\"pr*\",\"Type\":\"KEY_AND_VALUE\"},"
					    "{\"Key\":\"role\",\"Type\":\"KEY_ONLY\"},"
					    "{\"Value\":\"web 1\",\"Type\":\"VALUE_ONLY\"},"
					    "{\"Type\":\"KEY_ONLY\"}]",
					    &f, &n),
			 0);
	assert_int_equal(n, 3); /* a filter with nothing to compare selects nothing */
	assert_string_equal(f[0], "&Filter.1.Name=tag%3Aenv&Filter.1.Value.1=pr%2A");
	assert_string_equal(f[1], "&Filter.1.Name=tag-key&Filter.1.Value.1=role");
	assert_string_equal(f[2], "&Filter.1.Name=tag-value&Filter.1.Value.1=web%201");
	ec2_strv_free(f, n);
	/* a tag set: the first non-empty inner list finds every candidate */
	assert_int_equal(
	    ec2_server_filters("{\"ec2TagSetList\":[[],[{\"Key\":\"a\",\"Value\":\"b\"}],[{\"Key\":\"c\"}]]}", &f, &n),
	    0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0], "&Filter.1.Name=tag%3Aa&Filter.1.Value.1=b");
	ec2_strv_free(f, n);
	/* KEY_AND_VALUE without a Value means the empty value */
	assert_int_equal(ec2_server_filters("[{\"Key\":\"k\",\"Type\":\"KEY_AND_VALUE\"}]", &f, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0], "&Filter.1.Name=tag%3Ak&Filter.1.Value.1=");
	ec2_strv_free(f, n);
}

static const char *answer =
    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
    "<reservationSet><item><ownerId>111122223333</ownerId><instancesSet>"
    "<item><instanceId>i-00000000000000001</instanceId><instanceState><name>running</name></instanceState>"
    "<tagSet><item><key>env</key><value>prod</value></item><item><key>empty</key><value></value></item></tagSet></item>"
    "<item><instanceId>i-00000000000000002</instanceId><instanceState><name>stopped</name></instanceState></item>"
    "<item><instanceId>i-00000000000000003</instanceId><instanceState><name>terminated</name></instanceState></item>"
    "<item><instanceId>i-00000000000000004</instanceId><instanceState><name>shutting-down</name></instanceState></item>"
    "</instancesSet></item></reservationSet><nextToken>abc</nextToken></DescribeInstancesResponse>";

static void test_parse_instances(void **state)
{
	const struct rollout_host *host = rollout_testing_host(T);
	struct rollout_xml *doc = NULL;
	char err[256], *next = NULL;
	json_t *out = json_object(), *t;

	assert_int_equal(host->xml_parse(rollout_testing_handle(T), answer, strlen(answer), &doc, err, sizeof(err)), 0);
	assert_int_equal(ec2_parse_instances(host, doc, "eu-west-1", "000000000000", false, out, &next), 0);
	assert_string_equal(next, "abc");
	free(next);
	assert_int_equal(json_object_size(out), 2); /* shutting-down and terminated are no targets */
	t = json_object_get(out, "i-00000000000000001");
	assert_string_equal(json_string_value(json_object_get(t, "targetArn")),
			    "arn:aws:ec2:eu-west-1:111122223333:instance/i-00000000000000001");
	assert_string_equal(json_string_value(json_object_get(t, "hostIdentifier")),
			    json_string_value(json_object_get(t, "targetArn")));
	assert_string_equal(json_string_value(json_object_get(t, "instanceType")), "EC2");
	assert_string_equal(json_string_value(json_object_get(t, "instanceState")), "running");
	assert_int_equal(json_array_size(json_object_get(t, "tags")), 2);
	t = json_object_get(out, "i-00000000000000002");
	assert_string_equal(json_string_value(json_object_get(t, "instanceState")), "stopped");
	/* the daemon's own lookup by id sees every state */
	json_object_clear(out);
	assert_int_equal(ec2_parse_instances(host, doc, "eu-west-1", "0", true, out, &next), 0);
	free(next);
	assert_int_equal(json_object_size(out), 4);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(out, "i-00000000000000003"), "instanceState")),
	    "terminated");
	host->xml_free(doc);
	json_decref(out);
	assert_true(ec2_state_is_target("pending"));
	assert_true(ec2_state_is_target("stopping"));
	assert_false(ec2_state_is_target("terminated"));
}

/* A fake Auto Scaling for the copy of a blue/green deployment: the source
 * group "web-asg" (launch template, 3 instances of which 2 InService and
 * healthy, tags), and the copy once CreateAutoScalingGroup made it. */
struct fake_asg {
	bool created, deleted_source;
	char create_body[16384];
	int calls;
};

static const char asg_prefix[] = "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>"
				 "<AutoScalingGroups>";
static const char asg_suffix[] = "</AutoScalingGroups></DescribeAutoScalingGroupsResult>"
				 "</DescribeAutoScalingGroupsResponse>";

static int fake_asg(void *userdata, const struct rollout_testing_request *req, struct rollout_testing_answer *ret)
{
	struct fake_asg *f = userdata;
	static char body[8192];

	f->calls++;
	ret->status = 200;
	ret->body = body;
	if (strstr(req->body, "Action=DescribeAutoScalingGroups") &&
	    strstr(req->body, "AutoScalingGroupNames.member.1=web-asg")) {
		snprintf(body, sizeof(body),
			 "%s<member><AutoScalingGroupName>web-asg</AutoScalingGroupName>"
			 "<LaunchTemplate><LaunchTemplateId>lt-1</LaunchTemplateId><Version>$Latest</Version>"
			 "</LaunchTemplate><MinSize>3</MinSize><MaxSize>6</MaxSize><DesiredCapacity>3</DesiredCapacity>"
			 "<VPCZoneIdentifier>subnet-1,subnet-2</VPCZoneIdentifier><HealthCheckType>ELB"
			 "</HealthCheckType><TerminationPolicies><member>OldestInstance</member></TerminationPolicies>"
			 "<Tags><member><Key>app</Key><Value>web</Value><PropagateAtLaunch>true</PropagateAtLaunch>"
			 "</member><member><Key>aws:cloudformation:stack-name</Key><Value>s</Value></member></Tags>"
			 "<Instances><member><InstanceId>i-1</InstanceId><LifecycleState>InService</LifecycleState>"
			 "<HealthStatus>Healthy</HealthStatus></member><member><InstanceId>i-2</InstanceId>"
			 "<LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus></member>"
			 "<member><InstanceId>i-3</InstanceId><LifecycleState>Pending</LifecycleState></member>"
			 "</Instances></member>%s",
			 asg_prefix, asg_suffix);
	} else if (strstr(req->body, "Action=DescribeAutoScalingGroups")) {
		snprintf(body, sizeof(body), "%s%s%s", asg_prefix,
			 f->created ? "<member><AutoScalingGroupName>CodeDeploy_grp_d-ABCDEF123</AutoScalingGroupName>"
				      "<DesiredCapacity>2</DesiredCapacity><Instances><member><InstanceId>i-8"
				      "</InstanceId><LifecycleState>InService</LifecycleState></member><member>"
				      "<InstanceId>i-9</InstanceId><LifecycleState>InService</LifecycleState></member>"
				      "</Instances></member>"
				    : "",
			 asg_suffix);
	} else if (strstr(req->body, "Action=CreateAutoScalingGroup")) {
		f->created = true;
		snprintf(f->create_body, sizeof(f->create_body), "%s", req->body);
		snprintf(body, sizeof(body), "<CreateAutoScalingGroupResponse/>");
	} else {
		ret->status = 400;
		snprintf(body, sizeof(body), "<ErrorResponse><Error><Code>Unexpected</Code></Error></ErrorResponse>");
	}
	return 0;
}

static void test_copy_auto_scaling_group(void **state)
{
	static const char group[] =
	    "{\"deploymentGroupName\": \"grp\", \"autoScalingGroups\": [{\"name\": \"web-asg\"}],"
	    " \"deploymentStyle\": {\"deploymentType\": \"BLUE_GREEN\", \"deploymentOption\": "
	    "\"WITH_TRAFFIC_CONTROL\"},"
	    " \"blueGreenDeploymentConfiguration\": {\"greenFleetProvisioningOption\": {\"action\": "
	    "\"COPY_AUTO_SCALING_GROUP\"}}}";
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.deployment_id = "d-ABCDEF123",
								.deployment_group_name = "grp", .region = "us-east-1");
	struct rollout_fleet_call call = ROLLOUT_FLEET_CALL_INIT(.dep = &dep, .group_json = group, .timeout_ms = 5000);
	struct rollout_error err = {.size = sizeof(err)};
	struct fake_asg f = {0};
	char *out = NULL, name[300];

	assert_int_equal(ec2_copy_name("grp", "d-ABCDEF123", name, sizeof(name)), 0);
	assert_string_equal(name, "CodeDeploy_grp_d-ABCDEF123");
	memset(name, 'g', 250);
	name[250] = '\0';
	assert_int_equal(ec2_copy_name(name, "d-ABCDEF123", name + 260, 40), -ENAMETOOLONG);

	rollout_testing_set_responder(T, fake_asg, &f);
	assert_int_equal(ec2_fleet_provision(S, &call, &out, &err), 0);
	assert_string_equal(out, "{\"autoScalingGroups\":[\"CodeDeploy_grp_d-ABCDEF123\"]}");
	free(out);
	out = NULL;
	/* the source's template, sizes by its healthy instances, subnets, policies, its own tags plus the
	 * deployment's, aws: tags left out */
	assert_non_null(strstr(f.create_body, "AutoScalingGroupName=CodeDeploy_grp_d-ABCDEF123"));
	assert_non_null(strstr(f.create_body, "LaunchTemplate.LaunchTemplateId=lt-1"));
	assert_non_null(strstr(f.create_body, "LaunchTemplate.Version=%24Latest"));
	assert_non_null(strstr(f.create_body, "MinSize=2&MaxSize=6&DesiredCapacity=2"));
	assert_non_null(strstr(f.create_body, "VPCZoneIdentifier=subnet-1%2Csubnet-2"));
	assert_non_null(strstr(f.create_body, "HealthCheckType=ELB"));
	assert_non_null(strstr(f.create_body, "TerminationPolicies.member.1=OldestInstance"));
	assert_non_null(strstr(f.create_body, "Tags.member.1.Key=app&Tags.member.1.Value=web"));
	assert_non_null(strstr(f.create_body, "Tags.member.2.Key=CodeDeployProvisioningDeploymentId&"
					      "Tags.member.2.Value=d-ABCDEF123&Tags.member.2.PropagateAtLaunch=true"));
	assert_null(strstr(f.create_body, "aws%3Acloudformation"));
	assert_null(strstr(f.create_body, "TargetGroupARNs"));
	/* again (a restart): the copy is found, not created twice */
	f.create_body[0] = '\0';
	assert_int_equal(ec2_fleet_provision(S, &call, &out, &err), 0);
	assert_string_equal(f.create_body, "");
	free(out);
	out = NULL;

	/* not a copy: nothing to provision */
	call.group_json = "{\"autoScalingGroups\": [{\"name\": \"web-asg\"}]}";
	assert_int_equal(ec2_fleet_provision(S, &call, &out, &err), 0);
	assert_null(out);
	/* a copy needs exactly one group */
	call.group_json = "{\"deploymentStyle\": {\"deploymentType\": \"BLUE_GREEN\"}, "
			  "\"blueGreenDeploymentConfiguration\": {\"greenFleetProvisioningOption\": {\"action\": "
			  "\"COPY_AUTO_SCALING_GROUP\"}}}";
	assert_int_equal(ec2_fleet_provision(S, &call, &out, &err), -EINVAL);
	assert_string_equal(err.code, "AUTO_SCALING_CONFIGURATION");
	assert_null(out);
	rollout_testing_set_responder(T, NULL, NULL);
}

static void test_lifecycle_messages(void **state)
{
	char arn[256];
	json_t *groups = json_loads("[{\"applicationName\":\"app\",\"deploymentGroupName\":\"grp\","
				    "\"autoScalingGroups\":[{\"name\":\"web\",\"hook\":\"h-1\"}]}]",
				    0, NULL);
	json_t *ev;

	(void)state;
	assert_int_equal(
	    asg_queue_arn("https://sqs.eu-west-1.amazonaws.com/123456789012/launches", "us-east-1", arn, sizeof(arn)),
	    0);
	assert_string_equal(arn, "arn:aws:sqs:eu-west-1:123456789012:launches");
	assert_int_equal(asg_queue_arn("http://127.0.0.1:5000/123456789012/q/", "us-west-2", arn, sizeof(arn)), 0);
	assert_string_equal(arn, "arn:aws:sqs:us-west-2:123456789012:q");
	assert_int_equal(asg_queue_arn("http://127.0.0.1:5000/q", "us-west-2", arn, sizeof(arn)), -EINVAL);

	ev = asg_parse_message(
	    "{\"Origin\":\"EC2\",\"Destination\":\"AutoScalingGroup\",\"LifecycleHookName\":\"h-1\","
	    "\"AutoScalingGroupName\":\"web\",\"EC2InstanceId\":\"i-1\",\"LifecycleActionToken\":\"tok\","
	    "\"LifecycleTransition\":\"autoscaling:EC2_INSTANCE_LAUNCHING\"}",
	    groups);
	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(ev, "deploymentGroupName")), "grp");
	assert_string_equal(json_string_value(json_object_get(ev, "token")), "tok");
	assert_string_equal(json_string_value(json_object_get(ev, "instanceId")), "i-1");
	json_decref(ev);
	/* another group's hook on the same Auto Scaling group: no group */
	ev = asg_parse_message("{\"LifecycleHookName\":\"h-2\",\"AutoScalingGroupName\":\"web\",\"EC2InstanceId\":"
			       "\"i-1\",\"LifecycleTransition\":\"autoscaling:EC2_INSTANCE_LAUNCHING\"}",
			       groups);
	assert_non_null(ev);
	assert_null(json_object_get(ev, "deploymentGroupName"));
	json_decref(ev);
	/* the test notification a new hook sends, and things that are not JSON */
	assert_null(asg_parse_message("{\"Event\":\"autoscaling:TEST_NOTIFICATION\",\"AutoScalingGroupName\":\"web\"}",
				      groups));
	assert_null(asg_parse_message("not json", groups));
	/* delivered through SNS */
	ev = asg_parse_message("{\"Type\":\"Notification\",\"Message\":\"{\\\"LifecycleHookName\\\":\\\"h-1\\\","
			       "\\\"AutoScalingGroupName\\\":\\\"web\\\",\\\"EC2InstanceId\\\":\\\"i-2\\\","
			       "\\\"LifecycleTransition\\\":\\\"autoscaling:EC2_INSTANCE_LAUNCHING\\\"}\"}",
			       groups);
	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(ev, "instanceId")), "i-2");
	json_decref(ev);
	json_decref(groups);
}

/* A fake SQS for the lifecycle queue: ReceiveMessage gives a lifecycle
 * action and Auto Scaling's test notification; DeleteMessage is recorded. */
struct fake_sqs {
	char deleted[4][256];
	int ndeleted;
};

static int fake_sqs(void *userdata, const struct rollout_testing_request *req, struct rollout_testing_answer *ret)
{
	struct fake_sqs *f = userdata;
	const char *rh;

	ret->status = 200;
	if (strstr(req->body, "Action=ReceiveMessage")) {
		ret->body =
		    "<ReceiveMessageResponse><ReceiveMessageResult>"
		    "<Message><ReceiptHandle>rh-1</ReceiptHandle><Body>{&quot;LifecycleHookName&quot;:"
		    "&quot;h-1&quot;,&quot;AutoScalingGroupName&quot;:&quot;web&quot;,&quot;EC2InstanceId&quot;:"
		    "&quot;i-1&quot;,&quot;LifecycleActionToken&quot;:&quot;tok&quot;,&quot;"
		    "LifecycleTransition&quot;:&quot;autoscaling:EC2_INSTANCE_TERMINATING&quot;}</Body></Message>"
		    "<Message><ReceiptHandle>rh-2</ReceiptHandle><Body>{&quot;Event&quot;:&quot;"
		    "autoscaling:TEST_NOTIFICATION&quot;}</Body></Message>"
		    "</ReceiveMessageResult></ReceiveMessageResponse>";
	} else if (strstr(req->body, "Action=DeleteMessage") && (rh = strstr(req->body, "ReceiptHandle="))) {
		if (f->ndeleted < 4)
			snprintf(f->deleted[f->ndeleted++], sizeof(f->deleted[0]), "%.*s", (int)strcspn(rh + 14, "&"),
				 rh + 14);
		ret->body = "<DeleteMessageResponse/>";
	} else {
		ret->status = 400;
		ret->body = "<ErrorResponse><Error><Code>Unexpected</Code></Error></ErrorResponse>";
	}
	return 0;
}

/* A lifecycle action stays in the queue until the engine stored what it
 * started and asks for DELETE; messages that are no action go at once. */
static void test_lifecycle_queue_delete_after_store(void **state)
{
	struct rollout_testing *t = rollout_testing_new(
	    "ec2", "{\"endpoint\": \"http://127.0.0.1:1\", \"max_attempts\": \"1\", \"lifecycle_queue\": "
		   "\"http://127.0.0.1:1/123456789012/q\", \"lifecycle_queue_wait\": \"0s\"}");
	struct rollout_error err = {.size = sizeof(err)};
	struct fake_sqs f = {0};
	char e[512], *out = NULL;
	void *s = NULL;
	json_t *res, *ev;

	(void)state;
	assert_non_null(t);
	assert_int_equal(rollout_testing_init(t, &ec2_plugin, &s, e, sizeof(e)), 0);
	rollout_testing_set_responder(t, fake_sqs, &f);
	assert_int_equal(ec2_lifecycle_receive(s,
					       "[{\"applicationName\":\"app\",\"deploymentGroupName\":\"grp\","
					       "\"autoScalingGroups\":[{\"name\":\"web\",\"hook\":\"h-0\","
					       "\"terminationHook\":\"h-1\"}]}]",
					       &out, &err),
			 0);
	res = json_loads(out, 0, NULL);
	free(out);
	assert_int_equal(json_array_size(json_object_get(res, "events")), 1);
	ev = json_array_get(json_object_get(res, "events"), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "receiptHandle")), "rh-1");
	assert_string_equal(json_string_value(json_object_get(ev, "transition")),
			    "autoscaling:EC2_INSTANCE_TERMINATING");
	assert_string_equal(json_string_value(json_object_get(ev, "deploymentGroupName")), "grp");
	/* only the test notification went */
	assert_int_equal(f.ndeleted, 1);
	assert_string_equal(f.deleted[0], "rh-2");
	/* the engine stored it: now it goes */
	json_object_set_new(ev, "result", json_string("DELETE"));
	out = json_dumps(ev, JSON_COMPACT);
	assert_int_equal(ec2_lifecycle_complete(s, out, &err), 0);
	free(out);
	assert_int_equal(f.ndeleted, 2);
	assert_string_equal(f.deleted[1], "rh-1");
	/* DELETE needs the receipt handle */
	assert_int_equal(ec2_lifecycle_complete(s, "{\"result\":\"DELETE\",\"token\":\"tok\"}", &err), -EINVAL);
	assert_int_equal(ec2_lifecycle_complete(s, "{\"result\":\"MAYBE\"}", &err), -EINVAL);
	assert_int_equal(f.ndeleted, 2);
	json_decref(res);
	ec2_destroy(s);
	rollout_testing_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_selection),	       cmocka_unit_test(test_server_filters),
	    cmocka_unit_test(test_parse_instances),    cmocka_unit_test(test_copy_auto_scaling_group),
	    cmocka_unit_test(test_lifecycle_messages), cmocka_unit_test(test_lifecycle_queue_delete_after_store),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
