# Unit tests of daemon/store.
check_PROGRAMS += tests/unit/daemon/store/test_store
TESTS += tests/unit/daemon/store/test_store
tests_unit_daemon_store_test_store_SOURCES = tests/unit/daemon/store/test_store.c tests/unit/daemon/store/store_backends.h daemon/store_config.c daemon/store_config.h $(daemon_store_sources) $(daemon_metrics_sources)
tests_unit_daemon_store_test_store_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/store/test_store_migrations
TESTS += tests/unit/daemon/store/test_store_migrations
tests_unit_daemon_store_test_store_migrations_SOURCES = tests/unit/daemon/store/test_store_migrations.c $(daemon_store_sources) $(daemon_metrics_sources)
tests_unit_daemon_store_test_store_migrations_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_migrations_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_migrations_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/store/test_store_backup
TESTS += tests/unit/daemon/store/test_store_backup
tests_unit_daemon_store_test_store_backup_SOURCES = tests/unit/daemon/store/test_store_backup.c $(daemon_store_sources) $(daemon_metrics_sources)
tests_unit_daemon_store_test_store_backup_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_backup_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_backup_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/store/test_store_retention
TESTS += tests/unit/daemon/store/test_store_retention
tests_unit_daemon_store_test_store_retention_SOURCES = tests/unit/daemon/store/test_store_retention.c $(daemon_store_sources) $(daemon_metrics_sources)
tests_unit_daemon_store_test_store_retention_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_retention_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_retention_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/store/test_store_plan
TESTS += tests/unit/daemon/store/test_store_plan
tests_unit_daemon_store_test_store_plan_SOURCES = tests/unit/daemon/store/test_store_plan.c $(daemon_store_sources) $(daemon_metrics_sources)
tests_unit_daemon_store_test_store_plan_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_plan_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_plan_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

# The access keys kept opened in memory, and a change by another process.
check_PROGRAMS += tests/unit/daemon/store/test_store_key_cache
TESTS += tests/unit/daemon/store/test_store_key_cache
tests_unit_daemon_store_test_store_key_cache_SOURCES = tests/unit/daemon/store/test_store_key_cache.c $(daemon_store_sources) $(daemon_metrics_sources)
tests_unit_daemon_store_test_store_key_cache_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_key_cache_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_key_cache_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)
