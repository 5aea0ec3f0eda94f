/* The fleet simulator's event loop: one thread, epoll, libcurl's multi
 * interface driven by its socket callbacks (curl_multi_socket_action), so
 * that 10,000 idle long-polls cost nothing and each wake-up touches only
 * the transfer it is for, and one timer heap for libcurl's timeouts, hook
 * times and back-offs.
 *
 * A call is one AWS JSON 1.1 POST, SigV4-signed by libcurl
 * (CURLOPT_AWS_SIGV4) with the caller's key. Each xfer keeps its own easy
 * handle and, through a host name of its own resolved to the endpoint's
 * address, its own kept-alive connection. The easy handles are spread over
 * a pool of multi handles, 64 each: libcurl (7.88) walks a multi handle's
 * whole connection cache on every curl_multi_remove_handle, which with
 * 10,000 agents in one multi handle cost a millisecond per request, and a
 * multi handle per agent would cost two descriptors each (its wake-up
 * pair). */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct mh;
struct xfer;

/* r: 0 when an HTTP answer came (status, body NUL-terminated), else a
 * negative errno with err naming the transport error. */
typedef void (*xfer_done_fn)(struct xfer *x, int r, long status, const char *body, size_t len, const char *err);

struct timer {
	int64_t due; /* monotonic ms */
	size_t pos;  /* in the heap, 0 = not armed */
	void (*fn)(struct timer *t);
};

struct xfer {
	struct mh *mh; /* its multi handle */
	CURL *easy;
	struct curl_slist *resolve;
	struct curl_slist *hdrs;
	char *url;
	char *body;
	char *resp;
	size_t resp_len, resp_cap;
	char errbuf[CURL_ERROR_SIZE];
	xfer_done_fn done;
	void *ud;
	bool busy;
};

/* What a call needs: the endpoint's origin ("http://127.0.0.1:PORT"), the
 * SigV4 service and region, the key, and the client's identity headers. */
struct call_ctx {
	const char *origin;
	const char *service;
	const char *region;
	const char *agent_version; /* X-Amz-Codedeploy-Agent-Version, or NULL */
	const char *user_agent;
};

int loop_new(struct loop **ret);
struct loop *loop_free(struct loop *l);

/* Prepares x for calls to ctx->origin under the host name alias (a
 * connection of its own); alias NULL: the origin's own host. */
int xfer_init(struct loop *l, struct xfer *x, const struct call_ctx *ctx, const char *alias);
void xfer_cleanup(struct xfer *x);

/* Starts POST <origin>/ with X-Amz-Target: target and the JSON body
 * (taken over: freed after the call), signed with userpwd "AKID:SECRET".
 * done is called from loop_run when it ends. */
int xfer_call(struct xfer *x, const struct call_ctx *ctx, const char *userpwd, const char *target, char *body,
	      long timeout_ms, xfer_done_fn done);

void timer_arm(struct loop *l, struct timer *t, int64_t delay_ms);
void timer_cancel(struct loop *l, struct timer *t);

/* Runs until *stop is set or until() returns true (checked after each
 * round); tick() about once a second. */
int loop_run(struct loop *l, volatile int *stop, bool (*until)(void *ud), void (*tick)(void *ud), void *ud);

int64_t loop_now(void);
/* Transfers in flight. */
size_t loop_running(const struct loop *l);
