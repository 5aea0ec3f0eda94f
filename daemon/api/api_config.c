/* Deployment configs. The 17 built-ins are seeded by migration 2. */
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

static int check_mhh(struct httpd_call *call, json_t *m, const char *exc, const char *what)
{
	const char *type = api_str(m, "type");
	json_t *v = json_object_get(m, "value");

	if (!type || !v) {
		httpd_call_error(call, exc, "%s needs both type (HOST_COUNT or FLEET_PERCENT) and value", what);
		return -EINVAL;
	}
	if (!strcmp(type, "FLEET_PERCENT") && (json_integer_value(v) < 0 || json_integer_value(v) > 99)) {
		httpd_call_error(call, exc, "%s FLEET_PERCENT must be 0 to 99, got %lld", what,
				 (long long)json_integer_value(v));
		return -EINVAL;
	}
	if (strcmp(type, "FLEET_PERCENT") && strcmp(type, "HOST_COUNT")) {
		httpd_call_error(call, exc, "%s type must be HOST_COUNT or FLEET_PERCENT, not %s", what, type);
		return -EINVAL;
	}
	if (json_integer_value(v) < 0) {
		httpd_call_error(call, exc, "%s value must not be negative", what);
		return -EINVAL;
	}
	return 0;
}

/* One time-based step: a percentage and an interval, given in minutes as in
 * CodeDeploy or, as rolloutd's extension, in seconds (never both). */
static int check_step(struct httpd_call *call, json_t *sub, const char *type, const char *pk, const char *ik,
		      const char *isk)
{
	const char *exc = "InvalidTrafficRoutingConfigurationException";
	json_t *p = json_object_get(sub, pk), *i = json_object_get(sub, ik), *is = json_object_get(sub, isk);

	if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 99) {
		httpd_call_error(call, exc, "%s needs %s, a whole percentage from 1 to 99", type, pk);
		return -EINVAL;
	}
	if (i && is) {
		httpd_call_error(call, exc, "%s takes %s (minutes) or %s, not both", type, ik, isk);
		return -EINVAL;
	}
	if (is && (json_integer_value(is) < 1 || json_integer_value(is) > 2880 * 60)) {
		httpd_call_error(call, exc, "%s %s must be 1 to 172800 seconds (48 hours)", type, isk);
		return -EINVAL;
	}
	if (!is && (!json_is_integer(i) || json_integer_value(i) < 1 || json_integer_value(i) > 2880)) {
		httpd_call_error(call, exc, "%s needs %s, 1 to 2880 minutes (or %s in seconds)", type, ik, isk);
		return -EINVAL;
	}
	return 0;
}

static int check_traffic(struct httpd_call *call, json_t *t, const char *platform)
{
	const char *type = api_str(t, "type");
	json_t *canary = json_object_get(t, "timeBasedCanary"), *linear = json_object_get(t, "timeBasedLinear");
	const char *exc = "InvalidTrafficRoutingConfigurationException";

	(void)platform;
	if (!type) {
		httpd_call_error(
		    call, exc, "trafficRoutingConfig.type is required (TimeBasedCanary, TimeBasedLinear or AllAtOnce)");
		return -EINVAL;
	}
	/* Server configs may shift traffic too: rolloutd moves it by load-balancer
	 * weights between a blue and a green fleet (docs/traffic.md section 4). */
	if (!strcmp(type, "TimeBasedCanary")) {
		if (!canary || linear) {
			httpd_call_error(call, exc, "TimeBasedCanary needs timeBasedCanary and no timeBasedLinear");
			return -EINVAL;
		}
		return check_step(call, canary, type, "canaryPercentage", "canaryInterval", "canaryIntervalInSeconds");
	} else if (!strcmp(type, "TimeBasedLinear")) {
		if (!linear || canary) {
			httpd_call_error(call, exc, "TimeBasedLinear needs timeBasedLinear and no timeBasedCanary");
			return -EINVAL;
		}
		return check_step(call, linear, type, "linearPercentage", "linearInterval", "linearIntervalInSeconds");
	} else if (canary || linear) {
		httpd_call_error(call, exc, "AllAtOnce takes neither timeBasedCanary nor timeBasedLinear");
		return -EINVAL;
	}
	return 0;
}

void api_op_create_deployment_config(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *name = api_str(in, "deploymentConfigName");
	const char *platform = api_str(in, "computePlatform");
	json_t *mhh = json_object_get(in, "minimumHealthyHosts"), *trc = json_object_get(in, "trafficRoutingConfig");
	json_t *zonal = json_object_get(in, "zonalConfig"), *doc;
	char id[37];
	int r;

	if (!platform)
		platform = "Server";
	if (!strncmp(name, "CodeDeployDefault.", 18)) {
		httpd_call_error(
		    call, "InvalidDeploymentConfigNameException",
		    "names starting with CodeDeployDefault. are reserved for the built-in configs; pick another name");
		return;
	}
	if (!strcmp(platform, "Server")) {
		if (!mhh) {
			httpd_call_error(call, "InvalidMinimumHealthyHostValueException",
					 "a Server deployment config needs minimumHealthyHosts {type, value}");
			return;
		}
		if (check_mhh(call, mhh, "InvalidMinimumHealthyHostValueException", "minimumHealthyHosts") < 0)
			return;
	} else {
		if (mhh) {
			httpd_call_error(
			    call, "InvalidMinimumHealthyHostValueException",
			    "minimumHealthyHosts applies to Server configs only; %s configs use trafficRoutingConfig",
			    platform);
			return;
		}
		if (zonal) {
			httpd_call_error(call, "InvalidZonalDeploymentConfigurationException",
					 "zonalConfig applies to Server configs only");
			return;
		}
	}
	if (trc && check_traffic(call, trc, platform) < 0)
		return;
	if (zonal) {
		json_t *pz = json_object_get(zonal, "minimumHealthyHostsPerZone");
		json_t *f = json_object_get(zonal, "firstZoneMonitorDurationInSeconds"),
		       *m = json_object_get(zonal, "monitorDurationInSeconds");
		if ((f && json_integer_value(f) < 0) || (m && json_integer_value(m) < 0)) {
			httpd_call_error(call, "InvalidZonalDeploymentConfigurationException",
					 "zonalConfig durations must not be negative");
			return;
		}
		if (pz && check_mhh(call, pz, "InvalidZonalDeploymentConfigurationException",
				    "zonalConfig.minimumHealthyHostsPerZone") < 0)
			return;
	}
	doc = json_object();
	if (mhh)
		json_object_set(doc, "minimumHealthyHosts", mhh);
	if (trc)
		json_object_set(doc, "trafficRoutingConfig", trc);
	else if (strcmp(platform, "Server"))
		json_object_set_new(doc, "trafficRoutingConfig", json_pack("{s:s}", "type", "AllAtOnce"));
	if (zonal)
		json_object_set(doc, "zonalConfig", zonal);
	r = store_config_create(d->store, name, platform, doc, id);
	json_decref(doc);
	if (r == -EEXIST)
		httpd_call_error(call, "DeploymentConfigAlreadyExistsException",
				 "A deployment configuration named %s already exists; pick another name", name);
	else if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call, json_pack("{s:s}", "deploymentConfigId", id));
}

void api_op_get_deployment_config(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *name = api_str(in, "deploymentConfigName");
	json_t *info = NULL;
	int r = api_config_get(d, name, &info);

	if (r == -ENOENT)
		httpd_call_error(call, "DeploymentConfigDoesNotExistException",
				 "No deployment configuration named %s (see ListDeploymentConfigs)", name);
	else if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call, json_pack("{s:o}", "deploymentConfigInfo", info));
}

void api_op_list_deployment_configs(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	char *cursor = NULL;
	json_t *names = NULL, *out;
	bool more = false;
	int r;

	if (api_page_cursor(call, in, "nextToken", &cursor) < 0)
		return;
	r = store_config_list(d->store, cursor, API_PAGE_SIZE, &names, &more);
	free(cursor);
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	out = json_pack("{s:O}", "deploymentConfigsList", names);
	if (more)
		api_page_next(call, out, "nextToken",
			      json_string_value(json_array_get(names, json_array_size(names) - 1)));
	json_decref(names);
	httpd_call_reply(call, out);
}

void api_op_delete_deployment_config(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *name = api_str(in, "deploymentConfigName");
	int r = store_config_delete(d->store, name);

	if (r == -EPERM)
		httpd_call_error(call, "InvalidOperationException",
				 "%s is a built-in deployment configuration and cannot be deleted", name);
	else if (r == -EBUSY)
		httpd_call_error(
		    call, "DeploymentConfigInUseException",
		    "deployment configuration %s is used by a deployment group; change the group's config first", name);
	else if (r == -ENOENT)
		httpd_call_reply(call, NULL); /* deleting what is not there succeeds, as on AWS */
	else if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call, NULL);
}
