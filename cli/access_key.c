/* rolloutctl access-key: the keys that sign requests to rolloutd. */
#include "config.h"

#include <string.h>

#include "cmdutil.h"

static const char access_key_usage[] =
    "Usage: rolloutctl access-key list\n"
    "       rolloutctl access-key create --name NAME --policy admin|deployer|readonly|agent [--instance NAME]\n"
    "       rolloutctl access-key delete ACCESS_KEY_ID\n"
    "\nAccess keys sign requests to rolloutd (SigV4). 'agent' keys are bound to one\n"
    "registered instance (--instance) and may only use the host-command operations.\n"
    "The secret is shown once, at creation.\n";

/* ListAccessKeys is one call (no paging); its members are capitalised as
 * Rolloutd_v1 operations are, though older daemons answered in camel case. */
static void print_keys(json_t *resp)
{
	static const char *const cols[] = {"AccessKeyId", "Name", "Policy", "InstanceName", "CreateTime"};
	static const char *const lcols[] = {"accessKeyId", "name", "policy", "instanceName", "createTime"};
	json_t *keys = json_object_get(resp, "AccessKeys"), *first, *v;
	const char *k;

	if (!keys) {
		json_object_foreach(resp, k, v) if (json_is_array(v))
		{
			keys = v;
			break;
		}
	}
	first = json_array_get(keys, 0);
	cli_print_objects(stdout, keys, 5, first && json_object_get(first, "accessKeyId") ? lcols : cols);
}

int cmd_access_key(struct cli *c, int argc, char **argv)
{
	const char *usage = access_key_usage, *pos[2] = {0};
	struct cli_opts o;
	json_t *resp = NULL, *q;
	int ex = CLI_EXIT_OK, n;
	const char *sub;

	n = cli_opts_parse(c, &o, cli_resource_options, usage, argc, argv, pos, 2, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which access-key command? list, create or delete");
	sub = pos[0];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "ListAccessKeys", json_object(), &resp);
		if (ex != 0)
			goto out;
		if (c->json)
			cli_print_json(resp);
		else
			print_keys(resp);
	} else if (strcmp(sub, "create") == 0) {
		REQUIRE(o.name, "access-key create needs --name NAME");
		REQUIRE(o.policy, "access-key create needs --policy (admin, deployer, readonly or agent)");
		REQUIRE(strcmp(o.policy, "agent") != 0 || o.instance,
			"an agent key is bound to one instance: add --instance NAME");
		q = json_pack("{s:s, s:s}", "Name", o.name, "Policy", o.policy);
		if (o.instance)
			json_object_set_new(q, "InstanceName", json_string(o.instance));
		ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "CreateAccessKey", q, &resp);
		if (ex != 0)
			goto out;
		if (c->json) {
			cli_print_json(resp);
		} else {
			printf("AccessKeyId:     %s\n", cli_key_field(resp, "AccessKeyId") ?: "?");
			printf("SecretAccessKey: %s\n", cli_key_field(resp, "SecretAccessKey") ?: "?");
			fprintf(stderr, "Store the secret now: rolloutd cannot show it again.\n");
		}
	} else if (strcmp(sub, "delete") == 0 || strcmp(sub, "rm") == 0) {
		REQUIRE(n == 2, "access-key delete needs the ACCESS_KEY_ID");
		ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "DeleteAccessKey",
				     json_pack("{s:s}", "AccessKeyId", pos[1]), NULL);
		if (ex == 0 && !c->json)
			printf("access key %s deleted\n", pos[1]);
	} else {
		REQUIRE(false, "unknown access-key command '%s'", sub);
	}
out:
	json_decref(resp);
	cli_opts_free(&o);
	return ex;
}
