# Bundle cache and source plugins (issue 7).
check_PROGRAMS += tests/unit/test_bundles_cache
tests_unit_test_bundles_cache_SOURCES = tests/unit/test_bundles_cache.c daemon/bundles_cache.c daemon/bundles_cache.h daemon/bundles.h
tests_unit_test_bundles_cache_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_bundles_cache_LDADD = $(UNIT_LIBS) -lpthread
TESTS += tests/unit/test_bundles_cache
