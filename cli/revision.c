/* rolloutctl revision: application revisions. */
#include "config.h"

#include <string.h>

#include "cmdutil.h"
#include "nouns.h"

static const char revision_usage[] =
    "Usage: rolloutctl revision list --app APP\n"
    "       rolloutctl revision get --app APP LOCATION\n"
    "       rolloutctl revision register --app APP LOCATION [--description TEXT]\n"
    "\nLOCATION is s3://BUCKET/KEY[?bundleType=zip&version=V&eTag=E], github:OWNER/REPO@COMMIT,\n"
    "bitbucket:WORKSPACE/REPO@COMMIT or https://HOST/PATH#sha256=HEX[&bundleType=zip|tgz|tar].\n";

int cmd_revision(struct cli *c, int argc, char **argv)
{
	const char *usage = revision_usage, *pos[2] = {0};
	struct cli_opts o;
	json_t *resp = NULL, *rev = NULL, *req = NULL;
	int ex = CLI_EXIT_OK, n;
	char err[512];
	const char *sub;

	n = cli_opts_parse(c, &o, cli_resource_options, usage, argc, argv, pos, 2, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which revision command? list, get or register");
	sub = pos[0];
	REQUIRE(o.app, "revision %s needs --app APP", sub);
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		req = json_pack("{s:s, s:s, s:s}", "applicationName", o.app, "sortBy", "registerTime", "sortOrder",
				"descending");
		ex = cli_noun_list(c, &cli_noun_revisions, req);
		goto out;
	}
	REQUIRE(n == 2, "revision %s needs a LOCATION", sub);
	REQUIRE(cli_parse_revision(pos[1], &rev, err, sizeof(err)) == 0, "%s", err);
	if (strcmp(sub, "get") == 0) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetApplicationRevision",
				     json_pack("{s:s, s:O}", "applicationName", o.app, "revision", rev), &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				cli_print_kv(stdout, json_object_get(resp, "revisionInfo"), 0);
		}
	} else if (strcmp(sub, "register") == 0) {
		json_t *q = json_pack("{s:s, s:O}", "applicationName", o.app, "revision", rev);
		if (o.description)
			json_object_set_new(q, "description", json_string(o.description));
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "RegisterApplicationRevision", q, NULL);
		if (ex == 0 && !c->json)
			printf("revision %s registered for %s\n", pos[1], o.app);
	} else {
		REQUIRE(false, "unknown revision command '%s'", sub);
	}
out:
	json_decref(req);
	json_decref(rev);
	json_decref(resp);
	cli_opts_free(&o);
	return ex;
}
