# The deployment engine for servers, host-command service, deployment
# specification signing and the engine's SQL (issue 6).
rolloutd_SOURCES += \
	daemon/engine_internal.h \
	daemon/engine_plan.c daemon/engine_plan.h \
	daemon/cmdsvc.c daemon/cmdsvc_id.c daemon/cmdsvc_id.h \
	daemon/spec.c daemon/spec.h \
	daemon/store_engine.c daemon/store_engine.h
