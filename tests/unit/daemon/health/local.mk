# Unit tests of daemon/health: effective configuration, watch thread, messages, store records.
check_PROGRAMS += tests/unit/daemon/health/test_alarms
TESTS += tests/unit/daemon/health/test_alarms
tests_unit_daemon_health_test_alarms_SOURCES = tests/unit/daemon/health/test_alarms.c $(daemon_health_sources) $(daemon_cluster_sources) $(daemon_store_sources) $(daemon_core_sources)
tests_unit_daemon_health_test_alarms_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_health_test_alarms_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_health_test_alarms_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)
