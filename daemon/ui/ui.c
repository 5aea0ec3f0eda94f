/* The dashboard's routes (ui.h): its files, sign-in and sign-out, and the
 * session route that runs control-API operations with the API's own
 * handlers as the signed-in key, after the policy table allowed them, so a
 * click is the same call, checked and logged the same way, as rolloutctl's. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "api/api.h"
#include "auth/auth.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/error.h"
#include "core/httpd.h"
#include "core/metrics.h"
#include "ui/ui.h"
#include "ui/ui_assets.h"
#include "ui/ui_session.h"
#include "ui/ui_wait.h"
#include "util.h"

#define UI_COOKIE "rolloutd_session"
#define UI_CSRF_HEADER "X-Rolloutd-CSRF"

/* Only this daemon's own files and API: no inline script or style, no
 * other site, no framing. */
#define UI_CSP                                                                                                         \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "                \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

struct ui {
	struct rd_daemon *d;
	struct auth *auth;
	bool secure_cookie;
	struct ui_sessions *sessions;
	struct ui_waits *waits;
};

/* The operations the pages offer as actions, reported per session so a
 * key that may not take them is not shown them. */
static const char *const ui_actions[] = {"CodeDeploy_20141006.StopDeployment", "CodeDeploy_20141006.ContinueDeployment",
					 "CodeDeploy_20141006.CreateDeployment"};

int ui_new(struct rd_daemon *d, struct auth *auth, bool secure_cookie, struct ui **ret)
{
	struct ui *ui = calloc(1, sizeof(*ui));
	int r;

	if (!ui)
		return -ENOMEM;
	r = ui_sessions_new(&ui->sessions);
	if (r < 0) {
		free(ui);
		return r;
	}
	r = ui_waits_new(d->base, &ui->waits);
	if (r < 0) {
		ui_sessions_free(ui->sessions);
		free(ui);
		return r;
	}
	ui->d = d;
	ui->auth = auth;
	ui->secure_cookie = secure_cookie;
	*ret = ui;
	return 0;
}

struct ui *ui_free(struct ui *ui)
{
	if (!ui)
		return NULL;
	ui_waits_free(ui->waits);
	ui_sessions_free(ui->sessions);
	free(ui);
	return NULL;
}

void ui_deployment_changed(void *ui, const char *deployment_id)
{
	ui_waits_changed(((struct ui *)ui)->waits, deployment_id);
}

static void security_headers(struct httpd_call *call)
{
	httpd_call_add_header(call, "Content-Security-Policy", UI_CSP);
	httpd_call_add_header(call, "X-Content-Type-Options", "nosniff");
	httpd_call_add_header(call, "X-Frame-Options", "DENY");
	httpd_call_add_header(call, "Referrer-Policy", "no-referrer");
	httpd_call_add_header(call, "Cache-Control", "no-store");
}

static void set_cookie(struct ui *ui, struct httpd_call *call, const char *token, int max_age)
{
	char v[256];

	snprintf(v, sizeof(v), UI_COOKIE "=%s; Path=/ui/; Max-Age=%d; HttpOnly; SameSite=Strict%s", token, max_age,
		 ui->secure_cookie ? "; Secure" : "");
	httpd_call_add_header(call, "Set-Cookie", v);
}

/* The session token from the Cookie header into out; false when absent. */
static bool cookie_token(struct httpd_call *call, char out[UI_TOKEN_LEN + 1])
{
	const char *h = httpd_call_header(call, "Cookie");
	const size_t nlen = strlen(UI_COOKIE);

	while (h && *h) {
		while (*h == ' ' || *h == ';')
			h++;
		const char *end = strchr(h, ';');
		size_t len = end ? (size_t)(end - h) : strlen(h);
		if (len > nlen + 1 && !strncmp(h, UI_COOKIE, nlen) && h[nlen] == '=' &&
		    len - nlen - 1 == UI_TOKEN_LEN) {
			memcpy(out, h + nlen + 1, UI_TOKEN_LEN);
			out[UI_TOKEN_LEN] = '\0';
			return true;
		}
		h = end;
	}
	return false;
}

static void reply_json(struct httpd_call *call, int status, json_t *o)
{
	char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (!txt) {
		httpd_call_error_status(call, 500, "InternalFailure", "out of memory");
		return;
	}
	httpd_call_reply_bytes(call, status, "application/json", txt, strlen(txt));
	free(txt);
}

static void session_reply(struct httpd_call *call, const struct httpd_identity *id, const char *csrf)
{
	json_t *allowed = json_object();

	for (size_t i = 0; i < RD_ARRAY_SIZE(ui_actions); i++)
		json_object_set_new(allowed, strchr(ui_actions[i], '.') + 1,
				    json_boolean(auth_policy_allows(id->policy, ui_actions[i])));
	reply_json(call, 200,
		   json_pack("{s:s, s:s, s:s, s:s, s:o, s:i}", "accessKeyId", id->access_key_id, "name", id->name,
			     "policy", id->policy, "csrfToken", csrf, "allowed", allowed, "idleTimeoutSeconds",
			     UI_SESSION_IDLE_S));
}

/* The caller's session and key as they are now; else the call is
 * completed and -EPERM returned. */
static int session_of(struct ui *ui, struct httpd_call *call, char token[UI_TOKEN_LEN + 1], char csrf[UI_TOKEN_LEN + 1],
		      struct httpd_identity *id)
{
	char key_id[129];
	int r;

	if (!cookie_token(call, token) || ui_session_find(ui->sessions, token, rd_wall_ms(), key_id, csrf) < 0) {
		httpd_call_error_status(call, 401, "MissingAuthenticationTokenException",
					"no dashboard session, or it expired: sign in at /ui/");
		return -EPERM;
	}
	r = auth_identity(ui->auth, key_id, id);
	if (r == -EPERM) {
		ui_session_close(ui->sessions, token);
		httpd_call_error_status(call, 401, "UnrecognizedClientException",
					"the access key %s of this session is deleted or inactive: sign in again",
					key_id);
		return -EPERM;
	}
	if (r < 0) {
		httpd_call_error_status(call, 500, "InternalFailure", "cannot read access keys: %s", strerror(-r));
		return -EPERM;
	}
	return 0;
}

/* ---- GET ---- */

static void get_route(struct httpd_call *call, void *userdata)
{
	struct ui *ui = userdata;
	const char *path = httpd_call_path(call);
	char token[UI_TOKEN_LEN + 1], csrf[UI_TOKEN_LEN + 1];
	struct httpd_identity id;

	security_headers(call);
	if (!strcmp(path, "/ui")) {
		httpd_call_add_header(call, "Location", "/ui/");
		httpd_call_reply_bytes(call, 302, "text/plain; charset=utf-8", "/ui/\n", 5);
		return;
	}
	if (!strcmp(path, "/ui/session")) {
		if (session_of(ui, call, token, csrf, &id) == 0)
			session_reply(call, &id, csrf);
		return;
	}
	if (!strcmp(path, "/ui/"))
		path = "/ui/index.html";
	for (size_t i = 0; i < ui_n_assets; i++)
		if (!strcmp(ui_assets[i].path, path)) {
			httpd_call_reply_bytes(call, 200, ui_assets[i].content_type, ui_assets[i].data,
					       ui_assets[i].len);
			return;
		}
	httpd_call_error_status(call, 404, "ResourceNotFoundException", "no such page: %s; the dashboard is at /ui/",
				path);
}

/* ---- POST ---- */

static json_t *body_object(struct httpd_call *call)
{
	size_t len = 0;
	const void *body = httpd_call_raw_body(call, &len);
	json_error_t je;
	json_t *o;

	if (len == 0)
		return json_object();
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		httpd_call_error(call, "SerializationException", "the request body must be a JSON object");
		return NULL;
	}
	return o;
}

static void sign_in(struct ui *ui, struct httpd_call *call)
{
	const char *ctype = httpd_call_header(call, "Content-Type");
	const char *peer = httpd_call_peer(call);
	char token[UI_TOKEN_LEN + 1], csrf[UI_TOKEN_LEN + 1];
	struct httpd_identity id;
	json_t *in;
	int wait_s = 0, r;

	/* A form on another site can post only form and text types. */
	if (!ctype || strncasecmp(ctype, "application/json", 16) != 0) {
		httpd_call_error_status(call, 415, "InvalidInputException",
					"sign in with a JSON body (Content-Type: application/json)");
		return;
	}
	if (ui_signin_allowed(ui->sessions, peer, rd_wall_ms(), &wait_s) < 0) {
		char v[16];
		snprintf(v, sizeof(v), "%d", wait_s);
		httpd_call_add_header(call, "Retry-After", v);
		httpd_call_error_status(call, 429, "ThrottlingException",
					"too many failed sign-ins from %s; try again in %d s", peer, wait_s);
		return;
	}
	in = body_object(call);
	if (!in)
		return;
	const char *key = json_string_value(json_object_get(in, "accessKeyId"));
	const char *secret = json_string_value(json_object_get(in, "secretAccessKey"));
	if (!key || !secret || !*key || !*secret) {
		json_decref(in);
		httpd_call_error(call, "InvalidInputException", "sign in with accessKeyId and secretAccessKey");
		return;
	}
	r = auth_verify_secret(ui->auth, key, secret, &id);
	json_decref(in);
	if (r == -EPERM) {
		ui_signin_failed(ui->sessions, peer, rd_wall_ms());
		httpd_call_error_status(
		    call, 401, "UnrecognizedClientException",
		    "the access key id or its secret is wrong, or the key is inactive; use a key from "
		    "'rolloutd access-key create'");
		return;
	}
	if (r < 0) {
		httpd_call_error_status(call, 500, "InternalFailure", "cannot read access keys: %s", strerror(-r));
		return;
	}
	if (!strcmp(id.policy, "agent")) {
		httpd_call_error(call, "AccessDeniedException",
				 "access key %s is an agent's key (policy agent); sign in with a readonly, deployer or "
				 "admin key",
				 id.access_key_id);
		return;
	}
	r = ui_session_open(ui->sessions, id.access_key_id, rd_wall_ms(), token, csrf);
	if (r < 0) {
		httpd_call_error_status(call, 500, "InternalFailure", "cannot open a session: %s", strerror(-r));
		return;
	}
	set_cookie(ui, call, token, UI_SESSION_MAX_S);
	explicit_bzero(token, sizeof(token));
	session_reply(call, &id, csrf);
}

struct agents_ctx {
	json_t *agents;
};

static void agent_seen(double v, const char *const *labels, void *ud)
{
	struct agents_ctx *a = ud;

	if (labels && labels[0])
		json_object_set_new(a->agents, labels[0], json_real(v));
}

/* When each instance's agent was last heard from, and how recent counts as
 * connected (the rolloutd_agents_connected rule). */
static void agents_reply(struct ui *ui, struct httpd_call *call)
{
	struct agents_ctx a = {json_object()};

	metric_each(
	    metric_gauge("rolloutd_agent_last_seen_timestamp_seconds", NULL, (const char *const[]){"instance", NULL}),
	    agent_seen, &a);
	reply_json(call, 200,
		   json_pack("{s:o, s:f, s:f}", "lastSeen", a.agents, "now", (double)rd_wall_ms() / 1000.0,
			     "connectedWithinSeconds", 2.0 * (double)ui->d->cfg->long_poll_ms / 1000.0 + 10));
}

static void api_call(struct ui *ui, struct httpd_call *call, const struct httpd_identity *id, const char *target)
{
	const char *dot = strrchr(target, '.');
	char prefix[64], action[256], who[128];
	httpd_handler_fn fn;
	json_t *in;

	if (!dot || (size_t)(dot - target) >= sizeof(prefix) || !dot[1] || strlen(target) >= sizeof(action)) {
		httpd_call_error(
		    call, "UnknownOperationException",
		    "POST /ui/api/<service>.<Operation>, e.g. /ui/api/CodeDeploy_20141006.ListApplications");
		return;
	}
	memcpy(prefix, target, (size_t)(dot - target));
	prefix[dot - target] = '\0';
	if (!strcmp(prefix, "CodeDeploy_20141006"))
		fn = api_codedeploy_call;
	else if (!strcmp(prefix, "Rolloutd_v1"))
		fn = api_ext_call;
	else {
		httpd_call_error(call, "UnknownOperationException",
				 "unknown service '%s'; the dashboard calls CodeDeploy_20141006 and Rolloutd_v1",
				 prefix);
		return;
	}
	snprintf(action, sizeof(action), "%s", target);
	if (!auth_policy_allows(id->policy, action)) {
		auth_policy_who_may(action, who, sizeof(who));
		httpd_call_error(call, "AccessDeniedException",
				 "User: %s (policy %s) is not authorized to perform: codedeploy:%s; use an access key "
				 "with policy %s",
				 id->access_key_id, id->policy, dot + 1, who[0] ? who : "admin");
		return;
	}
	in = body_object(call);
	if (!in)
		return;
	if (httpd_call_act_as(call, prefix, dot + 1, in, id) < 0) {
		httpd_call_error_status(call, 500, "InternalFailure", "out of memory");
		return;
	}
	fn(call, ui->d);
}

/* POST /ui/wait {"deploymentId", "seq", "timeoutMs"}: see ui_wait.h. It
 * tells only that a deployment changed, never what: the page then reads it
 * through /ui/api/ as its key. */
static void wait_call(struct ui *ui, struct httpd_call *call)
{
	json_t *b = body_object(call);
	json_t *id = json_object_get(b, "deploymentId"), *seq = json_object_get(b, "seq");
	json_t *timeout = json_object_get(b, "timeoutMs");

	if (!b)
		return;
	if (!json_is_string(id) || json_string_length(id) == 0 || json_string_length(id) > 63 ||
	    !json_is_integer(seq) || (timeout && !json_is_integer(timeout))) {
		httpd_call_error(call, "ValidationException",
				 "/ui/wait takes {\"deploymentId\": string (1-63), \"seq\": integer,"
				 " \"timeoutMs\": integer (optional)}");
		json_decref(b);
		return;
	}
	ui_waits_add(ui->waits, call, json_string_value(id), json_integer_value(seq),
		     timeout ? json_integer_value(timeout) : UI_WAIT_MAX_MS);
	json_decref(b);
}

static void post_route(struct httpd_call *call, void *userdata)
{
	struct ui *ui = userdata;
	const char *path = httpd_call_path(call);
	char token[UI_TOKEN_LEN + 1], csrf[UI_TOKEN_LEN + 1];
	struct httpd_identity id;

	security_headers(call);
	if (strcmp(httpd_call_method(call), "POST") != 0) {
		httpd_call_error_status(call, 405, "UnknownOperationException", "the dashboard's routes take POST");
		return;
	}
	if (!strcmp(path, "/ui/signin")) {
		sign_in(ui, call);
		return;
	}
	if (session_of(ui, call, token, csrf, &id) < 0)
		return;
	if (!ui_token_equal(httpd_call_header(call, UI_CSRF_HEADER), csrf)) {
		httpd_call_error_status(call, 403, "InvalidCsrfTokenException",
					"the request lacks this session's token in " UI_CSRF_HEADER
					"; reload the dashboard");
		return;
	}
	if (!strcmp(path, "/ui/signout")) {
		ui_session_close(ui->sessions, token);
		set_cookie(ui, call, "", 0);
		reply_json(call, 200, json_object());
	} else if (!strcmp(path, "/ui/agents")) {
		agents_reply(ui, call);
	} else if (!strcmp(path, "/ui/wait")) {
		wait_call(ui, call);
	} else if (rd_str_has_prefix(path, "/ui/api/")) {
		api_call(ui, call, &id, path + strlen("/ui/api/"));
	} else {
		httpd_call_error_status(call, 404, "ResourceNotFoundException", "no such dashboard route: %s", path);
	}
}

int ui_register_routes(struct ui *ui, struct httpd *h)
{
	int r;

	/* Both without a signature: the session cookie is checked here. */
	r = httpd_register_public_get(h, "/ui", get_route, ui);
	if (r == 0)
		r = httpd_register_raw(h, "/ui/", NULL, post_route, ui);
	return r;
}
