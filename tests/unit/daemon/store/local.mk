# Unit tests of daemon/store.
check_PROGRAMS += tests/unit/daemon/store/test_store
TESTS += tests/unit/daemon/store/test_store
tests_unit_daemon_store_test_store_SOURCES = tests/unit/daemon/store/test_store.c $(daemon_store_sources)
tests_unit_daemon_store_test_store_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_store_test_store_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_store_test_store_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)
