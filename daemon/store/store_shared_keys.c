/* What the daemons of a cluster must hold alike, recorded in meta under
 * "cluster.*" by the first daemon that starts on the database
 * (daemon/shared_keys.c says which). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

int store_shared_key_claim(struct store *st, const char *name, const char *value, char **ret)
{
	struct store_conn *c;
	struct store_q q;
	char key[128];
	int r;

	if (strlen(name) > 100)
		return -EINVAL;
	snprintf(key, sizeof(key), "cluster.%s", name);
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	/* first writer wins, in one transaction under the write lock */
	r = store_tx_begin(c);
	if (r < 0)
		goto out;
	if (value)
		r = store_run(c, "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
			      SQL_TEXT(key), SQL_TEXT(value));
	if (r == 0)
		r = store_one(c, &q, "SELECT value FROM meta WHERE key = ?1", SQL_TEXT(key));
	if (r == 0) {
		r = store_dup(&q, 0, ret);
		store_done(&q, 0);
	}
	if (r == 0)
		r = store_tx_commit(c);
	else
		store_tx_rollback(c);
out:
	store_conn_put(st, c);
	return r;
}
