/* rolloutctl instance: on-premises instances. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "nouns.h"

static const char instance_usage[] =
    "Usage: rolloutctl instance list [--tags k=v,…] [--status Registered|Deregistered]\n"
    "       rolloutctl instance get NAME\n"
    "       rolloutctl instance register NAME [--tags k=v,…] [--iam-user-arn ARN | --iam-session-arn ARN]\n"
    "       rolloutctl instance deregister NAME\n"
    "       rolloutctl instance tag NAME k=v,…\n"
    "       rolloutctl instance untag NAME k=v,…\n"
    "\nOn-premises instances. To register a host together with its agent key and config,\n"
    "use 'rolloutctl register-instance'.\n";

int cmd_instance(struct cli *c, int argc, char **argv)
{
	const char *usage = instance_usage, *pos[3] = {0};
	struct cli_opts o;
	json_t *infos = NULL, *tags = NULL, *q;
	int ex = CLI_EXIT_OK, n, r;
	char err[512];
	const char *sub;

	n = cli_opts_parse(c, &o, cli_resource_options, usage, argc, argv, pos, 3, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which instance command? list, get, register, deregister, tag or untag");
	sub = pos[0];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		r = cli_fetch_onprem(c, o.filters, o.status, &infos);
		if (r < 0) {
			ex = cli_report_error(c, "ListOnPremisesInstances", r);
			goto out;
		}
		cli_noun_print(c, &cli_noun_onprem_instances, infos, stdout);
		goto out;
	}
	REQUIRE(n >= 2, "instance %s needs the instance NAME", sub);
	if (strcmp(sub, "get") == 0) {
		json_t *resp = NULL;
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetOnPremisesInstance",
				     json_pack("{s:s}", "instanceName", pos[1]), &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				cli_print_kv(stdout, json_object_get(resp, "instanceInfo"), 0);
		}
		json_decref(resp);
	} else if (strcmp(sub, "register") == 0) {
		REQUIRE(!o.tags_err[0], "%s", o.tags_err);
		REQUIRE(!(o.iam_user_arn && o.iam_session_arn), "give --iam-user-arn or --iam-session-arn, not both");
		q = json_pack("{s:s}", "instanceName", pos[1]);
		if (o.iam_session_arn) {
			json_object_set_new(q, "iamSessionArn", json_string(o.iam_session_arn));
		} else {
			char *arn = o.iam_user_arn ? strdup(o.iam_user_arn) : cli_default_iam_arn(pos[1]);
			json_object_set_new(q, "iamUserArn", json_string(arn));
			free(arn);
		}
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "RegisterOnPremisesInstance", q, NULL);
		if (ex == 0 && o.tags)
			ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "AddTagsToOnPremisesInstances",
					     json_pack("{s:O, s:[s]}", "tags", o.tags, "instanceNames", pos[1]), NULL);
		if (ex == 0 && !c->json)
			printf("instance %s registered\n", pos[1]);
	} else if (strcmp(sub, "deregister") == 0) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "DeregisterOnPremisesInstance",
				     json_pack("{s:s}", "instanceName", pos[1]), NULL);
		if (ex == 0 && !c->json)
			printf("instance %s deregistered\n", pos[1]);
	} else if (strcmp(sub, "tag") == 0 || strcmp(sub, "untag") == 0) {
		bool add = strcmp(sub, "tag") == 0;
		REQUIRE(n == 3 || o.tags, "instance %s needs tags: NAME k=v,…", sub);
		REQUIRE(n == 3 || !o.tags_err[0], "%s", o.tags_err);
		if (n == 3)
			REQUIRE(cli_parse_tags(pos[2], &tags, err, sizeof(err)) == 0, "%s", err);
		else
			tags = json_incref(o.tags);
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY,
				     add ? "AddTagsToOnPremisesInstances" : "RemoveTagsFromOnPremisesInstances",
				     json_pack("{s:O, s:[s]}", "tags", tags, "instanceNames", pos[1]), NULL);
		if (ex == 0 && !c->json)
			printf("instance %s %s\n", pos[1], add ? "tagged" : "untagged");
	} else {
		REQUIRE(false, "unknown instance command '%s'", sub);
	}
out:
	json_decref(infos);
	json_decref(tags);
	cli_opts_free(&o);
	return ex;
}
