# Unit tests of the daemon's parts. Each part a test needs whole is linked
# from one library of it, compiled once for every test: the store alone went
# into fourteen programs, and compiling it fourteen times under the
# sanitizers was most of `make check`'s time. The linker takes from a
# library only the files the test uses, so a test still links just what its
# part depends on. A test that needs a few files of a part lists them.
# A test lists the libraries from the upper part down (the linker resolves a
# library's needs only from those after it); httpd and auth call each other,
# so httpd comes on both sides of auth.
DAEMON_UNIT_CFLAGS = $(CURL_CFLAGS) $(SQLITE_CFLAGS) $(PQ_CFLAGS) $(EVENT_CFLAGS) $(XML_CFLAGS)
DAEMON_UNIT_LIBS = $(CURL_LIBS) $(SQLITE_LIBS) $(PQ_LIBS) $(EVENT_LIBS) $(EVENT_OPENSSL_LIBS) $(OPENSSL_LIBS) $(XML_LIBS) $(PTHREAD_LIBS) -lm $(LIBS)
DAEMON_UNIT_PART_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS) $(ARCHIVE_CFLAGS)
check_LTLIBRARIES += tests/unit/daemon/libunit_engine.la tests/unit/daemon/libunit_bundles.la \
	tests/unit/daemon/libunit_health.la tests/unit/daemon/libunit_traffic.la tests/unit/daemon/libunit_cluster.la \
	tests/unit/daemon/libunit_httpd.la tests/unit/daemon/libunit_auth.la tests/unit/daemon/libunit_core.la \
	tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la
tests_unit_daemon_libunit_engine_la_SOURCES = $(daemon_engine_sources)
tests_unit_daemon_libunit_engine_la_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_libunit_engine_la_CFLAGS = $(DAEMON_UNIT_PART_CFLAGS)
tests_unit_daemon_libunit_bundles_la_SOURCES = $(daemon_bundles_sources)
tests_unit_daemon_libunit_bundles_la_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_libunit_bundles_la_CFLAGS = $(DAEMON_UNIT_PART_CFLAGS)
tests_unit_daemon_libunit_health_la_SOURCES = $(daemon_health_sources)
tests_unit_daemon_libunit_health_la_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_libunit_health_la_CFLAGS = $(DAEMON_UNIT_PART_CFLAGS)
tests_unit_daemon_libunit_traffic_la_SOURCES = $(daemon_traffic_sources)
tests_unit_daemon_libunit_traffic_la_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_libunit_traffic_la_CFLAGS = $(DAEMON_UNIT_PART_CFLAGS)
tests_unit_daemon_libunit_cluster_la_SOURCES = $(daemon_cluster_sources)
tests_unit_daemon_libunit_cluster_la_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_libunit_cluster_la_CFLAGS = $(DAEMON_UNIT_PART_CFLAGS)
tests_unit_daemon_libunit_httpd_la_SOURCES = $(daemon_httpd_sources)
tests_unit_daemon_libunit_httpd_la_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_libunit_httpd_la_CFLAGS = $(DAEMON_UNIT_PART_CFLAGS)
tests_unit_daemon_libunit_auth_la_SOURCES = $(daemon_auth_sources)
tests_unit_daemon_libunit_auth_la_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_libunit_auth_la_CFLAGS = $(DAEMON_UNIT_PART_CFLAGS)
tests_unit_daemon_libunit_core_la_SOURCES = $(daemon_core_sources)
tests_unit_daemon_libunit_core_la_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_libunit_core_la_CFLAGS = $(DAEMON_UNIT_PART_CFLAGS)
tests_unit_daemon_libunit_store_la_SOURCES = $(daemon_store_sources)
tests_unit_daemon_libunit_store_la_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_libunit_store_la_CFLAGS = $(DAEMON_UNIT_PART_CFLAGS)
tests_unit_daemon_libunit_metrics_la_SOURCES = $(daemon_metrics_sources)
tests_unit_daemon_libunit_metrics_la_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_libunit_metrics_la_CFLAGS = $(DAEMON_UNIT_PART_CFLAGS)
include tests/unit/daemon/core/local.mk
include tests/unit/daemon/auth/local.mk
include tests/unit/daemon/store/local.mk
include tests/unit/daemon/cluster/local.mk
include tests/unit/daemon/api/local.mk
include tests/unit/daemon/bundles/local.mk
include tests/unit/daemon/health/local.mk
include tests/unit/daemon/traffic/local.mk
include tests/unit/daemon/engine/local.mk
include tests/unit/daemon/relay/local.mk
include tests/unit/daemon/ui/local.mk
