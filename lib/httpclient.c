#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "awscreds.h"
#include "cryptoutil.h"
#include "httpclient.h"
#include "util.h"

#define DEFAULT_MAX_BODY (16u << 20)
#define MAX_HEADERS 200

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct http_session {
	CURL *easy;
	CURLM *multi;
};

int http_session_new(struct http_session **ret)
{
	struct http_session *s = calloc(1, sizeof(*s));

	pthread_once(&curl_once, curl_init);
	if (!s)
		return -ENOMEM;
	s->easy = curl_easy_init();
	s->multi = curl_multi_init();
	if (!s->easy || !s->multi) {
		http_session_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

struct http_session *http_session_free(struct http_session *s)
{
	if (!s)
		return NULL;
	if (s->multi)
		curl_multi_cleanup(s->multi);
	if (s->easy)
		curl_easy_cleanup(s->easy);
	free(s);
	return NULL;
}

struct xfer {
	struct http_response *resp;
	CURL *c;
	size_t cap;
	size_t max_body;
	int fd;
	EVP_MD_CTX *md;
	bool too_big;
	bool write_failed;
	int write_errno;
	/* output_resume */
	bool resume, started, to_memory;
	uint64_t have; /* bytes the file held before this transfer */
};

/* output_resume: the first body bytes tell whether the answer continues the
 * file (206), replaces it (200) or is an error (its body goes to memory). */
static int resume_start(struct xfer *x)
{
	long status = 0;

	x->started = true;
	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 && status != 206) {
		x->to_memory = true;
		return 0;
	}
	if (status == 200 && x->have > 0) {
		if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0)
			return -errno;
		if (!EVP_DigestInit_ex(x->md, EVP_sha256(), NULL))
			return -ENOMEM;
		x->have = 0;
	}
	return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	struct http_response *resp = x->resp;
	size_t n = size * nmemb;

	if (x->resume && !x->started) {
		int r = resume_start(x);
		if (r < 0) {
			x->write_failed = true;
			x->write_errno = -r;
			return 0;
		}
	}
	if (x->fd >= 0 && !x->to_memory) {
		for (size_t off = 0; off < n;) {
			ssize_t w = write(x->fd, ptr + off, n - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				x->write_failed = true;
				x->write_errno = errno;
				return 0;
			}
			off += (size_t)w;
		}
		EVP_DigestUpdate(x->md, ptr, n);
		resp->out_bytes += n;
		return n;
	}
	if (resp->body_len + n > x->max_body) {
		x->too_big = true;
		return 0;
	}
	if (resp->body_len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		while (cap < resp->body_len + n + 1)
			cap *= 2;
		char *nb = realloc(resp->body, cap);
		if (!nb)
			return 0;
		resp->body = nb;
		x->cap = cap;
	}
	memcpy(resp->body + resp->body_len, ptr, n);
	resp->body_len += n;
	resp->body[resp->body_len] = '\0';
	return n;
}

static void free_headers(struct http_response *resp)
{
	for (size_t i = 0; i < resp->n_headers; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	resp->headers = NULL;
	resp->n_headers = 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
	struct http_response *resp = ((struct xfer *)ud)->resp;
	size_t n = size * nitems, nl, vl;
	const char *colon, *v;

	/* A status line starts a new response (redirect, 100-continue): keep
	 * only the headers of the last one. */
	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		free_headers(resp);
		return n;
	}
	colon = memchr(buf, ':', n);
	if (!colon || resp->n_headers >= MAX_HEADERS)
		return n;
	nl = (size_t)(colon - buf);
	v = colon + 1;
	while (v < buf + n && (*v == ' ' || *v == '\t'))
		v++;
	vl = (size_t)(buf + n - v);
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	struct http_header *nh = realloc(resp->headers, (resp->n_headers + 1) * sizeof(*nh));
	if (!nh)
		return 0;
	resp->headers = nh;
	nh[resp->n_headers].name = strndup(buf, nl);
	nh[resp->n_headers].value = strndup(v, vl);
	if (!nh[resp->n_headers].name || !nh[resp->n_headers].value) {
		free(nh[resp->n_headers].name);
		free(nh[resp->n_headers].value);
		return 0;
	}
	resp->n_headers++;
	return n;
}

int http_sigv4_param(const char *region, const char *service, char *out, size_t outlen)
{
	if (!region || !service || !*region || !*service || strchr(region, ':') || strchr(service, ':'))
		return -EINVAL;
	if ((size_t)snprintf(out, outlen, "aws:amz:%s:%s", region, service) >= outlen)
		return -EINVAL;
	return 0;
}

/* Hashes what path already holds (output_resume). */
static int hash_prefix(int fd, EVP_MD_CTX *md, uint64_t *ret_size)
{
	unsigned char buf[65536];
	uint64_t total = 0;
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(md, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (n < 0)
		return -errno;
	*ret_size = total;
	return 0;
}

/* Runs c on multi, sleeping in poll(2) until the connection has work (or
 * a tick is due, or a signal arrives), unlike curl_easy_perform, which
 * wakes up every second: an idle long poll then costs no CPU and touches
 * no pages. After idle_after_ms without an answer on_idle runs once, and
 * the wait then blocks on the connection's sockets directly. */
static CURLcode drive(CURL *c, CURLM *multi, const struct http_request *req)
{
	int64_t start = rd_mono_ms(), last_tick = start;
	bool idle_done = !req->on_idle;
	CURLcode cc = CURLE_OK;
	CURLMsg *msg;
	int running = 1, q;

	if (curl_multi_add_handle(multi, c) != CURLM_OK)
		return CURLE_FAILED_INIT;
	for (;;) {
		long to = -1;
		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			cc = CURLE_RECV_ERROR;
			break;
		}
		if (!running)
			break;
		if (req->cancel && *req->cancel) {
			cc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (req->tick && rd_mono_ms() - last_tick >= 1000) {
			last_tick = rd_mono_ms();
			if (req->tick(req->ud) < 0) {
				cc = CURLE_ABORTED_BY_CALLBACK;
				break;
			}
		}
		curl_multi_timeout(multi, &to);
		if (req->tick && (to < 0 || to > 1000))
			to = 1000;
		if (!idle_done) {
			int64_t left = req->idle_after_ms - (rd_mono_ms() - start);
			if (left <= 0) {
				/* from here on only the connection wakes us, so that
				 * hardly any page is touched again while idle */
				struct pollfd pfd[8];
				fd_set rs, ws, es;
				int maxfd = -1;
				nfds_t n = 0;
				FD_ZERO(&rs);
				FD_ZERO(&ws);
				FD_ZERO(&es);
				idle_done = true;
				curl_multi_fdset(multi, &rs, &ws, &es, &maxfd);
				for (int fd = 0; fd <= maxfd && fd < FD_SETSIZE && n < 8; fd++)
					if (FD_ISSET(fd, &rs) || FD_ISSET(fd, &ws))
						pfd[n++] = (struct pollfd){
						    .fd = fd,
						    .events = (short)((FD_ISSET(fd, &rs) ? POLLIN : 0) |
								      (FD_ISSET(fd, &ws) ? POLLOUT : 0))};
				req->on_idle(req->ud);
				if (n)
					poll(pfd, n, to < 0 || to > 600000 ? 600000 : (int)to);
				continue;
			}
			if (to < 0 || to > left)
				to = (long)left;
		}
		if (to < 0 || to > 600000)
			to = 600000;
		curl_multi_poll(multi, NULL, 0, (int)to, NULL); /* a signal returns early */
	}
	while ((msg = curl_multi_info_read(multi, &q)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == c && cc == CURLE_OK)
			cc = msg->data.result;
	curl_multi_remove_handle(multi, c);
	return cc;
}

static int map_curl_error(CURLcode c)
{
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	default:
		return -EIO;
	}
}

/* What to do about a TLS failure: the raw libcurl message names the
 * OpenSSL check, not the setting that fixes it. "" for other errors. */
static void tls_hint(CURLcode c, const struct http_request *req, char *out, size_t outlen)
{
	out[0] = '\0';
	if (c == CURLE_PEER_FAILED_VERIFICATION) {
		if (req->ca_file)
			snprintf(out, outlen,
				 " (the server's certificate is not signed by a CA in %s, or does not name the host "
				 "of the URL; ca_file must hold the CA that signed it)",
				 req->ca_file);
		else
			snprintf(out, outlen,
				 " (the server's certificate is not signed by a CA this system trusts, or does "
				 "not name the host of the URL; for a private CA set ca_file to its certificate)");
	} else if (c == CURLE_SSL_CACERT_BADFILE) {
		snprintf(out, outlen, " (ca_file %s must be a readable PEM file of CA certificates)",
			 req->ca_file ? req->ca_file : "(none)");
	} else if (c == CURLE_SSL_CERTPROBLEM) {
		snprintf(out, outlen, " (client_cert %s and client_key %s must be a PEM certificate and its key)",
			 req->client_cert ? req->client_cert : "(none)", req->client_key ? req->client_key : "(none)");
	}
}

int http_perform(const struct http_request *req, struct http_response **ret, char *err, size_t errlen)
{
	struct http_response *resp = NULL;
	struct curl_slist *hdrs = NULL;
	struct xfer x = {.fd = -1};
	char errbuf[CURL_ERROR_SIZE] = "";
	char sigv4[256], body_hash[65], hash_hdr[100], range[64], *userpwd = NULL, *tok_hdr = NULL;
	const char *method = req->method ? req->method : "GET";
	int64_t timeout = req->timeout_ms > 0 ? req->timeout_ms : req->stall_timeout_ms > 0 ? 0 : 60000;
	int64_t ctimeout = req->connect_timeout_ms > 0	      ? req->connect_timeout_ms
			   : (timeout > 0 && timeout < 10000) ? timeout
							      : 10000;
	CURL *c = NULL;
	CURLM *multi = NULL;
	bool driven = req->session || req->cancel || req->tick || req->on_idle;
	bool signing = req->aws_service || req->aws_region;
	CURLcode cc;
	int r;

	if (!req->url || !*req->url) {
		snprintf(err, errlen, "HTTP request without a URL");
		return -EINVAL;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "libcurl failed to initialise: %s", curl_easy_strerror(curl_init_rc));
		return -EIO;
	}
	resp = calloc(1, sizeof(*resp));
	if (req->session) {
		c = req->session->easy;
		multi = req->session->multi;
		curl_easy_reset(c); /* keeps the connection */
	} else {
		c = curl_easy_init();
		if (driven)
			multi = curl_multi_init();
	}
	if (!resp || !c || (driven && !multi)) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	resp->magic = HTTP_RESPONSE_MAGIC;
	resp->body = strdup("");
	if (!resp->body) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	x.cap = 1;
	x.resp = resp;
	x.c = c;
	x.max_body = req->max_body ? req->max_body : DEFAULT_MAX_BODY;
	if (req->output_path) {
		x.resume = req->output_resume;
		x.fd = open(req->output_path,
			    x.resume ? O_RDWR | O_CREAT | O_CLOEXEC : O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (x.fd < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: cannot create: %s", req->output_path, strerror(errno));
			goto out;
		}
		x.md = EVP_MD_CTX_new();
		if (!x.md || !EVP_DigestInit_ex(x.md, EVP_sha256(), NULL)) {
			r = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		if (x.resume && (r = hash_prefix(x.fd, x.md, &x.have)) < 0) {
			snprintf(err, errlen, "%s: cannot read: %s", req->output_path, strerror(-r));
			goto out;
		}
		if (x.have > 0) {
			snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)x.have);
			if (!(hdrs = curl_slist_append(hdrs, range))) {
				r = -ENOMEM;
				goto out;
			}
		}
	}

	for (const char *const *h = req->headers; h && *h; h++)
		if (!(hdrs = curl_slist_append(hdrs, *h))) {
			r = -ENOMEM;
			goto out;
		}

	if (signing) {
		const struct aws_credentials *cr = req->aws_creds;
		if (!cr || !cr->access_key_id || !cr->secret_access_key) {
			snprintf(err, errlen, "%s: cannot sign the request: no AWS credentials", req->url);
			r = -ENOKEY;
			goto out;
		}
		if (http_sigv4_param(req->aws_region, req->aws_service, sigv4, sizeof(sigv4)) < 0) {
			snprintf(err, errlen, "%s: cannot sign the request: bad region '%s' or service '%s'", req->url,
				 req->aws_region ? req->aws_region : "", req->aws_service ? req->aws_service : "");
			r = -EINVAL;
			goto out;
		}
		/* S3 wants the payload hash as a header; curl then signs that value. */
		rd_sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, body_hash);
		snprintf(hash_hdr, sizeof(hash_hdr), "x-amz-content-sha256: %s", body_hash);
		if (!(hdrs = curl_slist_append(hdrs, hash_hdr))) {
			r = -ENOMEM;
			goto out;
		}
		if (cr->session_token) {
			if (asprintf(&tok_hdr, "X-Amz-Security-Token: %s", cr->session_token) < 0) {
				tok_hdr = NULL;
				r = -ENOMEM;
				goto out;
			}
			if (!(hdrs = curl_slist_append(hdrs, tok_hdr))) {
				r = -ENOMEM;
				goto out;
			}
		}
		if (asprintf(&userpwd, "%s:%s", cr->access_key_id, cr->secret_access_key) < 0) {
			userpwd = NULL;
			r = -ENOMEM;
			goto out;
		}
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
		curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	}

	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ctimeout);
	if (req->stall_timeout_ms > 0) {
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)((req->stall_timeout_ms + 999) / 1000));
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_USERAGENT, req->user_agent ? req->user_agent : "rolloutd/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (req->follow_redirects) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	}
	if (req->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
	if (req->client_cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, req->client_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, req->client_key ? req->client_key : req->client_cert);
	}
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		}
	}
	/* Our own Expect handling is not needed; drop the 1 s 100-continue wait,
	 * which libcurl adds only past 1 MiB of body. Not on a signed request:
	 * libcurl (7.88) would list the empty "Expect:" among the signed headers
	 * without sending it, which a strict verifier (rolloutd) refuses, while
	 * the "Expect: 100-continue" it adds itself comes after signing. */
	if (!signing && req->body_len > (1u << 20) && !(hdrs = curl_slist_append(hdrs, "Expect:"))) {
		r = -ENOMEM;
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	cc = driven ? drive(c, multi, req) : curl_easy_perform(c);
	if (x.too_big) {
		snprintf(err, errlen, "%s: response body larger than %zu bytes", req->url, x.max_body);
		r = -EFBIG;
		goto out;
	}
	if (x.write_failed) {
		snprintf(err, errlen, "%s: writing %s failed: %s", req->url, req->output_path, strerror(x.write_errno));
		r = -x.write_errno;
		goto out;
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(err, errlen, "%s %s: cancelled", method, req->url);
		r = -ECANCELED;
		goto out;
	}
	if (cc != CURLE_OK) {
		char hint[512];
		tls_hint(cc, req, hint, sizeof(hint));
		snprintf(err, errlen, "%s %s: %s%s", method, req->url, errbuf[0] ? errbuf : curl_easy_strerror(cc),
			 hint);
		r = map_curl_error(cc);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (x.fd >= 0) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		if ((!req->output_no_sync && fsync(x.fd) < 0) || close(x.fd) < 0) {
			x.fd = -1;
			r = -errno;
			snprintf(err, errlen, "%s: %s", req->output_path, strerror(errno));
			goto out;
		}
		x.fd = -1;
		EVP_DigestFinal_ex(x.md, md, &mdlen);
		rd_hex(md, mdlen, resp->out_sha256);
	}
	r = 0;
out:
	if (x.fd >= 0)
		close(x.fd);
	EVP_MD_CTX_free(x.md);
	if (req->session) {
		/* the handle keeps pointers to this call's strings: drop them */
		curl_easy_reset(c);
	} else {
		if (multi)
			curl_multi_cleanup(multi);
		if (c)
			curl_easy_cleanup(c);
	}
	curl_slist_free_all(hdrs);
	if (userpwd) {
		explicit_bzero(userpwd, strlen(userpwd));
		free(userpwd);
	}
	free(tok_hdr);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		http_response_free(resp);
		return r;
	}
	*ret = resp;
	return 0;
}

struct http_response *http_response_free(struct http_response *resp)
{
	if (!resp)
		return NULL;
	free_headers(resp);
	free(resp->body);
	resp->magic = 0;
	free(resp);
	return NULL;
}

const char *http_response_header(const struct http_response *resp, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; resp && i < resp->n_headers; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			v = resp->headers[i].value;
	return v;
}

char *http_url_escape(const char *s)
{
	CURL *c;
	char *e, *out = NULL;

	pthread_once(&curl_once, curl_init);
	/* A handle of its own: older libcurl versions do not take NULL. */
	c = curl_easy_init();
	if (!c)
		return NULL;
	e = curl_easy_escape(c, s, 0);
	if (e)
		out = strdup(e);
	curl_free(e);
	curl_easy_cleanup(c);
	return out;
}
