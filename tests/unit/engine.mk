# Engine (issue 6) unit tests: planning, host-command ids, spec signing.
check_PROGRAMS += tests/unit/test_engine_plan tests/unit/test_engine_spec
tests_unit_test_engine_plan_SOURCES = tests/unit/test_engine_plan.c \
	daemon/engine_plan.c daemon/engine_plan.h daemon/cmdsvc_id.c daemon/cmdsvc_id.h
tests_unit_test_engine_plan_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_engine_plan_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_engine_plan_LDADD = $(UNIT_LIBS)
tests_unit_test_engine_spec_SOURCES = tests/unit/test_engine_spec.c daemon/spec.c daemon/spec.h
tests_unit_test_engine_spec_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_engine_spec_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_engine_spec_LDADD = $(UNIT_LIBS)
TESTS += tests/unit/test_engine_plan tests/unit/test_engine_spec

# The onprem plugin's .c included into its test with a mock host table.
check_PROGRAMS += tests/unit/test_engine_onprem
tests_unit_test_engine_onprem_SOURCES = tests/unit/test_engine_onprem.c
tests_unit_test_engine_onprem_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_engine_onprem_LDADD = $(UNIT_LIBS)
TESTS += tests/unit/test_engine_onprem
