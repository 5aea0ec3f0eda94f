/* A hash map from strings to pointers, for lookups on hot paths (the
 * engine's hosts by name, deployments by id, targets by instance).
 *
 * Open addressing with linear probing and backward-shift deletion, so there
 * are no tombstones and a lookup stops at the first empty slot; the table is
 * a power of two kept at most 3/4 full and doubles when it would be fuller.
 * Each slot keeps the key's hash, so a probe compares strings only when the
 * hashes are equal.
 *
 * Keys are borrowed: a key must stay valid and unchanged while its entry is
 * in the map (it usually points into the value). Not thread-safe. Library
 * code: never logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rd_strmap_slot {
	const char *key; /* NULL: empty */
	void *val;
	uint64_t hash;
};

struct rd_strmap {
	struct rd_strmap_slot *slot;
	size_t cap; /* 0 or a power of two */
	size_t n;
};

#define RD_STRMAP_INIT                                                                                                 \
	{                                                                                                              \
		0                                                                                                      \
	}

/* The value of key, or NULL. */
void *rd_strmap_get(const struct rd_strmap *m, const char *key);

/* Sets key to val (replacing the key pointer and the value when key is
 * there). 0, or -ENOMEM (the map is unchanged). */
int rd_strmap_put(struct rd_strmap *m, const char *key, void *val);

/* Adds key unless it is there: 0, -EEXIST (the map is unchanged), or
 * -ENOMEM. */
int rd_strmap_add(struct rd_strmap *m, const char *key, void *val);

/* Removes key; returns its value, or NULL when it was not there. */
void *rd_strmap_del(struct rd_strmap *m, const char *key);

/* Removes every entry and frees the table (the values are the caller's). */
void rd_strmap_clear(struct rd_strmap *m);

static inline size_t rd_strmap_size(const struct rd_strmap *m)
{
	return m->n;
}

/* Iteration in table order: start with *iter = 0; true with the next entry
 * while there is one. The map must not change during an iteration (a
 * removal moves entries back): collect what to remove, then remove it. */
bool rd_strmap_next(const struct rd_strmap *m, size_t *iter, const char **ret_key, void **ret_val);

/* The hash the map uses (64-bit FNV-1a with a final mix of the bits). */
uint64_t rd_strmap_hash(const char *s);
