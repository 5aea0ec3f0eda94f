# onprem: registered on-premises instances as deployment targets.
if BUILD_PLUGIN_onprem
pkgplugin_LTLIBRARIES += plugins/onprem/onprem.la
plugins_onprem_onprem_la_SOURCES = plugins/onprem/onprem.c
plugins_onprem_onprem_la_CFLAGS = $(plugin_cflags) $(JANSSON_CFLAGS)
plugins_onprem_onprem_la_LDFLAGS = $(plugin_ldflags)
plugins_onprem_onprem_la_LIBADD = $(JANSSON_LIBS)
endif
