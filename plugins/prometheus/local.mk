# prometheus: health alarms from PromQL instant queries.
if BUILD_PLUGIN_prometheus
pkgplugin_LTLIBRARIES += plugins/prometheus/prometheus.la
plugins_prometheus_prometheus_la_SOURCES = plugins/prometheus/prometheus.c plugins/common/uri.c plugins/common/uri.h
plugins_prometheus_prometheus_la_CFLAGS = $(plugin_cflags) $(JANSSON_CFLAGS)
plugins_prometheus_prometheus_la_LDFLAGS = $(plugin_ldflags)
plugins_prometheus_prometheus_la_LIBADD = $(JANSSON_LIBS) -lm
endif
