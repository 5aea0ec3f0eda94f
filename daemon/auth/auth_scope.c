/* Application scopes: which applications a call touches, and whether a key
 * scoped to some applications may make it (auth.h). */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth.h"
#include "util.h"

enum scope_kind {
	SCOPE_GLOBAL_READ, /* touches no application's data: allowed */
	SCOPE_APP,	   /* member: an application name (required unless optional) */
	SCOPE_APPS,	   /* member: an array of application names */
	SCOPE_DEPLOYMENT,  /* member: a deployment id */
	SCOPE_DEPLOYMENTS, /* member: an array of deployment ids */
	SCOPE_ARN,	   /* member: an application or deployment-group ARN */
};

/* Every operation a scoped key may make, with what names its application.
 * An operation not listed here is refused to a scoped key: operations that
 * change what is shared by every application (deployment configs,
 * on-premises instances, GitHub tokens, access keys), ListApplications and
 * operations added later until they are listed. Several rows for one
 * operation are all checked. */
static const struct scope_rule {
	const char *prefix, *op;
	enum scope_kind kind;
	const char *member;
	bool optional;
} rules[] = {
    {"CodeDeploy_20141006", "BatchGetApplicationRevisions", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "BatchGetApplications", SCOPE_APPS, "applicationNames", false},
    {"CodeDeploy_20141006", "BatchGetDeploymentGroups", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "BatchGetDeploymentInstances", SCOPE_DEPLOYMENT, "deploymentId", false},
    {"CodeDeploy_20141006", "BatchGetDeploymentTargets", SCOPE_DEPLOYMENT, "deploymentId", false},
    {"CodeDeploy_20141006", "BatchGetDeployments", SCOPE_DEPLOYMENTS, "deploymentIds", false},
    {"CodeDeploy_20141006", "BatchGetOnPremisesInstances", SCOPE_GLOBAL_READ, NULL, false},
    {"CodeDeploy_20141006", "ContinueDeployment", SCOPE_DEPLOYMENT, "deploymentId", false},
    {"CodeDeploy_20141006", "CreateApplication", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "CreateDeployment", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "CreateDeploymentGroup", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "DeleteApplication", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "DeleteDeploymentGroup", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "GetApplication", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "GetApplicationRevision", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "GetDeployment", SCOPE_DEPLOYMENT, "deploymentId", false},
    {"CodeDeploy_20141006", "GetDeploymentConfig", SCOPE_GLOBAL_READ, NULL, false},
    {"CodeDeploy_20141006", "GetDeploymentGroup", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "GetDeploymentInstance", SCOPE_DEPLOYMENT, "deploymentId", false},
    {"CodeDeploy_20141006", "GetDeploymentTarget", SCOPE_DEPLOYMENT, "deploymentId", false},
    {"CodeDeploy_20141006", "GetOnPremisesInstance", SCOPE_GLOBAL_READ, NULL, false},
    {"CodeDeploy_20141006", "ListApplicationRevisions", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "ListDeploymentConfigs", SCOPE_GLOBAL_READ, NULL, false},
    {"CodeDeploy_20141006", "ListDeploymentGroups", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "ListDeploymentInstances", SCOPE_DEPLOYMENT, "deploymentId", false},
    {"CodeDeploy_20141006", "ListDeploymentTargets", SCOPE_DEPLOYMENT, "deploymentId", false},
    /* across applications unless it names one: a scoped key must */
    {"CodeDeploy_20141006", "ListDeployments", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "ListGitHubAccountTokenNames", SCOPE_GLOBAL_READ, NULL, false},
    {"CodeDeploy_20141006", "ListOnPremisesInstances", SCOPE_GLOBAL_READ, NULL, false},
    {"CodeDeploy_20141006", "ListTagsForResource", SCOPE_ARN, "ResourceArn", false},
    {"CodeDeploy_20141006", "PutLifecycleEventHookExecutionStatus", SCOPE_DEPLOYMENT, "deploymentId", false},
    {"CodeDeploy_20141006", "RegisterApplicationRevision", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "SkipWaitTimeForInstanceTermination", SCOPE_DEPLOYMENT, "deploymentId", false},
    {"CodeDeploy_20141006", "StopDeployment", SCOPE_DEPLOYMENT, "deploymentId", false},
    {"CodeDeploy_20141006", "TagResource", SCOPE_ARN, "ResourceArn", false},
    {"CodeDeploy_20141006", "UntagResource", SCOPE_ARN, "ResourceArn", false},
    {"CodeDeploy_20141006", "UpdateApplication", SCOPE_APP, "applicationName", false},
    {"CodeDeploy_20141006", "UpdateApplication", SCOPE_APP, "newApplicationName", true},
    {"CodeDeploy_20141006", "UpdateDeploymentGroup", SCOPE_APP, "applicationName", false},
    {"Rolloutd_v1", "GetDeploymentLogs", SCOPE_DEPLOYMENT, "DeploymentId", false},
    {"Rolloutd_v1", "PlanDeployment", SCOPE_APP, "applicationName", false},
};

bool auth_scope_allows(const char *scope, const char *app)
{
	json_t *s, *v;
	size_t i;
	bool ok = false;

	if (!scope || !*scope)
		return true;
	if (!app)
		return false;
	s = json_loads(scope, 0, NULL);
	json_array_foreach(s, i, v)
	{
		const char *p = json_string_value(v);
		if (p && fnmatch(p, app, 0) == 0) {
			ok = true;
			break;
		}
	}
	json_decref(s);
	return ok;
}

/* The application of an application or deployment-group ARN:
 * arn:aws:codedeploy:REGION:ACCOUNT:application:NAME or
 * ...:deploymentgroup:APP/GROUP. */
static bool arn_application(const char *arn, char *app, size_t len)
{
	const char *p = arn;

	for (int i = 0; i < 5; i++) {
		p = strchr(p, ':');
		if (!p)
			return false;
		p++;
	}
	if (rd_str_has_prefix(p, "application:")) {
		p += strlen("application:");
		rd_strlcpy(app, p, len);
		return *app != '\0';
	}
	if (rd_str_has_prefix(p, "deploymentgroup:")) {
		const char *slash;
		p += strlen("deploymentgroup:");
		slash = strchr(p, '/');
		if (!slash || slash == p || (size_t)(slash - p) >= len)
			return false;
		memcpy(app, p, (size_t)(slash - p));
		app[slash - p] = '\0';
		return true;
	}
	return false;
}

__attribute__((format(printf, 3, 4))) static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -EACCES;
}

/* One application named by the call: in the scope, or the refusal. */
static int check_app(const struct auth_scope_call *call, const char *app, char *why, size_t whylen)
{
	if (auth_scope_allows(call->scope, app))
		return 0;
	return refuse(why, whylen, "application %s is outside the key's scope %s", app, call->scope);
}

static int check_deployment(const struct auth_scope_call *call, const char *id, char *why, size_t whylen)
{
	char app[256];
	int r;

	if (!call->deployment_application)
		return refuse(why, whylen, "deployment %s: its application cannot be checked against scope %s", id,
			      call->scope);
	r = call->deployment_application(call->userdata, id, app, sizeof(app));
	/* no such deployment: nothing to touch, the operation answers so */
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (auth_scope_allows(call->scope, app))
		return 0;
	return refuse(why, whylen, "deployment %s belongs to an application outside the key's scope %s", id,
		      call->scope);
}

static int check_rule(const struct auth_scope_call *call, const struct scope_rule *rule, json_t *body, char *why,
		      size_t whylen)
{
	json_t *v = json_object_get(body, rule->member), *e;
	char app[256];
	size_t i;
	int r;

	if (!v || json_is_null(v)) {
		if (rule->optional)
			return 0;
		return refuse(why, whylen, "%s spans every application without %s; a scoped key must name one",
			      call->operation, rule->member);
	}
	switch (rule->kind) {
	case SCOPE_APP:
		if (!json_is_string(v))
			return 0; /* the operation's validation refuses it */
		return check_app(call, json_string_value(v), why, whylen);
	case SCOPE_DEPLOYMENT:
		if (!json_is_string(v))
			return 0;
		return check_deployment(call, json_string_value(v), why, whylen);
	case SCOPE_APPS:
	case SCOPE_DEPLOYMENTS:
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e))
				continue;
			r = rule->kind == SCOPE_APPS ? check_app(call, json_string_value(e), why, whylen)
						     : check_deployment(call, json_string_value(e), why, whylen);
			if (r < 0)
				return r;
		}
		return 0;
	case SCOPE_ARN:
		if (!json_is_string(v))
			return 0;
		if (!arn_application(json_string_value(v), app, sizeof(app)))
			return refuse(why, whylen, "%s names no application; a key scoped to %s may not touch it",
				      json_string_value(v), call->scope);
		return check_app(call, app, why, whylen);
	case SCOPE_GLOBAL_READ:
		return 0;
	}
	return 0;
}

int auth_scope_check(const struct auth_scope_call *call, char *why, size_t whylen)
{
	json_t *body = NULL;
	bool listed = false;
	int r = 0;

	if (!call->scope || !call->scope[0])
		return 0;
	/* routes other than JSON services (bundles) name no application */
	if (!call->operation)
		return 0;
	for (size_t i = 0; r == 0 && i < RD_ARRAY_SIZE(rules); i++) {
		if (strcmp(rules[i].op, call->operation) != 0 ||
		    strcmp(rules[i].prefix, call->target_prefix ? call->target_prefix : "") != 0)
			continue;
		listed = true;
		if (rules[i].kind == SCOPE_GLOBAL_READ)
			continue;
		if (!body) {
			body = call->body_len ? json_loadb(call->body, call->body_len, 0, NULL) : json_object();
			/* the operation answers a body that is not JSON */
			if (!json_is_object(body))
				break;
		}
		r = check_rule(call, &rules[i], body, why, whylen);
	}
	json_decref(body);
	if (!listed)
		return refuse(why, whylen, "%s is not limited to one application; a key scoped to %s may not call it",
			      call->operation, call->scope);
	return r;
}
