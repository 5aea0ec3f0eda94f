#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cryptoutil.h"
#include "sigv4.h"
#include "util.h"

#define ERR(...) (err && errlen ? (void)snprintf(err, errlen, __VA_ARGS__) : (void)0)

/* A growable string; on allocation failure it stays in error and the
 * caller reports -ENOMEM once. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_addn(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_add(struct sbuf *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static void sb_addc(struct sbuf *b, char c)
{
	sb_addn(b, &c, 1);
}

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static void sb_add_uri_encoded(struct sbuf *b, const char *s, size_t n, bool keep_slash)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			sb_addc(b, (char)c);
		} else {
			char hex[4];
			snprintf(hex, sizeof(hex), "%%%02X", c);
			sb_add(b, hex);
		}
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into a new buffer ('+' stays '+'). */
static char *pct_decode(const char *s, size_t n, size_t *ret_len)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
}

const char *sigv4_header_get(const struct sigv4_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

/* Appends "value" trimmed with inner whitespace runs collapsed, a run of
 * other characters at a time (a character at a time was a quarter of a
 * signature's cost). */
static void sb_add_trimmed(struct sbuf *b, const char *v)
{
	bool started = false;

	for (;;) {
		size_t ws = strspn(v, " \t"), n;
		v += ws;
		if (!*v)
			return;
		if (ws && started)
			sb_addc(b, ' ');
		n = strcspn(v, " \t");
		sb_addn(b, v, n);
		v += n;
		started = true;
	}
}

struct qparam {
	char *k, *v; /* encoded canonically */
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

static int canonical_query(const char *q, struct sbuf *out)
{
	struct qparam *ps = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if (!q || !*q)
		return 0;
	for (const char *p = q; *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > 0) {
			const char *eq = memchr(p, '=', len);
			size_t klen = eq ? (size_t)(eq - p) : len;
			size_t dk, dv;
			char *k = pct_decode(p, klen, &dk);
			char *v = eq ? pct_decode(eq + 1, len - klen - 1, &dv) : strdup("");
			if (!eq)
				dv = 0;
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				struct qparam *np = realloc(ps, cap * sizeof(*ps));
				if (!np) {
					free(k);
					free(v);
					r = -ENOMEM;
					goto out;
				}
				ps = np;
			}
			struct sbuf ek = {0}, ev = {0};
			if (k && v) {
				sb_add_uri_encoded(&ek, k, dk, false);
				sb_add_uri_encoded(&ev, v, dv, false);
				sb_add(&ek, "");
				sb_add(&ev, "");
			}
			free(k);
			free(v);
			ps[n].k = ek.p;
			ps[n].v = ev.p;
			n++;
			if (!ps[n - 1].k || !ps[n - 1].v || ek.oom || ev.oom) {
				r = -ENOMEM;
				goto out;
			}
		}
		p += len;
		if (*p == '&')
			p++;
	}
	if (n > 1) /* ps is NULL when every parameter was empty ("?&&") */
		qsort(ps, n, sizeof(*ps), qparam_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_addc(out, '&');
		sb_add(out, ps[i].k);
		sb_addc(out, '=');
		sb_add(out, ps[i].v);
	}
out:
	for (size_t i = 0; i < n; i++) {
		free(ps[i].k);
		free(ps[i].v);
	}
	free(ps);
	return r;
}

static int hmac(const void *key, size_t keylen, const void *data, size_t len, unsigned char out[32])
{
	return rd_hmac_sha256(key, keylen, data, len, out);
}

/* The signing key of a secret for a day, region and service (four HMACs),
 * as AWS's SDKs keep it: the process remembers the ones it derived, by a
 * SHA-256 of what they derive from, so a daemon verifying thousands of
 * requests a second derives each key's once a day. One table for every
 * thread, as many slots as a fleet has agents with a key each (a table per
 * thread derived each key once per thread, and one of a few slots missed
 * on every request of a fleet); a slot is direct-mapped, its lock one of
 * SIGNING_LOCKS. Allocated at the first use. */
#define SIGNING_KEYS (1u << 15)
#define SIGNING_LOCKS 64

struct signing_key {
	unsigned char from[32], key[32];
	bool set;
};

static struct signing_key *signing_keys;
static pthread_mutex_t signing_locks[SIGNING_LOCKS];
static pthread_once_t signing_once = PTHREAD_ONCE_INIT;

static void signing_init(void)
{
	for (size_t i = 0; i < SIGNING_LOCKS; i++)
		pthread_mutex_init(&signing_locks[i], NULL);
	/* without it, every key is derived every time */
	signing_keys = calloc(SIGNING_KEYS, sizeof(*signing_keys));
}

static int signing_key(const char *secret, const struct sigv4_auth *auth, unsigned char k[32])
{
	struct sbuf in = {0};
	struct signing_key *slot = NULL;
	pthread_mutex_t *lock = NULL;
	unsigned char from[32];
	bool hit = false;
	int r;

	/* NULs between the parts: no two inputs hash alike by moving a boundary */
	sb_add(&in, secret);
	sb_addc(&in, '\0');
	sb_add(&in, auth->date);
	sb_addc(&in, '\0');
	sb_add(&in, auth->region);
	sb_addc(&in, '\0');
	sb_add(&in, auth->service);
	if (in.oom) {
		free(in.p);
		return -ENOMEM;
	}
	rd_sha256(in.p, in.len, from);
	OPENSSL_cleanse(in.p, in.len);
	free(in.p);
	pthread_once(&signing_once, signing_init);
	if (signing_keys) {
		size_t i = ((size_t)from[0] | (size_t)from[1] << 8 | (size_t)from[2] << 16) % SIGNING_KEYS;
		slot = &signing_keys[i];
		lock = &signing_locks[i % SIGNING_LOCKS];
		pthread_mutex_lock(lock);
		if (slot->set && CRYPTO_memcmp(slot->from, from, sizeof(from)) == 0) {
			memcpy(k, slot->key, 32);
			hit = true;
		}
		pthread_mutex_unlock(lock);
		if (hit)
			return 0;
	}
	{
		struct sbuf key = {0};
		sb_add(&key, "AWS4");
		sb_add(&key, secret);
		if (key.oom) {
			free(key.p);
			return -ENOMEM;
		}
		r = hmac(key.p, key.len, auth->date, strlen(auth->date), k);
		OPENSSL_cleanse(key.p, key.len);
		free(key.p);
	}
	if (r == 0)
		r = hmac(k, 32, auth->region, strlen(auth->region), k);
	if (r == 0)
		r = hmac(k, 32, auth->service, strlen(auth->service), k);
	if (r == 0)
		r = hmac(k, 32, "aws4_request", 12, k);
	if (r == 0 && slot) {
		pthread_mutex_lock(lock);
		memcpy(slot->from, from, sizeof(from));
		memcpy(slot->key, k, 32);
		slot->set = true;
		pthread_mutex_unlock(lock);
	}
	return r;
}

int sigv4_parse_authorization(const char *a, struct sigv4_auth *ret, char *err, size_t errlen)
{
	struct sigv4_auth au;
	const char *p;
	bool have_cred = false, have_sh = false, have_sig = false;

	memset(&au, 0, sizeof(au));
	if (!a || !rd_str_has_prefix(a, "AWS4-HMAC-SHA256 ")) {
		ERR("the Authorization header must use AWS4-HMAC-SHA256 (sign the request with AWS Signature Version "
		    "4)");
		return -EINVAL;
	}
	p = a + strlen("AWS4-HMAC-SHA256 ");
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len > 11 && strncmp(p, "Credential=", 11) == 0) {
			/* KEY/DATE/REGION/SERVICE/aws4_request */
			char cred[512];
			if (len - 11 >= sizeof(cred))
				goto bad;
			memcpy(cred, p + 11, len - 11);
			cred[len - 11] = '\0';
			char *parts[5];
			char *save = NULL, *tok = strtok_r(cred, "/", &save);
			int np = 0;
			while (tok && np < 5) {
				parts[np++] = tok;
				tok = strtok_r(NULL, "/", &save);
			}
			if (np != 5 || tok || strcmp(parts[4], "aws4_request") != 0 || strlen(parts[1]) != 8 ||
			    strlen(parts[0]) >= sizeof(au.access_key) || strlen(parts[2]) >= sizeof(au.region) ||
			    strlen(parts[3]) >= sizeof(au.service))
				goto bad;
			strcpy(au.access_key, parts[0]);
			strcpy(au.date, parts[1]);
			strcpy(au.region, parts[2]);
			strcpy(au.service, parts[3]);
			have_cred = true;
		} else if (len > 14 && strncmp(p, "SignedHeaders=", 14) == 0) {
			if (len - 14 >= sizeof(au.signed_headers))
				goto bad;
			memcpy(au.signed_headers, p + 14, len - 14);
			au.signed_headers[len - 14] = '\0';
			have_sh = true;
		} else if (len > 10 && strncmp(p, "Signature=", 10) == 0) {
			if (len - 10 != 64)
				goto bad;
			memcpy(au.signature, p + 10, 64);
			au.signature[64] = '\0';
			have_sig = true;
		} else {
			goto bad;
		}
		p += len;
		while (*p && *p != ',')
			p++;
	}
	if (!have_cred || !have_sh || !have_sig)
		goto bad;
	*ret = au;
	return 0;
bad:
	ERR("malformed Authorization header: expected 'AWS4-HMAC-SHA256 "
	    "Credential=KEY/DATE/REGION/SERVICE/aws4_request, "
	    "SignedHeaders=..., Signature=<64 hex>'");
	return -EINVAL;
}

int sigv4_parse_amz_date(const char *s, int64_t *ret_epoch)
{
	struct tm tm;

	if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return -EINVAL;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)s[i]))
			return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
	tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
	tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
	tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
	tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
	tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -EINVAL;
	*ret_epoch = (int64_t)timegm(&tm);
	return 0;
}

static int payload_hash(const struct sigv4_request *req, const struct sigv4_auth *auth, char out[65])
{
	const char *h = sigv4_header_get(req, "x-amz-content-sha256");

	if (h && strstr(auth->signed_headers, "x-amz-content-sha256") && strcmp(h, "UNSIGNED-PAYLOAD") != 0) {
		if (strlen(h) != 64)
			return -EINVAL;
		for (int i = 0; i < 64; i++)
			out[i] = (char)tolower((unsigned char)h[i]);
		out[64] = '\0';
		return 0;
	}
	if (h && strcmp(h, "UNSIGNED-PAYLOAD") == 0) {
		strcpy(out, "UNSIGNED-PAYLOAD");
		return 0;
	}
	rd_sha256_hex(req->body ? req->body : "", req->body_len, out);
	return 0;
}

int sigv4_signature(const struct sigv4_request *req, const struct sigv4_auth *auth, const char *amz_date,
		    const char *secret, char ret_hex[65], char *err, size_t errlen)
{
	struct sbuf cr = {0}, sts = {0};
	char hash[65], cr_hash[65];
	unsigned char k[32];
	int r = 0;

	sb_add(&cr, req->method);
	sb_addc(&cr, '\n');
	{
		const char *path = req->path && *req->path ? req->path : "/";
		const char *q = strchr(path, '?');
		sb_add_uri_encoded(&cr, path, q ? (size_t)(q - path) : strlen(path), true);
	}
	sb_addc(&cr, '\n');
	r = canonical_query(req->query, &cr);
	if (r < 0)
		goto out;
	sb_addc(&cr, '\n');
	/* canonical headers in SignedHeaders order */
	for (const char *p = auth->signed_headers; *p;) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);
		char name[128];
		bool found = false;
		if (len == 0 || len >= sizeof(name)) {
			ERR("malformed SignedHeaders list '%s'", auth->signed_headers);
			r = -EINVAL;
			goto out;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		sb_add(&cr, name);
		sb_addc(&cr, ':');
		for (size_t i = 0; i < req->n_headers; i++) {
			if (strcasecmp(req->headers[i].name, name) != 0)
				continue;
			if (found)
				sb_addc(&cr, ',');
			sb_add_trimmed(&cr, req->headers[i].value);
			found = true;
		}
		if (!found) {
			ERR("the header '%s' is listed in SignedHeaders but absent from the request", name);
			r = -EINVAL;
			goto out;
		}
		sb_addc(&cr, '\n');
		p += len;
		if (*p == ';')
			p++;
	}
	sb_addc(&cr, '\n');
	sb_add(&cr, auth->signed_headers);
	sb_addc(&cr, '\n');
	if (payload_hash(req, auth, hash) < 0) {
		ERR("X-Amz-Content-Sha256 must be 64 hex characters");
		r = -EINVAL;
		goto out;
	}
	sb_add(&cr, hash);
	if (cr.oom) {
		r = -ENOMEM;
		goto out;
	}
	rd_sha256_hex(cr.p, cr.len, cr_hash);

	sb_add(&sts, "AWS4-HMAC-SHA256\n");
	sb_add(&sts, amz_date);
	sb_addc(&sts, '\n');
	sb_add(&sts, auth->date);
	sb_addc(&sts, '/');
	sb_add(&sts, auth->region);
	sb_addc(&sts, '/');
	sb_add(&sts, auth->service);
	sb_add(&sts, "/aws4_request\n");
	sb_add(&sts, cr_hash);
	if (sts.oom) {
		r = -ENOMEM;
		goto out;
	}
	r = signing_key(secret, auth, k);
	if (r == 0)
		r = hmac(k, 32, sts.p, sts.len, k);
	if (r < 0) {
		ERR("HMAC-SHA256 failed");
		goto out;
	}
	rd_hex(k, 32, ret_hex);
out:
	OPENSSL_cleanse(k, sizeof(k));
	free(cr.p);
	free(sts.p);
	return r;
}

int sigv4_verify(const struct sigv4_request *req, const struct sigv4_auth *auth, const char *secret, int64_t now_s,
		 int64_t max_skew_s, char *err, size_t errlen)
{
	const char *amz_date = sigv4_header_get(req, "x-amz-date");
	int64_t t;
	char sig[65];
	int r;

	if (!amz_date || sigv4_parse_amz_date(amz_date, &t) < 0) {
		ERR("the request needs an X-Amz-Date header in the form YYYYMMDDTHHMMSSZ");
		return -EINVAL;
	}
	if (strncmp(amz_date, auth->date, 8) != 0) {
		ERR("the credential scope date %s does not match X-Amz-Date %s", auth->date, amz_date);
		return -EINVAL;
	}
	if (!strstr(auth->signed_headers, "host")) {
		ERR("the Host header must be signed");
		return -EINVAL;
	}
	if (t < now_s - max_skew_s || t > now_s + max_skew_s) {
		char now_str[17], lim_str[17];
		time_t now_t = (time_t)now_s, lim_t = (time_t)(t < now_s ? now_s - max_skew_s : now_s + max_skew_s);
		struct tm tm;
		strftime(now_str, sizeof(now_str), "%Y%m%dT%H%M%SZ", gmtime_r(&now_t, &tm));
		strftime(lim_str, sizeof(lim_str), "%Y%m%dT%H%M%SZ", gmtime_r(&lim_t, &tm));
		if (t < now_s)
			ERR("Signature expired: %s is now earlier than %s (%s - %lld min.); check the client's clock",
			    amz_date, lim_str, now_str, (long long)(max_skew_s / 60));
		else
			ERR("Signature not yet current: %s is still later than %s (%s + %lld min.); check the client's "
			    "clock",
			    amz_date, lim_str, now_str, (long long)(max_skew_s / 60));
		return -ETIMEDOUT;
	}
	{
		const char *h = sigv4_header_get(req, "x-amz-content-sha256");
		if (h && strcmp(h, "UNSIGNED-PAYLOAD") != 0) {
			char actual[65];
			rd_sha256_hex(req->body ? req->body : "", req->body_len, actual);
			if (strcasecmp(h, actual) != 0) {
				ERR("the X-Amz-Content-Sha256 header does not match the body received; resend the "
				    "request");
				return -EBADMSG;
			}
		}
	}
	r = sigv4_signature(req, auth, amz_date, secret, sig, err, errlen);
	if (r < 0)
		return r;
	if (CRYPTO_memcmp(sig, auth->signature, 64) != 0) {
		ERR("The request signature we calculated does not match the signature you provided. Check your AWS "
		    "Secret Access Key and signing method.");
		return -EACCES;
	}
	return 0;
}
