/* Walks the generated model tables (api_model.c) over a request body. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/api_model.h"

/* Which exception a missing / invalid member gives, by member name. */
static const struct {
	const char *member, *required, *invalid;
} member_exc[] = {
    {"applicationName", "ApplicationNameRequiredException", "InvalidApplicationNameException"},
    {"newApplicationName", "ApplicationNameRequiredException", "InvalidApplicationNameException"},
    {"applicationNames", "ApplicationNameRequiredException", "InvalidApplicationNameException"},
    {"deploymentGroupName", "DeploymentGroupNameRequiredException", "InvalidDeploymentGroupNameException"},
    {"currentDeploymentGroupName", "DeploymentGroupNameRequiredException", "InvalidDeploymentGroupNameException"},
    {"newDeploymentGroupName", "DeploymentGroupNameRequiredException", "InvalidDeploymentGroupNameException"},
    {"deploymentGroupNames", "DeploymentGroupNameRequiredException", "InvalidDeploymentGroupNameException"},
    {"deploymentConfigName", "DeploymentConfigNameRequiredException", "InvalidDeploymentConfigNameException"},
    {"deploymentId", "DeploymentIdRequiredException", "InvalidDeploymentIdException"},
    {"deploymentIds", "DeploymentIdRequiredException", "InvalidDeploymentIdException"},
    {"serviceRoleArn", "RoleRequiredException", "InvalidRoleException"},
    {"revision", "RevisionRequiredException", "InvalidRevisionException"},
    {"revisions", "RevisionRequiredException", "InvalidRevisionException"},
    {"instanceName", "InstanceNameRequiredException", "InvalidInstanceNameException"},
    {"instanceNames", "InstanceNameRequiredException", "InvalidInstanceNameException"},
    {"instanceId", "InstanceIdRequiredException", "InvalidInstanceIdException"},
    {"instanceIds", "InstanceIdRequiredException", "InvalidInstanceIdException"},
    {"targetId", "DeploymentTargetIdRequiredException", "InvalidDeploymentTargetIdException"},
    {"targetIds", "DeploymentTargetIdRequiredException", "InvalidDeploymentTargetIdException"},
    {"tags", "TagRequiredException", "InvalidTagException"},
    {"Tags", "TagRequiredException", "InvalidTagException"},
    {"TagKeys", "TagRequiredException", "InvalidTagException"},
    {"ResourceArn", "ResourceArnRequiredException", "InvalidArnException"},
    {"iamSessionArn", "IamArnRequiredException", "InvalidIamSessionArnException"},
    {"iamUserArn", "IamUserArnRequiredException", "InvalidIamUserArnException"},
    {"description", "InvalidInputException", "DescriptionTooLongException"},
    {"ec2TagFilters", "InvalidInputException", "InvalidEC2TagException"},
    {"ec2TagSet", "InvalidInputException", "InvalidEC2TagException"},
    {"onPremisesInstanceTagFilters", "InvalidInputException", "InvalidTagException"},
    {"onPremisesTagSet", "InvalidInputException", "InvalidTagException"},
    {"tagFilters", "InvalidInputException", "InvalidTagFilterException"},
    {"autoScalingGroups", "InvalidInputException", "InvalidAutoScalingGroupException"},
    {"triggerConfigurations", "InvalidInputException", "InvalidTriggerConfigException"},
    {"alarmConfiguration", "InvalidInputException", "InvalidAlarmConfigException"},
    {"overrideAlarmConfiguration", "InvalidInputException", "InvalidAlarmConfigException"},
    {"autoRollbackConfiguration", "InvalidInputException", "InvalidAutoRollbackConfigException"},
    {"deploymentStyle", "InvalidInputException", "InvalidDeploymentStyleException"},
    {"blueGreenDeploymentConfiguration", "InvalidInputException", "InvalidBlueGreenDeploymentConfigurationException"},
    {"loadBalancerInfo", "InvalidInputException", "InvalidLoadBalancerInfoException"},
    {"ecsServices", "InvalidInputException", "InvalidECSServiceException"},
    {"minimumHealthyHosts", "InvalidInputException", "InvalidMinimumHealthyHostValueException"},
    {"trafficRoutingConfig", "InvalidInputException", "InvalidTrafficRoutingConfigurationException"},
    {"zonalConfig", "InvalidInputException", "InvalidZonalDeploymentConfigurationException"},
    {"targetInstances", "InvalidInputException", "InvalidTargetInstancesException"},
    {"createTimeRange", "InvalidInputException", "InvalidTimeRangeException"},
    {"includeOnlyStatuses", "InvalidInputException", "InvalidDeploymentStatusException"},
    {"targetFilters", "InvalidInputException", "InvalidTargetFilterNameException"},
    {"nextToken", "InvalidInputException", "InvalidNextTokenException"},
    {"NextToken", "InvalidInputException", "InvalidNextTokenException"},
    {"externalId", "InvalidInputException", "InvalidExternalIdException"},
    {"status", "InvalidInputException", "InvalidLifecycleEventHookExecutionStatusException"},
    {"lifecycleEventHookExecutionId", "InvalidInputException", "InvalidLifecycleEventHookExecutionIdException"},
};

/* Which exception a bad enum value gives, by enum shape. */
static const struct {
	const char *shape, *exc;
} enum_exc[] = {
    {"ComputePlatform", "InvalidComputePlatformException"},
    {"DeploymentStatus", "InvalidDeploymentStatusException"},
    {"FileExistsBehavior", "InvalidFileExistsBehaviorException"},
    {"RevisionLocationType", "InvalidRevisionException"},
    {"BundleType", "InvalidRevisionException"},
    {"MinimumHealthyHostsType", "InvalidMinimumHealthyHostValueException"},
    {"MinimumHealthyHostsPerZoneType", "InvalidZonalDeploymentConfigurationException"},
    {"TrafficRoutingType", "InvalidTrafficRoutingConfigurationException"},
    {"AutoRollbackEvent", "InvalidAutoRollbackConfigException"},
    {"TriggerEventType", "InvalidTriggerConfigException"},
    {"TagFilterType", "InvalidTagException"},
    {"EC2TagFilterType", "InvalidEC2TagException"},
    {"DeploymentType", "InvalidDeploymentStyleException"},
    {"DeploymentOption", "InvalidDeploymentStyleException"},
    {"InstanceAction", "InvalidBlueGreenDeploymentConfigurationException"},
    {"DeploymentReadyAction", "InvalidBlueGreenDeploymentConfigurationException"},
    {"GreenFleetProvisioningAction", "InvalidBlueGreenDeploymentConfigurationException"},
    {"ApplicationRevisionSortBy", "InvalidSortByException"},
    {"SortOrder", "InvalidSortOrderException"},
    {"ListStateFilterAction", "InvalidDeployedStateFilterException"},
    {"RegistrationStatus", "InvalidRegistrationStatusException"},
    {"InstanceStatus", "InvalidInstanceStatusException"},
    {"InstanceType", "InvalidInstanceTypeException"},
    {"TargetFilterName", "InvalidTargetFilterNameException"},
    {"DeploymentWaitType", "InvalidDeploymentWaitTypeException"},
    {"LifecycleEventStatus", "InvalidLifecycleEventHookExecutionStatusException"},
    {"OutdatedInstancesStrategy", "InvalidInputException"},
};

struct vctx {
	const char *exc;
	char *msg;
	size_t msglen;
	const char *top; /* the top-level member being validated */
	char path[512];
};

static const char *member_invalid(const char *m)
{
	for (size_t i = 0; m && i < sizeof(member_exc) / sizeof(member_exc[0]); i++)
		if (!strcmp(member_exc[i].member, m))
			return member_exc[i].invalid;
	return NULL;
}

static const char *member_required(const char *m)
{
	for (size_t i = 0; i < sizeof(member_exc) / sizeof(member_exc[0]); i++)
		if (!strcmp(member_exc[i].member, m))
			return member_exc[i].required;
	return "InvalidInputException";
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int fail(struct vctx *v, const char *exc, const char *fmt, const char *a, const char *b)
{
	v->exc = exc;
	snprintf(v->msg, v->msglen, fmt, v->path[0] ? v->path : "the request", a ? a : "", b ? b : "");
	return -EINVAL;
}
#pragma GCC diagnostic pop

static const char *invalid_for(struct vctx *v, const char *local)
{
	const char *e = member_invalid(local);
	if (!e)
		e = member_invalid(v->top);
	return e ? e : "InvalidInputException";
}

static const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static bool has_member(const struct api_shape *s, const char *name)
{
	for (size_t i = 0; i < s->n_members; i++)
		if (!strcmp(s->members[i].name, name))
			return true;
	return false;
}

static int validate(struct vctx *v, int si, const char *local, json_t *in, json_t **ret)
{
	const struct api_shape *s = &api_shapes[si];
	size_t plen = strlen(v->path);
	int r = 0;

	switch (s->type) {
	case AT_STRUCT: {
		if (!json_is_object(in))
			return fail(v, "SerializationException", "%s must be an object, not %s", json_kind(in), NULL);
		json_t *out = json_object();
		if (!out)
			return -ENOMEM;
		for (size_t i = 0; i < s->n_members; i++) {
			const struct api_member *m = &s->members[i];
			json_t *val = json_object_get(in, m->name);
			snprintf(v->path + plen, sizeof(v->path) - plen, "%s%s", plen ? "." : "", m->name);
			if (!val || json_is_null(val)) {
				if (m->required) {
					v->exc = member_required(m->name);
					snprintf(v->msg, v->msglen, "%s is required; add it to the request", v->path);
					json_decref(out);
					return -EINVAL;
				}
				continue;
			}
			json_t *clean = NULL;
			r = validate(v, m->shape, m->name, val, &clean);
			if (r < 0) {
				json_decref(out);
				return r;
			}
			json_object_set_new(out, m->name, clean);
		}
		v->path[plen] = '\0';
		if (s->open) {
			const char *k;
			json_t *val;
			json_object_foreach(in, k, val)
			{
				if (!json_object_get(out, k) && !json_is_null(val) && !has_member(s, k))
					json_object_set(out, k, val);
			}
		}
		*ret = out;
		return 0;
	}
	case AT_LIST: {
		if (!json_is_array(in))
			return fail(v, "SerializationException", "%s must be a list, not %s", json_kind(in), NULL);
		size_t n = json_array_size(in);
		if ((s->has_min && (int64_t)n < s->min) || (s->has_max && (int64_t)n > s->max)) {
			char b[64];
			snprintf(b, sizeof(b), "%lld..%lld", (long long)s->min, (long long)s->max);
			return fail(v, invalid_for(v, local), "%s must have %s entries", b, NULL);
		}
		json_t *out = json_array();
		if (!out)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			json_t *el = json_array_get(in, i), *clean = NULL;
			snprintf(v->path + plen, sizeof(v->path) - plen, "[%zu]", i);
			if (json_is_null(el))
				continue;
			r = validate(v, s->member, local, el, &clean);
			if (r < 0) {
				json_decref(out);
				return r;
			}
			json_array_append_new(out, clean);
		}
		v->path[plen] = '\0';
		*ret = out;
		return 0;
	}
	case AT_MAP: {
		if (!json_is_object(in))
			return fail(v, "SerializationException", "%s must be a map, not %s", json_kind(in), NULL);
		json_t *out = json_object(), *val;
		const char *k;
		if (!out)
			return -ENOMEM;
		json_object_foreach(in, k, val)
		{
			json_t *ks = json_string(k), *kc = NULL, *clean = NULL;
			snprintf(v->path + plen, sizeof(v->path) - plen, "%s%s", plen ? "." : "", k);
			r = ks ? validate(v, s->key, local, ks, &kc) : -ENOMEM;
			json_decref(ks);
			json_decref(kc);
			if (r == 0 && !json_is_null(val))
				r = validate(v, s->value, local, val, &clean);
			if (r < 0) {
				json_decref(out);
				return r;
			}
			if (clean)
				json_object_set_new(out, k, clean);
		}
		v->path[plen] = '\0';
		*ret = out;
		return 0;
	}
	case AT_STRING: {
		if (!json_is_string(in))
			return fail(v, "SerializationException", "%s must be a string, not %s", json_kind(in), NULL);
		const char *str = json_string_value(in);
		size_t len = json_string_length(in);
		if (memchr(str, '\0', len))
			return fail(v, invalid_for(v, local), "%s must not contain NUL characters", NULL, NULL);
		if (s->n_enums) {
			bool ok = false;
			for (size_t i = 0; i < s->n_enums && !ok; i++)
				ok = !strcmp(s->enums[i], str);
			if (!ok && !s->open) {
				char allowed[512] = "";
				size_t o = 0;
				for (size_t i = 0; i < s->n_enums && o < sizeof(allowed); i++)
					o += (size_t)snprintf(allowed + o, sizeof(allowed) - o, "%s%s", i ? ", " : "",
							      s->enums[i]);
				const char *exc = NULL;
				for (size_t i = 0; i < sizeof(enum_exc) / sizeof(enum_exc[0]); i++)
					if (!strcmp(enum_exc[i].shape, s->name))
						exc = enum_exc[i].exc;
				return fail(v, exc ? exc : invalid_for(v, local), "%s: '%s' is not one of %s", str,
					    allowed);
			}
		}
		if ((s->has_min && (int64_t)len < s->min) || (s->has_max && (int64_t)len > s->max)) {
			char b[64];
			snprintf(b, sizeof(b), "%lld to %lld", (long long)s->min, (long long)s->max);
			return fail(v, invalid_for(v, local), "%s must be %s characters long", b, NULL);
		}
		*ret = json_incref(in);
		return 0;
	}
	case AT_INT:
	case AT_LONG:
		if (json_is_real(in) && floor(json_real_value(in)) == json_real_value(in) &&
		    fabs(json_real_value(in)) < 9e15) {
			*ret = json_integer((json_int_t)json_real_value(in));
			return 0;
		}
		if (!json_is_integer(in))
			return fail(v, "SerializationException", "%s must be an integer, not %s", json_kind(in), NULL);
		if (s->type == AT_INT && (json_integer_value(in) > INT32_MAX || json_integer_value(in) < INT32_MIN))
			return fail(v, invalid_for(v, local), "%s is out of range for a 32-bit integer", NULL, NULL);
		*ret = json_incref(in);
		return 0;
	case AT_BOOL:
		if (!json_is_boolean(in))
			return fail(v, "SerializationException", "%s must be true or false, not %s", json_kind(in),
				    NULL);
		*ret = json_incref(in);
		return 0;
	case AT_DOUBLE:
		if (!json_is_number(in))
			return fail(v, "SerializationException", "%s must be a number, not %s", json_kind(in), NULL);
		*ret = json_real(json_number_value(in));
		return 0;
	case AT_TIMESTAMP:
		/* epoch seconds, integer or fraction (reference §5) */
		if (!json_is_number(in))
			return fail(v, "SerializationException", "%s must be a timestamp in epoch seconds, not %s",
				    json_kind(in), NULL);
		*ret = json_incref(in);
		return 0;
	}
	return fail(v, "InvalidInputException", "%s has an unsupported type", NULL, NULL);
}

const struct api_op_model *api_model_op(const char *name)
{
	for (size_t i = 0; i < api_n_op_models; i++)
		if (!strcmp(api_op_models[i].name, name))
			return &api_op_models[i];
	return NULL;
}

int api_validate(const struct api_op_model *op, json_t *body, json_t **ret_clean, const char **ret_exc, char *msg,
		 size_t msglen)
{
	struct vctx v = {.msg = msg, .msglen = msglen};
	const struct api_shape *s;
	json_t *out;
	int r;

	if (op->input < 0) {
		*ret_clean = json_object();
		return *ret_clean ? 0 : -ENOMEM;
	}
	s = &api_shapes[op->input];
	if (!json_is_object(body)) {
		*ret_exc = "SerializationException";
		snprintf(msg, msglen, "the request body must be a JSON object");
		return -EINVAL;
	}
	out = json_object();
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_members; i++) {
		const struct api_member *m = &s->members[i];
		json_t *val = json_object_get(body, m->name), *clean = NULL;
		v.top = m->name;
		snprintf(v.path, sizeof(v.path), "%s", m->name);
		if (!val || json_is_null(val)) {
			if (m->required) {
				*ret_exc = member_required(m->name);
				snprintf(msg, msglen, "%s is required; add it to the request", m->name);
				json_decref(out);
				return -EINVAL;
			}
			continue;
		}
		r = validate(&v, m->shape, m->name, val, &clean);
		if (r < 0) {
			*ret_exc = v.exc ? v.exc : "InvalidInputException";
			json_decref(out);
			return r;
		}
		json_object_set_new(out, m->name, clean);
	}
	*ret_clean = out;
	return 0;
}
