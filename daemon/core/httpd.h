/* The HTTP front end: one libevent evhttp listener on cfg->listen, serving
 *   POST /            AWS JSON 1.1, dispatched by X-Amz-Target "<prefix>.<Op>"
 *                     to the service registered for <prefix>;
 *   GET  <prefix>...  routes registered by path prefix (e.g. /bundles/);
 *   GET  /health      {"status":"ok"}, no signature.
 *
 * Every request except /health and public GET routes (httpd_register_public_get,
 * e.g. /metrics) goes through the authenticator given to
 * httpd_set_auth() (main.c gives daemon/auth's: SigV4 and the access-key
 * policies) before its handler runs. Every response carries x-amzn-RequestId;
 * JSON responses Content-Type application/x-amz-json-1.1; errors are
 * {"__type": T, "message": M} with header x-amzn-ErrorType: T and status
 * 400 (413 for bodies over limits.body_max, 5xx only for genuine faults;
 * ThrottlingException for an address past limits.failed_auth_per_minute).
 *
 * THREADS. The I/O thread (the one running d->base) only parses and routes.
 * Authentication and the handler run on a workpool thread (daemon/core/workpool.h);
 * handlers may block on the store or plugins. (A service may instead hand its
 * calls from the I/O thread to a thread of its own, which authenticates them:
 * httpd_set_direct.) A handler completes its call
 * with exactly one of httpd_call_reply*() / httpd_call_error*() — from any
 * thread, at any later time. Returning from the handler without completing
 * DEFERS the call (e.g. a long-poll held until a command is queued); the
 * owner must then complete it later, exactly once, and must complete every
 * deferred call before httpd_free() (engine_stop() runs first for this).
 * After completing, the call must not be touched: it is freed on the I/O
 * thread once the reply is handed to libevent.
 *
 * CLIENT GONE. httpd_call_on_gone() registers a callback run on the I/O
 * thread, at most once, when the client's connection closes before the call
 * was completed. The call stays valid during the callback; it must still be
 * completed exactly once (the reply is then discarded). The callback may
 * race with a completion from another thread: guard with your own lock.
 * The callback must not block. Detection is best effort (libevent notices a
 * closed connection only when it reads or writes). */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct httpd;
struct httpd_call;
struct rd_daemon;
struct rd_error;
struct sigv4_request;

#define HTTPD_MAX_BODY (1024 * 1024)
/* limits.max_connections when unset (and the descriptor limit allows it):
 * the design fleet of 10,000 agents, each holding one, plus room. */
#define HTTPD_DEFAULT_MAX_CONNECTIONS 32768
#define HTTPD_JSON_TYPE "application/x-amz-json-1.1"

/* The verified caller, as the handlers see it. Strings live as long as the call. */
struct httpd_principal {
	const char *access_key_id;
	const char *name;     /* the key's name */
	const char *policy;   /* "admin" | "deployer" | "readonly" | "agent" */
	const char *instance; /* the instance an agent key is bound to; NULL otherwise */
	const char *region;   /* from the SigV4 credential scope */
};

/* The verified caller, as the authenticator fills it in. */
struct httpd_identity {
	char access_key_id[129];
	char name[129];
	char policy[16];
	char instance[129]; /* "" when the key is bound to none */
	char region[64];
};

/* Runs on a workpool thread (a direct one on the I/O thread: httpd_set_direct).
 * userdata as registered. */
typedef void (*httpd_handler_fn)(struct httpd_call *call, void *userdata);
/* Runs on the I/O thread; see CLIENT GONE above. */
typedef void (*httpd_gone_fn)(struct httpd_call *call, void *arg);

/* Decides who calls and whether they may call what they ask for. Runs
 * where the call is admitted (httpd_call_admit: on a workpool thread before
 * the handler, or on a direct handler's thread), for every request but
 * /health, and may run on several threads at once. Returns 0 with *ret filled in, or a
 * negative errno with err set (the code is the reply's __type): -EPERM when
 * the caller is not authenticated (answered 403), -EACCES when the caller
 * may not make this call (400, as AWS answers AccessDeniedException; *ret
 * is filled in then too, so that the observer knows who was refused), any
 * other error a fault on our side (500). */
typedef int (*httpd_auth_fn)(void *userdata, const struct httpd_call *call, struct httpd_identity *ret,
			     struct rd_error *err);

/* Sees every call once it is answered, on the I/O thread, just before the
 * reply is handed to libevent (also when the client is gone): the audit
 * trail. Must not block; the call's accessors are valid during it. */
typedef void (*httpd_observer_fn)(void *userdata, const struct httpd_call *call);

/* Creates the server and binds cfg->listen (the port is bound here, so a
 * busy port fails start-up with a message). Requests are served once
 * d->base runs. d->pool must exist. */
int httpd_new(struct rd_daemon *d, struct httpd **ret, struct rd_error *err);
/* The same on another address (e.g. metrics_listen); setting names the
 * configuration key in error messages. */
int httpd_new_at(struct rd_daemon *d, const char *listen, const char *setting, struct httpd **ret,
		 struct rd_error *err);
/* HTTPS: with tls: in the configuration every listener made here serves TLS
 * 1.2+ with that certificate; without it, a listener on anything but
 * loopback logs a warning at start. httpd_reload_tls reads the certificate,
 * key and client CA again (SIGHUP): new connections use them, open ones keep
 * theirs. On failure the old ones stay and err says why. 0 without TLS. */
int httpd_reload_tls(struct httpd *h, struct rd_error *err);
bool httpd_is_tls(const struct httpd *h);
/* Marks the route registered under prefix (a JSON target prefix or a path
 * prefix) as an agent's: with tls.client_ca, its callers must present a
 * client certificate signed by that CA whose subject common name is their
 * instance. An access key bound to an instance must match it; with a key
 * bound to none, the certificate binds the call to its instance. Without
 * client_ca this changes nothing. -ENOENT when no such route. */
int httpd_require_client_cert(struct httpd *h, const char *prefix);

/* Sets the authenticator; call before d->base runs. Until one is set every
 * request is refused (500), so no route is ever served unauthenticated. */
void httpd_set_auth(struct httpd *h, httpd_auth_fn fn, void *userdata);
/* Calls one daemon of a cluster relays to another (daemon/relay/): a
 * request carrying the header named header_name is checked by fn before it
 * is authenticated. fn returns 0 with *ret filled in, or a negative errno
 * with err set (answered 403 with err's code and message). The call is then
 * authenticated as its original caller (its SigV4 signature came along
 * verbatim), with ret->addr as its peer address (audit trail, limits) and
 * ret->cn as its verified client certificate's name; httpd_call_relayed()
 * tells its handler. Runs on workpool threads; set before d->base runs.
 * Without it, the header is refused. */
struct httpd_relayed {
	char from[65];	 /* the relaying daemon's id */
	char addr[64];	 /* the caller's address; "" when unknown */
	char cn[129];	 /* the client certificate's common name the relaying daemon verified; "" when none */
	int64_t hold_ms; /* what is left of a long-poll */
};
typedef int (*httpd_relay_fn)(void *userdata, const char *value, const char *authorization, struct httpd_relayed *ret,
			      struct rd_error *err);
void httpd_set_relay_check(struct httpd *h, const char *header_name, httpd_relay_fn fn, void *userdata);

/* Sets the observer; call before d->base runs. */
void httpd_set_observer(struct httpd *h, httpd_observer_fn fn, void *userdata);
/* Stops listening, sends replies already completed, closes connections.
 * Every deferred call must have been completed and the workpool drained
 * (workpool_free) before this. NULL-safe. */
struct httpd *httpd_free(struct httpd *h);
/* The bound port (useful with "127.0.0.1:0"). */
int httpd_port(const struct httpd *h);

/* Registers a JSON service: requests with X-Amz-Target "<target_prefix>.<Op>"
 * must be signed for SigV4 service sigv4_service (e.g. "codedeploy",
 * "codedeploy-commands"); several prefixes may share one handler. Call
 * before d->base runs (not thread-safe against requests). -EEXIST if the
 * prefix is taken. */
int httpd_register_service(struct httpd *h, const char *target_prefix, const char *sigv4_service, httpd_handler_fn fn,
			   void *userdata);

/* Hands the calls of the JSON service registered under target_prefix to fn
 * on the I/O thread, as soon as they are parsed, instead of to the
 * registered handler on a workpool thread: for a handler that passes its
 * calls on to a thread of its own anyway (the engine's), which saves a
 * thread switch per call. fn must not block; it gives the call to a thread
 * that calls httpd_call_admit() before it looks at anything but the
 * transport's own fields (and completes it, deferred as above). -ENOENT when
 * no such service. Call before d->base runs. */
int httpd_set_direct(struct httpd *h, const char *target_prefix, httpd_handler_fn fn, void *userdata);
/* What a workpool thread does before the handler of any other route: the
 * relay header's check, authentication (with its client-certificate check)
 * and the JSON body's parsing. True when the call may proceed; else it has
 * been completed (with the error the workpool path would have sent). May
 * block on the store; never on the I/O thread. */
bool httpd_call_admit(struct httpd_call *c);

/* Registers GET (and HEAD) requests whose path starts with path_prefix
 * (e.g. "/bundles/"), signed for sigv4_service (query string included in
 * the canonical request). Longest prefix wins. Same rules as above. */
int httpd_register_get(struct httpd *h, const char *path_prefix, const char *sigv4_service, httpd_handler_fn fn,
		       void *userdata);

/* A GET route served without a signature (like /health, but on a workpool
 * thread, so the handler may block): the caller's principal is empty. */
int httpd_register_public_get(struct httpd *h, const char *path_prefix, httpd_handler_fn fn, void *userdata);

/* Raw-body routes: POST (without X-Amz-Target) and PUT requests whose path
 * starts with path_prefix. The body (at most 4 * HTTPD_MAX_BODY bytes) is
 * raw bytes, hashed by the SigV4 verifier, read with httpd_call_raw_body().
 * Same rules as httpd_register_get. */
#define HTTPD_MAX_RAW_BODY (4 * HTTPD_MAX_BODY)
int httpd_register_raw(struct httpd *h, const char *path_prefix, const char *sigv4_service, httpd_handler_fn fn,
		       void *userdata);
/* The request body as received (any route); borrowed until completion. */
const void *httpd_call_raw_body(const struct httpd_call *c, size_t *ret_len);

/* ---- the call (all accessors may be used from any thread until completion) ---- */

struct rd_daemon *httpd_call_daemon(const struct httpd_call *c);
/* "CreateApplication" for JSON services; NULL for GET routes. */
const char *httpd_call_operation(const struct httpd_call *c);
/* The X-Amz-Target prefix the request came in on ("CodeDeploy_20141006"); NULL for GET. */
const char *httpd_call_target_prefix(const struct httpd_call *c);
/* The parsed JSON body, always an object for JSON services ("{}" when the
 * body was empty); NULL for GET. Borrowed: valid until completion. */
json_t *httpd_call_body(const struct httpd_call *c);
const struct httpd_principal *httpd_call_principal(const struct httpd_call *c);
const char *httpd_call_request_id(const struct httpd_call *c);
const char *httpd_call_method(const struct httpd_call *c);
/* The decoded path ("/bundles/ab12...") and raw query string (NULL if none). */
const char *httpd_call_path(const struct httpd_call *c);
const char *httpd_call_query(const struct httpd_call *c);
/* A request header by case-insensitive name; NULL if absent. */
const char *httpd_call_header(const struct httpd_call *c, const char *name);
/* The SigV4 service the route was registered with ("codedeploy"); NULL
 * for a public route. */
const char *httpd_call_service(const struct httpd_call *c);
/* The request as a SigV4 verifier reads it: method, the decoded path, the
 * raw query, every header and the body. Borrowed until completion. */
void httpd_call_signed_request(const struct httpd_call *c, struct sigv4_request *ret);

/* The subject common name of the client certificate the call's connection
 * presented and that verified against tls.client_ca (for a relayed call:
 * the one the relaying daemon verified); NULL when none. */
const char *httpd_call_client_cn(const struct httpd_call *c);
/* Whether another daemon of the cluster relayed the call here (see
 * httpd_set_relay_check), and then what is left of its long-poll. */
bool httpd_call_relayed(const struct httpd_call *c, int64_t *ret_hold_ms);
/* The client's address as the TCP connection shows it ("127.0.0.1"), or as
 * the relaying daemon saw it for a relayed call; "" when unknown. */
const char *httpd_call_peer(const struct httpd_call *c);
/* After completion (in the observer): the status, and the error's __type
 * and message (NULL when the reply is no error). */
int httpd_call_status(const struct httpd_call *c);
const char *httpd_call_error_type(const struct httpd_call *c);
const char *httpd_call_error_message(const struct httpd_call *c);
/* Turns c into the JSON operation "<target_prefix>.<op>" with body (an
 * object; stolen, also on failure) made by identity id, as if it had come
 * in so and been authenticated: for a route that authenticates its callers
 * its own way (the dashboard's session cookie) and then hands the call to a
 * service's handler, so the call is answered, logged and observed as that
 * operation. The caller has checked that id may make it
 * (auth_policy_allows). 0 or -ENOMEM. */
int httpd_call_act_as(struct httpd_call *c, const char *target_prefix, const char *op, json_t *body,
		      const struct httpd_identity *id);

/* Adds a response header (before completion). */
int httpd_call_add_header(struct httpd_call *c, const char *name, const char *value);

/* Completes with 200 and the JSON object body (NULL means {}). Steals body.
 * Reals are written with 15 significant digits (epoch seconds keep their
 * milliseconds: 1700000000.123). */
void httpd_call_reply(struct httpd_call *c, json_t *body);
/* Completes with an error: status 400, __type type, message from fmt. */
void httpd_call_error(struct httpd_call *c, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void httpd_call_errorv(struct httpd_call *c, int status, const char *type, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
void httpd_call_error_status(struct httpd_call *c, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Completes with raw bytes (copied). */
void httpd_call_reply_bytes(struct httpd_call *c, int status, const char *content_type, const void *data, size_t len);
/* Completes with length bytes of fd from offset, sent without copying
 * (sendfile). Takes ownership of fd (closed after sending or on failure).
 * Add Content-Range etc. with httpd_call_add_header() first. */
void httpd_call_reply_fd(struct httpd_call *c, int status, const char *content_type, int fd, off_t offset,
			 off_t length);

/* See CLIENT GONE above. Call at most once per call, before completing. */
void httpd_call_on_gone(struct httpd_call *c, httpd_gone_fn fn, void *arg);
bool httpd_call_is_gone(struct httpd_call *c);
