# Unit tests of daemon/api.
check_PROGRAMS += tests/unit/daemon/api/test_api_validate
TESTS += tests/unit/daemon/api/test_api_validate
tests_unit_daemon_api_test_api_validate_SOURCES = tests/unit/daemon/api/test_api_validate.c daemon/api/api_model.c daemon/api/api_validate.c
tests_unit_daemon_api_test_api_validate_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_api_test_api_validate_CFLAGS = $(UNIT_CFLAGS)
tests_unit_daemon_api_test_api_validate_LDADD = $(UNIT_LIBS) -lm
