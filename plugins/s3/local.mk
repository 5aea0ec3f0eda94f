# s3: S3 revisions (issue 7).
if BUILD_PLUGIN_s3
pkgplugin_LTLIBRARIES += plugins/s3/s3.la
plugins_s3_s3_la_SOURCES = plugins/s3/s3.c plugins/http/srcutil.c plugins/http/srcutil.h
plugins_s3_s3_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) -fvisibility=hidden
plugins_s3_s3_la_LDFLAGS = $(plugin_ldflags)
plugins_s3_s3_la_LIBADD = $(JANSSON_LIBS)
endif
