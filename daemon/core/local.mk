# The daemon's core: configuration, plugin loader and registry, the
# host-services table handed to plugins, the metrics registry, the HTTP transport
# and the worker pool.
# The metrics registry (the HTTP transport counts requests in it).
daemon_metrics_sources = daemon/core/metrics.c daemon/core/metrics.h
daemon_core_sources = \
	daemon/core/daemon.h daemon/core/error.h \
	daemon/core/conf.c daemon/core/conf.h \
	daemon/core/plugins.c daemon/core/plugins.h \
	daemon/core/platforms.c daemon/core/platforms.h \
	daemon/core/plugin_host.c daemon/core/plugin_host.h daemon/core/aws_assume.c daemon/core/aws_assume.h \
	$(daemon_metrics_sources) \
	$(daemon_plugin_services)
# The host services that need no running daemon; the SDK's testing library
# (sdk/testing/) compiles them too.
daemon_plugin_services = \
	daemon/core/plugin_config.c daemon/core/plugin_alarm.c daemon/core/plugin_alarm.h \
	daemon/core/plugin_tags.c daemon/core/plugin_xml.c
# The HTTP transport, on its own for the tests that drive it.
daemon_httpd_sources = \
	daemon/core/httpd.c daemon/core/httpd.h daemon/core/httpd_internal.h \
	daemon/core/httpd_call.c daemon/core/httpd_route.c daemon/core/httpd_limit.c \
	daemon/core/httpd_tls.c
rolloutd_SOURCES += $(daemon_core_sources) $(daemon_httpd_sources) \
	daemon/core/workpool.c daemon/core/workpool.h
