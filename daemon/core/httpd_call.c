/* The call: one request as its handler sees it, and its reply. A handler
 * completes the call from any thread; the completion queue hands it to the
 * I/O thread, which alone talks to libevent and sends it. A call held for
 * later (a long-poll) stays on the pending list, and its connection is
 * watched so that its owner learns when the client leaves. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/daemon.h"
#include "core/httpd.h"
#include "core/httpd_internal.h"
#include "core/metrics.h"
#include "log.h"
#include "util.h"
#include "uuid.h"

/* Freed calls kept for reuse, at most this many: a call is a little over the
 * largest size glibc's per-thread cache keeps, so each malloc and free of
 * one went through the arena (with consolidation) for every request. The I/O
 * thread makes and frees them all. None under AddressSanitizer, which then
 * still sees a call used after it was freed. */
#ifdef __SANITIZE_ADDRESS__
#define SPARE_MAX 0
#else
#define SPARE_MAX 64
#endif

void httpd_call_free(struct httpd_call *c)
{
	if (!c)
		return;
	free(c->headers); /* with their names and values (httpd_call_new) */
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
	free(c->err_type);
	free(c->err_msg);
	if (c->resp_fd >= 0)
		close(c->resp_fd);
	if (c->watch)
		event_free(c->watch);
	pthread_mutex_destroy(&c->lock);
#if SPARE_MAX > 0
	if (c->h->n_spare < SPARE_MAX) {
		struct httpd *h = c->h;
		c->qnext = h->spare;
		h->spare = c;
		h->n_spare++;
		return;
	}
#endif
	free(c);
}

void httpd_calls_spare_free(struct httpd *h)
{
	while (h->spare) {
		struct httpd_call *c = h->spare;
		h->spare = c->qnext;
		free(c);
	}
	h->n_spare = 0;
}

/* A zeroed call, kept or new. */
static struct httpd_call *call_alloc(struct httpd *h)
{
	struct httpd_call *c = h->spare;

	if (!c)
		return calloc(1, sizeof(*c));
	h->spare = c->qnext;
	h->n_spare--;
	memset(c, 0, sizeof(*c));
	return c;
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

/* Writes a reply handed to evhttp at once, rather than when the loop next
 * finds the socket writable. evhttp enabled the connection's write interest
 * for it; once the reply is out its write callback (run here) disables that
 * again, and libevent's change list (main.c) drops the pair unapplied: two
 * epoll_ctl calls and a loop turn per reply fewer. What the socket does not
 * take now, libevent writes as before. Plain HTTP only: on TLS the bytes go
 * through OpenSSL first. */
static void write_now(struct bufferevent *bev)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	evutil_socket_t fd = bufferevent_getfd(bev);

	if (fd < 0 || evbuffer_write(out, fd) < 0 || evbuffer_get_length(out) > 0)
		return;
	/* the connection may be freed by this (Connection: close) */
	bufferevent_trigger(bev, EV_WRITE, 0);
}

static void send_call(struct httpd *h, struct httpd_call *c)
{
	struct bufferevent *bev = NULL;
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
	{
		const char *op = c->op ? c->op : c->route ? c->route->prefix : "other";
		metric_inc(h->m_requests, op,
			   c->status < 400   ? "ok"
			   : c->status < 500 ? "client_error"
					     : "server_error");
		metric_observe(h->m_latency, (double)(rd_mono_ms() - c->start_ms) / 1000.0, op);
	}
	if (h->observer)
		h->observer(h->observer_ud, c);
	if (!c->req)
		goto out;
	if (c->evcon)
		httpd_conn_watch(h, c->evcon);
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
	if (!h->tls && c->evcon)
		bev = evhttp_connection_get_bufferevent(c->evcon);
	evhttp_send_reply(c->req, c->status, NULL, buf);
	evbuffer_free(buf);
	if (bev)
		write_now(bev);
out:
	c->req = NULL;
	httpd_call_free(c);
}

static void send_completed(struct httpd *h)
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

void httpd_calls_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	send_completed(arg);
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
	json_t *body = c->json;
	bool first;

	/* The parsed body is released here (it is valid until completion), on
	 * the thread that completes the call, mostly the one that parsed it,
	 * rather than on the I/O thread: every free of another thread's
	 * allocations went through that thread's arena, and every allocation
	 * of the parsing thread then missed its own cache. */
	c->json = NULL;
	c->completed = true;
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
	pthread_mutex_lock(&h->qlock);
	c->qnext = NULL;
	first = !h->qhead;
	if (h->qtail)
		h->qtail->qnext = c;
	else
		h->qhead = c;
	h->qtail = c;
	pthread_mutex_unlock(&h->qlock);
	/* one wake-up per batch: send_completed takes the whole queue, and a
	 * call queued behind others is sent with them (the engine answers a
	 * turn's calls together) */
	if (first)
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
	free(c->err_type);
	free(c->err_msg);
	c->err_type = strdup(type);
	c->err_msg = strdup(msg);
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

/* ---- accessors ---- */

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

const void *httpd_call_raw_body(const struct httpd_call *c, size_t *ret_len)
{
	*ret_len = c->body_len;
	return c->body;
}

/* ---- client gone ---- */

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

	httpd_conn_closed(c->h);
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
	/* On TLS the bytes may be the client's close_notify (leaving) rather
	 * than a pipelined request: TLS 1.3 hides the record type, so ask the
	 * TLS layer what they are. */
	if (n > 0 && c->cert.tls && evcon) {
		int g = httpd_tls_peek(evhttp_connection_get_bufferevent(evcon));
		if (g == -EAGAIN)
			return;
		if (g == 0)
			n = 0;
	}
	if (n > 0 || !evcon) {
		event_free(c->watch);
		c->watch = NULL;
		return;
	}
	/* Closing the connection frees its request: forget it first. */
	httpd_conn_watch(c->h, evcon);
	fn = mark_gone(c, &fa);
	evhttp_connection_free(evcon);
	if (fn)
		fn(c, fa);
}

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

/* ---- life cycle ---- */

struct httpd_call *httpd_call_new(struct httpd *h, struct evhttp_request *req, const struct route *rt, char *path,
				  const char *target)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	const char *dot = target ? strrchr(target, '.') : NULL;
	struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct bufferevent *bev;
	struct httpd_call *c;
	size_t n = 0, text = 0;
	char *p;

	c = call_alloc(h);
	if (!c) {
		free(path);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->resp_fd = -1;
	c->start_ms = rd_mono_ms();
	c->h = h;
	c->req = req;
	c->evcon = evhttp_request_get_connection(req);
	c->fd = -1;
	if (c->evcon) {
		char *addr = NULL;
		ev_uint16_t port = 0;
		evhttp_connection_get_peer(c->evcon, &addr, &port);
		rd_strlcpy(c->peer, addr ? addr : "", sizeof(c->peer));
	}
	bev = c->evcon ? evhttp_connection_get_bufferevent(c->evcon) : NULL;
	if (bev)
		c->fd = bufferevent_getfd(bev);
	if (h->tls)
		httpd_tls_peer(bev, &c->cert);
	c->route = rt;
	c->path = path;
	rd_uuid4(c->request_id);
	c->method = strdup(cmd == EVHTTP_REQ_PUT    ? "PUT"
			   : cmd == EVHTTP_REQ_POST ? "POST"
			   : cmd == EVHTTP_REQ_HEAD ? "HEAD"
						    : "GET");
	c->query = query ? strdup(query) : NULL;
	if (!c->method || (query && !c->query))
		goto oom;
	if (dot) {
		c->op = strdup(dot + 1);
		c->target_prefix = strndup(target, (size_t)(dot - target));
		if (!c->op || !c->target_prefix)
			goto oom;
	}
	/* the headers, their names and values in one allocation: two per header
	 * were a good part of a request's calls to malloc and free */
	for (struct evkeyval *kv = ih->tqh_first; kv; kv = kv->next.tqe_next) {
		n++;
		text += strlen(kv->key) + strlen(kv->value) + 2;
	}
	c->headers = malloc((n ? n : 1) * sizeof(*c->headers) + text);
	if (!c->headers)
		goto oom;
	p = (char *)(c->headers + (n ? n : 1));
	for (struct evkeyval *kv = ih->tqh_first; kv; kv = kv->next.tqe_next) {
		size_t kl = strlen(kv->key) + 1, vl = strlen(kv->value) + 1;
		c->headers[c->n_headers].name = memcpy(p, kv->key, kl);
		c->headers[c->n_headers].value = memcpy(p + kl, kv->value, vl);
		c->n_headers++;
		p += kl + vl;
	}
	c->body_len = evbuffer_get_length(in);
	c->body = malloc(c->body_len + 1);
	if (!c->body)
		goto oom;
	evbuffer_remove(in, c->body, c->body_len);
	c->body[c->body_len] = '\0';
	return c;
oom:
	httpd_call_free(c);
	return NULL;
}

void httpd_call_track(struct httpd_call *c)
{
	evhttp_connection_set_closecb(c->evcon, conn_close_cb, c);
	pending_add(c->h, c);
}

void httpd_call_untrack(struct httpd_call *c)
{
	pending_del(c->h, c);
	httpd_conn_watch(c->h, c->evcon);
	c->req = NULL;
}

void httpd_calls_shutdown(struct httpd *h)
{
	send_completed(h);
	while (h->pending) {
		struct httpd_call *c = h->pending;
		log_warning("httpd: request %s (%s) was never answered; dropping it", c->request_id,
			    c->op ? c->op : c->path);
		pending_del(h, c);
		/* c may still be referenced by a buggy owner; leak rather than free. */
		if (c->evcon)
			httpd_conn_watch(h, c->evcon);
		c->req = NULL;
		if (c->watch) {
			event_free(c->watch);
			c->watch = NULL;
		}
	}
}

int httpd_call_act_as(struct httpd_call *c, const char *target_prefix, const char *op, json_t *body,
		      const struct httpd_identity *id)
{
	char *p = strdup(target_prefix), *o = strdup(op);

	if (!p || !o || !body) {
		free(p);
		free(o);
		json_decref(body);
		return -ENOMEM;
	}
	free(c->target_prefix);
	free(c->op);
	json_decref(c->json);
	c->target_prefix = p;
	c->op = o;
	c->json = body;
	c->id = *id;
	c->principal.access_key_id = c->id.access_key_id;
	c->principal.name = c->id.name;
	c->principal.policy = c->id.policy;
	c->principal.instance = c->id.instance[0] ? c->id.instance : NULL;
	c->principal.region = c->id.region;
	return 0;
}

const char *httpd_call_client_cn(const struct httpd_call *c)
{
	return c->cert.present && c->cert.verified && c->cert.cn[0] ? c->cert.cn : NULL;
}

bool httpd_call_relayed(const struct httpd_call *c, int64_t *ret_hold_ms)
{
	if (c->relayed && ret_hold_ms)
		*ret_hold_ms = c->relay_hold_ms;
	return c->relayed;
}

const char *httpd_call_peer(const struct httpd_call *c)
{
	return c->peer;
}

int httpd_call_status(const struct httpd_call *c)
{
	return c->status;
}

const char *httpd_call_error_type(const struct httpd_call *c)
{
	return c->err_type;
}

const char *httpd_call_error_message(const struct httpd_call *c)
{
	return c->err_msg;
}
