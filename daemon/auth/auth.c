/* Authentication of a request: SigV4 with the secret of the access key it
 * names, then the policy table (auth_policy.c). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "auth/auth.h"
#include "auth/auth_secret.h"
#include "core/error.h"
#include "core/httpd.h"
#include "util.h"

/* When each key was last recorded as used, so that a busy key costs a store
 * write once a minute, not per request: a hash table by key id (open
 * addressing, grown at half full) holding every key that signed a request,
 * as many as there are agents. A key over USED_MAX entries, or with an id
 * too long for a slot, is recorded per request rather than remembered. */
#define USED_EVERY_MS (60 * 1000)
#define USED_MIN 1024
#define USED_MAX (1u << 20)

struct used_slot {
	char id[32]; /* "" = free */
	int64_t recorded_ms;
};

struct auth {
	auth_lookup_fn lookup;
	void *userdata;
	char *const *regions_allowed;
	auth_deployment_application_fn deployment_application;
	auth_key_used_fn key_used;
	pthread_mutex_t used_lock;
	struct used_slot *used;
	size_t n_used, cap_used; /* cap: a power of two */
};

int auth_new(auth_lookup_fn lookup, void *userdata, char *const *regions_allowed, struct auth **ret)
{
	struct auth *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->lookup = lookup;
	a->userdata = userdata;
	a->regions_allowed = regions_allowed;
	pthread_mutex_init(&a->used_lock, NULL);
	*ret = a;
	return 0;
}

struct auth *auth_free(struct auth *a)
{
	if (a) {
		pthread_mutex_destroy(&a->used_lock);
		free(a->used);
		free(a);
	}
	return NULL;
}

void auth_set_deployment_application(struct auth *a, auth_deployment_application_fn fn)
{
	a->deployment_application = fn;
}

void auth_set_key_used(struct auth *a, auth_key_used_fn fn)
{
	a->key_used = fn;
}

static uint32_t used_hash(const char *id)
{
	uint32_t h = 2166136261u;

	for (const char *p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

/* The slot of id, or the free slot where it goes. cap > n_used. */
static struct used_slot *used_find(struct used_slot *tab, size_t cap, const char *id)
{
	size_t i = used_hash(id) & (cap - 1);

	while (tab[i].id[0] && strcmp(tab[i].id, id) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

/* Doubles the table (or makes the first); false when it cannot. */
static bool used_grow(struct auth *a)
{
	size_t cap = a->cap_used ? 2 * a->cap_used : USED_MIN;
	struct used_slot *tab;

	if (cap > USED_MAX || !(tab = calloc(cap, sizeof(*tab))))
		return false;
	for (size_t i = 0; i < a->cap_used; i++)
		if (a->used[i].id[0])
			*used_find(tab, cap, a->used[i].id) = a->used[i];
	free(a->used);
	a->used = tab;
	a->cap_used = cap;
	return true;
}

static void key_used(struct auth *a, const char *id, int64_t now_ms)
{
	struct used_slot *s;
	bool due = true;

	if (!a->key_used)
		return;
	pthread_mutex_lock(&a->used_lock);
	if (strlen(id) < sizeof(s->id) && ((a->n_used + 1) * 2 <= a->cap_used || used_grow(a))) {
		s = used_find(a->used, a->cap_used, id);
		if (!s->id[0]) {
			rd_strlcpy(s->id, id, sizeof(s->id));
			a->n_used++;
		} else
			due = now_ms - s->recorded_ms >= USED_EVERY_MS || now_ms < s->recorded_ms;
		if (due)
			s->recorded_ms = now_ms;
	}
	pthread_mutex_unlock(&a->used_lock);
	if (due)
		a->key_used(a->userdata, id, now_ms);
}

static void identity_of(const struct auth_key *key, const char *region, struct httpd_identity *ret)
{
	rd_strlcpy(ret->access_key_id, key->id, sizeof(ret->access_key_id));
	rd_strlcpy(ret->name, key->name, sizeof(ret->name));
	rd_strlcpy(ret->policy, key->policy, sizeof(ret->policy));
	rd_strlcpy(ret->instance, key->instance, sizeof(ret->instance));
	rd_strlcpy(ret->region, region, sizeof(ret->region));
}

static bool key_inactive(const struct auth_key *key)
{
	return !strcmp(key->status, "Inactive");
}

int auth_identity(struct auth *a, const char *id, struct httpd_identity *ret)
{
	struct auth_key key;
	int r;

	memset(&key, 0, sizeof(key));
	r = a->lookup(a->userdata, id, &key);
	if (r == 0 && key_inactive(&key))
		r = -EPERM;
	if (r == 0)
		identity_of(&key, "", ret);
	explicit_bzero(&key, sizeof(key));
	if (r == -ENOENT)
		return -EPERM;
	return r < 0 && r != -EPERM ? (r == -EACCES ? -EIO : r) : r;
}

int auth_verify_secret(struct auth *a, const char *id, const char *secret, struct httpd_identity *ret)
{
	struct auth_key key;
	bool ok;
	int r;

	memset(&key, 0, sizeof(key));
	r = a->lookup(a->userdata, id, &key);
	if (r == -ENOENT)
		return -EPERM;
	if (r < 0)
		return r == -EPERM || r == -EACCES ? -EIO : r;
	/* both compared, so the time does not tell which secret matched */
	ok = auth_secret_equal(key.secret, secret);
	ok = (key.old_secret[0] && auth_secret_equal(key.old_secret, secret)) || ok;
	ok = ok && !key_inactive(&key);
	if (ok) {
		identity_of(&key, "", ret);
		key_used(a, key.id, rd_wall_ms());
	}
	explicit_bzero(&key, sizeof(key));
	return ok ? 0 : -EPERM;
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

int auth_check(struct auth *a, const struct auth_request *req, int64_t now_s, struct httpd_identity *ret,
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
	if (key_inactive(&key)) {
		explicit_bzero(&key, sizeof(key));
		return rd_error_set(err, -EPERM, "UnrecognizedClientException",
				    "The security token included in the request is invalid: access key %s is "
				    "Inactive (an admin can enable it with 'rolloutctl access-key enable %s')",
				    au.access_key, au.access_key);
	}
	r = sigv4_verify(&req->signed_request, &au, key.secret, now_s, SIGV4_MAX_SKEW_S, msg, sizeof(msg));
	/* during a rotation the previous secret still signs */
	if (r == -EACCES && key.old_secret[0])
		r = sigv4_verify(&req->signed_request, &au, key.old_secret, now_s, SIGV4_MAX_SKEW_S, msg, sizeof(msg));
	/* The secrets are not needed past this point: keep them off the stack. */
	explicit_bzero(key.secret, sizeof(key.secret));
	explicit_bzero(key.old_secret, sizeof(key.old_secret));
	if (r < 0)
		return rd_error_set(err, -EPERM,
				    r == -EINVAL ? "IncompleteSignatureException" : "InvalidSignatureException", "%s",
				    msg);
	/* known from here on, also when refused (-EACCES): the audit trail says who */
	identity_of(&key, au.region, ret);
	action_name(req, action, sizeof(action));
	if (!auth_policy_allows(key.policy, action)) {
		auth_policy_who_may(action, who, sizeof(who));
		return rd_error_set(err, -EACCES, "AccessDeniedException",
				    "User: %s (policy %s) is not authorized to perform: %s:%s; use an access key with "
				    "policy %s",
				    key.id, key.policy, req->service,
				    req->operation ? req->operation : req->signed_request.path, who[0] ? who : "admin");
	}
	/* a signed request is a use, whether or not its scope lets it through */
	key_used(a, key.id, now_s * 1000);
	if (key.applications[0]) {
		struct auth_scope_call sc = {
		    .scope = key.applications,
		    .target_prefix = req->target_prefix,
		    .operation = req->operation,
		    .body = req->signed_request.body,
		    .body_len = req->signed_request.body_len,
		    .deployment_application = a->deployment_application,
		    .userdata = a->userdata,
		};
		r = auth_scope_check(&sc, msg, sizeof(msg));
		if (r == -EACCES)
			return rd_error_set(err, -EACCES, "AccessDeniedException",
					    "User: %s (policy %s) is not authorized to perform: %s:%s: %s; use a key "
					    "whose applications include it",
					    key.id, key.policy, req->service, req->operation, msg);
		if (r < 0)
			return rd_error_set(err, r == -EPERM || r == -EACCES ? -EIO : r, "InternalFailure",
					    "cannot check the key's application scope: %s", strerror(-r));
	}
	return 0;
}

#define BASIC_BAD_KEY                                                                                                  \
	"the access key id or secret in the Basic credentials is wrong, or the key is inactive; the user is the id "   \
	"and the password the secret of a key from 'rolloutd access-key create'"

int auth_check_basic(struct auth *a, const char *authorization, const char *action, struct httpd_identity *ret,
		     struct rd_error *err)
{
	/* id and secret of up to 128 characters each and a colon, in base64 */
	unsigned char plain[3 * 360 / 4 + 1];
	struct httpd_identity id;
	const char *b64;
	char *colon, who[128];
	size_t len;
	int n, r;

	if (!authorization || strncasecmp(authorization, "Basic ", 6) != 0)
		return rd_error_set(
		    err, -EPERM, "MissingAuthenticationTokenException",
		    "Missing Authentication Token: send HTTP Basic credentials, the id of an access key "
		    "from 'rolloutd access-key create' as user and its secret as password");
	b64 = authorization + 6;
	while (*b64 == ' ')
		b64++;
	len = strlen(b64);
	if (len == 0 || len > 360 || len % 4)
		return rd_error_set(err, -EPERM, "UnrecognizedClientException", BASIC_BAD_KEY);
	n = EVP_DecodeBlock(plain, (const unsigned char *)b64, (int)len);
	if (n < 0)
		return rd_error_set(err, -EPERM, "UnrecognizedClientException", BASIC_BAD_KEY);
	/* EVP_DecodeBlock counts the padding as zero bytes */
	n -= (b64[len - 1] == '=') + (b64[len - 2] == '=');
	plain[n] = '\0';
	colon = memchr(plain, ':', (size_t)n);
	if (!colon || strlen((const char *)plain) != (size_t)n || colon == (char *)plain) {
		explicit_bzero(plain, sizeof(plain));
		return rd_error_set(err, -EPERM, "UnrecognizedClientException", BASIC_BAD_KEY);
	}
	*colon = '\0';
	r = auth_verify_secret(a, (const char *)plain, colon + 1, &id);
	explicit_bzero(plain, sizeof(plain));
	if (r == -EPERM)
		return rd_error_set(err, -EPERM, "UnrecognizedClientException", BASIC_BAD_KEY);
	if (r < 0)
		return rd_error_set(err, r, "InternalFailure", "cannot read access keys: %s", strerror(-r));
	if (!auth_policy_allows(id.policy, action)) {
		auth_policy_who_may(action, who, sizeof(who));
		return rd_error_set(err, -EACCES, "AccessDeniedException",
				    "User: %s (policy %s) is not authorized to perform: %s; use an access key with "
				    "policy %s",
				    id.access_key_id, id.policy, action, who[0] ? who : "admin");
	}
	*ret = id;
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
