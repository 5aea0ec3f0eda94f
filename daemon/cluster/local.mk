# Several daemons on one PostgreSQL database: heartbeats, deployment and job
# leases, takeover, NOTIFY / LISTEN (cluster.h).
daemon_cluster_sources = daemon/cluster/cluster.c daemon/cluster/cluster.h
rolloutd_SOURCES += $(daemon_cluster_sources)
