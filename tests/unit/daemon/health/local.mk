# Unit tests of daemon/health: effective configuration, watch thread, messages, store records.
check_PROGRAMS += tests/unit/daemon/health/test_alarms
TESTS += tests/unit/daemon/health/test_alarms
tests_unit_daemon_health_test_alarms_SOURCES = tests/unit/daemon/health/test_alarms.c
tests_unit_daemon_health_test_alarms_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_health_test_alarms_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_health_test_alarms_LDADD = tests/unit/daemon/libunit_health.la tests/unit/daemon/libunit_cluster.la tests/unit/daemon/libunit_core.la tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)
