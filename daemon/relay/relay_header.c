/* The relay header; see relay_header.h. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "relay/relay_header.h"
#include "cryptoutil.h"
#include "util.h"

static bool id_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < 65 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

static bool addr_ok(const char *s)
{
	size_t n = strlen(s);
	return n < 64 && strspn(s, "0123456789abcdefABCDEF.:") == n;
}

/* The mac of the fields (cn as its hex) and the Authorization header. */
static int mac_of(const unsigned char key[32], const struct relay_hdr *h, const char *cnhex, const char *authorization,
		  char out[65])
{
	unsigned char md[32];
	size_t alen = strlen(authorization), n;
	char *buf;
	int r;

	n = strlen(h->from) + strlen(h->addr) + strlen(cnhex) + alen + 128;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	snprintf(buf, n, "rolloutd-relay-v1\n%s\n%" PRId64 "\n%" PRId64 "\n%s\n%s\n%s", h->from, h->ts, h->hold_ms,
		 h->addr, cnhex, authorization);
	r = rd_hmac_sha256(key, 32, buf, strlen(buf), md);
	free(buf);
	if (r < 0)
		return r;
	rd_hex(md, sizeof(md), out);
	return 0;
}

int relay_hdr_make(const unsigned char key[32], const struct relay_hdr *h, const char *authorization, char *out,
		   size_t outlen)
{
	char cnhex[2 * sizeof(h->cn) + 1], mac[65];
	size_t cnlen = strlen(h->cn);
	int n, r;

	if (!id_ok(h->from) || !addr_ok(h->addr) || h->ts <= 0 || h->hold_ms < 0 || h->hold_ms > 3600000 ||
	    cnlen >= sizeof(h->cn) || !authorization || !*authorization)
		return -EINVAL;
	rd_hex((const unsigned char *)h->cn, cnlen, cnhex);
	if ((r = mac_of(key, h, cnhex, authorization, mac)) < 0)
		return r;
	n = snprintf(out, outlen, "v1;from=%s;ts=%" PRId64 ";hold=%" PRId64 ";addr=%s;cn=%s;mac=%s", h->from, h->ts,
		     h->hold_ms, h->addr, cnhex, mac);
	return n < 0 || (size_t)n >= outlen ? -EINVAL : 0;
}

/* The value of field name at *p ("name=value;"), advancing *p past it. */
static const char *field(char **p, const char *name)
{
	size_t n = strlen(name);
	char *v, *end;

	if (strncmp(*p, name, n) != 0 || (*p)[n] != '=')
		return NULL;
	v = *p + n + 1;
	end = strchr(v, ';');
	if (end) {
		*end = '\0';
		*p = end + 1;
	} else {
		*p = v + strlen(v);
	}
	return v;
}

static bool int_of(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
		return false;
	v = strtoll(s, &end, 10);
	if (*end || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

static int unhex(const char *s, char *out, size_t outlen)
{
	size_t n = strlen(s);

	if (n % 2 || n / 2 >= outlen)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdef", s[2 * i]) ||
		    !strchr("0123456789abcdef", s[2 * i + 1]) || v == 0)
			return -EINVAL;
		out[i] = (char)v;
	}
	out[n / 2] = '\0';
	return 0;
}

int relay_hdr_check(const unsigned char key[32], const char *value, const char *authorization, int64_t now_s,
		    struct relay_hdr *ret, char *why, size_t whylen)
{
	struct relay_hdr h = {0};
	const char *from, *ts, *hold, *addr, *cnhex, *mac;
	char buf[RELAY_HDR_MAX], want[65];
	char *p = buf;
	int r;

	if (!value || strlen(value) >= sizeof(buf) || strncmp(value, "v1;", 3) != 0) {
		snprintf(why, whylen, "the %s header is not one rolloutd writes (expected v1;from=...)",
			 RELAY_HDR_NAME);
		return -EINVAL;
	}
	memcpy(buf, value + 3, strlen(value + 3) + 1);
	from = field(&p, "from");
	ts = from ? field(&p, "ts") : NULL;
	hold = ts ? field(&p, "hold") : NULL;
	addr = hold ? field(&p, "addr") : NULL;
	cnhex = addr ? field(&p, "cn") : NULL;
	mac = cnhex ? field(&p, "mac") : NULL;
	if (!mac || *p || strlen(from) >= sizeof(h.from) || !id_ok(from) || strlen(addr) >= sizeof(h.addr) ||
	    !addr_ok(addr) || !int_of(ts, 1, INT64_MAX / 2, &h.ts) || !int_of(hold, 0, 3600000, &h.hold_ms) ||
	    unhex(cnhex, h.cn, sizeof(h.cn)) < 0 || strlen(mac) != 64) {
		snprintf(why, whylen, "the %s header is malformed (expected v1;from=;ts=;hold=;addr=;cn=;mac=)",
			 RELAY_HDR_NAME);
		return -EINVAL;
	}
	strcpy(h.from, from);
	strcpy(h.addr, addr);
	if (!authorization || !*authorization) {
		snprintf(why, whylen, "a relayed request must carry its caller's Authorization header");
		return -EINVAL;
	}
	if ((r = mac_of(key, &h, cnhex, authorization, want)) < 0) {
		snprintf(why, whylen, "cannot compute the relay header's mac: %s", strerror(-r));
		return r;
	}
	if (CRYPTO_memcmp(want, mac, 64) != 0) {
		snprintf(why, whylen,
			 "the %s header from daemon %s does not authenticate: that daemon has another kek_file than "
			 "this one (every daemon of a cluster must share it), or the header was altered",
			 RELAY_HDR_NAME, h.from);
		return -EPERM;
	}
	if (h.ts < now_s - RELAY_HDR_WINDOW_S || h.ts > now_s + RELAY_HDR_WINDOW_S) {
		snprintf(why, whylen,
			 "the %s header from daemon %s was made %" PRId64 " s from now; more than %d s apart: "
			 "synchronise the daemons' clocks (NTP)",
			 RELAY_HDR_NAME, h.from, h.ts - now_s, RELAY_HDR_WINDOW_S);
		return -ETIME;
	}
	*ret = h;
	return 0;
}
