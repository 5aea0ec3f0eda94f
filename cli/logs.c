/* rolloutctl logs: the output of a deployment's hook scripts
 * (Rolloutd_v1.GetDeploymentLogs, or the lifecycle events' diagnostics from
 * a daemon without it). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "wait.h"

static const char logs_usage[] = "Usage: rolloutctl logs DEPLOYMENT_ID [--instance NAME] [-f]\n"
				 "\nPrints the output of the lifecycle hook scripts of a deployment, per instance and\n"
				 "event. -f follows it live until the deployment ends.\n";

/* Prints a block of log text with a prefix per line. */
static void print_prefixed(const char *prefix, const char *text)
{
	while (text && *text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		printf("%s%.*s\n", prefix, (int)len, text);
		text += len + (nl ? 1 : 0);
	}
}

/* Fallback when the daemon has no log operation: diagnostics of each event. */
static int logs_from_diagnostics(struct cli *c, const char *id, const char *instance, bool follow, int interval_ms)
{
	json_t *seen = json_object();
	int ex = CLI_EXIT_OK, r;

	for (;;) {
		json_t *summaries = NULL, *info = NULL, *s;
		size_t i;
		bool terminal;

		r = cli_poll_deployment(c, id, &info, &summaries);
		if (r < 0) {
			ex = cli_report_error(c, "GetDeployment", r);
			break;
		}
		terminal = strcmp(rd_json_str_or(info, "status", ""), "Succeeded") == 0 ||
			   strcmp(rd_json_str_or(info, "status", ""), "Failed") == 0 ||
			   strcmp(rd_json_str_or(info, "status", ""), "Stopped") == 0;
		json_array_foreach(summaries, i, s)
		{
			const char *iid = rd_json_str_or(s, "instanceId", rd_json_str_or(s, "targetId", "?"));
			const char *slash = strncmp(iid, "arn:", 4) == 0 ? strrchr(iid, '/') : NULL;
			const char *name = slash ? slash + 1 : iid;
			size_t k;
			json_t *ev;

			if (instance && strcmp(name, instance) != 0 && strcmp(iid, instance) != 0)
				continue;
			json_array_foreach(json_object_get(s, "lifecycleEvents"), k, ev)
			{
				const char *evn = rd_json_str_or(ev, "lifecycleEventName", "?");
				const char *st = rd_json_str_or(ev, "status", "Pending");
				json_t *diag = json_object_get(ev, "diagnostics");
				const char *tail = rd_json_str_or(diag, "logTail", "");
				const char *msg = rd_json_str_or(diag, "message", "");
				char key[600], prefix[400];

				if (!strcmp(st, "Pending") || !strcmp(st, "InProgress") || !strcmp(st, "Unknown"))
					continue;
				snprintf(key, sizeof(key), "%s/%s", name, evn);
				if (json_object_get(seen, key))
					continue;
				json_object_set_new(seen, key, json_true());
				if (c->json) {
					json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "instanceId", name,
							      "lifecycleEventName", evn, "status", st, "message", msg,
							      "logTail", tail);
					char *line = json_dumps(j, JSON_COMPACT);
					printf("%s\n", line ? line : "{}");
					free(line);
					json_decref(j);
					continue;
				}
				snprintf(prefix, sizeof(prefix), "%s %s | ", name, evn);
				if (!*tail && !*msg && !strcmp(st, "Skipped"))
					continue;
				printf("%s%s%s\n", prefix, st, *msg ? ": " : "");
				if (*msg && strcmp(msg, "Succeeded: ") != 0)
					print_prefixed(prefix, msg);
				print_prefixed(prefix, tail);
			}
		}
		fflush(stdout);
		json_decref(summaries);
		json_decref(info);
		if (!follow || terminal || cli_interrupted)
			break;
		cli_sleep_ms(interval_ms);
	}
	json_decref(seen);
	return ex;
}

int cmd_logs(struct cli *c, int argc, char **argv)
{
	const char *usage = logs_usage, *pos[1] = {0};
	struct cli_opts o;
	json_t *token = NULL;
	int ex = 0, n, r;
	bool got_any = false, printed_any = false;
	struct sigaction old_sa;

	n = cli_opts_parse(c, &o, cli_workflow_options, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n == 1, "logs needs the DEPLOYMENT_ID");
	cli_catch_sigint(&old_sa);
	for (;;) {
		json_t *req = json_pack("{s:s}", "DeploymentId", pos[0]), *resp = NULL, *items, *it;
		size_t i;

		if (o.instance)
			json_object_set_new(req, "InstanceId", json_string(o.instance));
		if (token)
			json_object_set(req, "NextToken", token);
		r = cli_call(c, CLI_TARGET_ROLLOUTD, "GetDeploymentLogs", req, &resp);
		json_decref(req);
		if (r == -EREMOTEIO && !got_any && strcmp(c->err_type, "UnknownOperationException") == 0) {
			/* Older daemon: the log tails in the lifecycle diagnostics are all there is. */
			ex = logs_from_diagnostics(c, pos[0], o.instance, o.follow, o.interval_ms);
			goto done;
		}
		if (r < 0) {
			ex = cli_report_error(c, "GetDeploymentLogs", r);
			goto done;
		}
		got_any = true;
		items = json_object_get(resp, "Logs");
		if (json_array_size(items) > 0)
			printed_any = true;
		json_array_foreach(items, i, it)
		{
			if (c->json) {
				char *line = json_dumps(it, JSON_COMPACT);
				printf("%s\n", line ? line : "{}");
				free(line);
			} else {
				char prefix[400];
				snprintf(prefix, sizeof(prefix), "%s %s | ", rd_json_str_or(it, "InstanceId", "?"),
					 rd_json_str_or(it, "LifecycleEventName", "?"));
				print_prefixed(prefix, rd_json_str_or(it, "Data", ""));
			}
		}
		fflush(stdout);
		json_t *next = json_object_get(resp, "NextToken");
		bool complete = json_is_true(json_object_get(resp, "DeploymentComplete"));
		bool more = json_array_size(items) > 0 && json_is_string(next);
		if (json_is_string(next) && json_string_length(next) > 0) {
			json_decref(token);
			token = json_incref(next);
		}
		json_decref(resp);
		if (more)
			continue; /* more pages right away */
		if (!o.follow || complete || cli_interrupted)
			break;
		cli_sleep_ms(o.interval_ms);
	}
	if (ex == 0 && !printed_any && !c->json)
		fprintf(stderr, "no hook output stored for %s%s%s yet\n", pos[0], o.instance ? " on " : "",
			o.instance ? o.instance : "");
done:
	cli_restore_sigint(&old_sa);
out:
	json_decref(token);
	cli_opts_free(&o);
	return ex;
}
