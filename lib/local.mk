noinst_LTLIBRARIES += lib/librollout.la
lib_librollout_la_SOURCES = \
	lib/log.c lib/log.h \
	lib/yamltree.c lib/yamltree.h \
	lib/util.c lib/util.h
lib_librollout_la_CFLAGS = $(AM_CFLAGS) $(YAML_CFLAGS) $(JANSSON_CFLAGS) $(OPENSSL_CFLAGS) $(SYSTEMD_CFLAGS)
lib_librollout_la_LIBADD = $(YAML_LIBS) $(JANSSON_LIBS) $(OPENSSL_LIBS) $(SYSTEMD_LIBS)
