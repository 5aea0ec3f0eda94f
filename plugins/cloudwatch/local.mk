# cloudwatch: health alarms from CloudWatch alarm states.
if BUILD_PLUGIN_cloudwatch
pkgplugin_LTLIBRARIES += plugins/cloudwatch/cloudwatch.la
plugins_cloudwatch_cloudwatch_la_SOURCES = plugins/cloudwatch/cloudwatch.c plugins/common/uri.c plugins/common/uri.h
plugins_cloudwatch_cloudwatch_la_CFLAGS = $(plugin_cflags)
plugins_cloudwatch_cloudwatch_la_LDFLAGS = $(plugin_ldflags)
plugins_cloudwatch_cloudwatch_la_LIBADD = -lm
endif
