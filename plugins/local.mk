# One include per in-tree plugin; each block is guarded by BUILD_PLUGIN_<name>.
