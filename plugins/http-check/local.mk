# http-check: health alarms on an HTTP endpoint.
if BUILD_PLUGIN_http_check
pkgplugin_LTLIBRARIES += plugins/http-check/http-check.la
plugins_http_check_http_check_la_SOURCES = plugins/http-check/http-check.c plugins/common/uri.c plugins/common/uri.h
plugins_http_check_http_check_la_CFLAGS = $(plugin_cflags) $(JANSSON_CFLAGS)
plugins_http_check_http_check_la_LDFLAGS = $(plugin_ldflags)
plugins_http_check_http_check_la_LIBADD = $(JANSSON_LIBS)
endif
