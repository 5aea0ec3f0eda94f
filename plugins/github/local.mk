# github: source plugin.
if BUILD_PLUGIN_github
pkgplugin_LTLIBRARIES += plugins/github/github.la
plugins_github_github_la_SOURCES = plugins/github/github.c plugins/common/srcutil.c plugins/common/srcutil.h
plugins_github_github_la_CFLAGS = $(plugin_cflags) $(JANSSON_CFLAGS)
plugins_github_github_la_LDFLAGS = $(plugin_ldflags)
plugins_github_github_la_LIBADD = $(JANSSON_LIBS)
endif
