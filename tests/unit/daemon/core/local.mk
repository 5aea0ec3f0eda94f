# Unit tests of daemon/core: config, plugin loader (with deliberately broken plugins), workpool, HTTP transport
# (authenticated by daemon/auth, as in the daemon).
check_PROGRAMS += tests/unit/daemon/core/test_conf
TESTS += tests/unit/daemon/core/test_conf
tests_unit_daemon_core_test_conf_SOURCES = tests/unit/daemon/core/test_conf.c
tests_unit_daemon_core_test_conf_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_daemon_core_test_conf_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_core_test_conf_LDADD = tests/unit/daemon/libunit_core.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/core/test_plugins
TESTS += tests/unit/daemon/core/test_plugins
tests_unit_daemon_core_test_plugins_SOURCES = tests/unit/daemon/core/test_plugins.c
tests_unit_daemon_core_test_plugins_CPPFLAGS = $(CORE_TEST_CPPFLAGS)
tests_unit_daemon_core_test_plugins_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_core_test_plugins_LDADD = tests/unit/daemon/libunit_core.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/core/test_plugin_alarm
TESTS += tests/unit/daemon/core/test_plugin_alarm
tests_unit_daemon_core_test_plugin_alarm_SOURCES = tests/unit/daemon/core/test_plugin_alarm.c
tests_unit_daemon_core_test_plugin_alarm_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_core_test_plugin_alarm_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_core_test_plugin_alarm_LDADD = tests/unit/daemon/libunit_core.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/core/test_plugin_tags
TESTS += tests/unit/daemon/core/test_plugin_tags
tests_unit_daemon_core_test_plugin_tags_SOURCES = tests/unit/daemon/core/test_plugin_tags.c
tests_unit_daemon_core_test_plugin_tags_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_core_test_plugin_tags_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_core_test_plugin_tags_LDADD = tests/unit/daemon/libunit_core.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/core/test_plugin_xml
TESTS += tests/unit/daemon/core/test_plugin_xml
tests_unit_daemon_core_test_plugin_xml_SOURCES = tests/unit/daemon/core/test_plugin_xml.c
tests_unit_daemon_core_test_plugin_xml_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_core_test_plugin_xml_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_core_test_plugin_xml_LDADD = tests/unit/daemon/libunit_core.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/core/test_workpool
TESTS += tests/unit/daemon/core/test_workpool
tests_unit_daemon_core_test_workpool_SOURCES = tests/unit/daemon/core/test_workpool.c daemon/core/workpool.c
tests_unit_daemon_core_test_workpool_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_core_test_workpool_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_core_test_workpool_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/core/test_httpd_limit
TESTS += tests/unit/daemon/core/test_httpd_limit
tests_unit_daemon_core_test_httpd_limit_SOURCES = tests/unit/daemon/core/test_httpd_limit.c daemon/core/httpd_limit.c
tests_unit_daemon_core_test_httpd_limit_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_core_test_httpd_limit_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_core_test_httpd_limit_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/core/test_httpd
TESTS += tests/unit/daemon/core/test_httpd
tests_unit_daemon_core_test_httpd_SOURCES = tests/unit/daemon/core/test_httpd.c \
	daemon/core/workpool.c
tests_unit_daemon_core_test_httpd_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_core_test_httpd_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_core_test_httpd_LDADD = tests/unit/daemon/libunit_httpd.la tests/unit/daemon/libunit_auth.la \
	tests/unit/daemon/libunit_httpd.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

# Broken plugins, one per defect the loader must name (built from one source).
broken_plugin_ldflags = -module -avoid-version -shared -rpath /nowhere $(SAN_LDFLAGS)
CORE_TEST_CPPFLAGS = $(UNIT_CPPFLAGS) \
	-DTEST_BROKEN_DIR='"$(abs_top_builddir)/tests/unit/daemon/core/broken/.libs"' \
	-DTEST_EXAMPLES_DIR='"$(abs_top_builddir)/sdk/examples/.libs"'
check_LTLIBRARIES += tests/unit/daemon/core/broken/no-entry.la
tests_unit_daemon_core_broken_no_entry_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_no_entry_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_NO_ENTRY
tests_unit_daemon_core_broken_no_entry_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/bad-magic.la
tests_unit_daemon_core_broken_bad_magic_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_bad_magic_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_MAGIC
tests_unit_daemon_core_broken_bad_magic_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/other-major.la
tests_unit_daemon_core_broken_other_major_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_other_major_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_MAJOR
tests_unit_daemon_core_broken_other_major_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/newer-minor.la
tests_unit_daemon_core_broken_newer_minor_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_newer_minor_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_MINOR
tests_unit_daemon_core_broken_newer_minor_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/too-small.la
tests_unit_daemon_core_broken_too_small_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_too_small_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_SMALL
tests_unit_daemon_core_broken_too_small_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/no-op.la
tests_unit_daemon_core_broken_no_op_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_no_op_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_NO_OP
tests_unit_daemon_core_broken_no_op_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/dup-a.la
tests_unit_daemon_core_broken_dup_a_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_dup_a_la_CPPFLAGS = $(AM_CPPFLAGS) -DNAME='"dup"'
tests_unit_daemon_core_broken_dup_a_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/dup-b.la
tests_unit_daemon_core_broken_dup_b_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_dup_b_la_CPPFLAGS = $(AM_CPPFLAGS) -DNAME='"dup"'
tests_unit_daemon_core_broken_dup_b_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/init-fails.la
tests_unit_daemon_core_broken_init_fails_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_init_fails_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_INIT_FAILS -DNAME='"init-fails"'
tests_unit_daemon_core_broken_init_fails_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/old-source.la
tests_unit_daemon_core_broken_old_source_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_old_source_la_CPPFLAGS = $(AM_CPPFLAGS) -DOLD_SOURCE -DNAME='"old-source"'
tests_unit_daemon_core_broken_old_source_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/shift-incomplete.la
tests_unit_daemon_core_broken_shift_incomplete_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_shift_incomplete_la_CPPFLAGS = $(AM_CPPFLAGS) -DSHIFT_INCOMPLETE -DNAME='"shift-incomplete"'
tests_unit_daemon_core_broken_shift_incomplete_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/shift-a.la
tests_unit_daemon_core_broken_shift_a_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_shift_a_la_CPPFLAGS = $(AM_CPPFLAGS) -DSHIFT -DNAME='"shift-a"'
tests_unit_daemon_core_broken_shift_a_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/shift-b.la
tests_unit_daemon_core_broken_shift_b_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_shift_b_la_CPPFLAGS = $(AM_CPPFLAGS) -DSHIFT -DNAME='"shift-b"'
tests_unit_daemon_core_broken_shift_b_la_LDFLAGS = $(broken_plugin_ldflags)
check_LTLIBRARIES += tests/unit/daemon/core/broken/good.la
tests_unit_daemon_core_broken_good_la_SOURCES = tests/unit/daemon/core/broken_plugin.c
tests_unit_daemon_core_broken_good_la_CPPFLAGS = $(AM_CPPFLAGS) -DNAME='"good"'
tests_unit_daemon_core_broken_good_la_LDFLAGS = $(broken_plugin_ldflags)

check_PROGRAMS += tests/unit/daemon/core/test_metrics
TESTS += tests/unit/daemon/core/test_metrics
tests_unit_daemon_core_test_metrics_SOURCES = tests/unit/daemon/core/test_metrics.c
tests_unit_daemon_core_test_metrics_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_core_test_metrics_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_core_test_metrics_LDADD = tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/core/test_aws_assume
TESTS += tests/unit/daemon/core/test_aws_assume
tests_unit_daemon_core_test_aws_assume_SOURCES = tests/unit/daemon/core/test_aws_assume.c
tests_unit_daemon_core_test_aws_assume_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_core_test_aws_assume_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_core_test_aws_assume_LDADD = tests/unit/daemon/libunit_core.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)
