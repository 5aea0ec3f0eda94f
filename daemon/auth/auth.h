/* Who is calling, and may they: the daemon's authentication.
 *
 * A request is signed with AWS Signature Version 4 by an access key the
 * daemon minted ('rolloutd access-key create', Rolloutd_v1.CreateAccessKey).
 * auth_check() verifies the signature (lib/sigv4.h) with the key's secret,
 * which it gets through a lookup function (main.c gives one over the store,
 * so this part knows no storage), and then asks the policy table whether
 * the key's policy may make the call.
 *
 * A key is refused when it is Inactive; during a rotation both its current
 * and its previous secret are accepted. The key's use is recorded through
 * auth_key_used_fn, at most once a minute per key, so that a busy key does
 * not write to the store on every request.
 *
 * Policies (auth_policy.c holds the table, the one place that says who may
 * call what):
 *   admin     everything
 *   deployer  the control API and bundle uploads and downloads, but not the
 *             access-key operations
 *   readonly  the control API's Get*, BatchGet* and List* operations, and
 *             GET /metrics when metrics_require_key is set
 *   agent     the host-command service and bundle downloads (the bundle
 *             route further limits an agent key to the bundles of its
 *             instance's deployments)
 *   enroll    Rolloutd_v1.EnrollInstance only: an EC2 instance in the
 *             key's scope (an Auto Scaling group or a tag) trades it for
 *             its own agent key
 *
 * Errors, as the control API answers them (code = the reply's __type):
 *   -EPERM   MissingAuthenticationTokenException, IncompleteSignatureException,
 *            InvalidSignatureException (wrong service or region scope, a
 *            tampered request, "Signature expired"), UnrecognizedClientException
 *   -EACCES  AccessDeniedException, naming the policies that would do
 *   other    InternalFailure (the access keys cannot be read)
 *
 * Thread-safe: auth_check() runs on workpool threads, several at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sigv4.h"

struct httpd_call;
struct httpd_identity;
struct rd_error;

/* An access key, as the lookup function returns it. */
struct auth_key {
	char id[129];
	char secret[129];
	char name[129];
	char policy[16];	 /* admin | deployer | readonly | agent | enroll */
	char instance[129];	 /* the instance an agent key is bound to, an enroll key's scope; "" otherwise */
	char old_secret[129];	 /* during a rotation, the previous secret, still accepted; "" otherwise */
	char status[16];	 /* "Inactive" refuses every request; "Active" (or "") */
	char applications[1024]; /* the key's scope: JSON array of names or patterns; "" = every application */
};

/* Finds access key id: 0 and *ret; -ENOENT when there is no such key;
 * another negative errno when the keys cannot be read. Called on workpool
 * threads, several at a time. */
typedef int (*auth_lookup_fn)(void *userdata, const char *id, struct auth_key *ret);

/* The application of deployment id into app: 0, -ENOENT when there is no
 * such deployment, another negative errno when it cannot be read. */
typedef int (*auth_deployment_application_fn)(void *userdata, const char *deployment_id, char *app, size_t len);

/* Records that key id was used at when_ms; called at most once a minute per
 * key (auth keeps the last time it called in memory), on workpool threads. */
typedef void (*auth_key_used_fn)(void *userdata, const char *id, int64_t when_ms);

struct auth;

/* regions_allowed: NULL-terminated list of the regions a request may be
 * scoped to, or NULL for any; borrowed, must outlive the auth. */
int auth_new(auth_lookup_fn lookup, void *userdata, char *const *regions_allowed, struct auth **ret);
struct auth *auth_free(struct auth *a);
/* Optional hooks, with auth_new's userdata; set before requests are served. */
void auth_set_deployment_application(struct auth *a, auth_deployment_application_fn fn);
void auth_set_key_used(struct auth *a, auth_key_used_fn fn);

/* Checks an access key id and secret outside SigV4 (the dashboard's
 * sign-in): 0 and *ret when the key exists, is active and secret is one of
 * its accepted secrets (compared in constant time); -EPERM otherwise (the
 * same error whether the key is missing, inactive or the secret wrong);
 * another negative errno when the keys cannot be read. Records the use. */
int auth_verify_secret(struct auth *a, const char *id, const char *secret, struct httpd_identity *ret);
/* The identity of key id as it is now (its policy may have changed since
 * the dashboard's sign-in): 0, -EPERM when it is deleted or inactive,
 * another negative errno when the keys cannot be read. */
int auth_identity(struct auth *a, const char *id, struct httpd_identity *ret);

/* A request as authentication sees it. */
struct auth_request {
	struct sigv4_request signed_request; /* as received */
	const char *service;		     /* the SigV4 service the route expects ("codedeploy") */
	const char *target_prefix;	     /* "CodeDeploy_20141006" for a JSON service; NULL otherwise */
	const char *operation;		     /* "ListApplications" for a JSON service; NULL otherwise */
};

/* Verifies req at wall-clock time now_s (epoch seconds) and decides on the
 * key's policy. 0 with *ret filled in, or an error as listed above; on
 * -EACCES *ret is filled in too (who was refused). */
int auth_check(struct auth *a, const struct auth_request *req, int64_t now_s, struct httpd_identity *ret,
	       struct rd_error *err);

/* HTTP Basic credentials (RFC 7617) made of an access key, for clients that
 * send a fixed header instead of signing, such as Prometheus scraping
 * /metrics (its basic_auth): the user is the key's id, the password its
 * secret. authorization is the request's Authorization header (NULL when
 * absent); action names the call in the policy table ("GET /metrics").
 * The key is checked as auth_verify_secret() does (active, either secret
 * during a rotation, compared in constant time). 0 with *ret filled in
 * (region ""); -EPERM (UnrecognizedClientException, MissingAuthentication-
 * TokenException) when the header is missing, not Basic, or the id or
 * secret is wrong or the key inactive (one message for all); -EACCES when
 * the key's policy may not make the call; another negative errno when the
 * keys cannot be read. */
int auth_check_basic(struct auth *a, const char *authorization, const char *action, struct httpd_identity *ret,
		     struct rd_error *err);

/* auth_check() for the HTTP transport: an httpd_auth_fn (core/httpd.h)
 * whose userdata is the struct auth. */
int auth_check_call(void *auth, const struct httpd_call *call, struct httpd_identity *ret, struct rd_error *err);

/* ---- the policy table (auth_policy.c) ----
 * A call is named "<target prefix>.<operation>" for a JSON service
 * ("CodeDeploy_20141006.ListApplications") and "<METHOD> <path>" for the
 * other routes ("GET /bundles/<sha256>"). */

/* Whether policy may make the call named action. An unknown policy may do nothing. */
bool auth_policy_allows(const char *policy, const char *action);
/* The policies that may make the call, for a message: "deployer or admin". */
void auth_policy_who_may(const char *action, char *buf, size_t buflen);

/* ---- application scopes (auth_scope.c) ----
 * A key scoped to applications (auth_key.applications) may make only calls
 * whose every application is in its scope: an operation that names an
 * application, a deployment or an ARN of one is checked member by member;
 * a listing that spans applications must name one (ListDeployments) or is
 * refused (ListApplications); operations on what every application shares
 * (deployment configs, on-premises instances, access keys) are refused
 * except reading; routes that are not JSON services (bundles) are not
 * scoped. */
struct auth_scope_call {
	const char *scope;	   /* JSON array; NULL or "" = every application */
	const char *target_prefix; /* "CodeDeploy_20141006" */
	const char *operation;	   /* NULL for routes that are not JSON services */
	const void *body;	   /* the request body (JSON) */
	size_t body_len;
	auth_deployment_application_fn deployment_application; /* may be NULL: deployments then refused */
	void *userdata;
};
/* 0 when the call stays in scope; -EACCES with why ("application billing is
 * outside the key's scope [\"web\"]"); another negative errno when a
 * deployment's application cannot be read. */
int auth_scope_check(const struct auth_scope_call *call, char *why, size_t whylen);
/* Whether app is in scope (a JSON array of names or fnmatch patterns; NULL
 * or "" = every application). */
bool auth_scope_allows(const char *scope, const char *app);
