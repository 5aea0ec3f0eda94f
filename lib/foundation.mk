# lib/ pieces of the foundation area: HTTP client (libcurl, SigV4) and the
# AWS credential chain, shared by daemon, agent and cli.
lib_librollout_la_SOURCES += \
	lib/httpclient.c lib/httpclient.h \
	lib/awscreds.c lib/awscreds.h
lib_librollout_la_CFLAGS += $(CURL_CFLAGS)
lib_librollout_la_LIBADD += $(CURL_LIBS) $(PTHREAD_LIBS)
