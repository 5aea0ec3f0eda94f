# rolloutctl. Everything but main.c lives in a convenience library so that the
# unit tests (tests/unit/cli/local.mk) link the same code.
noinst_LTLIBRARIES += cli/librolloutctl.la
cli_librolloutctl_la_SOURCES = \
	cli/cli.h cli/settings.c cli/client.c cli/args.c cli/table.c cli/progress.c cli/pack.c cli/agentconf.c \
	cli/cmdutil.h cli/cmdutil.c cli/options.h cli/options.c cli/nouns.h cli/nouns.c \
	cli/app.c cli/group.c cli/deployment_config.c cli/revision.c cli/deployment.c cli/instance.c \
	cli/access_key.c cli/audit.c cli/deploy.c cli/wait.h cli/wait.c cli/logs.c cli/plan.c cli/status.c cli/stop.c cli/rollback.c \
	cli/register_instance.c cli/ec2_agent_config.c cli/tls.c
cli_librolloutctl_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(ARCHIVE_CFLAGS) $(OPENSSL_CFLAGS)
cli_librolloutctl_la_LIBADD = lib/librollout.la $(JANSSON_LIBS) $(ARCHIVE_LIBS) $(OPENSSL_LIBS)

bin_PROGRAMS += rolloutctl
rolloutctl_SOURCES = cli/main.c
rolloutctl_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
rolloutctl_LDADD = cli/librolloutctl.la $(JANSSON_LIBS)

EXTRA_DIST += docs/cli.md examples
