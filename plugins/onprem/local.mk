# onprem: registered on-premises instances as deployment targets (issue 6).
if BUILD_PLUGIN_onprem
pkgplugin_LTLIBRARIES += plugins/onprem/onprem.la
plugins_onprem_onprem_la_SOURCES = plugins/onprem/onprem.c
plugins_onprem_onprem_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) -fvisibility=hidden
plugins_onprem_onprem_la_LDFLAGS = $(plugin_ldflags)
plugins_onprem_onprem_la_LIBADD = $(JANSSON_LIBS)
endif
