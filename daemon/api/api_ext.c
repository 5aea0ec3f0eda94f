/* rolloutd's own extensions (X-Amz-Target Rolloutd_v1.<Op>), documented in
 * docs/api-extensions.md. Access-key operations need an admin key; the
 * reading ones (GetDeploymentLogs, PlanDeployment) a readonly key or above
 * (the policy table in daemon/auth/auth_policy.c). */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_info.h"
#include "api/api_internal.h"
#include "api/api_model.h"
#include "api/api_ops.h"
#include "api/api_util.h"
#include "core/daemon.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util.h"

/* {Name, Policy, InstanceName?, Applications?} -> {AccessKeyId, SecretAccessKey, Name, Policy,
 * InstanceName?, Applications?} */
static void op_create_access_key(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *name = NULL, *policy = NULL, *instance = NULL;
	struct store_access_key k;
	char err[256];
	static const struct api_field fields[] = {
	    {"Name", API_STR, true, 1, 128},
	    {"Policy", API_STR, true, 1, 16},
	    {"InstanceName", API_STR, false, 1, 128},
	    {"Applications", API_LIST, false, 1, 32},
	};
	if (api_check_fields(call, in, fields, RD_ARRAY_SIZE(fields)) < 0)
		return;
	name = json_string_value(json_object_get(in, "Name"));
	policy = json_string_value(json_object_get(in, "Policy"));
	instance = json_string_value(json_object_get(in, "InstanceName"));
	int r = store_access_key_create_scoped(d->store, name, policy, instance, json_object_get(in, "Applications"),
					       &k, err, sizeof(err));
	if (r == -EINVAL) {
		httpd_call_error(call, "InvalidInputException", "%s", err);
		return;
	}
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "AccessKeyId", k.id, "SecretAccessKey", k.secret, "Name", k.name,
			      "Policy", k.policy);
	if (o && k.instance[0])
		json_object_set_new(o, "InstanceName", json_string(k.instance));
	if (o && k.applications[0])
		json_object_set_new(o, "Applications", json_loads(k.applications, 0, NULL));
	explicit_bzero(&k, sizeof(k));
	httpd_call_reply(call, o);
}

static bool key_not_found(struct httpd_call *call, int r, const char *id)
{
	if (r != -ENOENT)
		return false;
	httpd_call_error(call, "ResourceNotFoundException", "no access key %s (see ListAccessKeys)", id);
	return true;
}

/* {AccessKeyId, Status?: Active|Inactive, Applications?: [..] | null} -> {} */
static void op_update_access_key(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	static const struct api_field fields[] = {
	    {"AccessKeyId", API_STR, true, 1, 128},
	    {"Status", API_STR, false, 1, 16},
	    {"Applications", API_LIST, false, 1, 32},
	};
	const char *id, *status;
	json_t *apps;
	char err[256] = "";
	int r = 0;

	if (api_check_fields(call, in, fields, RD_ARRAY_SIZE(fields)) < 0)
		return;
	id = api_str(in, "AccessKeyId");
	status = api_str(in, "Status");
	apps = json_object_get(in, "Applications");
	if (!status && !apps) {
		httpd_call_error(call, "InvalidInputException",
				 "UpdateAccessKey changes Status (Active or Inactive) or Applications; give one");
		return;
	}
	if (status && strcmp(status, "Active") != 0 && strcmp(status, "Inactive") != 0) {
		httpd_call_error(call, "InvalidInputException", "Status must be Active or Inactive, not %s", status);
		return;
	}
	if (status && !strcmp(status, "Inactive") && !strcmp(id, httpd_call_principal(call)->access_key_id)) {
		httpd_call_error(call, "InvalidInputException",
				 "refusing to disable the access key %s that signed this request; sign with another "
				 "admin key",
				 id);
		return;
	}
	if (apps)
		r = store_access_key_set_applications(d->store, id, json_is_null(apps) ? NULL : apps, err, sizeof(err));
	if (r == 0 && status)
		r = store_access_key_set_status(d->store, id, status);
	if (key_not_found(call, r, id))
		return;
	if (r == -EINVAL) {
		httpd_call_error(call, "InvalidInputException", "%s", err);
		return;
	}
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	httpd_call_reply(call, NULL);
}

/* {AccessKeyId, RetireAfterSeconds?} -> {AccessKeyId, SecretAccessKey, PreviousSecretExpires?}: a new
 * secret; the previous one stays accepted until RetireAccessKeySecret or
 * RetireAfterSeconds. */
static void op_rotate_access_key(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	static const struct api_field fields[] = {
	    {"AccessKeyId", API_STR, true, 1, 128},
	    {"RetireAfterSeconds", API_INT, false, 1, 3650LL * 24 * 3600},
	};
	struct store_access_key k;
	const char *id;
	json_t *o;
	int r;

	if (api_check_fields(call, in, fields, RD_ARRAY_SIZE(fields)) < 0)
		return;
	id = api_str(in, "AccessKeyId");
	r = store_access_key_rotate(d->store, id, json_integer_value(json_object_get(in, "RetireAfterSeconds")) * 1000,
				    &k);
	if (key_not_found(call, r, id))
		return;
	if (r == -EBUSY) {
		httpd_call_error(call, "InvalidInputException",
				 "access key %s is being rotated: its previous secret is still accepted; retire it "
				 "first (RetireAccessKeySecret)",
				 id);
		return;
	}
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	o = json_pack("{s:s, s:s}", "AccessKeyId", k.id, "SecretAccessKey", k.secret);
	if (o && k.old_secret_expires)
		json_object_set_new(o, "PreviousSecretExpires", api_time(k.old_secret_expires));
	explicit_bzero(&k, sizeof(k));
	httpd_call_reply(call, o);
}

/* {AccessKeyId} -> {}: the previous secret of a rotation is no longer accepted. */
static void op_retire_access_key_secret(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	static const struct api_field fields[] = {
	    {"AccessKeyId", API_STR, true, 1, 128},
	};
	const char *id;
	int r;

	if (api_check_fields(call, in, fields, RD_ARRAY_SIZE(fields)) < 0)
		return;
	id = api_str(in, "AccessKeyId");
	r = store_access_key_retire(d->store, id);
	if (key_not_found(call, r, id))
		return;
	if (r == -EALREADY) {
		httpd_call_error(call, "InvalidInputException",
				 "access key %s has no previous secret to retire (RotateAccessKey makes one)", id);
		return;
	}
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	httpd_call_reply(call, NULL);
}

static void op_list_access_keys(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	struct store_access_key *keys = NULL;
	json_t *l = json_array();
	size_t n = 0;
	int r = store_access_key_list(d->store, &keys, &n);

	if (r < 0) {
		json_decref(l);
		api_store_error(call, r);
		return;
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(l, api_access_key_json(&keys[i]));
	free(keys);
	httpd_call_reply(call, json_pack("{s:o}", "AccessKeys", l));
}

static void op_delete_access_key(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	static const struct api_field fields[] = {
	    {"AccessKeyId", API_STR, true, 1, 128},
	};
	if (api_check_fields(call, in, fields, 1) < 0)
		return;
	const char *id = json_string_value(json_object_get(in, "AccessKeyId"));
	if (!strcmp(id, httpd_call_principal(call)->access_key_id)) {
		httpd_call_error(
		    call, "InvalidInputException",
		    "refusing to delete the access key %s that signed this request; sign with another admin key", id);
		return;
	}
	int r = store_access_key_delete(d->store, id);
	if (r == -ENOENT) {
		httpd_call_error(call, "ResourceNotFoundException", "no access key %s (see ListAccessKeys)", id);
		return;
	}
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	httpd_call_reply(call, NULL);
}

/* {DeploymentId, InstanceId?, NextToken?} -> {Logs: [{InstanceId, LifecycleEventName,
 * Sequence, Time, Data}], NextToken, DeploymentComplete}. NextToken is always
 * returned so that a follower can resume where it stopped. */
static void op_get_deployment_logs(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	static const struct api_field fields[] = {
	    {"DeploymentId", API_STR, true, 1, 64},
	    {"InstanceId", API_STR, false, 1, 512},
	    {"NextToken", API_STR, false, 0, 4096},
	};
	char *cursor = NULL, *end, st[16], plat[16], buf[32];
	int64_t after = 0, next = 0;
	struct store_hook_logs logs = {0};
	json_t *out;
	int r;

	if (api_check_fields(call, in, fields, 3) < 0)
		return;
	const char *id = api_str(in, "DeploymentId");
	if (api_page_cursor(call, in, "NextToken", &cursor) < 0)
		return;
	if (cursor) {
		after = strtoll(cursor, &end, 10);
		bool bad = *end || after < 0;
		free(cursor);
		if (bad) {
			httpd_call_error(call, "InvalidNextTokenException",
					 "NextToken is not valid; repeat without it");
			return;
		}
	}
	r = store_deployment_brief(d->store, id, st, plat);
	if (r == -ENOENT) {
		httpd_call_error(call, "DeploymentDoesNotExistException", "No deployment %s (see ListDeployments)", id);
		return;
	}
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	r = store_hook_logs_read(d->store, id, api_str(in, "InstanceId"), after, 500, &logs, &next);
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	bool complete = !strcmp(st, "Succeeded") || !strcmp(st, "Failed") || !strcmp(st, "Stopped");
	out = json_pack("{s:o, s:b}", "Logs", api_hook_logs_json(&logs), "DeploymentComplete", complete);
	store_hook_logs_clear(&logs);
	snprintf(buf, sizeof(buf), "%lld", (long long)next);
	api_page_next(call, out, "NextToken", buf);
	httpd_call_reply(call, out);
}

/* {applicationName, deploymentGroupName, deploymentConfigName?,
 * targetInstances?, updateOutdatedInstancesOnly?, revision?} -> the batches a
 * deployment would run now (engine_plan_deployment). Members mean what they
 * mean in CreateDeployment and are checked the same way. */
static void op_plan_deployment(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	static const struct api_field fields[] = {
	    {"applicationName", API_STR, true, 1, 100},
	    {"deploymentGroupName", API_STR, true, 1, 100},
	    {"deploymentConfigName", API_STR, false, 1, 100},
	    {"targetInstances", API_OBJ, false, 0, 0},
	    {"updateOutdatedInstancesOnly", API_BOOL, false, 0, 0},
	    {"revision", API_OBJ, false, 0, 0},
	};
	struct api_deployment_request q = {0};
	struct rd_error err = RD_ERROR_INIT;
	const char *exc = NULL;
	json_t *clean = NULL, *plan = NULL;
	char msg[1024];
	int r;

	if (api_check_fields(call, in, fields, RD_ARRAY_SIZE(fields)) < 0)
		return;
	/* nested members (targetInstances, revision) as CreateDeployment's model has them */
	r = api_validate(api_model_op("CreateDeployment"), in, &clean, &exc, msg, sizeof(msg));
	if (r == -ENOMEM) {
		httpd_call_error_status(call, 500, "InternalFailure", "out of memory");
		return;
	}
	if (r < 0) {
		httpd_call_error(call, exc, "%s", msg);
		return;
	}
	if (api_deployment_request_check(d, call, clean, false, &q) < 0)
		goto out;
	if (strcmp(q.platform, "Server") != 0) {
		httpd_call_error(
		    call, "InvalidComputePlatformException",
		    "PlanDeployment plans server deployments (in-place and blue/green); application %s is %s", q.app,
		    q.platform);
		goto out;
	}
	struct engine_plan_request req = {
	    .application_name = q.app,
	    .deployment_group_name = q.group,
	    .deployment_config_name = q.config,
	    .target_instances = json_object_get(clean, "targetInstances"),
	    .update_outdated_instances_only = json_is_true(json_object_get(clean, "updateOutdatedInstancesOnly")),
	    .revision = q.revision,
	};
	r = engine_plan_deployment(d, &req, &plan, &err);
	if (r < 0) {
		httpd_call_error_status(call, strcmp(err.code, "InternalFailure") == 0 ? 500 : 400, err.code, "%s",
					err.message);
		goto out;
	}
	httpd_call_reply(call, plan);
out:
	api_deployment_request_free(&q);
	json_decref(clean);
}

static json_t *audit_json(const struct store_audit_record *r)
{
	json_t *o = json_pack("{s:o, s:s, s:s, s:i}", "Time", api_time(r->time), "Operation", r->operation, "Result",
			      r->result, "Status", r->status);
	static const struct {
		const char *name;
		size_t off;
	} members[] = {
	    {"RequestId", offsetof(struct store_audit_record, request_id)},
	    {"AccessKeyId", offsetof(struct store_audit_record, access_key_id)},
	    {"Policy", offsetof(struct store_audit_record, policy)},
	    {"SourceAddress", offsetof(struct store_audit_record, source)},
	    {"ApplicationName", offsetof(struct store_audit_record, application)},
	    {"Resource", offsetof(struct store_audit_record, resource)},
	    {"ErrorCode", offsetof(struct store_audit_record, error_code)},
	    {"ErrorMessage", offsetof(struct store_audit_record, error_message)},
	};

	for (size_t i = 0; o && i < RD_ARRAY_SIZE(members); i++) {
		const char *v = (const char *)r + members[i].off;
		if (*v)
			json_object_set_new(o, members[i].name, json_string(v));
	}
	return o;
}

/* {AccessKeyId?, ApplicationName?, Operation?, Result?, StartTime?, EndTime?, MaxResults?, NextToken?}
 * -> {AuditEvents: [...], NextToken?}, newest first (docs/security.md). */
static void op_list_audit_events(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	static const struct api_field fields[] = {
	    {"AccessKeyId", API_STR, false, 1, 128}, {"ApplicationName", API_STR, false, 1, 100},
	    {"Operation", API_STR, false, 1, 127},   {"Result", API_STR, false, 1, 16},
	    {"MaxResults", API_INT, false, 1, 1000}, {"NextToken", API_STR, false, 0, 4096},
	};
	struct store_audit_query q = {0};
	struct store_audit_record *v = NULL;
	char *cursor = NULL, *end, buf[32];
	const char *result;
	size_t n = 0;
	bool more = false;
	json_t *l, *out, *t;
	int r;

	if (api_check_fields(call, in, fields, RD_ARRAY_SIZE(fields)) < 0)
		return;
	for (int i = 0; i < 2; i++) {
		t = json_object_get(in, i ? "EndTime" : "StartTime");
		if (t && !json_is_null(t) && !json_is_number(t)) {
			httpd_call_error(call, "SerializationException", "%s must be a time in epoch seconds",
					 i ? "EndTime" : "StartTime");
			return;
		}
		if (t && json_is_number(t))
			*(i ? &q.until_ms : &q.since_ms) = api_time_ms(t);
	}
	result = api_str(in, "Result");
	if (result && strcmp(result, "Allowed") && strcmp(result, "Failed") && strcmp(result, "Refused")) {
		httpd_call_error(call, "InvalidInputException", "Result must be Allowed, Failed or Refused, not %s",
				 result);
		return;
	}
	if (api_page_cursor(call, in, "NextToken", &cursor) < 0)
		return;
	if (cursor) {
		q.before_seq = strtoll(cursor, &end, 10);
		bool bad = *end || q.before_seq <= 0;
		free(cursor);
		if (bad) {
			httpd_call_error(call, "InvalidNextTokenException",
					 "NextToken is not valid; repeat without it");
			return;
		}
	}
	q.access_key_id = api_str(in, "AccessKeyId");
	q.application = api_str(in, "ApplicationName");
	q.operation = api_str(in, "Operation");
	q.result = result;
	t = json_object_get(in, "MaxResults");
	q.limit = t ? (size_t)json_integer_value(t) : 100;
	r = store_audit_list(d->store, &q, &v, &n, &more);
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	l = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(l, audit_json(&v[i]));
	out = json_pack("{s:o}", "AuditEvents", l);
	if (more && n) {
		snprintf(buf, sizeof(buf), "%lld", (long long)v[n - 1].seq);
		api_page_next(call, out, "NextToken", buf);
	}
	free(v);
	httpd_call_reply(call, out);
}

const struct api_op api_ext_ops[] = {
    {"GetDeploymentLogs", op_get_deployment_logs},
    {"PlanDeployment", op_plan_deployment},
    {"CreateAccessKey", op_create_access_key},
    {"ListAccessKeys", op_list_access_keys},
    {"DeleteAccessKey", op_delete_access_key},
    {"UpdateAccessKey", op_update_access_key},
    {"ListAuditEvents", op_list_audit_events},
    {"RotateAccessKey", op_rotate_access_key},
    {"RetireAccessKeySecret", op_retire_access_key_secret},
    {"EnrollInstance", api_op_enroll_instance},
};
const size_t api_n_ext_ops = sizeof(api_ext_ops) / sizeof(api_ext_ops[0]);
