/* The AppSpec's TargetService and the deployment group, as the ECS plugin
 * reads them (ecs_spec.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "appspecres.h"
#include "ecs_spec.h"

const char *ecs_jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A scalar as the daemon passes AppSpec values (strings), or a number. */
static bool scalar_int(const json_t *v, long long *ret)
{
	char *end;

	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		return true;
	}
	if (json_is_string(v) && *json_string_value(v)) {
		*ret = strtoll(json_string_value(v), &end, 10);
		return *end == '\0';
	}
	return false;
}

void ecs_spec_clear(struct ecs_spec *s)
{
	json_decref(s->network);
	json_decref(s->cps);
	memset(s, 0, sizeof(*s));
}

static int spec_fail(struct rollout_error *err, const char *fmt, ...) ROLLOUT_PRINTF(2, 3);
static int spec_fail(struct rollout_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rollout_error_setv(err, -EINVAL, "INVALID_REVISION", fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static json_t *str_list(const json_t *v)
{
	json_t *out = json_array(), *x;
	size_t i;

	if (json_is_string(v))
		json_array_append_new(out, json_string(json_string_value(v)));
	json_array_foreach(v, i, x) if (json_is_string(x) && *json_string_value(x))
	    json_array_append_new(out, json_string(json_string_value(x)));
	return out;
}

/* NetworkConfiguration.AwsvpcConfiguration: all of it or none of it. */
static int spec_network(const json_t *props, const char *logical, struct ecs_spec *s, struct rollout_error *err)
{
	json_t *nc = appspec_get(props, "NetworkConfiguration"), *av, *subnets, *sgs, *pub;

	if (!nc)
		return 0;
	av = appspec_get(nc, "AwsvpcConfiguration");
	if (!json_is_object(av))
		return spec_fail(err,
				 "AppSpec Resources %s.Properties.NetworkConfiguration needs AwsvpcConfiguration "
				 "{Subnets, SecurityGroups, AssignPublicIp}%s",
				 logical, "");
	subnets = str_list(appspec_get(av, "Subnets"));
	sgs = str_list(appspec_get(av, "SecurityGroups"));
	pub = appspec_get(av, "AssignPublicIp");
	if (!json_array_size(subnets) || !json_array_size(sgs) || !json_is_string(pub) ||
	    (strcmp(json_string_value(pub), "ENABLED") && strcmp(json_string_value(pub), "DISABLED"))) {
		json_decref(subnets);
		json_decref(sgs);
		return spec_fail(err,
				 "AppSpec Resources %s.Properties.NetworkConfiguration.AwsvpcConfiguration is all or "
				 "none: give Subnets, SecurityGroups and AssignPublicIp (ENABLED or DISABLED)%s, or "
				 "leave NetworkConfiguration out to keep the current task set's",
				 logical, "");
	}
	s->network = json_pack("{s:{s:o, s:o, s:s}}", "awsvpcConfiguration", "subnets", subnets, "securityGroups", sgs,
			       "assignPublicIp", json_string_value(pub));
	return s->network ? 0 : -ENOMEM;
}

static int spec_cps(const json_t *props, const char *logical, struct ecs_spec *s, struct rollout_error *err)
{
	json_t *v = appspec_get(props, "CapacityProviderStrategy"), *x;
	size_t i;

	if (!v)
		return 0;
	if (!json_is_array(v) || !json_array_size(v))
		return spec_fail(err,
				 "AppSpec Resources %s.Properties.CapacityProviderStrategy must be a list of "
				 "{CapacityProvider, Weight, Base}%s",
				 logical, "");
	s->cps = json_array();
	json_array_foreach(v, i, x)
	{
		json_t *cp = appspec_get(x, "CapacityProvider"), *o;
		long long w = 0, b = 0;
		if (!json_is_string(cp) || !*json_string_value(cp) ||
		    (appspec_get(x, "Weight") && !scalar_int(appspec_get(x, "Weight"), &w)) ||
		    (appspec_get(x, "Base") && !scalar_int(appspec_get(x, "Base"), &b)))
			return spec_fail(err,
					 "AppSpec Resources %s.Properties.CapacityProviderStrategy entries need "
					 "CapacityProvider (a name) and whole numbers for Weight and Base%s",
					 logical, "");
		o = json_pack("{s:s}", "capacityProvider", json_string_value(cp));
		if (appspec_get(x, "Weight"))
			json_object_set_new(o, "weight", json_integer(w));
		if (appspec_get(x, "Base"))
			json_object_set_new(o, "base", json_integer(b));
		json_array_append_new(s->cps, o);
	}
	return 0;
}

/* Reads the one AWS::ECS::Service of an AppSpec (JSON, as the daemon passes
 * it). */
int ecs_parse_appspec(const char *appspec_json, struct ecs_spec *ret, struct rollout_error *err)
{
	static const struct appspec_kind kind = {
	    .platform = "an ECS",
	    .type = "AWS::ECS::Service",
	    .what = "the service's",
	    .example = "TargetService",
	    .properties = "TaskDefinition and LoadBalancerInfo {ContainerName, ContainerPort}"};
	json_t *doc = NULL, *props = NULL, *lbi, *v;
	struct ecs_spec s = {0};
	const char *logical = NULL;
	int rc;

	if ((rc = appspec_resource(appspec_json, &kind, &doc, &logical, &props, err)) < 0)
		goto out;
	v = appspec_get(props, "TaskDefinition");
	if (!json_is_string(v) || !*json_string_value(v) || strlen(json_string_value(v)) >= sizeof(s.task_definition)) {
		rc = spec_fail(err,
			       "AppSpec Resources %s.Properties.TaskDefinition is missing; give the ARN of the task "
			       "definition to deploy (arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION)%s",
			       logical, "");
		goto out;
	}
	snprintf(s.task_definition, sizeof(s.task_definition), "%s", json_string_value(v));
	lbi = appspec_get(props, "LoadBalancerInfo");
	v = appspec_get(lbi, "ContainerName");
	if (!json_is_string(v) || !*json_string_value(v) || strlen(json_string_value(v)) >= sizeof(s.container)) {
		rc = spec_fail(err,
			       "AppSpec Resources %s.Properties.LoadBalancerInfo.ContainerName is missing; name the "
			       "container of the task definition that serves the load balancer%s",
			       logical, "");
		goto out;
	}
	snprintf(s.container, sizeof(s.container), "%s", json_string_value(v));
	if (!scalar_int(appspec_get(lbi, "ContainerPort"), &s.port) || s.port < 1 || s.port > 65535) {
		rc = spec_fail(err,
			       "AppSpec Resources %s.Properties.LoadBalancerInfo.ContainerPort is missing or not a "
			       "port number (1-65535)%s",
			       logical, "");
		goto out;
	}
	v = appspec_get(props, "PlatformVersion");
	if (json_is_string(v) && strlen(json_string_value(v)) < sizeof(s.platform_version))
		snprintf(s.platform_version, sizeof(s.platform_version), "%s", json_string_value(v));
	/* rolloutd's extension: a service with the EXTERNAL controller has no
	 * launch type of its own, and a first task set needs one */
	v = appspec_get(props, "LaunchType");
	if (v) {
		const char *lt = json_string_value(v);
		if (!lt || (strcmp(lt, "FARGATE") && strcmp(lt, "EC2") && strcmp(lt, "EXTERNAL"))) {
			rc = spec_fail(err,
				       "AppSpec Resources %s.Properties.LaunchType must be FARGATE, EC2 or EXTERNAL%s",
				       logical, "");
			goto out;
		}
		snprintf(s.launch_type, sizeof(s.launch_type), "%s", lt);
	}
	if ((rc = spec_network(props, logical, &s, err)) < 0 || (rc = spec_cps(props, logical, &s, err)) < 0)
		goto out;
	if (s.launch_type[0] && s.cps) {
		rc = spec_fail(err,
			       "AppSpec Resources %s.Properties gives both LaunchType and CapacityProviderStrategy; "
			       "give one%s",
			       logical, "");
		goto out;
	}
	*ret = s;
	memset(&s, 0, sizeof(s));
	rc = 0;
out:
	ecs_spec_clear(&s);
	json_decref(doc);
	return rc;
}

int ecs_parse_group(const char *group_json, struct ecs_group *ret, struct rollout_error *err)
{
	json_t *g = json_loads(group_json ? group_json : "", 0, NULL);
	json_t *svc = json_array_get(json_object_get(g, "ecsServices"), 0);
	json_t *pair =
	    json_array_get(json_object_get(json_object_get(g, "loadBalancerInfo"), "targetGroupPairInfoList"), 0);
	json_t *tgs = json_object_get(pair, "targetGroups");
	json_t *prod = json_object_get(json_object_get(pair, "prodTrafficRoute"), "listenerArns");
	json_t *test = json_object_get(json_object_get(pair, "testTrafficRoute"), "listenerArns");
	struct ecs_group r = {0};
	int rc = 0;

	if (!ecs_jstr(svc, "serviceName") || !ecs_jstr(svc, "clusterName") ||
	    strlen(ecs_jstr(svc, "serviceName")) >= 256 || strlen(ecs_jstr(svc, "clusterName")) >= 256) {
		rc = rollout_error_set(err, -EINVAL, "INVALID_ECS_SERVICE",
				       "the deployment group names no ECS service; set ecsServices [{serviceName, "
				       "clusterName}]");
		goto out;
	}
	snprintf(r.cluster, sizeof(r.cluster), "%s", ecs_jstr(svc, "clusterName"));
	snprintf(r.service, sizeof(r.service), "%s", ecs_jstr(svc, "serviceName"));
	if (json_array_size(tgs) != 2 || !ecs_jstr(json_array_get(tgs, 0), "name") ||
	    !ecs_jstr(json_array_get(tgs, 1), "name") || strlen(ecs_jstr(json_array_get(tgs, 0), "name")) >= 64 ||
	    strlen(ecs_jstr(json_array_get(tgs, 1), "name")) >= 64 ||
	    !strcmp(ecs_jstr(json_array_get(tgs, 0), "name"), ecs_jstr(json_array_get(tgs, 1), "name"))) {
		rc = rollout_error_set(err, -EINVAL, "ELASTIC_LOAD_BALANCING_INVALID",
				       "the deployment group's loadBalancerInfo.targetGroupPairInfoList[0] needs "
				       "targetGroups with two different target group names");
		goto out;
	}
	for (int i = 0; i < 2; i++)
		snprintf(r.tg[i], sizeof(r.tg[i]), "%s", ecs_jstr(json_array_get(tgs, i), "name"));
	if (json_array_size(prod) != 1 || !json_string_value(json_array_get(prod, 0)) ||
	    strlen(json_string_value(json_array_get(prod, 0))) >= sizeof(r.prod)) {
		rc = rollout_error_set(err, -EINVAL, "ELASTIC_LOAD_BALANCING_INVALID",
				       "the deployment group's targetGroupPairInfoList[0].prodTrafficRoute needs "
				       "listenerArns with the production listener's ARN");
		goto out;
	}
	snprintf(r.prod, sizeof(r.prod), "%s", json_string_value(json_array_get(prod, 0)));
	if (json_array_size(test) > 1 ||
	    (json_array_size(test) == 1 && (!json_string_value(json_array_get(test, 0)) ||
					    strlen(json_string_value(json_array_get(test, 0))) >= sizeof(r.test)))) {
		rc = rollout_error_set(err, -EINVAL, "ELASTIC_LOAD_BALANCING_INVALID",
				       "the deployment group's targetGroupPairInfoList[0].testTrafficRoute needs "
				       "listenerArns with one listener ARN");
		goto out;
	}
	if (json_array_size(test) == 1)
		snprintf(r.test, sizeof(r.test), "%s", json_string_value(json_array_get(test, 0)));
	*ret = r;
out:
	json_decref(g);
	return rc;
}
