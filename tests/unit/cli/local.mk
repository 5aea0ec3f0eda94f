# Unit tests of cli/ (the code of cli/librolloutctl.la).
check_PROGRAMS += tests/unit/cli/test_args
TESTS += tests/unit/cli/test_args
tests_unit_cli_test_args_SOURCES = tests/unit/cli/test_args.c
tests_unit_cli_test_args_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_cli_test_args_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS) $(ARCHIVE_CFLAGS)
tests_unit_cli_test_args_LDADD = $(UNIT_LIBS) cli/librolloutctl.la $(CURL_LIBS) $(ARCHIVE_LIBS)

check_PROGRAMS += tests/unit/cli/test_progress
TESTS += tests/unit/cli/test_progress
tests_unit_cli_test_progress_SOURCES = tests/unit/cli/test_progress.c
tests_unit_cli_test_progress_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_cli_test_progress_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS) $(ARCHIVE_CFLAGS)
tests_unit_cli_test_progress_LDADD = $(UNIT_LIBS) cli/librolloutctl.la $(CURL_LIBS) $(ARCHIVE_LIBS)
