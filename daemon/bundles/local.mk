# The bundle cache: content-addressed store, source dispatch, pre-flight and
# the /bundles routes agents download from.
daemon_bundles_sources = \
	daemon/bundles/bundles.c daemon/bundles/bundles.h daemon/bundles/bundles_internal.h \
	daemon/bundles/bundles_cache.c daemon/bundles/bundles_cache.h
rolloutd_SOURCES += $(daemon_bundles_sources) daemon/bundles/bundles_http.c
EXTRA_DIST += docs/api-extensions.md bench/bundle-bench
