# Alarm polling over the health plugins, and trigger notifications.
daemon_health_sources = daemon/health/alarms.c daemon/health/alarms.h daemon/health/triggers.c daemon/health/triggers.h
rolloutd_SOURCES += $(daemon_health_sources)
EXTRA_DIST += docs/health.md
