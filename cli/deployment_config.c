/* rolloutctl config: deployment configs. */
#include "config.h"

#include <string.h>

#include "cmdutil.h"
#include "nouns.h"

static const char config_usage[] =
    "Usage: rolloutctl config list\n"
    "       rolloutctl config get NAME\n"
    "       rolloutctl config create NAME --min-healthy HOST_COUNT:N|FLEET_PERCENT:P [--platform Server]\n"
    "       rolloutctl config delete NAME\n"
    "\nDeployment configs say how many instances must stay healthy, and so how many are\n"
    "deployed to at once. --min-healthy also takes N (host count) or P% (fleet percent).\n";

int cmd_config(struct cli *c, int argc, char **argv)
{
	const char *usage = config_usage, *pos[2] = {0};
	struct cli_opts o;
	json_t *resp = NULL;
	int ex = CLI_EXIT_OK, n;
	const char *sub;

	n = cli_opts_parse(c, &o, cli_resource_options, usage, argc, argv, pos, 2, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which config command? list, get, create or delete");
	sub = pos[0];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		ex = cli_noun_list(c, &cli_noun_configs, NULL);
		goto out;
	}
	REQUIRE(n == 2, "config %s needs the config NAME", sub);
	if (strcmp(sub, "get") == 0) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentConfig",
				     json_pack("{s:s}", "deploymentConfigName", pos[1]), &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				cli_print_kv(stdout, json_object_get(resp, "deploymentConfigInfo"), 0);
		}
	} else if (strcmp(sub, "create") == 0) {
		json_t *mhh = NULL, *q;
		char err[256];
		REQUIRE(o.min_healthy, "config create needs --min-healthy (e.g. HOST_COUNT:2 or FLEET_PERCENT:50)");
		REQUIRE(cli_parse_min_healthy(o.min_healthy, &mhh, err, sizeof(err)) == 0, "%s", err);
		q = json_pack("{s:s, s:o, s:s}", "deploymentConfigName", pos[1], "minimumHealthyHosts", mhh,
			      "computePlatform", o.platform ? o.platform : "Server");
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "CreateDeploymentConfig", q, &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				printf("deployment config %s created\n", pos[1]);
		}
	} else if (strcmp(sub, "delete") == 0 || strcmp(sub, "rm") == 0) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "DeleteDeploymentConfig",
				     json_pack("{s:s}", "deploymentConfigName", pos[1]), NULL);
		if (ex == 0 && !c->json)
			printf("deployment config %s deleted\n", pos[1]);
	} else {
		REQUIRE(false, "unknown config command '%s'", sub);
	}
out:
	json_decref(resp);
	cli_opts_free(&o);
	return ex;
}
