/* daemon/relay/relay_header.c: the header a daemon adds to a call it relays
 * to the driving daemon, and its authentication. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay/relay_header.h"

static const unsigned char key[32] = "0123456789abcdef0123456789abcde";
static const unsigned char other_key[32] = "0123456789abcdef0123456789abcdX";
#define AUTHZ "AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/codedeploy-commands/aws4_request, Signature=ab"
#define NOW 1796000000

static void make(const struct relay_hdr *h, char *out)
{
	assert_int_equal(relay_hdr_make(key, h, AUTHZ, out, RELAY_HDR_MAX), 0);
}

static void test_round_trip(void **state)
{
	struct relay_hdr h = {.from = "d-7f3a.example:1",
			      .ts = NOW,
			      .hold_ms = 42000,
			      .addr = "10.0.0.7",
			      .cn = "web 1"},
			 got;
	char v[RELAY_HDR_MAX], why[256];

	(void)state;
	make(&h, v);
	assert_non_null(strstr(v, "v1;from=d-7f3a.example:1;ts=1796000000;hold=42000;addr=10.0.0.7;cn=776562203"));
	assert_int_equal(relay_hdr_check(key, v, AUTHZ, NOW + 10, &got, why, sizeof(why)), 0);
	assert_string_equal(got.from, h.from);
	assert_int_equal(got.ts, NOW);
	assert_int_equal(got.hold_ms, 42000);
	assert_string_equal(got.addr, "10.0.0.7");
	assert_string_equal(got.cn, "web 1");

	/* no certificate, no address */
	h.cn[0] = '\0';
	h.addr[0] = '\0';
	make(&h, v);
	assert_int_equal(relay_hdr_check(key, v, AUTHZ, NOW, &got, why, sizeof(why)), 0);
	assert_string_equal(got.cn, "");
	assert_string_equal(got.addr, "");
}

static void test_refused(void **state)
{
	struct relay_hdr h = {.from = "a", .ts = NOW, .hold_ms = 0, .addr = "::1", .cn = "i-0123456789abcdef0"}, got;
	char v[RELAY_HDR_MAX], bad[RELAY_HDR_MAX], why[256];
	char *p;

	(void)state;
	make(&h, v);
	/* another KEK */
	assert_int_equal(relay_hdr_check(other_key, v, AUTHZ, NOW, &got, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "kek_file"));
	/* the header moved to another signed request */
	assert_int_equal(relay_hdr_check(key, v, AUTHZ "c", NOW, &got, why, sizeof(why)), -EPERM);
	assert_int_equal(relay_hdr_check(key, v, NULL, NOW, &got, why, sizeof(why)), -EINVAL);
	/* a field changed: another certificate name */
	strcpy(bad, v);
	p = strstr(bad, ";cn=") + 4;
	*p = *p == '6' ? '7' : '6';
	assert_int_equal(relay_hdr_check(key, bad, AUTHZ, NOW, &got, why, sizeof(why)), -EPERM);
	/* too old, too new */
	assert_int_equal(relay_hdr_check(key, v, AUTHZ, NOW + RELAY_HDR_WINDOW_S + 1, &got, why, sizeof(why)), -ETIME);
	assert_non_null(strstr(why, "NTP"));
	assert_int_equal(relay_hdr_check(key, v, AUTHZ, NOW - RELAY_HDR_WINDOW_S - 1, &got, why, sizeof(why)), -ETIME);
	/* malformed */
	assert_int_equal(relay_hdr_check(key, "", AUTHZ, NOW, &got, why, sizeof(why)), -EINVAL);
	assert_int_equal(relay_hdr_check(key, "v2;from=a", AUTHZ, NOW, &got, why, sizeof(why)), -EINVAL);
	assert_int_equal(
	    relay_hdr_check(key, "v1;from=a;ts=1;hold=0;addr=;cn=;mac=00", AUTHZ, NOW, &got, why, sizeof(why)),
	    -EINVAL);
	strcpy(bad, v);
	strcat(bad, ";x=1");
	assert_int_equal(relay_hdr_check(key, bad, AUTHZ, NOW, &got, why, sizeof(why)), -EINVAL);
	strcpy(bad, v);
	p = strstr(bad, ";cn=") + 4;
	*p = 'Z'; /* not hex */
	assert_int_equal(relay_hdr_check(key, bad, AUTHZ, NOW, &got, why, sizeof(why)), -EINVAL);
	strcpy(bad, v);
	p = strstr(bad, ";hold=") + 6;
	*p = '-';
	assert_int_equal(relay_hdr_check(key, bad, AUTHZ, NOW, &got, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "malformed"));
}

static void test_make_refuses(void **state)
{
	struct relay_hdr h = {.from = "a b", .ts = NOW};
	char v[RELAY_HDR_MAX];

	(void)state;
	assert_int_equal(relay_hdr_make(key, &h, AUTHZ, v, sizeof(v)), -EINVAL); /* space in from */
	strcpy(h.from, "a");
	assert_int_equal(relay_hdr_make(key, &h, "", v, sizeof(v)), -EINVAL);
	strcpy(h.addr, "10.0.0.1;x");
	assert_int_equal(relay_hdr_make(key, &h, AUTHZ, v, sizeof(v)), -EINVAL);
	h.addr[0] = '\0';
	h.hold_ms = -1;
	assert_int_equal(relay_hdr_make(key, &h, AUTHZ, v, sizeof(v)), -EINVAL);
	h.hold_ms = 0;
	assert_int_equal(relay_hdr_make(key, &h, AUTHZ, v, 20), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_make_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
