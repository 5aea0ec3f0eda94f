# Unit tests of the in-tree plugins: each test includes its plugin's .c (static
# functions reachable) and runs it against the SDK's test host (rollout/testing.h,
# sdk/librollout-testing.a), as a third-party plugin's test would.
PLUGIN_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir) -I$(top_srcdir)/tests/unit -I$(top_srcdir)/plugins/common
PLUGIN_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS)
PLUGIN_TEST_LIBS = $(sdk_testing_libs) $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/plugins/onprem/test_onprem
TESTS += tests/unit/plugins/onprem/test_onprem
tests_unit_plugins_onprem_test_onprem_SOURCES = tests/unit/plugins/onprem/test_onprem.c
tests_unit_plugins_onprem_test_onprem_CPPFLAGS = $(PLUGIN_TEST_CPPFLAGS)
tests_unit_plugins_onprem_test_onprem_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_unit_plugins_onprem_test_onprem_LDADD = $(PLUGIN_TEST_LIBS)

check_PROGRAMS += tests/unit/plugins/http-check/test_http_check
TESTS += tests/unit/plugins/http-check/test_http_check
tests_unit_plugins_http_check_test_http_check_SOURCES = tests/unit/plugins/http-check/test_http_check.c plugins/common/uri.c
tests_unit_plugins_http_check_test_http_check_CPPFLAGS = $(PLUGIN_TEST_CPPFLAGS)
tests_unit_plugins_http_check_test_http_check_CFLAGS = $(PLUGIN_TEST_CFLAGS) $(CURL_CFLAGS)
tests_unit_plugins_http_check_test_http_check_LDADD = $(PLUGIN_TEST_LIBS) $(CURL_LIBS) -lm

check_PROGRAMS += tests/unit/plugins/prometheus/test_prometheus
TESTS += tests/unit/plugins/prometheus/test_prometheus
tests_unit_plugins_prometheus_test_prometheus_SOURCES = tests/unit/plugins/prometheus/test_prometheus.c plugins/common/uri.c
tests_unit_plugins_prometheus_test_prometheus_CPPFLAGS = $(PLUGIN_TEST_CPPFLAGS)
tests_unit_plugins_prometheus_test_prometheus_CFLAGS = $(PLUGIN_TEST_CFLAGS) $(CURL_CFLAGS)
tests_unit_plugins_prometheus_test_prometheus_LDADD = $(PLUGIN_TEST_LIBS) $(CURL_LIBS) -lm

check_PROGRAMS += tests/unit/plugins/cloudwatch/test_cloudwatch
TESTS += tests/unit/plugins/cloudwatch/test_cloudwatch
tests_unit_plugins_cloudwatch_test_cloudwatch_SOURCES = tests/unit/plugins/cloudwatch/test_cloudwatch.c plugins/common/uri.c
tests_unit_plugins_cloudwatch_test_cloudwatch_CPPFLAGS = $(PLUGIN_TEST_CPPFLAGS)
tests_unit_plugins_cloudwatch_test_cloudwatch_CFLAGS = $(PLUGIN_TEST_CFLAGS) $(CURL_CFLAGS)
tests_unit_plugins_cloudwatch_test_cloudwatch_LDADD = $(PLUGIN_TEST_LIBS) $(CURL_LIBS) -lm

check_PROGRAMS += tests/unit/plugins/haproxy/test_haproxy
TESTS += tests/unit/plugins/haproxy/test_haproxy
tests_unit_plugins_haproxy_test_haproxy_SOURCES = tests/unit/plugins/haproxy/test_haproxy.c
tests_unit_plugins_haproxy_test_haproxy_CPPFLAGS = $(PLUGIN_TEST_CPPFLAGS)
tests_unit_plugins_haproxy_test_haproxy_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_unit_plugins_haproxy_test_haproxy_LDADD = $(PLUGIN_TEST_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += tests/unit/plugins/s3/test_s3url
TESTS += tests/unit/plugins/s3/test_s3url
tests_unit_plugins_s3_test_s3url_SOURCES = tests/unit/plugins/s3/test_s3url.c plugins/s3/s3.c plugins/common/srcutil.c \
	plugins/common/srcutil.h plugins/common/uri.c plugins/common/uri.h
tests_unit_plugins_s3_test_s3url_CPPFLAGS = $(PLUGIN_TEST_CPPFLAGS)
tests_unit_plugins_s3_test_s3url_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_unit_plugins_s3_test_s3url_LDADD = $(PLUGIN_TEST_LIBS)

check_PROGRAMS += tests/unit/plugins/lambda/test_lambda
TESTS += tests/unit/plugins/lambda/test_lambda
tests_unit_plugins_lambda_test_lambda_SOURCES = tests/unit/plugins/lambda/test_lambda.c plugins/common/appspecres.c \
	plugins/common/appspecres.h plugins/common/awsjson.c \
	plugins/common/awsjson.h plugins/common/uri.c plugins/common/uri.h
tests_unit_plugins_lambda_test_lambda_CPPFLAGS = $(PLUGIN_TEST_CPPFLAGS)
tests_unit_plugins_lambda_test_lambda_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_unit_plugins_lambda_test_lambda_LDADD = $(PLUGIN_TEST_LIBS)

check_PROGRAMS += tests/unit/plugins/ec2/test_ec2
TESTS += tests/unit/plugins/ec2/test_ec2
tests_unit_plugins_ec2_test_ec2_SOURCES = tests/unit/plugins/ec2/test_ec2.c plugins/ec2/asgcopy.c plugins/ec2/asg.c \
	plugins/common/awsquery.c \
	plugins/common/awsquery.h plugins/common/uri.c plugins/common/uri.h
tests_unit_plugins_ec2_test_ec2_CPPFLAGS = $(PLUGIN_TEST_CPPFLAGS)
tests_unit_plugins_ec2_test_ec2_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_unit_plugins_ec2_test_ec2_LDADD = $(PLUGIN_TEST_LIBS)

check_PROGRAMS += tests/unit/plugins/ecs/test_ecs
TESTS += tests/unit/plugins/ecs/test_ecs
tests_unit_plugins_ecs_test_ecs_SOURCES = tests/unit/plugins/ecs/test_ecs.c plugins/ecs/ecs_spec.c plugins/common/appspecres.c \
	plugins/common/appspecres.h plugins/common/awsjson.c \
	plugins/common/awsjson.h plugins/common/awsquery.c plugins/common/awsquery.h plugins/common/uri.c \
	plugins/common/uri.h
tests_unit_plugins_ecs_test_ecs_CPPFLAGS = $(PLUGIN_TEST_CPPFLAGS)
tests_unit_plugins_ecs_test_ecs_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_unit_plugins_ecs_test_ecs_LDADD = $(PLUGIN_TEST_LIBS)

check_PROGRAMS += tests/unit/plugins/common/test_awsjson
TESTS += tests/unit/plugins/common/test_awsjson
tests_unit_plugins_common_test_awsjson_SOURCES = tests/unit/plugins/common/test_awsjson.c plugins/common/awsjson.c \
	plugins/common/awsjson.h plugins/common/uri.c plugins/common/uri.h
tests_unit_plugins_common_test_awsjson_CPPFLAGS = $(PLUGIN_TEST_CPPFLAGS)
tests_unit_plugins_common_test_awsjson_CFLAGS = $(PLUGIN_TEST_CFLAGS)
tests_unit_plugins_common_test_awsjson_LDADD = $(PLUGIN_TEST_LIBS)
