# Unit tests of daemon/cluster: the takeover's share, the advertised URL.
check_PROGRAMS += tests/unit/daemon/cluster/test_cluster
TESTS += tests/unit/daemon/cluster/test_cluster
tests_unit_daemon_cluster_test_cluster_SOURCES = tests/unit/daemon/cluster/test_cluster.c
tests_unit_daemon_cluster_test_cluster_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_cluster_test_cluster_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_cluster_test_cluster_LDADD = tests/unit/daemon/libunit_cluster.la tests/unit/daemon/libunit_core.la tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)
