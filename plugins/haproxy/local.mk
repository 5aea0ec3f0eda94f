# haproxy: traffic control through HAProxy's Runtime API.
if BUILD_PLUGIN_haproxy
pkgplugin_LTLIBRARIES += plugins/haproxy/haproxy.la
plugins_haproxy_haproxy_la_SOURCES = plugins/haproxy/haproxy.c
plugins_haproxy_haproxy_la_CFLAGS = $(plugin_cflags) $(JANSSON_CFLAGS)
plugins_haproxy_haproxy_la_LDFLAGS = $(plugin_ldflags)
plugins_haproxy_haproxy_la_LIBADD = $(JANSSON_LIBS)
endif
