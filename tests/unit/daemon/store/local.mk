# Unit tests of daemon/store.
check_PROGRAMS += tests/unit/daemon/store/test_store
TESTS += tests/unit/daemon/store/test_store
tests_unit_daemon_store_test_store_SOURCES = tests/unit/daemon/store/test_store.c tests/unit/daemon/store/store_backends.h daemon/store_config.c daemon/store_config.h
tests_unit_daemon_store_test_store_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_LDADD = tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/store/test_store_migrations
TESTS += tests/unit/daemon/store/test_store_migrations
tests_unit_daemon_store_test_store_migrations_SOURCES = tests/unit/daemon/store/test_store_migrations.c
tests_unit_daemon_store_test_store_migrations_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_migrations_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_migrations_LDADD = tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/store/test_store_backup
TESTS += tests/unit/daemon/store/test_store_backup
tests_unit_daemon_store_test_store_backup_SOURCES = tests/unit/daemon/store/test_store_backup.c
tests_unit_daemon_store_test_store_backup_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_backup_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_backup_LDADD = tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/store/test_store_retention
TESTS += tests/unit/daemon/store/test_store_retention
tests_unit_daemon_store_test_store_retention_SOURCES = tests/unit/daemon/store/test_store_retention.c
tests_unit_daemon_store_test_store_retention_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_retention_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_retention_LDADD = tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/store/test_store_plan
TESTS += tests/unit/daemon/store/test_store_plan
tests_unit_daemon_store_test_store_plan_SOURCES = tests/unit/daemon/store/test_store_plan.c
tests_unit_daemon_store_test_store_plan_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_plan_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_plan_LDADD = tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

# The access keys kept opened in memory, and a change by another process.
check_PROGRAMS += tests/unit/daemon/store/test_store_key_cache
TESTS += tests/unit/daemon/store/test_store_key_cache
tests_unit_daemon_store_test_store_key_cache_SOURCES = tests/unit/daemon/store/test_store_key_cache.c
tests_unit_daemon_store_test_store_key_cache_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_key_cache_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_key_cache_LDADD = tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

# Bundles kept in the database for the daemons of a cluster, and their retention.
check_PROGRAMS += tests/unit/daemon/store/test_store_bundle
TESTS += tests/unit/daemon/store/test_store_bundle
tests_unit_daemon_store_test_store_bundle_SOURCES = tests/unit/daemon/store/test_store_bundle.c tests/unit/daemon/store/store_backends.h
tests_unit_daemon_store_test_store_bundle_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_bundle_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_bundle_LDADD = tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

# What the daemons of a cluster record alike (first value wins).
check_PROGRAMS += tests/unit/daemon/store/test_store_shared_keys
TESTS += tests/unit/daemon/store/test_store_shared_keys
tests_unit_daemon_store_test_store_shared_keys_SOURCES = tests/unit/daemon/store/test_store_shared_keys.c tests/unit/daemon/store/store_backends.h
tests_unit_daemon_store_test_store_shared_keys_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_shared_keys_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_shared_keys_LDADD = tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

# Several daemons on one PostgreSQL database: heartbeats, expiry, job leases, NOTIFY.
check_PROGRAMS += tests/unit/daemon/store/test_store_cluster
TESTS += tests/unit/daemon/store/test_store_cluster
tests_unit_daemon_store_test_store_cluster_SOURCES = tests/unit/daemon/store/test_store_cluster.c tests/unit/daemon/store/store_backends.h
tests_unit_daemon_store_test_store_cluster_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_cluster_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_cluster_LDADD = tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)
