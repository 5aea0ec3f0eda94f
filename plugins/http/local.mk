# http: source plugin.
if BUILD_PLUGIN_http
pkgplugin_LTLIBRARIES += plugins/http/http.la
plugins_http_http_la_SOURCES = plugins/http/http.c plugins/common/srcutil.c plugins/common/srcutil.h
plugins_http_http_la_CFLAGS = $(plugin_cflags) $(JANSSON_CFLAGS)
plugins_http_http_la_LDFLAGS = $(plugin_ldflags)
plugins_http_http_la_LIBADD = $(JANSSON_LIBS)
endif
