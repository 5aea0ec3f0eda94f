# ec2: EC2 instances (tag filters, tag sets, Auto Scaling groups) as deployment targets.
if BUILD_PLUGIN_ec2
pkgplugin_LTLIBRARIES += plugins/ec2/ec2.la
plugins_ec2_ec2_la_SOURCES = plugins/ec2/ec2.c plugins/ec2/ec2.h plugins/ec2/asgcopy.c plugins/ec2/asg.c plugins/ec2/asg.h \
	plugins/common/awsquery.c \
	plugins/common/awsquery.h plugins/common/uri.c plugins/common/uri.h
plugins_ec2_ec2_la_CFLAGS = $(plugin_cflags) $(JANSSON_CFLAGS)
plugins_ec2_ec2_la_LDFLAGS = $(plugin_ldflags)
plugins_ec2_ec2_la_LIBADD = $(JANSSON_LIBS)
endif
EXTRA_DIST += docs/ec2.md
