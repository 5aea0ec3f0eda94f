# prometheus: health alarms from PromQL instant queries (issue 9).
if BUILD_PLUGIN_prometheus
pkgplugin_LTLIBRARIES += plugins/prometheus/prometheus.la
plugins_prometheus_prometheus_la_SOURCES = plugins/prometheus/prometheus.c plugins/http-check/health_util.h
plugins_prometheus_prometheus_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) -fvisibility=hidden
plugins_prometheus_prometheus_la_LDFLAGS = $(plugin_ldflags)
plugins_prometheus_prometheus_la_LIBADD = $(JANSSON_LIBS) -lm
endif
