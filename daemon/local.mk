# rolloutd. Other fragments append their sources with 'rolloutd_SOURCES +='.
sbin_PROGRAMS += rolloutd
rolloutd_SOURCES = daemon/main.c daemon/daemon.h daemon/conf.h daemon/engine.h daemon/engine.c
DAEMON_CFLAGS = $(AM_CFLAGS) $(EVENT_CFLAGS) $(EVENT_OPENSSL_CFLAGS) $(JANSSON_CFLAGS) \
	$(CURL_CFLAGS) $(SQLITE_CFLAGS) $(OPENSSL_CFLAGS) $(SYSTEMD_CFLAGS) $(ARCHIVE_CFLAGS) $(YAML_CFLAGS)
DAEMON_LIBS = lib/librollout.la $(EVENT_LIBS) $(EVENT_OPENSSL_LIBS) $(JANSSON_LIBS) \
	$(CURL_LIBS) $(SQLITE_LIBS) $(OPENSSL_LIBS) $(SYSTEMD_LIBS) $(ARCHIVE_LIBS) $(YAML_LIBS) -lpthread $(LIBS)
rolloutd_CFLAGS = $(DAEMON_CFLAGS)
rolloutd_LDADD = $(DAEMON_LIBS)
