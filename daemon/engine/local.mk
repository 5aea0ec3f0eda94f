# The deployment engine, cut by layer (engine.h lists the files and what
# each holds). daemon_engine_sources is everything but the HTTP side
# (engine_hostcmd_http.c), so the engine's unit test runs it without HTTP.
daemon_engine_sources = \
	daemon/engine/engine.c daemon/engine/engine.h daemon/engine/engine_context.h \
	daemon/engine/engine_plan.c daemon/engine/engine_plan.h \
	daemon/engine/engine_model.c daemon/engine/engine_model.h \
	daemon/engine/engine_input.c daemon/engine/engine_input.h \
	daemon/engine/engine_targets.c daemon/engine/engine_targets.h \
	daemon/engine/engine_jobs.c daemon/engine/engine_jobs.h \
	daemon/engine/engine_outbox.c daemon/engine/engine_outbox.h \
	daemon/engine/engine_hostcmd.c daemon/engine/engine_hostcmd.h \
	daemon/engine/engine_hostcmd_id.c daemon/engine/engine_hostcmd_id.h \
	daemon/engine/engine_bg.c daemon/engine/engine_bg.h \
	daemon/engine/engine_autodeploy.c daemon/engine/engine_autodeploy.h \
	daemon/engine/engine_autoscale.c daemon/engine/engine_autoscale.h \
	daemon/engine/engine_shift.c daemon/engine/engine_shift.h daemon/engine/engine_shift_jobs.c \
	daemon/engine/spec.c daemon/engine/spec.h
rolloutd_SOURCES += $(daemon_engine_sources) daemon/engine/engine_hostcmd_http.c
