# Health alarms, plugins and triggers (issue 9).
HEALTH_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon
HEALTH_TEST_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS) $(SQLITE_CFLAGS)
HEALTH_TEST_LIBS = $(UNIT_LIBS) $(CURL_LIBS) $(SQLITE_LIBS) -lpthread -lm $(LIBS)
HEALTH_DAEMON_SRC = daemon/alarms.c daemon/alarms.h daemon/triggers.c daemon/triggers.h \
	daemon/store_health.c daemon/store_health.h daemon/store.c daemon/store_migrations.c \
	daemon/conf.c daemon/plugins.c daemon/host.c

# Each plugin's .c included into its test (static functions reachable).
check_PROGRAMS += tests/unit/test_health_httpcheck tests/unit/test_health_prometheus \
	tests/unit/test_health_cloudwatch tests/unit/test_health_alarms
tests_unit_test_health_httpcheck_SOURCES = tests/unit/test_health_httpcheck.c tests/unit/health_mock.h
tests_unit_test_health_httpcheck_CPPFLAGS = $(HEALTH_TEST_CPPFLAGS)
tests_unit_test_health_httpcheck_CFLAGS = $(HEALTH_TEST_CFLAGS)
tests_unit_test_health_httpcheck_LDADD = $(HEALTH_TEST_LIBS)
tests_unit_test_health_prometheus_SOURCES = tests/unit/test_health_prometheus.c tests/unit/health_mock.h
tests_unit_test_health_prometheus_CPPFLAGS = $(HEALTH_TEST_CPPFLAGS)
tests_unit_test_health_prometheus_CFLAGS = $(HEALTH_TEST_CFLAGS)
tests_unit_test_health_prometheus_LDADD = $(HEALTH_TEST_LIBS)
tests_unit_test_health_cloudwatch_SOURCES = tests/unit/test_health_cloudwatch.c tests/unit/health_mock.h
tests_unit_test_health_cloudwatch_CPPFLAGS = $(HEALTH_TEST_CPPFLAGS)
tests_unit_test_health_cloudwatch_CFLAGS = $(HEALTH_TEST_CFLAGS)
tests_unit_test_health_cloudwatch_LDADD = $(HEALTH_TEST_LIBS)
# alarms.c / triggers.c: effective configuration, watch thread, messages, store records.
tests_unit_test_health_alarms_SOURCES = tests/unit/test_health_alarms.c $(HEALTH_DAEMON_SRC)
tests_unit_test_health_alarms_CPPFLAGS = $(HEALTH_TEST_CPPFLAGS)
tests_unit_test_health_alarms_CFLAGS = $(HEALTH_TEST_CFLAGS)
tests_unit_test_health_alarms_LDADD = $(HEALTH_TEST_LIBS)
TESTS += tests/unit/test_health_httpcheck tests/unit/test_health_prometheus tests/unit/test_health_cloudwatch \
	tests/unit/test_health_alarms

# A driver of alarms.c / triggers.c for the integration tests (no engine).
check_PROGRAMS += tests/integration/health-driver
tests_integration_health_driver_SOURCES = tests/integration/health_driver.c $(HEALTH_DAEMON_SRC)
tests_integration_health_driver_CFLAGS = $(DAEMON_CFLAGS) -I$(top_srcdir)/daemon
tests_integration_health_driver_LDADD = $(DAEMON_LIBS)
