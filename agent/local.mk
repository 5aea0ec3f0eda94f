# rollout-agent and its extraction helper.

bin_PROGRAMS += rollout-agent
rollout_agent_SOURCES = agent/main.c agent/agent.h agent/hostcmd.c agent/hostcmd.h agent/settings.c agent/settings.h agent/client.c agent/client.h agent/enroll.c agent/enroll.h \
	agent/spec.c agent/spec.h agent/runner.c agent/runner.h agent/install.c agent/install.h \
	agent/deploy.c agent/layout.c agent/layout.h agent/hooks.c agent/hooks.h \
	agent/live.c agent/live.h agent/tail.c agent/unpacked.c agent/unpacked.h agent/extractor.c agent/extractor.h
rollout_agent_CFLAGS = $(AM_CFLAGS) -Wno-format-truncation $(JANSSON_CFLAGS) $(OPENSSL_CFLAGS) $(ARCHIVE_CFLAGS) $(YAML_CFLAGS)
rollout_agent_CPPFLAGS = $(AM_CPPFLAGS) -DAGENT_LIBEXECDIR='"$(pkglibexecdir)"'
# --as-needed: libarchive (used only by the extraction helper) stays out of the agent;
# -z now: no lazy symbol resolution (walking every library's symbol tables) while idle
rollout_agent_LDFLAGS = $(AM_LDFLAGS) -Wl,--as-needed -Wl,-z,now
rollout_agent_LDADD = lib/librollout.la $(JANSSON_LIBS) $(OPENSSL_LIBS) $(YAML_LIBS) -lm

# Unpacks bundles for rollout-agent in a process of its own (agent/extract_main.c).
# It links the three librollout files it uses, not librollout: no OpenSSL,
# YAML or JSON library to load at each start. ARCHIVE_HELPER_LIBS: libarchive.a
# when it links (configure.ac says why), else the shared libarchive.
bin_PROGRAMS += rollout-agent-extract
rollout_agent_extract_SOURCES = agent/extract_main.c lib/bundle.c lib/appspec_path.c lib/util.c
rollout_agent_extract_CFLAGS = $(AM_CFLAGS) $(ARCHIVE_CFLAGS)
rollout_agent_extract_LDADD = $(ARCHIVE_HELPER_LIBS)
EXTRA_DIST += agent/PROTOCOL.md agent/README.md bench/agent-rss
