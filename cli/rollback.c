/* rolloutctl rollback: redeploys the newest revision that deployed
 * successfully to a group before the current one. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "nouns.h"
#include "wait.h"

static const char rollback_usage[] =
    "Usage: rolloutctl rollback --app APP --group GROUP [--wait] [--timeout DURATION]\n"
    "\nRedeploys the newest revision that deployed successfully to GROUP before the\n"
    "current one.\n";

int cmd_rollback(struct cli *c, int argc, char **argv)
{
	const char *usage = rollback_usage, *pos[1] = {0};
	struct cli_opts o;
	json_t *gresp = NULL, *infos = NULL, *current = NULL, *pick = NULL, *req, *resp = NULL, *info;
	int ex = 0, n, r;
	size_t i;
	char *desc = NULL, *revs = NULL;

	n = cli_opts_parse(c, &o, cli_workflow_options, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n == 0, "rollback takes no positional argument");
	REQUIRE(o.app && o.group, "rollback needs --app APP and --group GROUP");
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentGroup",
			     json_pack("{s:s, s:s}", "applicationName", o.app, "deploymentGroupName", o.group), &gresp);
	if (ex != 0)
		goto out;
	r = cli_fetch_deployments(c, o.app, o.group, NULL, 0, &infos);
	if (r < 0) {
		ex = cli_report_error(c, "ListDeployments", r);
		goto out;
	}
	/* The current revision: what the newest deployment (any status) tried to install. */
	current = json_object_get(json_object_get(gresp, "deploymentGroupInfo"), "targetRevision");
	if (!current && json_array_size(infos) > 0)
		current = json_object_get(json_array_get(infos, 0), "revision");
	json_array_foreach(infos, i, info)
	{
		json_t *rv = json_object_get(info, "revision");
		if (strcmp(rd_json_str_or(info, "status", ""), "Succeeded") != 0 || !rv)
			continue;
		if (current && json_equal(rv, current))
			continue;
		pick = info;
		break;
	}
	if (!pick) {
		fprintf(stderr,
			"error: %s/%s has no successful deployment of a revision other than the current one: "
			"nothing to roll back to\n",
			o.app, o.group);
		ex = CLI_EXIT_FAILED;
		goto out;
	}
	revs = cli_revision_describe(json_object_get(pick, "revision"));
	if (asprintf(&desc, "rollback to %s (deployed by %s) via rolloutctl", revs,
		     rd_json_str_or(pick, "deploymentId", "?")) < 0)
		desc = NULL;
	req = json_pack("{s:s, s:s, s:O}", "applicationName", o.app, "deploymentGroupName", o.group, "revision",
			json_object_get(pick, "revision"));
	if (desc)
		json_object_set_new(req, "description", json_string(desc));
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "CreateDeployment", req, &resp);
	if (ex != 0)
		goto out;
	if (!c->json)
		printf("deployment %s rolls %s/%s back to %s (last deployed by %s)\n",
		       rd_json_str_or(resp, "deploymentId", "?"), o.app, o.group, revs,
		       rd_json_str_or(pick, "deploymentId", "?"));
	if (o.wait)
		ex = cli_wait_and_report(c, rd_json_str_or(resp, "deploymentId", "?"), &o);
	else if (c->json)
		cli_print_json(resp);
out:
	free(desc);
	free(revs);
	json_decref(gresp);
	json_decref(infos);
	json_decref(resp);
	cli_opts_free(&o);
	return ex;
}
