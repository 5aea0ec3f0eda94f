# Daemon runtime and control API (issues 3, 4): HTTP front end, workers,
# store, API. lib/sigv4 goes into librollout.
rolloutd_SOURCES += \
	daemon/httpd.c daemon/httpd.h \
	daemon/workpool.c daemon/workpool.h \
	daemon/store.c daemon/store.h daemon/store_internal.h daemon/store_migrations.c daemon/store_api.c \
	daemon/api.c daemon/api.h daemon/api_internal.h daemon/api_ops.c \
	daemon/api_model.c daemon/api_model.h daemon/api_validate.c \
	daemon/api_util.c daemon/api_util.h daemon/api_ext.c daemon/api_ops.h \
	daemon/api_app.c daemon/api_config.c daemon/api_group.c daemon/api_revision.c daemon/api_deploy.c daemon/api_onprem.c
lib_librollout_la_SOURCES += lib/sigv4.c lib/sigv4.h
EXTRA_DIST += daemon/api_model_gen.py bench/api-bench
