# Tests. Unit tests (cmocka) mirror the source tree: the test of
# <folder>/<module>.c is tests/unit/<folder>/test_<module>.c, listed in
# tests/unit/<folder>/local.mk. Integration tests (pytest) are in
# tests/integration with the small C drivers they run.
UNIT_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir) -I$(top_srcdir)/daemon -I$(top_srcdir)/tests/unit \
	-I$(top_srcdir)/plugins/common
UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS) $(YAML_CFLAGS) $(OPENSSL_CFLAGS)
UNIT_LIBS = lib/librollout.la $(CMOCKA_LIBS) $(JANSSON_LIBS) $(YAML_LIBS) $(OPENSSL_LIBS)

# cmocka is needed for `make check` only: without it the daemon still builds
# and `make check` says what to install.
if HAVE_CMOCKA
include tests/unit/lib/local.mk
include tests/unit/agent/local.mk
include tests/unit/cli/local.mk
include tests/unit/daemon/local.mk
include tests/unit/plugins/local.mk
else
check-local:
	@echo "make check needs cmocka: apt-get install libcmocka-dev (or run scripts/install-deps), then configure again" >&2
	@exit 1
endif

# Magic numbers of boundary handles are unique (STYLE.md §11).
TESTS += tests/unit/magic_check.sh
EXTRA_DIST += tests/unit/magic_check.sh tests/unit/tmpdir.h

include tests/integration/local.mk
include tests/fuzz/local.mk
