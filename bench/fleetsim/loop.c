#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "cryptoutil.h"
#include "httpclient.h"
#include "loop.h"
#include "util.h"

#define MAX_RESPONSE (1 << 20)

/* Transfers per multi handle: few enough that libcurl's walks over a
 * multi handle's connections and DNS entries stay short, many enough that
 * the two descriptors of each multi handle's wake-up pair stay a small
 * part of the file descriptors (10,000 multi handles would need 20,000). */
#define PER_MULTI 64

struct sock;

/* One multi handle of the pool and its libcurl timeout. */
struct mh {
	struct loop *loop;
	CURLM *multi;
	struct timer timer;
	unsigned users;
};

struct loop {
	int ep;
	struct sock *dead; /* removed during this round, freed after it */
	struct timer **heap;
	size_t n_heap, cap_heap; /* heap[1..n_heap] */
	size_t running;
	struct mh **mhs;
	size_t n_mhs;
};

int64_t loop_now(void)
{
	return rd_mono_ms();
}

size_t loop_running(const struct loop *l)
{
	return l->running;
}

/* ---------------------------------------------------------------- timers */

static void heap_swap(struct loop *l, size_t a, size_t b)
{
	struct timer *t = l->heap[a];
	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->pos = a;
	l->heap[b]->pos = b;
}

static void heap_up(struct loop *l, size_t i)
{
	while (i > 1 && l->heap[i]->due < l->heap[i / 2]->due) {
		heap_swap(l, i, i / 2);
		i /= 2;
	}
}

static void heap_down(struct loop *l, size_t i)
{
	for (;;) {
		size_t m = i, c = 2 * i;
		if (c <= l->n_heap && l->heap[c]->due < l->heap[m]->due)
			m = c;
		if (c + 1 <= l->n_heap && l->heap[c + 1]->due < l->heap[m]->due)
			m = c + 1;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

void timer_cancel(struct loop *l, struct timer *t)
{
	size_t i = t->pos;

	if (!i)
		return;
	heap_swap(l, i, l->n_heap);
	l->n_heap--;
	t->pos = 0;
	if (i <= l->n_heap) {
		heap_up(l, i);
		heap_down(l, i);
	}
}

void timer_arm(struct loop *l, struct timer *t, int64_t delay_ms)
{
	timer_cancel(l, t);
	if (l->n_heap + 1 >= l->cap_heap) {
		size_t cap = l->cap_heap ? 2 * l->cap_heap : 1024;
		struct timer **h = realloc(l->heap, cap * sizeof(*h));
		if (!h)
			abort(); /* a bench: nothing sensible to do without memory */
		l->heap = h;
		l->cap_heap = cap;
	}
	t->due = loop_now() + delay_ms;
	l->heap[++l->n_heap] = t;
	t->pos = l->n_heap;
	heap_up(l, t->pos);
}

/* ---------------------------------------------------------------- curl glue */

/* A socket of a multi handle, as epoll knows it. */
struct sock {
	struct mh *mh; /* NULL once removed */
	curl_socket_t fd;
	struct sock *next;
};

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct mh *mh = userp;
	struct sock *k = socketp;
	struct epoll_event ev = {0};
	(void)easy;

	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(mh->loop->ep, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(mh->multi, s, NULL);
		if (k) { /* an event for it may still be in this round's batch */
			k->mh = NULL;
			k->next = mh->loop->dead;
			mh->loop->dead = k;
		}
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (!k) {
		if (!(k = calloc(1, sizeof(*k))))
			return -1;
		k->mh = mh;
		k->fd = s;
		curl_multi_assign(mh->multi, s, k);
		ev.data.ptr = k;
		if (epoll_ctl(mh->loop->ep, EPOLL_CTL_ADD, s, &ev) < 0 && errno == EEXIST)
			epoll_ctl(mh->loop->ep, EPOLL_CTL_MOD, s, &ev);
	} else {
		ev.data.ptr = k;
		if (epoll_ctl(mh->loop->ep, EPOLL_CTL_MOD, s, &ev) < 0 && errno == ENOENT)
			epoll_ctl(mh->loop->ep, EPOLL_CTL_ADD, s, &ev);
	}
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct mh *mh = userp;
	(void)multi;

	if (timeout_ms < 0)
		timer_cancel(mh->loop, &mh->timer);
	else
		timer_arm(mh->loop, &mh->timer, timeout_ms);
	return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (x->resp_len + n + 1 > MAX_RESPONSE)
		return 0;
	if (x->resp_len + n + 1 > x->resp_cap) {
		size_t cap = x->resp_cap ? x->resp_cap : 1024;
		while (cap < x->resp_len + n + 1)
			cap *= 2;
		char *p = realloc(x->resp, cap);
		if (!p)
			return 0;
		x->resp = p;
		x->resp_cap = cap;
	}
	memcpy(x->resp + x->resp_len, ptr, n);
	x->resp_len += n;
	x->resp[x->resp_len] = '\0';
	return n;
}

/* Reports the calls of mh that ended. */
static void finish(struct mh *mh)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(mh->multi, &left))) {
		struct xfer *x = NULL;
		long status = 0;
		CURLcode res;

		if (m->msg != CURLMSG_DONE)
			continue;
		res = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(mh->multi, m->easy_handle);
		x->busy = false;
		mh->loop->running--;
		if (res != CURLE_OK) {
			char err[CURL_ERROR_SIZE + 64];
			snprintf(err, sizeof(err), "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
			x->done(x, res == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO, 0, "", 0, err);
		} else
			x->done(x, 0, status, x->resp ? x->resp : "", x->resp_len, "");
	}
}

static void on_curl_timer(struct timer *t)
{
	struct mh *mh = (struct mh *)((char *)t - offsetof(struct mh, timer));
	int running;

	curl_multi_socket_action(mh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	finish(mh);
}

/* A multi handle with room for one more transfer. */
static struct mh *mh_get(struct loop *l)
{
	struct mh *mh = l->n_mhs ? l->mhs[l->n_mhs - 1] : NULL, **v;

	if (mh && mh->users < PER_MULTI)
		return mh;
	v = realloc(l->mhs, (l->n_mhs + 1) * sizeof(*v));
	if (!v)
		return NULL;
	l->mhs = v;
	mh = calloc(1, sizeof(*mh));
	if (!mh)
		return NULL;
	mh->loop = l;
	mh->timer.fn = on_curl_timer;
	mh->multi = curl_multi_init();
	if (!mh->multi) {
		free(mh);
		return NULL;
	}
	curl_multi_setopt(mh->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(mh->multi, CURLMOPT_SOCKETDATA, mh);
	curl_multi_setopt(mh->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(mh->multi, CURLMOPT_TIMERDATA, mh);
	/* every transfer keeps its connection between calls */
	curl_multi_setopt(mh->multi, CURLMOPT_MAXCONNECTS, (long)PER_MULTI + 4);
	l->mhs[l->n_mhs++] = mh;
	return mh;
}

int loop_new(struct loop **ret)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		free(l);
		return -errno;
	}
	*ret = l;
	return 0;
}

struct loop *loop_free(struct loop *l)
{
	if (!l)
		return NULL;
	for (size_t i = 0; i < l->n_mhs; i++) {
		curl_multi_cleanup(l->mhs[i]->multi);
		free(l->mhs[i]);
	}
	free(l->mhs);
	close(l->ep);
	while (l->dead) {
		struct sock *k = l->dead;
		l->dead = k->next;
		free(k);
	}
	free(l->heap);
	free(l);
	return NULL;
}

int xfer_init(struct loop *l, struct xfer *x, const struct call_ctx *ctx, const char *alias)
{
	const char *hp = strstr(ctx->origin, "://");
	char port[16] = "80", addr[256], entry[512];
	const char *colon;
	int n;

	memset(x, 0, sizeof(*x));
	if (!hp)
		return -EINVAL;
	hp += 3;
	colon = strrchr(hp, ':');
	if (colon) {
		snprintf(port, sizeof(port), "%s", colon + 1);
		n = snprintf(addr, sizeof(addr), "%.*s", (int)(colon - hp), hp);
	} else
		n = snprintf(addr, sizeof(addr), "%s", hp);
	if (n < 0 || (size_t)n >= sizeof(addr))
		return -EINVAL;
	x->mh = mh_get(l);
	x->easy = curl_easy_init();
	if (!x->mh || !x->easy)
		goto oom;
	if (alias) {
		snprintf(entry, sizeof(entry), "%s:%s:%s", alias, port, addr);
		if (!(x->resolve = curl_slist_append(NULL, entry)) ||
		    asprintf(&x->url, "http://%s:%s/", alias, port) < 0)
			goto oom;
		curl_easy_setopt(x->easy, CURLOPT_RESOLVE, x->resolve);
		/* never expire: libcurl otherwise walks its DNS cache for stale
		 * entries on every transfer */
		curl_easy_setopt(x->easy, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
	} else if (asprintf(&x->url, "%s/", ctx->origin) < 0)
		goto oom;
	x->mh->users++;
	return 0;
oom:
	x->url = NULL;
	xfer_cleanup(x);
	return -ENOMEM;
}

void xfer_cleanup(struct xfer *x)
{
	if (x->easy && x->busy)
		curl_multi_remove_handle(x->mh->multi, x->easy);
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->resolve);
	curl_slist_free_all(x->hdrs);
	free(x->url);
	free(x->body);
	free(x->resp);
	memset(x, 0, sizeof(*x));
}

int xfer_call(struct xfer *x, const struct call_ctx *ctx, const char *userpwd, const char *target, char *body,
	      long timeout_ms, xfer_done_fn done)
{
	char sigv4[160], hash[65], h_hash[96], h_target[160], h_version[160];
	CURL *c = x->easy;
	struct curl_slist *hdrs = NULL;

	if (x->busy || http_sigv4_param(ctx->region, ctx->service, sigv4, sizeof(sigv4)) < 0) {
		free(body);
		return -EINVAL;
	}
	rd_sha256_hex(body, strlen(body), hash);
	snprintf(h_hash, sizeof(h_hash), "x-amz-content-sha256: %s", hash);
	snprintf(h_target, sizeof(h_target), "X-Amz-Target: %s", target);
	snprintf(h_version, sizeof(h_version), "X-Amz-Codedeploy-Agent-Version: %s",
		 ctx->agent_version ? ctx->agent_version : "");
	/* curl copies each string it is given */
	hdrs = curl_slist_append(hdrs, "Content-Type: application/x-amz-json-1.1");
	if (hdrs)
		hdrs = curl_slist_append(hdrs, h_target);
	if (hdrs)
		hdrs = curl_slist_append(hdrs, h_hash);
	if (hdrs && ctx->agent_version)
		hdrs = curl_slist_append(hdrs, h_version);
	if (!hdrs) {
		free(body);
		return -ENOMEM;
	}
	curl_slist_free_all(x->hdrs);
	x->hdrs = hdrs;
	free(x->body);
	x->body = body;
	x->resp_len = 0;
	if (x->resp)
		x->resp[0] = '\0';
	x->errbuf[0] = '\0';
	x->done = done;
	curl_easy_setopt(c, CURLOPT_URL, x->url);
	curl_easy_setopt(c, CURLOPT_PRIVATE, x);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(x->body));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	curl_easy_setopt(c, CURLOPT_USERAGENT, ctx->user_agent);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 16384L);
	if (curl_multi_add_handle(x->mh->multi, c) != CURLM_OK)
		return -ENOMEM;
	x->busy = true;
	x->mh->loop->running++;
	return 0;
}

int loop_run(struct loop *l, volatile int *stop, bool (*until)(void *ud), void (*tick)(void *ud), void *ud)
{
	struct epoll_event evs[256];
	int64_t next_tick = loop_now() + 1000;
	int running;

	while (!*stop && !(until && until(ud))) {
		int64_t now = loop_now(), due = next_tick;
		int n;

		if (l->n_heap && l->heap[1]->due < due)
			due = l->heap[1]->due;
		n = epoll_wait(l->ep, evs, (int)RD_ARRAY_SIZE(evs), due > now ? (int)(due - now) : 0);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct sock *k = evs[i].data.ptr;
			struct mh *mh = k->mh;
			if (!mh)
				continue;
			int flags = (evs[i].events & (EPOLLIN | EPOLLHUP) ? CURL_CSELECT_IN : 0) |
				    (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
				    (evs[i].events & EPOLLERR ? CURL_CSELECT_ERR : 0);
			curl_multi_socket_action(mh->multi, k->fd, flags, &running);
			finish(mh);
		}
		now = loop_now();
		while (l->n_heap && l->heap[1]->due <= now) {
			struct timer *t = l->heap[1];
			timer_cancel(l, t);
			t->fn(t);
		}
		while (l->dead) {
			struct sock *k = l->dead;
			l->dead = k->next;
			free(k);
		}
		if (now >= next_tick) {
			next_tick = now + 1000;
			if (tick)
				tick(ud);
		}
	}
	return 0;
}
