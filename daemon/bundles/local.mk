# The bundle cache: content-addressed store, source dispatch and pre-flight
# (daemon_bundles_sources), and the /bundles routes over it, which main.c
# registers.
daemon_bundles_sources = \
	daemon/bundles/bundles.c daemon/bundles/bundles.h \
	daemon/bundles/bundles_cache.c daemon/bundles/bundles_cache.h
rolloutd_SOURCES += $(daemon_bundles_sources) daemon/bundles/bundles_routes.c daemon/bundles/bundles_routes.h
EXTRA_DIST += docs/api-extensions.md bench/bundle-bench
