# Traffic control (issue 10) unit tests: the haproxy plugin (its .c included,
# mock host, fake Runtime API).
check_PROGRAMS += tests/unit/test_traffic_haproxy
tests_unit_test_traffic_haproxy_SOURCES = tests/unit/test_traffic_haproxy.c
tests_unit_test_traffic_haproxy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_traffic_haproxy_LDADD = $(UNIT_LIBS) $(PTHREAD_LIBS)
TESTS += tests/unit/test_traffic_haproxy
