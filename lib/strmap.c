/* A hash map from strings to pointers; see strmap.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

#define MIN_CAP 16

uint64_t rd_strmap_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	/* FNV-1a leaves the low bits of similar keys (host-0001, host-0002)
	 * close together; the slot is taken from the low bits, so mix them
	 * (the finaliser of MurmurHash3). */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t probe(const struct rd_strmap *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1, i = (size_t)h & mask;

	while (m->slot[i].key && (m->slot[i].hash != h || strcmp(m->slot[i].key, key) != 0))
		i = (i + 1) & mask;
	return i;
}

static int grow(struct rd_strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : MIN_CAP;
	struct rd_strmap_slot *v;

	if (cap < m->cap || cap > SIZE_MAX / sizeof(*v))
		return -ENOMEM;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		const struct rd_strmap_slot *s = &m->slot[i];
		size_t j;

		if (!s->key)
			continue;
		for (j = (size_t)s->hash & (cap - 1); v[j].key; j = (j + 1) & (cap - 1))
			;
		v[j] = *s;
	}
	free(m->slot);
	m->slot = v;
	m->cap = cap;
	return 0;
}

void *rd_strmap_get(const struct rd_strmap *m, const char *key)
{
	if (!m->n)
		return NULL;
	return m->slot[probe(m, key, rd_strmap_hash(key))].val;
}

static int insert(struct rd_strmap *m, const char *key, void *val, bool replace)
{
	uint64_t h = rd_strmap_hash(key);
	size_t i;

	if (m->cap) {
		i = probe(m, key, h);
		if (m->slot[i].key) {
			if (!replace)
				return -EEXIST;
			m->slot[i].key = key;
			m->slot[i].val = val;
			return 0;
		}
	}
	/* a new entry: keep the table at most 3/4 full */
	if ((m->n + 1) * 4 > m->cap * 3 && grow(m) < 0)
		return -ENOMEM;
	i = probe(m, key, h);
	m->slot[i] = (struct rd_strmap_slot){.key = key, .val = val, .hash = h};
	m->n++;
	return 0;
}

int rd_strmap_put(struct rd_strmap *m, const char *key, void *val)
{
	return insert(m, key, val, true);
}

int rd_strmap_add(struct rd_strmap *m, const char *key, void *val)
{
	return insert(m, key, val, false);
}

void *rd_strmap_del(struct rd_strmap *m, const char *key)
{
	size_t mask, i, j;
	void *val;

	if (!m->n)
		return NULL;
	mask = m->cap - 1;
	i = probe(m, key, rd_strmap_hash(key));
	if (!m->slot[i].key)
		return NULL;
	val = m->slot[i].val;
	/* Backward shift: move each later entry of the run into the hole
	 * unless its home slot lies cyclically in (hole, entry], where a probe
	 * from home would no longer pass the hole. */
	for (j = (i + 1) & mask; m->slot[j].key; j = (j + 1) & mask) {
		size_t home = (size_t)m->slot[j].hash & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slot[i] = m->slot[j];
			i = j;
		}
	}
	m->slot[i] = (struct rd_strmap_slot){0};
	m->n--;
	return val;
}

void rd_strmap_clear(struct rd_strmap *m)
{
	free(m->slot);
	*m = (struct rd_strmap)RD_STRMAP_INIT;
}

bool rd_strmap_next(const struct rd_strmap *m, size_t *iter, const char **ret_key, void **ret_val)
{
	for (; *iter < m->cap; (*iter)++) {
		const struct rd_strmap_slot *s = &m->slot[*iter];

		if (s->key) {
			(*iter)++;
			if (ret_key)
				*ret_key = s->key;
			if (ret_val)
				*ret_val = s->val;
			return true;
		}
	}
	return false;
}
