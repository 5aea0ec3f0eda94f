# ecs: Amazon ECS blue/green deployments (task sets, listener weights, hook functions).
if BUILD_PLUGIN_ecs
pkgplugin_LTLIBRARIES += plugins/ecs/ecs.la
plugins_ecs_ecs_la_SOURCES = plugins/ecs/ecs.c plugins/ecs/ecs_spec.c plugins/ecs/ecs_spec.h plugins/common/appspecres.c plugins/common/appspecres.h \
	plugins/common/awsjson.c plugins/common/awsjson.h \
	plugins/common/awsquery.c plugins/common/awsquery.h plugins/common/uri.c plugins/common/uri.h
plugins_ecs_ecs_la_CFLAGS = $(plugin_cflags) $(JANSSON_CFLAGS)
plugins_ecs_ecs_la_LDFLAGS = $(plugin_ldflags)
plugins_ecs_ecs_la_LIBADD = $(JANSSON_LIBS)
endif
EXTRA_DIST += docs/ecs.md
