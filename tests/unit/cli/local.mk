# Unit tests of cli/ (the code of cli/librolloutctl.la).
check_PROGRAMS += tests/unit/cli/test_args
TESTS += tests/unit/cli/test_args
tests_unit_cli_test_args_SOURCES = tests/unit/cli/test_args.c
tests_unit_cli_test_args_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_cli_test_args_CFLAGS = $(UNIT_CFLAGS) $(ARCHIVE_CFLAGS)
tests_unit_cli_test_args_LDADD = $(UNIT_LIBS) cli/librolloutctl.la $(ARCHIVE_LIBS)

check_PROGRAMS += tests/unit/cli/test_progress
TESTS += tests/unit/cli/test_progress
tests_unit_cli_test_progress_SOURCES = tests/unit/cli/test_progress.c
tests_unit_cli_test_progress_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_cli_test_progress_CFLAGS = $(UNIT_CFLAGS) $(ARCHIVE_CFLAGS)
tests_unit_cli_test_progress_LDADD = $(UNIT_LIBS) cli/librolloutctl.la $(ARCHIVE_LIBS)

check_PROGRAMS += tests/unit/cli/test_pack
TESTS += tests/unit/cli/test_pack
tests_unit_cli_test_pack_SOURCES = tests/unit/cli/test_pack.c
tests_unit_cli_test_pack_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_cli_test_pack_CFLAGS = $(UNIT_CFLAGS) $(ARCHIVE_CFLAGS)
tests_unit_cli_test_pack_LDADD = $(UNIT_LIBS) cli/librolloutctl.la $(ARCHIVE_LIBS)

check_PROGRAMS += tests/unit/cli/test_cmdutil
TESTS += tests/unit/cli/test_cmdutil
tests_unit_cli_test_cmdutil_SOURCES = tests/unit/cli/test_cmdutil.c
tests_unit_cli_test_cmdutil_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_cli_test_cmdutil_CFLAGS = $(UNIT_CFLAGS)
tests_unit_cli_test_cmdutil_LDADD = $(UNIT_LIBS) cli/librolloutctl.la

check_PROGRAMS += tests/unit/cli/test_options
TESTS += tests/unit/cli/test_options
tests_unit_cli_test_options_SOURCES = tests/unit/cli/test_options.c
tests_unit_cli_test_options_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_cli_test_options_CFLAGS = $(UNIT_CFLAGS)
tests_unit_cli_test_options_LDADD = $(UNIT_LIBS) cli/librolloutctl.la

check_PROGRAMS += tests/unit/cli/test_nouns
TESTS += tests/unit/cli/test_nouns
tests_unit_cli_test_nouns_SOURCES = tests/unit/cli/test_nouns.c
tests_unit_cli_test_nouns_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_cli_test_nouns_CFLAGS = $(UNIT_CFLAGS)
tests_unit_cli_test_nouns_LDADD = $(UNIT_LIBS) cli/librolloutctl.la

check_PROGRAMS += tests/unit/cli/test_plan
TESTS += tests/unit/cli/test_plan
tests_unit_cli_test_plan_SOURCES = tests/unit/cli/test_plan.c
tests_unit_cli_test_plan_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_cli_test_plan_CFLAGS = $(UNIT_CFLAGS)
tests_unit_cli_test_plan_LDADD = $(UNIT_LIBS) cli/librolloutctl.la

check_PROGRAMS += tests/unit/cli/test_status
TESTS += tests/unit/cli/test_status
tests_unit_cli_test_status_SOURCES = tests/unit/cli/test_status.c
tests_unit_cli_test_status_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_cli_test_status_CFLAGS = $(UNIT_CFLAGS)
tests_unit_cli_test_status_LDADD = $(UNIT_LIBS) cli/librolloutctl.la
