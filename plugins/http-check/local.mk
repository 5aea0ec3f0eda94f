# http-check: health alarms on an HTTP endpoint (issue 9).
if BUILD_PLUGIN_http_check
pkgplugin_LTLIBRARIES += plugins/http-check/http-check.la
plugins_http_check_http_check_la_SOURCES = plugins/http-check/http-check.c plugins/http-check/health_util.h
plugins_http_check_http_check_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) -fvisibility=hidden
plugins_http_check_http_check_la_LDFLAGS = $(plugin_ldflags)
plugins_http_check_http_check_la_LIBADD = $(JANSSON_LIBS)
endif
