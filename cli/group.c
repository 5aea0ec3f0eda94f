/* rolloutctl group: deployment groups. */
#include "config.h"

#include <string.h>

#include "cmdutil.h"
#include "nouns.h"

static const char group_usage[] =
    "Usage: rolloutctl group list --app APP\n"
    "       rolloutctl group get --app APP NAME\n"
    "       rolloutctl group create --app APP NAME [--config CONFIG] [--tags k=v,…] [--tag-set k=v,…]…\n"
    "                               [--auto-rollback] [--service-role ARN] [--platform Server]\n"
    "       rolloutctl group update --app APP NAME [--new-name N] [--config CONFIG] [--tags k=v,…]\n"
    "                               [--tag-set k=v,…]… [--auto-rollback|--no-auto-rollback]\n"
    "       rolloutctl group delete --app APP NAME\n"
    "\n"
    "  --tags k=v,…      on-premises instances with ANY of these tags are targets (k=v: key and value,\n"
    "                    k: key only, =v: value only)\n"
    "  --tag-set k=v,…   repeatable; an instance must match EVERY set (ANY tag within a set)\n"
    "  --config NAME     deployment config, e.g. CodeDeployDefault.OneAtATime (the default)\n"
    "  --auto-rollback   redeploy the last good revision when a deployment fails or is stopped\n";

/* The members create and update share. */
static void group_fill(json_t *req, const struct cli_opts *o)
{
	json_t *ar = cli_opts_auto_rollback(o);

	if (o->config)
		json_object_set_new(req, "deploymentConfigName", json_string(o->config));
	if (o->filters)
		json_object_set(req, "onPremisesInstanceTagFilters", o->filters);
	if (o->tag_sets)
		json_object_set_new(req, "onPremisesTagSet", json_pack("{s:O}", "onPremisesTagSetList", o->tag_sets));
	if (ar)
		json_object_set_new(req, "autoRollbackConfiguration", ar);
	if (o->service_role)
		json_object_set_new(req, "serviceRoleArn", json_string(o->service_role));
}

int cmd_group(struct cli *c, int argc, char **argv)
{
	const char *usage = group_usage, *pos[2] = {0};
	struct cli_opts o;
	json_t *resp = NULL, *req = NULL;
	int ex = CLI_EXIT_OK, n;
	const char *sub, *name;

	n = cli_opts_parse(c, &o, cli_resource_options, usage, argc, argv, pos, 2, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which group command? list, get, create, update or delete");
	sub = pos[0];
	REQUIRE(o.app, "group %s needs --app APP (the application the group belongs to)", sub);
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		req = json_pack("{s:s}", "applicationName", o.app);
		ex = cli_noun_list(c, &cli_noun_groups, req);
		goto out;
	}
	name = n >= 2 ? pos[1] : o.group;
	REQUIRE(name, "group %s needs the group NAME", sub);
	if (strcmp(sub, "get") == 0) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentGroup",
				     json_pack("{s:s, s:s}", "applicationName", o.app, "deploymentGroupName", name),
				     &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				cli_print_kv(stdout, json_object_get(resp, "deploymentGroupInfo"), 0);
		}
	} else if (strcmp(sub, "create") == 0) {
		REQUIRE(!(o.tags && o.tag_sets),
			"use either --tags or --tag-set, not both (CodeDeploy refuses the mix)");
		req = json_pack("{s:s, s:s}", "applicationName", o.app, "deploymentGroupName", name);
		if (!o.service_role)
			json_object_set_new(req, "serviceRoleArn",
					    json_string("arn:aws:iam::000000000000:role/rolloutd"));
		group_fill(req, &o);
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "CreateDeploymentGroup", req, &resp);
		req = NULL;
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				printf("deployment group %s/%s created (id %s)\n", o.app, name,
				       rd_json_str_or(resp, "deploymentGroupId", "?"));
		}
	} else if (strcmp(sub, "update") == 0) {
		req = json_pack("{s:s, s:s}", "applicationName", o.app, "currentDeploymentGroupName", name);
		if (o.new_name)
			json_object_set_new(req, "newDeploymentGroupName", json_string(o.new_name));
		group_fill(req, &o);
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "UpdateDeploymentGroup", req, &resp);
		req = NULL;
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				printf("deployment group %s/%s updated\n", o.app, o.new_name ? o.new_name : name);
		}
	} else if (strcmp(sub, "delete") == 0 || strcmp(sub, "rm") == 0) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "DeleteDeploymentGroup",
				     json_pack("{s:s, s:s}", "applicationName", o.app, "deploymentGroupName", name),
				     &resp);
		if (ex == 0 && !c->json)
			printf("deployment group %s/%s deleted\n", o.app, name);
		else if (ex == 0)
			cli_print_json(resp);
	} else {
		REQUIRE(false, "unknown group command '%s'", sub);
	}
out:
	json_decref(req);
	json_decref(resp);
	cli_opts_free(&o);
	return ex;
}
