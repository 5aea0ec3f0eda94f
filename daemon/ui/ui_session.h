/* The dashboard's sessions and its limit on failed sign-ins, in memory.
 * A session is a random token (the cookie) with its own random CSRF token,
 * the access key it was opened with, and two deadlines: UI_SESSION_IDLE_S
 * after its last use and UI_SESSION_MAX_S after sign-in. Thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UI_SESSION_MAX_S (8 * 3600)
#define UI_SESSION_IDLE_S 3600
#define UI_SESSIONS_MAX 512
#define UI_TOKEN_LEN 64 /* hex characters */

/* Failed sign-ins allowed from one client address per window. */
#define UI_SIGNIN_FAILURES_MAX 5
#define UI_SIGNIN_WINDOW_S 60

struct ui_sessions;

int ui_sessions_new(struct ui_sessions **ret);
struct ui_sessions *ui_sessions_free(struct ui_sessions *s);

/* Opens a session for key_id at now_ms: its token and CSRF token. When the
 * table is full the session used least recently is closed. */
int ui_session_open(struct ui_sessions *s, const char *key_id, int64_t now_ms, char ret_token[UI_TOKEN_LEN + 1],
		    char ret_csrf[UI_TOKEN_LEN + 1]);
/* The live session of token: 0 with its key id and CSRF token (and its use
 * recorded), -ENOENT when there is none or it expired. */
int ui_session_find(struct ui_sessions *s, const char *token, int64_t now_ms, char ret_key_id[129],
		    char ret_csrf[UI_TOKEN_LEN + 1]);
/* Closes the session of token (sign-out); closing none is no error. */
void ui_session_close(struct ui_sessions *s, const char *token);
/* Constant-time equality of two tokens. */
bool ui_token_equal(const char *a, const char *b);

/* Whether addr may try to sign in at now_ms: 0, or -EAGAIN with the
 * seconds to wait. */
int ui_signin_allowed(struct ui_sessions *s, const char *addr, int64_t now_ms, int *ret_wait_s);
/* Counts a failed sign-in from addr. */
void ui_signin_failed(struct ui_sessions *s, const char *addr, int64_t now_ms);
