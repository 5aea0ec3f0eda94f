bin_PROGRAMS += rolloutctl
rolloutctl_SOURCES = cli/main.c
rolloutctl_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
rolloutctl_LDADD = lib/librollout.la $(JANSSON_LIBS) $(CURL_LIBS)
