# Alarm polling over the health plugins, and trigger notifications.
# The one alarm check and its rule, on its own for the traffic phase's users.
daemon_health_check_sources = daemon/health/alarm_check.c daemon/health/alarm_check.h
daemon_health_sources = $(daemon_health_check_sources) daemon/health/alarms.c daemon/health/alarms.h daemon/health/triggers.c daemon/health/triggers.h
rolloutd_SOURCES += $(daemon_health_sources)
EXTRA_DIST += docs/health.md
