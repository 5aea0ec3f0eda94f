/* Deployments and their targets. Running them is the engine's job
 * (daemon/engine/engine.h); this file validates, stores and reads. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_info.h"
#include "api/api_internal.h"
#include "api/api_ops.h"
#include "api/api_util.h"
#include "core/daemon.h"
#include "engine/engine.h"
#include "store/store.h"
#include "cryptoutil.h"
#include "util.h"

#define BATCH_MAX 25

bool api_deployment_id_valid(const char *id)
{
	if (!id || strlen(id) != 11 || id[0] != 'd' || id[1] != '-')
		return false;
	for (int i = 2; i < 11; i++)
		if (!isupper((unsigned char)id[i]) && !isdigit((unsigned char)id[i]))
			return false;
	return true;
}

static int check_id(struct httpd_call *call, const char *id)
{
	if (!api_deployment_id_valid(id)) {
		httpd_call_error(call, "InvalidDeploymentIdException",
				 "'%s' is not a deployment id (d- and 9 characters A-Z, 0-9)", id ? id : "");
		return -EINVAL;
	}
	return 0;
}

/* Looks the deployment up; completes call on error. */
static int need_deployment(struct rd_daemon *d, struct httpd_call *call, const char *id, char status[16],
			   char platform[16])
{
	int r;

	if (check_id(call, id) < 0)
		return -EINVAL;
	r = store_deployment_brief(d->store, id, status, platform);
	if (r == -ENOENT)
		httpd_call_error(call, "DeploymentDoesNotExistException", "No deployment %s (see ListDeployments)", id);
	else if (r < 0)
		api_store_error(call, r);
	return r;
}

static const char *const copied_from_group[] = {"deploymentStyle", "blueGreenDeploymentConfiguration",
						"loadBalancerInfo"};

void api_deployment_request_free(struct api_deployment_request *q)
{
	json_decref(q->app_info);
	json_decref(q->group_info);
	json_decref(q->config_info);
	q->app_info = q->group_info = q->config_info = NULL;
}

int api_deployment_request_check(struct rd_daemon *d, struct httpd_call *call, json_t *in, bool need_revision,
				 struct api_deployment_request *q)
{
	const char *app = api_str(in, "applicationName"), *group = api_str(in, "deploymentGroupName");
	int r;

	*q = (struct api_deployment_request){.app = app,
					     .group = group,
					     .config = api_str(in, "deploymentConfigName"),
					     .revision = json_object_get(in, "revision")};
	if (api_need_app(d, call, app, &q->app_info) < 0)
		return -EINVAL;
	q->platform = api_str(q->app_info, "computePlatform") ?: "Server";
	if (!group) {
		httpd_call_error(call, "DeploymentGroupNameRequiredException",
				 "deploymentGroupName is required; name the group to deploy to");
		goto fail;
	}
	r = api_group_get(d, app, group, &q->group_info);
	if (r == -ENOENT) {
		httpd_call_error(call, "DeploymentGroupDoesNotExistException",
				 "No deployment group named %s in application %s", group, app);
		goto fail;
	}
	if (r < 0) {
		api_store_error(call, r);
		goto fail;
	}
	if (!q->revision)
		q->revision = json_object_get(q->group_info, "targetRevision");
	if (!q->revision && need_revision) {
		httpd_call_error(call, "RevisionRequiredException",
				 "revision is required: the deployment group has no previous revision to deploy");
		goto fail;
	}
	if (q->revision && api_check_revision(call, q->revision, q->platform) < 0)
		goto fail;
	if (!q->config)
		q->config = api_str(q->group_info, "deploymentConfigName");
	r = api_config_get(d, q->config, &q->config_info);
	if (r == -ENOENT) {
		httpd_call_error(call, "DeploymentConfigDoesNotExistException", "No deployment configuration named %s",
				 q->config);
		goto fail;
	}
	if (r < 0) {
		api_store_error(call, r);
		goto fail;
	}
	if (api_str(q->config_info, "computePlatform") &&
	    strcmp(api_str(q->config_info, "computePlatform"), q->platform)) {
		httpd_call_error(call, "InvalidDeploymentConfigNameException",
				 "deployment configuration %s is for %s, but application %s is %s: it is not a %s "
				 "config; use one such as %s",
				 q->config, api_str(q->config_info, "computePlatform"), app, q->platform,
				 strcmp(q->platform, "Server") == 0 ? "server (in-place)" : q->platform,
				 api_default_config(q->platform));
		goto fail;
	}
	if (api_check_alarms(call, json_object_get(in, "overrideAlarmConfiguration")) < 0 ||
	    api_check_auto_rollback(call, json_object_get(in, "autoRollbackConfiguration")) < 0)
		goto fail;
	{
		json_t *ti = json_object_get(in, "targetInstances");
		if (json_array_size(json_object_get(ti, "tagFilters")) && json_object_get(ti, "ec2TagSet")) {
			httpd_call_error(call, "InvalidTargetInstancesException",
					 "targetInstances takes tagFilters or ec2TagSet, not both");
			goto fail;
		}
		const char *dt = api_str(json_object_get(q->group_info, "deploymentStyle"), "deploymentType");
		if (ti && (!dt || strcmp(dt, "BLUE_GREEN"))) {
			httpd_call_error(call, "InvalidTargetInstancesException",
					 "targetInstances applies to blue/green deployments only");
			goto fail;
		}
		if (json_is_true(json_object_get(in, "updateOutdatedInstancesOnly")) && dt &&
		    !strcmp(dt, "BLUE_GREEN")) {
			httpd_call_error(call, "InvalidUpdateOutdatedInstancesOnlyValueException",
					 "updateOutdatedInstancesOnly applies to in-place deployments only");
			goto fail;
		}
	}
	return 0;
fail:
	api_deployment_request_free(q);
	return -EINVAL;
}

void api_op_create_deployment(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	struct api_deployment_request q = {0};
	const char *app, *group, *config, *platform;
	json_t *gi, *doc = NULL, *rev;
	char id[12];
	int r;

	if (api_check_description(call, in) < 0)
		return;
	if (api_deployment_request_check(d, call, in, true, &q) < 0)
		return;
	app = q.app;
	group = q.group;
	config = q.config;
	platform = q.platform;
	gi = q.group_info;
	rev = q.revision;

	doc = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(in, k, v)
	{
		if (strcmp(k, "applicationName") && strcmp(k, "deploymentGroupName") &&
		    strcmp(k, "deploymentConfigName") && strcmp(k, "revision"))
			json_object_set(doc, k, v);
	}
	for (size_t i = 0; i < sizeof(copied_from_group) / sizeof(copied_from_group[0]); i++)
		if (json_object_get(gi, copied_from_group[i]))
			json_object_set(doc, copied_from_group[i], json_object_get(gi, copied_from_group[i]));
	if (!json_object_get(doc, "autoRollbackConfiguration") && json_object_get(gi, "autoRollbackConfiguration"))
		json_object_set(doc, "autoRollbackConfiguration", json_object_get(gi, "autoRollbackConfiguration"));
	if (!json_object_get(doc, "ignoreApplicationStopFailures"))
		json_object_set_new(doc, "ignoreApplicationStopFailures", json_false());
	if (!json_object_get(doc, "updateOutdatedInstancesOnly"))
		json_object_set_new(doc, "updateOutdatedInstancesOnly", json_false());
	if (!json_object_get(doc, "fileExistsBehavior") && !strcmp(platform, "Server"))
		json_object_set_new(doc, "fileExistsBehavior", json_string("DISALLOW"));
	json_object_set_new(doc, "instanceTerminationWaitTimeStarted", json_false());

	struct store_new_deployment nd = {
	    .id = id,
	    .app = app,
	    .group = group,
	    .config = config,
	    .platform = platform,
	    .creator = "user",
	    .revision = rev,
	    .doc = doc,
	};
	for (int attempt = 0; attempt < 5; attempt++) {
		memcpy(id, "d-", 2);
		r = rd_random_string(id + 2, 9, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
		if (r == 0)
			r = store_deployment_create(d->store, &nd);
		if (r != -EEXIST)
			break;
	}
	if (r == -ENOENT) {
		httpd_call_error(call, "ApplicationDoesNotExistException", "No application found for name: %s", app);
		goto out;
	}
	if (r == -EALREADY) {
		httpd_call_error(
		    call, "DeploymentLimitExceededException",
		    "deployment group %s of application %s already has an active deployment %s; wait for it "
		    "to finish or stop it (StopDeployment)",
		    group, app, nd.active_id);
		goto out;
	}
	if (r < 0) {
		api_store_error(call, r);
		goto out;
	}
	engine_notify_created(d, id);
	httpd_call_reply(call, json_pack("{s:s}", "deploymentId", id));
out:
	api_deployment_request_free(&q);
	json_decref(doc);
}

void api_op_get_deployment(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *id = api_str(in, "deploymentId");
	json_t *info = NULL;
	int r;

	if (check_id(call, id) < 0)
		return;
	r = api_deployment_get(d, id, &info);
	if (r == -ENOENT)
		httpd_call_error(call, "DeploymentDoesNotExistException", "No deployment %s (see ListDeployments)", id);
	else if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call, json_pack("{s:o}", "deploymentInfo", info));
}

void api_op_batch_get_deployments(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	json_t *ids = json_object_get(in, "deploymentIds"), *n, *out;
	size_t i;

	if (json_array_size(ids) > BATCH_MAX) {
		httpd_call_error(call, "BatchLimitExceededException", "at most %d deploymentIds per call, got %zu",
				 BATCH_MAX, json_array_size(ids));
		return;
	}
	json_array_foreach(ids, i, n) if (check_id(call, json_string_value(n)) < 0) return;
	out = json_array();
	json_array_foreach(ids, i, n)
	{
		json_t *info = NULL;
		int r = api_deployment_get(d, json_string_value(n), &info);
		if (r == 0)
			json_array_append_new(out, info);
		else if (r != -ENOENT) {
			json_decref(out);
			api_store_error(call, r);
			return;
		}
	}
	httpd_call_reply(call, json_pack("{s:o}", "deploymentsInfo", out));
}

void api_op_list_deployments(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	struct store_deployment_query q = {.start_ms = -1, .end_ms = -1, .limit = API_PAGE_SIZE};
	json_t *range = json_object_get(in, "createTimeRange"), *ids = NULL, *out;
	char *cursor = NULL, *end;
	int64_t last = 0;
	bool more = false;
	int r;

	q.app = api_str(in, "applicationName");
	q.group = api_str(in, "deploymentGroupName");
	q.external_id = api_str(in, "externalId");
	q.statuses = json_object_get(in, "includeOnlyStatuses");
	if (q.statuses && json_array_size(q.statuses) == 0)
		q.statuses = NULL;
	if (q.app && !q.group) {
		httpd_call_error(call, "DeploymentGroupNameRequiredException",
				 "applicationName and deploymentGroupName go together: add deploymentGroupName");
		return;
	}
	if (q.group && !q.app) {
		httpd_call_error(call, "ApplicationNameRequiredException",
				 "applicationName and deploymentGroupName go together: add applicationName");
		return;
	}
	if (range) {
		if (json_object_get(range, "start"))
			q.start_ms = api_time_ms(json_object_get(range, "start"));
		if (json_object_get(range, "end"))
			q.end_ms = api_time_ms(json_object_get(range, "end"));
		if (q.start_ms >= 0 && q.end_ms >= 0 && q.start_ms > q.end_ms) {
			httpd_call_error(call, "InvalidTimeRangeException",
					 "createTimeRange.start is after createTimeRange.end");
			return;
		}
	}
	if (api_page_cursor(call, in, "nextToken", &cursor) < 0)
		return;
	if (cursor) {
		q.before_seq = strtoll(cursor, &end, 10);
		bool bad = *end || q.before_seq <= 0;
		free(cursor);
		if (bad) {
			httpd_call_error(call, "InvalidNextTokenException",
					 "nextToken is not valid; repeat without it");
			return;
		}
	}
	if (q.app) {
		if (api_need_app(d, call, q.app, NULL) < 0)
			return;
		r = store_group_exists(d->store, q.app, q.group);
		if (r == -ENOENT) {
			httpd_call_error(call, "DeploymentGroupDoesNotExistException",
					 "No deployment group named %s in application %s", q.group, q.app);
			return;
		}
	}
	r = store_deployment_list(d->store, &q, &ids, &last, &more);
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	out = json_pack("{s:o}", "deployments", ids);
	if (more) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", (long long)last);
		api_page_next(call, out, "nextToken", buf);
	}
	httpd_call_reply(call, out);
}

void api_op_stop_deployment(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *id = api_str(in, "deploymentId"), *status = NULL;
	json_t *arb = json_object_get(in, "autoRollbackEnabled");
	char st[16], plat[16], msg[512] = "";
	int r;

	if (need_deployment(d, call, id, st, plat) < 0)
		return;
	r = engine_stop_deployment(d, id,
				   !arb		       ? ENGINE_ROLLBACK_DEFAULT
				   : json_is_true(arb) ? ENGINE_ROLLBACK_YES
						       : ENGINE_ROLLBACK_NO,
				   &status, msg, sizeof(msg));
	if (r == -ENOENT)
		httpd_call_error(call, "DeploymentDoesNotExistException", "No deployment %s", id);
	else if (r == -EALREADY)
		httpd_call_error(call, "DeploymentAlreadyCompletedException", "Deployment %s is already completed (%s)",
				 id, st);
	else if (r < 0)
		httpd_call_error_status(call, 500, "InternalFailure", "cannot stop %s: %s", id,
					msg[0] ? msg : strerror(-r));
	else
		httpd_call_reply(call,
				 json_pack("{s:s, s:s}", "status", status ? status : "Pending", "statusMessage", msg));
}

static bool terminal(const char *status)
{
	return !strcmp(status, "Succeeded") || !strcmp(status, "Failed") || !strcmp(status, "Stopped");
}

void api_op_continue_deployment(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *id = api_str(in, "deploymentId"), *wait_type = api_str(in, "deploymentWaitType");
	char st[16], plat[16];
	int r;

	if (!id) {
		httpd_call_error(call, "DeploymentIdRequiredException", "deploymentId is required");
		return;
	}
	if (need_deployment(d, call, id, st, plat) < 0)
		return;
	if (terminal(st)) {
		httpd_call_error(call, "DeploymentAlreadyCompletedException", "Deployment %s is already completed (%s)",
				 id, st);
		return;
	}
	r = engine_continue_deployment(d, id, wait_type);
	if (r == 0)
		httpd_call_reply(call, NULL);
	else if (r == -ENOENT)
		httpd_call_error(call, "DeploymentDoesNotExistException", "No deployment %s", id);
	else if (r == -EALREADY)
		httpd_call_error(call, "DeploymentAlreadyCompletedException", "Deployment %s is already completed", id);
	else if (r == -EAGAIN && wait_type && !strcmp(wait_type, "TERMINATION_WAIT"))
		httpd_call_error(
		    call, "DeploymentIsNotInReadyStateException",
		    "Deployment %s is %s, not waiting to terminate its original instances: TERMINATION_WAIT "
		    "ends the terminationWaitTimeInMinutes of a blue/green deployment "
		    "(terminateBlueInstancesOnDeploymentSuccess TERMINATE) after traffic was rerouted",
		    id, st);
	else if (r == -EAGAIN)
		httpd_call_error(
		    call, "DeploymentIsNotInReadyStateException",
		    "Deployment %s is %s, not waiting for ContinueDeployment: only a blue/green deployment whose "
		    "green fleet waits for traffic rerouting (deploymentReadyOption STOP_DEPLOYMENT) can be continued",
		    id, st);
	else if (r == -ENOTSUP)
		httpd_call_error(call, "UnsupportedActionForDeploymentTypeException",
				 "Deployment %s cannot be continued with deploymentWaitType %s: it is not a blue/green "
				 "deployment",
				 id, wait_type ? wait_type : "READY_WAIT");
	else
		httpd_call_error_status(call, 500, "InternalFailure", "cannot continue %s: %s", id, strerror(-r));
}

void api_op_skip_wait_time_for_instance_termination(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *id = api_str(in, "deploymentId");
	char st[16], plat[16];
	int r;

	if (!id) {
		httpd_call_error(call, "DeploymentIdRequiredException", "deploymentId is required");
		return;
	}
	if (need_deployment(d, call, id, st, plat) < 0)
		return;
	if (terminal(st)) {
		httpd_call_error(call, "DeploymentAlreadyCompletedException", "Deployment %s is already completed (%s)",
				 id, st);
		return;
	}
	r = engine_continue_deployment(d, id, "TERMINATION_WAIT");
	if (r == 0)
		httpd_call_reply(call, NULL);
	else if (r == -ENOENT)
		httpd_call_error(call, "DeploymentDoesNotExistException", "No deployment %s", id);
	else if (r == -EALREADY)
		httpd_call_error(call, "DeploymentAlreadyCompletedException", "Deployment %s is already completed", id);
	else if (r == -ENOTSUP)
		httpd_call_error(
		    call, "UnsupportedActionForDeploymentTypeException",
		    "Deployment %s is not a blue/green deployment: it has no original instances to terminate", id);
	else
		httpd_call_error(
		    call, "DeploymentNotStartedException",
		    "Deployment %s is not waiting to terminate its original instances (it waits only after "
		    "traffic was rerouted, with terminateBlueInstancesOnDeploymentSuccess TERMINATE)",
		    id);
}

void api_op_delete_resources_by_external_id(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	/* rolloutd creates no resources on behalf of an external id (CloudFormation) */
	httpd_call_reply(call, NULL);
}

void api_op_put_lifecycle_event_hook_execution_status(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *id = api_str(in, "deploymentId"), *hook = api_str(in, "lifecycleEventHookExecutionId");
	const char *status = api_str(in, "status");
	char st[16], plat[16], msg[512] = "";
	int r;

	if (!id) {
		httpd_call_error(call, "DeploymentIdRequiredException", "deploymentId is required");
		return;
	}
	if (!status || (strcmp(status, "Succeeded") && strcmp(status, "Failed"))) {
		httpd_call_error(call, "InvalidLifecycleEventHookExecutionStatusException",
				 "status must be Succeeded or Failed, not %s", status ? status : "(none)");
		return;
	}
	if (!hook || !*hook) {
		httpd_call_error(
		    call, "InvalidLifecycleEventHookExecutionIdException",
		    "lifecycleEventHookExecutionId is required: the one the hook function was invoked with");
		return;
	}
	if (need_deployment(d, call, id, st, plat) < 0)
		return;
	if (!strcmp(plat, "Server")) {
		httpd_call_error(
		    call, "UnsupportedActionForDeploymentTypeException",
		    "lifecycle hook status is reported by the agent for Server deployments; this call is for "
		    "Lambda and ECS deployments");
		return;
	}
	/* answered once the engine committed the status */
	r = engine_hook_status(d, id, hook, status, msg, sizeof(msg));
	if (r == 0)
		httpd_call_reply(call, json_pack("{s:s}", "lifecycleEventHookExecutionId", hook));
	else if (r == -ENOENT)
		httpd_call_error(call, "DeploymentDoesNotExistException", "%s", msg[0] ? msg : "no such deployment");
	else if (r == -ENOTSUP)
		httpd_call_error(call, "UnsupportedActionForDeploymentTypeException", "%s", msg);
	else if (r == -ESRCH)
		httpd_call_error(call, "InvalidLifecycleEventHookExecutionIdException",
				 "%s Use the LifecycleEventHookExecutionId the hook function was invoked with.", msg);
	else if (r == -EALREADY)
		httpd_call_error(call, "LifecycleEventAlreadyCompletedException", "%s", msg);
	else
		httpd_call_error_status(call, 500, "InternalFailure", "cannot record the hook status: %s",
					msg[0] ? msg : strerror(-r));
}

/* ---- targets and (deprecated) instances ---- */

/* The deployment exists and has targets to show (not Created/Queued). */
static int need_started_platform(struct rd_daemon *d, struct httpd_call *call, const char *id, char plat[16])
{
	char st[16];
	int r;

	if (!id) {
		httpd_call_error(call, "DeploymentIdRequiredException", "deploymentId is required");
		return -EINVAL;
	}
	r = need_deployment(d, call, id, st, plat);
	if (r == 0 && (!strcmp(st, "Created") || !strcmp(st, "Queued"))) {
		httpd_call_error(call, "DeploymentNotStartedException",
				 "Deployment %s is %s: it has no targets yet; retry once it is InProgress", id, st);
		return -EAGAIN;
	}
	return r;
}

static int need_started(struct rd_daemon *d, struct httpd_call *call, const char *id)
{
	char plat[16];

	return need_started_platform(d, call, id, plat);
}

void api_op_list_deployment_targets(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *id = api_str(in, "deploymentId");
	json_t *filters = json_object_get(in, "targetFilters"), *ids = NULL, *out;
	char *cursor = NULL;
	bool more = false;
	int r;

	if (need_started(d, call, id) < 0)
		return;
	if (api_page_cursor(call, in, "nextToken", &cursor) < 0)
		return;
	json_t *statuses = json_object_get(filters, "TargetStatus"),
	       *labels = json_object_get(filters, "ServerInstanceLabel");
	r = store_target_list(d->store, id, json_array_size(statuses) ? statuses : NULL,
			      json_array_size(labels) ? labels : NULL, cursor, API_PAGE_SIZE, &ids, &more);
	free(cursor);
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	out = json_pack("{s:O}", "targetIds", ids);
	if (more)
		api_page_next(call, out, "nextToken", json_string_value(json_array_get(ids, json_array_size(ids) - 1)));
	json_decref(ids);
	httpd_call_reply(call, out);
}

void api_op_get_deployment_target(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *id = api_str(in, "deploymentId"), *tid = api_str(in, "targetId");
	json_t *t = NULL;
	int r;

	if (need_started(d, call, id) < 0)
		return;
	if (!tid) {
		httpd_call_error(call, "DeploymentTargetIdRequiredException", "targetId is required");
		return;
	}
	r = api_target_get(d, id, tid, &t);
	if (r == -ENOENT)
		httpd_call_error(call, "DeploymentTargetDoesNotExistException", "No target %s in deployment %s", tid,
				 id);
	else if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call, json_pack("{s:o}", "deploymentTarget", t));
}

void api_op_batch_get_deployment_targets(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *id = api_str(in, "deploymentId");
	json_t *tids = json_object_get(in, "targetIds"), *n;
	struct store_target **v = NULL;
	char *text = NULL;
	size_t i, len = 0;
	int r;

	if (need_started(d, call, id) < 0)
		return;
	if (json_array_size(tids) == 0) {
		httpd_call_error(call, "DeploymentTargetIdRequiredException",
				 "targetIds must name at least one target");
		return;
	}
	if (json_array_size(tids) > BATCH_MAX) {
		httpd_call_error(call, "DeploymentTargetListSizeExceededException",
				 "at most %d targetIds per call, got %zu", BATCH_MAX, json_array_size(tids));
		return;
	}
	r = store_targets_get(d->store, id, tids, &v);
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	json_array_foreach(tids, i, n)
	{
		if (!v[i]) {
			httpd_call_error(call, "DeploymentTargetDoesNotExistException", "No target %s in deployment %s",
					 json_string_value(n), id);
			goto out;
		}
	}
	r = api_targets_text(v, json_array_size(tids), &text, &len);
	if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply_bytes(call, 200, HTTPD_JSON_TYPE, text, len);
out:
	free(text);
	store_targets_free(v, json_array_size(tids));
}

void api_op_list_deployment_instances(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *id = api_str(in, "deploymentId");
	json_t *statuses = json_object_get(in, "instanceStatusFilter"),
	       *types = json_object_get(in, "instanceTypeFilter");
	json_t *ids = NULL, *out;
	char *cursor = NULL, plat[16];
	bool more = false;
	int r;

	if (need_started_platform(d, call, id, plat) < 0)
		return;
	if (strcmp(plat, "Server")) {
		httpd_call_error(call, "InvalidComputePlatformException",
				 "ListDeploymentInstances is for Server deployments; use ListDeploymentTargets");
		return;
	}
	if (api_page_cursor(call, in, "nextToken", &cursor) < 0)
		return;
	r = store_target_list(d->store, id, json_array_size(statuses) ? statuses : NULL,
			      json_array_size(types) ? types : NULL, cursor, API_PAGE_SIZE, &ids, &more);
	free(cursor);
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	out = json_pack("{s:O}", "instancesList", ids);
	if (more)
		api_page_next(call, out, "nextToken", json_string_value(json_array_get(ids, json_array_size(ids) - 1)));
	json_decref(ids);
	httpd_call_reply(call, out);
}

void api_op_get_deployment_instance(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *id = api_str(in, "deploymentId"), *iid = api_str(in, "instanceId");
	json_t *s = NULL;
	int r;

	if (need_started(d, call, id) < 0)
		return;
	r = api_instance_summary_get(d, id, iid, &s);
	if (r == -ENOENT)
		httpd_call_error(call, "InstanceDoesNotExistException", "No instance %s in deployment %s", iid, id);
	else if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call, json_pack("{s:o}", "instanceSummary", s));
}

void api_op_batch_get_deployment_instances(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *id = api_str(in, "deploymentId");
	json_t *iids = json_object_get(in, "instanceIds"), *n, *out;
	char errmsg[512] = "";
	size_t i;

	if (json_array_size(iids) > BATCH_MAX) {
		httpd_call_error(call, "BatchLimitExceededException", "at most %d instanceIds per call", BATCH_MAX);
		return;
	}
	if (need_started(d, call, id) < 0)
		return;
	out = json_array();
	json_array_foreach(iids, i, n)
	{
		json_t *s = NULL;
		int r = api_instance_summary_get(d, id, json_string_value(n), &s);
		if (r == 0)
			json_array_append_new(out, s);
		else if (r == -ENOENT)
			snprintf(errmsg, sizeof(errmsg), "some instances are not part of deployment %s", id);
		else {
			json_decref(out);
			api_store_error(call, r);
			return;
		}
	}
	json_t *res = json_pack("{s:o}", "instancesSummary", out);
	if (errmsg[0])
		json_object_set_new(res, "errorMessage", json_string(errmsg));
	httpd_call_reply(call, res);
}
