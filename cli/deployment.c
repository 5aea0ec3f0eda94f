/* rolloutctl deployment: list and describe deployments; create, stop and
 * wait are the workflow commands of the same names. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "nouns.h"

static const char deployment_usage[] =
    "Usage: rolloutctl deployment list [--app APP --group GROUP] [--status S,…] [--limit N]\n"
    "       rolloutctl deployment get ID\n"
    "       rolloutctl deployment instances ID\n"
    "       rolloutctl deployment create …    (same as 'rolloutctl deploy')\n"
    "       rolloutctl deployment stop ID     (same as 'rolloutctl stop')\n"
    "       rolloutctl deployment wait ID     (same as 'rolloutctl wait')\n"
    "\n  --status   Created,Queued,InProgress,Succeeded,Failed,Stopped,Ready,Baking\n"
    "  --limit    show at most N deployments, newest first (default 20)\n";

static void print_instances_table(json_t *summaries)
{
	struct progress p = {0};
	static const char *const cols[] = {"instance", "status", "event", "event status", "events"};
	struct table *t = table_new(5, cols);

	progress_update(&p, NULL, summaries);
	for (size_t i = 0; i < p.n; i++) {
		char evs[32];
		snprintf(evs, sizeof(evs), "%d/%d", p.inst[i].events_done, p.inst[i].events_total);
		table_add_rowv(t, p.inst[i].id, p.inst[i].status, p.inst[i].event, p.inst[i].event_status, evs);
	}
	table_print(t, stdout);
	table_free(t);
	progress_clear(&p);
}

static void print_deployment(json_t *info, json_t *summaries)
{
	char t1[64], t2[64], el[32];
	char *rev = cli_revision_describe(json_object_get(info, "revision"));
	json_t *err = json_object_get(info, "errorInformation"), *rb = json_object_get(info, "rollbackInfo");
	json_t *ov = json_object_get(info, "deploymentOverview");
	double ct = rd_json_number(json_object_get(info, "createTime"));
	double et = rd_json_number(json_object_get(info, "completeTime"));

	printf("Deployment:   %s\n", rd_json_str_or(info, "deploymentId", "?"));
	printf("Status:       %s\n", rd_json_str_or(info, "status", "?"));
	printf("Application:  %s\n", rd_json_str_or(info, "applicationName", "-"));
	printf("Group:        %s\n", rd_json_str_or(info, "deploymentGroupName", "-"));
	printf("Config:       %s\n", rd_json_str_or(info, "deploymentConfigName", "-"));
	printf("Revision:     %s\n", rev);
	printf("Creator:      %s\n", rd_json_str_or(info, "creator", "-"));
	printf("Created:      %s\n", cli_fmt_time(json_object_get(info, "createTime"), t1, sizeof(t1)));
	printf("Completed:    %s%s%s%s\n", cli_fmt_time(json_object_get(info, "completeTime"), t2, sizeof(t2)),
	       et > 0 ? " (took " : "", et > 0 ? cli_fmt_elapsed(et - ct, el, sizeof(el)) : "", et > 0 ? ")" : "");
	if (rd_json_str(info, "description"))
		printf("Description:  %s\n", rd_json_str(info, "description"));
	if (ov)
		printf("Instances:    %lld succeeded, %lld failed, %lld in progress, %lld pending, %lld skipped\n",
		       (long long)rd_json_number(json_object_get(ov, "Succeeded")),
		       (long long)rd_json_number(json_object_get(ov, "Failed")),
		       (long long)rd_json_number(json_object_get(ov, "InProgress")),
		       (long long)rd_json_number(json_object_get(ov, "Pending")),
		       (long long)rd_json_number(json_object_get(ov, "Skipped")));
	if (err)
		printf("Error:        %s: %s\n", rd_json_str_or(err, "code", "?"), rd_json_str_or(err, "message", ""));
	if (rb) {
		if (rd_json_str(rb, "rollbackDeploymentId"))
			printf("Rolled back:  by %s\n", rd_json_str(rb, "rollbackDeploymentId"));
		if (rd_json_str(rb, "rollbackTriggeringDeploymentId"))
			printf("Rollback of:  %s\n", rd_json_str(rb, "rollbackTriggeringDeploymentId"));
		if (rd_json_str(rb, "rollbackMessage"))
			printf("Rollback:     %s\n", rd_json_str(rb, "rollbackMessage"));
	}
	free(rev);
	if (json_array_size(summaries) > 0) {
		putchar('\n');
		print_instances_table(summaries);
	}
}

int cmd_deployment(struct cli *c, int argc, char **argv)
{
	const char *usage = deployment_usage, *pos[2] = {0};
	struct cli_opts o;
	json_t *resp = NULL, *infos = NULL, *summaries = NULL;
	int ex = CLI_EXIT_OK, n, r;
	const char *sub;

	if (argc >= 2) {
		if (strcmp(argv[1], "create") == 0)
			return cmd_deploy(c, argc - 1, argv + 1);
		if (strcmp(argv[1], "stop") == 0)
			return cmd_stop(c, argc - 1, argv + 1);
		if (strcmp(argv[1], "wait") == 0)
			return cmd_wait(c, argc - 1, argv + 1);
	}
	n = cli_opts_parse(c, &o, cli_resource_options, usage, argc, argv, pos, 2, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which deployment command? list, get, instances, create, stop or wait");
	sub = pos[0];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		REQUIRE(!o.app == !o.group, "give --app and --group together (or neither)");
		r = cli_fetch_deployments(c, o.app, o.group, o.status,
					  o.limit ? (size_t)strtoul(o.limit, NULL, 10) : 20, &infos);
		if (r < 0) {
			ex = cli_report_error(c, "ListDeployments", r);
			goto out;
		}
		cli_noun_print(c, &cli_noun_deployments, infos, stdout);
		goto out;
	}
	REQUIRE(n == 2, "deployment %s needs the deployment ID", sub);
	if (strcmp(sub, "get") == 0) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetDeployment",
				     json_pack("{s:s}", "deploymentId", pos[1]), &resp);
		if (ex != 0)
			goto out;
		if (c->json) {
			cli_print_json(resp);
			goto out;
		}
		/* Instances are optional detail: a deployment not started yet has none. */
		if (cli_fetch_instances(c, pos[1], &summaries) < 0)
			summaries = NULL;
		print_deployment(json_object_get(resp, "deploymentInfo"), summaries);
	} else if (strcmp(sub, "instances") == 0) {
		r = cli_fetch_instances(c, pos[1], &summaries);
		if (r < 0) {
			ex = cli_report_error(c, "ListDeploymentInstances", r);
			goto out;
		}
		if (c->json)
			cli_noun_print(c, &cli_noun_deployment_instances, summaries, stdout);
		else
			print_instances_table(summaries);
	} else {
		REQUIRE(false, "unknown deployment command '%s'", sub);
	}
out:
	json_decref(resp);
	json_decref(infos);
	json_decref(summaries);
	cli_opts_free(&o);
	return ex;
}
