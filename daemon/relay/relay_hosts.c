/* The host -> driving daemon map; see relay_hosts.h. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "relay/relay_hosts.h"
#include "strmap.h"
#include "util.h"

struct entry {
	int64_t until;
	char *url;
	char host[]; /* the map's key */
};

struct relay_hosts {
	pthread_mutex_t lock;
	struct rd_strmap map;
	size_t max;
};

struct relay_hosts *relay_hosts_new(size_t max)
{
	struct relay_hosts *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->map = (struct rd_strmap)RD_STRMAP_INIT;
	m->max = max;
	return m;
}

static void entry_free(struct entry *e)
{
	if (e)
		free(e->url);
	free(e);
}

struct relay_hosts *relay_hosts_free(struct relay_hosts *m)
{
	size_t it = 0;
	void *v;

	if (!m)
		return NULL;
	while (rd_strmap_next(&m->map, &it, NULL, &v))
		entry_free(v);
	rd_strmap_clear(&m->map);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return NULL;
}

/* Removes expired entries (the map must not change while iterated:
 * collect, then remove). */
static void sweep(struct relay_hosts *m, int64_t now_ms)
{
	struct entry **dead = calloc(rd_strmap_size(&m->map) + 1, sizeof(*dead));
	size_t it = 0, n = 0;
	void *v;

	if (!dead)
		return;
	while (rd_strmap_next(&m->map, &it, NULL, &v))
		if (((struct entry *)v)->until <= now_ms)
			dead[n++] = v;
	for (size_t i = 0; i < n; i++) {
		rd_strmap_del(&m->map, dead[i]->host);
		entry_free(dead[i]);
	}
	free(dead);
}

void relay_hosts_put(struct relay_hosts *m, const char *host, const char *url, int64_t now_ms, int64_t ttl_ms)
{
	struct entry *e;
	size_t hl = strlen(host);
	char *u;

	pthread_mutex_lock(&m->lock);
	e = rd_strmap_get(&m->map, host);
	if (e) {
		if (strcmp(e->url, url) != 0 && (u = strdup(url))) {
			free(e->url);
			e->url = u;
		}
		e->until = now_ms + ttl_ms;
		goto out;
	}
	if (rd_strmap_size(&m->map) >= m->max)
		sweep(m, now_ms);
	if (rd_strmap_size(&m->map) >= m->max)
		goto out;
	e = calloc(1, sizeof(*e) + hl + 1);
	if (!e)
		goto out;
	memcpy(e->host, host, hl + 1);
	e->url = strdup(url);
	e->until = now_ms + ttl_ms;
	if (!e->url || rd_strmap_add(&m->map, e->host, e) < 0)
		entry_free(e);
out:
	pthread_mutex_unlock(&m->lock);
}

int relay_hosts_get(struct relay_hosts *m, const char *host, int64_t now_ms, char *url, size_t len)
{
	struct entry *e;
	int r = -ENOENT;

	pthread_mutex_lock(&m->lock);
	e = rd_strmap_get(&m->map, host);
	if (e && e->until > now_ms && strlen(e->url) < len) {
		memcpy(url, e->url, strlen(e->url) + 1);
		r = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

void relay_hosts_forget(struct relay_hosts *m, const char *host, const char *url)
{
	struct entry *e;

	pthread_mutex_lock(&m->lock);
	e = rd_strmap_get(&m->map, host);
	if (e && strcmp(e->url, url) == 0) {
		rd_strmap_del(&m->map, host);
		entry_free(e);
	}
	pthread_mutex_unlock(&m->lock);
}

size_t relay_hosts_size(struct relay_hosts *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = rd_strmap_size(&m->map);
	pthread_mutex_unlock(&m->lock);
	return n;
}
