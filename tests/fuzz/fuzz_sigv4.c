/* SigV4 on the daemon's side: the Authorization header's parser and the
 * verifier (lib/sigv4.c), through daemon/auth's check with one known key.
 *
 * The input is a request as text: "METHOD PATH[?QUERY]" on the first line,
 * then "Name: value" header lines, an empty line, and the body. Besides
 * looking for crashes, the target checks one property: once the header
 * parses, the signature sigv4_signature() computes for the request must be
 * the one sigv4_verify() accepts (a request signed correctly is never
 * refused as tampered). */
#include "config.h"

#include <jansson.h>

#include "auth/auth.h"
#include "core/error.h"
#include "core/httpd.h"
#include "fuzz.h"
#include "sigv4.h"
#include "util.h"

#define KEY_ID "AKIDFUZZEXAMPLE00001"
#define KEY_SECRET "fuzz/secret/0123456789abcdefghijklmnopqrst"

static int lookup(void *userdata, const char *id, struct auth_key *ret)
{
	(void)userdata;
	if (strcmp(id, KEY_ID) != 0)
		return -ENOENT;
	snprintf(ret->id, sizeof(ret->id), "%s", KEY_ID);
	snprintf(ret->secret, sizeof(ret->secret), "%s", KEY_SECRET);
	snprintf(ret->name, sizeof(ret->name), "fuzz");
	snprintf(ret->policy, sizeof(ret->policy), "deployer");
	return 0;
}

#define MAX_HEADERS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auth *a;
	struct sigv4_header headers[MAX_HEADERS];
	struct auth_request req = {.service = "codedeploy"};
	struct sigv4_request *sr = &req.signed_request;
	struct httpd_identity id;
	struct rd_error e = RD_ERROR_INIT;
	struct sigv4_auth au;
	char *text, *p, *line, *q, *target = NULL, *op = NULL;
	const char *authz, *date;
	int64_t now = 1700000000;
	char msg[1024], sig[65];

	if (size > 64 * 1024)
		return 0;
	if (!a && auth_new(lookup, NULL, NULL, &a) < 0)
		abort();
	text = fuzz_strndup(data, size);
	p = text;
	line = strsep(&p, "\n");
	sr->method = strsep(&line, " ");
	sr->path = line && *line ? line : "/";
	q = strchr(sr->path, '?');
	if (q) {
		*q = '\0';
		sr->query = q + 1;
	}
	sr->headers = headers;
	while (p && sr->n_headers < MAX_HEADERS) {
		char *colon;
		line = strsep(&p, "\n");
		if (!*line || !strcmp(line, "\r"))
			break;
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		headers[sr->n_headers].name = line;
		headers[sr->n_headers].value = colon + 1 + strspn(colon + 1, " ");
		sr->n_headers++;
	}
	sr->body = p ? p : "";
	sr->body_len = p ? size - (size_t)(p - text) : 0;

	/* as the transport names a JSON call: "<prefix>.<Operation>" */
	target = (char *)sigv4_header_get(sr, "X-Amz-Target");
	if (target && (target = strdup(target)) && (op = strrchr(target, '.'))) {
		*op++ = '\0';
		req.target_prefix = target;
		req.operation = op;
	}
	date = sigv4_header_get(sr, "X-Amz-Date");
	if (date)
		(void)sigv4_parse_amz_date(date, &now);
	(void)auth_check(a, &req, now, &id, &e);

	authz = sigv4_header_get(sr, "Authorization");
	if (authz && date && sigv4_parse_authorization(authz, &au, msg, sizeof(msg)) == 0 &&
	    sigv4_signature(sr, &au, date, KEY_SECRET, sig, msg, sizeof(msg)) == 0) {
		memcpy(au.signature, sig, sizeof(au.signature));
		if (sigv4_verify(sr, &au, KEY_SECRET, now, SIGV4_MAX_SKEW_S, msg, sizeof(msg)) == -EACCES) {
			fprintf(stderr, "a request signed with its own computed signature was refused: %s\n", msg);
			abort();
		}
	}
	free(target);
	free(text);
	return 0;
}
