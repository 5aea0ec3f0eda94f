/* Routing: which handler a request goes to. POST / goes by X-Amz-Target
 * "<prefix>.<Op>" to the JSON service registered for the prefix; GET and
 * HEAD by the longest registered path prefix; POST (without X-Amz-Target)
 * and PUT by the longest raw-route prefix. GET /health and every refusal
 * that needs no disk are answered at once on the I/O thread; a routed call
 * goes to a workpool thread, where it is admitted (httpd_call_admit: the
 * authenticator runs, then the JSON body is parsed), then to the handler;
 * a service's direct handler (httpd_set_direct) gets it on the I/O thread
 * and has it admitted on a thread of its own. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/daemon.h"
#include "core/error.h"
#include "core/httpd.h"
#include "core/httpd_internal.h"
#include "core/workpool.h"
#include "util.h"
#include "uuid.h"

/* The reply's status for an authenticator's error (core/httpd.h). */
static int auth_status(int r)
{
	if (r == -EPERM)
		return 403;
	if (r == -EACCES)
		return 400;
	return 500;
}

/* An agent's route with tls.client_ca: the connection's certificate must
 * verify and name the caller's instance (its subject common name). A key
 * bound to no instance is bound by the certificate. Returns true when the
 * call may proceed; else it has been completed. */
static bool check_client_cert(struct httpd_call *c)
{
	const struct httpd_peer_cert *p = &c->cert;

	if (!p->present) {
		httpd_call_error_status(c, 403, "AccessDeniedException",
					"this route needs a client certificate signed by rolloutd's tls.client_ca; set "
					"client_cert and client_key in the agent's configuration (rolloutctl tls init "
					"--agent INSTANCE makes them)");
		return false;
	}
	if (!p->verified) {
		httpd_call_error_status(c, 403, "AccessDeniedException",
					"the client certificate was refused: %s; it must be signed by rolloutd's "
					"tls.client_ca and valid now",
					p->error);
		return false;
	}
	if (!p->cn[0]) {
		httpd_call_error_status(c, 403, "AccessDeniedException",
					"the client certificate's subject has no single common name; it must be the "
					"instance's name (CN=INSTANCE)");
		return false;
	}
	if (c->id.instance[0] && strcmp(c->id.instance, p->cn) != 0) {
		httpd_call_error_status(c, 403, "AccessDeniedException",
					"the client certificate names instance %s but access key %s is bound to "
					"instance %s; use that instance's certificate",
					p->cn, c->id.access_key_id, c->id.instance);
		return false;
	}
	if (!c->id.instance[0])
		rd_strlcpy(c->id.instance, p->cn, sizeof(c->id.instance));
	return true;
}

/* Returns true when the call may proceed; else it has been completed. */
static bool authenticate(struct httpd_call *c)
{
	struct httpd *h = c->h;
	struct rd_error e = RD_ERROR_INIT;
	int r;

	if (!h->auth_fn) {
		httpd_call_error_status(c, 500, "InternalFailure", "the daemon has no authenticator; this is a bug");
		return false;
	}
	if ((r = httpd_limit_wait_ms(h->limit, c->peer)) > 0) {
		httpd_call_error_status(
		    c, 400, "ThrottlingException",
		    "Rate exceeded: too many requests with failed signatures from %s in the last "
		    "minute; fix the client's credentials and retry in %d s (limits.failed_auth_per_"
		    "minute)",
		    c->peer, (r + 999) / 1000);
		return false;
	}
	r = h->auth_fn(h->auth_ud, c, &c->id, &e);
	if (r == -EPERM)
		httpd_limit_failed(h->limit, c->peer);
	/* an authenticated caller who may not make the call is known: the
	 * observer (the audit trail) records who was refused */
	if (r == 0 || r == -EACCES) {
		c->principal.access_key_id = c->id.access_key_id;
		c->principal.name = c->id.name;
		c->principal.policy = c->id.policy;
		c->principal.instance = c->id.instance[0] ? c->id.instance : NULL;
		c->principal.region = c->id.region;
	}
	if (r < 0) {
		httpd_call_error_status(c, auth_status(r), e.code[0] ? e.code : "InternalFailure", "%s",
					e.message[0] ? e.message : strerror(-r));
		return false;
	}
	if (c->route->client_cert && httpd_tls_client_ca(h->tls)) {
		if (!check_client_cert(c))
			return false;
		/* the certificate may have bound an unbound key to its instance */
		c->principal.instance = c->id.instance[0] ? c->id.instance : NULL;
	}
	return true;
}

/* A call another daemon of the cluster relayed here: the relay header is
 * checked before the caller is, and stands in for what only the relaying
 * daemon saw (the caller's address, its client certificate). Returns true
 * when the call may proceed; else it has been completed. */
static bool check_relayed(struct httpd_call *c)
{
	struct httpd *h = c->h;
	struct rd_error e = RD_ERROR_INIT;
	struct httpd_relayed rel = {0};
	const char *v = h->relay_header ? httpd_call_header(c, h->relay_header) : NULL;
	int r;

	if (!v)
		return true;
	if (!h->relay_fn) {
		httpd_call_error_status(c, 403, "AccessDeniedException",
					"the %s header is accepted only between the daemons of a cluster (store: "
					"postgresql://...); clients and agents must not send it",
					h->relay_header);
		return false;
	}
	r = h->relay_fn(h->relay_ud, v, httpd_call_header(c, "Authorization"), &rel, &e);
	if (r < 0) {
		httpd_call_error_status(c, 403, e.code[0] ? e.code : "AccessDeniedException", "%s",
					e.message[0] ? e.message : strerror(-r));
		return false;
	}
	c->relayed = true;
	c->relay_hold_ms = rel.hold_ms;
	if (rel.addr[0])
		rd_strlcpy(c->peer, rel.addr, sizeof(c->peer));
	/* the certificate the relaying daemon verified against the same
	 * tls.client_ca (every daemon of a cluster has the same files) */
	c->cert.present = c->cert.verified = false;
	c->cert.error[0] = c->cert.cn[0] = '\0';
	if (rel.cn[0]) {
		c->cert.present = c->cert.verified = true;
		rd_strlcpy(c->cert.cn, rel.cn, sizeof(c->cert.cn));
	}
	return true;
}

bool httpd_call_admit(struct httpd_call *c)
{
	if (c->route->service && (!check_relayed(c) || !authenticate(c)))
		return false;
	if (c->op) {
		json_error_t je;
		if (c->body_len == 0) {
			c->json = json_object();
		} else {
			c->json = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, &je);
			if (!c->json) {
				httpd_call_error(
				    c, "SerializationException",
				    "the request body is not valid JSON (line %d column %d: %s); send a JSON object",
				    je.line, je.column, je.text);
				return false;
			}
			if (!json_is_object(c->json)) {
				httpd_call_error(c, "SerializationException",
						 "the request body must be a JSON object, not a %s",
						 json_is_array(c->json) ? "list" : "scalar");
				return false;
			}
		}
	}
	return true;
}

/* A routed call on a workpool thread: admitted, then the handler. */
static void work_cb(void *arg)
{
	struct httpd_call *c = arg;

	if (httpd_call_admit(c))
		c->route->fn(c, c->route->userdata);
}

/* Immediate replies from the I/O thread (no disk involved). */
static void quick_reply(struct evhttp_request *req, int status, const char *type, const char *msg)
{
	struct evbuffer *buf = evbuffer_new();
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	char rid[RD_UUID_LEN];

	rd_uuid4(rid);
	evhttp_add_header(oh, "x-amzn-RequestId", rid);
	evhttp_add_header(oh, "Content-Type", HTTPD_JSON_TYPE);
	if (type) {
		json_t *o = json_pack("{s:s, s:s}", "__type", type, "message", msg);
		char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
		evhttp_add_header(oh, "x-amzn-ErrorType", type);
		if (buf && t)
			evbuffer_add(buf, t, strlen(t));
		free(t);
		json_decref(o);
	} else if (buf) {
		evbuffer_add(buf, msg, strlen(msg));
	}
	evhttp_send_reply(req, status, NULL, buf);
	if (buf)
		evbuffer_free(buf);
}

static const struct route *find_service(struct httpd *h, const char *prefix, size_t len)
{
	for (size_t i = 0; i < h->n_services; i++)
		if (strlen(h->services[i].prefix) == len && memcmp(h->services[i].prefix, prefix, len) == 0)
			return &h->services[i];
	return NULL;
}

static const struct route *find_prefix(const struct route *arr, size_t n, const char *path)
{
	const struct route *best = NULL;

	for (size_t i = 0; i < n; i++)
		if (rd_str_has_prefix(path, arr[i].prefix) && (!best || strlen(arr[i].prefix) > strlen(best->prefix)))
			best = &arr[i];
	return best;
}

void httpd_route_request_cb(struct evhttp_request *req, void *arg)
{
	struct httpd *h = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const struct route *rt = NULL;
	struct httpd_call *c = NULL;
	const char *target = NULL, *dot = NULL;
	char *path = NULL;

	if (!raw_path || !*raw_path)
		raw_path = "/";
	path = evhttp_uridecode(raw_path, 0, NULL);
	if (!path) {
		quick_reply(req, 400, "InvalidInputException", "the request path is not valid percent-encoding");
		return;
	}
	/* GET / too: the official CodeDeploy agent checks its endpoint with it
	 * and gives up when nothing answers. */
	if (cmd == EVHTTP_REQ_GET && (strcmp(path, "/health") == 0 || strcmp(path, "/") == 0)) {
		free(path);
		quick_reply(req, 200, NULL, "{\"status\":\"ok\"}");
		return;
	}
	if ((cmd == EVHTTP_REQ_PUT ||
	     (cmd == EVHTTP_REQ_POST && !evhttp_find_header(ih, "X-Amz-Target") && strcmp(path, "/"))) &&
	    (rt = find_prefix(h->raws, h->n_raws, path))) {
		if (evbuffer_get_length(in) > HTTPD_MAX_RAW_BODY) {
			free(path);
			quick_reply(req, 413, "SerializationException", "the request body is too large");
			return;
		}
		goto dispatch;
	}
	if (cmd == EVHTTP_REQ_POST) {
		target = evhttp_find_header(ih, "X-Amz-Target");
		dot = target ? strrchr(target, '.') : NULL;
		if (!target || !dot || dot == target || !dot[1]) {
			free(path);
			quick_reply(req, 400, "UnknownOperationException",
				    "the request needs an X-Amz-Target header '<service>.<Operation>', e.g. "
				    "CodeDeploy_20141006.ListApplications");
			return;
		}
		rt = find_service(h, target, (size_t)(dot - target));
		if (!rt) {
			char msg[512];
			snprintf(msg, sizeof(msg), "unknown service in X-Amz-Target '%.200s'", target);
			free(path);
			quick_reply(req, 400, "UnknownOperationException", msg);
			return;
		}
	} else if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) {
		rt = find_prefix(h->gets, h->n_gets, path);
		if (!rt) {
			free(path);
			quick_reply(req, 404, "ResourceNotFoundException",
				    "no such resource; POST / for the API, GET /health");
			return;
		}
	} else {
		free(path);
		quick_reply(req, 405, "UnknownOperationException", "use POST / (AWS JSON 1.1) or GET");
		return;
	}
	if (evbuffer_get_length(in) > h->body_max) {
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "the request body is %zu bytes; the limit is %zu bytes (limits.body_max): send a smaller "
			 "request",
			 evbuffer_get_length(in), h->body_max);
		free(path);
		quick_reply(req, 413, "SerializationException", msg);
		return;
	}

dispatch:
	c = httpd_call_new(h, req, rt, path, target);
	if (!c) {
		quick_reply(req, 500, "InternalFailure", "out of memory");
		return;
	}
	httpd_call_track(c);
	if (rt->direct) {
		rt->direct(c, rt->direct_ud);
		return;
	}
	if (workpool_submit(h->d->pool, work_cb, c) < 0) {
		httpd_call_untrack(c);
		httpd_call_free(c);
		quick_reply(req, 503, "ServiceUnavailableException", "the daemon is shutting down; retry later");
	}
}

/* ---- registration ---- */

static int add_route(struct route **arr, size_t *n, const char *prefix, const char *service, httpd_handler_fn fn,
		     void *userdata)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*arr)[i].prefix, prefix))
			return -EEXIST;
	struct route *na = realloc(*arr, (*n + 1) * sizeof(**arr));
	if (!na)
		return -ENOMEM;
	*arr = na;
	na[*n].prefix = strdup(prefix);
	na[*n].service = service ? strdup(service) : NULL;
	na[*n].fn = fn;
	na[*n].userdata = userdata;
	na[*n].client_cert = false;
	na[*n].direct = NULL;
	na[*n].direct_ud = NULL;
	if (!na[*n].prefix || (service && !na[*n].service)) {
		free(na[*n].prefix);
		free(na[*n].service);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

int httpd_register_service(struct httpd *h, const char *target_prefix, const char *sigv4_service, httpd_handler_fn fn,
			   void *userdata)
{
	return add_route(&h->services, &h->n_services, target_prefix, sigv4_service, fn, userdata);
}

int httpd_register_get(struct httpd *h, const char *path_prefix, const char *sigv4_service, httpd_handler_fn fn,
		       void *userdata)
{
	if (!sigv4_service)
		return -EINVAL;
	return add_route(&h->gets, &h->n_gets, path_prefix, sigv4_service, fn, userdata);
}

int httpd_register_public_get(struct httpd *h, const char *path_prefix, httpd_handler_fn fn, void *userdata)
{
	return add_route(&h->gets, &h->n_gets, path_prefix, NULL, fn, userdata);
}

int httpd_register_raw(struct httpd *h, const char *path_prefix, const char *sigv4_service, httpd_handler_fn fn,
		       void *userdata)
{
	return add_route(&h->raws, &h->n_raws, path_prefix, sigv4_service, fn, userdata);
}

int httpd_set_direct(struct httpd *h, const char *target_prefix, httpd_handler_fn fn, void *userdata)
{
	for (size_t i = 0; i < h->n_services; i++)
		if (strcmp(h->services[i].prefix, target_prefix) == 0) {
			h->services[i].direct = fn;
			h->services[i].direct_ud = userdata;
			return 0;
		}
	return -ENOENT;
}

int httpd_require_client_cert(struct httpd *h, const char *prefix)
{
	struct route *tables[] = {h->services, h->gets};
	size_t counts[] = {h->n_services, h->n_gets};

	for (size_t t = 0; t < 2; t++)
		for (size_t i = 0; i < counts[t]; i++)
			if (strcmp(tables[t][i].prefix, prefix) == 0) {
				tables[t][i].client_cert = true;
				return 0;
			}
	return -ENOENT;
}

void httpd_routes_free(struct httpd *h)
{
	struct route *tables[] = {h->services, h->gets, h->raws};
	size_t counts[] = {h->n_services, h->n_gets, h->n_raws};

	for (size_t t = 0; t < 3; t++) {
		for (size_t i = 0; i < counts[t]; i++) {
			free(tables[t][i].prefix);
			free(tables[t][i].service);
		}
		free(tables[t]);
	}
	h->services = h->gets = h->raws = NULL;
	h->n_services = h->n_gets = h->n_raws = 0;
}
