# Unit tests of daemon/bundles.
check_PROGRAMS += tests/unit/daemon/bundles/test_bundles_cache
TESTS += tests/unit/daemon/bundles/test_bundles_cache
tests_unit_daemon_bundles_test_bundles_cache_SOURCES = tests/unit/daemon/bundles/test_bundles_cache.c daemon/bundles/bundles_cache.c daemon/bundles/bundles_cache.h
tests_unit_daemon_bundles_test_bundles_cache_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_bundles_test_bundles_cache_CFLAGS = $(UNIT_CFLAGS)
tests_unit_daemon_bundles_test_bundles_cache_LDADD = $(UNIT_LIBS) $(PTHREAD_LIBS)
