#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "options.h"

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
	O_TAGS,	       /* tag filters, and tags when they are plain key=value */
	O_TAGS_STRICT, /* tags only */
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
	O_AGENT_CONFIG,
	O_ROOT_DIR,
	O_LOG_DIR,
	O_DAEMON_CERT,
	O_BUNDLE_TYPE,
	O_FILE_EXISTS,
	O_WAIT,
	O_LOCAL,
	O_IGNORE_STOP,
	O_TIMEOUT,
	O_INTERVAL,
	O_NO_FOLLOW_ROLLBACK,
	O_KEY_NAME,
	O_SHA256,
	O_APPLICATIONS,
	O_ALL_APPLICATIONS,
	O_RETIRE_AFTER,
	O_KEY,
	O_SINCE,
	O_UNTIL,
};

const struct option cli_resource_options[] = {
    {"app", required_argument, NULL, O_APP},
    {"application", required_argument, NULL, O_APP},
    {"group", required_argument, NULL, O_GROUP},
    {"name", required_argument, NULL, O_NAME},
    {"config", required_argument, NULL, O_CONFIG},
    {"platform", required_argument, NULL, O_PLATFORM},
    {"description", required_argument, NULL, O_DESCRIPTION},
    {"policy", required_argument, NULL, O_POLICY},
    {"instance", required_argument, NULL, O_INSTANCE},
    {"scope", required_argument, NULL, O_INSTANCE}, /* an enroll key's fleet */
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
    {"applications", required_argument, NULL, O_APPLICATIONS},
    {"all-applications", no_argument, NULL, O_ALL_APPLICATIONS},
    {"retire-after", required_argument, NULL, O_RETIRE_AFTER},
    {"key", required_argument, NULL, O_KEY},
    {"since", required_argument, NULL, O_SINCE},
    {"until", required_argument, NULL, O_UNTIL},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

const struct option cli_workflow_options[] = {
    {"app", required_argument, NULL, O_APP},
    {"application", required_argument, NULL, O_APP},
    {"group", required_argument, NULL, O_GROUP},
    {"config", required_argument, NULL, O_CONFIG},
    {"description", required_argument, NULL, O_DESCRIPTION},
    {"instance", required_argument, NULL, O_INSTANCE},
    {"scope", required_argument, NULL, O_INSTANCE},
    {"agent-config", required_argument, NULL, O_AGENT_CONFIG},
    {"root-dir", required_argument, NULL, O_ROOT_DIR},
    {"log-dir", required_argument, NULL, O_LOG_DIR},
    {"daemon-cert", required_argument, NULL, O_DAEMON_CERT},
    {"bundle-type", required_argument, NULL, O_BUNDLE_TYPE},
    {"file-exists", required_argument, NULL, O_FILE_EXISTS},
    {"tags", required_argument, NULL, O_TAGS_STRICT},
    {"wait", no_argument, NULL, O_WAIT},
    {"local", no_argument, NULL, O_LOCAL},
    {"ignore-stop-failures", no_argument, NULL, O_IGNORE_STOP},
    {"auto-rollback", no_argument, NULL, O_AUTO_ROLLBACK},
    {"rollback", no_argument, NULL, O_AUTO_ROLLBACK},
    {"no-auto-rollback", no_argument, NULL, O_NO_AUTO_ROLLBACK},
    {"no-rollback", no_argument, NULL, O_NO_AUTO_ROLLBACK},
    {"no-follow-rollback", no_argument, NULL, O_NO_FOLLOW_ROLLBACK},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"interval", required_argument, NULL, O_INTERVAL},
    {"iam-user-arn", required_argument, NULL, O_IAM_USER_ARN},
    {"key-name", required_argument, NULL, O_KEY_NAME},
    {"sha256", required_argument, NULL, O_SHA256},
    {"follow", no_argument, NULL, 'f'},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

/* Options that only store their argument. */
static const char **string_slot(struct cli_opts *o, int opt)
{
	switch (opt) {
	case O_APP:
		return &o->app;
	case O_GROUP:
		return &o->group;
	case O_NAME:
		return &o->name;
	case O_CONFIG:
		return &o->config;
	case O_PLATFORM:
		return &o->platform;
	case O_DESCRIPTION:
		return &o->description;
	case O_POLICY:
		return &o->policy;
	case O_INSTANCE:
		return &o->instance;
	case O_STATUS:
		return &o->status;
	case O_SERVICE_ROLE:
		return &o->service_role;
	case O_NEW_NAME:
		return &o->new_name;
	case O_MIN_HEALTHY:
		return &o->min_healthy;
	case O_IAM_USER_ARN:
		return &o->iam_user_arn;
	case O_IAM_SESSION_ARN:
		return &o->iam_session_arn;
	case O_LIMIT:
		return &o->limit;
	case O_AGENT_CONFIG:
		return &o->agent_config;
	case O_ROOT_DIR:
		return &o->root_dir;
	case O_LOG_DIR:
		return &o->log_dir;
	case O_DAEMON_CERT:
		return &o->daemon_cert;
	case O_KEY_NAME:
		return &o->access_key_name;
	case O_SHA256:
		return &o->sha256;
	case O_APPLICATIONS:
		return &o->applications;
	case O_RETIRE_AFTER:
		return &o->retire_after;
	case O_KEY:
		return &o->key;
	case O_SINCE:
		return &o->since;
	case O_UNTIL:
		return &o->until;
	default:
		return NULL;
	}
}

static int on_opt(int opt, const char *arg, void *ud)
{
	struct cli_opts *o = ud;
	const char **slot = string_slot(o, opt);
	int r = 0, secs;

	if (slot) {
		*slot = arg;
		return 0;
	}
	switch (opt) {
	case O_ALL_APPLICATIONS:
		o->all_applications = true;
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
	case O_TAGS_STRICT:
		r = cli_parse_tags(arg, &o->tags, o->err, sizeof(o->err));
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
	case O_BUNDLE_TYPE:
		if (strcmp(arg, "zip") && strcmp(arg, "tgz") && strcmp(arg, "tar")) {
			snprintf(o->err, sizeof(o->err), "--bundle-type takes zip, tgz or tar, not '%s'", arg);
			r = -EINVAL;
		}
		o->bundle_type = arg;
		break;
	case O_FILE_EXISTS:
		if (strcmp(arg, "DISALLOW") && strcmp(arg, "OVERWRITE") && strcmp(arg, "RETAIN")) {
			snprintf(o->err, sizeof(o->err), "--file-exists takes DISALLOW, OVERWRITE or RETAIN, not '%s'",
				 arg);
			r = -EINVAL;
		}
		o->file_exists = arg;
		break;
	case O_WAIT:
		o->wait = true;
		break;
	case 'f':
		o->follow = true;
		break;
	case O_LOCAL:
		o->local = true;
		break;
	case O_IGNORE_STOP:
		o->ignore_stop_failures = true;
		break;
	case O_NO_FOLLOW_ROLLBACK:
		o->no_follow_rollback = true;
		break;
	case O_TIMEOUT:
		if (cli_parse_duration(arg, &secs) < 0) {
			snprintf(o->err, sizeof(o->err),
				 "--timeout takes a duration such as 90s, 10m or 1h (at most a week), not '%s'", arg);
			r = -EINVAL;
		} else
			o->timeout_s = secs;
		break;
	case O_INTERVAL: {
		char *end;
		double v = strtod(arg, &end);
		if (end == arg || *end || v < 0.05 || v > 60) {
			snprintf(o->err, sizeof(o->err), "--interval takes seconds between 0.05 and 60, not '%s'", arg);
			r = -EINVAL;
		}
		o->interval_ms = (int)(v * 1000);
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

int cli_opts_parse(struct cli *c, struct cli_opts *o, const struct option *table, const char *usage, int argc,
		   char **argv, const char **pos, int maxpos, int *ret_exit)
{
	int npos = 0, r;

	memset(o, 0, sizeof(*o));
	o->c = c;
	o->usage = usage;
	o->auto_rollback = -1;
	o->interval_ms = 500;
	r = cli_parse(argc, argv, table, usage, on_opt, o, pos, maxpos, &npos);
	if (r != 0) {
		*ret_exit = r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
		cli_opts_free(o);
		return -1;
	}
	return npos;
}

void cli_opts_free(struct cli_opts *o)
{
	json_decref(o->tags);
	json_decref(o->filters);
	json_decref(o->tag_sets);
	o->tags = o->filters = o->tag_sets = NULL;
}

json_t *cli_opts_auto_rollback(const struct cli_opts *o)
{
	if (o->auto_rollback == 1)
		return json_pack("{s:b, s:[s,s]}", "enabled", 1, "events", "DEPLOYMENT_FAILURE",
				 "DEPLOYMENT_STOP_ON_REQUEST");
	if (o->auto_rollback == 0)
		return json_pack("{s:b, s:[]}", "enabled", 0, "events");
	return NULL;
}
