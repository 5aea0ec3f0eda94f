# Unit tests of daemon/engine.
check_PROGRAMS += tests/unit/daemon/engine/test_engine_plan
TESTS += tests/unit/daemon/engine/test_engine_plan
tests_unit_daemon_engine_test_engine_plan_SOURCES = tests/unit/daemon/engine/test_engine_plan.c daemon/engine/engine_plan.c daemon/engine/engine_plan.h daemon/engine/engine_hostcmd_id.c daemon/engine/engine_hostcmd_id.h
tests_unit_daemon_engine_test_engine_plan_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_engine_test_engine_plan_CFLAGS = $(UNIT_CFLAGS)
tests_unit_daemon_engine_test_engine_plan_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/engine/test_spec
TESTS += tests/unit/daemon/engine/test_spec
tests_unit_daemon_engine_test_spec_SOURCES = tests/unit/daemon/engine/test_spec.c daemon/engine/spec.c daemon/engine/spec.h
tests_unit_daemon_engine_test_spec_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_engine_test_spec_CFLAGS = $(UNIT_CFLAGS)
tests_unit_daemon_engine_test_spec_LDADD = $(UNIT_LIBS)
