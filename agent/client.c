#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/select.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "settings.h"
#include "util.h"

#define TARGET_PREFIX "CodeDeployCommandService_v20141006."
#define MAX_RESPONSE (1 << 20)
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct client {
	const struct agent_config *cfg;
	volatile sig_atomic_t *stop;
	CURLM *multi; /* drives h: waits without waking up every second */
	CURL *h;      /* protocol calls */
	CURL *dlh;    /* downloads (heartbeats go through h meanwhile) */
	char *userpwd;
	char *sigv4;
	void (*on_idle)(void);
};

void client_set_idle_hook(struct client *c, void (*on_idle)(void))
{
	c->on_idle = on_idle;
}

struct buf {
	char *data;
	size_t len;
	bool overflow;
};

static size_t buf_write(char *p, size_t sz, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t len = sz * n;
	char *nd;

	if (b->len + len > MAX_RESPONSE) {
		b->overflow = true;
		return 0;
	}
	nd = realloc(b->data, b->len + len + 1);
	if (!nd)
		return 0;
	b->data = nd;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

struct xfer {
	struct client *c;
	bool abortable;
	int (*tick)(void *ud);
	void *ud;
	int64_t last_tick;
	int tick_r;
	int64_t start;
	bool idle_done;
};

static int xferinfo(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
	struct xfer *x = ud;
	if (x->abortable && x->c->stop && *x->c->stop)
		return 1;

	if (x->tick) {
		int64_t now = rd_mono_ms();
		if (now - x->last_tick >= 1000) {
			x->last_tick = now;
			if ((x->tick_r = x->tick(x->ud)) < 0)
				return 1;
		}
	}
	return 0;
}

int client_new(const struct agent_config *cfg, volatile sig_atomic_t *stop, struct client **ret)
{
	struct client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = cfg;
	c->stop = stop;
	c->h = curl_easy_init();
	c->dlh = curl_easy_init();
	c->multi = curl_multi_init();
	if (!c->h || !c->dlh || !c->multi ||
	    asprintf(&c->userpwd, "%s:%s", cfg->access_key_id, cfg->secret_access_key) < 0 ||
	    asprintf(&c->sigv4, "aws:amz:%s:codedeploy-commands", cfg->region) < 0) {
		client_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

struct client *client_free(struct client *c)
{
	if (!c)
		return NULL;
	if (c->h)
		curl_easy_cleanup(c->h);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->dlh)
		curl_easy_cleanup(c->dlh);
	if (c->userpwd) {
		explicit_bzero(c->userpwd, strlen(c->userpwd));
		free(c->userpwd);
	}
	free(c->sigv4);
	free(c);
	return NULL;
}

static void common_opts(struct client *c, CURL *h)
{
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
	curl_easy_setopt(h, CURLOPT_USERPWD, c->userpwd);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "rollout-agent/" PACKAGE_VERSION);
	if (c->cfg->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg->ca_file);
}

static void http_error(const struct buf *b, long status, char *ret_type, size_t typelen, char *err, size_t errlen)
{
	json_t *j = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
	const char *type = j ? json_string_value(json_object_get(j, "__type")) : NULL;
	const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
	if (!msg && j)
		msg = json_string_value(json_object_get(j, "Message"));
	if (type) {
		const char *hash = strrchr(type, '#');
		type = hash ? hash + 1 : type;
		snprintf(err, errlen, "HTTP %ld %s: %s", status, type, msg ? msg : "");
		if (ret_type)
			snprintf(ret_type, typelen, "%s", type);
	} else
		snprintf(err, errlen, "HTTP %ld: %.200s", status, b->data ? b->data : "");
	json_decref(j);
}

/* Runs c->h on the multi handle. Unlike curl_easy_perform, which wakes up
 * every second, this sleeps in poll() until curl has work or a signal
 * arrives, so an idle long-poll costs no CPU and touches no pages. A set
 * *stop aborts abortable calls; their on_idle hook runs once, 2 s in. */
static CURLcode perform(struct client *c, struct xfer *x)
{
	CURLcode cc = CURLE_OK;
	CURLMsg *msg;
	int running = 1, q;

	if (curl_multi_add_handle(c->multi, c->h) != CURLM_OK)
		return CURLE_FAILED_INIT;
	for (;;) {
		long to = -1;
		if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
			cc = CURLE_RECV_ERROR;
			break;
		}
		if (!running)
			break;
		if (x->abortable && c->stop && *c->stop) {
			cc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		curl_multi_timeout(c->multi, &to);
		if (x->abortable && !x->idle_done && c->on_idle) {
			int64_t left = 2000 - (rd_mono_ms() - x->start);
			if (left <= 0) {
				/* trim, then block right away on curl's sockets, so that
				 * hardly any page is touched again while idle */
				struct pollfd pfd[8];
				fd_set rs, ws, es;
				int maxfd = -1;
				nfds_t n = 0;
				FD_ZERO(&rs);
				FD_ZERO(&ws);
				FD_ZERO(&es);
				x->idle_done = true;
				curl_multi_fdset(c->multi, &rs, &ws, &es, &maxfd);
				for (int fd = 0; fd <= maxfd && fd < FD_SETSIZE && n < 8; fd++)
					if (FD_ISSET(fd, &rs) || FD_ISSET(fd, &ws))
						pfd[n++] = (struct pollfd){
						    .fd = fd,
						    .events = (short)((FD_ISSET(fd, &rs) ? POLLIN : 0) |
								      (FD_ISSET(fd, &ws) ? POLLOUT : 0))};
				c->on_idle();
				if (n)
					poll(pfd, n, to < 0 || to > 600000 ? 600000 : (int)to);
				continue;
			}
			if (to < 0 || to > left)
				to = (long)left;
		}
		if (to < 0 || to > 600000)
			to = 600000;
		curl_multi_poll(c->multi, NULL, 0, (int)to, NULL); /* EINTR returns early */
	}
	while ((msg = curl_multi_info_read(c->multi, &q)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == c->h && cc == CURLE_OK)
			cc = msg->data.result;
	curl_multi_remove_handle(c->multi, c->h);
	return cc;
}

int client_call(struct client *c, const char *op, json_t *req, long timeout_s, bool abortable, json_t **ret_resp,
		struct client_reply *ret_rep, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	struct buf b = {0};
	struct xfer x = {.c = c, .abortable = abortable, .start = rd_mono_ms()};
	char *body = NULL, *url = NULL, line[256], sha[65];
	long status = 0;
	CURLcode cc;
	json_t *resp;
	int r;

	ret_rep->status = 0;
	ret_rep->type[0] = '\0';
	body = json_dumps(req, JSON_COMPACT);
	if (!body || asprintf(&url, "%s/", c->cfg->endpoint) < 0) {
		r = -ENOMEM;
		goto out;
	}
	rd_sha256_hex(body, strlen(body), sha);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/x-amz-json-1.1");
	snprintf(line, sizeof(line), "X-Amz-Target: " TARGET_PREFIX "%s", op);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof(line), "X-Amz-Content-Sha256: %s", sha);
	hdrs = curl_slist_append(hdrs, line);
	hdrs = curl_slist_append(hdrs, "X-Amz-Codedeploy-Agent-Version: " AGENT_VERSION_HEADER);
	/* no "Accept:"/"Expect:" removals: libcurl 7.88's SigV4 would still list
	 * them in SignedHeaders (bodies stay far below the Expect threshold) */
	if (!hdrs) {
		r = -ENOMEM;
		goto out;
	}
	curl_easy_reset(c->h);
	common_opts(c, c->h);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &b);
	cc = perform(c, &x);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(err, errlen, "%s: interrupted", op);
		r = -EINTR;
		goto out;
	}
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s to %s: %s%s", op, c->cfg->endpoint, curl_easy_strerror(cc),
			 b.overflow ? " (response too large)" : "");
		r = -EIO;
		goto out;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	ret_rep->status = status;
	if (status != 200) {
		char e2[400];
		http_error(&b, status, ret_rep->type, sizeof(ret_rep->type), e2, sizeof(e2));
		snprintf(err, errlen, "%s: %s", op, e2);
		r = -EPROTO;
		goto out;
	}
	if (!b.data || b.len == 0)
		resp = json_object();
	else {
		json_error_t je;
		resp = json_loadb(b.data, b.len, 0, &je);
		if (!resp || !json_is_object(resp)) {
			json_decref(resp);
			snprintf(err, errlen, "%s: the response is not a JSON object: %s", op, je.text);
			r = -EPROTO;
			goto out;
		}
	}
	*ret_resp = resp;
	r = 0;
out:
	curl_slist_free_all(hdrs);
	free(body);
	free(url);
	free(b.data);
	return r;
}

struct dl {
	int fd;
	uint64_t have;
	bool started;
	long status;
	CURL *h;
	struct buf errbody;
};

static size_t dl_write(char *p, size_t sz, size_t n, void *ud)
{
	struct dl *d = ud;
	size_t len = sz * n, off = 0;

	if (!d->started) {
		curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &d->status);
		d->started = true;
		if (d->status == 200 && d->have > 0) {
			/* the server ignored Range: start over */
			if (ftruncate(d->fd, 0) < 0 || lseek(d->fd, 0, SEEK_SET) < 0)
				return 0;
			d->have = 0;
		}
	}
	if (d->status != 200 && d->status != 206)
		return buf_write(p, sz, n, &d->errbody);
	while (off < len) {
		ssize_t w = write(d->fd, p + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		off += (size_t)w;
	}
	d->have += len;
	return len;
}

static int file_sha256(const char *path, char out[65])
{
	unsigned char md[32], buf[65536];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	ssize_t n;

	if (fd < 0 || !ctx) {
		r = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	rd_hex(md, 32, out);
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return r;
}

int client_download(struct client *c, const char *url, const char *dest, uint64_t size, const char *sha256,
		    int (*tick)(void *ud), void *ud, char *err, size_t errlen)
{
	char *full = NULL, *part = NULL, got[65];
	struct xfer x = {.c = c, .abortable = true, .tick = tick, .ud = ud, .last_tick = rd_mono_ms()};
	int fd = -1, r = -EIO;
	struct stat st;

	if (url[0] == '/' ? asprintf(&full, "%s%s", c->cfg->endpoint, url) < 0 : !(full = strdup(url)))
		return -ENOMEM;
	if (asprintf(&part, "%s.part", dest) < 0) {
		free(full);
		return -ENOMEM;
	}
	fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create %s: %s", part, strerror(errno));
		goto out;
	}
	for (int attempt = 1; attempt <= 5; attempt++) {
		struct curl_slist *hdrs = NULL;
		struct dl d = {.fd = fd, .h = c->dlh};
		char range[64];
		CURLcode cc;

		if (fstat(fd, &st) < 0) {
			r = -errno;
			goto out;
		}
		d.have = (uint64_t)st.st_size;
		if (d.have > size) {
			if (ftruncate(fd, 0) < 0) {
				r = -errno;
				goto out;
			}
			d.have = 0;
		}
		if (lseek(fd, (off_t)d.have, SEEK_SET) < 0) {
			r = -errno;
			goto out;
		}
		if (d.have == size && size > 0) {
			r = 0;
			break;
		}
		hdrs = curl_slist_append(hdrs, "X-Amz-Content-Sha256: " EMPTY_SHA256);
		hdrs = curl_slist_append(hdrs, "X-Amz-Codedeploy-Agent-Version: " AGENT_VERSION_HEADER);
		if (d.have > 0) {
			snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)d.have);
			hdrs = curl_slist_append(hdrs, range);
		}
		curl_easy_reset(c->dlh);
		common_opts(c, c->dlh);
		curl_easy_setopt(c->dlh, CURLOPT_URL, full);
		curl_easy_setopt(c->dlh, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c->dlh, CURLOPT_WRITEFUNCTION, dl_write);
		curl_easy_setopt(c->dlh, CURLOPT_WRITEDATA, &d);
		curl_easy_setopt(c->dlh, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c->dlh, CURLOPT_LOW_SPEED_TIME, 60L);
		curl_easy_setopt(c->dlh, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c->dlh, CURLOPT_XFERINFOFUNCTION, xferinfo);
		curl_easy_setopt(c->dlh, CURLOPT_XFERINFODATA, &x);
		cc = curl_easy_perform(c->dlh);
		curl_slist_free_all(hdrs);
		if (!d.started)
			curl_easy_getinfo(c->dlh, CURLINFO_RESPONSE_CODE, &d.status);
		if (cc == CURLE_ABORTED_BY_CALLBACK) {
			free(d.errbody.data);
			snprintf(err, errlen, "bundle download from %s interrupted", full);
			r = -EINTR;
			goto out;
		}
		if (cc == CURLE_OK && d.status != 200 && d.status != 206) {
			char e2[300];
			http_error(&d.errbody, d.status, NULL, 0, e2, sizeof(e2));
			free(d.errbody.data);
			snprintf(err, errlen, "bundle download from %s: %s", full, e2);
			r = -EPROTO;
			if (d.status >= 400 && d.status < 500 && d.status != 408 && d.status != 429)
				goto out; /* not retryable */
			continue;
		}
		free(d.errbody.data);
		if (cc == CURLE_OK) {
			r = 0;
			break;
		}
		snprintf(err, errlen, "bundle download from %s (attempt %d): %s", full, attempt,
			 curl_easy_strerror(cc));
		r = -EIO;
		if (attempt < 5)
			sleep((unsigned)attempt);
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size != size) {
		if (r < 0)
			goto out; /* err already says why */
		snprintf(err, errlen, "bundle from %s has %llu bytes, the deployment specification says %llu", full,
			 (unsigned long long)st.st_size, (unsigned long long)size);
		r = -EBADMSG;
		goto out;
	}
	if ((r = file_sha256(part, got)) < 0) {
		snprintf(err, errlen, "cannot hash %s: %s", part, strerror(-r));
		goto out;
	}
	if (strcasecmp(got, sha256) != 0) {
		snprintf(err, errlen, "bundle from %s has sha256 %s, the deployment specification says %s; refused",
			 full, got, sha256);
		unlink(part);
		r = -EBADMSG;
		goto out;
	}
	if (rename(part, dest) < 0) {
		r = -errno;
		snprintf(err, errlen, "rename %s: %s", part, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(full);
	free(part);
	return r;
}
