# The control API: CodeDeploy and Rolloutd_v1 operations, request validation
# from the model generated out of botocore's (api_model_gen.py).
rolloutd_SOURCES += \
	daemon/api/api.c daemon/api/api.h daemon/api/api_internal.h daemon/api/api_ops.c daemon/api/api_ops.h \
	daemon/api/api_model.c daemon/api/api_model.h daemon/api/api_validate.c \
	daemon/api/api_util.c daemon/api/api_util.h daemon/api/api_info.c daemon/api/api_info.h daemon/api/api_ext.c \
	daemon/api/api_app.c daemon/api/api_config.c daemon/api/api_group.c daemon/api/api_revision.c \
	daemon/api/api_deploy.c daemon/api/api_onprem.c daemon/api/api_enroll.c
EXTRA_DIST += daemon/api/api_model_gen.py bench/api-bench
