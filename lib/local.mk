# librollout: code shared by rolloutd, rollout-agent and rolloutctl (never
# linked into plugins). lib/ never logs: it returns errors and messages.
noinst_LTLIBRARIES += lib/librollout.la
lib_librollout_la_SOURCES = \
	lib/log.c lib/log.h \
	lib/yamltree.c lib/yamltree.h \
	lib/util.c lib/util.h \
	lib/cryptoutil.c lib/cryptoutil.h \
	lib/appspec.c lib/appspec_path.c lib/appspec.h \
	lib/appspec_shift.c lib/appspec_shift.h \
	lib/bundle.c lib/bundle.h \
	lib/sigv4.c lib/sigv4.h \
	lib/httpclient.c lib/httpclient.h \
	lib/awscreds.c lib/awscreds.h \
	lib/tagfilter.c lib/tagfilter.h \
	lib/awsprofile.c lib/awsprofile.h \
	lib/duration.c lib/duration.h \
	lib/jsonutil.c lib/jsonutil.h \
	lib/uuid.c lib/uuid.h \
	lib/strmap.c lib/strmap.h \
	lib/timerheap.c lib/timerheap.h
lib_librollout_la_CFLAGS = $(AM_CFLAGS) $(YAML_CFLAGS) $(JANSSON_CFLAGS) $(OPENSSL_CFLAGS) $(SYSTEMD_CFLAGS) \
	$(ARCHIVE_CFLAGS) $(CURL_CFLAGS)
lib_librollout_la_LIBADD = $(YAML_LIBS) $(JANSSON_LIBS) $(OPENSSL_LIBS) $(SYSTEMD_LIBS) $(ARCHIVE_LIBS) \
	$(CURL_LIBS) $(PTHREAD_LIBS) -lm
