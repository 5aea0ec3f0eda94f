# bitbucket: source plugin.
if BUILD_PLUGIN_bitbucket
pkgplugin_LTLIBRARIES += plugins/bitbucket/bitbucket.la
plugins_bitbucket_bitbucket_la_SOURCES = plugins/bitbucket/bitbucket.c plugins/common/srcutil.c plugins/common/srcutil.h
plugins_bitbucket_bitbucket_la_CFLAGS = $(plugin_cflags) $(JANSSON_CFLAGS) $(OPENSSL_CFLAGS)
plugins_bitbucket_bitbucket_la_LDFLAGS = $(plugin_ldflags)
plugins_bitbucket_bitbucket_la_LIBADD = $(JANSSON_LIBS) $(OPENSSL_LIBS)
endif
