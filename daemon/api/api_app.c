/* Applications, resource tags, GitHub tokens. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_info.h"
#include "api/api_internal.h"
#include "api/api_ops.h"
#include "api/api_util.h"
#include "core/daemon.h"
#include "store/store.h"

#define MAX_TAGS 50

static int check_tags(struct httpd_call *call, json_t *tags, const char *exc)
{
	size_t i;
	json_t *t;

	if (json_array_size(tags) > MAX_TAGS) {
		httpd_call_error(call, exc, "at most %d tags are allowed, got %zu", MAX_TAGS, json_array_size(tags));
		return -EINVAL;
	}
	json_array_foreach(tags, i, t)
	{
		const char *k = api_str(t, "Key");
		if (!k || !*k || strlen(k) > 128 || strlen(api_str(t, "Value") ? api_str(t, "Value") : "") > 256) {
			httpd_call_error(
			    call, exc, "tag %zu needs a Key of 1-128 characters and a Value of at most 256 characters",
			    i);
			return -EINVAL;
		}
	}
	return 0;
}

void api_op_create_application(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *name = api_str(in, "applicationName");
	const char *platform = api_str(in, "computePlatform");
	json_t *tags = json_object_get(in, "tags");
	char id[37], *arn;
	int r;

	if (tags && check_tags(call, tags, "InvalidTagsToAddException") < 0)
		return;
	r = store_app_create(d->store, name, platform ? platform : "Server", id);
	if (r == -EEXIST) {
		httpd_call_error(call, "ApplicationAlreadyExistsException",
				 "An application with the name %s already exists; pick another name", name);
		return;
	}
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	if (tags && (arn = api_arn_application(d, name))) {
		api_tags_store(d, arn, tags);
		free(arn);
	}
	httpd_call_reply(call, json_pack("{s:s}", "applicationId", id));
}

void api_op_get_application(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	json_t *info;

	if (api_need_app(d, call, api_str(in, "applicationName"), &info) < 0)
		return;
	httpd_call_reply(call, json_pack("{s:o}", "application", info));
}

void api_op_batch_get_applications(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	json_t *names = json_object_get(in, "applicationNames"), *out, *n;
	size_t i;

	if (json_array_size(names) > 100) {
		httpd_call_error(call, "BatchLimitExceededException",
				 "at most 100 applicationNames per call, got %zu; split the request",
				 json_array_size(names));
		return;
	}
	out = json_array();
	json_array_foreach(names, i, n)
	{
		json_t *info = NULL;
		int r = api_app_get(d, json_string_value(n), &info);
		if (r == -ENOENT) {
			json_decref(out);
			httpd_call_error(call, "ApplicationDoesNotExistException", "No application found for name: %s",
					 json_string_value(n));
			return;
		}
		if (r < 0) {
			json_decref(out);
			api_store_error(call, r);
			return;
		}
		json_array_append_new(out, info);
	}
	httpd_call_reply(call, json_pack("{s:o}", "applicationsInfo", out));
}

void api_op_list_applications(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	char *cursor = NULL;
	json_t *names = NULL, *out;
	bool more = false;
	int r;

	if (api_page_cursor(call, in, "nextToken", &cursor) < 0)
		return;
	r = store_app_list(d->store, cursor, API_PAGE_SIZE, &names, &more);
	free(cursor);
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	out = json_pack("{s:O}", "applications", names);
	if (more)
		api_page_next(call, out, "nextToken",
			      json_string_value(json_array_get(names, json_array_size(names) - 1)));
	json_decref(names);
	httpd_call_reply(call, out);
}

void api_op_update_application(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *name = api_str(in, "applicationName"), *new_name = api_str(in, "newApplicationName");
	char *oa = NULL, *na = NULL, *og = NULL, *ng = NULL;
	int r;

	if (!name) {
		httpd_call_error(call, "ApplicationNameRequiredException", "applicationName is required");
		return;
	}
	if (api_need_app(d, call, name, NULL) < 0)
		return;
	if (!new_name || !strcmp(new_name, name)) {
		httpd_call_reply(call, NULL);
		return;
	}
	oa = api_arn_application(d, name);
	na = api_arn_application(d, new_name);
	og = api_arn_group(d, name, "");
	ng = api_arn_group(d, new_name, "");
	r = oa && na && og && ng ? store_app_rename(d->store, name, new_name, oa, na, og, ng) : -ENOMEM;
	if (r == -EEXIST)
		httpd_call_error(call, "ApplicationAlreadyExistsException",
				 "An application with the name %s already exists; pick another name", new_name);
	else if (r == -ENOENT)
		httpd_call_error(call, "ApplicationDoesNotExistException", "No application found for name: %s", name);
	else if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call, NULL);
	free(oa);
	free(na);
	free(og);
	free(ng);
}

void api_op_delete_application(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *name = api_str(in, "applicationName");
	char *arn = api_arn_application(d, name), *gp = api_arn_group(d, name, "");
	int r = arn && gp ? store_app_delete(d->store, name, arn, gp) : -ENOMEM;

	free(arn);
	free(gp);
	/* AWS answers success for an application that does not exist */
	if (r < 0 && r != -ENOENT)
		api_store_error(call, r);
	else
		httpd_call_reply(call, NULL);
}

/* ---- TagResource / UntagResource / ListTagsForResource ---- */

/* Parses an application or deployment-group ARN of this daemon and checks
 * the resource exists. 0, or -EINVAL/-ENOENT after completing call. */
static int resolve_arn(struct rd_daemon *d, struct httpd_call *call, const char *arn)
{
	char *app_prefix = api_arn_application(d, ""), *grp_prefix = api_arn_group(d, "", NULL);
	int r = -EINVAL;

	/* api_arn_group(d, "", NULL) is ".../deploymentgroup:" */
	if (app_prefix && !strncmp(arn, app_prefix, strlen(app_prefix)) && arn[strlen(app_prefix)]) {
		const char *app = arn + strlen(app_prefix);
		struct store_app *a = NULL;
		r = store_app_get(d->store, app, &a);
		store_app_free(a);
		if (r == -ENOENT)
			httpd_call_error(call, "ApplicationDoesNotExistException", "No application found for name: %s",
					 app);
	} else if (grp_prefix && !strncmp(arn, grp_prefix, strlen(grp_prefix))) {
		const char *rest = arn + strlen(grp_prefix), *slash = strchr(rest, '/');
		if (slash && slash != rest && slash[1]) {
			char *app = strndup(rest, (size_t)(slash - rest));
			r = app ? store_group_exists(d->store, app, slash + 1) : -ENOMEM;
			if (r == -ENOENT)
				httpd_call_error(call, "DeploymentGroupDoesNotExistException",
						 "No deployment group %s in application %s", slash + 1, app);
			free(app);
		} else {
			goto bad;
		}
	} else {
		goto bad;
	}
	if (r < 0 && r != -ENOENT)
		api_store_error(call, r);
	goto out;
bad:
	httpd_call_error(call, "InvalidArnException",
			 "%s is not the ARN of an application or deployment group of this server; expected %s<name> or "
			 "%s<app>/<group>",
			 arn, app_prefix ? app_prefix : "", grp_prefix ? grp_prefix : "");
	r = -EINVAL;
out:
	free(app_prefix);
	free(grp_prefix);
	return r;
}

void api_op_tag_resource(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *arn = api_str(in, "ResourceArn");
	json_t *tags = json_object_get(in, "Tags");
	int r;

	if (resolve_arn(d, call, arn) < 0)
		return;
	if (check_tags(call, tags, "InvalidTagsToAddException") < 0)
		return;
	r = api_tags_store(d, arn, tags);
	if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call, NULL);
}

void api_op_untag_resource(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *arn = api_str(in, "ResourceArn");
	int r;

	if (resolve_arn(d, call, arn) < 0)
		return;
	r = store_tags_remove(d->store, arn, json_object_get(in, "TagKeys"));
	if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call, NULL);
}

void api_op_list_tags_for_resource(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *arn = api_str(in, "ResourceArn");
	struct store_tags tags = {0};
	char *cursor = NULL;
	int r;

	if (api_page_cursor(call, in, "NextToken", &cursor) < 0)
		return;
	free(cursor); /* one page holds every tag (at most 50) */
	if (resolve_arn(d, call, arn) < 0)
		return;
	r = store_tags_list(d->store, arn, &tags);
	if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call, json_pack("{s:o}", "Tags", api_tags_json(&tags)));
	store_tags_clear(&tags);
}

/* ---- GitHub tokens: rolloutd keeps GitHub credentials in the github plugin's config ---- */

void api_op_list_github_account_token_names(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	char *cursor = NULL;

	if (api_page_cursor(call, in, "nextToken", &cursor) < 0)
		return;
	free(cursor);
	httpd_call_reply(call, json_pack("{s:[]}", "tokenNameList"));
}

void api_op_delete_github_account_token(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *name = api_str(in, "tokenName");

	if (!name) {
		httpd_call_error(call, "GitHubAccountTokenNameRequiredException", "tokenName is required");
		return;
	}
	httpd_call_error(call, "GitHubAccountTokenDoesNotExistException",
			 "No GitHub account token %s: rolloutd reads GitHub credentials from the github plugin's "
			 "configuration",
			 name);
}
