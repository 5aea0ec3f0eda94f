# Bundle cache and source plugins (issue 7).
check_PROGRAMS += tests/unit/test_bundles_cache
tests_unit_test_bundles_cache_SOURCES = tests/unit/test_bundles_cache.c daemon/bundles_cache.c daemon/bundles_cache.h daemon/bundles.h
tests_unit_test_bundles_cache_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_bundles_cache_LDADD = $(UNIT_LIBS) -lpthread
TESTS += tests/unit/test_bundles_cache

# A driver of the bundle cache for the integration tests (no HTTP side).
check_PROGRAMS += tests/integration/sources-fetch
tests_integration_sources_fetch_SOURCES = tests/integration/sources_fetch.c \
	daemon/bundles.c daemon/bundles_cache.c daemon/bundles_cache.h daemon/bundles_internal.h daemon/bundles.h \
	daemon/conf.c daemon/plugins.c daemon/host.c
tests_integration_sources_fetch_CFLAGS = $(DAEMON_CFLAGS) -I$(top_srcdir)/daemon
tests_integration_sources_fetch_LDADD = $(DAEMON_LIBS)

# The s3 plugin's URL building and the source plugins' helpers.
check_PROGRAMS += tests/unit/test_sources_s3url
tests_unit_test_sources_s3url_SOURCES = tests/unit/test_sources_s3url.c plugins/s3/s3.c plugins/http/srcutil.c \
	plugins/http/srcutil.h
tests_unit_test_sources_s3url_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_sources_s3url_LDADD = $(CMOCKA_LIBS) $(JANSSON_LIBS)
TESTS += tests/unit/test_sources_s3url
