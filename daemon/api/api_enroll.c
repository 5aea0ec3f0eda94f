/* Enrollment of EC2 instances that nobody made a key for (Auto Scaling
 * launches them): Rolloutd_v1.EnrollInstance and the revocation of the
 * keys of terminated instances (docs/ec2.md, "Enrollment").
 *
 * An enroll key is scoped to a fleet: asg:NAME (an Auto Scaling group) or
 * tag:KEY=VALUE (an EC2 tag). An agent starting on an instance of that
 * fleet calls EnrollInstance with it and gets its own agent key, bound to
 * its instance id. The daemon accepts only while the platform plugins
 * (the ec2 plugin) see that instance pending or running in the scope: a
 * leaked enroll key mints keys only for instances that are in the fleet,
 * and each minted key acts for its one instance only.
 *
 * Keys bound to an EC2 instance id are revoked once the platform plugins
 * report the instance terminated (api_enroll_sweep, run every
 * instance_key_sweep). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_internal.h"
#include "api/api_util.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/platforms.h"
#include "engine/engine_hostcmd_id.h"
#include "error.h"
#include "jsonutil.h"
#include "log.h"
#include "store/store.h"
#include "util.h"

#define TAG "enroll"

/* The selection of scope as a DeploymentGroupInfo, or NULL when scope is
 * not an enroll scope. */
static json_t *scope_group(const char *scope)
{
	if (!strncmp(scope, "asg:", 4))
		return json_pack("{s:[{s:s}]}", "autoScalingGroups", "name", scope + 4);
	if (!strncmp(scope, "tag:", 4)) {
		const char *eq = strchr(scope + 4, '=');
		char key[129];
		if (!eq || eq == scope + 4 || (size_t)(eq - scope - 4) >= sizeof(key))
			return NULL;
		snprintf(key, sizeof(key), "%.*s", (int)(eq - scope - 4), scope + 4);
		return json_pack("{s:[{s:s,s:s,s:s}]}", "ec2TagFilters", "Key", key, "Value", eq + 1, "Type",
				 "KEY_AND_VALUE");
	}
	return NULL;
}

/* The platform plugins' view of instance id: its target object (a new
 * reference) or NULL, for the selection group. */
static int find_instance(struct rd_daemon *d, json_t *group, const char *id, json_t **ret, struct rd_error *err)
{
	struct rollout_deployment dep =
	    ROLLOUT_DEPLOYMENT_INIT(.compute_platform = "Server", .region = d->cfg ? d->cfg->region : NULL,
				    .account_id = d->cfg ? d->cfg->account_id : NULL);
	json_t *targets = NULL, *v;
	size_t i;
	int r;

	*ret = NULL;
	r = platforms_resolve(d->plugins, &dep, "Server", group, &targets, err);
	if (r < 0)
		return r;
	json_array_foreach(targets, i, v)
	{
		if (rd_json_str(v, "targetId") && !strcmp(rd_json_str(v, "targetId"), id)) {
			*ret = json_incref(v);
			break;
		}
	}
	json_decref(targets);
	return 0;
}

/* {HostIdentifier: "arn:aws:ec2:REGION:ACCOUNT:instance/i-..."} or
 * {InstanceId: "i-..."} -> {AccessKeyId, SecretAccessKey, InstanceId,
 * HostIdentifier?}. Called with an enroll key. */
void api_op_enroll_instance(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	static const struct api_field fields[] = {
	    {"HostIdentifier", API_STR, false, 1, 1024},
	    {"InstanceId", API_STR, false, 1, 32},
	};
	const struct httpd_principal *who = httpd_call_principal(call);
	const char *hid, *scope = who && who->instance ? who->instance : "";
	struct rd_error err = RD_ERROR_INIT;
	struct store_access_key k;
	json_t *group = NULL, *t = NULL, *out;
	char id[32], name[64], msg[256];
	const char *state;
	int r;

	if (api_check_fields(call, in, fields, RD_ARRAY_SIZE(fields)) < 0)
		return;
	if (!who || !who->policy || strcmp(who->policy, "enroll") != 0) {
		httpd_call_error(call, "AccessDeniedException",
				 "EnrollInstance needs an enroll key (access-key create --policy enroll --scope "
				 "asg:NAME|tag:KEY=VALUE); access key %s is a %s key",
				 who ? who->access_key_id : "?", who && who->policy ? who->policy : "?");
		return;
	}
	hid = rd_json_str(in, "HostIdentifier");
	if (hid ? cmd_ec2_instance_id(hid, id, sizeof(id)) < 0
		: !rd_json_str(in, "InstanceId") || !store_ec2_instance_id(rd_json_str(in, "InstanceId"))) {
		httpd_call_error(call, "InvalidInputException",
				 "give HostIdentifier arn:aws:ec2:REGION:ACCOUNT:instance/i-... or InstanceId i-...");
		return;
	}
	if (!hid)
		rd_strlcpy(id, rd_json_str(in, "InstanceId"), sizeof(id));
	group = scope_group(scope);
	if (!group) {
		httpd_call_error(call, "AccessDeniedException", "enroll key %s has no usable scope ('%s')",
				 who->access_key_id, scope);
		return;
	}
	r = find_instance(d, group, id, &t, &err);
	json_decref(group);
	if (r < 0) {
		httpd_call_error_status(call, 500, "InternalFailure", "cannot look up instance %s: %s", id,
					err.message);
		return;
	}
	state = rd_json_str(t, "instanceState");
	if (!t || (state && strcmp(state, "running") != 0 && strcmp(state, "pending") != 0)) {
		rd_logf(LOG_NOTICE, TAG, NULL, "refused to enroll %s with key %s: not running in %s", id,
			who->access_key_id, scope);
		httpd_call_error(call, "AccessDeniedException",
				 "instance %s is not %s in %s as the ec2 plugin sees it; an enroll key enrolls only "
				 "running instances of its scope (retry once the instance is running)",
				 id, t ? state : "found", scope);
		json_decref(t);
		return;
	}
	json_decref(t);
	snprintf(name, sizeof(name), "enrolled-%s", id);
	r = store_access_key_create(d->store, name, "agent", id, &k, msg, sizeof(msg));
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	rd_logf(LOG_INFO, TAG, NULL, "enrolled %s (scope %s, enroll key %s): agent key %s", id, scope,
		who->access_key_id, k.id);
	out = json_pack("{s:s,s:s,s:s}", "AccessKeyId", k.id, "SecretAccessKey", k.secret, "InstanceId", id);
	if (out && hid)
		json_object_set_new(out, "HostIdentifier", json_string(hid));
	httpd_call_reply(call, out);
}

int api_enroll_sweep(struct rd_daemon *d, int *ret_revoked)
{
	struct store_access_key *keys = NULL;
	struct rd_error err = RD_ERROR_INIT;
	json_t *ids = json_array(), *group = NULL, *targets = NULL, *v;
	size_t n = 0, i;
	int r, revoked = 0;

	if (ret_revoked)
		*ret_revoked = 0;
	if (!ids)
		return -ENOMEM;
	r = store_access_key_list(d->store, &keys, &n);
	if (r < 0) {
		json_decref(ids);
		return r;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(keys[i].policy, "agent") && store_ec2_instance_id(keys[i].instance))
			json_array_append_new(ids, json_string(keys[i].instance));
	free(keys);
	if (json_array_size(ids) == 0) {
		json_decref(ids);
		return 0;
	}
	/* ec2InstanceIds is rolloutd's own member: the ec2 plugin answers every
	 * instance it names, in whatever state, so a terminated one is
	 * positively seen terminated (one it cannot find keeps its keys). */
	group = json_pack("{s:o}", "ec2InstanceIds", ids);
	{
		struct rollout_deployment dep =
		    ROLLOUT_DEPLOYMENT_INIT(.compute_platform = "Server", .region = d->cfg ? d->cfg->region : NULL,
					    .account_id = d->cfg ? d->cfg->account_id : NULL);
		r = group ? platforms_resolve(d->plugins, &dep, "Server", group, &targets, &err) : -ENOMEM;
	}
	json_decref(group);
	if (r < 0) {
		rd_logf(LOG_WARNING, TAG, NULL, "cannot check the instances of EC2 agent keys: %s", err.message);
		return r;
	}
	json_array_foreach(targets, i, v)
	{
		const char *id = rd_json_str(v, "targetId"), *state = rd_json_str(v, "instanceState");
		int k = 0;
		if (!id || !state || strcmp(state, "terminated") != 0)
			continue;
		if (store_access_key_revoke_instance(d->store, id, &k) == 0 && k > 0) {
			rd_logf(LOG_NOTICE, TAG, NULL, "instance %s is terminated: revoked its %d agent key(s)", id, k);
			revoked += k;
		}
	}
	json_decref(targets);
	if (ret_revoked)
		*ret_revoked = revoked;
	return 0;
}
