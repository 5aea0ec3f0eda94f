# Unit tests of the agent area (appspec, bundles, hook runner, install).
check_PROGRAMS += tests/unit/test_agent_appspec
tests_unit_test_agent_appspec_SOURCES = tests/unit/test_agent_appspec.c
tests_unit_test_agent_appspec_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_agent_appspec_LDADD = $(UNIT_LIBS)
TESTS += tests/unit/test_agent_appspec

check_PROGRAMS += tests/unit/test_agent_bundle
tests_unit_test_agent_bundle_SOURCES = tests/unit/test_agent_bundle.c
tests_unit_test_agent_bundle_CFLAGS = $(UNIT_CFLAGS) $(ARCHIVE_CFLAGS)
tests_unit_test_agent_bundle_LDADD = $(UNIT_LIBS) $(ARCHIVE_LIBS)
TESTS += tests/unit/test_agent_bundle

check_PROGRAMS += tests/unit/test_agent_runner
tests_unit_test_agent_runner_SOURCES = tests/unit/test_agent_runner.c agent/runner.c agent/tail.c
tests_unit_test_agent_runner_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS) -I$(top_srcdir)
tests_unit_test_agent_runner_LDADD = $(UNIT_LIBS)
TESTS += tests/unit/test_agent_runner

check_PROGRAMS += tests/unit/test_agent_install
tests_unit_test_agent_install_SOURCES = tests/unit/test_agent_install.c agent/install.c
tests_unit_test_agent_install_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)
tests_unit_test_agent_install_LDADD = $(UNIT_LIBS)
TESTS += tests/unit/test_agent_install
