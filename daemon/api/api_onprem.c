/* On-premises instances. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_info.h"
#include "api/api_internal.h"
#include "api/api_ops.h"
#include "api/api_util.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "engine/engine.h"
#include "store/store.h"
#include "tagfilter.h"

#define MAX_TAGS 10
#define MAX_INSTANCES 100

static bool name_valid(const char *n)
{
	size_t len = n ? strlen(n) : 0;

	if (len < 1 || len > 100)
		return false;
	for (; *n; n++)
		if (!isalnum((unsigned char)*n) && !strchr("-_.@+=,", *n))
			return false;
	return true;
}

static int check_name(struct httpd_call *call, const char *n)
{
	if (!name_valid(n)) {
		httpd_call_error(call, "InvalidInstanceNameException",
				 "instance name '%s' must be 1-100 characters of A-Z a-z 0-9 - _ . @ + = ,",
				 n ? n : "");
		return -EINVAL;
	}
	return 0;
}

/* arn:<partition>:<service>::<12 digits>:<kind>/<rest> */
static bool iam_arn_valid(const char *arn, const char *service, const char *kind, int min_slashes)
{
	const char *p;
	int digits = 0, slashes = 0;

	if (!arn || strncmp(arn, "arn:aws", 7))
		return false;
	p = strchr(arn + 4, ':');
	if (!p || strncmp(p + 1, service, strlen(service)) || p[1 + strlen(service)] != ':' ||
	    p[2 + strlen(service)] != ':')
		return false;
	p += 3 + strlen(service);
	while (isdigit((unsigned char)*p)) {
		p++;
		digits++;
	}
	if (digits != 12 || *p != ':' || strncmp(p + 1, kind, strlen(kind)) || p[1 + strlen(kind)] != '/')
		return false;
	p += 1 + strlen(kind);
	for (; *p; p++)
		slashes += *p == '/';
	return slashes >= min_slashes && p[-1] != '/';
}

void api_op_register_on_premises_instance(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *name = api_str(in, "instanceName");
	const char *session = api_str(in, "iamSessionArn"), *user = api_str(in, "iamUserArn");
	char *arn = NULL;
	int r;

	if (check_name(call, name) < 0)
		return;
	if (!session && !user) {
		httpd_call_error(
		    call, "IamArnRequiredException",
		    "give exactly one of iamSessionArn or iamUserArn (the identity the host's agent uses)");
		return;
	}
	if (session && user) {
		httpd_call_error(call, "MultipleIamArnsProvidedException",
				 "give only one of iamSessionArn and iamUserArn, not both");
		return;
	}
	if (user && !iam_arn_valid(user, "iam", "user", 1)) {
		httpd_call_error(call, "InvalidIamUserArnException",
				 "iamUserArn '%s' is not an IAM user ARN (arn:aws:iam::<12-digit account>:user/<name>)",
				 user);
		return;
	}
	if (session && !iam_arn_valid(session, "sts", "assumed-role", 2)) {
		httpd_call_error(call, "InvalidIamSessionArnException",
				 "iamSessionArn '%s' is not an STS session ARN "
				 "(arn:aws:sts::<12-digit account>:assumed-role/<role>/<session>)",
				 session);
		return;
	}
	if (asprintf(&arn, "arn:aws:codedeploy:%s:%s:instance/%s",
		     d->cfg && d->cfg->region ? d->cfg->region : "us-east-1",
		     d->cfg && d->cfg->account_id ? d->cfg->account_id : "000000000000", name) < 0) {
		httpd_call_error_status(call, 500, "InternalFailure", "out of memory");
		return;
	}
	r = store_instance_register(d->store, name, session, user, arn);
	free(arn);
	if (r == -EEXIST)
		httpd_call_error(call, "InstanceNameAlreadyRegisteredException",
				 "An on-premises instance named %s is already registered; deregister it first", name);
	else if (r == -EADDRINUSE && user)
		httpd_call_error(call, "IamUserArnAlreadyRegisteredException",
				 "iamUserArn %s is already used by another registered instance", user);
	else if (r == -EADDRINUSE)
		httpd_call_error(call, "IamSessionArnAlreadyRegisteredException",
				 "iamSessionArn %s is already used by another registered instance", session);
	else if (r < 0)
		api_store_error(call, r);
	else {
		engine_notify_instances_changed(d);
		httpd_call_reply(call, NULL);
	}
}

void api_op_deregister_on_premises_instance(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *name = api_str(in, "instanceName");
	int r;

	if (check_name(call, name) < 0)
		return;
	r = store_instance_deregister(d->store, name);
	if (r == -ENOENT)
		httpd_call_error(call, "InstanceNotRegisteredException", "No registered on-premises instance named %s",
				 name);
	else if (r < 0)
		api_store_error(call, r);
	else {
		engine_notify_instances_changed(d);
		httpd_call_reply(call, NULL);
	}
}

void api_op_get_on_premises_instance(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *name = api_str(in, "instanceName");
	json_t *info = NULL;
	int r;

	if (check_name(call, name) < 0)
		return;
	r = api_instance_get(d, name, &info);
	if (r == -ENOENT)
		httpd_call_error(call, "InstanceNotRegisteredException", "No on-premises instance named %s", name);
	else if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call, json_pack("{s:o}", "instanceInfo", info));
}

void api_op_batch_get_on_premises_instances(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	json_t *names = json_object_get(in, "instanceNames"), *n, *out;
	size_t i;

	if (json_array_size(names) > 25) {
		httpd_call_error(call, "BatchLimitExceededException", "at most 25 instanceNames per call, got %zu",
				 json_array_size(names));
		return;
	}
	json_array_foreach(names, i, n) if (check_name(call, json_string_value(n)) < 0) return;
	out = json_array();
	json_array_foreach(names, i, n)
	{
		json_t *info = NULL;
		int r = api_instance_get(d, json_string_value(n), &info);
		if (r == 0)
			json_array_append_new(out, info);
		else if (r != -ENOENT) {
			json_decref(out);
			api_store_error(call, r);
			return;
		}
	}
	httpd_call_reply(call, json_pack("{s:o}", "instanceInfos", out));
}

void api_op_list_on_premises_instances(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	char *cursor = NULL, err[256];
	json_t *names = NULL, *out, *filters = json_object_get(in, "tagFilters");
	struct tagfilter_set *set = NULL;
	bool more = false;
	int r;

	/* the one tag-filter rule (lib/tagfilter.h): {Key} alone is KEY_ONLY,
	 * {Value} alone VALUE_ONLY; a filter that can select nothing is refused */
	if (json_array_size(filters) && tagfilter_parse(filters, "tagFilters", &set, err, sizeof(err)) < 0) {
		httpd_call_error(call, "InvalidTagFilterException", "%s", err);
		return;
	}
	for (size_t i = 0; set && i < set->n; i++)
		for (size_t j = 0; j < set->groups[i].n; j++) {
			const char *problem = tagfilter_problem(&set->groups[i].filters[j]);
			if (problem) {
				httpd_call_error(call, "InvalidTagFilterException", "tagFilters[%zu] %s", j, problem);
				tagfilter_set_free(set);
				return;
			}
		}
	if (api_page_cursor(call, in, "nextToken", &cursor) < 0) {
		tagfilter_set_free(set);
		return;
	}
	/* no tagFilters (or an empty list) lists every instance */
	r = store_instance_list(d->store, api_str(in, "registrationStatus"), set, cursor, API_PAGE_SIZE, &names, &more);
	tagfilter_set_free(set);
	free(cursor);
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	out = json_pack("{s:O}", "instanceNames", names);
	if (more)
		api_page_next(call, out, "nextToken",
			      json_string_value(json_array_get(names, json_array_size(names) - 1)));
	json_decref(names);
	httpd_call_reply(call, out);
}

static void tags_change(struct rd_daemon *d, struct httpd_call *call, json_t *in, bool add)
{
	json_t *names = json_object_get(in, "instanceNames"), *tags = json_object_get(in, "tags"), *t, *n;
	const char *missing = NULL;
	size_t i;
	int r;

	if (json_array_size(names) == 0) {
		httpd_call_error(call, "InstanceNameRequiredException",
				 "instanceNames must name at least one instance");
		return;
	}
	if (json_array_size(names) > MAX_INSTANCES) {
		httpd_call_error(call, "InstanceLimitExceededException", "at most %d instanceNames per call",
				 MAX_INSTANCES);
		return;
	}
	if (json_array_size(tags) == 0) {
		httpd_call_error(call, "TagRequiredException", "tags must hold at least one tag");
		return;
	}
	if (json_array_size(tags) > MAX_TAGS) {
		httpd_call_error(call, "TagLimitExceededException", "at most %d tags per call, got %zu", MAX_TAGS,
				 json_array_size(tags));
		return;
	}
	json_array_foreach(names, i, n) if (check_name(call, json_string_value(n)) < 0) return;
	json_array_foreach(tags, i, t)
	{
		const char *k = api_str(t, "Key");
		if (!k || !*k || strlen(k) > 128) {
			httpd_call_error(call, "InvalidTagException", "tags[%zu] needs a Key of 1-128 characters", i);
			return;
		}
	}
	struct store_tags st = {0};
	r = api_tags_parse(tags, &st);
	if (r == 0)
		r = add ? store_instance_tags_add(d->store, names, st.v, st.n, &missing)
			: store_instance_tags_remove(d->store, names, st.v, st.n, &missing);
	store_tags_clear(&st);
	if (r == -ENOENT)
		httpd_call_error(call, "InstanceNotRegisteredException", "No registered on-premises instance named %s",
				 missing ? missing : "?");
	else if (r < 0)
		api_store_error(call, r);
	else {
		engine_notify_instances_changed(d);
		httpd_call_reply(call, NULL);
	}
}

void api_op_add_tags_to_on_premises_instances(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	tags_change(d, call, in, true);
}

void api_op_remove_tags_from_on_premises_instances(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	tags_change(d, call, in, false);
}

int api_onprem_instances(void *userdata, char **ret_json, char *err, size_t errlen)
{
	struct rd_daemon *d = userdata;
	struct store_instances ins = {0};
	json_t *arr = json_array();
	int r = arr ? store_instance_all(d->store, &ins) : -ENOMEM;

	for (size_t i = 0; r == 0 && i < ins.n; i++) {
		json_t *o = api_instance_info(&ins.v[i]);
		if (!o || json_object_set_new(o, "registrationStatus", json_string(ins.v[i].status)) < 0 ||
		    json_array_append_new(arr, o) < 0)
			r = -ENOMEM;
	}
	if (r == 0 && !(*ret_json = json_dumps(arr, JSON_COMPACT)))
		r = -ENOMEM;
	if (r < 0)
		snprintf(err, errlen, "cannot read on-premises instances from the store: %s", strerror(-r));
	store_instances_clear(&ins);
	json_decref(arr);
	return r;
}
