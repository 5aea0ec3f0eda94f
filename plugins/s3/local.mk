# s3: S3 revisions.
if BUILD_PLUGIN_s3
pkgplugin_LTLIBRARIES += plugins/s3/s3.la
plugins_s3_s3_la_SOURCES = plugins/s3/s3.c plugins/common/srcutil.c plugins/common/srcutil.h \
	plugins/common/uri.c plugins/common/uri.h
plugins_s3_s3_la_CFLAGS = $(plugin_cflags) $(JANSSON_CFLAGS)
plugins_s3_s3_la_LDFLAGS = $(plugin_ldflags)
plugins_s3_s3_la_LIBADD = $(JANSSON_LIBS)
endif
