# Daemon runtime and control API unit tests (issues 3, 4).
API_UNIT_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/daemon -I$(top_srcdir)/tests/unit $(SQLITE_CFLAGS)

check_PROGRAMS += tests/unit/test_api_sigv4 tests/unit/test_api_store tests/unit/test_api_validate \
	tests/unit/test_api_workpool
TESTS += tests/unit/test_api_sigv4 tests/unit/test_api_store tests/unit/test_api_validate \
	tests/unit/test_api_workpool

tests_unit_test_api_sigv4_SOURCES = tests/unit/test_api_sigv4.c
tests_unit_test_api_sigv4_CFLAGS = $(API_UNIT_CFLAGS)
tests_unit_test_api_sigv4_LDADD = $(UNIT_LIBS)

tests_unit_test_api_store_SOURCES = tests/unit/test_api_store.c daemon/store.c daemon/store_migrations.c \
	daemon/store_api.c
tests_unit_test_api_store_CFLAGS = $(API_UNIT_CFLAGS)
tests_unit_test_api_store_LDADD = $(UNIT_LIBS) $(SQLITE_LIBS)

tests_unit_test_api_validate_SOURCES = tests/unit/test_api_validate.c daemon/api_model.c daemon/api_validate.c
tests_unit_test_api_validate_CFLAGS = $(API_UNIT_CFLAGS)
tests_unit_test_api_validate_LDADD = $(UNIT_LIBS) -lm

tests_unit_test_api_workpool_SOURCES = tests/unit/test_api_workpool.c daemon/workpool.c
tests_unit_test_api_workpool_CFLAGS = $(API_UNIT_CFLAGS)
tests_unit_test_api_workpool_LDADD = $(UNIT_LIBS) -lpthread

check_PROGRAMS += tests/unit/test_api_httpd
TESTS += tests/unit/test_api_httpd
tests_unit_test_api_httpd_SOURCES = tests/unit/test_api_httpd.c daemon/httpd.c daemon/workpool.c daemon/store.c \
	daemon/store_migrations.c daemon/store_api.c
tests_unit_test_api_httpd_CFLAGS = $(API_UNIT_CFLAGS) $(EVENT_CFLAGS)
tests_unit_test_api_httpd_LDADD = $(UNIT_LIBS) $(SQLITE_LIBS) $(EVENT_LIBS) -lpthread
