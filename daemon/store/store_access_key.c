/* Access keys: the SigV4 credentials rolloutd accepts (table access_keys). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util.h"

#define ERR(...) (err && errlen ? (void)snprintf(err, errlen, __VA_ARGS__) : (void)0)

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

int store_access_key_create(struct store *st, const char *name, const char *policy, const char *instance,
			    struct store_access_key *ret, char *err, size_t errlen)
{
	struct store_access_key k;
	struct store_conn *c = NULL;
	int r;

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
	memset(&k, 0, sizeof(k));
	memcpy(k.id, "AKRD", 4);
	r = rd_random_string(k.id + 4, STORE_KEY_ID_LEN - 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
	if (r == 0)
		r = rd_random_string(k.secret, STORE_SECRET_LEN,
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
	if (r < 0)
		return r;
	rd_strlcpy(k.name, name, sizeof(k.name));
	rd_strlcpy(k.policy, policy, sizeof(k.policy));
	rd_strlcpy(k.instance, instance ? instance : "", sizeof(k.instance));
	k.create_time = rd_wall_ms();

	r = store_conn_get(st, &c);
	if (r < 0)
		return r;
	r = store_run(
	    c,
	    "INSERT INTO access_keys (id, secret, name, policy, instance, create_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	    SQL_TEXT(k.id), SQL_TEXT(k.secret), SQL_TEXT(k.name), SQL_TEXT(k.policy),
	    SQL_TEXT(k.instance[0] ? k.instance : NULL), SQL_INT(k.create_time));
	if (r < 0)
		ERR("cannot store the access key: %s", sqlite3_errmsg(c->db));
	store_conn_put(st, c);
	if (r == 0)
		*ret = k;
	return r;
}

static void key_row(struct store_q *q, struct store_access_key *k)
{
	memset(k, 0, sizeof(*k));
	store_copy(q, 0, k->id, sizeof(k->id));
	store_copy(q, 1, k->secret, sizeof(k->secret));
	store_copy(q, 2, k->name, sizeof(k->name));
	store_copy(q, 3, k->policy, sizeof(k->policy));
	store_copy(q, 4, k->instance, sizeof(k->instance));
	k->create_time = store_int(q, 5);
}

int store_access_key_get(struct store *st, const char *id, struct store_access_key *ret)
{
	struct store_conn *c;
	struct store_q q;
	int r = store_conn_get(st, &c);

	if (r < 0)
		return r;
	r = store_one(c, &q, "SELECT id, secret, name, policy, instance, create_time FROM access_keys WHERE id = ?1",
		      SQL_TEXT(id));
	if (r == 0) {
		key_row(&q, ret);
		store_done(&q, 0);
	}
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
	r = store_query(c, &q, "SELECT id, '', name, policy, instance, create_time FROM access_keys ORDER BY id");
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
