# Unit tests of daemon/engine.
check_PROGRAMS += tests/unit/daemon/engine/test_engine_plan
TESTS += tests/unit/daemon/engine/test_engine_plan
tests_unit_daemon_engine_test_engine_plan_SOURCES = tests/unit/daemon/engine/test_engine_plan.c daemon/engine/engine_plan.c daemon/engine/engine_plan.h
tests_unit_daemon_engine_test_engine_plan_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_engine_test_engine_plan_CFLAGS = $(UNIT_CFLAGS)
tests_unit_daemon_engine_test_engine_plan_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/engine/test_engine_hostcmd_id
TESTS += tests/unit/daemon/engine/test_engine_hostcmd_id
tests_unit_daemon_engine_test_engine_hostcmd_id_SOURCES = tests/unit/daemon/engine/test_engine_hostcmd_id.c \
	daemon/engine/engine_hostcmd_id.c daemon/engine/engine_hostcmd_id.h
tests_unit_daemon_engine_test_engine_hostcmd_id_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_engine_test_engine_hostcmd_id_CFLAGS = $(UNIT_CFLAGS)
tests_unit_daemon_engine_test_engine_hostcmd_id_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/engine/test_spec
TESTS += tests/unit/daemon/engine/test_spec
tests_unit_daemon_engine_test_spec_SOURCES = tests/unit/daemon/engine/test_spec.c daemon/engine/spec.c daemon/engine/spec.h
tests_unit_daemon_engine_test_spec_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_engine_test_spec_CFLAGS = $(UNIT_CFLAGS)
tests_unit_daemon_engine_test_spec_LDADD = $(UNIT_LIBS)

# The state machine against a real store, with a fake transport, platform and
# agents (no HTTP: engine_hostcmd_http.c is not linked).
check_PROGRAMS += tests/unit/daemon/engine/test_engine
TESTS += tests/unit/daemon/engine/test_engine
tests_unit_daemon_engine_test_engine_SOURCES = tests/unit/daemon/engine/test_engine.c \
	daemon/core/workpool.c daemon/core/workpool.h
tests_unit_daemon_engine_test_engine_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_engine_test_engine_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS) $(ARCHIVE_CFLAGS)
tests_unit_daemon_engine_test_engine_LDADD = tests/unit/daemon/libunit_engine.la tests/unit/daemon/libunit_bundles.la tests/unit/daemon/libunit_health.la tests/unit/daemon/libunit_traffic.la tests/unit/daemon/libunit_cluster.la tests/unit/daemon/libunit_core.la tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS) $(ARCHIVE_LIBS)

# Lambda / ECS deployments: the plan, and the state machine with fake plugin jobs.
check_PROGRAMS += tests/unit/daemon/engine/test_engine_shift
TESTS += tests/unit/daemon/engine/test_engine_shift
tests_unit_daemon_engine_test_engine_shift_SOURCES = tests/unit/daemon/engine/test_engine_shift.c \
	daemon/core/workpool.c daemon/core/workpool.h
tests_unit_daemon_engine_test_engine_shift_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_engine_test_engine_shift_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS) $(ARCHIVE_CFLAGS)
tests_unit_daemon_engine_test_engine_shift_LDADD = tests/unit/daemon/libunit_engine.la tests/unit/daemon/libunit_bundles.la tests/unit/daemon/libunit_health.la tests/unit/daemon/libunit_traffic.la tests/unit/daemon/libunit_cluster.la tests/unit/daemon/libunit_core.la tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS) $(ARCHIVE_LIBS)

# The model: a deployment's target index and counts.
check_PROGRAMS += tests/unit/daemon/engine/test_engine_model
TESTS += tests/unit/daemon/engine/test_engine_model
tests_unit_daemon_engine_test_engine_model_SOURCES = tests/unit/daemon/engine/test_engine_model.c \
	daemon/engine/engine_model.c daemon/engine/engine_model.h daemon/engine/engine_plan.c daemon/engine/engine_plan.h
tests_unit_daemon_engine_test_engine_model_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_engine_test_engine_model_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_engine_test_engine_model_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)
