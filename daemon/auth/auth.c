/* Authentication of a request: SigV4 with the secret of the access key it
 * names, then the policy table (auth_policy.c). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/error.h"
#include "core/httpd.h"
#include "util.h"

struct auth {
	auth_lookup_fn lookup;
	void *userdata;
	char *const *regions_allowed;
};

int auth_new(auth_lookup_fn lookup, void *userdata, char *const *regions_allowed, struct auth **ret)
{
	struct auth *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->lookup = lookup;
	a->userdata = userdata;
	a->regions_allowed = regions_allowed;
	*ret = a;
	return 0;
}

struct auth *auth_free(struct auth *a)
{
	free(a);
	return NULL;
}

static bool region_allowed(const struct auth *a, const char *region)
{
	if (!a->regions_allowed)
		return true;
	for (char *const *r = a->regions_allowed; *r; r++)
		if (!strcmp(*r, region))
			return true;
	return false;
}

/* The call's name in the policy table. */
static void action_name(const struct auth_request *req, char *buf, size_t buflen)
{
	if (req->operation)
		snprintf(buf, buflen, "%s.%s", req->target_prefix ? req->target_prefix : "", req->operation);
	else
		snprintf(buf, buflen, "%s %s", req->signed_request.method, req->signed_request.path);
}

int auth_check(const struct auth *a, const struct auth_request *req, int64_t now_s, struct httpd_identity *ret,
	       struct rd_error *err)
{
	const char *authz = sigv4_header_get(&req->signed_request, "Authorization");
	struct sigv4_auth au;
	struct auth_key key;
	char msg[512], action[1024], who[128];
	int r;

	if (!authz)
		return rd_error_set(err, -EPERM, "MissingAuthenticationTokenException",
				    "Missing Authentication Token: sign the request with AWS Signature Version 4 "
				    "using an access key from 'rolloutd access-key create'");
	r = sigv4_parse_authorization(authz, &au, msg, sizeof(msg));
	if (r < 0)
		return rd_error_set(err, -EPERM, "IncompleteSignatureException", "%s", msg);
	if (strcmp(au.service, req->service) != 0)
		return rd_error_set(err, -EPERM, "InvalidSignatureException",
				    "Credential should be scoped to correct service: '%s' (the request was signed for "
				    "'%s')",
				    req->service, au.service);
	if (!region_allowed(a, au.region))
		return rd_error_set(err, -EPERM, "InvalidSignatureException",
				    "Credential should be scoped to a valid region: '%s' is not one of this daemon's "
				    "regions_allowed",
				    au.region);
	memset(&key, 0, sizeof(key));
	r = a->lookup(a->userdata, au.access_key, &key);
	if (r == -ENOENT)
		return rd_error_set(err, -EPERM, "UnrecognizedClientException",
				    "The security token included in the request is invalid: no access key '%s' "
				    "(create one with 'rolloutd access-key create')",
				    au.access_key);
	if (r < 0)
		return rd_error_set(err, r == -EPERM || r == -EACCES ? -EIO : r, "InternalFailure",
				    "cannot read access keys: %s", strerror(-r));
	r = sigv4_verify(&req->signed_request, &au, key.secret, now_s, SIGV4_MAX_SKEW_S, msg, sizeof(msg));
	/* The secret is not needed past this point: keep it off the stack. */
	explicit_bzero(key.secret, sizeof(key.secret));
	if (r < 0)
		return rd_error_set(err, -EPERM,
				    r == -EINVAL ? "IncompleteSignatureException" : "InvalidSignatureException", "%s",
				    msg);
	action_name(req, action, sizeof(action));
	if (!auth_policy_allows(key.policy, action)) {
		auth_policy_who_may(action, who, sizeof(who));
		return rd_error_set(err, -EACCES, "AccessDeniedException",
				    "User: %s (policy %s) is not authorized to perform: %s:%s; use an access key with "
				    "policy %s",
				    key.id, key.policy, req->service,
				    req->operation ? req->operation : req->signed_request.path, who[0] ? who : "admin");
	}
	rd_strlcpy(ret->access_key_id, key.id, sizeof(ret->access_key_id));
	rd_strlcpy(ret->name, key.name, sizeof(ret->name));
	rd_strlcpy(ret->policy, key.policy, sizeof(ret->policy));
	rd_strlcpy(ret->instance, key.instance, sizeof(ret->instance));
	rd_strlcpy(ret->region, au.region, sizeof(ret->region));
	return 0;
}

int auth_check_call(void *auth, const struct httpd_call *call, struct httpd_identity *ret, struct rd_error *err)
{
	struct auth_request req = {
	    .service = httpd_call_service(call),
	    .target_prefix = httpd_call_target_prefix(call),
	    .operation = httpd_call_operation(call),
	};

	httpd_call_signed_request(call, &req.signed_request);
	return auth_check(auth, &req, rd_wall_ms() / 1000, ret, err);
}
