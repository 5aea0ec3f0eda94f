# Traffic control (issue 10) unit tests: the haproxy plugin (its .c included,
# mock host, fake Runtime API).
check_PROGRAMS += tests/unit/test_traffic_haproxy
tests_unit_test_traffic_haproxy_SOURCES = tests/unit/test_traffic_haproxy.c
tests_unit_test_traffic_haproxy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_traffic_haproxy_LDADD = $(UNIT_LIBS) $(PTHREAD_LIBS)
TESTS += tests/unit/test_traffic_haproxy

# daemon/traffic.c against an in-memory traffic plugin.
check_PROGRAMS += tests/unit/test_traffic_engine
tests_unit_test_traffic_engine_SOURCES = tests/unit/test_traffic_engine.c daemon/traffic.c daemon/traffic.h \
	daemon/traffic_bg.c
tests_unit_test_traffic_engine_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_traffic_engine_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_traffic_engine_LDADD = $(UNIT_LIBS)
TESTS += tests/unit/test_traffic_engine

# A driver of daemon/traffic.c and the traffic plugins for the integration
# tests (real config and plugin loaders, no engine).
check_PROGRAMS += tests/integration/traffic-ctl
tests_integration_traffic_ctl_SOURCES = tests/integration/traffic_ctl.c daemon/traffic.c daemon/traffic.h daemon/traffic_bg.c \
	daemon/conf.c daemon/plugins.c daemon/host.c
tests_integration_traffic_ctl_CFLAGS = $(DAEMON_CFLAGS) -I$(top_srcdir)/daemon
tests_integration_traffic_ctl_LDADD = $(DAEMON_LIBS)
