/* rolloutctl stop: stops a deployment. */
#include "config.h"

#include "cmdutil.h"
#include "wait.h"

static const char stop_usage[] =
    "Usage: rolloutctl stop DEPLOYMENT_ID [--rollback|--no-rollback] [--wait]\n"
    "\nStops a running deployment. --rollback redeploys the last good revision afterwards\n"
    "(default: the group's automatic-rollback setting).\n";

int cmd_stop(struct cli *c, int argc, char **argv)
{
	const char *usage = stop_usage, *pos[1] = {0};
	struct cli_opts o;
	json_t *req, *resp = NULL;
	int ex = 0, n;

	n = cli_opts_parse(c, &o, cli_workflow_options, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n == 1, "stop needs the DEPLOYMENT_ID");
	req = json_pack("{s:s}", "deploymentId", pos[0]);
	if (o.auto_rollback >= 0)
		json_object_set_new(req, "autoRollbackEnabled", json_boolean(o.auto_rollback));
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "StopDeployment", req, &resp);
	if (ex != 0)
		goto out;
	if (c->json && !o.wait)
		cli_print_json(resp);
	else if (!c->json)
		printf("stop of %s: %s%s%s\n", pos[0], rd_json_str_or(resp, "status", "?"),
		       rd_json_str(resp, "statusMessage") ? " - " : "", rd_json_str_or(resp, "statusMessage", ""));
	if (o.wait) {
		ex = cli_wait_and_report(c, pos[0], &o);
		/* A stop that took effect is what the user asked for. */
		if (ex == CLI_EXIT_FAILED)
			ex = CLI_EXIT_OK;
	}
out:
	json_decref(resp);
	cli_opts_free(&o);
	return ex;
}
