# elb: traffic control through Elastic Load Balancing (ELBv2 target groups, Classic Load Balancers).
if BUILD_PLUGIN_elb
pkgplugin_LTLIBRARIES += plugins/elb/elb.la
plugins_elb_elb_la_SOURCES = plugins/elb/elb.c plugins/common/uri.c plugins/common/uri.h
plugins_elb_elb_la_CFLAGS = $(plugin_cflags)
plugins_elb_elb_la_LDFLAGS = $(plugin_ldflags)
plugins_elb_elb_la_LIBADD = $(PTHREAD_LIBS)
endif
