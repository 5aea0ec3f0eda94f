/* The resource commands: app, group, config, revision, deployment, instance,
 * access-key. Each maps onto one or a few API operations. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmdutil.h"

/* ------------------------------------------------------------------ helpers */

int cli_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n\n%s", usage);
	return CLI_EXIT_USAGE;
}

int cli_simple_call(struct cli *c, const char *prefix, const char *op, json_t *req, json_t **ret_resp)
{
	json_t *resp = NULL;
	int r;

	r = cli_call(c, prefix, op, req, &resp);
	json_decref(req);
	if (r < 0)
		return cli_report_error(c, op, r);
	if (ret_resp)
		*ret_resp = resp;
	else
		json_decref(resp);
	return CLI_EXIT_OK;
}

/* Prints scalar members as "key: value"; nested ones as compact JSON. */
void cli_print_kv(json_t *obj, int indent)
{
	const char *key;
	json_t *v;
	char tbuf[64];

	json_object_foreach(obj, key, v)
	{
		if (json_is_object(v) && json_object_size(v) > 0 && indent < 4) {
			printf("%*s%s:\n", indent, "", key);
			cli_print_kv(v, indent + 2);
			continue;
		}
		printf("%*s%s: ", indent, "", key);
		if (json_is_string(v))
			printf("%s", json_string_value(v));
		else if (json_is_number(v) && (strstr(key, "Time") || strstr(key, "time") || strstr(key, "At")) &&
			 rd_json_number(v) > 1e8)
			printf("%s", cli_fmt_time(v, tbuf, sizeof(tbuf)));
		else {
			char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			printf("%s", s ? s : "?");
			free(s);
		}
		putchar('\n');
	}
}

/* A table of an array of objects with the given columns (member names). */
void cli_print_objects(json_t *arr, size_t ncols, const char *const *cols)
{
	struct table *t = table_new(ncols, cols);
	size_t i;
	json_t *o;

	if (!t)
		return;
	json_array_foreach(arr, i, o)
	{
		const char *cells[16];
		char bufs[16][128];
		for (size_t k = 0; k < ncols && k < 16; k++) {
			json_t *v = json_object_get(o, cols[k]);
			if (json_is_string(v))
				cells[k] = json_string_value(v);
			else if (json_is_number(v) && rd_json_number(v) > 1e8)
				cells[k] = cli_fmt_time(v, bufs[k], sizeof(bufs[k]));
			else if (v && !json_is_null(v)) {
				char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
				snprintf(bufs[k], sizeof(bufs[k]), "%s", s ? s : "");
				free(s);
				cells[k] = bufs[k];
			} else
				cells[k] = NULL;
		}
		table_add_row(t, cells);
	}
	table_print(t, stdout);
	table_free(t);
}

/* "k=v,k2" from [{Key,Value}] or tag filters; malloc'd. */
char *cli_tags_string(json_t *tags)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);
	json_t *t;

	if (!f)
		return NULL;
	json_array_foreach(tags, i, t)
	{
		const char *k = rd_json_str_or(t, "Key", "");
		const char *v = rd_json_str_or(t, "Value", "");
		const char *type = rd_json_str_or(t, "Type", "KEY_AND_VALUE");
		if (i)
			fputc(',', f);
		if (strcmp(type, "KEY_ONLY") == 0)
			fprintf(f, "%s", k);
		else if (strcmp(type, "VALUE_ONLY") == 0)
			fprintf(f, "=%s", v);
		else
			fprintf(f, "%s=%s", k, v);
	}
	fclose(f);
	return buf;
}

/* Fetches objects for a list of names through a BatchGet operation. */
int cli_batch_get(struct cli *c, const char *op, json_t *base_req, const char *names_key, json_t *names, size_t chunk,
		  const char *result_key, json_t **ret_array)
{
	json_t *all = json_array();
	int r = 0;

	for (size_t i = 0; i < json_array_size(names); i += chunk) {
		json_t *req = base_req ? json_deep_copy(base_req) : json_object(), *part = json_array(), *resp = NULL;
		for (size_t k = i; k < i + chunk && k < json_array_size(names); k++)
			json_array_append(part, json_array_get(names, k));
		json_object_set_new(req, names_key, part);
		r = cli_call(c, CLI_TARGET_CODEDEPLOY, op, req, &resp);
		json_decref(req);
		if (r < 0)
			goto out;
		json_array_extend(all, json_object_get(resp, result_key));
		json_decref(resp);
	}
	*ret_array = all;
	all = NULL;
out:
	json_decref(all);
	return r;
}

/* Permuting variant: options and positional arguments may be mixed. The
 * positional ones are returned in pos (at most maxpos). */
int cli_parse(int argc, char **argv, const struct option *opts, const char *usage,
	      int (*fn)(int opt, const char *arg, void *ud), void *ud, const char **pos, int maxpos, int *ret_npos)
{
	int opt, npos = 0;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "-hfo:", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage, stdout);
			return 1;
		}
		if (opt == 1) {
			if (npos >= maxpos) {
				cli_usage_error(usage, "unexpected argument '%s'", optarg);
				return -1;
			}
			pos[npos++] = optarg;
			continue;
		}
		if (opt == '?' || opt == ':') {
			if (optopt && optopt != '?')
				cli_usage_error(usage, "option -%c is unknown or needs a value", optopt);
			else
				cli_usage_error(usage, "option '%s' is unknown or needs a value", argv[optind - 1]);
			return -1;
		}
		if (fn(opt, optarg, ud) < 0)
			return -1;
	}
	while (optind < argc) {
		if (npos >= maxpos) {
			cli_usage_error(usage, "unexpected argument '%s'", argv[optind]);
			return -1;
		}
		pos[npos++] = argv[optind++];
	}
	*ret_npos = npos;
	return 0;
}

/* ------------------------------------------------------------ option state */

struct opts {
	struct cli *c;
	const char *usage;
	const char *app, *group, *name, *config, *platform, *description, *policy, *instance, *status;
	const char *service_role, *new_name, *min_healthy, *iam_user_arn, *iam_session_arn, *limit;
	json_t *tags;	   /* [Tag] */
	json_t *filters;   /* [TagFilter] */
	json_t *tag_sets;  /* [[TagFilter]] */
	int auto_rollback; /* -1 unset, 0 off, 1 on */
	bool ok;
	char err[512];
	char tags_err[512]; /* set when --tags holds filters that are not plain key=value tags */
};

enum {
	O_APP = 1000,
	O_GROUP,
	O_NAME,
	O_CONFIG,
	O_PLATFORM,
	O_DESCRIPTION,
	O_POLICY,
	O_INSTANCE,
	O_STATUS,
	O_TAGS,
	O_TAG_FILTERS,
	O_TAG_SET,
	O_AUTO_ROLLBACK,
	O_NO_AUTO_ROLLBACK,
	O_SERVICE_ROLE,
	O_NEW_NAME,
	O_MIN_HEALTHY,
	O_IAM_USER_ARN,
	O_IAM_SESSION_ARN,
	O_LIMIT,
	O_OUTPUT,
};

static const struct option common_opts[] = {
    {"app", required_argument, NULL, O_APP},
    {"application", required_argument, NULL, O_APP},
    {"group", required_argument, NULL, O_GROUP},
    {"name", required_argument, NULL, O_NAME},
    {"config", required_argument, NULL, O_CONFIG},
    {"platform", required_argument, NULL, O_PLATFORM},
    {"description", required_argument, NULL, O_DESCRIPTION},
    {"policy", required_argument, NULL, O_POLICY},
    {"instance", required_argument, NULL, O_INSTANCE},
    {"status", required_argument, NULL, O_STATUS},
    {"tags", required_argument, NULL, O_TAGS},
    {"tag-filters", required_argument, NULL, O_TAG_FILTERS},
    {"tag-set", required_argument, NULL, O_TAG_SET},
    {"auto-rollback", no_argument, NULL, O_AUTO_ROLLBACK},
    {"no-auto-rollback", no_argument, NULL, O_NO_AUTO_ROLLBACK},
    {"service-role", required_argument, NULL, O_SERVICE_ROLE},
    {"new-name", required_argument, NULL, O_NEW_NAME},
    {"min-healthy", required_argument, NULL, O_MIN_HEALTHY},
    {"iam-user-arn", required_argument, NULL, O_IAM_USER_ARN},
    {"iam-session-arn", required_argument, NULL, O_IAM_SESSION_ARN},
    {"limit", required_argument, NULL, O_LIMIT},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

static int on_opt(int opt, const char *arg, void *ud)
{
	struct opts *o = ud;
	int r = 0;

	switch (opt) {
	case O_APP:
		o->app = arg;
		break;
	case O_GROUP:
		o->group = arg;
		break;
	case O_NAME:
		o->name = arg;
		break;
	case O_CONFIG:
		o->config = arg;
		break;
	case O_PLATFORM:
		o->platform = arg;
		break;
	case O_DESCRIPTION:
		o->description = arg;
		break;
	case O_POLICY:
		o->policy = arg;
		break;
	case O_INSTANCE:
		o->instance = arg;
		break;
	case O_STATUS:
		o->status = arg;
		break;
	case O_SERVICE_ROLE:
		o->service_role = arg;
		break;
	case O_NEW_NAME:
		o->new_name = arg;
		break;
	case O_MIN_HEALTHY:
		o->min_healthy = arg;
		break;
	case O_IAM_USER_ARN:
		o->iam_user_arn = arg;
		break;
	case O_IAM_SESSION_ARN:
		o->iam_session_arn = arg;
		break;
	case O_LIMIT:
		o->limit = arg;
		break;
	case O_AUTO_ROLLBACK:
		o->auto_rollback = 1;
		break;
	case O_NO_AUTO_ROLLBACK:
		o->auto_rollback = 0;
		break;
	case O_TAGS:
		/* For groups and lists --tags are tag filters; for resources their own tags
		 * (checked by the commands that use them: "=v" is a filter, not a tag). */
		r = cli_parse_tag_filters(arg, &o->filters, o->err, sizeof(o->err));
		if (r >= 0 && !o->tags_err[0] && cli_parse_tags(arg, &o->tags, o->tags_err, sizeof(o->tags_err)) < 0 &&
		    !o->tags_err[0])
			snprintf(o->tags_err, sizeof(o->tags_err), "bad tags '%s'", arg);
		break;
	case O_TAG_FILTERS:
		r = cli_parse_tag_filters(arg, &o->filters, o->err, sizeof(o->err));
		break;
	case O_TAG_SET: {
		json_t *g = NULL;
		r = cli_parse_tag_filters(arg, &g, o->err, sizeof(o->err));
		if (r >= 0) {
			if (!o->tag_sets)
				o->tag_sets = json_array();
			json_array_append_new(o->tag_sets, g);
		}
		break;
	}
	case 'o':
		if (strcmp(arg, "json") == 0)
			o->c->json = true;
		else if (strcmp(arg, "table") == 0)
			o->c->json = false;
		else {
			snprintf(o->err, sizeof(o->err), "-o takes json or table, not '%s'", arg);
			r = -EINVAL;
		}
		break;
	default:
		snprintf(o->err, sizeof(o->err), "unexpected option");
		r = -EINVAL;
	}
	if (r < 0) {
		cli_usage_error(o->usage, "%s", o->err);
		return -1;
	}
	return 0;
}

static void opts_free(struct opts *o)
{
	json_decref(o->tags);
	json_decref(o->filters);
	json_decref(o->tag_sets);
}

/* Parses argv (after the subcommand) into o and up to maxpos positionals.
 * Returns -1 (exit with *ret_exit) or the number of positionals. */
static int parse_sub(struct cli *c, struct opts *o, const char *usage, int argc, char **argv, const char **pos,
		     int maxpos, int *ret_exit)
{
	int npos = 0, r;

	memset(o, 0, sizeof(*o));
	o->c = c;
	o->usage = usage;
	o->auto_rollback = -1;
	r = cli_parse(argc, argv, common_opts, usage, on_opt, o, pos, maxpos, &npos);
	if (r != 0) {
		*ret_exit = r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
		return -1;
	}
	return npos;
}

#define REQUIRE(cond, ...)                                                                                             \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			ex = cli_usage_error(usage, __VA_ARGS__);                                                      \
			goto out;                                                                                      \
		}                                                                                                      \
	} while (0)

/* -------------------------------------------------------------------- app */

static const char app_usage[] = "Usage: rolloutctl app list\n"
				"       rolloutctl app get NAME\n"
				"       rolloutctl app create NAME [--platform Server|Lambda|ECS] [--tags k=v,…]\n"
				"       rolloutctl app rename NAME NEW_NAME\n"
				"       rolloutctl app delete NAME\n"
				"\nApplications group deployment groups and revisions (CodeDeploy applications).\n";

int cmd_app(struct cli *c, int argc, char **argv)
{
	const char *usage = app_usage, *pos[3] = {0};
	struct opts o;
	json_t *resp = NULL, *names = NULL, *infos = NULL;
	int ex = CLI_EXIT_OK, n, r;
	const char *sub;

	n = parse_sub(c, &o, usage, argc, argv, pos, 3, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which app command? list, get, create, rename or delete");
	sub = pos[0];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		r = cli_list_all(c, "ListApplications", NULL, "applications", &names);
		if (r < 0) {
			ex = cli_report_error(c, "ListApplications", r);
			goto out;
		}
		if (json_array_size(names) > 0) {
			r = cli_batch_get(c, "BatchGetApplications", NULL, "applicationNames", names, 100,
					  "applicationsInfo", &infos);
			if (r < 0) {
				ex = cli_report_error(c, "BatchGetApplications", r);
				goto out;
			}
		} else
			infos = json_array();
		if (c->json) {
			json_t *j = json_pack("{s:O}", "applicationsInfo", infos);
			cli_print_json(j);
			json_decref(j);
		} else {
			static const char *const cols[] = {"applicationName", "computePlatform", "createTime",
							   "applicationId"};
			cli_print_objects(infos, 4, cols);
		}
	} else if (strcmp(sub, "get") == 0) {
		REQUIRE(n == 2, "app get needs the application NAME");
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetApplication",
				     json_pack("{s:s}", "applicationName", pos[1]), &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				cli_print_kv(json_object_get(resp, "application"), 0);
		}
	} else if (strcmp(sub, "create") == 0) {
		REQUIRE(n == 2, "app create needs the application NAME");
		REQUIRE(!o.tags_err[0], "%s", o.tags_err);
		json_t *req = json_pack("{s:s}", "applicationName", pos[1]);
		json_object_set_new(req, "computePlatform", json_string(o.platform ? o.platform : "Server"));
		if (o.tags)
			json_object_set(req, "tags", o.tags);
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "CreateApplication", req, &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				printf("application %s created (id %s)\n", pos[1],
				       rd_json_str_or(resp, "applicationId", "?"));
		}
	} else if (strcmp(sub, "rename") == 0) {
		REQUIRE(n == 3, "app rename needs NAME and NEW_NAME");
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "UpdateApplication",
				     json_pack("{s:s, s:s}", "applicationName", pos[1], "newApplicationName", pos[2]),
				     NULL);
		if (ex == 0 && !c->json)
			printf("application %s renamed to %s\n", pos[1], pos[2]);
	} else if (strcmp(sub, "delete") == 0 || strcmp(sub, "rm") == 0) {
		REQUIRE(n == 2, "app delete needs the application NAME");
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "DeleteApplication",
				     json_pack("{s:s}", "applicationName", pos[1]), NULL);
		if (ex == 0 && !c->json)
			printf("application %s deleted\n", pos[1]);
	} else {
		REQUIRE(false, "unknown app command '%s'", sub);
	}
out:
	json_decref(resp);
	json_decref(names);
	json_decref(infos);
	opts_free(&o);
	return ex;
}

/* ------------------------------------------------------------------ group */

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

static void group_fill(json_t *req, struct opts *o)
{
	if (o->config)
		json_object_set_new(req, "deploymentConfigName", json_string(o->config));
	if (o->filters)
		json_object_set(req, "onPremisesInstanceTagFilters", o->filters);
	if (o->tag_sets)
		json_object_set_new(req, "onPremisesTagSet", json_pack("{s:O}", "onPremisesTagSetList", o->tag_sets));
	if (o->auto_rollback == 1)
		json_object_set_new(req, "autoRollbackConfiguration",
				    json_pack("{s:b, s:[s,s]}", "enabled", 1, "events", "DEPLOYMENT_FAILURE",
					      "DEPLOYMENT_STOP_ON_REQUEST"));
	else if (o->auto_rollback == 0)
		json_object_set_new(req, "autoRollbackConfiguration", json_pack("{s:b, s:[]}", "enabled", 0, "events"));
	if (o->service_role)
		json_object_set_new(req, "serviceRoleArn", json_string(o->service_role));
}

static void group_rows(json_t *infos)
{
	static const char *const cols[] = {"name",	    "config",	    "targets",
					   "auto-rollback", "last success", "last attempt"};
	struct table *t = table_new(6, cols);
	size_t i;
	json_t *g;

	json_array_foreach(infos, i, g)
	{
		json_t *set = json_object_get(json_object_get(g, "onPremisesTagSet"), "onPremisesTagSetList");
		char *filters = NULL, last_ok[128], last_at[128];
		json_t *ls = json_object_get(g, "lastSuccessfulDeployment");
		json_t *la = json_object_get(g, "lastAttemptedDeployment");
		json_t *ar = json_object_get(g, "autoRollbackConfiguration");

		if (json_array_size(json_object_get(g, "onPremisesInstanceTagFilters")) > 0) {
			filters = cli_tags_string(json_object_get(g, "onPremisesInstanceTagFilters"));
		} else if (json_array_size(set) > 0) {
			char *buf = NULL;
			size_t len = 0, k;
			json_t *grp;
			FILE *f = open_memstream(&buf, &len);
			json_array_foreach(set, k, grp)
			{
				char *s = cli_tags_string(grp);
				fprintf(f, "%s(%s)", k ? " AND " : "", s ? s : "");
				free(s);
			}
			fclose(f);
			filters = buf;
		} else if (json_array_size(json_object_get(g, "ec2TagFilters")) > 0) {
			filters = cli_tags_string(json_object_get(g, "ec2TagFilters"));
		}
		snprintf(last_ok, sizeof(last_ok), "%s", rd_json_str_or(ls, "deploymentId", "-"));
		if (rd_json_str_or(la, "deploymentId", NULL))
			snprintf(last_at, sizeof(last_at), "%s %s", rd_json_str_or(la, "deploymentId", ""),
				 rd_json_str_or(la, "status", ""));
		else
			snprintf(last_at, sizeof(last_at), "-");
		table_add_rowv(t, rd_json_str_or(g, "deploymentGroupName", "?"),
			       rd_json_str_or(g, "deploymentConfigName", "-"), filters,
			       json_is_true(json_object_get(ar, "enabled")) ? "on" : "off", last_ok, last_at);
		free(filters);
	}
	table_print(t, stdout);
	table_free(t);
}

int cmd_group(struct cli *c, int argc, char **argv)
{
	const char *usage = group_usage, *pos[2] = {0};
	struct opts o;
	json_t *resp = NULL, *names = NULL, *infos = NULL, *req = NULL;
	int ex = CLI_EXIT_OK, n, r;
	const char *sub;

	n = parse_sub(c, &o, usage, argc, argv, pos, 2, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which group command? list, get, create, update or delete");
	sub = pos[0];
	REQUIRE(o.app, "group %s needs --app APP (the application the group belongs to)", sub);
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		req = json_pack("{s:s}", "applicationName", o.app);
		r = cli_list_all(c, "ListDeploymentGroups", req, "deploymentGroups", &names);
		if (r < 0) {
			ex = cli_report_error(c, "ListDeploymentGroups", r);
			goto out;
		}
		if (json_array_size(names) > 0) {
			r = cli_batch_get(c, "BatchGetDeploymentGroups", req, "deploymentGroupNames", names, 100,
					  "deploymentGroupsInfo", &infos);
			if (r < 0) {
				ex = cli_report_error(c, "BatchGetDeploymentGroups", r);
				goto out;
			}
		} else
			infos = json_array();
		if (c->json) {
			json_t *j = json_pack("{s:O}", "deploymentGroupsInfo", infos);
			cli_print_json(j);
			json_decref(j);
		} else
			group_rows(infos);
		goto out;
	}
	const char *name = n >= 2 ? pos[1] : o.group;
	REQUIRE(name, "group %s needs the group NAME", sub);
	if (strcmp(sub, "get") == 0) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentGroup",
				     json_pack("{s:s, s:s}", "applicationName", o.app, "deploymentGroupName", name),
				     &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				cli_print_kv(json_object_get(resp, "deploymentGroupInfo"), 0);
		}
	} else if (strcmp(sub, "create") == 0) {
		json_t *q = json_pack("{s:s, s:s}", "applicationName", o.app, "deploymentGroupName", name);
		if (!o.service_role)
			json_object_set_new(q, "serviceRoleArn",
					    json_string("arn:aws:iam::000000000000:role/rolloutd"));
		group_fill(q, &o);
		if (o.tags && o.tag_sets) {
			json_decref(q);
			REQUIRE(false, "use either --tags or --tag-set, not both (CodeDeploy refuses the mix)");
		}
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "CreateDeploymentGroup", q, &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				printf("deployment group %s/%s created (id %s)\n", o.app, name,
				       rd_json_str_or(resp, "deploymentGroupId", "?"));
		}
	} else if (strcmp(sub, "update") == 0) {
		json_t *q = json_pack("{s:s, s:s}", "applicationName", o.app, "currentDeploymentGroupName", name);
		if (o.new_name)
			json_object_set_new(q, "newDeploymentGroupName", json_string(o.new_name));
		group_fill(q, &o);
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "UpdateDeploymentGroup", q, &resp);
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
	json_decref(names);
	json_decref(infos);
	opts_free(&o);
	return ex;
}

/* ----------------------------------------------------------------- config */

static const char config_usage[] =
    "Usage: rolloutctl config list\n"
    "       rolloutctl config get NAME\n"
    "       rolloutctl config create NAME --min-healthy HOST_COUNT:N|FLEET_PERCENT:P [--platform Server]\n"
    "       rolloutctl config delete NAME\n"
    "\nDeployment configs say how many instances must stay healthy, and so how many are\n"
    "deployed to at once. --min-healthy also takes N (host count) or P% (fleet percent).\n";

static void config_describe(json_t *info, char *buf, size_t len)
{
	json_t *m = json_object_get(info, "minimumHealthyHosts");
	json_t *tr = json_object_get(info, "trafficRoutingConfig");

	if (m)
		snprintf(buf, len, "min healthy %s %lld", rd_json_str_or(m, "type", "?"),
			 (long long)rd_json_number(json_object_get(m, "value")));
	else if (tr) {
		json_t *cn = json_object_get(tr, "timeBasedCanary"), *ln = json_object_get(tr, "timeBasedLinear");
		if (cn)
			snprintf(buf, len, "canary %lld%% then rest after %lld min",
				 (long long)rd_json_number(json_object_get(cn, "canaryPercentage")),
				 (long long)rd_json_number(json_object_get(cn, "canaryInterval")));
		else if (ln)
			snprintf(buf, len, "linear %lld%% every %lld min",
				 (long long)rd_json_number(json_object_get(ln, "linearPercentage")),
				 (long long)rd_json_number(json_object_get(ln, "linearInterval")));
		else
			snprintf(buf, len, "traffic %s", rd_json_str_or(tr, "type", "?"));
	} else
		snprintf(buf, len, "-");
}

int cmd_config(struct cli *c, int argc, char **argv)
{
	const char *usage = config_usage, *pos[2] = {0};
	struct opts o;
	json_t *resp = NULL, *names = NULL, *infos = json_array();
	int ex = CLI_EXIT_OK, n, r;
	const char *sub;

	n = parse_sub(c, &o, usage, argc, argv, pos, 2, &ex);
	if (n < 0) {
		json_decref(infos);
		return ex;
	}
	REQUIRE(n >= 1, "which config command? list, get, create or delete");
	sub = pos[0];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		size_t i;
		json_t *nm;
		r = cli_list_all(c, "ListDeploymentConfigs", NULL, "deploymentConfigsList", &names);
		if (r < 0) {
			ex = cli_report_error(c, "ListDeploymentConfigs", r);
			goto out;
		}
		json_array_foreach(names, i, nm)
		{
			json_t *one = NULL;
			r = cli_call_new(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentConfig",
					 json_pack("{s:O}", "deploymentConfigName", nm), &one);
			if (r < 0) {
				ex = cli_report_error(c, "GetDeploymentConfig", r);
				goto out;
			}
			json_array_append(infos, json_object_get(one, "deploymentConfigInfo"));
			json_decref(one);
		}
		if (c->json) {
			json_t *j = json_pack("{s:O}", "deploymentConfigsInfo", infos);
			cli_print_json(j);
			json_decref(j);
		} else {
			static const char *const cols[] = {"name", "platform", "rule"};
			struct table *t = table_new(3, cols);
			json_t *info;
			json_array_foreach(infos, i, info)
			{
				char d[128];
				config_describe(info, d, sizeof(d));
				table_add_rowv(t, rd_json_str_or(info, "deploymentConfigName", "?"),
					       rd_json_str_or(info, "computePlatform", "Server"), d);
			}
			table_print(t, stdout);
			table_free(t);
		}
		goto out;
	}
	REQUIRE(n == 2, "config %s needs the config NAME", sub);
	if (strcmp(sub, "get") == 0) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentConfig",
				     json_pack("{s:s}", "deploymentConfigName", pos[1]), &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				cli_print_kv(json_object_get(resp, "deploymentConfigInfo"), 0);
		}
	} else if (strcmp(sub, "create") == 0) {
		json_t *mhh = NULL, *q;
		char err[256];
		REQUIRE(o.min_healthy, "config create needs --min-healthy (e.g. HOST_COUNT:2 or FLEET_PERCENT:50)");
		REQUIRE(cli_parse_min_healthy(o.min_healthy, &mhh, err, sizeof(err)) == 0, "%s", err);
		q = json_pack("{s:s, s:o, s:s}", "deploymentConfigName", pos[1], "minimumHealthyHosts", mhh,
			      "computePlatform", o.platform ? o.platform : "Server");
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "CreateDeploymentConfig", q, &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				printf("deployment config %s created\n", pos[1]);
		}
	} else if (strcmp(sub, "delete") == 0 || strcmp(sub, "rm") == 0) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "DeleteDeploymentConfig",
				     json_pack("{s:s}", "deploymentConfigName", pos[1]), NULL);
		if (ex == 0 && !c->json)
			printf("deployment config %s deleted\n", pos[1]);
	} else {
		REQUIRE(false, "unknown config command '%s'", sub);
	}
out:
	json_decref(resp);
	json_decref(names);
	json_decref(infos);
	opts_free(&o);
	return ex;
}

/* --------------------------------------------------------------- revision */

static const char revision_usage[] =
    "Usage: rolloutctl revision list --app APP\n"
    "       rolloutctl revision get --app APP LOCATION\n"
    "       rolloutctl revision register --app APP LOCATION [--description TEXT]\n"
    "\nLOCATION is s3://BUCKET/KEY[?bundleType=zip&version=V&eTag=E], github:OWNER/REPO@COMMIT,\n"
    "bitbucket:WORKSPACE/REPO@COMMIT or https://HOST/PATH#sha256=HEX[&bundleType=zip|tgz|tar].\n";

int cmd_revision(struct cli *c, int argc, char **argv)
{
	const char *usage = revision_usage, *pos[2] = {0};
	struct opts o;
	json_t *resp = NULL, *revs = NULL, *infos = NULL, *rev = NULL, *req = NULL;
	int ex = CLI_EXIT_OK, n, r;
	char err[512];
	const char *sub;

	n = parse_sub(c, &o, usage, argc, argv, pos, 2, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which revision command? list, get or register");
	sub = pos[0];
	REQUIRE(o.app, "revision %s needs --app APP", sub);
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		size_t i;
		json_t *info;
		req = json_pack("{s:s, s:s, s:s}", "applicationName", o.app, "sortBy", "registerTime", "sortOrder",
				"descending");
		r = cli_list_all(c, "ListApplicationRevisions", req, "revisions", &revs);
		if (r < 0) {
			ex = cli_report_error(c, "ListApplicationRevisions", r);
			goto out;
		}
		json_decref(req);
		req = json_pack("{s:s}", "applicationName", o.app);
		if (json_array_size(revs) > 0) {
			r = cli_batch_get(c, "BatchGetApplicationRevisions", req, "revisions", revs, 25, "revisions",
					  &infos);
			if (r < 0) {
				ex = cli_report_error(c, "BatchGetApplicationRevisions", r);
				goto out;
			}
		} else
			infos = json_array();
		if (c->json) {
			json_t *j = json_pack("{s:O}", "revisions", infos);
			cli_print_json(j);
			json_decref(j);
			goto out;
		}
		static const char *const cols[] = {"revision", "registered", "last used", "groups", "description"};
		struct table *t = table_new(5, cols);
		json_array_foreach(infos, i, info)
		{
			json_t *gi = json_object_get(info, "genericRevisionInfo");
			char *d = cli_revision_describe(json_object_get(info, "revisionLocation")), t1[64], t2[64];
			char *groups = NULL;
			size_t k, len = 0;
			json_t *g;
			FILE *f = open_memstream(&groups, &len);
			json_array_foreach(json_object_get(gi, "deploymentGroups"), k, g)
			    fprintf(f, "%s%s", k ? "," : "", json_string_value(g));
			fclose(f);
			table_add_rowv(t, d, cli_fmt_time(json_object_get(gi, "registerTime"), t1, sizeof(t1)),
				       cli_fmt_time(json_object_get(gi, "lastUsedTime"), t2, sizeof(t2)), groups,
				       rd_json_str_or(gi, "description", "-"));
			free(d);
			free(groups);
		}
		table_print(t, stdout);
		table_free(t);
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
				cli_print_kv(json_object_get(resp, "revisionInfo"), 0);
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
	json_decref(revs);
	json_decref(infos);
	opts_free(&o);
	return ex;
}

/* ------------------------------------------------------------- deployment */

static const char deployment_usage[] =
    "Usage: rolloutctl deployment list [--app APP --group GROUP] [--status S,…] [--limit N]\n"
    "       rolloutctl deployment get ID\n"
    "       rolloutctl deployment instances ID\n"
    "       rolloutctl deployment create …    (same as 'rolloutctl deploy')\n"
    "       rolloutctl deployment stop ID     (same as 'rolloutctl stop')\n"
    "       rolloutctl deployment wait ID     (same as 'rolloutctl wait')\n"
    "\n  --status   Created,Queued,InProgress,Succeeded,Failed,Stopped,Ready,Baking\n"
    "  --limit    show at most N deployments, newest first (default 20)\n";

static int cmp_create_desc(const void *a, const void *b)
{
	double ta = rd_json_number(json_object_get(*(json_t *const *)a, "createTime"));
	double tb = rd_json_number(json_object_get(*(json_t *const *)b, "createTime"));

	return ta < tb ? 1 : ta > tb ? -1 : 0;
}

/* Lists deployments (newest first) as an array of DeploymentInfo. */
int cli_fetch_deployments(struct cli *c, const char *app, const char *group, const char *statuses, size_t limit,
			  json_t **ret_infos)
{
	json_t *req = json_object(), *ids = NULL, *infos = NULL, *sorted = NULL, **v = NULL;
	size_t n, i;
	int r;

	if (app)
		json_object_set_new(req, "applicationName", json_string(app));
	if (group)
		json_object_set_new(req, "deploymentGroupName", json_string(group));
	if (statuses) {
		json_t *st = json_array();
		char *copy = strdup(statuses), *save = NULL;
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			json_array_append_new(st, json_string(tok));
		free(copy);
		json_object_set_new(req, "includeOnlyStatuses", st);
	}
	r = cli_list_all(c, "ListDeployments", req, "deployments", &ids);
	if (r < 0)
		goto out;
	r = cli_batch_get(c, "BatchGetDeployments", NULL, "deploymentIds", ids, 25, "deploymentsInfo", &infos);
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
	json_decref(ids);
	json_decref(infos);
	json_decref(sorted);
	return r;
}

/* Instance summaries of a deployment (BatchGetDeploymentInstances). */
int cli_fetch_instances(struct cli *c, const char *id, json_t **ret_summaries)
{
	json_t *req = json_pack("{s:s}", "deploymentId", id), *ids = NULL;
	int r;

	r = cli_list_all(c, "ListDeploymentInstances", req, "instancesList", &ids);
	if (r < 0)
		goto out;
	if (json_array_size(ids) == 0) {
		*ret_summaries = json_array();
		goto out;
	}
	r = cli_batch_get(c, "BatchGetDeploymentInstances", req, "instanceIds", ids, 25, "instancesSummary",
			  ret_summaries);
out:
	json_decref(req);
	json_decref(ids);
	return r;
}

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
	if (rd_json_str_or(info, "description", NULL))
		printf("Description:  %s\n", rd_json_str_or(info, "description", ""));
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
		if (rd_json_str_or(rb, "rollbackDeploymentId", NULL))
			printf("Rolled back:  by %s\n", rd_json_str_or(rb, "rollbackDeploymentId", ""));
		if (rd_json_str_or(rb, "rollbackTriggeringDeploymentId", NULL))
			printf("Rollback of:  %s\n", rd_json_str_or(rb, "rollbackTriggeringDeploymentId", ""));
		if (rd_json_str_or(rb, "rollbackMessage", NULL))
			printf("Rollback:     %s\n", rd_json_str_or(rb, "rollbackMessage", ""));
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
	struct opts o;
	json_t *resp = NULL, *infos = NULL, *summaries = NULL;
	int ex = CLI_EXIT_OK, n, r;
	const char *sub;

	if (argc >= 2 &&
	    (strcmp(argv[1], "create") == 0 || strcmp(argv[1], "stop") == 0 || strcmp(argv[1], "wait") == 0)) {
		if (strcmp(argv[1], "create") == 0)
			return cmd_deploy(c, argc - 1, argv + 1);
		if (strcmp(argv[1], "stop") == 0)
			return cmd_stop(c, argc - 1, argv + 1);
		return cmd_wait(c, argc - 1, argv + 1);
	}
	n = parse_sub(c, &o, usage, argc, argv, pos, 2, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which deployment command? list, get, instances, create, stop or wait");
	sub = pos[0];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		size_t limit = 20, i;
		json_t *info;
		REQUIRE(!o.app == !o.group, "give --app and --group together (or neither)");
		if (o.limit)
			limit = (size_t)strtoul(o.limit, NULL, 10);
		r = cli_fetch_deployments(c, o.app, o.group, o.status, limit, &infos);
		if (r < 0) {
			ex = cli_report_error(c, "ListDeployments", r);
			goto out;
		}
		if (c->json) {
			json_t *j = json_pack("{s:O}", "deploymentsInfo", infos);
			cli_print_json(j);
			json_decref(j);
			goto out;
		}
		static const char *const cols[] = {"id", "app/group", "status", "creator", "revision", "created"};
		struct table *t = table_new(6, cols);
		json_array_foreach(infos, i, info)
		{
			char ag[260], tb[64];
			char *rev = cli_revision_describe(json_object_get(info, "revision"));
			snprintf(ag, sizeof(ag), "%s/%s", rd_json_str_or(info, "applicationName", "?"),
				 rd_json_str_or(info, "deploymentGroupName", "?"));
			table_add_rowv(t, rd_json_str_or(info, "deploymentId", "?"), ag,
				       rd_json_str_or(info, "status", "?"), rd_json_str_or(info, "creator", "-"), rev,
				       cli_fmt_time(json_object_get(info, "createTime"), tb, sizeof(tb)));
			free(rev);
		}
		table_print(t, stdout);
		table_free(t);
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
		if (c->json) {
			json_t *j = json_pack("{s:O}", "instancesSummary", summaries);
			cli_print_json(j);
			json_decref(j);
		} else
			print_instances_table(summaries);
	} else {
		REQUIRE(false, "unknown deployment command '%s'", sub);
	}
out:
	json_decref(resp);
	json_decref(infos);
	json_decref(summaries);
	opts_free(&o);
	return ex;
}

/* --------------------------------------------------------------- instance */

static const char instance_usage[] =
    "Usage: rolloutctl instance list [--tags k=v,…] [--status Registered|Deregistered]\n"
    "       rolloutctl instance get NAME\n"
    "       rolloutctl instance register NAME [--tags k=v,…] [--iam-user-arn ARN | --iam-session-arn ARN]\n"
    "       rolloutctl instance deregister NAME\n"
    "       rolloutctl instance tag NAME k=v,…\n"
    "       rolloutctl instance untag NAME k=v,…\n"
    "\nOn-premises instances. To register a host together with its agent key and config,\n"
    "use 'rolloutctl register-instance'.\n";

int cli_fetch_onprem(struct cli *c, json_t *filters, const char *status, json_t **ret_infos)
{
	json_t *req = json_object(), *names = NULL;
	int r;

	if (filters)
		json_object_set(req, "tagFilters", filters);
	if (status)
		json_object_set_new(req, "registrationStatus", json_string(status));
	r = cli_list_all(c, "ListOnPremisesInstances", req, "instanceNames", &names);
	if (r < 0)
		goto out;
	if (json_array_size(names) == 0) {
		*ret_infos = json_array();
		goto out;
	}
	r = cli_batch_get(c, "BatchGetOnPremisesInstances", NULL, "instanceNames", names, 25, "instanceInfos",
			  ret_infos);
out:
	json_decref(req);
	json_decref(names);
	return r;
}

char *cli_default_iam_arn(const char *name)
{
	char *s = NULL;

	if (asprintf(&s, "arn:aws:iam::000000000000:user/rollout/%s", name) < 0)
		return NULL;
	return s;
}

int cmd_instance(struct cli *c, int argc, char **argv)
{
	const char *usage = instance_usage, *pos[3] = {0};
	struct opts o;
	json_t *resp = NULL, *infos = NULL, *tags = NULL;
	int ex = CLI_EXIT_OK, n, r;
	char err[512];
	const char *sub;

	n = parse_sub(c, &o, usage, argc, argv, pos, 3, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which instance command? list, get, register, deregister, tag or untag");
	sub = pos[0];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		size_t i;
		json_t *info;
		r = cli_fetch_onprem(c, o.filters, o.status, &infos);
		if (r < 0) {
			ex = cli_report_error(c, "ListOnPremisesInstances", r);
			goto out;
		}
		if (c->json) {
			json_t *j = json_pack("{s:O}", "instanceInfos", infos);
			cli_print_json(j);
			json_decref(j);
			goto out;
		}
		static const char *const cols[] = {"name", "tags", "registered", "status"};
		struct table *t = table_new(4, cols);
		json_array_foreach(infos, i, info)
		{
			char *ts = cli_tags_string(json_object_get(info, "tags")), tb[64];
			table_add_rowv(t, rd_json_str_or(info, "instanceName", "?"), ts,
				       cli_fmt_time(json_object_get(info, "registerTime"), tb, sizeof(tb)),
				       rd_json_number(json_object_get(info, "deregisterTime")) > 0 ? "Deregistered"
												   : "Registered");
			free(ts);
		}
		table_print(t, stdout);
		table_free(t);
		goto out;
	}
	REQUIRE(n >= 2, "instance %s needs the instance NAME", sub);
	if (strcmp(sub, "get") == 0) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "GetOnPremisesInstance",
				     json_pack("{s:s}", "instanceName", pos[1]), &resp);
		if (ex == 0) {
			if (c->json)
				cli_print_json(resp);
			else
				cli_print_kv(json_object_get(resp, "instanceInfo"), 0);
		}
	} else if (strcmp(sub, "register") == 0) {
		REQUIRE(!o.tags_err[0], "%s", o.tags_err);
		json_t *q = json_pack("{s:s}", "instanceName", pos[1]);
		REQUIRE(!(o.iam_user_arn && o.iam_session_arn), "give --iam-user-arn or --iam-session-arn, not both");
		if (o.iam_session_arn)
			json_object_set_new(q, "iamSessionArn", json_string(o.iam_session_arn));
		else {
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
	json_decref(resp);
	json_decref(infos);
	json_decref(tags);
	opts_free(&o);
	return ex;
}

/* ------------------------------------------------------------- access-key */

static const char access_key_usage[] =
    "Usage: rolloutctl access-key list\n"
    "       rolloutctl access-key create --name NAME --policy admin|deployer|readonly|agent [--instance NAME]\n"
    "       rolloutctl access-key delete ACCESS_KEY_ID\n"
    "\nAccess keys sign requests to rolloutd (SigV4). 'agent' keys are bound to one\n"
    "registered instance (--instance) and may only use the host-command operations.\n"
    "The secret is shown once, at creation.\n";

/* AccessKeyId / SecretAccessKey, at the top level or inside "accessKey". */
const char *cli_key_field(json_t *resp, const char *field)
{
	char lower[64];
	json_t *inner = json_object_get(resp, "accessKey");
	const char *v;

	snprintf(lower, sizeof(lower), "%s", field);
	lower[0] = (char)(lower[0] - 'A' + 'a');
	if ((v = rd_json_str_or(resp, field, NULL)) || (v = rd_json_str_or(resp, lower, NULL)))
		return v;
	if (inner && ((v = rd_json_str_or(inner, field, NULL)) || (v = rd_json_str_or(inner, lower, NULL))))
		return v;
	return NULL;
}

int cmd_access_key(struct cli *c, int argc, char **argv)
{
	const char *usage = access_key_usage, *pos[2] = {0};
	struct opts o;
	json_t *resp = NULL;
	int ex = CLI_EXIT_OK, n;
	const char *sub;

	n = parse_sub(c, &o, usage, argc, argv, pos, 2, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n >= 1, "which access-key command? list, create or delete");
	sub = pos[0];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		json_t *keys;
		ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "ListAccessKeys", json_object(), &resp);
		if (ex != 0)
			goto out;
		if (c->json) {
			cli_print_json(resp);
			goto out;
		}
		keys = json_object_get(resp, "AccessKeys");
		if (!keys) {
			const char *k;
			json_t *v;
			json_object_foreach(resp, k, v) if (json_is_array(v))
			{
				keys = v;
				break;
			}
		}
		{
			static const char *const cols[] = {"AccessKeyId", "Name", "Policy", "InstanceName",
							   "CreateTime"};
			static const char *const lcols[] = {"accessKeyId", "name", "policy", "instanceName",
							    "createTime"};
			json_t *first = json_array_get(keys, 0);
			cli_print_objects(keys ? keys : json_array(), 5,
					  first && json_object_get(first, "accessKeyId") ? lcols : cols);
		}
	} else if (strcmp(sub, "create") == 0) {
		json_t *q;
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
		if (c->json)
			cli_print_json(resp);
		else {
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
	opts_free(&o);
	return ex;
}
