# Unit tests of agent/.
check_PROGRAMS += tests/unit/agent/test_runner
TESTS += tests/unit/agent/test_runner
tests_unit_agent_test_runner_SOURCES = tests/unit/agent/test_runner.c agent/runner.c agent/tail.c
tests_unit_agent_test_runner_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_agent_test_runner_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS)
tests_unit_agent_test_runner_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/agent/test_install
TESTS += tests/unit/agent/test_install
tests_unit_agent_test_install_SOURCES = tests/unit/agent/test_install.c agent/install.c
tests_unit_agent_test_install_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_agent_test_install_CFLAGS = $(UNIT_CFLAGS)
tests_unit_agent_test_install_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/agent/test_hostcmd
TESTS += tests/unit/agent/test_hostcmd
tests_unit_agent_test_hostcmd_SOURCES = tests/unit/agent/test_hostcmd.c agent/hostcmd.c
tests_unit_agent_test_hostcmd_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_agent_test_hostcmd_CFLAGS = $(UNIT_CFLAGS)
tests_unit_agent_test_hostcmd_LDADD = $(UNIT_LIBS)
