/* Sessions and the failed sign-in limit (ui_session.h). Tables of fixed
 * size scanned under one lock: a few hundred entries, touched once a
 * request. Tokens are compared in constant time, so a scan does not tell
 * how much of a guessed token was right. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ui/ui_session.h"
#include "cryptoutil.h"
#include "util.h"

struct session {
	bool used;
	char token[UI_TOKEN_LEN + 1];
	char csrf[UI_TOKEN_LEN + 1];
	char key_id[129];
	int64_t opened_ms, last_ms;
};

#define UI_SIGNIN_ADDRS 256

struct failures {
	char addr[64];
	int64_t window_start_ms;
	int n;
};

struct ui_sessions {
	pthread_mutex_t lock;
	struct session s[UI_SESSIONS_MAX];
	struct failures f[UI_SIGNIN_ADDRS];
};

int ui_sessions_new(struct ui_sessions **ret)
{
	struct ui_sessions *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	*ret = s;
	return 0;
}

struct ui_sessions *ui_sessions_free(struct ui_sessions *s)
{
	if (!s)
		return NULL;
	pthread_mutex_destroy(&s->lock);
	explicit_bzero(s, sizeof(*s));
	free(s);
	return NULL;
}

bool ui_token_equal(const char *a, const char *b)
{
	char x[UI_TOKEN_LEN + 1] = {0}, y[UI_TOKEN_LEN + 1] = {0};
	bool same;

	if (!a || !b || strlen(a) != UI_TOKEN_LEN || strlen(b) != UI_TOKEN_LEN)
		return false;
	memcpy(x, a, UI_TOKEN_LEN);
	memcpy(y, b, UI_TOKEN_LEN);
	same = CRYPTO_memcmp(x, y, sizeof(x)) == 0;
	return same;
}

static bool expired(const struct session *e, int64_t now_ms)
{
	return now_ms - e->opened_ms > UI_SESSION_MAX_S * 1000LL || now_ms - e->last_ms > UI_SESSION_IDLE_S * 1000LL;
}

static int new_token(char out[UI_TOKEN_LEN + 1])
{
	unsigned char b[UI_TOKEN_LEN / 2];

	if (rd_random_bytes(b, sizeof(b)) < 0)
		return -EIO;
	rd_hex(b, sizeof(b), out);
	explicit_bzero(b, sizeof(b));
	return 0;
}

int ui_session_open(struct ui_sessions *s, const char *key_id, int64_t now_ms, char ret_token[UI_TOKEN_LEN + 1],
		    char ret_csrf[UI_TOKEN_LEN + 1])
{
	struct session *slot = NULL;

	if (new_token(ret_token) < 0 || new_token(ret_csrf) < 0)
		return -EIO;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < UI_SESSIONS_MAX; i++) {
		struct session *e = &s->s[i];
		if (e->used && expired(e, now_ms))
			e->used = false;
		if (!e->used) {
			if (!slot || slot->used)
				slot = e;
		} else if (!slot || (slot->used && e->last_ms < slot->last_ms)) {
			slot = e;
		}
	}
	memset(slot, 0, sizeof(*slot));
	slot->used = true;
	memcpy(slot->token, ret_token, UI_TOKEN_LEN + 1);
	memcpy(slot->csrf, ret_csrf, UI_TOKEN_LEN + 1);
	rd_strlcpy(slot->key_id, key_id, sizeof(slot->key_id));
	slot->opened_ms = slot->last_ms = now_ms;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int ui_session_find(struct ui_sessions *s, const char *token, int64_t now_ms, char ret_key_id[129],
		    char ret_csrf[UI_TOKEN_LEN + 1])
{
	int r = -ENOENT;

	if (!token || strlen(token) != UI_TOKEN_LEN)
		return -ENOENT;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < UI_SESSIONS_MAX; i++) {
		struct session *e = &s->s[i];
		if (!e->used || !ui_token_equal(e->token, token))
			continue;
		if (expired(e, now_ms)) {
			explicit_bzero(e, sizeof(*e));
			break;
		}
		e->last_ms = now_ms;
		rd_strlcpy(ret_key_id, e->key_id, 129);
		memcpy(ret_csrf, e->csrf, UI_TOKEN_LEN + 1);
		r = 0;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void ui_session_close(struct ui_sessions *s, const char *token)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < UI_SESSIONS_MAX; i++)
		if (s->s[i].used && ui_token_equal(s->s[i].token, token))
			explicit_bzero(&s->s[i], sizeof(s->s[i]));
	pthread_mutex_unlock(&s->lock);
}

/* The entry of addr, or a free or stale one to reuse; never NULL. */
static struct failures *failures_of(struct ui_sessions *s, const char *addr, int64_t now_ms, bool create)
{
	struct failures *oldest = NULL;

	for (size_t i = 0; i < UI_SIGNIN_ADDRS; i++) {
		struct failures *f = &s->f[i];
		if (f->addr[0] && !strcmp(f->addr, addr)) {
			if (now_ms - f->window_start_ms > UI_SIGNIN_WINDOW_S * 1000LL) {
				f->n = 0;
				f->window_start_ms = now_ms;
			}
			return f;
		}
		if (!oldest || !f->addr[0] || (oldest->addr[0] && f->window_start_ms < oldest->window_start_ms))
			oldest = f;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	rd_strlcpy(oldest->addr, addr, sizeof(oldest->addr));
	oldest->window_start_ms = now_ms;
	return oldest;
}

int ui_signin_allowed(struct ui_sessions *s, const char *addr, int64_t now_ms, int *ret_wait_s)
{
	struct failures *f;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	f = failures_of(s, addr, now_ms, false);
	if (f && f->n >= UI_SIGNIN_FAILURES_MAX) {
		*ret_wait_s = (int)((f->window_start_ms + UI_SIGNIN_WINDOW_S * 1000LL - now_ms + 999) / 1000);
		if (*ret_wait_s < 1)
			*ret_wait_s = 1;
		r = -EAGAIN;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void ui_signin_failed(struct ui_sessions *s, const char *addr, int64_t now_ms)
{
	pthread_mutex_lock(&s->lock);
	failures_of(s, addr, now_ms, true)->n++;
	pthread_mutex_unlock(&s->lock);
}
