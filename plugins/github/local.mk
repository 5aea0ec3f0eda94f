# github: source plugin (issue 7).
if BUILD_PLUGIN_github
pkgplugin_LTLIBRARIES += plugins/github/github.la
plugins_github_github_la_SOURCES = plugins/github/github.c plugins/http/srcutil.c plugins/http/srcutil.h
plugins_github_github_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) -fvisibility=hidden
plugins_github_github_la_LDFLAGS = $(plugin_ldflags)
plugins_github_github_la_LIBADD = $(JANSSON_LIBS)
endif
