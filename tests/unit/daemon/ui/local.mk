# Unit tests of daemon/ui: the dashboard's sessions, failed sign-in limit and long-polls.
check_PROGRAMS += tests/unit/daemon/ui/test_ui_session
TESTS += tests/unit/daemon/ui/test_ui_session
tests_unit_daemon_ui_test_ui_session_SOURCES = tests/unit/daemon/ui/test_ui_session.c daemon/ui/ui_session.c \
	daemon/ui/ui_session.h
tests_unit_daemon_ui_test_ui_session_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_ui_test_ui_session_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_ui_test_ui_session_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/ui/test_ui_wait
TESTS += tests/unit/daemon/ui/test_ui_wait
tests_unit_daemon_ui_test_ui_wait_SOURCES = tests/unit/daemon/ui/test_ui_wait.c daemon/ui/ui_wait.c daemon/ui/ui_wait.h
tests_unit_daemon_ui_test_ui_wait_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_ui_test_ui_wait_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_ui_test_ui_wait_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)
