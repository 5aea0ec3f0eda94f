/* The store: SQLite in <data_dir>/state.db (WAL, synchronous=FULL), the only
 * module with SQL. Schema migrations (store_migrations.c) are applied by
 * store_open(). All functions are thread-safe and may block on disk: call
 * them from workpool threads or main, never from the I/O thread.
 *
 * Conventions: 0 or negative errno; -ENOENT "no such row", -EEXIST
 * "already exists"; ret_ parameters written only on success; json_t results
 * are new references owned by the caller. Times are epoch milliseconds.
 *
 * Nested CodeDeploy documents are validated by the API layer and stored as
 * JSON text next to indexed columns. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;

/* Opens (creating with mode 0600) dir/state.db and migrates it. */
int store_open(const char *data_dir, struct store **ret, char *err, size_t errlen);
struct store *store_close(struct store *st);
/* Highest applied migration version. */
int store_schema_version(struct store *st, int *ret_version);

/* ---- access keys (SigV4 credentials) ---- */
#define STORE_KEY_ID_LEN 20
#define STORE_SECRET_LEN 40

struct store_access_key {
	char id[STORE_KEY_ID_LEN + 1];
	char secret[STORE_SECRET_LEN + 1];
	char name[129];
	char policy[16];   /* admin | deployer | readonly | agent */
	char instance[129]; /* bound instance name (agent), "" when none */
	int64_t create_time;
};

bool store_policy_valid(const char *policy);
/* Mints a new key; -EINVAL for an unknown policy or an agent key without
 * instance (message in err). */
int store_access_key_create(struct store *st, const char *name, const char *policy, const char *instance,
			    struct store_access_key *ret, char *err, size_t errlen);
int store_access_key_get(struct store *st, const char *id, struct store_access_key *ret);
/* [{AccessKeyId, Name, Policy, InstanceName?, CreateTime(seconds)}] ordered by id, no secrets. */
int store_access_key_list(struct store *st, json_t **ret);
int store_access_key_delete(struct store *st, const char *id);
