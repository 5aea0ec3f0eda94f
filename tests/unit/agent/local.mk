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

check_PROGRAMS += tests/unit/agent/test_layout
TESTS += tests/unit/agent/test_layout
tests_unit_agent_test_layout_SOURCES = tests/unit/agent/test_layout.c agent/layout.c
tests_unit_agent_test_layout_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_agent_test_layout_CFLAGS = $(UNIT_CFLAGS) -Wno-format-truncation
tests_unit_agent_test_layout_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/agent/test_live
TESTS += tests/unit/agent/test_live
tests_unit_agent_test_live_SOURCES = tests/unit/agent/test_live.c agent/live.c agent/hostcmd.c agent/tail.c agent/runner.c
tests_unit_agent_test_live_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_agent_test_live_CFLAGS = $(UNIT_CFLAGS) -Wno-format-truncation
tests_unit_agent_test_live_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/agent/test_unpacked
TESTS += tests/unit/agent/test_unpacked
tests_unit_agent_test_unpacked_SOURCES = tests/unit/agent/test_unpacked.c agent/unpacked.c agent/layout.c
tests_unit_agent_test_unpacked_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_agent_test_unpacked_CFLAGS = $(UNIT_CFLAGS) $(OPENSSL_CFLAGS) -Wno-format-truncation
tests_unit_agent_test_unpacked_LDADD = $(UNIT_LIBS) $(OPENSSL_LIBS)

check_PROGRAMS += tests/unit/agent/test_extractor
TESTS += tests/unit/agent/test_extractor
tests_unit_agent_test_extractor_SOURCES = tests/unit/agent/test_extractor.c agent/extractor.c
tests_unit_agent_test_extractor_CPPFLAGS = $(UNIT_CPPFLAGS) \
	-DTEST_EXTRACT_HELPER='"$(abs_top_builddir)/rollout-agent-extract$(EXEEXT)"'
tests_unit_agent_test_extractor_CFLAGS = $(UNIT_CFLAGS) -Wno-format-truncation
tests_unit_agent_test_extractor_LDADD = $(UNIT_LIBS)
