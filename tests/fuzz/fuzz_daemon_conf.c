/* The daemon's configuration file (daemon/core/conf.c), read from a
 * scratch file as rolloutd reads its --config. */
#include "config.h"

#include "core/conf.h"
#include "core/error.h"
#include "fuzz.h"

static char path[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "%s/rolloutd.yml", fuzz_tmpdir());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_config *cfg = NULL;
	struct rd_error e = RD_ERROR_INIT;

	if (size > 256 * 1024)
		return 0;
	fuzz_write(path, data, size);
	if (config_load(path, &cfg, &e) == 0) {
		(void)config_plugin_settings(cfg, "example");
		cfg = config_free(cfg);
	}
	return 0;
}
