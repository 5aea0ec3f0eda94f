/* rollout-agent's configuration file (agent/settings.c), read from a
 * scratch file as the agent reads its --config. */
#include "config.h"

#include "fuzz.h"
#include "settings.h"

static char path[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "%s/agent.yml", fuzz_tmpdir());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config *c = NULL;
	char err[2048];

	if (size > 256 * 1024)
		return 0;
	fuzz_write(path, data, size);
	if (agent_config_load(path, &c, err, sizeof(err)) == 0)
		c = agent_config_free(c);
	return 0;
}
