# Calls that reach a daemon of a cluster which does not drive their
# deployment are relayed to the one that does (docs/cluster.md, "How calls
# reach the driving daemon"): the relay client and routing (relay.c), the
# relay header, the host -> driver map, the rolloutd_host notice.
daemon_relay_sources = daemon/relay/relay.c daemon/relay/relay.h daemon/relay/relay_header.c daemon/relay/relay_header.h \
	daemon/relay/relay_hosts.c daemon/relay/relay_hosts.h \
	daemon/relay/relay_notice.c daemon/relay/relay_notice.h
rolloutd_SOURCES += $(daemon_relay_sources)
