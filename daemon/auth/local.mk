# Authentication: SigV4 verification of requests with the access keys a
# lookup function returns, the policy table (who may call what), application
# scopes, and the sealing of access-key secrets under the key-encryption key
# (auth_secret.c, which the store also uses: it comes into rolloutd with the
# store's sources).
daemon_auth_secret_sources = daemon/auth/auth_secret.c daemon/auth/auth_secret.h
daemon_auth_own_sources = \
	daemon/auth/auth.c daemon/auth/auth.h \
	daemon/auth/auth_policy.c daemon/auth/auth_scope.c
daemon_auth_sources = $(daemon_auth_own_sources) $(daemon_auth_secret_sources)
rolloutd_SOURCES += $(daemon_auth_own_sources)
# The audit trail's writer (over the store and the HTTP transport's observer).
rolloutd_SOURCES += daemon/auth/auth_audit.c daemon/auth/auth_audit.h
