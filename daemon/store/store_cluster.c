/* Several daemons on one database (daemon/cluster/cluster.h): the daemons'
 * rows and heartbeats, deployment leases, cluster-wide job leases, NOTIFY and
 * LISTEN. PostgreSQL only (a SQLite store is one daemon): every function
 * here answers -ENOTSUP on SQLite. Times are the database's clock
 * (clock_timestamp(), epoch milliseconds), never a daemon's. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_hot.h"
#include "store/store_internal.h"

#define NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"
#define ACTIVE "('Created', 'Queued', 'InProgress', 'Ready')"

static int conn(struct store *st, struct store_conn **c)
{
	if (!store_is_postgresql(st))
		return -ENOTSUP;
	return store_conn_get(st, c);
}

int store_cluster_register(struct store *st, const struct store_cluster_daemon *self)
{
	struct store_conn *c;
	int r = conn(st, &c);

	if (r < 0)
		return r;
	r = store_run(c,
		      "INSERT INTO cluster_daemons (id, url, hostname, pid, version, started_at, heartbeat_at, state)"
		      " VALUES (?1, ?2, ?3, ?4, ?5, " NOW_MS ", " NOW_MS ", 'alive')",
		      SQL_TEXT(self->id), SQL_TEXT(self->url), SQL_TEXT(self->hostname), SQL_INT(self->pid),
		      SQL_TEXT(self->version));
	store_conn_put(st, c);
	return r;
}

int store_cluster_supersede(struct store *st, const char *url, const char *self)
{
	struct store_conn *c;
	int r = conn(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	if (r == 0)
		r = store_run(
		    c, "UPDATE cluster_daemons SET state = 'expired' WHERE url = ?1 AND id <> ?2 AND state = 'alive'",
		    SQL_TEXT(url), SQL_TEXT(self));
	if (r == 0)
		r = store_tx_commit(c);
	else
		store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_cluster_heartbeat(struct store *st, const char *id)
{
	struct store_conn *c;
	int r = conn(st, &c);

	if (r < 0)
		return r;
	r = store_run(c, "UPDATE cluster_daemons SET heartbeat_at = " NOW_MS " WHERE id = ?1 AND state = 'alive'",
		      SQL_TEXT(id));
	if (r == 0 && store_changes(c) == 0)
		r = -ESTALE;
	store_conn_put(st, c);
	return r;
}

int store_cluster_expire(struct store *st, int64_t ttl_ms, size_t *ret_n)
{
	struct store_conn *c;
	int r = conn(st, &c);

	if (r < 0)
		return r;
	/* under the write lock: an engine transaction of the daemon expired
	 * here (which checked its row when it began, store_eng_begin) commits
	 * before this does */
	r = store_tx_begin(c);
	if (r == 0)
		r = store_run(
		    c,
		    "UPDATE cluster_daemons SET state = 'expired' WHERE state = 'alive' AND heartbeat_at < " NOW_MS
		    " - ?1",
		    SQL_INT(ttl_ms));
	if (r == 0) {
		*ret_n = (size_t)store_changes(c);
		r = store_tx_commit(c);
	} else {
		store_tx_rollback(c);
	}
	store_conn_put(st, c);
	return r;
}

int store_cluster_stop(struct store *st, const char *id)
{
	struct store_conn *c;
	int r = conn(st, &c);

	if (r < 0)
		return r;
	r = store_tx_begin(c);
	if (r == 0)
		r = store_run(c, "UPDATE cluster_daemons SET state = 'stopped' WHERE id = ?1", SQL_TEXT(id));
	if (r == 0)
		r = store_run(c, "DELETE FROM cluster_leases WHERE daemon_id = ?1", SQL_TEXT(id));
	if (r == 0)
		r = store_run(c, "SELECT pg_notify('rolloutd_lease', 'released ' || ?1)", SQL_TEXT(id));
	if (r == 0)
		r = store_tx_commit(c);
	else
		store_tx_rollback(c);
	store_conn_put(st, c);
	return r;
}

int store_cluster_orphans(struct store *st, json_t **ret, int64_t *ret_alive)
{
	struct store_conn *c;
	struct store_q q;
	json_t *a;
	int r = conn(st, &c);

	if (r < 0)
		return r;
	r = store_one(c, &q, "SELECT COUNT(*) FROM cluster_daemons WHERE state = 'alive'");
	if (r == 0) {
		*ret_alive = store_int(&q, 0);
		store_done(&q, 0);
	}
	a = json_array();
	if (r == 0 && !a)
		r = -ENOMEM;
	if (r == 0)
		r = store_query(
		    c, &q,
		    "SELECT d.id, d.application, COALESCE(d.deployment_group, ''), l.deployment_id IS NOT NULL"
		    " FROM deployments d LEFT JOIN deployment_leases l ON l.deployment_id = d.id"
		    " LEFT JOIN cluster_daemons c ON c.id = l.daemon_id"
		    " WHERE d.status IN " ACTIVE " AND (c.state IS NULL OR c.state <> 'alive')"
		    " ORDER BY d.seq");
	while (r == 0 && store_next(&q))
		if (json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:b}", "id", store_text(&q, 0), "app",
						       store_text(&q, 1), "group", store_text(&q, 2), "leased",
						       (int)store_int(&q, 3))) < 0)
			r = -ENOMEM;
	r = store_done(&q, r);
	store_conn_put(st, c);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	*ret = a;
	return 0;
}

int store_cluster_claim(struct store *st, const char *self, const json_t *ids, json_t **ret)
{
	struct store_conn *c;
	struct store_q q;
	json_t *got = json_array(), *v;
	size_t i;
	int r = conn(st, &c);

	if (r < 0) {
		json_decref(got);
		return r;
	}
	r = got ? store_tx_begin(c) : -ENOMEM;
	json_array_foreach(ids, i, v)
	{
		const char *id = json_string_value(v);
		bool orphan = false;
		if (r < 0)
			break;
		/* still orphaned now, under the write lock: its lease row locked
		 * (SKIP LOCKED: a row another claimer holds is that one's) */
		r = store_one(c, &q,
			      "SELECT 1 FROM deployments d LEFT JOIN deployment_leases l ON l.deployment_id = d.id"
			      " LEFT JOIN cluster_daemons c ON c.id = l.daemon_id"
			      " WHERE d.id = ?1 AND d.status IN " ACTIVE " AND (c.state IS NULL OR c.state <> 'alive')"
			      " FOR UPDATE OF d SKIP LOCKED",
			      SQL_TEXT(id));
		if (r == 0) {
			orphan = true;
			store_done(&q, 0);
		} else if (r == -ENOENT) {
			r = 0;
		}
		if (r < 0 || !orphan)
			continue;
		r = store_run(c,
			      "INSERT INTO deployment_leases (deployment_id, daemon_id, acquired_at, generation)"
			      " VALUES (?1, ?2, " NOW_MS ", 1) ON CONFLICT (deployment_id) DO UPDATE SET"
			      " daemon_id = excluded.daemon_id, acquired_at = excluded.acquired_at,"
			      " generation = deployment_leases.generation + 1",
			      SQL_TEXT(id), SQL_TEXT(self));
		if (r == 0 && json_array_append(got, v) < 0)
			r = -ENOMEM;
	}
	if (r == 0 && json_array_size(got) > 0)
		r = store_run(c, "SELECT pg_notify('rolloutd_lease', 'moved ' || ?1)", SQL_TEXT(self));
	if (r == 0)
		r = store_tx_commit(c);
	else
		store_tx_rollback(c);
	store_conn_put(st, c);
	if (r < 0) {
		json_decref(got);
		return r;
	}
	*ret = got;
	return 0;
}

int store_cluster_drivers(struct store *st, json_t **ret)
{
	struct store_conn *c;
	struct store_q q;
	json_t *o = json_object();
	int r = conn(st, &c);

	if (r < 0) {
		json_decref(o);
		return r;
	}
	r = o ? store_query(c, &q,
			    "SELECT l.deployment_id, l.daemon_id, c.url FROM deployment_leases l"
			    " JOIN cluster_daemons c ON c.id = l.daemon_id AND c.state = 'alive'"
			    " JOIN deployments d ON d.id = l.deployment_id WHERE d.status IN " ACTIVE)
	      : -ENOMEM;
	while (r == 0 && store_next(&q))
		if (json_object_set_new(o, store_text(&q, 0),
					json_pack("[s,s]", store_text(&q, 1), store_text(&q, 2))) < 0)
			r = -ENOMEM;
	r = store_done(&q, r);
	store_conn_put(st, c);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	*ret = o;
	return 0;
}

int store_cluster_lease_job(struct store *st, const char *name, const char *self, int64_t ttl_ms, bool *ret_held)
{
	struct store_conn *c;
	struct store_q q;
	int r = conn(st, &c);

	if (r < 0)
		return r;
	/* taken when free, expired, or already ours (renewed) */
	r = store_one(
	    c, &q,
	    "INSERT INTO cluster_leases (name, daemon_id, expires_at) VALUES (?1, ?2, " NOW_MS " + ?3)"
	    " ON CONFLICT (name) DO UPDATE SET daemon_id = excluded.daemon_id, expires_at = excluded.expires_at"
	    " WHERE cluster_leases.daemon_id = excluded.daemon_id OR cluster_leases.expires_at < " NOW_MS
	    " RETURNING daemon_id",
	    SQL_TEXT(name), SQL_TEXT(self), SQL_INT(ttl_ms));
	if (r == 0) {
		store_done(&q, 0);
		*ret_held = true;
	} else if (r == -ENOENT) {
		*ret_held = false;
		r = 0;
	}
	store_conn_put(st, c);
	return r;
}

int store_cluster_notify(struct store *st, const char *channel, const char *payload)
{
	struct store_conn *c;
	int r = conn(st, &c);

	if (r < 0)
		return r;
	r = store_run(c, "SELECT pg_notify(?1, ?2)", SQL_TEXT(channel), SQL_TEXT(payload ? payload : ""));
	store_conn_put(st, c);
	return r;
}

static json_t *row_object(struct store_q *q, const char *const *names)
{
	json_t *o = json_object();

	for (int i = 0; o && names[i]; i++) {
		const char *n = names[i];
		if (store_isnull(q, i))
			json_object_set_new(o, n + 1, json_null());
		else if (n[0] == 'i')
			json_object_set_new(o, n + 1, json_integer(store_int(q, i)));
		else
			json_object_set_new(o, n + 1, json_string(store_text(q, i)));
	}
	return o;
}

/* Appends every row of the query to a, each an object named by names
 * ("s<name>" text, "i<name>" integer). */
static int collect(struct store_q *q, int r, const char *const *names, json_t *a)
{
	while (r == 0 && store_next(q))
		if (json_array_append_new(a, row_object(q, names)) < 0)
			r = -ENOMEM;
	return store_done(q, r);
}

int store_cluster_status(struct store *st, json_t **ret)
{
	static const char *const dn[] = {"sid",		 "surl",	"shostname",	     "ipid",
					 "sversion",	 "istarted_at", "iheartbeat_age_ms", "sstate",
					 "ideployments", NULL};
	static const char *const jn[] = {"sname", "sdaemon_id", "iexpires_in_ms", NULL};
	static const char *const ln[] = {"sdeployment_id",    "sstatus",      "sapplication",
					 "sdeployment_group", "sdaemon_id",   "sdaemon_state",
					 "igeneration",	      "iacquired_at", NULL};
	struct store_conn *c;
	struct store_q q;
	json_t *o = json_pack("{s:[],s:[],s:[]}", "daemons", "jobs", "deployments");
	int r = conn(st, &c);

	if (r < 0) {
		json_decref(o);
		return r;
	}
	r = o ? 0 : -ENOMEM;
	if (r == 0)
		r = store_query(
		    c, &q,
		    "SELECT c.id, c.url, c.hostname, c.pid, c.version, c.started_at, " NOW_MS
		    " - c.heartbeat_at, c.state,"
		    " (SELECT COUNT(*) FROM deployment_leases l JOIN deployments d ON d.id = l.deployment_id"
		    "  WHERE l.daemon_id = c.id AND d.status IN " ACTIVE ")"
		    " FROM cluster_daemons c WHERE c.state = 'alive' OR c.heartbeat_at > " NOW_MS
		    " - 86400000 ORDER BY c.state, c.started_at");
	if (r == 0)
		r = collect(&q, r, dn, json_object_get(o, "daemons"));
	if (r == 0)
		r = store_query(c, &q,
				"SELECT name, daemon_id, expires_at - " NOW_MS " FROM cluster_leases ORDER BY name");
	if (r == 0)
		r = collect(&q, r, jn, json_object_get(o, "jobs"));
	if (r == 0)
		r = store_query(c, &q,
				"SELECT d.id, d.status, d.application, d.deployment_group, l.daemon_id, c.state,"
				" l.generation, l.acquired_at FROM deployments d"
				" LEFT JOIN deployment_leases l ON l.deployment_id = d.id"
				" LEFT JOIN cluster_daemons c ON c.id = l.daemon_id"
				" WHERE d.status IN " ACTIVE " ORDER BY d.seq");
	if (r == 0)
		r = collect(&q, r, ln, json_object_get(o, "deployments"));
	store_conn_put(st, c);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	*ret = o;
	return 0;
}

/* ---- the engine's side: leases taken in its transaction ---- */

int store_eng_fence_check(struct store_tx *tx, const char *self)
{
	struct store_q q;
	int r;

	if (!self || !store_is_pg(tx->c))
		return 0;
	/* This daemon's row is still alive: a takeover that expires it runs
	 * under the write lock this transaction holds (store_pg_begin), so it
	 * waits for this commit, and once it committed every later engine
	 * transaction of this daemon ends here. */
	r = store_one(tx->c, &q, "SELECT state = 'alive' FROM cluster_daemons WHERE id = ?1", SQL_TEXT(self));
	if (r == -ENOENT)
		return -ESTALE;
	if (r < 0)
		return r;
	r = store_int(&q, 0) ? 0 : -ESTALE;
	store_done(&q, 0);
	return r;
}

int store_eng_lease_take(struct store_tx *tx, const char *dep, const char *self, char *ret_owner, size_t len)
{
	struct store_q q;
	int r;

	if (!store_is_pg(tx->c)) {
		snprintf(ret_owner, len, "%s", self);
		return 0;
	}
	/* leased already: to a live daemon it stays there */
	r = store_one(tx->c, &q,
		      "SELECT l.daemon_id FROM deployment_leases l JOIN cluster_daemons c ON c.id = l.daemon_id"
		      " WHERE l.deployment_id = ?1 AND c.state = 'alive'",
		      SQL_TEXT(dep));
	if (r == 0) {
		store_copy(&q, 0, ret_owner, len);
		store_done(&q, 0);
		return 0;
	}
	if (r != -ENOENT)
		return r;
	/* one daemon drives a group's deployments: the one driving another
	 * unfinished deployment of this group, else self */
	r = store_one(tx->c, &q,
		      "SELECT l.daemon_id FROM deployments d JOIN deployments o ON o.application = d.application"
		      " AND o.deployment_group = d.deployment_group AND o.id <> d.id AND o.status IN " ACTIVE
		      " JOIN deployment_leases l ON l.deployment_id = o.id"
		      " JOIN cluster_daemons c ON c.id = l.daemon_id AND c.state = 'alive'"
		      " WHERE d.id = ?1 ORDER BY o.seq LIMIT 1",
		      SQL_TEXT(dep));
	if (r == 0) {
		store_copy(&q, 0, ret_owner, len);
		store_done(&q, 0);
	} else if (r == -ENOENT) {
		snprintf(ret_owner, len, "%s", self);
		r = 0;
	}
	if (r == 0)
		r = store_run(tx->c,
			      "INSERT INTO deployment_leases (deployment_id, daemon_id, acquired_at, generation)"
			      " VALUES (?1, ?2, " NOW_MS ", 1) ON CONFLICT (deployment_id) DO UPDATE SET"
			      " daemon_id = excluded.daemon_id, acquired_at = excluded.acquired_at,"
			      " generation = deployment_leases.generation + 1",
			      SQL_TEXT(dep), SQL_TEXT(ret_owner));
	/* delivered at commit: the owner adopts it when it is not self, and
	 * every daemon's snapshot learns who drives it */
	if (r == 0)
		r = store_run(tx->c, "SELECT pg_notify('rolloutd_lease', 'leased ' || ?1 || ' ' || ?2)",
			      SQL_TEXT(ret_owner), SQL_TEXT(dep));
	return r;
}

int store_eng_leased_ids(struct store_tx *tx, const char *self, json_t **ret)
{
	struct store_q q;
	bool more;
	int r;

	if (!self || !store_is_pg(tx->c))
		return store_eng_active_ids(tx, ret);
	r = store_query(tx->c, &q,
			"SELECT d.id FROM deployments d JOIN deployment_leases l ON l.deployment_id = d.id"
			" WHERE l.daemon_id = ?1 AND d.status IN " ACTIVE " ORDER BY d.seq",
			SQL_TEXT(self));
	return store_collect_names(&q, r, SIZE_MAX, ret, &more);
}

/* ---- LISTEN on a connection of its own ---- */

struct store_listener {
	struct store *st;
	struct store_conn *c; /* NULL while disconnected */
	char **channels;
	size_t n;
};

int store_listener_new(struct store *st, struct store_listener **ret)
{
	struct store_listener *l;

	if (!store_is_postgresql(st))
		return -ENOTSUP;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->st = st;
	*ret = l;
	return 0;
}

static int listen_one(struct store_conn *c, const char *channel)
{
	char *q = PQescapeIdentifier(c->pg, channel, strlen(channel));
	char sql[512];
	int r;

	if (!q)
		return -ENOMEM;
	snprintf(sql, sizeof(sql), "LISTEN %s", q);
	PQfreemem(q);
	r = store_pg_exec(c, sql);
	return r;
}

int store_listener_add(struct store_listener *l, const char *channel)
{
	char **n;

	if (strlen(channel) > 63)
		return -EINVAL;
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->channels[i], channel))
			return 0;
	n = realloc(l->channels, (l->n + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	l->channels = n;
	if (!(n[l->n] = strdup(channel)))
		return -ENOMEM;
	l->n++;
	if (l->c && listen_one(l->c, channel) < 0) {
		store_pg_close(l->c);
		l->c = NULL;
	}
	return 0;
}

int store_listener_wait(struct store_listener *l, int timeout_ms,
			void (*fn)(const char *channel, const char *payload, void *ud), void *ud)
{
	struct pollfd p;
	PGnotify *n;
	int r;

	if (!l->c) {
		r = store_pg_open(l->st, &l->c, NULL);
		for (size_t i = 0; r == 0 && i < l->n; i++)
			r = listen_one(l->c, l->channels[i]);
		if (r < 0) {
			store_pg_close(l->c);
			l->c = NULL;
			poll(NULL, 0, timeout_ms);
			return r;
		}
		fn(NULL, NULL, ud); /* (re)connected: what was sent meanwhile is lost */
	}
	p.fd = PQsocket(l->c->pg);
	p.events = POLLIN;
	p.revents = 0;
	r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r > 0 && (!PQconsumeInput(l->c->pg) || PQstatus(l->c->pg) != CONNECTION_OK)) {
		store_pg_close(l->c);
		l->c = NULL;
		return -EIO;
	}
	while ((n = PQnotifies(l->c->pg))) {
		fn(n->relname, n->extra, ud);
		PQfreemem(n);
	}
	return 0;
}

struct store_listener *store_listener_free(struct store_listener *l)
{
	if (!l)
		return NULL;
	store_pg_close(l->c);
	for (size_t i = 0; i < l->n; i++)
		free(l->channels[i]);
	free(l->channels);
	free(l);
	return NULL;
}

int store_cluster_host_driver(struct store *st, const char *host, const char *host_identifier, const char *self,
			      char **ret_host, char **ret_url)
{
	struct store_conn *c;
	struct store_q q;
	char *name = NULL, *url = NULL;
	int r = conn(st, &c);

	if (r < 0)
		return r;
	if (host) {
		name = strdup(host);
		r = name ? 0 : -ENOMEM;
	} else {
		r = store_one(c, &q, SQL_ENG_INSTANCE_BY_IDENTIFIER, SQL_TEXT(host_identifier));
		if (r == 0) {
			r = store_dup(&q, 0, &name);
			store_done(&q, 0);
		}
	}
	/* deployment_targets by target_id (its index): the few deployments
	 * that ever reached this host, of which the unfinished ones leased to
	 * another live daemon */
	if (r == 0)
		r = store_one(c, &q,
			      "SELECT cd.url FROM deployment_targets t"
			      " JOIN deployments d ON d.id = t.deployment_id AND d.status IN " ACTIVE
			      " JOIN deployment_leases l ON l.deployment_id = t.deployment_id"
			      " JOIN cluster_daemons cd ON cd.id = l.daemon_id AND cd.state = 'alive' AND cd.id <> ?2"
			      " WHERE t.target_id = ?1 AND t.status IN ('Pending', 'InProgress')"
			      " ORDER BY d.create_time LIMIT 1",
			      SQL_TEXT(name), SQL_TEXT(self));
	if (r == 0) {
		r = store_dup(&q, 0, &url);
		store_done(&q, 0);
	}
	store_conn_put(st, c);
	if (r == 0 && !url)
		r = -ENOENT;
	if (r < 0 && r != -ENOENT) {
		free(name);
		free(url);
		return r;
	}
	*ret_host = name;
	*ret_url = url;
	return r;
}
