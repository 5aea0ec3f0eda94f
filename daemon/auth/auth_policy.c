/* The policy table: which calls each access-key policy may make. */
#include "config.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"

#define MAX_PATTERNS 8

/* A policy allows a call when one of its allow patterns matches the call's
 * name (auth.h) and none of its deny patterns does. Patterns are fnmatch(3)
 * globs whose star also crosses '/', so a route registered for the path
 * prefix P is the pattern "GET P" followed by a star. A call no policy
 * names is admin's alone. Policies are listed in the order a denial names
 * them. */
static const struct policy {
	const char *name;
	const char *allow[MAX_PATTERNS];
	const char *deny[MAX_PATTERNS];
} policies[] = {
    {
	.name = "agent",
	.allow =
	    {
		"CodeDeployCommandService_v20141006.*",
		"CodeDeployCommandService.*",
		"GET /bundles/*",
		"HEAD /bundles/*",
	    },
    },
    {
	/* A fleet's enrollment key: an instance starting in the key's scope
	 * trades it for its own agent key, and may do nothing else. */
	.name = "enroll",
	.allow =
	    {
		"Rolloutd_v1.EnrollInstance",
	    },
    },
    {
	.name = "deployer",
	.allow =
	    {
		"CodeDeploy_20141006.*",
		"Rolloutd_v1.*",
		"GET /bundles/*",
		"HEAD /bundles/*",
		"POST /bundles/uploads*",
		"PUT /bundles/uploads*",
	    },
	/* Minting keys would let a deployer mint an admin key; the audit
	 * trail is for those who answer for every key. */
	.deny =
	    {
		"CodeDeploy_20141006.*AccessKey*",
		"Rolloutd_v1.*AccessKey*",
		"Rolloutd_v1.*Audit*",
	    },
    },
    {
	.name = "readonly",
	.allow =
	    {
		"CodeDeploy_20141006.Get*",
		"CodeDeploy_20141006.BatchGet*",
		"CodeDeploy_20141006.List*",
		"Rolloutd_v1.Get*",
		"Rolloutd_v1.BatchGet*",
		"Rolloutd_v1.List*",
		/* it deploys nothing */
		"Rolloutd_v1.PlanDeployment",
		/* a Prometheus scraping with metrics_require_key */
		"GET /metrics",
	    },
	/* Listing keys shows who may do what, and the audit trail what
	 * everyone did: admin's business. */
	.deny =
	    {
		"CodeDeploy_20141006.*AccessKey*",
		"Rolloutd_v1.*AccessKey*",
		"Rolloutd_v1.*Audit*",
	    },
    },
    {
	.name = "admin",
	.allow = {"*"},
    },
};

static bool matches_any(const char *const *patterns, const char *action)
{
	for (size_t i = 0; i < MAX_PATTERNS && patterns[i]; i++)
		if (fnmatch(patterns[i], action, 0) == 0)
			return true;
	return false;
}

static bool policy_allows(const struct policy *p, const char *action)
{
	return matches_any(p->allow, action) && !matches_any(p->deny, action);
}

bool auth_policy_allows(const char *policy, const char *action)
{
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		if (policy && !strcmp(policies[i].name, policy))
			return policy_allows(&policies[i], action);
	return false;
}

void auth_policy_who_may(const char *action, char *buf, size_t buflen)
{
	const char *names[sizeof(policies) / sizeof(policies[0])];
	size_t n = 0, o = 0;

	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		if (policy_allows(&policies[i], action))
			names[n++] = policies[i].name;
	if (buflen)
		buf[0] = '\0';
	for (size_t i = 0; i < n && o < buflen; i++) {
		const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
		int w = snprintf(buf + o, buflen - o, "%s%s", sep, names[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}
