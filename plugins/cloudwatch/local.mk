# cloudwatch: health alarms from CloudWatch alarm states.
if BUILD_PLUGIN_cloudwatch
pkgplugin_LTLIBRARIES += plugins/cloudwatch/cloudwatch.la
plugins_cloudwatch_cloudwatch_la_SOURCES = plugins/cloudwatch/cloudwatch.c plugins/common/health_util.h
plugins_cloudwatch_cloudwatch_la_CFLAGS = $(plugin_cflags) $(JANSSON_CFLAGS)
plugins_cloudwatch_cloudwatch_la_LDFLAGS = $(plugin_ldflags)
plugins_cloudwatch_cloudwatch_la_LIBADD = $(JANSSON_LIBS) -lm
endif
