# Traffic control (issue 10) unit tests: the haproxy plugin (its .c included,
# mock host, fake Runtime API).
check_PROGRAMS += tests/unit/test_traffic_haproxy
tests_unit_test_traffic_haproxy_SOURCES = tests/unit/test_traffic_haproxy.c
tests_unit_test_traffic_haproxy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_traffic_haproxy_LDADD = $(UNIT_LIBS) $(PTHREAD_LIBS)
TESTS += tests/unit/test_traffic_haproxy

# daemon/traffic.c against an in-memory traffic plugin.
check_PROGRAMS += tests/unit/test_traffic_engine
tests_unit_test_traffic_engine_SOURCES = tests/unit/test_traffic_engine.c daemon/traffic.c daemon/traffic.h
tests_unit_test_traffic_engine_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_traffic_engine_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_traffic_engine_LDADD = $(UNIT_LIBS)
TESTS += tests/unit/test_traffic_engine
