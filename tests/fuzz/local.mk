# Fuzz targets (libFuzzer). Each target tests/fuzz/fuzz_<name>.c is built
#  - with --enable-fuzzing (clang): as tests/fuzz/fuzz-<name>, libFuzzer's
#    main; `make fuzz` builds them all, scripts/test runs each for a bounded
#    time and bench/fuzz for as long as asked;
#  - in every build: as tests/fuzz/replay-<name>, a unit test that runs the
#    target over its seed corpus tests/fuzz/corpus/<name>/ (tests/fuzz/replay.c),
#    so that each crash found and kept there as a file is replayed by make check.
FUZZ_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir) -I$(top_srcdir)/daemon -I$(top_srcdir)/agent \
	-I$(top_srcdir)/tests/fuzz
FUZZ_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(YAML_CFLAGS) $(OPENSSL_CFLAGS) $(ARCHIVE_CFLAGS) \
	$(EVENT_CFLAGS) $(CURL_CFLAGS) $(SQLITE_CFLAGS) $(PQ_CFLAGS) $(XML_CFLAGS)
FUZZ_LIBS = lib/librollout.la $(JANSSON_LIBS) $(YAML_LIBS) $(OPENSSL_LIBS) $(ARCHIVE_LIBS) $(EVENT_LIBS) $(EVENT_OPENSSL_LIBS) \
	$(CURL_LIBS) $(SQLITE_LIBS) $(PQ_LIBS) $(XML_LIBS) $(PTHREAD_LIBS) -lm $(LIBS)
FUZZ_COMMON = tests/fuzz/fuzz.h tests/fuzz/fuzz_util.c
FUZZ_TARGETS = appspec daemon_conf agent_conf api_request sigv4 extract deploy_spec hostcmd relay_header
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/README.md bench/fuzz
fuzz_programs =

# the AppSpec parsers (lib/appspec.c, lib/appspec_shift.c)
check_PROGRAMS += tests/fuzz/replay-appspec
TESTS += tests/fuzz/replay-appspec
tests_fuzz_replay_appspec_SOURCES = tests/fuzz/replay.c $(FUZZ_COMMON) tests/fuzz/fuzz_appspec.c
tests_fuzz_replay_appspec_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/appspec"'
tests_fuzz_replay_appspec_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_appspec_LDADD = $(FUZZ_LIBS)
if FUZZING
fuzz_programs += tests/fuzz/fuzz-appspec
tests_fuzz_fuzz_appspec_SOURCES = $(FUZZ_COMMON) tests/fuzz/fuzz_appspec.c
tests_fuzz_fuzz_appspec_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_appspec_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_appspec_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_appspec_LDADD = $(FUZZ_LIBS)
endif

# the daemon's configuration (daemon/core/conf.c)
check_PROGRAMS += tests/fuzz/replay-daemon_conf
TESTS += tests/fuzz/replay-daemon_conf
tests_fuzz_replay_daemon_conf_SOURCES = tests/fuzz/replay.c $(FUZZ_COMMON) tests/fuzz/fuzz_daemon_conf.c daemon/core/conf.c
tests_fuzz_replay_daemon_conf_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/daemon_conf"'
tests_fuzz_replay_daemon_conf_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_daemon_conf_LDADD = $(FUZZ_LIBS)
if FUZZING
fuzz_programs += tests/fuzz/fuzz-daemon_conf
tests_fuzz_fuzz_daemon_conf_SOURCES = $(FUZZ_COMMON) tests/fuzz/fuzz_daemon_conf.c daemon/core/conf.c
tests_fuzz_fuzz_daemon_conf_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_daemon_conf_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_daemon_conf_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_daemon_conf_LDADD = $(FUZZ_LIBS)
endif

# rollout-agent's configuration (agent/settings.c)
check_PROGRAMS += tests/fuzz/replay-agent_conf
TESTS += tests/fuzz/replay-agent_conf
tests_fuzz_replay_agent_conf_SOURCES = tests/fuzz/replay.c $(FUZZ_COMMON) tests/fuzz/fuzz_agent_conf.c agent/settings.c
tests_fuzz_replay_agent_conf_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/agent_conf"'
tests_fuzz_replay_agent_conf_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_agent_conf_LDADD = $(FUZZ_LIBS)
if FUZZING
fuzz_programs += tests/fuzz/fuzz-agent_conf
tests_fuzz_fuzz_agent_conf_SOURCES = $(FUZZ_COMMON) tests/fuzz/fuzz_agent_conf.c agent/settings.c
tests_fuzz_fuzz_agent_conf_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_agent_conf_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_agent_conf_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_agent_conf_LDADD = $(FUZZ_LIBS)
endif

# API request bodies against the model (daemon/api/api_validate.c)
check_PROGRAMS += tests/fuzz/replay-api_request
TESTS += tests/fuzz/replay-api_request
tests_fuzz_replay_api_request_SOURCES = tests/fuzz/replay.c $(FUZZ_COMMON) tests/fuzz/fuzz_api_request.c daemon/api/api_model.c daemon/api/api_validate.c
tests_fuzz_replay_api_request_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/api_request"'
tests_fuzz_replay_api_request_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_api_request_LDADD = $(FUZZ_LIBS)
if FUZZING
fuzz_programs += tests/fuzz/fuzz-api_request
tests_fuzz_fuzz_api_request_SOURCES = $(FUZZ_COMMON) tests/fuzz/fuzz_api_request.c daemon/api/api_model.c daemon/api/api_validate.c
tests_fuzz_fuzz_api_request_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_api_request_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_api_request_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_api_request_LDADD = $(FUZZ_LIBS)
endif

# SigV4 parsing and verification (lib/sigv4.c through daemon/auth)
check_PROGRAMS += tests/fuzz/replay-sigv4
TESTS += tests/fuzz/replay-sigv4
tests_fuzz_replay_sigv4_SOURCES = tests/fuzz/replay.c $(FUZZ_COMMON) tests/fuzz/fuzz_sigv4.c $(daemon_auth_sources) $(daemon_httpd_sources) \
	$(daemon_metrics_sources) daemon/core/workpool.c
tests_fuzz_replay_sigv4_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/sigv4"'
tests_fuzz_replay_sigv4_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_sigv4_LDADD = $(FUZZ_LIBS)
if FUZZING
fuzz_programs += tests/fuzz/fuzz-sigv4
tests_fuzz_fuzz_sigv4_SOURCES = $(FUZZ_COMMON) tests/fuzz/fuzz_sigv4.c $(daemon_auth_sources) $(daemon_httpd_sources) \
	$(daemon_metrics_sources) daemon/core/workpool.c
tests_fuzz_fuzz_sigv4_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_sigv4_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_sigv4_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_sigv4_LDADD = $(FUZZ_LIBS)
endif

# bundle extraction into a scratch directory (lib/bundle.c)
check_PROGRAMS += tests/fuzz/replay-extract
TESTS += tests/fuzz/replay-extract
tests_fuzz_replay_extract_SOURCES = tests/fuzz/replay.c $(FUZZ_COMMON) tests/fuzz/fuzz_extract.c
tests_fuzz_replay_extract_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/extract"'
tests_fuzz_replay_extract_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_extract_LDADD = $(FUZZ_LIBS)
if FUZZING
fuzz_programs += tests/fuzz/fuzz-extract
tests_fuzz_fuzz_extract_SOURCES = $(FUZZ_COMMON) tests/fuzz/fuzz_extract.c
tests_fuzz_fuzz_extract_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_extract_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_extract_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_extract_LDADD = $(FUZZ_LIBS)
endif

# the deployment specification the agent verifies (agent/spec.c)
check_PROGRAMS += tests/fuzz/replay-deploy_spec
TESTS += tests/fuzz/replay-deploy_spec
tests_fuzz_replay_deploy_spec_SOURCES = tests/fuzz/replay.c $(FUZZ_COMMON) tests/fuzz/fuzz_deploy_spec.c agent/spec.c daemon/engine/spec.c
tests_fuzz_replay_deploy_spec_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/deploy_spec"'
tests_fuzz_replay_deploy_spec_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_deploy_spec_LDADD = $(FUZZ_LIBS)
if FUZZING
fuzz_programs += tests/fuzz/fuzz-deploy_spec
tests_fuzz_fuzz_deploy_spec_SOURCES = $(FUZZ_COMMON) tests/fuzz/fuzz_deploy_spec.c agent/spec.c daemon/engine/spec.c
tests_fuzz_fuzz_deploy_spec_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_deploy_spec_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_deploy_spec_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_deploy_spec_LDADD = $(FUZZ_LIBS)
endif

# the host-command JSON from agents, through the engine (daemon/engine/engine_hostcmd.c)
check_PROGRAMS += tests/fuzz/replay-hostcmd
TESTS += tests/fuzz/replay-hostcmd
tests_fuzz_replay_hostcmd_SOURCES = tests/fuzz/replay.c $(FUZZ_COMMON) tests/fuzz/fuzz_hostcmd.c $(daemon_engine_sources) $(daemon_cluster_sources) $(daemon_traffic_sources) \
	$(daemon_health_sources) $(daemon_bundles_sources) $(daemon_store_sources) $(daemon_core_sources) \
	daemon/core/workpool.c
tests_fuzz_replay_hostcmd_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/hostcmd"'
tests_fuzz_replay_hostcmd_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_hostcmd_LDADD = $(FUZZ_LIBS)
if FUZZING
fuzz_programs += tests/fuzz/fuzz-hostcmd
tests_fuzz_fuzz_hostcmd_SOURCES = $(FUZZ_COMMON) tests/fuzz/fuzz_hostcmd.c $(daemon_engine_sources) $(daemon_cluster_sources) $(daemon_traffic_sources) \
	$(daemon_health_sources) $(daemon_bundles_sources) $(daemon_store_sources) $(daemon_core_sources) \
	daemon/core/workpool.c
tests_fuzz_fuzz_hostcmd_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_hostcmd_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_hostcmd_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_hostcmd_LDADD = $(FUZZ_LIBS)
endif

# the X-Rolloutd-Relay header between the daemons of a cluster (daemon/relay/relay_header.c)
check_PROGRAMS += tests/fuzz/replay-relay_header
TESTS += tests/fuzz/replay-relay_header
tests_fuzz_replay_relay_header_SOURCES = tests/fuzz/replay.c $(FUZZ_COMMON) tests/fuzz/fuzz_relay_header.c \
	daemon/relay/relay_header.c
tests_fuzz_replay_relay_header_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/relay_header"'
tests_fuzz_replay_relay_header_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_replay_relay_header_LDADD = $(FUZZ_LIBS)
if FUZZING
fuzz_programs += tests/fuzz/fuzz-relay_header
tests_fuzz_fuzz_relay_header_SOURCES = $(FUZZ_COMMON) tests/fuzz/fuzz_relay_header.c daemon/relay/relay_header.c
tests_fuzz_fuzz_relay_header_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_relay_header_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_relay_header_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_relay_header_LDADD = $(FUZZ_LIBS)
endif

noinst_PROGRAMS += $(fuzz_programs)
# Builds only the fuzz targets (configure --enable-fuzzing first).
fuzz: $(fuzz_programs)
	@test -n "$(fuzz_programs)" || { echo "make fuzz: configure with --enable-fuzzing (needs clang)" >&2; exit 1; }
.PHONY: fuzz
