/* rolloutctl app: applications. */
#include "config.h"

#include <string.h>

#include "cmdutil.h"
#include "nouns.h"

static const char app_usage[] = "Usage: rolloutctl app list\n"
				"       rolloutctl app get NAME\n"
				"       rolloutctl app create NAME [--platform Server|Lambda|ECS] [--tags k=v,…]\n"
				"       rolloutctl app rename NAME NEW_NAME\n"
				"       rolloutctl app delete NAME\n"
				"\nApplications group deployment groups and revisions (CodeDeploy applications).\n";

int cmd_app(struct cli *c, int argc, char **argv)
{
	const char *usage = app_usage, *pos[3] = {0};
	struct cli_opts o;
	json_t *resp = NULL;
	int ex = CLI_EXIT_OK, n;
	const char *sub;

	n = cli_opts_parse(c, &o, cli_resource_options, usage, argc, argv, pos, 3, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which app command? list, get, create, rename or delete");
	sub = pos[0];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		ex = cli_noun_list(c, &cli_noun_applications, NULL);
	} else if (strcmp(sub, "get") == 0) {
		REQUIRE(n == 2, "app get needs the application NAME");
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetApplication",
				     json_pack("{s:s}", "applicationName", pos[1]), &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				cli_print_kv(stdout, json_object_get(resp, "application"), 0);
		}
	} else if (strcmp(sub, "create") == 0) {
		REQUIRE(n == 2, "app create needs the application NAME");
		REQUIRE(!o.tags_err[0], "%s", o.tags_err);
		json_t *req = json_pack("{s:s}", "applicationName", pos[1]);
		json_object_set_new(req, "computePlatform", json_string(o.platform ? o.platform : "Server"));
		if (o.tags)
			json_object_set(req, "tags", o.tags);
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "CreateApplication", req, &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				printf("application %s created (id %s)\n", pos[1],
				       rd_json_str_or(resp, "applicationId", "?"));
		}
	} else if (strcmp(sub, "rename") == 0) {
		REQUIRE(n == 3, "app rename needs NAME and NEW_NAME");
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "UpdateApplication",
				     json_pack("{s:s, s:s}", "applicationName", pos[1], "newApplicationName", pos[2]),
				     NULL);
		if (ex == 0 && !c->json)
			printf("application %s renamed to %s\n", pos[1], pos[2]);
	} else if (strcmp(sub, "delete") == 0 || strcmp(sub, "rm") == 0) {
		REQUIRE(n == 2, "app delete needs the application NAME");
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "DeleteApplication",
				     json_pack("{s:s}", "applicationName", pos[1]), NULL);
		if (ex == 0 && !c->json)
			printf("application %s deleted\n", pos[1]);
	} else {
		REQUIRE(false, "unknown app command '%s'", sub);
	}
out:
	json_decref(resp);
	cli_opts_free(&o);
	return ex;
}
