/* Access keys: the SigV4 credentials rolloutd accepts (table access_keys).
 * Secrets are stored sealed under the key-encryption key (auth/auth_secret.h)
 * and opened only by store_access_key_get(), which keeps the keys it opened
 * while their rows' versions stay the same (store_key_cache.c). */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_secret.h"
#include "core/error.h"
#include "store/store_hot.h"
#include "store/store_internal.h"
#include "cryptoutil.h"
#include "util.h"

#define ERR(...) (err && errlen ? (void)snprintf(err, errlen, __VA_ARGS__) : (void)0)
#define MAX_SCOPE 32

static const char secret_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool store_policy_valid(const char *p)
{
	return p && (!strcmp(p, "admin") || !strcmp(p, "deployer") || !strcmp(p, "readonly") || !strcmp(p, "agent") ||
		     !strcmp(p, "enroll"));
}

bool store_ec2_instance_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 10 || n > 19 || strncmp(s, "i-", 2) != 0)
		return false;
	for (size_t i = 2; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

bool store_enroll_scope_valid(const char *s)
{
	const char *eq;

	if (!s)
		return false;
	if (!strncmp(s, "asg:", 4))
		return s[4] != '\0';
	if (!strncmp(s, "tag:", 4)) {
		eq = strchr(s + 4, '=');
		return eq && eq > s + 4;
	}
	return false;
}

/* Seals the rows an older rolloutd left in the clear. secure_delete zeroes
 * what the update frees, and the checkpoint writes the new pages over the
 * old ones in state.db, so the old bytes leave the file. */
static int seal_legacy(struct store *st, struct rd_error *err)
{
	struct store_conn *c;
	struct store_q q;
	char sealed[AUTH_SEALED_MAX];
	size_t n = 0;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	/* SQLite overwrites what it deletes and truncates its WAL so no secret in
	 * the clear stays in the file; a PostgreSQL store never held one (it was
	 * created sealing) */
	r = store_is_pg(c) ? 0 : store_exec(c, "PRAGMA secure_delete = ON");
	if (r == 0)
		r = store_tx_begin(c);
	if (r < 0)
		goto out;
	r = store_one(c, &q,
		      "SELECT count(*) FROM access_keys WHERE secret NOT LIKE 'rdk1:%'"
		      " OR (old_secret IS NOT NULL AND old_secret NOT LIKE 'rdk1:%')");
	if (r == 0) {
		n = (size_t)store_int(&q, 0);
		store_done(&q, 0);
	}
	if (r == 0 && n > 0) {
		/* one key at a time: the statement above is done before writing */
		for (;;) {
			char id[STORE_KEY_ID_LEN + 1], sec[STORE_SECRET_LEN + 1];
			r = store_one(c, &q,
				      "SELECT id, secret FROM access_keys WHERE secret NOT LIKE 'rdk1:%' LIMIT 1");
			if (r == -ENOENT) {
				r = 0;
				break;
			}
			if (r < 0)
				break;
			store_copy(&q, 0, id, sizeof(id));
			store_copy(&q, 1, sec, sizeof(sec));
			store_done(&q, 0);
			r = auth_secret_seal(st->kek, id, sec, sealed, sizeof(sealed));
			explicit_bzero(sec, sizeof(sec));
			if (r == 0)
				r = store_run(c, "UPDATE access_keys SET secret = ?2 WHERE id = ?1", SQL_TEXT(id),
					      SQL_TEXT(sealed));
			if (r < 0)
				break;
		}
		/* a previous secret in the clear cannot exist (rotation came with
		 * sealing), but do not leave one behind if it does */
		if (r == 0)
			r = store_run(c, "UPDATE access_keys SET old_secret = NULL, old_secret_expires = NULL"
					 " WHERE old_secret IS NOT NULL AND old_secret NOT LIKE 'rdk1:%'");
	}
	if (r == 0)
		r = store_tx_commit(c);
	else
		store_tx_rollback(c);
	if (r == 0 && n > 0 && !store_is_pg(c))
		r = store_exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
out:
	if (r < 0)
		rd_error_set(err, r, "InternalFailure", "cannot seal the access-key secrets stored in the clear: %s",
			     store_errmsg(c));
	if (!store_is_pg(c))
		store_exec(c, "PRAGMA secure_delete = OFF");
	store_conn_put(st, c);
	return r;
}

int store_set_kek(struct store *st, const struct auth_kek *kek, struct rd_error *err)
{
	struct store_key_cache *keys;
	int r = store_key_cache_new(STORE_KEY_CACHE_MAX, &keys);

	if (r < 0)
		return rd_error_set(err, r, "InternalFailure", "cannot keep access keys in memory: %s", strerror(-r));
	store_key_cache_free(st->keys);
	st->keys = keys;
	st->kek = kek;
	return seal_legacy(st, err);
}

/* applications: NULL, or a JSON array of 1 to MAX_SCOPE application names
 * or fnmatch patterns. *ret: malloc'd compact JSON or NULL. */
static int scope_text(const json_t *apps, char **ret, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	*ret = NULL;
	if (!apps || json_is_null(apps))
		return 0;
	if (!json_is_array(apps) || json_array_size(apps) == 0 || json_array_size(apps) > MAX_SCOPE) {
		ERR("applications: give a list of 1 to %d application names (or patterns such as web-*)", MAX_SCOPE);
		return -EINVAL;
	}
	json_array_foreach(apps, i, v)
	{
		const char *s = json_string_value(v);
		if (!s || !*s || strlen(s) > 100) {
			ERR("applications[%zu]: an application name of 1 to 100 characters", i);
			return -EINVAL;
		}
	}
	*ret = json_dumps(apps, JSON_COMPACT);
	if (!*ret)
		return -ENOMEM;
	if (strlen(*ret) >= sizeof(((struct store_access_key *)0)->applications)) {
		free(*ret);
		*ret = NULL;
		ERR("applications: the list is too long");
		return -EINVAL;
	}
	return 0;
}

int store_access_key_create_scoped(struct store *st, const char *name, const char *policy, const char *instance,
				   const json_t *applications, struct store_access_key *ret, char *err, size_t errlen)
{
	struct store_access_key k;
	struct store_conn *c = NULL;
	char sealed[AUTH_SEALED_MAX], *scope = NULL;
	int r;

	if (!st->kek) {
		ERR("no key-encryption key: cannot store a secret");
		return -ENOKEY;
	}
	if (!name || !*name || strlen(name) >= sizeof(k.name)) {
		ERR("an access key needs a name of 1 to %zu characters", sizeof(k.name) - 1);
		return -EINVAL;
	}
	if (!store_policy_valid(policy)) {
		ERR("unknown policy '%s': use admin, deployer, readonly, agent or enroll", policy ? policy : "");
		return -EINVAL;
	}
	if (!strcmp(policy, "enroll")) {
		/* The scope travels in the instance column: an enroll key is
		 * bound to a fleet, not to one instance. */
		if (!store_enroll_scope_valid(instance)) {
			ERR("an enroll key needs a scope: asg:AUTO_SCALING_GROUP or tag:KEY=VALUE (got '%s')",
			    instance ? instance : "");
			return -EINVAL;
		}
	} else if ((strcmp(policy, "agent") == 0) != (instance && *instance)) {
		ERR("%s", !strcmp(policy, "agent")
			      ? "an agent key must be bound to an instance: give its on-premises instance name or "
				"its EC2 instance id (i-...)"
			      : "only agent and enroll keys are bound to an instance or scope; drop it");
		return -EINVAL;
	}
	if (instance && strlen(instance) >= sizeof(k.instance)) {
		ERR("instance name too long (at most %zu characters)", sizeof(k.instance) - 1);
		return -EINVAL;
	}
	if (applications && !json_is_null(applications) && (!strcmp(policy, "agent") || !strcmp(policy, "enroll"))) {
		ERR("an %s key is bound to its instance or fleet; application scopes are for admin, deployer and "
		    "readonly keys",
		    policy);
		return -EINVAL;
	}
	r = scope_text(applications, &scope, err, errlen);
	if (r < 0)
		return r;
	memset(&k, 0, sizeof(k));
	memcpy(k.id, "AKRD", 4);
	r = rd_random_string(k.id + 4, STORE_KEY_ID_LEN - 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
	if (r == 0)
		r = rd_random_string(k.secret, STORE_SECRET_LEN, secret_alphabet);
	if (r == 0)
		r = auth_secret_seal(st->kek, k.id, k.secret, sealed, sizeof(sealed));
	if (r < 0) {
		ERR("cannot make a secret: %s", strerror(-r));
		goto out;
	}
	rd_strlcpy(k.name, name, sizeof(k.name));
	rd_strlcpy(k.policy, policy, sizeof(k.policy));
	rd_strlcpy(k.instance, instance ? instance : "", sizeof(k.instance));
	rd_strlcpy(k.status, "Active", sizeof(k.status));
	rd_strlcpy(k.applications, scope ? scope : "", sizeof(k.applications));
	k.create_time = rd_wall_ms();

	r = store_conn_get(st, &c);
	if (r < 0)
		goto out;
	r = store_run(c,
		      "INSERT INTO access_keys (id, secret, name, policy, instance, create_time, applications)"
		      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		      SQL_TEXT(k.id), SQL_TEXT(sealed), SQL_TEXT(k.name), SQL_TEXT(k.policy),
		      SQL_TEXT(k.instance[0] ? k.instance : NULL), SQL_INT(k.create_time), SQL_TEXT(scope));
	if (r < 0)
		ERR("cannot store the access key: %s", store_errmsg(c));
	store_conn_put(st, c);
	if (r == 0)
		*ret = k;
out:
	explicit_bzero(&k, sizeof(k));
	free(scope);
	return r;
}

int store_access_key_create(struct store *st, const char *name, const char *policy, const char *instance,
			    struct store_access_key *ret, char *err, size_t errlen)
{
	return store_access_key_create_scoped(st, name, policy, instance, NULL, ret, err, errlen);
}

#define KEY_COLUMNS SQL_KEY_COLUMNS

static void key_row(struct store_q *q, struct store_access_key *k)
{
	memset(k, 0, sizeof(*k));
	store_copy(q, 0, k->id, sizeof(k->id));
	store_copy(q, 1, k->name, sizeof(k->name));
	store_copy(q, 2, k->policy, sizeof(k->policy));
	store_copy(q, 3, k->instance, sizeof(k->instance));
	k->create_time = store_int(q, 4);
	store_copy(q, 5, k->status, sizeof(k->status));
	store_copy(q, 6, k->applications, sizeof(k->applications));
	k->last_used = store_int(q, 7);
	k->rotating = store_int(q, 8) != 0;
	k->old_secret_expires = k->rotating ? store_int(q, 9) : 0;
	k->rotate_time = store_int(q, 10);
}

int store_access_key_get(struct store *st, const char *id, struct store_access_key *ret)
{
	struct store_conn *c;
	struct store_q q;
	char sealed[AUTH_SEALED_MAX], old[AUTH_SEALED_MAX];
	int64_t now = rd_wall_ms(), version = 0, last_used = 0;
	int r;

	if (!st->kek)
		return -ENOKEY;
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	/* the key as it was opened, if its row has not changed since; an id
	 * without a row costs this one read and nothing else */
	r = store_one(c, &q, SQL_ACCESS_KEY_VERSION, SQL_TEXT(id));
	if (r == 0) {
		version = store_int(&q, 0);
		last_used = store_int(&q, 1);
		store_done(&q, 0);
		if (store_key_cache_get(st->keys, id, version, now, ret) == 0) {
			ret->last_used = last_used;
			goto out;
		}
	} else if (r == -ENOENT)
		store_key_cache_drop(st->keys, id);
	if (r < 0)
		goto out;
	/* ?1: the time the previous secret is compared with (KEY_COLUMNS) */
	r = store_one(c, &q, SQL_ACCESS_KEY_GET, SQL_INT(now), SQL_TEXT(id));
	if (r == 0) {
		key_row(&q, ret);
		store_copy(&q, 11, sealed, sizeof(sealed));
		store_copy(&q, 12, old, sizeof(old));
		version = store_int(&q, 13);
		store_done(&q, 0);
		r = auth_secret_open(st->kek, ret->id, sealed, ret->secret, sizeof(ret->secret));
		if (r == 0 && ret->rotating)
			r = auth_secret_open(st->kek, ret->id, old, ret->old_secret, sizeof(ret->old_secret));
		if (r < 0)
			explicit_bzero(ret, sizeof(*ret));
		/* not kept when memory is short: it is opened again next time */
		if (r == 0)
			(void)store_key_cache_put(st->keys, ret, version);
	}
out:
	store_conn_put(st, c);
	return r;
}

int store_access_key_list(struct store *st, struct store_access_key **ret, size_t *ret_n)
{
	struct store_access_key *v = NULL;
	struct store_conn *c;
	struct store_q q;
	size_t n = 0;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_query(c, &q, "SELECT " KEY_COLUMNS " FROM access_keys ORDER BY id", SQL_INT(rd_wall_ms()));
	while (r == 0 && store_next(&q)) {
		struct store_access_key *nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			r = -ENOMEM;
			break;
		}
		v = nv;
		key_row(&q, &v[n++]);
	}
	r = store_done(&q, r);
	store_conn_put(st, c);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int store_access_key_delete(struct store *st, const char *id)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_run(c, "DELETE FROM access_keys WHERE id = ?1", SQL_TEXT(id));
	if (r == 0 && store_changes(c) == 0)
		r = -ENOENT;
	store_conn_put(st, c);
	/* its secrets need not wait for the next request to be zeroed */
	if (st->keys)
		store_key_cache_drop(st->keys, id);
	return r;
}

int store_access_key_set_status(struct store *st, const char *id, const char *status)
{
	struct store_conn *c;
	int r;

	if (!status || (strcmp(status, "Active") != 0 && strcmp(status, "Inactive") != 0))
		return -EINVAL;
	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_run(c, "UPDATE access_keys SET status = ?2 WHERE id = ?1", SQL_TEXT(id), SQL_TEXT(status));
	if (r == 0 && store_changes(c) == 0)
		r = -ENOENT;
	store_conn_put(st, c);
	return r;
}

int store_access_key_set_applications(struct store *st, const char *id, const json_t *applications, char *err,
				      size_t errlen)
{
	struct store_conn *c;
	struct store_q q;
	char *scope = NULL;
	int r = scope_text(applications, &scope, err, errlen);

	if (r < 0)
		return r;
	r = store_conn_get(st, &c);
	if (r < 0) {
		free(scope);
		return r;
	}
	r = store_one(c, &q, "SELECT policy FROM access_keys WHERE id = ?1", SQL_TEXT(id));
	if (r == 0) {
		const char *policy = store_text(&q, 0) ?: "";
		bool bound = !strcmp(policy, "agent") || !strcmp(policy, "enroll");
		store_done(&q, 0);
		if (bound && scope) {
			ERR("an agent or enroll key is bound to its instance or fleet; application scopes are for "
			    "admin, deployer and readonly keys");
			r = -EINVAL;
		}
	}
	if (r == 0)
		r = store_run(c, "UPDATE access_keys SET applications = ?2 WHERE id = ?1", SQL_TEXT(id),
			      SQL_TEXT(scope));
	if (r == -ENOENT)
		ERR("no access key %s (see ListAccessKeys)", id);
	store_conn_put(st, c);
	free(scope);
	return r;
}

int store_access_key_rotate(struct store *st, const char *id, int64_t retire_after_ms, struct store_access_key *ret)
{
	struct store_conn *c;
	struct store_q q;
	char sealed[AUTH_SEALED_MAX], secret[STORE_SECRET_LEN + 1];
	int64_t now = rd_wall_ms();
	int r;

	if (!st->kek)
		return -ENOKEY;
	r = rd_random_string(secret, STORE_SECRET_LEN, secret_alphabet);
	if (r == 0)
		r = auth_secret_seal(st->kek, id, secret, sealed, sizeof(sealed));
	if (r < 0)
		return r;
	r = store_conn_get(st, &c);
	if (r < 0)
		goto out;
	r = store_tx_begin(c);
	if (r < 0) {
		store_conn_put(st, c);
		goto out;
	}
	r = store_one(c, &q,
		      "SELECT old_secret IS NOT NULL AND (old_secret_expires IS NULL OR old_secret_expires > ?2)"
		      " FROM access_keys WHERE id = ?1",
		      SQL_TEXT(id), SQL_INT(now));
	if (r == 0) {
		bool busy = store_int(&q, 0) != 0;
		store_done(&q, 0);
		if (busy)
			r = -EBUSY;
	}
	if (r == 0)
		r = store_run(c,
			      "UPDATE access_keys SET old_secret = secret, secret = ?2, old_secret_expires = ?3,"
			      " rotate_time = ?4 WHERE id = ?1",
			      SQL_TEXT(id), SQL_TEXT(sealed),
			      retire_after_ms > 0 ? SQL_INT(now + retire_after_ms) : SQL_NULL, SQL_INT(now));
	if (r == 0)
		r = store_tx_commit(c);
	else
		store_tx_rollback(c);
	store_conn_put(st, c);
	if (r == 0) {
		r = store_access_key_get(st, id, ret);
		if (r == 0)
			/* the caller gets the new secret only */
			explicit_bzero(ret->old_secret, sizeof(ret->old_secret));
	}
out:
	explicit_bzero(secret, sizeof(secret));
	return r;
}

int store_access_key_retire(struct store *st, const char *id)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_one(c, &q, "SELECT old_secret IS NOT NULL FROM access_keys WHERE id = ?1", SQL_TEXT(id));
	if (r == 0) {
		bool rotating = store_int(&q, 0) != 0;
		store_done(&q, 0);
		if (!rotating)
			r = -EALREADY;
	}
	if (r == 0)
		r = store_run(c, "UPDATE access_keys SET old_secret = NULL, old_secret_expires = NULL WHERE id = ?1",
			      SQL_TEXT(id));
	store_conn_put(st, c);
	return r;
}

int store_access_key_touch(struct store *st, const char *id, int64_t when_ms)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_run(c, SQL_ACCESS_KEY_TOUCH, SQL_TEXT(id), SQL_INT(when_ms));
	store_conn_put(st, c);
	return r;
}

int store_access_keys_touch(struct store *st, const json_t *uses)
{
	struct store_conn *c;
	const char *id;
	json_t *v;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	if (r == 0) {
		json_object_foreach((json_t *)uses, id, v)
		{
			r = store_run(c, SQL_ACCESS_KEY_TOUCH, SQL_TEXT(id), SQL_INT(json_integer_value(v)));
			if (r < 0)
				break;
		}
		if (r == 0)
			r = store_tx_commit(c);
		else
			store_tx_rollback(c);
	}
	store_conn_put(st, c);
	return r;
}

int store_access_key_count_sealed(struct store *st, int64_t *ret_n)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_one(c, &q, "SELECT count(*) FROM access_keys WHERE secret LIKE 'rdk1:%'");
	if (r == 0) {
		*ret_n = store_int(&q, 0);
		store_done(&q, 0);
	}
	store_conn_put(st, c);
	return r;
}

int store_access_key_revoke_instance(struct store *st, const char *instance, int *ret_n)
{
	struct store_conn *c;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_run(c, "DELETE FROM access_keys WHERE policy = 'agent' AND instance = ?1", SQL_TEXT(instance));
	if (r == 0 && ret_n)
		*ret_n = (int)store_changes(c);
	store_conn_put(st, c);
	return r;
}
