# haproxy: traffic control through HAProxy's Runtime API (issue 10).
if BUILD_PLUGIN_haproxy
pkgplugin_LTLIBRARIES += plugins/haproxy/haproxy.la
plugins_haproxy_haproxy_la_SOURCES = plugins/haproxy/haproxy.c
plugins_haproxy_haproxy_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) -fvisibility=hidden
plugins_haproxy_haproxy_la_LDFLAGS = $(plugin_ldflags)
plugins_haproxy_haproxy_la_LIBADD = $(JANSSON_LIBS)
endif
