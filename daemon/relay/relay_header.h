/* The header a daemon adds to a call it relays to the daemon that drives
 * the deployment (docs/cluster.md, "How calls reach the driving daemon"):
 *
 *   X-Rolloutd-Relay: v1;from=ID;ts=EPOCH_S;hold=MS;addr=IP;cn=HEX;mac=HEX
 *
 *   from  the relaying daemon's cluster id (for logs and metrics)
 *   ts    when it relayed (epoch seconds): the receiver refuses a header
 *         older or newer than RELAY_HDR_WINDOW_S
 *   hold  how long a relayed PollHostCommand may still be held (the agent
 *         waited part of its long-poll on the relaying daemon already)
 *   addr  the agent's or client's address, for the receiver's audit trail
 *   cn    the client certificate's common name the relaying daemon
 *         verified against tls.client_ca (hex of its bytes; empty without
 *         mTLS): the receiver binds the call to that instance as if it had
 *         seen the certificate itself
 *   mac   HMAC-SHA256, under a key derived from the cluster's shared KEK,
 *         of the fields above and of the request's Authorization header
 *
 * The request itself is relayed verbatim, so the receiver verifies the
 * caller's SigV4 signature with its own copy of the keys; the mac binds the
 * header to that one signed request, so a header seen on the wire cannot
 * give another request a certificate identity. A request carrying the
 * header is always handled where it arrives (no second hop). Pure
 * functions, unit-tested. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define RELAY_HDR_NAME "X-Rolloutd-Relay"
#define RELAY_HDR_WINDOW_S 300
#define RELAY_HDR_MAX 768 /* bytes of an encoded header value, NUL included */

struct relay_hdr {
	char from[65];	 /* [A-Za-z0-9._:-]+ */
	int64_t ts;	 /* epoch seconds */
	int64_t hold_ms; /* 0..3600000 */
	char addr[64];	 /* [0-9A-Fa-f.:]*, may be empty */
	char cn[129];	 /* any bytes but NUL; may be empty */
};

/* Encodes h for the request whose Authorization header is authorization
 * into out (RELAY_HDR_MAX bytes). key: 32 bytes. 0, or -EINVAL when a field
 * is out of its range or authorization is empty. */
int relay_hdr_make(const unsigned char key[32], const struct relay_hdr *h, const char *authorization, char *out,
		   size_t outlen);

/* Checks value against the request's Authorization header at now_s (epoch
 * seconds). 0 with *ret filled; -EINVAL malformed, -ETIME outside the
 * window, -EPERM the mac does not match (another KEK, another request, a
 * changed field). why (whylen bytes) says which in a sentence. */
int relay_hdr_check(const unsigned char key[32], const char *value, const char *authorization, int64_t now_s,
		    struct relay_hdr *ret, char *why, size_t whylen);
