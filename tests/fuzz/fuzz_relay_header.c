/* The X-Rolloutd-Relay header (daemon/relay/relay_header.c), which any
 * client can send to a daemon of a cluster. The input is the header's value,
 * a newline, and the request's Authorization header. Besides looking for
 * crashes, the target checks one property: a header relay_hdr_make writes
 * for that Authorization header (with the certificate name taken from it) is
 * accepted by relay_hdr_check with the same fields. */
#include "config.h"

#include "fuzz.h"
#include "relay/relay_header.h"

static const unsigned char key[32] = {0x72, 0x65, 0x6c, 0x61, 0x79}; /* any fixed key */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *auth, why[512], value[RELAY_HDR_MAX];
	struct relay_hdr h = {.from = "daemon-1", .ts = 1700000000, .addr = "10.0.0.9"}, got;

	auth = strchr(text, '\n');
	if (auth)
		*auth++ = '\0';
	(void)relay_hdr_check(key, text, auth, h.ts, &got, why, sizeof(why));
	if (auth) {
		h.hold_ms = (int64_t)(size % 3600001);
		snprintf(h.cn, sizeof(h.cn), "%s", auth);
		if (relay_hdr_make(key, &h, auth, value, sizeof(value)) == 0) {
			if (relay_hdr_check(key, value, auth, h.ts, &got, why, sizeof(why)) != 0 ||
			    strcmp(got.cn, h.cn) != 0 || got.hold_ms != h.hold_ms || strcmp(got.from, h.from) != 0) {
				fprintf(stderr, "a header relay_hdr_make wrote was refused: %s\n", why);
				abort();
			}
		}
	}
	free(text);
	return 0;
}
