/* The access keys store_access_key_get() has opened, kept in memory with the
 * version of the row they were read from (store_internal.h says why and how
 * they stay right). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "strmap.h"
#include "util.h"

/* What is kept of a key: its row but last_used (which changes without a new
 * version and is read with the version), the applications only when it has
 * any (most keys are agents'). */
struct entry {
	char id[STORE_KEY_ID_LEN + 1];
	char secret[STORE_SECRET_LEN + 1];
	char old_secret[STORE_SECRET_LEN + 1]; /* "" = none */
	char name[129];
	char policy[16];
	char instance[129];
	char status[16];
	char *applications; /* NULL = "" */
	int64_t version, create_time, old_secret_expires, rotate_time;
	size_t ring; /* index in the cache's ring */
};

struct store_key_cache {
	pthread_mutex_t lock;
	struct rd_strmap by_id; /* id -> struct entry */
	struct entry **ring;	/* in the order they came in; NULL = free */
	size_t max, next;	/* next: the ring's oldest slot, replaced first */
	struct store_key_cache_stats stats;
};

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	if (e->applications) {
		explicit_bzero(e->applications, strlen(e->applications));
		free(e->applications);
	}
	explicit_bzero(e, sizeof(*e));
	free(e);
}

int store_key_cache_new(size_t max, struct store_key_cache **ret)
{
	struct store_key_cache *kc;

	if (max == 0)
		return -EINVAL;
	kc = calloc(1, sizeof(*kc));
	if (!kc)
		return -ENOMEM;
	kc->ring = calloc(max, sizeof(*kc->ring));
	if (!kc->ring) {
		free(kc);
		return -ENOMEM;
	}
	kc->max = max;
	pthread_mutex_init(&kc->lock, NULL);
	*ret = kc;
	return 0;
}

struct store_key_cache *store_key_cache_free(struct store_key_cache *kc)
{
	if (!kc)
		return NULL;
	for (size_t i = 0; i < kc->max; i++)
		entry_free(kc->ring[i]);
	rd_strmap_clear(&kc->by_id);
	free(kc->ring);
	pthread_mutex_destroy(&kc->lock);
	free(kc);
	return NULL;
}

/* With the lock held. */
static void drop_locked(struct store_key_cache *kc, const char *id)
{
	struct entry *e = rd_strmap_del(&kc->by_id, id);

	if (!e)
		return;
	kc->ring[e->ring] = NULL;
	entry_free(e);
	kc->stats.dropped++;
}

int store_key_cache_get(struct store_key_cache *kc, const char *id, int64_t version, int64_t now_ms,
			struct store_access_key *ret)
{
	struct entry *e;
	int r = -ENOENT;

	pthread_mutex_lock(&kc->lock);
	e = rd_strmap_get(&kc->by_id, id);
	if (e && e->version != version) {
		/* the row changed since it was opened */
		drop_locked(kc, id);
		e = NULL;
	}
	if (e) {
		memset(ret, 0, sizeof(*ret));
		memcpy(ret->id, e->id, sizeof(ret->id));
		memcpy(ret->secret, e->secret, sizeof(ret->secret));
		memcpy(ret->name, e->name, sizeof(ret->name));
		memcpy(ret->policy, e->policy, sizeof(ret->policy));
		memcpy(ret->instance, e->instance, sizeof(ret->instance));
		memcpy(ret->status, e->status, sizeof(ret->status));
		rd_strlcpy(ret->applications, e->applications ? e->applications : "", sizeof(ret->applications));
		ret->create_time = e->create_time;
		ret->rotate_time = e->rotate_time;
		/* as SQL_KEY_COLUMNS decides it, at now_ms */
		ret->rotating = e->old_secret[0] && (e->old_secret_expires == 0 || e->old_secret_expires > now_ms);
		if (ret->rotating) {
			memcpy(ret->old_secret, e->old_secret, sizeof(ret->old_secret));
			ret->old_secret_expires = e->old_secret_expires;
		}
		kc->stats.hits++;
		r = 0;
	} else
		kc->stats.misses++;
	pthread_mutex_unlock(&kc->lock);
	return r;
}

int store_key_cache_put(struct store_key_cache *kc, const struct store_access_key *k, int64_t version)
{
	struct entry *e = calloc(1, sizeof(*e));
	struct entry *old;
	int r;

	if (!e)
		return -ENOMEM;
	memcpy(e->id, k->id, sizeof(e->id));
	memcpy(e->secret, k->secret, sizeof(e->secret));
	if (k->rotating)
		memcpy(e->old_secret, k->old_secret, sizeof(e->old_secret));
	memcpy(e->name, k->name, sizeof(e->name));
	memcpy(e->policy, k->policy, sizeof(e->policy));
	memcpy(e->instance, k->instance, sizeof(e->instance));
	memcpy(e->status, k->status, sizeof(e->status));
	if (k->applications[0] && !(e->applications = strdup(k->applications))) {
		entry_free(e);
		return -ENOMEM;
	}
	e->version = version;
	e->create_time = k->create_time;
	e->old_secret_expires = k->rotating ? k->old_secret_expires : 0;
	e->rotate_time = k->rotate_time;

	pthread_mutex_lock(&kc->lock);
	drop_locked(kc, e->id);
	old = kc->ring[kc->next];
	if (old) {
		/* full: the oldest key makes room */
		rd_strmap_del(&kc->by_id, old->id);
		entry_free(old);
		kc->ring[kc->next] = NULL;
		kc->stats.evicted++;
	}
	r = rd_strmap_put(&kc->by_id, e->id, e);
	if (r == 0) {
		e->ring = kc->next;
		kc->ring[kc->next] = e;
		kc->next = (kc->next + 1) % kc->max;
		kc->stats.opened++;
	}
	pthread_mutex_unlock(&kc->lock);
	if (r < 0)
		entry_free(e);
	return r;
}

void store_key_cache_drop(struct store_key_cache *kc, const char *id)
{
	pthread_mutex_lock(&kc->lock);
	drop_locked(kc, id);
	pthread_mutex_unlock(&kc->lock);
}

void store_key_cache_stats(struct store_key_cache *kc, struct store_key_cache_stats *ret)
{
	pthread_mutex_lock(&kc->lock);
	*ret = kc->stats;
	ret->entries = rd_strmap_size(&kc->by_id);
	pthread_mutex_unlock(&kc->lock);
}
