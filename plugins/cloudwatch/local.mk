# cloudwatch: health alarms from CloudWatch alarm states (issue 9).
if BUILD_PLUGIN_cloudwatch
pkgplugin_LTLIBRARIES += plugins/cloudwatch/cloudwatch.la
plugins_cloudwatch_cloudwatch_la_SOURCES = plugins/cloudwatch/cloudwatch.c plugins/http-check/health_util.h
plugins_cloudwatch_cloudwatch_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) -fvisibility=hidden
plugins_cloudwatch_cloudwatch_la_LDFLAGS = $(plugin_ldflags)
plugins_cloudwatch_cloudwatch_la_LIBADD = $(JANSSON_LIBS) -lm
endif
