# rollout-agent, plus the appspec parser and bundle code it shares with rolloutd (lib/).
lib_librollout_la_SOURCES += lib/appspec.c lib/appspec.h lib/bundle.c lib/bundle.h
lib_librollout_la_CFLAGS += $(ARCHIVE_CFLAGS)
lib_librollout_la_LIBADD += $(ARCHIVE_LIBS) -lm

bin_PROGRAMS += rollout-agent
rollout_agent_SOURCES = agent/main.c
rollout_agent_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) $(OPENSSL_CFLAGS) $(ARCHIVE_CFLAGS) $(YAML_CFLAGS)
rollout_agent_LDADD = lib/librollout.la $(JANSSON_LIBS) $(CURL_LIBS) $(OPENSSL_LIBS) $(ARCHIVE_LIBS) $(YAML_LIBS)
