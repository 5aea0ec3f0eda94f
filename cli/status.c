/* rolloutctl status: which revision each instance of a group runs. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "nouns.h"
#include "tagfilter.h"

bool cli_group_selects(json_t *group_info, json_t *instance_tags)
{
	json_t *filters = json_object_get(group_info, "onPremisesInstanceTagFilters");
	json_t *set = json_object_get(group_info, "onPremisesTagSet");
	struct tagfilter_set *fs = NULL;
	bool yes = false;
	char err[256];

	/* CodeDeploy takes one or the other; the filters win if both came back. */
	if (json_array_size(filters) > 0)
		tagfilter_parse(filters, "onPremisesInstanceTagFilters", &fs, err, sizeof(err));
	else if (set)
		tagfilter_parse(set, "onPremisesTagSet", &fs, err, sizeof(err));
	if (fs)
		yes = tagfilter_match_json(fs, instance_tags);
	tagfilter_set_free(fs);
	return yes;
}

static const char status_usage[] = "Usage: rolloutctl status --app APP --group GROUP\n"
				   "\nShows which revision each instance of GROUP runs (its newest successful\n"
				   "deployment) and how its last deployment attempt went.\n";

int cmd_status(struct cli *c, int argc, char **argv)
{
	const char *usage = status_usage, *pos[1] = {0};
	struct cli_opts o;
	json_t *gresp = NULL, *infos = NULL, *rows = json_object(), *onprem = NULL, *info;
	int ex = 0, n, r;
	size_t i;

	n = cli_opts_parse(c, &o, cli_workflow_options, usage, argc, argv, pos, 1, &ex);
	if (n < 0) {
		json_decref(rows);
		return ex;
	}
	if (n == 1 && !o.group)
		o.group = pos[0];
	REQUIRE(o.app && o.group, "status needs --app APP and --group GROUP");
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentGroup",
			     json_pack("{s:s, s:s}", "applicationName", o.app, "deploymentGroupName", o.group), &gresp);
	if (ex != 0)
		goto out;
	/* Instances that are targets now, even if nothing was deployed to them yet. */
	if (cli_fetch_onprem(c, NULL, "Registered", &onprem) == 0) {
		json_array_foreach(onprem, i, info)
		{
			const char *name = rd_json_str(info, "instanceName");
			if (name && cli_group_selects(json_object_get(gresp, "deploymentGroupInfo"),
						      json_object_get(info, "tags")))
				json_object_set_new(rows, name, json_pack("{s:s}", "instanceName", name));
		}
	}
	r = cli_fetch_deployments(c, o.app, o.group, NULL, 25, &infos);
	if (r < 0) {
		ex = cli_report_error(c, "ListDeployments", r);
		goto out;
	}
	json_array_foreach(infos, i, info)
	{
		const char *id = rd_json_str_or(info, "deploymentId", "?");
		json_t *sums = NULL;
		struct progress p = {0};

		if (cli_fetch_instances(c, id, &sums) < 0)
			continue;
		progress_update(&p, NULL, sums);
		for (size_t k = 0; k < p.n; k++) {
			json_t *row = json_object_get(rows, p.inst[k].id);
			if (!row) {
				row = json_pack("{s:s}", "instanceName", p.inst[k].id);
				json_object_set_new(rows, p.inst[k].id, row);
			}
			if (!json_object_get(row, "lastAttempt"))
				json_object_set_new(
				    row, "lastAttempt",
				    json_pack("{s:s, s:s}", "deploymentId", id, "status", p.inst[k].status));
			if (!json_object_get(row, "revision") && strcmp(p.inst[k].status, "Succeeded") == 0) {
				json_object_set(row, "revision", json_object_get(info, "revision"));
				json_object_set_new(row, "deploymentId", json_string(id));
				json_object_set(row, "deployedAt", json_object_get(info, "completeTime"));
			}
		}
		progress_clear(&p);
		json_decref(sums);
	}
	if (c->json) {
		json_t *arr = json_array(), *v;
		const char *k;
		json_object_foreach(rows, k, v) json_array_append(arr, v);
		json_t *j = json_pack("{s:s, s:s, s:o}", "applicationName", o.app, "deploymentGroupName", o.group,
				      "instances", arr);
		cli_print_json(j);
		json_decref(j);
		goto out;
	}
	{
		static const char *const cols[] = {"instance", "revision", "deployed by", "deployed at",
						   "last attempt"};
		struct table *t = table_new(5, cols);
		const char *k;
		json_t *v;
		json_object_foreach(rows, k, v)
		{
			char *rev = json_object_get(v, "revision")
					? cli_revision_describe(json_object_get(v, "revision"))
					: strdup("(none yet)");
			json_t *la = json_object_get(v, "lastAttempt");
			char last[200], tb[64];
			if (la)
				snprintf(last, sizeof(last), "%s %s", rd_json_str_or(la, "deploymentId", "?"),
					 rd_json_str_or(la, "status", ""));
			else
				snprintf(last, sizeof(last), "-");
			table_add_rowv(t, k, rev, rd_json_str_or(v, "deploymentId", "-"),
				       cli_fmt_time(json_object_get(v, "deployedAt"), tb, sizeof(tb)), last);
			free(rev);
		}
		if (table_rows(t) == 0)
			printf("no instance matches %s/%s and nothing was deployed to it yet\n", o.app, o.group);
		else
			table_print(t, stdout);
		table_free(t);
	}
out:
	json_decref(gresp);
	json_decref(infos);
	json_decref(rows);
	json_decref(onprem);
	cli_opts_free(&o);
	return ex;
}
