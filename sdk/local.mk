pkgplugininclude_HEADERS = sdk/include/rollout/plugin.h
pkgconfig_DATA = sdk/rollout-plugin.pc
EXTRA_DIST += sdk/rollout-plugin.pc.in
