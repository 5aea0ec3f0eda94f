# http: source plugin (issue 7).
if BUILD_PLUGIN_http
pkgplugin_LTLIBRARIES += plugins/http/http.la
plugins_http_http_la_SOURCES = plugins/http/http.c plugins/http/srcutil.c plugins/http/srcutil.h
plugins_http_http_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) -fvisibility=hidden
plugins_http_http_la_LDFLAGS = $(plugin_ldflags)
plugins_http_http_la_LIBADD = $(JANSSON_LIBS)
endif
