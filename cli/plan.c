/* rolloutctl plan: what a deployment to a group would do, as the daemon's
 * own planner answers it (Rolloutd_v1.PlanDeployment). */
#include "config.h"

#include <string.h>

#include "cmdutil.h"

static const char plan_usage[] = "Usage: rolloutctl plan --app APP --group GROUP [--config CONFIG]\n"
				 "\nShows which instances a deployment to GROUP would reach, in which batches and in\n"
				 "which order, and why, without deploying anything.\n";

int cli_plan_print(json_t *plan, FILE *out, FILE *err)
{
	json_t *mhh = json_object_get(plan, "minimumHealthyHosts"), *fail = json_object_get(plan, "errorInformation");
	json_t *b, *x;
	size_t i, k, nt = json_array_size(json_object_get(plan, "targets"));
	const char *code = rd_json_str_or(fail, "code", "");

	fprintf(out, "Plan for %s/%s with %s (minimum healthy hosts: %s %lld)\n",
		rd_json_str_or(plan, "applicationName", "?"), rd_json_str_or(plan, "deploymentGroupName", "?"),
		rd_json_str_or(plan, "deploymentConfigName", "?"), rd_json_str_or(mhh, "type", "?"),
		(long long)rd_json_number(json_object_get(mhh, "value")));
	if (nt == 0 || strcmp(code, "NO_INSTANCES") == 0) {
		fprintf(out, "  no registered instance matches the group's tag filters: a deployment would fail with "
			     "NO_INSTANCES\n");
	} else if (!fail) {
		fprintf(out, "  %zu target instance%s, %lld at a time; at least %lld must stay healthy\n", nt,
			nt == 1 ? "" : "s", (long long)rd_json_number(json_object_get(plan, "batchSize")),
			(long long)rd_json_number(json_object_get(plan, "minimumHealthy")));
		json_array_foreach(json_object_get(plan, "batches"), i, b)
		{
			fprintf(out, "  batch %zu:", i + 1);
			json_array_foreach(b, k, x) fprintf(out, " %s", json_string_value(x));
			fputc('\n', out);
		}
		json_array_foreach(json_object_get(plan, "failedFirst"), i, x)
		    fprintf(out, "  %s goes first: it failed in the group's last deployment\n", json_string_value(x));
	}
	if (json_array_size(json_object_get(plan, "excluded")) > 0) {
		fprintf(out, "Not targeted:\n");
		json_array_foreach(json_object_get(plan, "excluded"), i, x)
		    fprintf(out, "  %s: %s\n", rd_json_str_or(x, "instance", "?"), rd_json_str_or(x, "reason", ""));
	}
	if (fail && strcmp(code, "NO_INSTANCES") != 0) {
		fprintf(err, "error: a deployment would fail before its first batch: %s: %s\n", code,
			rd_json_str_or(fail, "message", ""));
		return CLI_EXIT_FAILED;
	}
	return CLI_EXIT_OK;
}

int cmd_plan(struct cli *c, int argc, char **argv)
{
	const char *usage = plan_usage, *pos[1] = {0};
	struct cli_opts o;
	json_t *req, *plan = NULL;
	int ex = 0, n;

	n = cli_opts_parse(c, &o, cli_workflow_options, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	if (n == 1 && !o.group)
		o.group = pos[0];
	REQUIRE(o.app, "plan needs --app APP");
	REQUIRE(o.group, "plan needs --group GROUP");
	req = json_pack("{s:s, s:s}", "applicationName", o.app, "deploymentGroupName", o.group);
	if (o.config)
		json_object_set_new(req, "deploymentConfigName", json_string(o.config));
	ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "PlanDeployment", req, &plan);
	if (ex != 0)
		goto out;
	if (c->json) {
		const char *code = rd_json_str(json_object_get(plan, "errorInformation"), "code");
		cli_print_json(plan);
		if (code && strcmp(code, "NO_INSTANCES") != 0)
			ex = CLI_EXIT_FAILED;
	} else {
		ex = cli_plan_print(plan, stdout, stderr);
	}
out:
	json_decref(plan);
	cli_opts_free(&o);
	return ex;
}
