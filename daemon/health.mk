# Health alarms, alarm polling and trigger notifications (issue 9).
rolloutd_SOURCES += daemon/alarms.c daemon/alarms.h daemon/triggers.c daemon/triggers.h \
	daemon/store_health.c daemon/store_health.h
EXTRA_DIST += docs/health.md
