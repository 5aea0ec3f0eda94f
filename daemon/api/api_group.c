/* Deployment groups. The settings are validated here and kept as a
 * DeploymentGroupInfo-shaped document; behaviour comes with the engine. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_info.h"
#include "api/api_internal.h"
#include "api/api_ops.h"
#include "api/api_util.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/platforms.h"
#include "store/store.h"
#include "tagfilter.h"

#define MAX_ALARMS 10
#define MAX_TRIGGERS 10
#define MAX_TAG_SET_GROUPS 3

/* Input members that are not stored in the settings document. */
static const char *const not_settings[] = {
    "applicationName",	      "deploymentGroupName",  "currentDeploymentGroupName",
    "newDeploymentGroupName", "deploymentConfigName", "tags",
};

int api_check_alarms(struct httpd_call *call, json_t *ac)
{
	json_t *alarms = json_object_get(ac, "alarms"), *a;
	size_t i;

	if (json_array_size(alarms) > MAX_ALARMS) {
		httpd_call_error(call, "AlarmsLimitExceededException", "at most %d alarms are allowed, got %zu",
				 MAX_ALARMS, json_array_size(alarms));
		return -EINVAL;
	}
	json_array_foreach(alarms, i, a)
	{
		const char *n = api_str(a, "name");
		if (!n || !*n || strlen(n) > 255) {
			httpd_call_error(call, "InvalidAlarmConfigException",
					 "alarm %zu needs a name of 1-255 characters", i);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(n, api_str(json_array_get(alarms, j), "name") ?: "")) {
				httpd_call_error(call, "InvalidAlarmConfigException", "alarm %s is listed twice", n);
				return -EINVAL;
			}
	}
	if (json_is_true(json_object_get(ac, "enabled")) && json_array_size(alarms) == 0) {
		httpd_call_error(call, "InvalidAlarmConfigException",
				 "alarmConfiguration is enabled but lists no alarms; add alarms or disable it");
		return -EINVAL;
	}
	return 0;
}

int api_check_auto_rollback(struct httpd_call *call, json_t *arc)
{
	if (json_is_true(json_object_get(arc, "enabled")) && json_array_size(json_object_get(arc, "events")) == 0) {
		httpd_call_error(call, "InvalidAutoRollbackConfigException",
				 "autoRollbackConfiguration is enabled but names no events (DEPLOYMENT_FAILURE, "
				 "DEPLOYMENT_STOP_ON_ALARM, DEPLOYMENT_STOP_ON_REQUEST)");
		return -EINVAL;
	}
	return 0;
}

/* The one tag-filter rule (lib/tagfilter.h), as ListOnPremisesInstances
 * and the platform plugins apply it: a malformed filter, or one that can
 * select no host, is refused here rather than saved to select nothing. */
static int check_tag_filters(struct httpd_call *call, json_t *filters, const char *exc)
{
	struct tagfilter_set *set = NULL;
	char err[256];
	int r = 0;

	if (json_array_size(filters) == 0)
		return 0;
	if (tagfilter_parse(filters, "tag filters", &set, err, sizeof(err)) < 0) {
		httpd_call_error(call, exc, "%s", err);
		return -EINVAL;
	}
	for (size_t g = 0; g < set->n && r == 0; g++)
		for (size_t i = 0; i < set->groups[g].n && r == 0; i++) {
			const char *problem = tagfilter_problem(&set->groups[g].filters[i]);
			if (problem) {
				httpd_call_error(call, exc, "tag filter %zu %s", i, problem);
				r = -EINVAL;
			}
		}
	tagfilter_set_free(set);
	return r;
}

static int check_tag_set(struct httpd_call *call, json_t *set, const char *list_key, const char *exc)
{
	json_t *list = json_object_get(set, list_key), *g;
	size_t i;

	if (json_array_size(list) > MAX_TAG_SET_GROUPS) {
		httpd_call_error(call, "TagSetListLimitExceededException", "%s holds at most %d tag groups, got %zu",
				 list_key, MAX_TAG_SET_GROUPS, json_array_size(list));
		return -EINVAL;
	}
	json_array_foreach(list, i, g) if (check_tag_filters(call, g, exc) < 0) return -EINVAL;
	return 0;
}

/* Validates the merged settings document against the platform. */
static int check_settings(struct httpd_call *call, json_t *doc, const char *platform)
{
	json_t *style = json_object_get(doc, "deploymentStyle");
	const char *type = api_str(style, "deploymentType"), *option = api_str(style, "deploymentOption");
	json_t *lb = json_object_get(doc, "loadBalancerInfo"), *t;
	size_t i;

	if (json_array_size(json_object_get(doc, "ec2TagFilters")) && json_object_get(doc, "ec2TagSet")) {
		httpd_call_error(call, "InvalidEC2TagCombinationException", "use ec2TagFilters or ec2TagSet, not both");
		return -EINVAL;
	}
	if (json_array_size(json_object_get(doc, "onPremisesInstanceTagFilters")) &&
	    json_object_get(doc, "onPremisesTagSet")) {
		httpd_call_error(call, "InvalidOnPremisesTagCombinationException",
				 "use onPremisesInstanceTagFilters or onPremisesTagSet, not both");
		return -EINVAL;
	}
	if (check_tag_filters(call, json_object_get(doc, "ec2TagFilters"), "InvalidEC2TagException") < 0 ||
	    check_tag_filters(call, json_object_get(doc, "onPremisesInstanceTagFilters"), "InvalidTagException") < 0 ||
	    check_tag_set(call, json_object_get(doc, "ec2TagSet"), "ec2TagSetList", "InvalidEC2TagException") < 0 ||
	    check_tag_set(call, json_object_get(doc, "onPremisesTagSet"), "onPremisesTagSetList",
			  "InvalidTagException") < 0)
		return -EINVAL;
	if (api_check_alarms(call, json_object_get(doc, "alarmConfiguration")) < 0 ||
	    api_check_auto_rollback(call, json_object_get(doc, "autoRollbackConfiguration")) < 0)
		return -EINVAL;
	if (json_array_size(json_object_get(doc, "triggerConfigurations")) > MAX_TRIGGERS) {
		httpd_call_error(call, "TriggerTargetsLimitExceededException", "at most %d triggers are allowed",
				 MAX_TRIGGERS);
		return -EINVAL;
	}
	json_array_foreach(json_object_get(doc, "triggerConfigurations"), i, t)
	{
		if (!api_str(t, "triggerName") || !api_str(t, "triggerTargetArn") ||
		    json_array_size(json_object_get(t, "triggerEvents")) == 0) {
			httpd_call_error(
			    call, "InvalidTriggerConfigException",
			    "trigger %zu needs triggerName, triggerTargetArn and at least one triggerEvents entry", i);
			return -EINVAL;
		}
	}
	json_array_foreach(json_object_get(doc, "autoScalingGroups"), i, t)
	{
		const char *n = api_str(t, "name");
		if (!n || !*n || strlen(n) > 255) {
			httpd_call_error(call, "InvalidAutoScalingGroupException",
					 "autoScalingGroups[%zu] must be a name of 1-255 characters", i);
			return -EINVAL;
		}
	}
	{
		json_t *bg = json_object_get(doc, "blueGreenDeploymentConfiguration");
		json_t *tw = json_object_get(json_object_get(bg, "terminateBlueInstancesOnDeploymentSuccess"),
					     "terminationWaitTimeInMinutes");
		json_t *rw = json_object_get(json_object_get(bg, "deploymentReadyOption"), "waitTimeInMinutes");
		if ((tw && (json_integer_value(tw) < 0 || json_integer_value(tw) > 2880)) ||
		    (rw && (json_integer_value(rw) < 0 || json_integer_value(rw) > 2880))) {
			httpd_call_error(call, "InvalidBlueGreenDeploymentConfigurationException",
					 "blue/green wait times must be 0 to 2880 minutes");
			return -EINVAL;
		}
	}
	if (!strcmp(platform, "ECS")) {
		json_t *svcs = json_object_get(doc, "ecsServices");
		if (json_array_size(svcs) != 1) {
			httpd_call_error(
			    call, "InvalidECSServiceException",
			    "an ECS deployment group needs exactly one ecsServices entry {serviceName, clusterName}");
			return -EINVAL;
		}
		if (!api_str(json_array_get(svcs, 0), "serviceName") ||
		    !api_str(json_array_get(svcs, 0), "clusterName")) {
			httpd_call_error(call, "InvalidECSServiceException",
					 "ecsServices[0] needs serviceName and clusterName");
			return -EINVAL;
		}
	} else if (json_array_size(json_object_get(doc, "ecsServices"))) {
		httpd_call_error(call, "InvalidECSServiceException", "ecsServices apply to ECS applications only");
		return -EINVAL;
	}
	if (strcmp(platform, "Server") != 0 && type &&
	    (strcmp(type, "BLUE_GREEN") || (option && strcmp(option, "WITH_TRAFFIC_CONTROL")))) {
		httpd_call_error(call, "InvalidDeploymentStyleException",
				 "%s deployment groups are BLUE_GREEN with WITH_TRAFFIC_CONTROL", platform);
		return -EINVAL;
	}
	if (!strcmp(platform, "Server") && option && !strcmp(option, "WITH_TRAFFIC_CONTROL") &&
	    !json_array_size(json_object_get(lb, "elbInfoList")) &&
	    !json_array_size(json_object_get(lb, "targetGroupInfoList"))) {
		httpd_call_error(call, "InvalidLoadBalancerInfoException",
				 "WITH_TRAFFIC_CONTROL needs loadBalancerInfo with elbInfoList or targetGroupInfoList");
		return -EINVAL;
	}
	if (!strcmp(platform, "ECS") && json_array_size(json_object_get(lb, "targetGroupPairInfoList")) != 1) {
		httpd_call_error(
		    call, "InvalidTargetGroupPairException",
		    "an ECS deployment group needs loadBalancerInfo.targetGroupPairInfoList with one pair");
		return -EINVAL;
	}
	if (!strcmp(platform, "ECS")) {
		json_t *pair = json_array_get(json_object_get(lb, "targetGroupPairInfoList"), 0);
		json_t *tgs = json_object_get(pair, "targetGroups");
		json_t *prod = json_object_get(json_object_get(pair, "prodTrafficRoute"), "listenerArns");
		json_t *test = json_object_get(json_object_get(pair, "testTrafficRoute"), "listenerArns");
		const char *a = api_str(json_array_get(tgs, 0), "name"), *b = api_str(json_array_get(tgs, 1), "name");
		if (json_array_size(tgs) != 2 || !a || !b || !*a || !*b || !strcmp(a, b)) {
			httpd_call_error(call, "InvalidTargetGroupPairException",
					 "targetGroupPairInfoList[0].targetGroups needs two different target groups "
					 "[{name: BLUE}, {name: GREEN}]");
			return -EINVAL;
		}
		if (json_array_size(prod) != 1 || !json_string_value(json_array_get(prod, 0)) ||
		    json_array_size(test) > 1) {
			httpd_call_error(call, "InvalidTargetGroupPairException",
					 "targetGroupPairInfoList[0] needs prodTrafficRoute.listenerArns with one "
					 "listener ARN, and at most one in testTrafficRoute.listenerArns");
			return -EINVAL;
		}
	}
	{
		const char *role = api_str(doc, "serviceRoleArn");
		if (role && strncmp(role, "arn:", 4) != 0) {
			httpd_call_error(call, "InvalidRoleException",
					 "serviceRoleArn must be an ARN (arn:aws:iam::<account>:role/<name>)");
			return -EINVAL;
		}
	}
	return 0;
}

/* Copies the settings members of in onto doc (autoScalingGroups as [{name}]). */
static void merge_settings(json_t *doc, json_t *in)
{
	const char *k;
	json_t *v;

	json_object_foreach(in, k, v)
	{
		bool skip = false;
		for (size_t i = 0; i < sizeof(not_settings) / sizeof(not_settings[0]); i++)
			skip = skip || !strcmp(k, not_settings[i]);
		if (skip)
			continue;
		if (!strcmp(k, "autoScalingGroups")) {
			json_t *arr = json_array(), *n;
			size_t i;
			json_array_foreach(v, i, n) json_array_append_new(arr, json_pack("{s:O}", "name", n));
			json_object_set_new(doc, k, arr);
		} else {
			json_object_set(doc, k, v);
		}
	}
}

static void set_default(json_t *doc, const char *k, json_t *v)
{
	if (!json_object_get(doc, k))
		json_object_set(doc, k, v);
	json_decref(v);
}

/* Checks the config exists and suits the platform; completes call on error. */
static int check_config(struct rd_daemon *d, struct httpd_call *call, const char *config, const char *platform)
{
	json_t *ci = NULL;
	int r = api_config_get(d, config, &ci);

	if (r == -ENOENT) {
		httpd_call_error(call, "DeploymentConfigDoesNotExistException",
				 "No deployment configuration named %s (see ListDeploymentConfigs)", config);
		return r;
	}
	if (r < 0) {
		api_store_error(call, r);
		return r;
	}
	const char *cp = api_str(ci, "computePlatform");
	if (cp && strcmp(cp, platform)) {
		httpd_call_error(call, "InvalidDeploymentConfigNameException",
				 "deployment configuration %s is for %s, but the application is %s", config, cp,
				 platform);
		json_decref(ci);
		return -EINVAL;
	}
	json_decref(ci);
	return 0;
}

/* Installs and removes the Auto Scaling lifecycle hooks of group app/name
 * (doc: its settings as they will be stored, NULL when deleted; prev: as
 * they were, NULL when new) through the platform plugin, and stores the
 * hooks in doc's autoScalingGroups. *left: hooksNotCleanedUp (a new array).
 * Completes call on error. */
static int sync_hooks(struct rd_daemon *d, struct httpd_call *call, const char *app, const char *name, json_t *doc,
		      const json_t *prev, json_t **left)
{
	struct rollout_deployment dep =
	    ROLLOUT_DEPLOYMENT_INIT(.application_name = app, .deployment_group_name = name,
				    .compute_platform = "Server", .region = d->cfg ? d->cfg->region : NULL,
				    .account_id = d->cfg ? d->cfg->account_id : NULL);
	struct rd_error err = RD_ERROR_INIT;
	json_t *g = doc ? json_copy(doc) : NULL, *res = NULL;
	int r;

	*left = NULL;
	if (g) {
		json_object_set_new(g, "applicationName", json_string(app));
		json_object_set_new(g, "deploymentGroupName", json_string(name));
	}
	r = platforms_lifecycle_hooks(d->plugins, &dep, g, prev, &res, &err);
	json_decref(g);
	if (r < 0) {
		httpd_call_error(call, "InvalidAutoScalingGroupException",
				 "the lifecycle hooks of the Auto Scaling groups cannot be installed: %s", err.message);
		return r;
	}
	if (res && doc && json_is_array(json_object_get(res, "autoScalingGroups")))
		json_object_set(doc, "autoScalingGroups", json_object_get(res, "autoScalingGroups"));
	*left = json_is_array(json_object_get(res, "hooksNotCleanedUp"))
		    ? json_incref(json_object_get(res, "hooksNotCleanedUp"))
		    : json_array();
	json_decref(res);
	return 0;
}

const char *api_default_config(const char *platform)
{
	return !strcmp(platform, "Lambda") ? "CodeDeployDefault.LambdaAllAtOnce"
	       : !strcmp(platform, "ECS")  ? "CodeDeployDefault.ECSAllAtOnce"
					   : "CodeDeployDefault.OneAtATime";
}

void api_op_create_deployment_group(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *app = api_str(in, "applicationName"), *name = api_str(in, "deploymentGroupName");
	const char *config = api_str(in, "deploymentConfigName");
	json_t *ai = NULL, *doc = NULL, *tags = json_object_get(in, "tags"), *left = NULL;
	char id[37];
	int r;

	if (api_need_app(d, call, app, &ai) < 0)
		return;
	const char *platform = api_str(ai, "computePlatform") ?: "Server";
	if (!config)
		config = api_default_config(platform);
	if (check_config(d, call, config, platform) < 0)
		goto out;
	doc = json_object();
	merge_settings(doc, in);
	bool server = !strcmp(platform, "Server");
	set_default(doc, "deploymentStyle",
		    json_pack("{s:s, s:s}", "deploymentType", server ? "IN_PLACE" : "BLUE_GREEN", "deploymentOption",
			      server ? "WITHOUT_TRAFFIC_CONTROL" : "WITH_TRAFFIC_CONTROL"));
	set_default(doc, "outdatedInstancesStrategy", json_string("UPDATE"));
	set_default(doc, "ec2TagFilters", json_array());
	set_default(doc, "onPremisesInstanceTagFilters", json_array());
	set_default(doc, "autoScalingGroups", json_array());
	set_default(doc, "triggerConfigurations", json_array());
	set_default(doc, "terminationHookEnabled", json_false());
	if (check_settings(call, doc, platform) < 0)
		goto out;
	if (json_array_size(tags) > 50) {
		httpd_call_error(call, "InvalidTagsToAddException", "at most 50 tags are allowed");
		goto out;
	}
	if (server && sync_hooks(d, call, app, name, doc, NULL, &left) < 0)
		goto out;
	r = store_group_create(d->store, app, name, config, doc, id);
	if (r < 0 && server) {
		/* not created: the hooks just installed go again */
		json_t *l2 = NULL, *prev = json_copy(doc);
		json_object_set_new(prev, "applicationName", json_string(app));
		json_object_set_new(prev, "deploymentGroupName", json_string(name));
		sync_hooks(d, call, app, name, NULL, prev, &l2);
		json_decref(prev);
		json_decref(l2);
	}
	if (r == -EEXIST)
		httpd_call_error(call, "DeploymentGroupAlreadyExistsException",
				 "A deployment group named %s already exists for application %s; pick another name",
				 name, app);
	else if (r == -ENOENT)
		httpd_call_error(call, "ApplicationDoesNotExistException", "No application found for name: %s", app);
	else if (r < 0)
		api_store_error(call, r);
	else {
		if (tags) {
			char *arn = api_arn_group(d, app, name);
			if (arn)
				api_tags_store(d, arn, tags);
			free(arn);
		}
		httpd_call_reply(call, json_pack("{s:s}", "deploymentGroupId", id));
	}
out:
	json_decref(ai);
	json_decref(doc);
	json_decref(left);
}

static int need_group(struct rd_daemon *d, struct httpd_call *call, const char *app, const char *name, json_t **ret)
{
	int r = api_group_get(d, app, name, ret);

	if (r == -ENOENT)
		httpd_call_error(call, "DeploymentGroupDoesNotExistException",
				 "No deployment group named %s in application %s (see ListDeploymentGroups)", name,
				 app);
	else if (r < 0)
		api_store_error(call, r);
	return r;
}

void api_op_get_deployment_group(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *app = api_str(in, "applicationName"), *name = api_str(in, "deploymentGroupName");
	json_t *gi = NULL;

	if (api_need_app(d, call, app, NULL) < 0 || need_group(d, call, app, name, &gi) < 0)
		return;
	httpd_call_reply(call, json_pack("{s:o}", "deploymentGroupInfo", gi));
}

void api_op_batch_get_deployment_groups(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *app = api_str(in, "applicationName");
	json_t *names = json_object_get(in, "deploymentGroupNames"), *n, *out;
	char errmsg[1024] = "";
	size_t i, o = 0;

	if (json_array_size(names) > 100) {
		httpd_call_error(call, "BatchLimitExceededException", "at most 100 deploymentGroupNames per call");
		return;
	}
	if (api_need_app(d, call, app, NULL) < 0)
		return;
	out = json_array();
	json_array_foreach(names, i, n)
	{
		json_t *gi = NULL;
		int r = api_group_get(d, app, json_string_value(n), &gi);
		if (r == 0)
			json_array_append_new(out, gi);
		else if (r == -ENOENT) {
			if (o < sizeof(errmsg))
				o += (size_t)snprintf(errmsg + o, sizeof(errmsg) - o,
						      "%sDeployment group %s does not exist", o ? "; " : "",
						      json_string_value(n));
		} else {
			json_decref(out);
			api_store_error(call, r);
			return;
		}
	}
	json_t *res = json_pack("{s:o}", "deploymentGroupsInfo", out);
	if (errmsg[0])
		json_object_set_new(res, "errorMessage", json_string(errmsg));
	httpd_call_reply(call, res);
}

void api_op_list_deployment_groups(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *app = api_str(in, "applicationName");
	char *cursor = NULL;
	json_t *names = NULL, *out;
	bool more = false;
	int r;

	if (api_page_cursor(call, in, "nextToken", &cursor) < 0)
		return;
	if (api_need_app(d, call, app, NULL) < 0) {
		free(cursor);
		return;
	}
	r = store_group_list(d->store, app, cursor, API_PAGE_SIZE, &names, &more);
	free(cursor);
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	out = json_pack("{s:s, s:O}", "applicationName", app, "deploymentGroups", names);
	if (more)
		api_page_next(call, out, "nextToken",
			      json_string_value(json_array_get(names, json_array_size(names) - 1)));
	json_decref(names);
	httpd_call_reply(call, out);
}

/* Members of DeploymentGroupInfo computed by the store, not settings. */
static const char *const computed[] = {
    "applicationName", "deploymentGroupId", "deploymentGroupName",	"deploymentConfigName",
    "computePlatform", "targetRevision",    "lastSuccessfulDeployment", "lastAttemptedDeployment",
};

void api_op_update_deployment_group(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *app = api_str(in, "applicationName"), *name = api_str(in, "currentDeploymentGroupName");
	const char *new_name = api_str(in, "newDeploymentGroupName"), *config = api_str(in, "deploymentConfigName");
	json_t *ai = NULL, *gi = NULL, *cfg_node = NULL, *prev = NULL, *left = NULL;
	char *oa = NULL, *na = NULL;
	int r;

	if (api_need_app(d, call, app, &ai) < 0)
		return;
	if (need_group(d, call, app, name, &gi) < 0)
		goto out;
	const char *platform = api_str(ai, "computePlatform") ?: "Server";
	if (config && check_config(d, call, config, platform) < 0)
		goto out;
	prev = json_deep_copy(gi);
	if (!config) {
		/* keep the string alive: the computed members are dropped from gi below */
		cfg_node = json_incref(json_object_get(gi, "deploymentConfigName"));
		config = json_string_value(cfg_node);
	}
	for (size_t i = 0; i < sizeof(computed) / sizeof(computed[0]); i++)
		json_object_del(gi, computed[i]);
	/* an update replacing filters with the other form drops the old form */
	if (json_object_get(in, "ec2TagSet"))
		json_object_set_new(gi, "ec2TagFilters", json_array());
	if (json_object_get(in, "ec2TagFilters"))
		json_object_del(gi, "ec2TagSet");
	if (json_object_get(in, "onPremisesTagSet"))
		json_object_set_new(gi, "onPremisesInstanceTagFilters", json_array());
	if (json_object_get(in, "onPremisesInstanceTagFilters"))
		json_object_del(gi, "onPremisesTagSet");
	if (json_array_size(json_object_get(in, "ec2TagFilters")) && json_object_get(in, "ec2TagSet")) {
		httpd_call_error(call, "InvalidEC2TagCombinationException", "use ec2TagFilters or ec2TagSet, not both");
		goto out;
	}
	if (json_array_size(json_object_get(in, "onPremisesInstanceTagFilters")) &&
	    json_object_get(in, "onPremisesTagSet")) {
		httpd_call_error(call, "InvalidOnPremisesTagCombinationException",
				 "use onPremisesInstanceTagFilters or onPremisesTagSet, not both");
		goto out;
	}
	merge_settings(gi, in);
	if (check_settings(call, gi, platform) < 0)
		goto out;
	if (!new_name)
		new_name = name;
	if (!strcmp(platform, "Server") && sync_hooks(d, call, app, new_name, gi, prev, &left) < 0)
		goto out;
	oa = api_arn_group(d, app, name);
	na = api_arn_group(d, app, new_name);
	r = oa && na ? store_group_update(d->store, app, name, new_name, config, gi, oa, na) : -ENOMEM;
	if (r == -EEXIST)
		httpd_call_error(call, "DeploymentGroupAlreadyExistsException",
				 "A deployment group named %s already exists for application %s", new_name, app);
	else if (r == -ENOENT)
		httpd_call_error(call, "DeploymentGroupDoesNotExistException",
				 "No deployment group named %s in application %s", name, app);
	else if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call,
				 json_pack("{s:o}", "hooksNotCleanedUp", left ? json_incref(left) : json_array()));
out:
	free(oa);
	free(na);
	json_decref(prev);
	json_decref(left);
	json_decref(cfg_node);
	json_decref(ai);
	json_decref(gi);
}

void api_op_delete_deployment_group(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *app = api_str(in, "applicationName"), *name = api_str(in, "deploymentGroupName");
	json_t *gi = NULL, *left = NULL;
	char *arn;
	int r;

	if (api_need_app(d, call, app, NULL) < 0)
		return;
	/* the group's hooks go first; one that cannot be removed is reported */
	if (api_group_get(d, app, name, &gi) == 0 && json_array_size(json_object_get(gi, "autoScalingGroups")) > 0 &&
	    sync_hooks(d, call, app, name, NULL, gi, &left) < 0) {
		json_decref(gi);
		return;
	}
	json_decref(gi);
	arn = api_arn_group(d, app, name);
	r = arn ? store_group_delete(d->store, app, name, arn) : -ENOMEM;
	free(arn);
	if (r < 0 && r != -ENOENT)
		api_store_error(call, r);
	else
		httpd_call_reply(call,
				 json_pack("{s:o}", "hooksNotCleanedUp", left ? json_incref(left) : json_array()));
	json_decref(left);
}
