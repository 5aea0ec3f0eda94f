/* The failed-signature limit: how many requests from one source address
 * failed authentication in the current minute. Past the configured number
 * the address is answered ThrottlingException, before any signature is
 * checked, until its minute ends: guessing secrets or replaying tampered
 * requests costs a minute per few dozen tries, and the verifier's work
 * (a key lookup and HMACs per request) is not spent on such a client.
 *
 * A small table of the addresses seen last; when full, the entry whose
 * minute is oldest makes room, so that a flood from many addresses cannot
 * grow memory. Runs on workpool threads: one lock. Every signed request
 * looks its address up, so the table is filled from its start and a lookup
 * reads only the slots in use: none while no signature has failed, instead
 * of all 1,024 (64 KB under the lock on every agent call). */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/httpd_internal.h"
#include "util.h"

#define SLOTS 1024
#define WINDOW_MS 60000

struct slot {
	char addr[64];
	int64_t start_ms; /* the slot's minute began here */
	int failures;
};

struct httpd_limit {
	pthread_mutex_t lock;
	int per_minute; /* 0: no limit */
	size_t used;	/* slots[0..used) hold addresses; slots are never emptied */
	struct slot slots[SLOTS];
};

struct httpd_limit *httpd_limit_new(int failed_auth_per_minute)
{
	struct httpd_limit *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	pthread_mutex_init(&l->lock, NULL);
	l->per_minute = failed_auth_per_minute;
	return l;
}

struct httpd_limit *httpd_limit_free(struct httpd_limit *l)
{
	if (l) {
		pthread_mutex_destroy(&l->lock);
		free(l);
	}
	return NULL;
}

/* The slot of addr, or NULL (lock held). */
static struct slot *find(struct httpd_limit *l, const char *addr, int64_t now)
{
	for (size_t i = 0; i < l->used; i++) {
		struct slot *s = &l->slots[i];
		if (strcmp(s->addr, addr) == 0) {
			if (now - s->start_ms >= WINDOW_MS) {
				s->start_ms = now;
				s->failures = 0;
			}
			return s;
		}
	}
	return NULL;
}

int httpd_limit_wait_ms(struct httpd_limit *l, const char *addr)
{
	int64_t now = rd_mono_ms(), wait = 0;
	struct slot *s;

	if (!l || l->per_minute <= 0 || !addr || !addr[0])
		return 0;
	pthread_mutex_lock(&l->lock);
	s = find(l, addr, now);
	if (s && s->failures >= l->per_minute)
		wait = WINDOW_MS - (now - s->start_ms);
	pthread_mutex_unlock(&l->lock);
	return wait > 0 ? (int)wait : 0;
}

void httpd_limit_failed(struct httpd_limit *l, const char *addr)
{
	int64_t now = rd_mono_ms();
	struct slot *s;

	if (!l || l->per_minute <= 0 || !addr || !addr[0])
		return;
	pthread_mutex_lock(&l->lock);
	s = find(l, addr, now);
	if (!s) {
		if (l->used < SLOTS) {
			s = &l->slots[l->used++];
		} else {
			s = &l->slots[0];
			for (size_t i = 1; i < SLOTS; i++)
				if (l->slots[i].start_ms < s->start_ms)
					s = &l->slots[i];
		}
		rd_strlcpy(s->addr, addr, sizeof(s->addr));
		s->start_ms = now;
		s->failures = 0;
	}
	s->failures++;
	pthread_mutex_unlock(&l->lock);
}
