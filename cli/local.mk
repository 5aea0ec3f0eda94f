# rolloutctl. Everything but main.c lives in a convenience library so that the
# unit tests (tests/unit/cli.mk) link the same code.
noinst_LTLIBRARIES += cli/librolloutctl.la
cli_librolloutctl_la_SOURCES = \
	cli/cli.h cli/cmdutil.h \
	cli/settings.c cli/client.c cli/args.c cli/table.c cli/progress.c cli/plan.c \
	cli/pack.c cli/agentconf.c cli/cmds.c cli/deploy.c
cli_librolloutctl_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) $(ARCHIVE_CFLAGS)
cli_librolloutctl_la_LIBADD = lib/librollout.la $(JANSSON_LIBS) $(CURL_LIBS) $(ARCHIVE_LIBS)

bin_PROGRAMS += rolloutctl
rolloutctl_SOURCES = cli/main.c
rolloutctl_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
rolloutctl_LDADD = cli/librolloutctl.la $(JANSSON_LIBS) $(CURL_LIBS)

EXTRA_DIST += docs/cli.md examples
