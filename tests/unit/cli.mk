# rolloutctl unit tests: the pure parts of cli/ (cli/librolloutctl.la).
CLI_UNIT_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS) $(ARCHIVE_CFLAGS) -I$(top_srcdir)
CLI_UNIT_LIBS = cli/librolloutctl.la $(UNIT_LIBS) $(CURL_LIBS) $(ARCHIVE_LIBS)

check_PROGRAMS += tests/unit/test_cli_args tests/unit/test_cli_progress
tests_unit_test_cli_args_SOURCES = tests/unit/test_cli_args.c
tests_unit_test_cli_args_CFLAGS = $(CLI_UNIT_CFLAGS)
tests_unit_test_cli_args_LDADD = $(CLI_UNIT_LIBS)
tests_unit_test_cli_progress_SOURCES = tests/unit/test_cli_progress.c
tests_unit_test_cli_progress_CFLAGS = $(CLI_UNIT_CFLAGS)
tests_unit_test_cli_progress_LDADD = $(CLI_UNIT_LIBS)
TESTS += tests/unit/test_cli_args tests/unit/test_cli_progress
