/* The HTTP server: one evhttp listener on the I/O thread's event loop.
 * Routing is httpd_route.c's, the call and its reply httpd_call.c's. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "core/conf.h"
#include "core/daemon.h"
#include "core/error.h"
#include "core/httpd.h"
#include "core/httpd_internal.h"
#include "core/metrics.h"
#include "log.h"
#include "util.h"

void httpd_set_auth(struct httpd *h, httpd_auth_fn fn, void *userdata)
{
	h->auth_fn = fn;
	h->auth_ud = userdata;
}

void httpd_set_relay_check(struct httpd *h, const char *header_name, httpd_relay_fn fn, void *userdata)
{
	free(h->relay_header);
	h->relay_header = header_name ? strdup(header_name) : NULL;
	h->relay_fn = fn;
	h->relay_ud = userdata;
}

void httpd_set_observer(struct httpd *h, httpd_observer_fn fn, void *userdata)
{
	h->observer = fn;
	h->observer_ud = userdata;
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

/* Whether host names only this machine, so plain HTTP on it reveals nothing
 * to the network. */
static bool is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

int httpd_reload_tls(struct httpd *h, struct rd_error *err)
{
	return h && h->tls ? httpd_tls_reload(h->tls, err) : 0;
}

bool httpd_is_tls(const struct httpd *h)
{
	return h->tls != NULL;
}

/* Every agent holds a connection (its long-poll): the soft limit on file
 * descriptors, often 1,024, would cap the fleet; the hard limit is the
 * administrator's (LimitNOFILE=). Nothing in the daemon uses select(). */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < 4096)
		log_warning("the file descriptor limit is %llu: rolloutd holds one per connected agent; raise it "
			    "(LimitNOFILE= in the systemd unit, ulimit -n) for more than a few hundred agents",
			    (unsigned long long)rl.rlim_cur);
}

/* libevent listens with a backlog of 128: thousands of agents connecting
 * at once (after a restart) would see SYNs dropped and retried seconds
 * later. The kernel caps this at net.core.somaxconn. */
static void widen_backlog(int fd)
{
	(void)listen(fd, 65535);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *ud)
{
	struct httpd *h = ud;
	(void)fd;
	(void)what;

	if (!h->cap_paused)
		evconnlistener_enable(evhttp_bound_socket_get_listener(h->sock));
}

/* ---- the connection cap (limits.max_connections) ----
 *
 * libevent 2.1's evhttp has no cap of its own, and reports a connection's
 * end only through its close callback, which can be set only on the
 * evhttp_connection that it creates after our bufferevent callback returns.
 * So the callback counts the connection and queues its bufferevent; a
 * callback of the highest priority, which runs before any of the
 * connection's I/O, takes the evhttp_connection from the bufferevent's
 * callback argument and sets the close callback that uncounts it. At the
 * cap, accepting pauses: new clients wait in the kernel's backlog (as with
 * haproxy's maxconn) instead of taking the descriptors that the store, the
 * plugins and the bundle cache need. */

static void conn_uncount(struct httpd *h)
{
	h->nconn--;
	metric_set(h->m_conns, (double)h->nconn, h->setting);
	if (h->cap_paused && h->nconn < h->max_conn && !h->closing) {
		h->cap_paused = false;
		if (!evtimer_pending(h->accept_retry, NULL))
			evconnlistener_enable(evhttp_bound_socket_get_listener(h->sock));
	}
}

static void conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	conn_uncount(arg);
}

void httpd_conn_closed(struct httpd *h)
{
	conn_uncount(h);
}

void httpd_conn_watch(struct httpd *h, struct evhttp_connection *evcon)
{
	evhttp_connection_set_closecb(evcon, conn_closed_cb, h);
}

static void conn_fresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd *h = arg;
	(void)fd;
	(void)what;

	for (size_t i = 0; i < h->n_fresh; i++) {
		struct bufferevent *bev = h->fresh[i];
		bufferevent_data_cb rd = NULL;
		void *evcon = NULL;

		bufferevent_getcb(bev, &rd, NULL, NULL, &evcon);
		/* bufferevent_free() (the connection is gone already) clears them */
		if (rd && evcon)
			httpd_conn_watch(h, evcon);
		else
			conn_uncount(h);
		bufferevent_decref(bev);
	}
	h->n_fresh = 0;
}

static struct bufferevent *conn_bevcb(struct event_base *base, void *arg)
{
	struct httpd *h = arg;
	struct bufferevent *bev, **fresh;
	int64_t now;

	if (h->n_fresh == h->cap_fresh) {
		size_t cap = h->cap_fresh ? 2 * h->cap_fresh : 64;
		if (!(fresh = realloc(h->fresh, cap * sizeof(*fresh))))
			return NULL; /* evhttp makes a plain one, uncounted */
		h->fresh = fresh;
		h->cap_fresh = cap;
	}
	bev = h->tls ? httpd_tls_bevcb(base, h->tls) : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return NULL;
	/* held until conn_fresh_cb has looked at it, even if evhttp frees it */
	bufferevent_incref(bev);
	h->fresh[h->n_fresh++] = bev;
	event_active(h->fresh_ev, EV_TIMEOUT, 0);
	h->nconn++;
	metric_set(h->m_conns, (double)h->nconn, h->setting);
	if (h->nconn >= h->max_conn && !h->cap_paused) {
		h->cap_paused = true;
		evconnlistener_disable(evhttp_bound_socket_get_listener(h->sock));
		metric_inc(h->m_cap_pauses, h->setting);
		now = rd_mono_ms();
		if (!h->cap_warned_ms || now - h->cap_warned_ms >= 60000) {
			h->cap_warned_ms = now;
			log_warning("%s: %zu connections are open (limits.max_connections): new connections wait "
				    "until one closes",
				    h->setting, h->nconn);
		}
	}
	return bev;
}

/* accept() failed for good (out of file descriptors): libevent would try
 * again at once for ever, spinning the I/O thread; pause accepting for a
 * second instead, and say why once a minute. */
static void accept_error_cb(struct evconnlistener *lev, void *ud)
{
	struct httpd *h = ud;
	int err = EVUTIL_SOCKET_ERROR();
	int64_t now = rd_mono_ms();
	struct timeval tv = {.tv_sec = 1};
	struct rlimit rl = {0};

	if (!h->accept_warned_ms || now - h->accept_warned_ms >= 60000) {
		h->accept_warned_ms = now;
		getrlimit(RLIMIT_NOFILE, &rl);
		log_warning("cannot accept connections: %s (file descriptor limit %llu); new connections wait: raise "
			    "LimitNOFILE= or ulimit -n",
			    evutil_socket_error_to_string(err), (unsigned long long)rl.rlim_cur);
	}
	evconnlistener_disable(lev);
	event_add(h->accept_retry, &tv);
}

/* Descriptors kept for everything but client connections: the store's
 * connections, plugin calls, bundle files, hook logs, the journal. */
#define HTTPD_FD_RESERVE 256

/* limits.max_connections, else what the descriptor limit leaves after the
 * reserve; a configured cap the limit cannot hold is lowered, saying so. */
static size_t connection_cap(const struct rd_config *cfg, const char *setting)
{
	struct rlimit rl = {0};
	size_t fit, want = cfg && cfg->limit_max_connections ? (size_t)cfg->limit_max_connections : 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 1 << 20;
	fit = rl.rlim_cur > 2 * HTTPD_FD_RESERVE ? (size_t)rl.rlim_cur - HTTPD_FD_RESERVE : (size_t)rl.rlim_cur / 2;
	if (!want)
		return fit < HTTPD_DEFAULT_MAX_CONNECTIONS ? fit : HTTPD_DEFAULT_MAX_CONNECTIONS;
	if (want > fit) {
		log_warning("%s: limits.max_connections is %zu but the file descriptor limit (%llu) leaves room for "
			    "%zu; using %zu (raise LimitNOFILE= or ulimit -n)",
			    setting, want, (unsigned long long)rl.rlim_cur, fit, fit);
		return fit;
	}
	return want;
}

int httpd_new(struct rd_daemon *d, struct httpd **ret, struct rd_error *err)
{
	raise_fd_limit();
	return httpd_new_at(d, d->cfg && d->cfg->listen ? d->cfg->listen : "127.0.0.1:8740", "listen", ret, err);
}

int httpd_new_at(struct rd_daemon *d, const char *listen, const char *setting, struct httpd **ret, struct rd_error *err)
{
	struct httpd *h;
	char host[256];
	int port, r;

	if (split_listen(listen, host, sizeof(host), &port) < 0)
		return rd_error_set(err, -EINVAL, "InvalidConfiguration",
				    "%s '%s' is not host:port (e.g. 127.0.0.1:8740 or [::1]:8740)", setting, listen);
	h = calloc(1, sizeof(*h));
	if (!h)
		return rd_error_set(err, -ENOMEM, "InternalFailure", "out of memory");
	h->d = d;
	pthread_mutex_init(&h->qlock, NULL);
	h->m_requests = metric_counter("rolloutd_api_requests_total",
				       "Requests answered, by operation (or route) and result (ok, client_error, "
				       "server_error).",
				       (const char *const[]){"operation", "result", NULL});
	h->m_latency = metric_histogram("rolloutd_api_request_duration_seconds",
					"Time from a request's arrival to its reply, by operation (or route); "
					"PollHostCommand includes the long-poll hold.",
					(const char *const[]){"operation", NULL}, metric_seconds_buckets,
					metric_seconds_n_buckets);
	h->setting = setting;
	h->m_conns = metric_gauge("rolloutd_http_connections", "Connections open now, by listener.",
				  (const char *const[]){"listener", NULL});
	h->m_cap_pauses = metric_counter("rolloutd_http_connection_cap_reached_total",
					 "Times a listener reached limits.max_connections and paused accepting.",
					 (const char *const[]){"listener", NULL});
	h->http = evhttp_new(d->base);
	h->wake = event_new(d->base, -1, 0, httpd_calls_wake_cb, h);
	h->fresh_ev = event_new(d->base, -1, 0, conn_fresh_cb, h);
	if (!h->http || !h->wake || !h->fresh_ev || event_priority_set(h->fresh_ev, 0) < 0) {
		r = rd_error_set(err, -ENOMEM, "InternalFailure", "out of memory");
		goto fail;
	}
	/* evhttp refuses larger bodies itself (413); the API's own limit is
	 * checked in httpd_route_request_cb so that the answer is JSON. */
	{
		const struct rd_config *cfg = d->cfg;
		uint64_t hdr = cfg && cfg->limit_header_max ? cfg->limit_header_max : 64 * 1024;
		int64_t tmo = cfg && cfg->limit_request_timeout_ms ? cfg->limit_request_timeout_ms : 120 * 1000;
		h->body_max = cfg && cfg->limit_body_max ? (size_t)cfg->limit_body_max : HTTPD_MAX_BODY;
		h->limit = httpd_limit_new(cfg ? cfg->limit_failed_auth_per_minute : 60);
		if (!h->limit) {
			r = rd_error_set(err, -ENOMEM, "InternalFailure", "out of memory");
			goto fail;
		}
		/* A declared Content-Length over this is refused (413) before the
		 * body is read; raw routes (bundle parts) need HTTPD_MAX_RAW_BODY. */
		evhttp_set_max_body_size(
		    h->http, (ev_ssize_t)(h->body_max > HTTPD_MAX_RAW_BODY ? h->body_max : HTTPD_MAX_RAW_BODY));
		evhttp_set_max_headers_size(h->http, (ev_ssize_t)hdr);
		/* a client that stalls while sending its request is dropped */
		evhttp_set_timeout(h->http, (int)((tmo + 999) / 1000));
	}
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT);
	evhttp_set_default_content_type(h->http, HTTPD_JSON_TYPE);
	evhttp_set_gencb(h->http, httpd_route_request_cb, h);
	if (d->cfg && d->cfg->tls_cert) {
		r = httpd_tls_new(d->cfg->tls_cert, d->cfg->tls_key, d->cfg->tls_client_ca, &h->tls, err);
		if (r < 0)
			goto fail;
	} else if (!is_loopback(host)) {
		log_warning("%s %s serves plain HTTP beyond this machine: access-key signatures, deployment "
			    "specifications and bundles cross the network unencrypted; set tls: {cert: FILE, key: "
			    "FILE} in the configuration (rolloutctl tls init makes them)",
			    setting, listen);
	}
	evhttp_set_bevcb(h->http, conn_bevcb, h);
	h->max_conn = connection_cap(d->cfg, setting);
	h->sock = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
	if (!h->sock) {
		r = rd_error_set(err, -EADDRINUSE, "InvalidConfiguration",
				 "cannot listen on %s: %s; pick a free port in '%s' or stop the other process", listen,
				 strerror(errno ? errno : EADDRINUSE), setting);
		goto fail;
	}
	h->accept_retry = evtimer_new(d->base, accept_retry_cb, h);
	if (!h->accept_retry) {
		r = rd_error_set(err, -ENOMEM, "InternalFailure", "out of memory");
		goto fail;
	}
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(h->sock), accept_error_cb);
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		evutil_socket_t fd = evhttp_bound_socket_get_fd(h->sock);
		int one = 1;

		widen_backlog(fd);
		/* Accepted connections inherit it. Without it a reply that
		 * libevent writes in more than one piece (over 16 KB) waits for
		 * the client's delayed ACK: 40 ms on a keep-alive connection. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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
	httpd_calls_shutdown(h);
	h->closing = true; /* evhttp_free() closes every connection: no resuming */
	if (h->fresh_ev)
		conn_fresh_cb(-1, 0, h);
	if (h->http)
		evhttp_free(h->http);
	if (h->fresh_ev)
		event_free(h->fresh_ev);
	free(h->fresh);
	if (h->wake)
		event_free(h->wake);
	if (h->accept_retry)
		event_free(h->accept_retry);
	httpd_routes_free(h);
	httpd_calls_spare_free(h);
	free(h->relay_header);
	httpd_limit_free(h->limit);
	httpd_tls_free(h->tls);
	pthread_mutex_destroy(&h->qlock);
	free(h);
	return NULL;
}
