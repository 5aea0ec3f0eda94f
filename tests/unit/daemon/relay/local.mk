# Unit tests of daemon/relay (its pure parts).
check_PROGRAMS += tests/unit/daemon/relay/test_relay_header
TESTS += tests/unit/daemon/relay/test_relay_header
tests_unit_daemon_relay_test_relay_header_SOURCES = tests/unit/daemon/relay/test_relay_header.c \
	daemon/relay/relay_header.c daemon/relay/relay_header.h
tests_unit_daemon_relay_test_relay_header_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_relay_test_relay_header_CFLAGS = $(UNIT_CFLAGS)
tests_unit_daemon_relay_test_relay_header_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/relay/test_relay_hosts
TESTS += tests/unit/daemon/relay/test_relay_hosts
tests_unit_daemon_relay_test_relay_hosts_SOURCES = tests/unit/daemon/relay/test_relay_hosts.c \
	daemon/relay/relay_hosts.c daemon/relay/relay_hosts.h
tests_unit_daemon_relay_test_relay_hosts_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_relay_test_relay_hosts_CFLAGS = $(UNIT_CFLAGS)
tests_unit_daemon_relay_test_relay_hosts_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/daemon/relay/test_relay_notice
TESTS += tests/unit/daemon/relay/test_relay_notice
tests_unit_daemon_relay_test_relay_notice_SOURCES = tests/unit/daemon/relay/test_relay_notice.c \
	daemon/relay/relay_notice.c daemon/relay/relay_notice.h
tests_unit_daemon_relay_test_relay_notice_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_relay_test_relay_notice_CFLAGS = $(UNIT_CFLAGS)
tests_unit_daemon_relay_test_relay_notice_LDADD = $(UNIT_LIBS)
