# Unit tests of the daemon's parts; each compiles the part's sources it needs.
DAEMON_UNIT_CFLAGS = $(CURL_CFLAGS) $(SQLITE_CFLAGS) $(PQ_CFLAGS) $(EVENT_CFLAGS) $(XML_CFLAGS)
DAEMON_UNIT_LIBS = $(CURL_LIBS) $(SQLITE_LIBS) $(PQ_LIBS) $(EVENT_LIBS) $(EVENT_OPENSSL_LIBS) $(OPENSSL_LIBS) $(XML_LIBS) $(PTHREAD_LIBS) -lm $(LIBS)
include tests/unit/daemon/core/local.mk
include tests/unit/daemon/auth/local.mk
include tests/unit/daemon/store/local.mk
include tests/unit/daemon/cluster/local.mk
include tests/unit/daemon/api/local.mk
include tests/unit/daemon/bundles/local.mk
include tests/unit/daemon/health/local.mk
include tests/unit/daemon/traffic/local.mk
include tests/unit/daemon/engine/local.mk
include tests/unit/daemon/relay/local.mk
include tests/unit/daemon/ui/local.mk
