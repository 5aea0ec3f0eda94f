/* daemon/ui/ui_session.c: sessions open, are found by their token only,
 * expire when idle or too old, close at sign-out, make room when the table
 * is full; failed sign-ins are limited per address and window. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ui/ui_session.h"

#define T0 1700000000000LL

static void test_open_find_close(void **state)
{
	struct ui_sessions *s = NULL;
	char tok[UI_TOKEN_LEN + 1], csrf[UI_TOKEN_LEN + 1], key[129], got_csrf[UI_TOKEN_LEN + 1],
	    other[UI_TOKEN_LEN + 1];

	assert_int_equal(ui_sessions_new(&s), 0);
	assert_int_equal(ui_session_open(s, "AKEXAMPLE", T0, tok, csrf), 0);
	assert_int_equal(strlen(tok), UI_TOKEN_LEN);
	assert_string_not_equal(tok, csrf);
	assert_int_equal(ui_session_find(s, tok, T0 + 1000, key, got_csrf), 0);
	assert_string_equal(key, "AKEXAMPLE");
	assert_string_equal(got_csrf, csrf);
	/* the CSRF token is no session token; a changed character is none either */
	assert_int_equal(ui_session_find(s, csrf, T0, key, got_csrf), -ENOENT);
	memcpy(other, tok, sizeof(other));
	other[5] = other[5] == 'a' ? 'b' : 'a';
	assert_int_equal(ui_session_find(s, other, T0, key, got_csrf), -ENOENT);
	assert_int_equal(ui_session_find(s, "short", T0, key, got_csrf), -ENOENT);
	assert_int_equal(ui_session_find(s, NULL, T0, key, got_csrf), -ENOENT);
	ui_session_close(s, tok);
	assert_int_equal(ui_session_find(s, tok, T0 + 2000, key, got_csrf), -ENOENT);
	ui_sessions_free(s);
}

static void test_expiry(void **state)
{
	struct ui_sessions *s = NULL;
	char tok[UI_TOKEN_LEN + 1], csrf[UI_TOKEN_LEN + 1], key[129], c[UI_TOKEN_LEN + 1];
	int64_t t = T0;

	assert_int_equal(ui_sessions_new(&s), 0);
	/* idle: used just within the idle time it lives on; past it, it is gone */
	assert_int_equal(ui_session_open(s, "K", t, tok, csrf), 0);
	t += UI_SESSION_IDLE_S * 1000LL;
	assert_int_equal(ui_session_find(s, tok, t, key, c), 0);
	t += UI_SESSION_IDLE_S * 1000LL + 1;
	assert_int_equal(ui_session_find(s, tok, t, key, c), -ENOENT);
	/* in use all along, it still ends UI_SESSION_MAX_S after sign-in */
	assert_int_equal(ui_session_open(s, "K", t, tok, csrf), 0);
	for (int64_t u = t; u <= t + UI_SESSION_MAX_S * 1000LL; u += UI_SESSION_IDLE_S * 500LL)
		assert_int_equal(ui_session_find(s, tok, u, key, c), 0);
	assert_int_equal(ui_session_find(s, tok, t + UI_SESSION_MAX_S * 1000LL + 1, key, c), -ENOENT);
	ui_sessions_free(s);
}

static void test_full_table_drops_least_recently_used(void **state)
{
	static char toks[UI_SESSIONS_MAX + 1][UI_TOKEN_LEN + 1];
	struct ui_sessions *s = NULL;
	char csrf[UI_TOKEN_LEN + 1], key[129], c[UI_TOKEN_LEN + 1];

	assert_int_equal(ui_sessions_new(&s), 0);
	for (int i = 0; i < UI_SESSIONS_MAX; i++)
		assert_int_equal(ui_session_open(s, "K", T0 + i, toks[i], csrf), 0);
	/* session 0 used last: session 1 is the least recently used */
	assert_int_equal(ui_session_find(s, toks[0], T0 + UI_SESSIONS_MAX, key, c), 0);
	assert_int_equal(ui_session_open(s, "K2", T0 + UI_SESSIONS_MAX + 1, toks[UI_SESSIONS_MAX], csrf), 0);
	assert_int_equal(ui_session_find(s, toks[1], T0 + UI_SESSIONS_MAX + 2, key, c), -ENOENT);
	assert_int_equal(ui_session_find(s, toks[0], T0 + UI_SESSIONS_MAX + 2, key, c), 0);
	assert_int_equal(ui_session_find(s, toks[UI_SESSIONS_MAX], T0 + UI_SESSIONS_MAX + 2, key, c), 0);
	assert_string_equal(key, "K2");
	ui_sessions_free(s);
}

static void test_signin_limit(void **state)
{
	struct ui_sessions *s = NULL;
	int wait_s = 0;

	assert_int_equal(ui_sessions_new(&s), 0);
	for (int i = 0; i < UI_SIGNIN_FAILURES_MAX; i++) {
		assert_int_equal(ui_signin_allowed(s, "10.0.0.1", T0 + i, &wait_s), 0);
		ui_signin_failed(s, "10.0.0.1", T0 + i);
	}
	assert_int_equal(ui_signin_allowed(s, "10.0.0.1", T0 + 10, &wait_s), -EAGAIN);
	assert_true(wait_s >= 1 && wait_s <= UI_SIGNIN_WINDOW_S);
	/* another address is not held back */
	assert_int_equal(ui_signin_allowed(s, "10.0.0.2", T0 + 10, &wait_s), 0);
	/* once the window is over, the address may try again */
	assert_int_equal(ui_signin_allowed(s, "10.0.0.1", T0 + UI_SIGNIN_WINDOW_S * 1000LL + 1, &wait_s), 0);
	ui_sessions_free(s);
}

static void test_token_equal(void **state)
{
	char a[UI_TOKEN_LEN + 1];

	memset(a, 'a', UI_TOKEN_LEN);
	a[UI_TOKEN_LEN] = '\0';
	assert_true(ui_token_equal(a, a));
	assert_false(ui_token_equal(a, "aaaa"));
	assert_false(ui_token_equal(a, NULL));
	assert_false(ui_token_equal(NULL, a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_find_close),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_full_table_drops_least_recently_used),
	    cmocka_unit_test(test_signin_limit),
	    cmocka_unit_test(test_token_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
