# Benchmarks: scripts in bench/ (each says how to run it) and the programs they drive.

# bench/fleet-sim's simulated agents (bench/fleetsim/fleetsim.h); built by `make`
# so that the bench and its smoke test find it in the build directory.
noinst_PROGRAMS += bench/fleetsim/fleet-sim-agents
bench_fleetsim_fleet_sim_agents_SOURCES = bench/fleetsim/main.c bench/fleetsim/fleetsim.h \
	bench/fleetsim/agent.c bench/fleetsim/loop.c bench/fleetsim/loop.h agent/spec.c agent/spec.h
bench_fleetsim_fleet_sim_agents_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/agent
bench_fleetsim_fleet_sim_agents_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(OPENSSL_CFLAGS) $(CURL_CFLAGS) \
	$(YAML_CFLAGS)
bench_fleetsim_fleet_sim_agents_LDADD = lib/librollout.la $(JANSSON_LIBS) $(OPENSSL_LIBS) $(CURL_LIBS) $(YAML_LIBS)
EXTRA_DIST += bench/fleet-sim bench/README.md bench/rollback-bench bench/agent-compare
