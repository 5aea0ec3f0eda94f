# Unit tests of daemon/auth: SigV4 verification and the policy table.
check_PROGRAMS += tests/unit/daemon/auth/test_auth
TESTS += tests/unit/daemon/auth/test_auth
tests_unit_daemon_auth_test_auth_SOURCES = tests/unit/daemon/auth/test_auth.c \
	daemon/core/workpool.c
tests_unit_daemon_auth_test_auth_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_auth_test_auth_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_auth_test_auth_LDADD = tests/unit/daemon/libunit_httpd.la tests/unit/daemon/libunit_auth.la \
	tests/unit/daemon/libunit_httpd.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

# The sealing of access-key secrets and the KEK file.
check_PROGRAMS += tests/unit/daemon/auth/test_auth_secret
TESTS += tests/unit/daemon/auth/test_auth_secret
tests_unit_daemon_auth_test_auth_secret_SOURCES = tests/unit/daemon/auth/test_auth_secret.c \
	$(daemon_auth_secret_sources)
tests_unit_daemon_auth_test_auth_secret_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_auth_test_auth_secret_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_auth_test_auth_secret_LDADD = $(UNIT_LIBS) $(DAEMON_UNIT_LIBS)

# What the audit trail records.
check_PROGRAMS += tests/unit/daemon/auth/test_auth_audit
TESTS += tests/unit/daemon/auth/test_auth_audit
tests_unit_daemon_auth_test_auth_audit_SOURCES = tests/unit/daemon/auth/test_auth_audit.c \
	daemon/auth/auth_audit.c daemon/auth/auth_audit.h \
	daemon/core/workpool.c
tests_unit_daemon_auth_test_auth_audit_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_daemon_auth_test_auth_audit_CFLAGS = $(UNIT_CFLAGS) $(DAEMON_UNIT_CFLAGS)
tests_unit_daemon_auth_test_auth_audit_LDADD = tests/unit/daemon/libunit_httpd.la tests/unit/daemon/libunit_store.la tests/unit/daemon/libunit_metrics.la \
	$(UNIT_LIBS) $(DAEMON_UNIT_LIBS)
