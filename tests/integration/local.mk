# Small C drivers the integration tests run: parts of the daemon without the
# engine (real config and plugin loaders).
check_PROGRAMS += tests/integration/health-driver
tests_integration_health_driver_SOURCES = tests/integration/health_driver.c $(daemon_health_sources) \
	$(daemon_cluster_sources) $(daemon_store_sources) $(daemon_core_sources)
tests_integration_health_driver_CPPFLAGS = $(DAEMON_CPPFLAGS)
tests_integration_health_driver_CFLAGS = $(DAEMON_CFLAGS)
tests_integration_health_driver_LDADD = $(DAEMON_LIBS)

check_PROGRAMS += tests/integration/sources-fetch
tests_integration_sources_fetch_SOURCES = tests/integration/sources_fetch.c $(daemon_bundles_sources) $(daemon_store_sources) $(daemon_core_sources)
tests_integration_sources_fetch_CPPFLAGS = $(DAEMON_CPPFLAGS)
tests_integration_sources_fetch_CFLAGS = $(DAEMON_CFLAGS)
tests_integration_sources_fetch_LDADD = $(DAEMON_LIBS)

check_PROGRAMS += tests/integration/traffic-ctl
tests_integration_traffic_ctl_SOURCES = tests/integration/traffic_ctl.c $(daemon_traffic_sources) $(daemon_core_sources) \
	$(daemon_health_check_sources)
tests_integration_traffic_ctl_CPPFLAGS = $(DAEMON_CPPFLAGS)
tests_integration_traffic_ctl_CFLAGS = $(DAEMON_CFLAGS)
tests_integration_traffic_ctl_LDADD = $(DAEMON_LIBS)

EXTRA_DIST += tests/integration
dist-hook: dist-integration-sources
dist-integration-sources:
	rm -rf $(distdir)/tests/integration
	$(MKDIR_P) $(distdir)/tests/integration
	cd $(srcdir)/tests/integration && \
	for f in $$(find . -type f ! -name '*.o' ! -name '*.pyc' ! -name '.dirstamp' ! -path '*/.deps/*' \
			! -path '*/__pycache__/*' ! -path '*/.pytest_cache/*'); do \
		$(MKDIR_P) "$(abs_top_builddir)/$(distdir)/tests/integration/$$(dirname $$f)" && \
		cp -p "$$f" "$(abs_top_builddir)/$(distdir)/tests/integration/$$f" || exit 1; \
	done
.PHONY: dist-integration-sources
