# lambda: AWS Lambda deployments (alias traffic shifting, hook functions).
if BUILD_PLUGIN_lambda
pkgplugin_LTLIBRARIES += plugins/lambda/lambda.la
plugins_lambda_lambda_la_SOURCES = plugins/lambda/lambda.c plugins/common/appspecres.c plugins/common/appspecres.h \
	plugins/common/awsjson.c plugins/common/awsjson.h \
	plugins/common/uri.c plugins/common/uri.h
plugins_lambda_lambda_la_CFLAGS = $(plugin_cflags) $(JANSSON_CFLAGS)
plugins_lambda_lambda_la_LDFLAGS = $(plugin_ldflags)
plugins_lambda_lambda_la_LIBADD = $(JANSSON_LIBS)
endif
EXTRA_DIST += docs/lambda.md
