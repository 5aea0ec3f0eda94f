/* rolloutctl audit: the audit trail (Rolloutd_v1.ListAuditEvents), newest
 * first, filtered by key, application, operation, result and time. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmdutil.h"
#include "duration.h"
#include "util.h"

static const char audit_usage[] =
    "Usage: rolloutctl audit [--key ACCESS_KEY_ID] [--app APP] [--name OPERATION] [--status RESULT]\n"
    "                        [--since TIME] [--until TIME] [--limit N]\n"
    "\nPrints the audit trail, newest first: every mutating call and every refused\n"
    "call, with who made it (key, policy, address), on what and what came of it.\n"
    "  --key      calls signed by this access key (or that claimed it, when refused)\n"
    "  --app      calls on this application\n"
    "  --name     this operation (CreateDeployment, or CodeDeploy_20141006.CreateDeployment)\n"
    "  --status   Allowed, Failed or Refused\n"
    "  --since, --until  a time: 2026-12-05T19:00:00Z, epoch seconds, or a duration ago (1h, 7d)\n"
    "  --limit    at most N records (default 50)\n"
    "Needs an admin key.\n";

/* TIME -> epoch seconds: ISO 8601 UTC, epoch seconds, or a duration ago. */
static int parse_time(const char *s, double *ret)
{
	struct tm tm;
	char *end;
	int64_t ms;
	double v;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end && (*end == '\0' || !strcmp(end, "Z"))) {
		*ret = (double)timegm(&tm);
		return 0;
	}
	v = strtod(s, &end);
	if (end != s && *end == '\0' && v > 1e8) {
		*ret = v;
		return 0;
	}
	if (rd_duration_parse_ms(s, 3650LL * 24 * 3600 * 1000, &ms) == 0) {
		*ret = (double)(rd_wall_ms() - ms) / 1000.0;
		return 0;
	}
	return -1;
}

int cmd_audit(struct cli *c, int argc, char **argv)
{
	static const char *const cols[] = {"Time",   "Operation",     "Result",		 "Status",   "AccessKeyId",
					   "Policy", "SourceAddress", "ApplicationName", "Resource", "ErrorCode"};
	const char *usage = audit_usage;
	struct cli_opts o;
	json_t *all = json_array(), *resp = NULL, *q;
	const char *token = NULL;
	char *tok = NULL;
	double since = 0, until = 0;
	size_t limit = 50;
	int ex = CLI_EXIT_OK, n;

	const char *pos[1] = {0};
	n = cli_opts_parse(c, &o, cli_resource_options, usage, argc, argv, pos, 1, &ex);
	if (n < 0) {
		json_decref(all);
		return ex;
	}
	REQUIRE(n == 0, "audit takes no argument ('%s'); filter with --key, --app, --since", pos[0]);
	REQUIRE(!o.since || parse_time(o.since, &since) == 0,
		"--since: '%s' is not a time (2026-12-05T19:00:00Z, "
		"epoch seconds or a duration ago such as 1h)",
		o.since);
	REQUIRE(!o.until || parse_time(o.until, &until) == 0, "--until: '%s' is not a time", o.until);
	if (o.limit) {
		char *end;
		unsigned long l = strtoul(o.limit, &end, 10);
		REQUIRE(*end == '\0' && l >= 1 && l <= 100000, "--limit: a number from 1 to 100000");
		limit = l;
	}
	do {
		size_t want = limit - json_array_size(all);
		q = json_pack("{s:I}", "MaxResults", (json_int_t)(want > 1000 ? 1000 : want));
		if (o.key)
			json_object_set_new(q, "AccessKeyId", json_string(o.key));
		if (o.app)
			json_object_set_new(q, "ApplicationName", json_string(o.app));
		if (o.name)
			json_object_set_new(q, "Operation", json_string(o.name));
		if (o.status)
			json_object_set_new(q, "Result", json_string(o.status));
		if (o.since)
			json_object_set_new(q, "StartTime", json_real(since));
		if (o.until)
			json_object_set_new(q, "EndTime", json_real(until));
		if (token)
			json_object_set_new(q, "NextToken", json_string(token));
		json_decref(resp);
		resp = NULL;
		ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "ListAuditEvents", q, &resp);
		if (ex != 0)
			goto out;
		json_array_extend(all, json_object_get(resp, "AuditEvents"));
		free(tok);
		tok = json_string_value(json_object_get(resp, "NextToken"))
			  ? strdup(json_string_value(json_object_get(resp, "NextToken")))
			  : NULL;
		token = tok;
	} while (token && json_array_size(all) < limit);
	if (c->json) {
		json_t *out = json_pack("{s:O}", "AuditEvents", all);
		cli_print_json(out);
		json_decref(out);
	} else
		cli_print_objects(stdout, all, RD_ARRAY_SIZE(cols), cols);
out:
	free(tok);
	json_decref(resp);
	json_decref(all);
	cli_opts_free(&o);
	return ex;
}
