# Unit tests of daemon/ui: the dashboard's sessions and failed sign-in limit.
check_PROGRAMS += tests/unit/daemon/ui/test_ui_session
TESTS += tests/unit/daemon/ui/test_ui_session
tests_unit_daemon_ui_test_ui_session_SOURCES = tests/unit/daemon/ui/test_ui_session.c daemon/ui/ui_session.c \
	daemon/ui/ui_session.h
tests_unit_daemon_ui_test_ui_session_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_ui_test_ui_session_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_ui_test_ui_session_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)
