/* The plugin host's XML helper (daemon/core/plugin_xml.c) through the host
 * table, on responses shaped as EC2, ELB and Auto Scaling send them. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/plugin_host.h"

/* EC2 DescribeInstances (query protocol, lists as <item>): two reservations,
 * a tag value with an entity, a terminated instance, a nextToken. */
static const char describe_instances[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
    "    <requestId>8f7724cf-496f-496e-8fe3-example</requestId>\n"
    "    <reservationSet>\n"
    "        <item>\n"
    "            <reservationId>r-1234567890abcdef0</reservationId>\n"
    "            <ownerId>123456789012</ownerId>\n"
    "            <groupSet/>\n"
    "            <instancesSet>\n"
    "                <item>\n"
    "                    <instanceId>i-1234567890abcdef0</instanceId>\n"
    "                    <imageId>ami-bff32ccc</imageId>\n"
    "                    <instanceState>\n"
    "                        <code>16</code>\n"
    "                        <name>running</name>\n"
    "                    </instanceState>\n"
    "                    <privateDnsName>ip-192-168-1-88.eu-west-1.compute.internal</privateDnsName>\n"
    "                    <instanceType>t2.micro</instanceType>\n"
    "                    <placement>\n"
    "                        <availabilityZone>eu-west-1c</availabilityZone>\n"
    "                        <groupName/>\n"
    "                        <tenancy>default</tenancy>\n"
    "                    </placement>\n"
    "                    <privateIpAddress>192.168.1.88</privateIpAddress>\n"
    "                    <tagSet>\n"
    "                        <item>\n"
    "                            <key>Name</key>\n"
    "                            <value>web-1</value>\n"
    "                        </item>\n"
    "                        <item>\n"
    "                            <key>team</key>\n"
    "                            <value>R&amp;D</value>\n"
    "                        </item>\n"
    "                    </tagSet>\n"
    "                </item>\n"
    "                <item>\n"
    "                    <instanceId>i-0598c7d356eba48d7</instanceId>\n"
    "                    <instanceState><code>48</code><name>terminated</name></instanceState>\n"
    "                    <tagSet/>\n"
    "                </item>\n"
    "            </instancesSet>\n"
    "        </item>\n"
    "        <item>\n"
    "            <reservationId>r-0b1c2d3e4f5a6b7c8</reservationId>\n"
    "            <instancesSet>\n"
    "                <item>\n"
    "                    <instanceId>i-0c1d2e3f4a5b6c7d8</instanceId>\n"
    "                    <instanceState><code>80</code><name>stopped</name></instanceState>\n"
    "                    <tagSet><item><key>env</key><value>prod</value></item></tagSet>\n"
    "                </item>\n"
    "            </instancesSet>\n"
    "        </item>\n"
    "    </reservationSet>\n"
    "    <nextToken>eyJ2IjoiMiJ9</nextToken>\n"
    "</DescribeInstancesResponse>\n";

/* EC2's error shape. */
static const char ec2_error[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance ID 'i-1a2b3c4d' does not "
    "exist</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>";

/* ELBv2 DescribeTargetHealth (query protocol, lists as <member>). */
static const char target_health[] =
    "<DescribeTargetHealthResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">\n"
    "  <DescribeTargetHealthResult>\n"
    "    <TargetHealthDescriptions>\n"
    "      <member>\n"
    "        <HealthCheckPort>80</HealthCheckPort>\n"
    "        <TargetHealth><State>healthy</State></TargetHealth>\n"
    "        <Target><Port>80</Port><Id>i-0376fadf</Id></Target>\n"
    "      </member>\n"
    "      <member>\n"
    "        <HealthCheckPort>80</HealthCheckPort>\n"
    "        <TargetHealth>\n"
    "          <State>draining</State>\n"
    "          <Reason>Target.DeregistrationInProgress</Reason>\n"
    "          <Description>Target deregistration is in progress</Description>\n"
    "        </TargetHealth>\n"
    "        <Target><Port>80</Port><Id>i-0376fade</Id></Target>\n"
    "      </member>\n"
    "    </TargetHealthDescriptions>\n"
    "  </DescribeTargetHealthResult>\n"
    "  <ResponseMetadata><RequestId>c534f810-f389-11e5-9192-3fff33344cfa</RequestId></ResponseMetadata>\n"
    "</DescribeTargetHealthResponse>\n";

/* The query APIs' error shape (ELB, Auto Scaling, CloudWatch). */
static const char elb_error[] =
    "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">\n"
    "  <Error>\n"
    "    <Type>Sender</Type>\n"
    "    <Code>TargetGroupNotFound</Code>\n"
    "    <Message>Target groups 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1' not "
    "found</Message>\n"
    "  </Error>\n"
    "  <RequestId>0b8a2f3c-1d2e-4f5a-9b8c-7d6e5f4a3b2c</RequestId>\n"
    "</ErrorResponse>\n";

/* Auto Scaling DescribeAutoScalingGroups: members nested in members. */
static const char asg[] =
    "<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
    "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"
    "<AutoScalingGroupName>web-asg</AutoScalingGroupName>"
    "<Instances>"
    "<member><InstanceId>i-1</InstanceId><LifecycleState>InService</LifecycleState></member>"
    "<member><InstanceId>i-2</InstanceId><LifecycleState>Terminating</LifecycleState></member>"
    "</Instances></member></AutoScalingGroups></DescribeAutoScalingGroupsResult>"
    "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeAutoScalingGroupsResponse>";

static struct host_shared shared;
static struct rollout_handle *H;
static const struct rollout_host *X;

static int setup(void **st)
{
	X = host_table();
	return host_handle_new("ec2", NULL, NULL, &shared, &H);
}

static int teardown(void **st)
{
	H = host_handle_free(H);
	return 0;
}

static struct rollout_xml *parse(const char *text)
{
	struct rollout_xml *doc = NULL;
	char err[512] = "";

	if (X->xml_parse(H, text, strlen(text), &doc, err, sizeof(err)) < 0)
		fail_msg("parse failed: %s", err);
	return doc;
}

static void test_describe_instances(void **st)
{
	struct rollout_xml *doc = parse(describe_instances);
	const struct rollout_xml_node *root = X->xml_root(doc), *res, *inst, *tag;
	const char *code = "x", *msg = "x";
	char seen[512] = "";
	size_t n = 0;

	assert_string_equal(X->xml_name(root), "DescribeInstancesResponse");
	assert_string_equal(X->xml_text(root, "nextToken"), "eyJ2IjoiMiJ9");
	assert_string_equal(X->xml_text(root, "reservationSet/item/instancesSet/item/instanceId"),
			    "i-1234567890abcdef0");
	assert_string_equal(X->xml_text(root, "reservationSet/item/instancesSet/item/placement/availabilityZone"),
			    "eu-west-1c");
	assert_null(X->xml_text(root, "reservationSet/item/nosuch"));
	assert_null(X->xml_find(root, "nosuch/item"));
	assert_ptr_equal(X->xml_find(root, ""), root);
	/* every instance of every reservation, with its state and tags */
	for (res = X->xml_first(X->xml_find(root, "reservationSet"), "item"); res; res = X->xml_next(res, "item"))
		for (inst = X->xml_first(X->xml_find(res, "instancesSet"), "item"); inst;
		     inst = X->xml_next(inst, "item")) {
			n += (size_t)snprintf(seen + n, sizeof(seen) - n, "%s=%s[", X->xml_text(inst, "instanceId"),
					      X->xml_text(inst, "instanceState/name"));
			for (tag = X->xml_first(X->xml_find(inst, "tagSet"), "item"); tag;
			     tag = X->xml_next(tag, "item"))
				n += (size_t)snprintf(seen + n, sizeof(seen) - n, "%s:%s;", X->xml_text(tag, "key"),
						      X->xml_text(tag, "value"));
			n += (size_t)snprintf(seen + n, sizeof(seen) - n, "] ");
		}
	assert_string_equal(seen, "i-1234567890abcdef0=running[Name:web-1;team:R&D;] i-0598c7d356eba48d7=terminated[] "
				  "i-0c1d2e3f4a5b6c7d8=stopped[env:prod;] ");
	/* an empty element has empty text; any child when no name is given */
	assert_string_equal(X->xml_text(root, "reservationSet/item/groupSet"), "");
	assert_string_equal(X->xml_name(X->xml_first(root, NULL)), "requestId");
	assert_string_equal(X->xml_name(X->xml_next(X->xml_first(root, NULL), NULL)), "reservationSet");
	/* not an error response */
	assert_int_equal(X->xml_aws_error(doc, &code, &msg), 0);
	assert_string_equal(code, "x");
	assert_null(X->xml_free(doc));
}

static void test_errors(void **st)
{
	struct rollout_xml *doc;
	const char *code = NULL, *msg = NULL;

	doc = parse(ec2_error);
	assert_int_equal(X->xml_aws_error(doc, &code, &msg), 1);
	assert_string_equal(code, "InvalidInstanceID.NotFound");
	assert_string_equal(msg, "The instance ID 'i-1a2b3c4d' does not exist");
	X->xml_free(doc);

	doc = parse(elb_error);
	assert_int_equal(X->xml_aws_error(doc, &code, &msg), 1);
	assert_string_equal(code, "TargetGroupNotFound");
	assert_non_null(strstr(msg, "targetgroup/web/1' not found"));
	X->xml_free(doc);

	/* S3's shape, and one without a message */
	doc = parse("<Error><Code>NoSuchKey</Code></Error>");
	assert_int_equal(X->xml_aws_error(doc, &code, &msg), 1);
	assert_string_equal(code, "NoSuchKey");
	assert_string_equal(msg, "");
	X->xml_free(doc);
}

static void test_members(void **st)
{
	struct rollout_xml *doc = parse(target_health);
	const struct rollout_xml_node *m;
	char seen[256] = "";
	size_t n = 0;

	for (m = X->xml_first(X->xml_find(X->xml_root(doc), "DescribeTargetHealthResult/TargetHealthDescriptions"),
			      "member");
	     m; m = X->xml_next(m, "member"))
		n += (size_t)snprintf(seen + n, sizeof(seen) - n, "%s:%s:%s ", X->xml_text(m, "Target/Id"),
				      X->xml_text(m, "TargetHealth/State"),
				      X->xml_text(m, "TargetHealth/Reason") ? X->xml_text(m, "TargetHealth/Reason")
									    : "-");
	assert_string_equal(seen, "i-0376fadf:healthy:- i-0376fade:draining:Target.DeregistrationInProgress ");
	X->xml_free(doc);

	doc = parse(asg);
	m = X->xml_find(X->xml_root(doc), "DescribeAutoScalingGroupsResult/AutoScalingGroups/member");
	assert_string_equal(X->xml_text(m, "AutoScalingGroupName"), "web-asg");
	m = X->xml_first(X->xml_find(m, "Instances"), "member");
	assert_string_equal(X->xml_text(m, "LifecycleState"), "InService");
	m = X->xml_next(m, "member");
	assert_string_equal(X->xml_text(m, "InstanceId"), "i-2");
	assert_null(X->xml_next(m, "member"));
	X->xml_free(doc);
}

static void test_refused(void **st)
{
	struct rollout_xml *doc = NULL;
	char err[512];
	const char *bomb = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
			   "<x>&b;</x>";
	const char *external =
	    "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>";

	assert_int_equal(X->xml_parse(H, "<a><b></a>", 10, &doc, err, sizeof(err)), -EINVAL);
	assert_null(doc);
	assert_non_null(strstr(err, "XML: not well-formed at line 1"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(X->xml_parse(H, "", 0, &doc, err, sizeof(err)), -EINVAL);
	assert_int_equal(X->xml_parse(H, bomb, strlen(bomb), &doc, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "XML: documents with a DOCTYPE are refused");
	assert_int_equal(X->xml_parse(H, external, strlen(external), &doc, err, sizeof(err)), -EINVAL);
	assert_null(doc);
}

/* A stale or foreign pointer is refused, never followed. */
static void test_bad_pointers(void **st)
{
	struct rollout_xml *doc = parse("<a><b>1</b></a>");
	struct rollout_handle fake = {.magic = 0xbad};
	const struct rollout_xml_node *root = X->xml_root(doc);
	char junk[64] = "";
	char err[256];

	assert_int_equal(X->xml_parse(&fake, "<a/>", 4, &doc, err, sizeof(err)), -EINVAL);
	assert_null(X->xml_text((const struct rollout_xml_node *)junk, "b"));
	assert_null(X->xml_root((const struct rollout_xml *)junk));
	assert_int_equal(X->xml_aws_error((const struct rollout_xml *)junk, NULL, NULL), -EINVAL);
	assert_string_equal(X->xml_text(root, "b"), "1");
	X->xml_free(doc);
	assert_null(X->xml_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_describe_instances),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_members),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_bad_pointers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
