# Unit tests of daemon/traffic against an in-memory traffic plugin.
check_PROGRAMS += tests/unit/daemon/traffic/test_traffic
TESTS += tests/unit/daemon/traffic/test_traffic
tests_unit_daemon_traffic_test_traffic_SOURCES = tests/unit/daemon/traffic/test_traffic.c \
	daemon/core/platforms.c daemon/core/platforms.h \
	$(daemon_health_check_sources) daemon/core/plugin_alarm.c daemon/core/plugin_alarm.h daemon/core/plugin_config.c
tests_unit_daemon_traffic_test_traffic_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_traffic_test_traffic_CFLAGS = $(UNIT_CFLAGS)
tests_unit_daemon_traffic_test_traffic_LDADD = tests/unit/daemon/libunit_traffic.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS)
