/* rolloutctl access-key: the keys that sign requests to rolloutd. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "duration.h"
#include "util.h"

static const char access_key_usage[] =
    "Usage: rolloutctl access-key list\n"
    "       rolloutctl access-key create --name NAME --policy admin|deployer|readonly|agent [--instance NAME|i-ID]\n"
    "                                    [--applications APP[,APP...]]\n"
    "       rolloutctl access-key create --name NAME --policy enroll --scope asg:GROUP|tag:KEY=VALUE\n"
    "       rolloutctl access-key delete|disable|enable ACCESS_KEY_ID\n"
    "       rolloutctl access-key rotate ACCESS_KEY_ID [--retire-after DURATION]\n"
    "       rolloutctl access-key retire ACCESS_KEY_ID\n"
    "       rolloutctl access-key scope ACCESS_KEY_ID --applications APP[,APP...] | --all-applications\n"
    "\nAccess keys sign requests to rolloutd (SigV4). 'agent' keys are bound to one\n"
    "registered instance or EC2 instance id (--instance) and may only use the\n"
    "host-command operations; an 'enroll' key lets the EC2 instances of a fleet trade\n"
    "it for their own agent keys (docs/ec2.md).\n"
    "--applications scopes a key to those applications (names or patterns such as\n"
    "web-*): it can neither see nor touch the others (docs/security.md).\n"
    "rotate makes a new secret and keeps the previous one accepted until 'retire'\n"
    "or --retire-after. disable refuses every request signed with the key.\n"
    "The secret is shown once, at creation and rotation.\n";

/* ListAccessKeys is one call (no paging); its members are capitalised as
 * Rolloutd_v1 operations are, though older daemons answered in camel case. */
static void print_keys(json_t *resp)
{
	static const char *const cols[] = {"AccessKeyId",  "Name",	   "Policy",   "Status",
					   "Applications", "InstanceName", "LastUsed", "PreviousSecretActive"};
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
	if (first && json_object_get(first, "accessKeyId"))
		cli_print_objects(stdout, keys, 5, lcols);
	else
		cli_print_objects(stdout, keys, RD_ARRAY_SIZE(cols), cols);
}

/* "web,billing" -> ["web", "billing"] */
static json_t *split_list(const char *list)
{
	json_t *a = json_array();
	char *dup = strdup(list), *save = NULL;

	for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
		if (*t)
			json_array_append_new(a, json_string(t));
	free(dup);
	return a;
}

static void print_secret(struct cli *c, json_t *resp)
{
	if (c->json) {
		cli_print_json(resp);
		return;
	}
	printf("AccessKeyId:     %s\n", cli_key_field(resp, "AccessKeyId") ?: "?");
	printf("SecretAccessKey: %s\n", cli_key_field(resp, "SecretAccessKey") ?: "?");
	fprintf(stderr, "Store the secret now: rolloutd cannot show it again.\n");
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
	REQUIRE(n >= 1, "which access-key command? list, create, delete, disable, enable, rotate, retire or scope");
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
		REQUIRE(o.policy, "access-key create needs --policy (admin, deployer, readonly, agent or enroll)");
		REQUIRE(strcmp(o.policy, "enroll") != 0 || o.instance,
			"an enroll key is scoped to a fleet: add --scope asg:GROUP or --scope tag:KEY=VALUE");
		REQUIRE(strcmp(o.policy, "agent") != 0 || o.instance,
			"an agent key is bound to one instance: add --instance NAME");
		q = json_pack("{s:s, s:s}", "Name", o.name, "Policy", o.policy);
		if (o.instance)
			json_object_set_new(q, "InstanceName", json_string(o.instance));
		if (o.applications)
			json_object_set_new(q, "Applications", split_list(o.applications));
		ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "CreateAccessKey", q, &resp);
		if (ex == 0)
			print_secret(c, resp);
	} else if (strcmp(sub, "delete") == 0 || strcmp(sub, "rm") == 0) {
		REQUIRE(n == 2, "access-key delete needs the ACCESS_KEY_ID");
		ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "DeleteAccessKey",
				     json_pack("{s:s}", "AccessKeyId", pos[1]), NULL);
		if (ex == 0 && !c->json)
			printf("access key %s deleted\n", pos[1]);
	} else if (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) {
		bool enable = strcmp(sub, "enable") == 0;
		REQUIRE(n == 2, "access-key %s needs the ACCESS_KEY_ID", sub);
		ex = cli_simple_call(
		    c, CLI_TARGET_ROLLOUTD, "UpdateAccessKey",
		    json_pack("{s:s, s:s}", "AccessKeyId", pos[1], "Status", enable ? "Active" : "Inactive"), NULL);
		if (ex == 0 && !c->json)
			printf("access key %s %s\n", pos[1], enable ? "enabled" : "disabled");
	} else if (strcmp(sub, "rotate") == 0) {
		int64_t ms = 0;
		REQUIRE(n == 2, "access-key rotate needs the ACCESS_KEY_ID");
		REQUIRE(!o.retire_after || rd_duration_parse_ms(o.retire_after, 3650LL * 24 * 3600 * 1000, &ms) == 0,
			"--retire-after: '%s' is not a duration (e.g. 1h, 7d)", o.retire_after);
		REQUIRE(!o.retire_after || ms >= 1000, "--retire-after: at least 1s");
		q = json_pack("{s:s}", "AccessKeyId", pos[1]);
		if (o.retire_after)
			json_object_set_new(q, "RetireAfterSeconds", json_integer(ms / 1000));
		ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "RotateAccessKey", q, &resp);
		if (ex == 0) {
			print_secret(c, resp);
			if (!c->json)
				fprintf(stderr, "The previous secret stays accepted %s.\n",
					o.retire_after
					    ? "for --retire-after"
					    : "until 'rolloutctl access-key retire' (give clients the new one first)");
		}
	} else if (strcmp(sub, "retire") == 0) {
		REQUIRE(n == 2, "access-key retire needs the ACCESS_KEY_ID");
		ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "RetireAccessKeySecret",
				     json_pack("{s:s}", "AccessKeyId", pos[1]), NULL);
		if (ex == 0 && !c->json)
			printf("access key %s: the previous secret is no longer accepted\n", pos[1]);
	} else if (strcmp(sub, "scope") == 0) {
		REQUIRE(n == 2, "access-key scope needs the ACCESS_KEY_ID");
		REQUIRE(!o.applications != !o.all_applications,
			"access-key scope needs --applications APP[,APP...] or --all-applications");
		q = json_pack("{s:s}", "AccessKeyId", pos[1]);
		json_object_set_new(q, "Applications", o.applications ? split_list(o.applications) : json_null());
		ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "UpdateAccessKey", q, NULL);
		if (ex == 0 && !c->json)
			printf("access key %s scoped to %s\n", pos[1],
			       o.applications ? o.applications : "every application");
	} else {
		REQUIRE(false, "unknown access-key command '%s'", sub);
	}
out:
	json_decref(resp);
	cli_opts_free(&o);
	return ex;
}
