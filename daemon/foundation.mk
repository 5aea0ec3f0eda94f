# Daemon pieces of the foundation area: configuration, plugin loader and
# registry, and the host-services table given to plugins.
rolloutd_SOURCES += \
	daemon/conf.c \
	daemon/plugins.c daemon/plugins.h \
	daemon/host.c daemon/host.h
