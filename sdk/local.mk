# The plugin SDK: the installed header, rollout-plugin.pc, and one example
# plugin per kind, built here as real plugins (not installed; tests load them)
# and built again out of tree against the installed SDK by a test.
pkgplugininclude_HEADERS = sdk/include/rollout/plugin.h
pkgconfig_DATA = sdk/rollout-plugin.pc
EXTRA_DIST += sdk/rollout-plugin.pc.in sdk/examples/Makefile.example

sdk_example_ldflags = $(plugin_ldflags) -rpath /nowhere
sdk_example_cflags = $(AM_CFLAGS) -fvisibility=hidden

noinst_LTLIBRARIES += sdk/examples/example-platform.la sdk/examples/example-source.la \
	sdk/examples/example-health.la sdk/examples/example-traffic.la
sdk_examples_example_platform_la_SOURCES = sdk/examples/example-platform.c
sdk_examples_example_platform_la_CFLAGS = $(sdk_example_cflags)
sdk_examples_example_platform_la_LDFLAGS = $(sdk_example_ldflags)
sdk_examples_example_source_la_SOURCES = sdk/examples/example-source.c
sdk_examples_example_source_la_CFLAGS = $(sdk_example_cflags)
sdk_examples_example_source_la_LDFLAGS = $(sdk_example_ldflags)
sdk_examples_example_health_la_SOURCES = sdk/examples/example-health.c
sdk_examples_example_health_la_CFLAGS = $(sdk_example_cflags)
sdk_examples_example_health_la_LDFLAGS = $(sdk_example_ldflags)
sdk_examples_example_traffic_la_SOURCES = sdk/examples/example-traffic.c
sdk_examples_example_traffic_la_CFLAGS = $(sdk_example_cflags)
sdk_examples_example_traffic_la_LDFLAGS = $(sdk_example_ldflags)
sdk_examples_example_traffic_la_LIBADD = $(PTHREAD_LIBS)
