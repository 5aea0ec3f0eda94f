/* Relaying calls to the daemon that drives their deployment (relay.h). One
 * thread runs libcurl's multi interface for every transfer in flight;
 * routing decisions that read the database run on the workpool (the
 * handler's own worker, or a job), never on that thread or the engine's. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/auth_secret.h"
#include "cluster/cluster.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/httpd.h"
#include "core/metrics.h"
#include "core/workpool.h"
#include "engine/engine.h"
#include "engine/engine_hostcmd_id.h"
#include "httpclient.h"
#include "jsonutil.h"
#include "log.h"
#include "relay/relay.h"
#include "relay/relay_header.h"
#include "relay/relay_hosts.h"
#include "relay/relay_notice.h"
#include "sigv4.h"
#include "store/store.h"
#include "util.h"

#define TAG "relay"
#define RLOG(level, ...) rd_logt((level), TAG, __VA_ARGS__)
#define KEY_LABEL "rolloutd relay v1"
#define MAX_HOSTS 100000	   /* hosts remembered from notices */
#define CALL_TIMEOUT_MS 30000	   /* a relayed call other than a poll */
#define POLL_SLACK_MS 10000	   /* a relayed poll: its hold, and this for the way back */
#define CONNECT_TIMEOUT_MS 3000	   /* a daemon of the cluster is on a near network */
#define REROUTE_MIN_MS 1500	   /* a poll answered empty with this much left is routed again */
#define MAX_REROUTES 4		   /* ... at most so many times */
#define MAX_RESPONSE (1024 * 1024) /* the driver's answer is a JSON reply (HTTPD_MAX_BODY) */

struct xfer {
	struct relay *r;
	struct xfer *next, *prev; /* the queue, then the list in the multi handle */
	struct httpd_call *call;
	CURL *easy;
	struct curl_slist *hdrs;
	char url[320]; /* the driver's advertise URL */
	char op[64];
	char host[129]; /* a poll: the host, to forget its map entry on failure */
	bool poll;
	int64_t deadline; /* a poll: when its agent's long-poll ends (monotonic) */
	int reroutes;
	char *resp;
	size_t resp_len;
	bool too_big;
	char errbuf[CURL_ERROR_SIZE];
};

struct relay {
	struct rd_daemon *d;
	unsigned char key[AUTH_KEK_LEN];
	struct relay_hosts *hosts;
	int64_t host_ttl_ms;
	pthread_t thread;
	bool thread_started;
	CURLM *multi;
	pthread_mutex_t lock; /* guards queue and stop */
	struct xfer *queue;
	bool stop;
	struct xfer *active; /* relay thread only */
	/* the TLS public key pin, from tls.cert (relay thread only) */
	char pin[128];
	struct timespec pin_mtime;
	struct metric *m_calls;
};

static const char *const hop_by_hop[] = {"Connection", "Keep-Alive",	 "Transfer-Encoding", "TE",	     "Upgrade",
					 "Expect",     "Content-Length", "Proxy-Connection",  RELAY_HDR_NAME};

/* ---------------------------------------------------------------- answers */

static void count(struct relay *r, const char *op, const char *result)
{
	metric_add(r->m_calls, 1, op, result);
}

/* The driver could not be reached (or this daemon stops): 503, retry. */
static void unreachable(struct relay *r, struct httpd_call *call, const char *op, const char *url, const char *why)
{
	count(r, op, "unreachable");
	httpd_call_error_status(call, 503, "ServiceUnavailableException",
				"%s could not be relayed to the daemon that drives its deployment (%s): %s; retry", op,
				url, why);
}

/* The driver's answer becomes the call's: an error as an error (so the
 * audit trail sees its type), anything else byte for byte. */
static void answer(struct xfer *x, long status)
{
	char *ctype = NULL;
	json_t *o = NULL;

	curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ctype);
	count(x->r, x->op, status >= 200 && status < 300 ? "ok" : "refused");
	if (status >= 400)
		o = json_loadb(x->resp ? x->resp : "", x->resp_len, 0, NULL);
	if (o && rd_json_str(o, "__type")) {
		const char *m = rd_json_str(o, "message");
		httpd_call_error_status(x->call, (int)status, rd_json_str(o, "__type"), "%s", m ? m : "");
	} else {
		httpd_call_reply_bytes(x->call, (int)status, ctype ? ctype : HTTPD_JSON_TYPE, x->resp ? x->resp : "",
				       x->resp_len);
	}
	json_decref(o);
}

/* Whether a PollHostCommand answer carries no command. */
static bool poll_empty(const struct xfer *x)
{
	json_t *o = json_loadb(x->resp ? x->resp : "", x->resp_len, 0, NULL);
	bool v = json_is_object(o) && !json_is_object(json_object_get(o, "HostCommand"));

	json_decref(o);
	return v;
}

/* ---------------------------------------------------------------- routing */

struct route_job {
	struct rd_daemon *d;
	struct httpd_call *call;
	int64_t hold_ms; /* 0: the whole long-poll */
	int reroutes;
};

static int submit(struct relay *r, struct httpd_call *call, const char *url, const char *op, const char *host,
		  int64_t hold_ms, int reroutes);

/* The host a poll is for, as the engine names it, when the caller's key
 * says it without the database: the instance it is bound to, or an EC2
 * instance's id in its host identifier. "" else. */
static void poll_host_name(struct httpd_call *call, char *out, size_t len)
{
	const struct httpd_principal *p = httpd_call_principal(call);
	const char *hid = rd_json_str(httpd_call_body(call), "HostIdentifier");
	char ec2[32];

	out[0] = '\0';
	if (p && p->instance)
		rd_strlcpy(out, p->instance, len);
	else if (hid && cmd_ec2_instance_id(hid, ec2, sizeof(ec2)) == 0)
		rd_strlcpy(out, ec2, len);
}

/* A PollHostCommand not relayed here: to the daemon with a command for its
 * host, else held here for hold_ms (0: the whole long-poll). Workpool. */
static void route_poll(struct rd_daemon *d, struct httpd_call *call, int64_t hold_ms, int reroutes)
{
	struct relay *r = d->relay;
	const char *hid = rd_json_str(httpd_call_body(call), "HostIdentifier");
	const char *self = cluster_self_url(d);
	char host[129], url[320];
	char *name = NULL, *drv = NULL;
	int64_t hold = hold_ms > 0 ? hold_ms : d->cfg->long_poll_ms;
	int rc;

	poll_host_name(call, host, sizeof(host));
	if (!hid || !*hid || !self)
		goto local; /* the engine says what is wrong with it */
	if (host[0] && relay_hosts_get(r->hosts, host, rd_mono_ms(), url, sizeof(url)) == 0) {
		if (strcmp(url, self) == 0)
			goto local;
		if (submit(r, call, url, "PollHostCommand", host, hold, reroutes) < 0)
			goto local;
		return;
	}
	rc = store_cluster_host_driver(d->store, host[0] ? host : NULL, hid, cluster_self_id(d), &name, &drv);
	if (rc == 0 && strlen(drv) < sizeof(url)) {
		rd_strlcpy(url, drv, sizeof(url));
		rd_strlcpy(host, name ? name : host, sizeof(host));
		free(name);
		free(drv);
		if (submit(r, call, url, "PollHostCommand", host, hold, reroutes) < 0)
			goto local;
		return;
	}
	if (rc < 0 && rc != -ENOENT)
		RLOG(LOG_WARNING, "cannot look up which daemon has commands for host %s: %s; holding its poll here",
		     host[0] ? host : hid, strerror(-rc));
	free(name);
	free(drv);
local:
	engine_hostcmd_call_held(call, d, false, hold_ms);
}

static void route_job(void *arg)
{
	struct route_job *j = arg;

	route_poll(j->d, j->call, j->hold_ms, j->reroutes);
	free(j);
}

void relay_hostcmd_call(struct httpd_call *call, void *userdata)
{
	struct rd_daemon *d = userdata;
	const char *op = httpd_call_operation(call), *s;
	struct cmd_id id;
	char url[320];

	if (!d->relay || httpd_call_relayed(call, NULL) || !op) {
		engine_hostcmd_call(call, d);
		return;
	}
	if (!strcmp(op, "PollHostCommand")) {
		route_poll(d, call, 0, 0);
		return;
	}
	if (strcmp(op, "PutHostCommandAcknowledgement") != 0 && strcmp(op, "PostHostCommandUpdate") != 0 &&
	    strcmp(op, "PutHostCommandComplete") != 0) {
		engine_hostcmd_call(call, d);
		return;
	}
	/* the identifier names the deployment; one this daemon cannot decode
	 * is refused by the engine with the reason */
	s = rd_json_str(httpd_call_body(call), "HostCommandIdentifier");
	if (s && cmd_id_decode(s, &id) == 0 && cluster_driver(d, id.deployment_id, url, sizeof(url)) == 1 &&
	    submit(d->relay, call, url, op, NULL, 0, 0) == 0)
		return;
	engine_hostcmd_call(call, d);
}

bool relay_to_driver(struct rd_daemon *d, struct httpd_call *call, const char *dep_id)
{
	char url[320];

	if (!d->relay || !dep_id || httpd_call_relayed(call, NULL) || cluster_driver(d, dep_id, url, sizeof(url)) != 1)
		return false;
	if (!httpd_call_header(call, "Authorization")) {
		/* the dashboard's session call: no signature to relay */
		httpd_call_error_status(call, 421, "MisdirectedRequestException",
					"deployment %s is driven by another daemon of the cluster (%s): %s from the "
					"dashboard works on that daemon only; open its dashboard, or use the API "
					"(rolloutctl, aws deploy) through any daemon",
					dep_id, url, httpd_call_operation(call));
		return true;
	}
	return submit(d->relay, call, url, httpd_call_operation(call), NULL, 0, 0) == 0;
}

void relay_poll_to(void *arg, void *reply_to, const char *url, int64_t hold_ms)
{
	struct rd_daemon *d = arg;
	struct httpd_call *call = reply_to;
	char host[129];

	poll_host_name(call, host, sizeof(host));
	if (submit(d->relay, call, url, "PollHostCommand", host[0] ? host : NULL, hold_ms > 0 ? hold_ms : 1, 0) < 0)
		httpd_call_reply(call, json_object()); /* out of memory: the agent polls again */
}

/* ---------------------------------------------------------------- notices */

struct notice_job {
	struct rd_daemon *d;
	char *payload;
};

static void notice_job(void *arg)
{
	struct notice_job *j = arg;
	int r = cluster_notify(j->d, RELAY_NOTICE_CHANNEL, j->payload);

	if (r < 0)
		RLOG(LOG_WARNING,
		     "cannot announce commands to the other daemons (%s): agents polling them get their "
		     "command when their poll ends",
		     strerror(-r));
	free(j->payload);
	free(j);
}

void relay_hosts_due(void *arg, const char *const *hosts, size_t n)
{
	struct rd_daemon *d = arg;
	const char *self = cluster_self_url(d);

	while (n > 0 && self) {
		struct notice_job *j = calloc(1, sizeof(*j));
		size_t used = 0;
		char *payload = NULL;

		if (!j || relay_notice_encode(self, hosts, n, &used, &payload) < 0) {
			/* a host name too long for a notice, or no memory: that
			 * agent gets its command when its poll ends */
			free(j);
			used = 1;
		} else {
			j->d = d;
			j->payload = payload;
			if (workpool_submit(d->pool, notice_job, j) < 0) {
				free(payload);
				free(j);
			}
		}
		hosts += used;
		n -= used;
	}
}

/* NOTIFY rolloutd_host, on the cluster's thread. */
static void on_notice(const char *payload, void *ud)
{
	struct rd_daemon *d = ud;
	struct relay *r = d->relay;
	const char *self = cluster_self_url(d);
	char url[320];
	json_t *hosts = NULL, *v;
	size_t i;

	if (!r)
		return; /* relay_start failed after it listened: the daemon stops */
	if (relay_notice_decode(payload, url, sizeof(url), &hosts) < 0) {
		RLOG(LOG_WARNING, "ignoring a %s notice that is not one rolloutd sends", RELAY_NOTICE_CHANNEL);
		return;
	}
	json_array_foreach(hosts, i, v)
	{
		const char *h = json_string_value(v);
		relay_hosts_put(r->hosts, h, url, rd_mono_ms(), r->host_ttl_ms);
		if (!self || strcmp(url, self) != 0)
			engine_notify_host(d, h, url);
	}
	json_decref(hosts);
}

/* ---------------------------------------------------------------- the receiving side */

int relay_check_header(void *userdata, const char *value, const char *authorization, struct httpd_relayed *ret,
		       struct rd_error *err)
{
	struct rd_daemon *d = userdata;
	struct relay_hdr h;
	char why[512];
	int r;

	if (!d->relay)
		return rd_error_set(err, -EPERM, "AccessDeniedException",
				    "the %s header is accepted only between the daemons of a cluster (store: "
				    "postgresql://...); this daemon is not one: clients and agents must not send it",
				    RELAY_HDR_NAME);
	r = relay_hdr_check(d->relay->key, value, authorization, rd_wall_ms() / 1000, &h, why, sizeof(why));
	if (r < 0)
		return rd_error_set(err, -EPERM, "AccessDeniedException", "%s", why);
	rd_strlcpy(ret->from, h.from, sizeof(ret->from));
	rd_strlcpy(ret->addr, h.addr, sizeof(ret->addr));
	rd_strlcpy(ret->cn, h.cn, sizeof(ret->cn));
	ret->hold_ms = h.hold_ms;
	return 0;
}

/* ---------------------------------------------------------------- transfers */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	char *nb;

	if (x->resp_len + n > MAX_RESPONSE) {
		x->too_big = true;
		return 0;
	}
	nb = realloc(x->resp, x->resp_len + n + 1);
	if (!nb)
		return 0;
	memcpy(nb + x->resp_len, ptr, n);
	x->resp = nb;
	x->resp_len += n;
	nb[x->resp_len] = '\0';
	return n;
}

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	free(x->resp);
	free(x);
}

/* The request's path, each segment percent-encoded again (the transport
 * hands it decoded). NULL when out of memory. */
static char *encoded_path(const char *path)
{
	size_t cap = 3 * strlen(path) + 2, n = 0;
	char *out = malloc(cap), *copy = strdup(path), *save = NULL, *seg;

	if (!out || !copy) {
		free(out);
		free(copy);
		return NULL;
	}
	out[0] = '\0';
	for (seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		char *e = http_url_escape(seg);
		if (!e) {
			free(out);
			free(copy);
			return NULL;
		}
		n += (size_t)snprintf(out + n, cap - n, "/%s", e);
		free(e);
	}
	if (n == 0 || path[strlen(path) - 1] == '/')
		snprintf(out + n, cap - n, "/");
	free(copy);
	return out;
}

/* Builds the transfer of call to url and queues it for the relay thread.
 * 0, or a negative errno (the call is then not completed). */
static int submit(struct relay *r, struct httpd_call *call, const char *url, const char *op, const char *host,
		  int64_t hold_ms, int reroutes)
{
	struct relay_hdr h = {0};
	struct sigv4_request req;
	const char *auth = httpd_call_header(call, "Authorization"), *peer = httpd_call_peer(call);
	const char *cn = httpd_call_client_cn(call);
	char hdr[RELAY_HDR_MAX + 32], *path = NULL, *full = NULL;
	struct xfer *x;
	size_t blen;
	const void *body;
	int rc = -ENOMEM;

	if (!r || !auth || !*auth)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->r = r;
	x->call = call;
	x->poll = host != NULL || !strcmp(op, "PollHostCommand");
	x->reroutes = reroutes;
	x->deadline = rd_mono_ms() + hold_ms;
	rd_strlcpy(x->url, url, sizeof(x->url));
	rd_strlcpy(x->op, op, sizeof(x->op));
	rd_strlcpy(x->host, host ? host : "", sizeof(x->host));

	rd_strlcpy(h.from, cluster_self_id(r->d), sizeof(h.from));
	h.ts = rd_wall_ms() / 1000;
	h.hold_ms = x->poll ? hold_ms : 0;
	if (peer && strlen(peer) < sizeof(h.addr) && strspn(peer, "0123456789abcdefABCDEF.:") == strlen(peer))
		rd_strlcpy(h.addr, peer, sizeof(h.addr));
	if (cn && strlen(cn) < sizeof(h.cn))
		rd_strlcpy(h.cn, cn, sizeof(h.cn));
	memcpy(hdr, RELAY_HDR_NAME ": ", strlen(RELAY_HDR_NAME) + 2);
	rc = relay_hdr_make(r->key, &h, auth, hdr + strlen(RELAY_HDR_NAME) + 2,
			    sizeof(hdr) - strlen(RELAY_HDR_NAME) - 2);
	if (rc < 0)
		goto fail;
	rc = -ENOMEM;
	if (!(x->hdrs = curl_slist_append(NULL, hdr)) || !curl_slist_append(x->hdrs, "Expect:"))
		goto fail;
	/* the caller's headers verbatim: its signature covers some of them */
	httpd_call_signed_request(call, &req);
	for (size_t i = 0; i < req.n_headers; i++) {
		bool skip = false;
		char *line;
		for (size_t k = 0; k < RD_ARRAY_SIZE(hop_by_hop); k++)
			skip = skip || !strcasecmp(req.headers[i].name, hop_by_hop[k]);
		if (skip)
			continue;
		if (asprintf(&line, "%s: %s", req.headers[i].name, req.headers[i].value) < 0)
			goto fail;
		if (!curl_slist_append(x->hdrs, line)) {
			free(line);
			goto fail;
		}
		free(line);
	}
	if (!(path = encoded_path(req.path ? req.path : "/")) ||
	    asprintf(&full, "%s%s%s%s", url, path, req.query ? "?" : "", req.query ? req.query : "") < 0) {
		full = NULL;
		goto fail;
	}
	if (!(x->easy = curl_easy_init()))
		goto fail;
	body = httpd_call_raw_body(call, &blen);
	curl_easy_setopt(x->easy, CURLOPT_URL, full);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, req.method);
	if (!strcmp(req.method, "POST") || !strcmp(req.method, "PUT")) {
		/* the call's body stays valid until the call is completed */
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body ? body : "");
	}
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)(x->poll ? hold_ms + POLL_SLACK_MS : CALL_TIMEOUT_MS));
	free(path);
	free(full);

	pthread_mutex_lock(&r->lock);
	if (r->stop) {
		pthread_mutex_unlock(&r->lock);
		xfer_free(x);
		return -ESHUTDOWN;
	}
	x->next = r->queue;
	r->queue = x;
	pthread_mutex_unlock(&r->lock);
	curl_multi_wakeup(r->multi);
	return 0;
fail:
	free(path);
	free(full);
	xfer_free(x);
	return rc;
}

/* "sha256//BASE64" of the public key of the certificate in path. */
static int pin_of(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	X509 *cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL, md[32], b64[64];
	unsigned int mdlen = 0;
	int n = cert ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : -1, r = -EINVAL;

	if (n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32) {
		EVP_EncodeBlock(b64, md, 32);
		snprintf(out, len, "sha256//%s", b64);
		r = 0;
	}
	OPENSSL_free(der);
	X509_free(cert);
	if (f)
		fclose(f);
	return r;
}

/* Sets x's TLS: the peer must hold the key of this daemon's own certificate
 * (read again when tls.cert changed: a renewal reaches every daemon). */
static int pin_tls(struct relay *r, struct xfer *x, char *why, size_t len)
{
	const char *cert = r->d->cfg->tls_cert;
	struct stat st;

	if (strncmp(x->url, "https://", 8) != 0)
		return 0;
	if (!cert) {
		snprintf(why, len,
			 "its URL is https but this daemon has no tls.cert to check its certificate against; give "
			 "every daemon the same tls cert and key");
		return -EINVAL;
	}
	if (stat(cert, &st) < 0) {
		snprintf(why, len, "cannot read tls.cert %s: %s", cert, strerror(errno));
		return -errno;
	}
	if (!r->pin[0] || st.st_mtim.tv_sec != r->pin_mtime.tv_sec || st.st_mtim.tv_nsec != r->pin_mtime.tv_nsec) {
		if (pin_of(cert, r->pin, sizeof(r->pin)) < 0) {
			r->pin[0] = '\0';
			snprintf(why, len, "cannot read a certificate's public key from tls.cert %s", cert);
			return -EINVAL;
		}
		r->pin_mtime = st.st_mtim;
	}
	/* not the system's CAs: the daemons share one certificate, often
	 * self-signed, whose key is what identifies a daemon of the cluster */
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(x->easy, CURLOPT_PINNEDPUBLICKEY, r->pin);
	return 0;
}

static void list_del(struct relay *r, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		r->active = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->next = x->prev = NULL;
}

/* A transfer ended (relay thread). */
static void finish(struct relay *r, struct xfer *x, CURLcode code)
{
	long status = 0;
	int64_t left = x->deadline - rd_mono_ms();

	curl_multi_remove_handle(r->multi, x->easy);
	list_del(r, x);
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (code != CURLE_OK || status == 0) {
		char why[CURL_ERROR_SIZE + 64];
		if (x->host[0])
			relay_hosts_forget(r->hosts, x->host, x->url);
		if (code == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
			snprintf(why, sizeof(why),
				 "it serves another TLS certificate than this daemon's tls.cert (every daemon of "
				 "a cluster must serve the same one)");
		else
			snprintf(why, sizeof(why), "%s",
				 x->too_big	? "its answer is larger than 1 MiB"
				 : x->errbuf[0] ? x->errbuf
						: curl_easy_strerror(code));
		RLOG(LOG_WARNING, "%s to %s: %s", x->op, x->url, why);
		unreachable(r, x->call, x->op, x->url, why);
		xfer_free(x);
		return;
	}
	/* the driver answered the poll empty before its end: another daemon
	 * announced a command meanwhile; routed again for what is left */
	if (x->poll && status == 200 && left >= REROUTE_MIN_MS && x->reroutes < MAX_REROUTES && poll_empty(x)) {
		struct route_job *j = calloc(1, sizeof(*j));
		if (x->host[0])
			relay_hosts_forget(r->hosts, x->host, x->url);
		if (j) {
			*j = (struct route_job){
			    .d = r->d, .call = x->call, .hold_ms = left, .reroutes = x->reroutes + 1};
			if (workpool_submit(r->d->pool, route_job, j) == 0) {
				count(r, x->op, "rerouted");
				xfer_free(x);
				return;
			}
			free(j);
		}
	}
	answer(x, status);
	xfer_free(x);
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;

	for (;;) {
		struct xfer *q, *next;
		CURLMsg *msg;
		int running = 0, left;
		bool stop;

		pthread_mutex_lock(&r->lock);
		q = r->queue;
		r->queue = NULL;
		stop = r->stop;
		pthread_mutex_unlock(&r->lock);
		for (; q; q = next) {
			char why[512] = "";
			next = q->next;
			q->next = q->prev = NULL;
			if (stop) {
				unreachable(r, q->call, q->op, q->url, "this daemon is shutting down");
				xfer_free(q);
				continue;
			}
			if (pin_tls(r, q, why, sizeof(why)) < 0 ||
			    curl_multi_add_handle(r->multi, q->easy) != CURLM_OK) {
				unreachable(r, q->call, q->op, q->url, why[0] ? why : "cannot start the transfer");
				xfer_free(q);
				continue;
			}
			q->next = r->active;
			if (r->active)
				r->active->prev = q;
			r->active = q;
		}
		if (stop)
			break;
		curl_multi_perform(r->multi, &running);
		while ((msg = curl_multi_info_read(r->multi, &left))) {
			struct xfer *x = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			if (x)
				finish(r, x, msg->data.result);
		}
		curl_multi_poll(r->multi, NULL, 0, 1000, NULL);
	}
	while (r->active) {
		struct xfer *x = r->active;
		curl_multi_remove_handle(r->multi, x->easy);
		list_del(r, x);
		unreachable(r, x->call, x->op, x->url, "this daemon is shutting down");
		xfer_free(x);
	}
	return NULL;
}

/* ---------------------------------------------------------------- start and stop */

int relay_start(struct rd_daemon *d, const struct auth_kek *kek, struct rd_error *err)
{
	struct relay *r;
	int rc;

	if (!cluster_enabled(d))
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return rd_error_set(err, -ENOMEM, "InternalFailure", "out of memory");
	pthread_mutex_init(&r->lock, NULL);
	r->d = d;
	r->host_ttl_ms = 2 * d->cfg->long_poll_ms + 10000;
	r->m_calls =
	    metric_counter("rolloutd_relayed_calls_total",
			   "Calls this daemon relayed to the daemon of the cluster that drives their deployment, "
			   "by operation and result (ok, refused: the driver answered an error, unreachable, "
			   "rerouted: a poll answered empty early and sent elsewhere).",
			   (const char *const[]){"operation", "result", NULL});
	rc = auth_kek_derive(kek, KEY_LABEL, r->key);
	if (rc < 0) {
		rd_error_set(err, rc, "InternalFailure", "cannot derive the relay key from the KEK: %s", strerror(-rc));
		goto fail;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r->hosts = relay_hosts_new(MAX_HOSTS);
	r->multi = curl_multi_init();
	if (!r->hosts || !r->multi) {
		rc = rd_error_set(err, -ENOMEM, "InternalFailure", "out of memory");
		goto fail;
	}
	rc = pthread_create(&r->thread, NULL, relay_main, r);
	if (rc != 0) {
		rc = rd_error_set(err, -rc, "InternalFailure", "cannot start the relay thread: %s", strerror(rc));
		goto fail;
	}
	r->thread_started = true;
	d->relay = r;
	rc = cluster_listen(d, RELAY_NOTICE_CHANNEL, on_notice, d);
	if (rc < 0) {
		rd_error_set(err, rc, "InternalFailure", "cannot listen to %s: %s", RELAY_NOTICE_CHANNEL,
			     strerror(-rc));
		relay_stop(d);
	}
	return rc;
fail:
	if (r->multi)
		curl_multi_cleanup(r->multi);
	relay_hosts_free(r->hosts);
	OPENSSL_cleanse(r->key, sizeof(r->key));
	pthread_mutex_destroy(&r->lock);
	free(r);
	return rc;
}

void relay_stop(struct rd_daemon *d)
{
	struct relay *r = d ? d->relay : NULL;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_mutex_unlock(&r->lock);
	curl_multi_wakeup(r->multi);
	if (r->thread_started)
		pthread_join(r->thread, NULL);
	/* the cluster stopped first: no notice reaches on_notice any more */
	d->relay = NULL;
	curl_multi_cleanup(r->multi);
	relay_hosts_free(r->hosts);
	OPENSSL_cleanse(r->key, sizeof(r->key));
	pthread_mutex_destroy(&r->lock);
	free(r);
}
