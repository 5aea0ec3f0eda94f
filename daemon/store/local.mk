# The store: every SQL statement of the daemon, migrations included.
daemon_store_sources = \
	daemon/store/store.c daemon/store/store.h daemon/store/store_internal.h daemon/store/store_migrations.c
rolloutd_SOURCES += $(daemon_store_sources) \
	daemon/store/store_api.c \
	daemon/store/store_engine.c daemon/store/store_engine.h \
	daemon/store/store_health.c daemon/store/store_health.h
