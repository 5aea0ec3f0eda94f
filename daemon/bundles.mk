# The bundle cache (issue 7): cache, source dispatch, pre-flight, /bundles routes.
rolloutd_SOURCES += daemon/bundles.c daemon/bundles.h daemon/bundles_cache.c daemon/bundles_cache.h \
	daemon/bundles_http.c daemon/bundles_internal.h
EXTRA_DIST += docs/api-extensions.md bench/bundle-bench
