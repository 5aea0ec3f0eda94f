# Foundation (issue 3) unit tests: config, plugin loader (with deliberately
# broken plugins), host table, HTTP client and AWS credentials.

# --- broken plugins, one per defect the loader must name -------------------
broken_plugin_ldflags = -module -avoid-version -shared -rpath /nowhere $(SAN_LDFLAGS)
check_LTLIBRARIES += tests/unit/plugins/no-entry.la tests/unit/plugins/bad-magic.la \
	tests/unit/plugins/other-major.la tests/unit/plugins/newer-minor.la tests/unit/plugins/too-small.la \
	tests/unit/plugins/no-op.la tests/unit/plugins/dup-a.la tests/unit/plugins/dup-b.la \
	tests/unit/plugins/init-fails.la tests/unit/plugins/good.la
tests_unit_plugins_no_entry_la_SOURCES = tests/unit/plugins/broken.c
tests_unit_plugins_no_entry_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_NO_ENTRY
tests_unit_plugins_no_entry_la_LDFLAGS = $(broken_plugin_ldflags)
tests_unit_plugins_bad_magic_la_SOURCES = tests/unit/plugins/broken.c
tests_unit_plugins_bad_magic_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_MAGIC
tests_unit_plugins_bad_magic_la_LDFLAGS = $(broken_plugin_ldflags)
tests_unit_plugins_other_major_la_SOURCES = tests/unit/plugins/broken.c
tests_unit_plugins_other_major_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_MAJOR
tests_unit_plugins_other_major_la_LDFLAGS = $(broken_plugin_ldflags)
tests_unit_plugins_newer_minor_la_SOURCES = tests/unit/plugins/broken.c
tests_unit_plugins_newer_minor_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_MINOR
tests_unit_plugins_newer_minor_la_LDFLAGS = $(broken_plugin_ldflags)
tests_unit_plugins_too_small_la_SOURCES = tests/unit/plugins/broken.c
tests_unit_plugins_too_small_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_SMALL
tests_unit_plugins_too_small_la_LDFLAGS = $(broken_plugin_ldflags)
tests_unit_plugins_no_op_la_SOURCES = tests/unit/plugins/broken.c
tests_unit_plugins_no_op_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_NO_OP
tests_unit_plugins_no_op_la_LDFLAGS = $(broken_plugin_ldflags)
tests_unit_plugins_dup_a_la_SOURCES = tests/unit/plugins/broken.c
tests_unit_plugins_dup_a_la_CPPFLAGS = $(AM_CPPFLAGS) -DNAME='"dup"'
tests_unit_plugins_dup_a_la_LDFLAGS = $(broken_plugin_ldflags)
tests_unit_plugins_dup_b_la_SOURCES = tests/unit/plugins/broken.c
tests_unit_plugins_dup_b_la_CPPFLAGS = $(AM_CPPFLAGS) -DNAME='"dup"'
tests_unit_plugins_dup_b_la_LDFLAGS = $(broken_plugin_ldflags)
tests_unit_plugins_init_fails_la_SOURCES = tests/unit/plugins/broken.c
tests_unit_plugins_init_fails_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_INIT_FAILS -DNAME='"init-fails"'
tests_unit_plugins_init_fails_la_LDFLAGS = $(broken_plugin_ldflags)
tests_unit_plugins_good_la_SOURCES = tests/unit/plugins/broken.c
tests_unit_plugins_good_la_CPPFLAGS = $(AM_CPPFLAGS) -DNAME='"good"'
tests_unit_plugins_good_la_LDFLAGS = $(broken_plugin_ldflags)

FOUNDATION_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon \
	-DTEST_BROKEN_DIR='"$(abs_top_builddir)/tests/unit/plugins/.libs"' \
	-DTEST_EXAMPLES_DIR='"$(abs_top_builddir)/sdk/examples/.libs"'
FOUNDATION_TEST_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS)
FOUNDATION_TEST_LIBS = $(UNIT_LIBS) $(CURL_LIBS) $(PTHREAD_LIBS) $(LIBS)
FOUNDATION_DAEMON_SRC = daemon/conf.c daemon/conf.h daemon/plugins.c daemon/plugins.h daemon/host.c daemon/host.h

check_PROGRAMS += tests/unit/test_foundation_conf tests/unit/test_foundation_loader tests/unit/test_foundation_http
tests_unit_test_foundation_conf_SOURCES = tests/unit/test_foundation_conf.c tests/unit/foundation_util.h $(FOUNDATION_DAEMON_SRC)
tests_unit_test_foundation_conf_CPPFLAGS = $(FOUNDATION_TEST_CPPFLAGS)
tests_unit_test_foundation_conf_CFLAGS = $(FOUNDATION_TEST_CFLAGS)
tests_unit_test_foundation_conf_LDADD = $(FOUNDATION_TEST_LIBS)
tests_unit_test_foundation_loader_SOURCES = tests/unit/test_foundation_loader.c tests/unit/foundation_util.h $(FOUNDATION_DAEMON_SRC)
tests_unit_test_foundation_loader_CPPFLAGS = $(FOUNDATION_TEST_CPPFLAGS)
tests_unit_test_foundation_loader_CFLAGS = $(FOUNDATION_TEST_CFLAGS)
tests_unit_test_foundation_loader_LDADD = $(FOUNDATION_TEST_LIBS)
tests_unit_test_foundation_http_SOURCES = tests/unit/test_foundation_http.c tests/unit/foundation_util.h
tests_unit_test_foundation_http_CPPFLAGS = $(FOUNDATION_TEST_CPPFLAGS)
tests_unit_test_foundation_http_CFLAGS = $(FOUNDATION_TEST_CFLAGS)
tests_unit_test_foundation_http_LDADD = $(FOUNDATION_TEST_LIBS)
TESTS += tests/unit/test_foundation_conf tests/unit/test_foundation_loader tests/unit/test_foundation_http

# Magic numbers of boundary handles are unique (STYLE.md §11).
TESTS += tests/unit/magic_check.sh
EXTRA_DIST += tests/unit/magic_check.sh

# `EXTRA_DIST += tests/integration` (tests/local.mk) copies that directory
# from the BUILD tree when it exists there (it does: helper programs are
# built into it), which ships objects instead of the Python tests. Replace it
# in the distribution with the source tree's files.
dist-hook: foundation-dist-integration
foundation-dist-integration:
	rm -rf $(distdir)/tests/integration
	$(MKDIR_P) $(distdir)/tests/integration
	cd $(srcdir)/tests/integration && \
	for f in $$(find . -type f ! -name '*.o' ! -name '*.pyc' ! -name '.dirstamp' ! -path '*/.deps/*' \
			! -path '*/__pycache__/*' ! -path '*/.pytest_cache/*'); do \
		$(MKDIR_P) "$(abs_top_builddir)/$(distdir)/tests/integration/$$(dirname $$f)" && \
		cp -p "$$f" "$(abs_top_builddir)/$(distdir)/tests/integration/$$f" || exit 1; \
	done
.PHONY: foundation-dist-integration
