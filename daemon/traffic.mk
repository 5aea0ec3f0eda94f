# Traffic control for server deployments (issue 10): the engine-facing module
# over the traffic plugins.
rolloutd_SOURCES += daemon/traffic.c daemon/traffic.h daemon/traffic_bg.c
