#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "nouns.h"
#include "util.h"

/* ------------------------------------------------------------ the cells */

static char *fmt_time_of(json_t *ts)
{
	char buf[64];

	return strdup(cli_fmt_time(ts, buf, sizeof(buf)));
}

static char *app_group(json_t *info)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s", rd_json_str_or(info, "applicationName", "?"),
		     rd_json_str_or(info, "deploymentGroupName", "?")) < 0)
		return NULL;
	return s;
}

static char *deployment_revision(json_t *info)
{
	return cli_revision_describe(json_object_get(info, "revision"));
}

/* The group's on-premises targets: its tag filters, or its tag set as
 * "(a) AND (b)", or its EC2 filters. */
static char *group_targets(json_t *g)
{
	json_t *set = json_object_get(json_object_get(g, "onPremisesTagSet"), "onPremisesTagSetList"), *grp;
	char *buf = NULL;
	size_t len = 0, k;
	FILE *f;

	if (json_array_size(json_object_get(g, "onPremisesInstanceTagFilters")) > 0)
		return cli_tags_string(json_object_get(g, "onPremisesInstanceTagFilters"));
	if (json_array_size(set) == 0)
		return json_array_size(json_object_get(g, "ec2TagFilters")) > 0
			   ? cli_tags_string(json_object_get(g, "ec2TagFilters"))
			   : NULL;
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	json_array_foreach(set, k, grp)
	{
		char *s = cli_tags_string(grp);
		fprintf(f, "%s(%s)", k ? " AND " : "", s ? s : "");
		free(s);
	}
	fclose(f);
	return buf;
}

static char *group_auto_rollback(json_t *g)
{
	return strdup(
	    json_is_true(json_object_get(json_object_get(g, "autoRollbackConfiguration"), "enabled")) ? "on" : "off");
}

static char *group_last_success(json_t *g)
{
	return strdup(rd_json_str_or(json_object_get(g, "lastSuccessfulDeployment"), "deploymentId", "-"));
}

static char *group_last_attempt(json_t *g)
{
	json_t *la = json_object_get(g, "lastAttemptedDeployment");
	char *s = NULL;

	if (!rd_json_str(la, "deploymentId"))
		return strdup("-");
	if (asprintf(&s, "%s %s", rd_json_str(la, "deploymentId"), rd_json_str_or(la, "status", "")) < 0)
		return NULL;
	return s;
}

/* A deployment config's rule in a few words. */
static char *config_rule(json_t *info)
{
	json_t *m = json_object_get(info, "minimumHealthyHosts");
	json_t *tr = json_object_get(info, "trafficRoutingConfig");
	json_t *cn = json_object_get(tr, "timeBasedCanary"), *ln = json_object_get(tr, "timeBasedLinear");
	char *s = NULL;
	int r;

	if (m)
		r = asprintf(&s, "min healthy %s %lld", rd_json_str_or(m, "type", "?"),
			     (long long)rd_json_number(json_object_get(m, "value")));
	else if (cn)
		r = asprintf(&s, "canary %lld%% then rest after %lld min",
			     (long long)rd_json_number(json_object_get(cn, "canaryPercentage")),
			     (long long)rd_json_number(json_object_get(cn, "canaryInterval")));
	else if (ln)
		r = asprintf(&s, "linear %lld%% every %lld min",
			     (long long)rd_json_number(json_object_get(ln, "linearPercentage")),
			     (long long)rd_json_number(json_object_get(ln, "linearInterval")));
	else if (tr)
		r = asprintf(&s, "traffic %s", rd_json_str_or(tr, "type", "?"));
	else
		return strdup("-");
	return r < 0 ? NULL : s;
}

static char *revision_location(json_t *info)
{
	return cli_revision_describe(json_object_get(info, "revisionLocation"));
}

static char *revision_registered(json_t *info)
{
	return fmt_time_of(json_object_get(json_object_get(info, "genericRevisionInfo"), "registerTime"));
}

static char *revision_last_used(json_t *info)
{
	return fmt_time_of(json_object_get(json_object_get(info, "genericRevisionInfo"), "lastUsedTime"));
}

static char *revision_groups(json_t *info)
{
	char *buf = NULL;
	size_t len = 0, k;
	json_t *g;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	json_array_foreach(json_object_get(json_object_get(info, "genericRevisionInfo"), "deploymentGroups"), k, g)
	    fprintf(f, "%s%s", k ? "," : "", json_string_value(g));
	fclose(f);
	return buf;
}

static char *revision_description(json_t *info)
{
	return strdup(rd_json_str_or(json_object_get(info, "genericRevisionInfo"), "description", "-"));
}

static char *instance_tags(json_t *info)
{
	return cli_tags_string(json_object_get(info, "tags"));
}

static char *instance_status(json_t *info)
{
	return strdup(rd_json_number(json_object_get(info, "deregisterTime")) > 0 ? "Deregistered" : "Registered");
}

/* ------------------------------------------------------------ the nouns */

#define COLUMNS(a) .columns = a, .ncols = RD_ARRAY_SIZE(a)

/* Headers are the member names: `app list` has always shown them so. */
static const struct cli_column app_columns[] = {
    {.header = "applicationName", .member = "applicationName"},
    {.header = "computePlatform", .member = "computePlatform"},
    {.header = "createTime", .time_member = "createTime"},
    {.header = "applicationId", .member = "applicationId"},
};

const struct cli_noun cli_noun_applications = {
    .list_op = "ListApplications",
    .list_key = "applications",
    .get_op = "BatchGetApplications",
    .get_key = "applicationNames",
    .result_key = "applicationsInfo",
    .chunk = 100,
    .json_key = "applicationsInfo",
    COLUMNS(app_columns),
};

static const struct cli_column group_columns[] = {
    {.header = "name", .member = "deploymentGroupName", .fallback = "?"},
    {.header = "config", .member = "deploymentConfigName", .fallback = "-"},
    {.header = "targets", .format = group_targets},
    {.header = "auto-rollback", .format = group_auto_rollback},
    {.header = "last success", .format = group_last_success},
    {.header = "last attempt", .format = group_last_attempt},
};

const struct cli_noun cli_noun_groups = {
    .list_op = "ListDeploymentGroups",
    .list_key = "deploymentGroups",
    .get_op = "BatchGetDeploymentGroups",
    .get_key = "deploymentGroupNames",
    .result_key = "deploymentGroupsInfo",
    .chunk = 100,
    .keep_key = "applicationName",
    .json_key = "deploymentGroupsInfo",
    COLUMNS(group_columns),
};

static const struct cli_column config_columns[] = {
    {.header = "name", .member = "deploymentConfigName", .fallback = "?"},
    {.header = "platform", .member = "computePlatform", .fallback = "Server"},
    {.header = "rule", .format = config_rule},
};

/* CodeDeploy has no BatchGetDeploymentConfigs. */
const struct cli_noun cli_noun_configs = {
    .list_op = "ListDeploymentConfigs",
    .list_key = "deploymentConfigsList",
    .get_op = "GetDeploymentConfig",
    .get_key = "deploymentConfigName",
    .result_key = "deploymentConfigInfo",
    .get_one = true,
    .json_key = "deploymentConfigsInfo",
    COLUMNS(config_columns),
};

static const struct cli_column revision_columns[] = {
    {.header = "revision", .format = revision_location},       {.header = "registered", .format = revision_registered},
    {.header = "last used", .format = revision_last_used},     {.header = "groups", .format = revision_groups},
    {.header = "description", .format = revision_description},
};

const struct cli_noun cli_noun_revisions = {
    .list_op = "ListApplicationRevisions",
    .list_key = "revisions",
    .get_op = "BatchGetApplicationRevisions",
    .get_key = "revisions",
    .result_key = "revisions",
    .chunk = 25,
    .keep_key = "applicationName",
    .json_key = "revisions",
    COLUMNS(revision_columns),
};

static const struct cli_column deployment_columns[] = {
    {.header = "id", .member = "deploymentId", .fallback = "?"},
    {.header = "app/group", .format = app_group},
    {.header = "status", .member = "status", .fallback = "?"},
    {.header = "creator", .member = "creator", .fallback = "-"},
    {.header = "revision", .format = deployment_revision},
    {.header = "created", .time_member = "createTime"},
};

const struct cli_noun cli_noun_deployments = {
    .list_op = "ListDeployments",
    .list_key = "deployments",
    .get_op = "BatchGetDeployments",
    .get_key = "deploymentIds",
    .result_key = "deploymentsInfo",
    .chunk = 25,
    .json_key = "deploymentsInfo",
    COLUMNS(deployment_columns),
};

/* Shown through the progress view (cli/deployment.c), not columns. */
const struct cli_noun cli_noun_deployment_instances = {
    .list_op = "ListDeploymentInstances",
    .list_key = "instancesList",
    .get_op = "BatchGetDeploymentInstances",
    .get_key = "instanceIds",
    .result_key = "instancesSummary",
    .chunk = 25,
    .keep_key = "deploymentId",
    .json_key = "instancesSummary",
};

/* The targets of a Lambda or ECS deployment (lambdaTarget / ecsTarget). */
const struct cli_noun cli_noun_deployment_targets = {
    .list_op = "ListDeploymentTargets",
    .list_key = "targetIds",
    .get_op = "BatchGetDeploymentTargets",
    .get_key = "targetIds",
    .result_key = "deploymentTargets",
    .chunk = 25,
    .keep_key = "deploymentId",
    .json_key = "deploymentTargets",
};

static const struct cli_column onprem_columns[] = {
    {.header = "name", .member = "instanceName", .fallback = "?"},
    {.header = "tags", .format = instance_tags},
    {.header = "registered", .time_member = "registerTime"},
    {.header = "status", .format = instance_status},
};

const struct cli_noun cli_noun_onprem_instances = {
    .list_op = "ListOnPremisesInstances",
    .list_key = "instanceNames",
    .get_op = "BatchGetOnPremisesInstances",
    .get_key = "instanceNames",
    .result_key = "instanceInfos",
    .chunk = 25,
    .json_key = "instanceInfos",
    COLUMNS(onprem_columns),
};

/* ------------------------------------------------------ fetch and print */

static json_t *get_request(const struct cli_noun *n, json_t *list_req)
{
	json_t *q = json_object(), *keep = n->keep_key ? json_object_get(list_req, n->keep_key) : NULL;

	if (keep)
		json_object_set(q, n->keep_key, keep);
	return q;
}

static int fetch_objects(struct cli *c, const struct cli_noun *n, json_t *list_req, json_t *names, json_t *all)
{
	size_t total = json_array_size(names), step = n->get_one ? 1 : n->chunk;
	int r = 0;

	for (size_t i = 0; i < total && r == 0; i += step) {
		json_t *q = get_request(n, list_req), *resp = NULL;

		if (n->get_one) {
			json_object_set(q, n->get_key, json_array_get(names, i));
		} else {
			json_t *part = json_array();
			for (size_t k = i; k < i + step && k < total; k++)
				json_array_append(part, json_array_get(names, k));
			json_object_set_new(q, n->get_key, part);
		}
		r = cli_call_new(c, CLI_TARGET_CODEDEPLOY, n->get_op, q, &resp);
		if (r < 0)
			break;
		if (n->get_one)
			json_array_append(all, json_object_get(resp, n->result_key));
		else
			json_array_extend(all, json_object_get(resp, n->result_key));
		json_decref(resp);
	}
	return r;
}

int cli_noun_fetch(struct cli *c, const struct cli_noun *n, json_t *list_req, json_t **ret_infos, const char **ret_op)
{
	json_t *names = NULL, *all = json_array();
	int r;

	*ret_op = n->list_op;
	r = cli_list_all(c, n->list_op, list_req, n->list_key, &names);
	if (r < 0)
		goto out;
	*ret_op = n->get_op;
	r = fetch_objects(c, n, list_req, names, all);
	if (r < 0)
		goto out;
	*ret_infos = all;
	all = NULL;
out:
	json_decref(names);
	json_decref(all);
	return r;
}

static char *cell(const struct cli_column *col, json_t *info)
{
	json_t *v;

	if (col->format)
		return col->format(info);
	if (col->time_member)
		return fmt_time_of(json_object_get(info, col->time_member));
	v = json_object_get(info, col->member);
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (v && !json_is_null(v))
		return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	return col->fallback ? strdup(col->fallback) : NULL;
}

void cli_noun_print(struct cli *c, const struct cli_noun *n, json_t *infos, FILE *f)
{
	const char *headers[16], *cells[16];
	char *owned[16];
	struct table *t;
	size_t i;
	json_t *info;

	if (c->json) {
		json_t *j = json_pack("{s:O}", n->json_key, infos);
		json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', f);
		json_decref(j);
		return;
	}
	for (size_t k = 0; k < n->ncols; k++)
		headers[k] = n->columns[k].header;
	t = table_new(n->ncols, headers);
	if (!t)
		return;
	json_array_foreach(infos, i, info)
	{
		for (size_t k = 0; k < n->ncols; k++)
			cells[k] = owned[k] = cell(&n->columns[k], info);
		table_add_row(t, cells);
		for (size_t k = 0; k < n->ncols; k++)
			free(owned[k]);
	}
	table_print(t, f);
	table_free(t);
}

int cli_noun_list(struct cli *c, const struct cli_noun *n, json_t *list_req)
{
	json_t *infos = NULL;
	const char *op;
	int r;

	r = cli_noun_fetch(c, n, list_req, &infos, &op);
	if (r < 0)
		return cli_report_error(c, op, r);
	cli_noun_print(c, n, infos, stdout);
	json_decref(infos);
	return CLI_EXIT_OK;
}

/* ------------------------------------------------- fetches for commands */

static int cmp_create_desc(const void *a, const void *b)
{
	double ta = rd_json_number(json_object_get(*(json_t *const *)a, "createTime"));
	double tb = rd_json_number(json_object_get(*(json_t *const *)b, "createTime"));

	return ta < tb ? 1 : ta > tb ? -1 : 0;
}

int cli_fetch_deployments(struct cli *c, const char *app, const char *group, const char *statuses, size_t limit,
			  json_t **ret_infos)
{
	json_t *req = json_object(), *infos = NULL, *sorted = NULL, **v = NULL;
	const char *op;
	size_t n, i;
	int r;

	if (app)
		json_object_set_new(req, "applicationName", json_string(app));
	if (group)
		json_object_set_new(req, "deploymentGroupName", json_string(group));
	if (statuses) {
		json_t *st = json_array();
		char *copy = strdup(statuses), *save = NULL;
		for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save))
			json_array_append_new(st, json_string(tok));
		free(copy);
		json_object_set_new(req, "includeOnlyStatuses", st);
	}
	r = cli_noun_fetch(c, &cli_noun_deployments, req, &infos, &op);
	if (r < 0)
		goto out;
	n = json_array_size(infos);
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(infos, i);
	qsort(v, n, sizeof(*v), cmp_create_desc);
	sorted = json_array();
	for (i = 0; i < n && (limit == 0 || i < limit); i++)
		json_array_append(sorted, v[i]);
	*ret_infos = sorted;
	sorted = NULL;
out:
	free(v);
	json_decref(req);
	json_decref(infos);
	json_decref(sorted);
	return r;
}

int cli_fetch_instances(struct cli *c, const char *deployment_id, json_t **ret_summaries)
{
	json_t *req = json_pack("{s:s}", "deploymentId", deployment_id);
	const char *op;
	int r = cli_noun_fetch(c, &cli_noun_deployment_instances, req, ret_summaries, &op);

	json_decref(req);
	return r;
}

int cli_fetch_targets(struct cli *c, const char *deployment_id, json_t **ret_targets)
{
	json_t *req = json_pack("{s:s}", "deploymentId", deployment_id);
	const char *op;
	int r = cli_noun_fetch(c, &cli_noun_deployment_targets, req, ret_targets, &op);

	json_decref(req);
	return r;
}

int cli_fetch_onprem(struct cli *c, json_t *filters, const char *status, json_t **ret_infos)
{
	json_t *req = json_object();
	const char *op;
	int r;

	if (filters)
		json_object_set(req, "tagFilters", filters);
	if (status)
		json_object_set_new(req, "registrationStatus", json_string(status));
	r = cli_noun_fetch(c, &cli_noun_onprem_instances, req, ret_infos, &op);
	json_decref(req);
	return r;
}
