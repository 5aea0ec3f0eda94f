# Unit tests of the in-tree plugins: each test includes its plugin's .c (static
# functions reachable) and runs it against the mock host table of tests/unit/mock_host.h.
check_PROGRAMS += tests/unit/plugins/onprem/test_onprem
TESTS += tests/unit/plugins/onprem/test_onprem
tests_unit_plugins_onprem_test_onprem_SOURCES = tests/unit/plugins/onprem/test_onprem.c
tests_unit_plugins_onprem_test_onprem_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_plugins_onprem_test_onprem_CFLAGS = $(UNIT_CFLAGS)
tests_unit_plugins_onprem_test_onprem_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/plugins/http-check/test_http_check
TESTS += tests/unit/plugins/http-check/test_http_check
tests_unit_plugins_http_check_test_http_check_SOURCES = tests/unit/plugins/http-check/test_http_check.c
tests_unit_plugins_http_check_test_http_check_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_plugins_http_check_test_http_check_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS)
tests_unit_plugins_http_check_test_http_check_LDADD = $(UNIT_LIBS) $(CURL_LIBS) -lm

check_PROGRAMS += tests/unit/plugins/prometheus/test_prometheus
TESTS += tests/unit/plugins/prometheus/test_prometheus
tests_unit_plugins_prometheus_test_prometheus_SOURCES = tests/unit/plugins/prometheus/test_prometheus.c
tests_unit_plugins_prometheus_test_prometheus_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_plugins_prometheus_test_prometheus_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS)
tests_unit_plugins_prometheus_test_prometheus_LDADD = $(UNIT_LIBS) $(CURL_LIBS) -lm

check_PROGRAMS += tests/unit/plugins/cloudwatch/test_cloudwatch
TESTS += tests/unit/plugins/cloudwatch/test_cloudwatch
tests_unit_plugins_cloudwatch_test_cloudwatch_SOURCES = tests/unit/plugins/cloudwatch/test_cloudwatch.c
tests_unit_plugins_cloudwatch_test_cloudwatch_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_plugins_cloudwatch_test_cloudwatch_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS)
tests_unit_plugins_cloudwatch_test_cloudwatch_LDADD = $(UNIT_LIBS) $(CURL_LIBS) -lm

check_PROGRAMS += tests/unit/plugins/haproxy/test_haproxy
TESTS += tests/unit/plugins/haproxy/test_haproxy
tests_unit_plugins_haproxy_test_haproxy_SOURCES = tests/unit/plugins/haproxy/test_haproxy.c
tests_unit_plugins_haproxy_test_haproxy_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_plugins_haproxy_test_haproxy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_plugins_haproxy_test_haproxy_LDADD = $(UNIT_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += tests/unit/plugins/s3/test_s3url
TESTS += tests/unit/plugins/s3/test_s3url
tests_unit_plugins_s3_test_s3url_SOURCES = tests/unit/plugins/s3/test_s3url.c plugins/s3/s3.c plugins/common/srcutil.c plugins/common/srcutil.h
tests_unit_plugins_s3_test_s3url_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_plugins_s3_test_s3url_CFLAGS = $(UNIT_CFLAGS)
tests_unit_plugins_s3_test_s3url_LDADD = $(UNIT_LIBS)
