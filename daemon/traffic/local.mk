# Traffic control of server deployments over the traffic plugins: in-place
# Block/Allow, blue/green reroute and weighted shifts.
daemon_traffic_sources = daemon/traffic/traffic.c daemon/traffic/traffic.h daemon/traffic/traffic_bg.c
rolloutd_SOURCES += $(daemon_traffic_sources)
