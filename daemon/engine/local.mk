# The deployment engine: state machine, planner, host-command service and
# deployment specification signing.
rolloutd_SOURCES += \
	daemon/engine/engine.c daemon/engine/engine.h daemon/engine/engine_internal.h \
	daemon/engine/engine_plan.c daemon/engine/engine_plan.h \
	daemon/engine/engine_targets.c daemon/engine/engine_targets.h \
	daemon/engine/cmdsvc.c daemon/engine/cmdsvc_id.c daemon/engine/cmdsvc_id.h \
	daemon/engine/spec.c daemon/engine/spec.h
