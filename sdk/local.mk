# The plugin SDK: the installed header, rollout-plugin.pc, and one example
# plugin per kind, built here as real plugins (not installed; tests load them)
# and built again out of tree against the installed SDK by a test.
pkgplugininclude_HEADERS = sdk/include/rollout/plugin.h sdk/include/rollout/testing.h
pkgconfig_DATA = sdk/rollout-plugin.pc sdk/rollout-plugin-testing.pc
EXTRA_DIST += sdk/rollout-plugin.pc.in sdk/rollout-plugin-testing.pc.in sdk/examples/Makefile.example \
	sdk/examples/test-example-health.c \
	sdk/README.md

# The test host of rollout/testing.h, installed for plugin authors and used by
# the in-tree plugin tests: the daemon's own config, alarm-settings, tag-filter
# and XML services with canned I/O. A static library built without the
# sanitizers, so that a plugin's test links it with a plain compiler.
lib_LIBRARIES = sdk/librollout-testing.a
sdk_librollout_testing_a_SOURCES = sdk/testing/testing.c $(daemon_plugin_services) \
	lib/tagfilter.c lib/yamltree.c lib/duration.c lib/util.c
sdk_librollout_testing_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon
sdk_librollout_testing_a_CFLAGS = $(WARN_CFLAGS) $(JANSSON_CFLAGS) $(YAML_CFLAGS) $(XML_CFLAGS) $(OPENSSL_CFLAGS)
# What a test linking the library needs besides it (the installed .pc says the same).
sdk_testing_libs = sdk/librollout-testing.a $(JANSSON_LIBS) $(YAML_LIBS) $(XML_LIBS) $(OPENSSL_LIBS) $(PTHREAD_LIBS)

sdk_example_ldflags = $(plugin_ldflags) -rpath /nowhere
sdk_example_cflags = $(AM_CFLAGS) -fvisibility=hidden

noinst_LTLIBRARIES += sdk/examples/example-platform.la sdk/examples/example-source.la \
	sdk/examples/example-health.la sdk/examples/example-traffic.la sdk/examples/example-shift.la
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
sdk_examples_example_shift_la_SOURCES = sdk/examples/example-shift.c
sdk_examples_example_shift_la_CFLAGS = $(sdk_example_cflags) $(JANSSON_CFLAGS)
sdk_examples_example_shift_la_LDFLAGS = $(sdk_example_ldflags)
sdk_examples_example_shift_la_LIBADD = $(JANSSON_LIBS)

# The example plugin's unit test (plain assert, no cmocka), as an author builds
# it out of tree with Makefile.example; here against the in-tree test host.
check_PROGRAMS += sdk/examples/test-example-health
TESTS += sdk/examples/test-example-health
sdk_examples_test_example_health_SOURCES = sdk/examples/test-example-health.c
sdk_examples_test_example_health_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sdk/examples
sdk_examples_test_example_health_CFLAGS = $(AM_CFLAGS) -Wno-missing-prototypes
sdk_examples_test_example_health_LDADD = $(sdk_testing_libs)
