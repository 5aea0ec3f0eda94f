# The store: every SQL statement of the daemon, migrations included; one file per entity.
daemon_store_sources = \
	daemon/store/store.c daemon/store/store.h daemon/store/store_internal.h daemon/store/store_hot.h \
	daemon/store/store_migrations.c daemon/store/store_migrations_pg.c daemon/store/store_pg.c \
	daemon/store/store_app.c daemon/store/store_tags.c daemon/store/store_group.c \
	daemon/store/store_revision.c daemon/store/store_deployment.c daemon/store/store_instance.c \
	daemon/store/store_access_key.c daemon/store/store_key_cache.c daemon/store/store_engine.h \
	daemon/store/store_health.c daemon/store/store_health.h \
	daemon/store/store_backup.c daemon/store/store_retention.c daemon/store/store_shift.c \
	daemon/store/store_audit.c daemon/store/store_bundle.c daemon/store/store_shared_keys.c \
	daemon/store/store_cluster.c \
	$(daemon_auth_secret_sources)
rolloutd_SOURCES += $(daemon_store_sources)

# bench/history-gen writes a large deployment history through these very
# functions, for bench/api-bench to read (not installed).
noinst_PROGRAMS += bench/history-gen
bench_history_gen_SOURCES = bench/history-gen.c $(daemon_store_sources) $(daemon_metrics_sources)
bench_history_gen_CPPFLAGS = $(DAEMON_CPPFLAGS)
bench_history_gen_CFLAGS = $(DAEMON_CFLAGS)
bench_history_gen_LDADD = $(DAEMON_LIBS)
