# Unit tests. Each area lists its cmocka programs in tests/unit/<area>.mk.
UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS) $(YAML_CFLAGS) $(OPENSSL_CFLAGS)
UNIT_LIBS = lib/librollout.la $(CMOCKA_LIBS) $(JANSSON_LIBS) $(YAML_LIBS) $(OPENSSL_LIBS)

check_PROGRAMS += tests/unit/test_yamltree
tests_unit_test_yamltree_SOURCES = tests/unit/test_yamltree.c
tests_unit_test_yamltree_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_yamltree_LDADD = $(UNIT_LIBS)
TESTS += tests/unit/test_yamltree

EXTRA_DIST += tests/integration
