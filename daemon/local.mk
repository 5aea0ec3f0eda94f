# rolloutd. Each part of the daemon (daemon/<part>/) appends its sources in
# its own local.mk; main.c wires the parts together. Headers are included by
# part: #include "store/store.h".
sbin_PROGRAMS += rolloutd
rolloutd_SOURCES = daemon/main.c daemon/access_key_cmd.c daemon/access_key_cmd.h daemon/store_config.c \
	daemon/store_config.h daemon/shared_keys.c daemon/shared_keys.h
DAEMON_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon
DAEMON_CFLAGS = $(AM_CFLAGS) $(EVENT_CFLAGS) $(EVENT_OPENSSL_CFLAGS) $(JANSSON_CFLAGS) \
	$(CURL_CFLAGS) $(SQLITE_CFLAGS) $(PQ_CFLAGS) $(OPENSSL_CFLAGS) $(SYSTEMD_CFLAGS) $(ARCHIVE_CFLAGS) $(YAML_CFLAGS) \
	$(XML_CFLAGS)
DAEMON_LIBS = lib/librollout.la $(EVENT_LIBS) $(EVENT_OPENSSL_LIBS) $(JANSSON_LIBS) \
	$(CURL_LIBS) $(SQLITE_LIBS) $(PQ_LIBS) $(OPENSSL_LIBS) $(SYSTEMD_LIBS) $(ARCHIVE_LIBS) $(YAML_LIBS) $(XML_LIBS) \
	-lpthread $(LIBS)
rolloutd_CPPFLAGS = $(DAEMON_CPPFLAGS)
rolloutd_CFLAGS = $(DAEMON_CFLAGS)
rolloutd_LDADD = $(DAEMON_LIBS)

include daemon/core/local.mk
include daemon/auth/local.mk
include daemon/store/local.mk
include daemon/cluster/local.mk
include daemon/api/local.mk
include daemon/bundles/local.mk
include daemon/health/local.mk
include daemon/traffic/local.mk
include daemon/engine/local.mk
include daemon/relay/local.mk
include daemon/ui/local.mk
