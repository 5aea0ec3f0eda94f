#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "core/conf.h"
#include "core/daemon.h"
#include "core/error.h"
#include "core/httpd.h"
#include "log.h"
#include "sigv4.h"
#include "util.h"
#include "core/workpool.h"

struct route {
	char *prefix; /* target prefix (JSON) or path prefix (GET) */
	char *service;
	httpd_handler_fn fn;
	void *userdata;
};

struct resp_header {
	char *name, *value;
};

struct httpd_call {
	struct httpd *h;
	/* I/O thread only */
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct httpd_call *prev, *next; /* pending list */
	struct httpd_call *qnext;	/* completion queue */
	bool gone;
	evutil_socket_t fd;  /* the client connection, for gone detection */
	int64_t start_ms;    /* arrival (monotonic), for the debug access log */
	struct event *watch; /* EV_READ on fd while an on_gone callback waits */

	const struct route *route;
	char request_id[37];
	char *method, *path, *query, *op, *target_prefix;
	struct sigv4_header *headers;
	size_t n_headers;
	char *body;
	size_t body_len;
	json_t *json;

	struct httpd_identity id; /* filled by the authenticator */
	struct httpd_principal principal;

	pthread_mutex_t lock; /* guards the fields below */
	bool completed;
	httpd_gone_fn gone_fn;
	void *gone_arg;
	int status;
	char *ctype;
	char *resp;
	size_t resp_len;
	int resp_fd;
	off_t fd_off, fd_len;
	struct resp_header *rh;
	size_t n_rh;
};

struct httpd {
	struct rd_daemon *d;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct event *wake;
	int port;
	httpd_auth_fn auth_fn;
	void *auth_ud;
	struct route *services;
	size_t n_services;
	struct route *gets;
	size_t n_gets;
	struct route *raws;
	size_t n_raws;
	struct httpd_call *pending; /* I/O thread only */
	pthread_mutex_t qlock;
	struct httpd_call *qhead, *qtail;
};

/* ---------------------------------------------------------------- calls */

static void call_free(struct httpd_call *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_headers; i++) {
		free((char *)c->headers[i].name);
		free((char *)c->headers[i].value);
	}
	free(c->headers);
	for (size_t i = 0; i < c->n_rh; i++) {
		free(c->rh[i].name);
		free(c->rh[i].value);
	}
	free(c->rh);
	free(c->method);
	free(c->path);
	free(c->query);
	free(c->op);
	free(c->target_prefix);
	free(c->body);
	json_decref(c->json);
	free(c->ctype);
	free(c->resp);
	if (c->resp_fd >= 0)
		close(c->resp_fd);
	if (c->watch)
		event_free(c->watch);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void pending_add(struct httpd *h, struct httpd_call *c)
{
	c->prev = NULL;
	c->next = h->pending;
	if (h->pending)
		h->pending->prev = c;
	h->pending = c;
}

static void pending_del(struct httpd *h, struct httpd_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		h->pending = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void send_call(struct httpd *h, struct httpd_call *c)
{
	struct evbuffer *buf;
	struct evkeyvalq *oh;

	pending_del(h, c);
	if (c->watch) {
		event_free(c->watch);
		c->watch = NULL;
	}
	log_debug("%s %s %s -> %d%s (%lld ms, key %s)", c->request_id, c->method, c->op ? c->op : c->path, c->status,
		  c->req ? "" : " client gone", (long long)(rd_mono_ms() - c->start_ms),
		  c->id.access_key_id[0] ? c->id.access_key_id : "-");
	if (!c->req)
		goto out;
	if (c->evcon)
		evhttp_connection_set_closecb(c->evcon, NULL, NULL);
	oh = evhttp_request_get_output_headers(c->req);
	evhttp_add_header(oh, "x-amzn-RequestId", c->request_id);
	for (size_t i = 0; i < c->n_rh; i++)
		evhttp_add_header(oh, c->rh[i].name, c->rh[i].value);
	if (c->ctype)
		evhttp_add_header(oh, "Content-Type", c->ctype);
	buf = evbuffer_new();
	if (!buf) {
		evhttp_send_error(c->req, 500, NULL);
		goto out;
	}
	if (c->resp_fd >= 0) {
		if (c->fd_len > 0) {
			if (evbuffer_add_file(buf, c->resp_fd, c->fd_off, c->fd_len) == 0)
				c->resp_fd = -1; /* owned by the buffer now */
		}
	} else if (c->resp_len) {
		evbuffer_add(buf, c->resp, c->resp_len);
	}
	evhttp_send_reply(c->req, c->status, NULL, buf);
	evbuffer_free(buf);
out:
	c->req = NULL;
	call_free(c);
}

static void drain_queue(struct httpd *h)
{
	struct httpd_call *c;

	pthread_mutex_lock(&h->qlock);
	c = h->qhead;
	h->qhead = h->qtail = NULL;
	pthread_mutex_unlock(&h->qlock);
	while (c) {
		struct httpd_call *n = c->qnext;
		send_call(h, c);
		c = n;
	}
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	drain_queue(arg);
}

/* Marks c completed and queues it for the I/O thread. False if it already was. */
static bool complete_begin(struct httpd_call *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->completed) {
		pthread_mutex_unlock(&c->lock);
		log_error("httpd: call %s completed twice (a bug in its handler); ignoring the second reply",
			  c->request_id);
		return false;
	}
	return true; /* still locked */
}

static void complete_end(struct httpd_call *c)
{
	struct httpd *h = c->h;

	c->completed = true;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&h->qlock);
	c->qnext = NULL;
	if (h->qtail)
		h->qtail->qnext = c;
	else
		h->qhead = c;
	h->qtail = c;
	pthread_mutex_unlock(&h->qlock);
	event_active(h->wake, EV_READ, 0);
}

int httpd_call_add_header(struct httpd_call *c, const char *name, const char *value)
{
	int r = 0;

	pthread_mutex_lock(&c->lock);
	struct resp_header *n = realloc(c->rh, (c->n_rh + 1) * sizeof(*n));
	if (n) {
		c->rh = n;
		n[c->n_rh].name = strdup(name);
		n[c->n_rh].value = strdup(value);
		if (n[c->n_rh].name && n[c->n_rh].value) {
			c->n_rh++;
		} else {
			free(n[c->n_rh].name);
			free(n[c->n_rh].value);
			r = -ENOMEM;
		}
	} else {
		r = -ENOMEM;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

void httpd_call_reply_bytes(struct httpd_call *c, int status, const char *content_type, const void *data, size_t len)
{
	if (!complete_begin(c))
		return;
	c->status = status;
	free(c->ctype);
	c->ctype = content_type ? strdup(content_type) : NULL;
	c->resp = len ? malloc(len) : NULL;
	if (len && !c->resp) {
		c->status = 500;
		c->resp_len = 0;
	} else {
		if (len)
			memcpy(c->resp, data, len);
		c->resp_len = len;
	}
	complete_end(c);
}

void httpd_call_reply_fd(struct httpd_call *c, int status, const char *content_type, int fd, off_t offset, off_t length)
{
	if (!complete_begin(c)) {
		close(fd);
		return;
	}
	c->status = status;
	free(c->ctype);
	c->ctype = content_type ? strdup(content_type) : NULL;
	c->resp_fd = fd;
	c->fd_off = offset;
	c->fd_len = length;
	complete_end(c);
}

void httpd_call_reply(struct httpd_call *c, json_t *body)
{
	char *txt = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15)) : strdup("{}");

	json_decref(body);
	if (!txt) {
		httpd_call_error_status(c, 500, "InternalFailure", "out of memory while encoding the response");
		return;
	}
	if (!complete_begin(c)) {
		free(txt);
		return;
	}
	c->status = 200;
	free(c->ctype);
	c->ctype = strdup(HTTPD_JSON_TYPE);
	c->resp = txt;
	c->resp_len = strlen(txt);
	complete_end(c);
}

void httpd_call_errorv(struct httpd_call *c, int status, const char *type, const char *fmt, va_list ap)
{
	char msg[2048];
	json_t *o;
	char *txt;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	o = json_pack("{s:s, s:s}", "__type", type, "message", msg);
	txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (status >= 500)
		log_error("request %s (%s): %s: %s", c->request_id, c->op ? c->op : c->path, type, msg);
	else
		log_debug("request %s (%s): %s: %s", c->request_id, c->op ? c->op : c->path, type, msg);
	if (!complete_begin(c)) {
		free(txt);
		return;
	}
	c->status = status;
	free(c->ctype);
	c->ctype = strdup(HTTPD_JSON_TYPE);
	c->resp = txt;
	c->resp_len = txt ? strlen(txt) : 0;
	/* the header goes with the error only */
	struct resp_header *n = realloc(c->rh, (c->n_rh + 1) * sizeof(*n));
	if (n) {
		c->rh = n;
		n[c->n_rh].name = strdup("x-amzn-ErrorType");
		n[c->n_rh].value = strdup(type);
		if (n[c->n_rh].name && n[c->n_rh].value)
			c->n_rh++;
		else {
			free(n[c->n_rh].name);
			free(n[c->n_rh].value);
		}
	}
	complete_end(c);
}

void httpd_call_error_status(struct httpd_call *c, int status, const char *type, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	httpd_call_errorv(c, status, type, fmt, ap);
	va_end(ap);
}

void httpd_call_error(struct httpd_call *c, const char *type, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	httpd_call_errorv(c, 400, type, fmt, ap);
	va_end(ap);
}

static void watch_cb(evutil_socket_t fd, short what, void *arg);

void httpd_call_on_gone(struct httpd_call *c, httpd_gone_fn fn, void *arg)
{
	pthread_mutex_lock(&c->lock);
	c->gone_fn = fn;
	c->gone_arg = arg;
	/* libevent does not read from a connection whose request is being
	 * answered, so it would not notice the client leaving: watch the
	 * socket ourselves (event_add is thread-safe with evthread). */
	if (!c->completed && !c->gone && !c->watch && c->fd >= 0) {
		c->watch = event_new(c->h->d->base, c->fd, EV_READ | EV_PERSIST, watch_cb, c);
		if (c->watch)
			event_add(c->watch, NULL);
	}
	pthread_mutex_unlock(&c->lock);
}

bool httpd_call_is_gone(struct httpd_call *c)
{
	bool g;

	pthread_mutex_lock(&c->lock);
	g = c->gone;
	pthread_mutex_unlock(&c->lock);
	return g;
}

struct rd_daemon *httpd_call_daemon(const struct httpd_call *c)
{
	return c->h->d;
}

const char *httpd_call_operation(const struct httpd_call *c)
{
	return c->op;
}

const char *httpd_call_target_prefix(const struct httpd_call *c)
{
	return c->target_prefix;
}

json_t *httpd_call_body(const struct httpd_call *c)
{
	return c->json;
}

const struct httpd_principal *httpd_call_principal(const struct httpd_call *c)
{
	return &c->principal;
}

const char *httpd_call_request_id(const struct httpd_call *c)
{
	return c->request_id;
}

const char *httpd_call_method(const struct httpd_call *c)
{
	return c->method;
}

const char *httpd_call_path(const struct httpd_call *c)
{
	return c->path;
}

const char *httpd_call_query(const struct httpd_call *c)
{
	return c->query;
}

const char *httpd_call_header(const struct httpd_call *c, const char *name)
{
	for (size_t i = 0; i < c->n_headers; i++)
		if (strcasecmp(c->headers[i].name, name) == 0)
			return c->headers[i].value;
	return NULL;
}

const char *httpd_call_service(const struct httpd_call *c)
{
	return c->route->service;
}

void httpd_call_signed_request(const struct httpd_call *c, struct sigv4_request *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->method = c->method;
	ret->path = c->path;
	ret->query = c->query;
	ret->headers = c->headers;
	ret->n_headers = c->n_headers;
	ret->body = c->body;
	ret->body_len = c->body_len;
}

/* ------------------------------------------------------- authentication */

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
	r = h->auth_fn(h->auth_ud, c, &c->id, &e);
	if (r < 0) {
		httpd_call_error_status(c,
					r == -EPERM    ? 403
					: r == -EACCES ? 400
						       : 500,
					e.code[0] ? e.code : "InternalFailure", "%s",
					e.message[0] ? e.message : strerror(-r));
		return false;
	}
	c->principal.access_key_id = c->id.access_key_id;
	c->principal.name = c->id.name;
	c->principal.policy = c->id.policy;
	c->principal.instance = c->id.instance[0] ? c->id.instance : NULL;
	c->principal.region = c->id.region;
	return true;
}

static void work_cb(void *arg)
{
	struct httpd_call *c = arg;

	if (!authenticate(c))
		return;
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
				return;
			}
			if (!json_is_object(c->json)) {
				httpd_call_error(c, "SerializationException",
						 "the request body must be a JSON object, not a %s",
						 json_is_array(c->json) ? "list" : "scalar");
				return;
			}
		}
	}
	c->route->fn(c, c->route->userdata);
}

/* ------------------------------------------------------------ routing */

/* Marks c gone (I/O thread): forgets its connection and request, stops
 * its watch, and returns the on_gone callback to run (NULL when none or
 * already completed). */
static httpd_gone_fn mark_gone(struct httpd_call *c, void **ret_arg)
{
	httpd_gone_fn fn = NULL;

	pthread_mutex_lock(&c->lock);
	c->gone = true;
	if (!c->completed) {
		fn = c->gone_fn;
		*ret_arg = c->gone_arg;
	}
	pthread_mutex_unlock(&c->lock);
	c->evcon = NULL;
	/* The request may be freed with the connection: never touch it again
	 * (a detached one then leaks, which beats a use after free). */
	c->req = NULL;
	if (c->watch) {
		event_free(c->watch);
		c->watch = NULL;
	}
	return fn;
}

/* libevent closes a connection whose call is pending. One request is in
 * flight per connection, so arg is that call. */
static void conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct httpd_call *c = arg;
	void *fa = NULL;
	httpd_gone_fn fn;

	if (c->evcon != evcon || c->gone)
		return;
	fn = mark_gone(c, &fa);
	if (fn)
		fn(c, fa);
}

/* The socket of a call waiting on on_gone became readable: EOF or an error
 * means the client left; data (a pipelined request) ends the watch. */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_call *c = arg;
	struct evhttp_connection *evcon = c->evcon;
	httpd_gone_fn fn;
	void *fa = NULL;
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n > 0 || !evcon) {
		event_free(c->watch);
		c->watch = NULL;
		return;
	}
	/* Closing the connection frees its request: forget it first. */
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	fn = mark_gone(c, &fa);
	evhttp_connection_free(evcon);
	if (fn)
		fn(c, fa);
}

static void make_request_id(char out[37])
{
	unsigned char b[16];
	char hex[33];

	if (rd_random_bytes(b, sizeof(b)) < 0)
		memset(b, 0, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	rd_hex(b, 16, hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* Immediate replies from the I/O thread (no disk involved). */
static void quick_reply(struct evhttp_request *req, int status, const char *type, const char *msg)
{
	struct evbuffer *buf = evbuffer_new();
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	char rid[37];

	make_request_id(rid);
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

static const struct route *find_get(struct httpd *h, const char *path)
{
	const struct route *best = NULL;

	for (size_t i = 0; i < h->n_gets; i++)
		if (rd_str_has_prefix(path, h->gets[i].prefix) &&
		    (!best || strlen(h->gets[i].prefix) > strlen(best->prefix)))
			best = &h->gets[i];
	return best;
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct httpd *h = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const struct route *rt = NULL;
	struct httpd_call *c = NULL;
	const char *target = NULL, *dot = NULL;
	char *path = NULL;
	size_t n = 0;

	if (!raw_path || !*raw_path)
		raw_path = "/";
	path = evhttp_uridecode(raw_path, 0, NULL);
	if (!path) {
		quick_reply(req, 400, "InvalidInputException", "the request path is not valid percent-encoding");
		return;
	}
	if (cmd == EVHTTP_REQ_GET && strcmp(path, "/health") == 0) {
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
		goto routed;
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
		rt = find_get(h, path);
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
	if (evbuffer_get_length(in) > HTTPD_MAX_BODY) {
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "the request body is %zu bytes; the limit is %d bytes: send a smaller request",
			 evbuffer_get_length(in), HTTPD_MAX_BODY);
		free(path);
		quick_reply(req, 413, "SerializationException", msg);
		return;
	}

routed:
	c = calloc(1, sizeof(*c));
	if (!c)
		goto oom;
	pthread_mutex_init(&c->lock, NULL);
	c->resp_fd = -1;
	c->start_ms = rd_mono_ms();
	c->h = h;
	c->req = req;
	c->evcon = evhttp_request_get_connection(req);
	c->fd = -1;
	{
		struct bufferevent *bev = c->evcon ? evhttp_connection_get_bufferevent(c->evcon) : NULL;
		if (bev)
			c->fd = bufferevent_getfd(bev);
	}
	c->route = rt;
	c->path = path;
	path = NULL;
	make_request_id(c->request_id);
	c->method = strdup(cmd == EVHTTP_REQ_PUT    ? "PUT"
			   : cmd == EVHTTP_REQ_POST ? "POST"
			   : cmd == EVHTTP_REQ_HEAD ? "HEAD"
						    : "GET");
	c->query = query ? strdup(query) : NULL;
	if (!c->method || (query && !c->query))
		goto oom;
	if (target) {
		c->op = strdup(dot + 1);
		c->target_prefix = strndup(target, (size_t)(dot - target));
		if (!c->op || !c->target_prefix)
			goto oom;
	}
	for (struct evkeyval *kv = ih->tqh_first; kv; kv = kv->next.tqe_next)
		n++;
	c->headers = calloc(n ? n : 1, sizeof(*c->headers));
	if (!c->headers)
		goto oom;
	for (struct evkeyval *kv = ih->tqh_first; kv; kv = kv->next.tqe_next) {
		c->headers[c->n_headers].name = strdup(kv->key);
		c->headers[c->n_headers].value = strdup(kv->value);
		c->n_headers++;
		if (!c->headers[c->n_headers - 1].name || !c->headers[c->n_headers - 1].value)
			goto oom;
	}
	c->body_len = evbuffer_get_length(in);
	c->body = malloc(c->body_len + 1);
	if (!c->body)
		goto oom;
	evbuffer_remove(in, c->body, c->body_len);
	c->body[c->body_len] = '\0';

	evhttp_connection_set_closecb(c->evcon, conn_close_cb, c);
	pending_add(h, c);
	if (workpool_submit(h->d->pool, work_cb, c) < 0) {
		pending_del(h, c);
		evhttp_connection_set_closecb(c->evcon, NULL, NULL);
		c->req = NULL;
		call_free(c);
		quick_reply(req, 503, "ServiceUnavailableException", "the daemon is shutting down; retry later");
	}
	return;
oom:
	free(path);
	if (c)
		c->req = NULL;
	call_free(c);
	quick_reply(req, 500, "InternalFailure", "out of memory");
}

/* ------------------------------------------------------------ setup */

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
	na[*n].service = strdup(service);
	na[*n].fn = fn;
	na[*n].userdata = userdata;
	if (!na[*n].prefix || !na[*n].service) {
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
	return add_route(&h->gets, &h->n_gets, path_prefix, sigv4_service, fn, userdata);
}

int httpd_register_raw(struct httpd *h, const char *path_prefix, const char *sigv4_service, httpd_handler_fn fn,
		       void *userdata)
{
	return add_route(&h->raws, &h->n_raws, path_prefix, sigv4_service, fn, userdata);
}

void httpd_set_auth(struct httpd *h, httpd_auth_fn fn, void *userdata)
{
	h->auth_fn = fn;
	h->auth_ud = userdata;
}

const void *httpd_call_raw_body(const struct httpd_call *c, size_t *ret_len)
{
	*ret_len = c->body_len;
	return c->body;
}

int httpd_port(const struct httpd *h)
{
	return h->port;
}

/* Splits "host:port" / "[v6]:port". */
static int split_listen(const char *listen, char *host, size_t hostlen, int *ret_port)
{
	const char *colon;
	const char *hs = listen;
	size_t hl;
	char *end;
	long port;

	if (listen[0] == '[') {
		const char *rb = strchr(listen, ']');
		if (!rb || rb[1] != ':')
			return -EINVAL;
		hs = listen + 1;
		hl = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - listen);
	}
	if (hl == 0 || hl >= hostlen)
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || port < 0 || port > 65535)
		return -EINVAL;
	*ret_port = (int)port;
	return 0;
}

int httpd_new(struct rd_daemon *d, struct httpd **ret, struct rd_error *err)
{
	struct httpd *h;
	char host[256];
	int port, r;
	const char *listen = d->cfg && d->cfg->listen ? d->cfg->listen : "127.0.0.1:8740";

	if (split_listen(listen, host, sizeof(host), &port) < 0)
		return rd_error_set(err, -EINVAL, "InvalidConfiguration",
				    "listen '%s' is not host:port (e.g. 127.0.0.1:8740 or [::1]:8740)", listen);
	h = calloc(1, sizeof(*h));
	if (!h)
		return rd_error_set(err, -ENOMEM, "InternalFailure", "out of memory");
	h->d = d;
	pthread_mutex_init(&h->qlock, NULL);
	h->http = evhttp_new(d->base);
	h->wake = event_new(d->base, -1, 0, wake_cb, h);
	if (!h->http || !h->wake) {
		r = rd_error_set(err, -ENOMEM, "InternalFailure", "out of memory");
		goto fail;
	}
	/* evhttp refuses larger bodies itself (413); the API's own limit is
	 * checked in request_cb so that the answer is JSON. */
	evhttp_set_max_body_size(h->http, 4 * HTTPD_MAX_BODY);
	evhttp_set_max_headers_size(h->http, 64 * 1024);
	evhttp_set_timeout(h->http, 120);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT);
	evhttp_set_default_content_type(h->http, HTTPD_JSON_TYPE);
	evhttp_set_gencb(h->http, request_cb, h);
	h->sock = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
	if (!h->sock) {
		r = rd_error_set(err, -EADDRINUSE, "InvalidConfiguration",
				 "cannot listen on %s: %s; pick a free port in 'listen' or stop the other process",
				 listen, strerror(errno ? errno : EADDRINUSE));
		goto fail;
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		evutil_socket_t fd = evhttp_bound_socket_get_fd(h->sock);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET)
				h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			else if (ss.ss_family == AF_INET6)
				h->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	*ret = h;
	return 0;
fail:
	httpd_free(h);
	return r;
}

struct httpd *httpd_free(struct httpd *h)
{
	if (!h)
		return NULL;
	drain_queue(h);
	while (h->pending) {
		struct httpd_call *c = h->pending;
		log_warning("httpd: request %s (%s) was never answered; dropping it", c->request_id,
			    c->op ? c->op : c->path);
		pending_del(h, c);
		/* c may still be referenced by a buggy owner; leak rather than free. */
		if (c->evcon)
			evhttp_connection_set_closecb(c->evcon, NULL, NULL);
		c->req = NULL;
		if (c->watch) {
			event_free(c->watch);
			c->watch = NULL;
		}
	}
	if (h->http)
		evhttp_free(h->http);
	if (h->wake)
		event_free(h->wake);
	for (size_t i = 0; i < h->n_services; i++) {
		free(h->services[i].prefix);
		free(h->services[i].service);
	}
	free(h->services);
	for (size_t i = 0; i < h->n_gets; i++) {
		free(h->gets[i].prefix);
		free(h->gets[i].service);
	}
	free(h->gets);
	for (size_t i = 0; i < h->n_raws; i++) {
		free(h->raws[i].prefix);
		free(h->raws[i].service);
	}
	free(h->raws);
	pthread_mutex_destroy(&h->qlock);
	free(h);
	return NULL;
}
