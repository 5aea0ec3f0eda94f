# bitbucket: source plugin (issue 7).
if BUILD_PLUGIN_bitbucket
pkgplugin_LTLIBRARIES += plugins/bitbucket/bitbucket.la
plugins_bitbucket_bitbucket_la_SOURCES = plugins/bitbucket/bitbucket.c plugins/http/srcutil.c plugins/http/srcutil.h
plugins_bitbucket_bitbucket_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(OPENSSL_CFLAGS) -fvisibility=hidden
plugins_bitbucket_bitbucket_la_LDFLAGS = $(plugin_ldflags)
plugins_bitbucket_bitbucket_la_LIBADD = $(JANSSON_LIBS) $(OPENSSL_LIBS)
endif
