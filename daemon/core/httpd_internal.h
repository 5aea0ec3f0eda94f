/* The HTTP transport's own header, shared by its files only:
 *   httpd.c        the server: listener, start and stop
 *   httpd_route.c  the route tables and dispatch of a request to its handler
 *   httpd_call.c   the call: one request, its reply (completed from any thread,
 *                  sent by the I/O thread) and client-gone detection
 *   httpd_tls.c    HTTPS: the OpenSSL context, its reload, the client certificate
 * The public interface is core/httpd.h. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/http.h>
#include <event2/util.h>
#include <jansson.h>

#include "core/httpd.h"
#include "sigv4.h"

struct route {
	char *prefix; /* target prefix (JSON) or path prefix (GET) */
	char *service;
	bool client_cert; /* with tls.client_ca: the caller must show a certificate naming its instance */
	httpd_handler_fn fn;
	void *userdata;
	httpd_handler_fn direct; /* httpd_set_direct: on the I/O thread, before admission */
	void *direct_ud;
};

/* The client certificate of a call's connection, read when the call is made. */
struct httpd_peer_cert {
	bool tls;	 /* the connection is TLS */
	bool present;	 /* the client sent a certificate */
	bool verified;	 /* ... and it verified against tls.client_ca */
	char error[128]; /* why it did not verify */
	char cn[129];	 /* its subject's common name; "" when none (or not one plain string) */
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
	char peer[64];	     /* the client's address (the TCP peer), for the observer */
	struct event *watch; /* EV_READ on fd while an on_gone callback waits */

	const struct route *route;
	char request_id[37];
	char *method, *path, *query, *op, *target_prefix;
	struct sigv4_header *headers;
	size_t n_headers;
	char *body;
	size_t body_len;
	json_t *json;

	struct httpd_peer_cert cert;
	bool relayed;		  /* another daemon relayed it (httpd_set_relay_check) */
	int64_t relay_hold_ms;	  /* ... and so much is left of its long-poll */
	struct httpd_identity id; /* filled by the authenticator */
	struct httpd_principal principal;

	pthread_mutex_t lock; /* guards the fields below */
	bool completed;
	char *err_type, *err_msg; /* of an error reply, for the observer */
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

struct metric;
struct httpd_limit;

struct httpd {
	struct rd_daemon *d;
	struct metric *m_requests, *m_latency; /* core/metrics.h */
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct event *accept_retry; /* accepting again after running out of descriptors */
	int64_t accept_warned_ms;
	const char *setting;	    /* the listener's config key ("listen"), for messages and metrics */
	size_t nconn, max_conn;	    /* open connections, and the cap (limits.max_connections) */
	bool cap_paused;	    /* accepting is paused because nconn reached max_conn */
	bool closing;		    /* httpd_free() is closing every connection */
	struct event *fresh_ev;	    /* conn_fresh_cb: sets the close callback of new connections */
	struct bufferevent **fresh; /* connections accepted since it last ran (a reference each) */
	size_t n_fresh, cap_fresh;
	int64_t cap_warned_ms;
	struct metric *m_conns, *m_cap_pauses;
	struct httpd_tls *tls; /* NULL: plain HTTP */
	struct event *wake;
	int port;
	httpd_auth_fn auth_fn;
	void *auth_ud;
	char *relay_header; /* httpd_set_relay_check */
	httpd_relay_fn relay_fn;
	void *relay_ud;
	httpd_observer_fn observer;
	void *observer_ud;
	struct route *services;
	size_t n_services;
	struct route *gets;
	size_t n_gets;
	struct route *raws;
	size_t n_raws;
	size_t body_max;	    /* a JSON operation's body (limits.body_max) */
	struct httpd_limit *limit;  /* failed signatures per source address */
	struct httpd_call *pending; /* I/O thread only */
	struct httpd_call *spare;   /* freed calls kept for the next ones (I/O thread only; httpd_call.c) */
	size_t n_spare;
	pthread_mutex_t qlock;
	struct httpd_call *qhead, *qtail;
};

/* ---- httpd_limit.c: failed signatures per source address ---- */

/* failed_auth_per_minute 0: no limit. NULL when out of memory. */
struct httpd_limit *httpd_limit_new(int failed_auth_per_minute);
struct httpd_limit *httpd_limit_free(struct httpd_limit *l);
/* 0 when addr may be authenticated; else the milliseconds until it may. */
int httpd_limit_wait_ms(struct httpd_limit *l, const char *addr);
/* Counts a failed authentication of addr. */
void httpd_limit_failed(struct httpd_limit *l, const char *addr);

/* ---- httpd_call.c ---- */

/* A call for req, routed to rt: copies the method, the query, the target's
 * prefix and operation (target NULL for path routes), the headers and the
 * body. Takes path (decoded) in every case. NULL when out of memory. */
struct httpd_call *httpd_call_new(struct httpd *h, struct evhttp_request *req, const struct route *rt, char *path,
				  const char *target);
void httpd_call_free(struct httpd_call *c);
/* Frees the calls httpd_call_free kept for reuse (httpd_free). */
void httpd_calls_spare_free(struct httpd *h);
/* Watches the call's connection until it is sent (I/O thread). */
void httpd_call_track(struct httpd_call *c);
/* Stops watching a call that never reached its handler, before freeing it. */
void httpd_call_untrack(struct httpd_call *c);
/* Sends the replies completed since the last wake-up (I/O thread). */
void httpd_calls_wake_cb(evutil_socket_t fd, short what, void *arg);
/* Sends what is completed and forgets calls that never were (at shut-down). */
void httpd_calls_shutdown(struct httpd *h);

/* ---- httpd_tls.c ---- */

struct bufferevent;
struct event_base;
struct httpd_tls;

/* Loads the certificate (chain allowed), its key and the optional client CA
 * (PEM files); errors name the file and what is wrong with it. */
int httpd_tls_new(const char *cert, const char *key, const char *client_ca, struct httpd_tls **ret,
		  struct rd_error *err);
struct httpd_tls *httpd_tls_free(struct httpd_tls *t);
/* Reads the same files again; on failure the old context stays in use. */
int httpd_tls_reload(struct httpd_tls *t, struct rd_error *err);
/* Whether client certificates are asked for (tls.client_ca is set). */
bool httpd_tls_client_ca(const struct httpd_tls *t);
/* evhttp's bufferevent callback: an accepting OpenSSL bufferevent. */
struct bufferevent *httpd_tls_bevcb(struct event_base *base, void *arg);
/* What a TLS connection's pending bytes are: 1 application data, 0 the
 * client closed (close_notify or an error), -EAGAIN not a whole record yet. */
int httpd_tls_peek(struct bufferevent *bev);
/* The connection cap (httpd.c): every connection's close callback uncounts
 * it. Code that sets a close callback of its own calls httpd_conn_closed()
 * from it, and gives the connection back with httpd_conn_watch() instead of
 * clearing the callback. */
void httpd_conn_watch(struct httpd *h, struct evhttp_connection *evcon);
void httpd_conn_closed(struct httpd *h);
/* The client certificate of bev's connection (all false on plain HTTP). */
void httpd_tls_peer(struct bufferevent *bev, struct httpd_peer_cert *ret);

/* ---- httpd_route.c ---- */

/* evhttp's callback for every request (I/O thread). */
void httpd_route_request_cb(struct evhttp_request *req, void *arg);
void httpd_routes_free(struct httpd *h);
