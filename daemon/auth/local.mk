# Authentication: SigV4 verification of requests with the access keys a
# lookup function returns, and the policy table (who may call what).
daemon_auth_sources = \
	daemon/auth/auth.c daemon/auth/auth.h \
	daemon/auth/auth_policy.c
rolloutd_SOURCES += $(daemon_auth_sources)
