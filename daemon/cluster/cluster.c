/* Several daemons on one PostgreSQL database (see cluster.h). One thread:
 * it renews the heartbeat every lease_ttl / 3, expires silent daemons,
 * takes over their deployments, holds the job leases, and between rounds
 * waits on its LISTEN connection. What other threads read (the drivers'
 * snapshot, the job leases, the deadline) is behind one mutex. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cluster/cluster.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/metrics.h"
#include "jsonutil.h"
#include "log.h"
#include "store/store.h"
#include "util.h"
#include "uuid.h"

#define TAG "cluster"
#define CLOG(level, ...) rd_logt((level), TAG, __VA_ARGS__)
#define LEASE_CHANNEL "rolloutd_lease"
/* the jobs every daemon competes for from its start (docs/cluster.md,
 * "Work done once"); alarm polling is no job: each deployment's alarms are
 * polled by the daemon that drives it */
static const char *const known_jobs[] = {"retention", "autoscale", "autoupdate", "triggers"};
#define MAX_JOBS 32
#define MAX_LISTENERS 32
/* ids of past incarnations stay readable (cluster_self_id hands out pointers) */
#define N_IDS 8

struct job {
	char name[64];
	bool held;
	int64_t deadline; /* monotonic */
};

struct listener {
	char channel[64];
	void (*fn)(const char *payload, void *ud);
	void *ud;
};

struct cluster {
	struct rd_daemon *d;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	char ids[N_IDS][RD_UUID_LEN];
	unsigned cur; /* ids[cur % N_IDS] is this incarnation's */
	uint64_t incarnation;
	char url[256];
	char hostname[256];
	int64_t ttl_ms, margin_ms;
	int64_t deadline; /* monotonic: driving ends then unless renewed */
	bool stop, refresh, takeover_now;
	json_t *drivers;       /* {dep: [daemon, url]} */
	json_t *unleased_seen; /* {dep: monotonic ms first seen without a lease} */
	struct job jobs[MAX_JOBS];
	size_t njobs;
	struct listener listeners[MAX_LISTENERS];
	size_t nlisteners;
	struct store_listener *sl;
	void (*adopt)(struct rd_daemon *d, const char *dep_id);
};

static struct metric *m_leases, *m_takeovers, *m_hb_failures, *m_jobs;

static void metrics_init(void)
{
	m_leases = metric_gauge("rolloutd_cluster_deployment_leases",
				"Unfinished deployments this daemon drives (its leases).", NULL);
	m_takeovers =
	    metric_counter("rolloutd_cluster_takeovers_total",
			   "Deployments this daemon took over from a daemon that stopped or went silent.", NULL);
	m_hb_failures =
	    metric_counter("rolloutd_cluster_heartbeat_failures_total",
			   "Heartbeats this daemon could not write (database unreachable or row expired).", NULL);
	m_jobs = metric_gauge("rolloutd_cluster_job_leader",
			      "1 for each cluster-wide job this daemon runs now (retention, autoscale, ...).",
			      (const char *const[]){"job", NULL});
}

size_t cluster_share(size_t n, size_t alive)
{
	if (n == 0)
		return 0;
	if (alive == 0)
		alive = 1;
	return (n + alive - 1) / alive;
}

bool cluster_enabled(const struct rd_daemon *d)
{
	return d && d->cluster;
}

const char *cluster_self_id(const struct rd_daemon *d)
{
	struct cluster *c = d ? d->cluster : NULL;

	return c ? c->ids[__atomic_load_n(&c->cur, __ATOMIC_ACQUIRE) % N_IDS] : NULL;
}

const char *cluster_self_url(const struct rd_daemon *d)
{
	return d && d->cluster ? d->cluster->url : NULL;
}

bool cluster_driving(struct rd_daemon *d, uint64_t *ret_incarnation)
{
	struct cluster *c = d ? d->cluster : NULL;
	bool ok;

	if (!c) {
		if (ret_incarnation)
			*ret_incarnation = 0;
		return true;
	}
	pthread_mutex_lock(&c->lock);
	ok = rd_mono_ms() < c->deadline;
	if (ret_incarnation)
		*ret_incarnation = c->incarnation;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

int64_t cluster_drive_deadline(struct rd_daemon *d)
{
	struct cluster *c = d ? d->cluster : NULL;
	int64_t v;

	if (!c)
		return INT64_MAX;
	pthread_mutex_lock(&c->lock);
	v = c->deadline;
	pthread_mutex_unlock(&c->lock);
	return v;
}

void cluster_set_adopt(struct rd_daemon *d, void (*adopt)(struct rd_daemon *d, const char *dep_id))
{
	struct cluster *c = d ? d->cluster : NULL;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->adopt = adopt;
	pthread_mutex_unlock(&c->lock);
}

int cluster_driver(struct rd_daemon *d, const char *dep_id, char *peer_url, size_t len)
{
	struct cluster *c = d ? d->cluster : NULL;
	const json_t *e;
	int r = 0;

	if (!c || !dep_id)
		return 0;
	pthread_mutex_lock(&c->lock);
	e = json_object_get(c->drivers, dep_id);
	if (e && strcmp(json_string_value(json_array_get(e, 0)), c->ids[c->cur % N_IDS]) != 0) {
		if ((size_t)snprintf(peer_url, len, "%s", json_string_value(json_array_get(e, 1))) >= len)
			r = -ENAMETOOLONG;
		else
			r = 1;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

static struct job *job_find(struct cluster *c, const char *name)
{
	for (size_t i = 0; i < c->njobs; i++)
		if (!strcmp(c->jobs[i].name, name))
			return &c->jobs[i];
	if (c->njobs == MAX_JOBS || strlen(name) >= sizeof(c->jobs[0].name))
		return NULL;
	snprintf(c->jobs[c->njobs].name, sizeof(c->jobs[0].name), "%s", name);
	return &c->jobs[c->njobs++];
}

bool cluster_is_leader(struct rd_daemon *d, const char *job)
{
	struct cluster *c = d ? d->cluster : NULL;
	struct job *j;
	bool v;

	if (!c)
		return true;
	pthread_mutex_lock(&c->lock);
	j = job_find(c, job);
	v = j && j->held && rd_mono_ms() < j->deadline && rd_mono_ms() < c->deadline;
	pthread_mutex_unlock(&c->lock);
	return v;
}

int cluster_notify(struct rd_daemon *d, const char *channel, const char *payload)
{
	if (!cluster_enabled(d))
		return 0;
	return store_cluster_notify(d->store, channel, payload);
}

/* Listeners registered before cluster_start wait here (one process, one daemon). */
static struct listener early[MAX_LISTENERS];
static size_t nearly;
static pthread_mutex_t early_lock = PTHREAD_MUTEX_INITIALIZER;

int cluster_listen(struct rd_daemon *d, const char *channel, void (*fn)(const char *payload, void *ud), void *ud)
{
	struct cluster *c = d ? d->cluster : NULL;
	struct listener *l;
	int r = 0;

	if (strlen(channel) >= sizeof(l->channel) || !fn)
		return -EINVAL;
	if (!c) {
		pthread_mutex_lock(&early_lock);
		if (nearly == MAX_LISTENERS) {
			r = -ENOSPC;
		} else {
			l = &early[nearly++];
			snprintf(l->channel, sizeof(l->channel), "%s", channel);
			l->fn = fn;
			l->ud = ud;
		}
		pthread_mutex_unlock(&early_lock);
		return r;
	}
	pthread_mutex_lock(&c->lock);
	if (c->nlisteners == MAX_LISTENERS) {
		r = -ENOSPC;
	} else {
		l = &c->listeners[c->nlisteners++];
		snprintf(l->channel, sizeof(l->channel), "%s", channel);
		l->fn = fn;
		l->ud = ud;
		/* the LISTEN itself: by the cluster thread, which owns the connection */
		c->refresh = true;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* ---------------------------------------------------------------- the rounds */

static void refresh_drivers(struct cluster *c)
{
	json_t *o = NULL, *old, *v;
	const char *k, *self;
	size_t mine = 0;
	int r = store_cluster_drivers(c->d->store, &o);

	if (r < 0) {
		CLOG(LOG_WARNING, "cannot read which daemon drives which deployment: %s", strerror(-r));
		return;
	}
	pthread_mutex_lock(&c->lock);
	self = c->ids[c->cur % N_IDS];
	json_object_foreach(o, k, v) mine += !strcmp(json_string_value(json_array_get(v, 0)), self);
	old = c->drivers;
	c->drivers = o;
	pthread_mutex_unlock(&c->lock);
	json_decref(old);
	metric_set(m_leases, (double)mine);
}

/* Registers this daemon under a new id; the deadline starts at t0. */
static int register_self(struct cluster *c, int64_t t0)
{
	char id[RD_UUID_LEN];
	struct store_cluster_daemon self = {
	    .id = id, .url = c->url, .hostname = c->hostname, .version = PACKAGE_VERSION, .pid = (int64_t)getpid()};
	int r = rd_uuid4(id);

	if (r < 0)
		return r;
	r = store_cluster_register(c->d->store, &self);
	if (r < 0)
		return r;
	pthread_mutex_lock(&c->lock);
	snprintf(c->ids[(c->cur + 1) % N_IDS], RD_UUID_LEN, "%s", id);
	__atomic_store_n(&c->cur, c->cur + 1, __ATOMIC_RELEASE);
	c->incarnation++;
	c->deadline = t0 + c->ttl_ms - c->margin_ms;
	for (size_t i = 0; i < c->njobs; i++)
		c->jobs[i].held = false;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Which orphans this daemon takes this round: whole groups (one daemon
 * drives a group's deployments) until its share is reached. An unleased
 * deployment is an orphan only once it stayed unleased for a lease_ttl: the
 * engine that took it in leases it within milliseconds. */
static json_t *pick(struct cluster *c, const json_t *orphans, int64_t alive, int64_t now)
{
	json_t *seen = json_object(), *ids = json_array(), *cand = json_array(), *v;
	size_t i, share;

	if (!seen || !ids || !cand)
		goto out;
	json_array_foreach(orphans, i, v)
	{
		const char *id = rd_json_str(v, "id");
		if (!json_is_true(json_object_get(v, "leased"))) {
			json_t *t = json_object_get(c->unleased_seen, id);
			int64_t first = t ? json_integer_value(t) : now;
			json_object_set_new(seen, id, json_integer(first));
			if (now - first < c->ttl_ms)
				continue;
		}
		json_array_append(cand, v);
	}
	json_decref(c->unleased_seen);
	c->unleased_seen = seen;
	seen = NULL;
	share = cluster_share(json_array_size(cand), alive > 0 ? (size_t)alive : 1);
	json_array_foreach(cand, i, v)
	{
		size_t k;
		json_t *w;
		if (json_array_size(ids) >= share)
			break;
		if (json_object_get(v, "taken"))
			continue;
		/* the whole group */
		json_array_foreach(cand, k, w)
		{
			if (k >= i && !json_object_get(w, "taken") &&
			    !strcmp(rd_json_str(w, "app"), rd_json_str(v, "app")) &&
			    !strcmp(rd_json_str(w, "group"), rd_json_str(v, "group"))) {
				json_object_set_new(w, "taken", json_true());
				json_array_append_new(ids, json_string(rd_json_str(w, "id")));
			}
		}
	}
out:
	json_decref(seen);
	json_decref(cand);
	return ids;
}

static void takeover(struct cluster *c)
{
	json_t *orphans = NULL, *ids = NULL, *got = NULL, *v;
	int64_t alive = 0;
	size_t i;
	int r = store_cluster_orphans(c->d->store, &orphans, &alive);
	void (*adopt)(struct rd_daemon *, const char *);

	if (r < 0) {
		CLOG(LOG_WARNING, "cannot look for deployments nobody drives: %s", strerror(-r));
		return;
	}
	ids = pick(c, orphans, alive, rd_mono_ms());
	if (json_array_size(ids) > 0) {
		r = store_cluster_claim(c->d->store, cluster_self_id(c->d), ids, &got);
		if (r < 0)
			CLOG(LOG_WARNING, "cannot take over %zu deployment(s): %s", json_array_size(ids), strerror(-r));
	}
	pthread_mutex_lock(&c->lock);
	adopt = c->adopt;
	pthread_mutex_unlock(&c->lock);
	json_array_foreach(got, i, v)
	{
		CLOG(LOG_NOTICE, "%s: taken over (its daemon stopped or went silent)", json_string_value(v));
		metric_add(m_takeovers, 1);
		if (adopt)
			adopt(c->d, json_string_value(v));
	}
	json_decref(orphans);
	json_decref(ids);
	json_decref(got);
}

static void renew_jobs(struct cluster *c, int64_t t0)
{
	for (size_t i = 0;; i++) {
		char name[64];
		bool held = false;
		int r;

		pthread_mutex_lock(&c->lock);
		if (i >= c->njobs) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		snprintf(name, sizeof(name), "%s", c->jobs[i].name);
		pthread_mutex_unlock(&c->lock);
		r = store_cluster_lease_job(c->d->store, name, cluster_self_id(c->d), c->ttl_ms, &held);
		pthread_mutex_lock(&c->lock);
		if (r < 0) {
			/* kept until its deadline: the lease in the database lasts as long */
		} else {
			if (held && !c->jobs[i].held)
				CLOG(LOG_INFO, "runs the cluster-wide job '%s' now", name);
			c->jobs[i].held = held;
			if (held)
				c->jobs[i].deadline = t0 + c->ttl_ms - c->margin_ms;
		}
		held = c->jobs[i].held;
		pthread_mutex_unlock(&c->lock);
		metric_set(m_jobs, held ? 1 : 0, name);
	}
}

static void round_once(struct cluster *c)
{
	int64_t t0 = rd_mono_ms();
	size_t n = 0;
	int r = store_cluster_heartbeat(c->d->store, cluster_self_id(c->d));

	if (r == -ESTALE) {
		/* another daemon expired this one (paused, or cut off from the
		 * database past lease_ttl): what it drove is theirs now */
		metric_add(m_hb_failures, 1);
		CLOG(LOG_WARNING,
		     "this daemon (%s) was expired by another one; registering again and driving only "
		     "what it takes anew",
		     cluster_self_id(c->d));
		r = register_self(c, t0);
		if (r < 0) {
			CLOG(LOG_ERR, "cannot register again: %s", strerror(-r));
			return;
		}
	} else if (r < 0) {
		metric_add(m_hb_failures, 1);
		CLOG(LOG_WARNING, "cannot renew the heartbeat: %s%s", strerror(-r),
		     rd_mono_ms() >= cluster_drive_deadline(c->d) ? "; not driving deployments until it works again"
								  : "");
		return;
	} else {
		pthread_mutex_lock(&c->lock);
		c->deadline = t0 + c->ttl_ms - c->margin_ms;
		pthread_mutex_unlock(&c->lock);
	}
	r = store_cluster_expire(c->d->store, c->ttl_ms, &n);
	if (r == 0 && n > 0)
		CLOG(LOG_NOTICE, "%zu daemon(s) silent for more than %lld ms marked expired", n, (long long)c->ttl_ms);
	renew_jobs(c, t0);
	takeover(c);
	refresh_drivers(c);
}

static void on_notify(const char *channel, const char *payload, void *ud)
{
	struct cluster *c = ud;
	struct listener ls[MAX_LISTENERS];
	size_t n;

	if (!channel) {
		/* (re)connected: catch up on what may have been missed */
		c->refresh = true;
		return;
	}
	if (!strcmp(channel, LEASE_CHANNEL)) {
		char owner[RD_UUID_LEN] = "", dep[32] = "";
		c->refresh = true;
		if (payload && !strncmp(payload, "released ", 9))
			c->takeover_now = true;
		if (payload && sscanf(payload, "leased %36s %31s", owner, dep) == 2 &&
		    !strcmp(owner, cluster_self_id(c->d))) {
			void (*adopt)(struct rd_daemon *, const char *);
			pthread_mutex_lock(&c->lock);
			adopt = c->adopt;
			pthread_mutex_unlock(&c->lock);
			if (adopt)
				adopt(c->d, dep);
		}
	}
	pthread_mutex_lock(&c->lock);
	n = c->nlisteners;
	memcpy(ls, c->listeners, n * sizeof(ls[0]));
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(ls[i].channel, channel))
			ls[i].fn(payload ? payload : "", ls[i].ud);
}

static void listen_all(struct cluster *c)
{
	char chans[MAX_LISTENERS][64];
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->nlisteners;
	for (size_t i = 0; i < n; i++)
		memcpy(chans[i], c->listeners[i].channel, sizeof(chans[i]));
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < n; i++)
		store_listener_add(c->sl, chans[i]);
}

static void *cluster_main(void *arg)
{
	struct cluster *c = arg;
	int64_t next = rd_mono_ms() + c->ttl_ms / 3;
	bool warned = false;

	for (;;) {
		int64_t now;
		int r;
		bool stop;

		pthread_mutex_lock(&c->lock);
		stop = c->stop;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		now = rd_mono_ms();
		if (now >= next || c->takeover_now) {
			c->takeover_now = false;
			round_once(c);
			next = rd_mono_ms() + c->ttl_ms / 3;
			continue;
		}
		if (c->refresh) {
			c->refresh = false;
			listen_all(c);
			refresh_drivers(c);
		}
		/* short waits: a stop is noticed within 250 ms */
		r = store_listener_wait(c->sl, (int)(next - now < 250 ? next - now : 250), on_notify, c);
		if (r < 0 && !warned)
			CLOG(LOG_WARNING, "LISTEN connection lost (%s); connecting again", strerror(-r));
		warned = r < 0;
	}
	return NULL;
}

/* ---------------------------------------------------------------- start and stop */

/* Whether the host of listen (HOST:PORT or [V6]:PORT, as config_check_listen
 * accepts) is the unspecified address, in any of its spellings. */
static bool listen_is_wildcard(const char *l)
{
	char host[128];
	const char *colon = strrchr(l, ':');
	unsigned char addr[sizeof(struct in6_addr)];
	static const unsigned char zero[sizeof(struct in6_addr)];
	size_t n;

	if (!colon)
		return false;
	n = (size_t)(colon - l);
	if (n >= 2 && l[0] == '[' && l[n - 1] == ']') {
		l++;
		n -= 2;
	}
	if (n == 0 || (n == 1 && l[0] == '*'))
		return true;
	if (n >= sizeof(host))
		return false;
	memcpy(host, l, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, addr) == 1)
		return !memcmp(addr, zero, sizeof(struct in_addr));
	if (inet_pton(AF_INET6, host, addr) == 1)
		return !memcmp(addr, zero, sizeof(struct in6_addr));
	return false;
}

int cluster_advertise_url(const struct rd_config *cfg, char *buf, size_t len, struct rd_error *err)
{
	const char *l = cfg->listen ? cfg->listen : "";
	const char *scheme = cfg->tls_cert ? "https" : "http";

	if (cfg->cluster_advertise_url) {
		if ((size_t)snprintf(buf, len, "%s", cfg->cluster_advertise_url) >= len)
			return rd_error_set(err, -ENAMETOOLONG, "ConfigError", "%s: cluster.advertise_url is too long",
					    cfg->path ? cfg->path : "config");
		return 0;
	}
	if (listen_is_wildcard(l))
		return rd_error_set(err, -EINVAL, "ConfigError",
				    "%s: listen %s is a wildcard address, so the other daemons on this database cannot "
				    "tell how to reach this one: set cluster.advertise_url (e.g. %s://10.0.0.11%s)",
				    cfg->path ? cfg->path : "config", l, scheme,
				    strrchr(l, ':') ? strrchr(l, ':') : "");
	if ((size_t)snprintf(buf, len, "%s://%s", scheme, l) >= len)
		return rd_error_set(err, -ENAMETOOLONG, "ConfigError",
				    "%s: listen %s is too long to be advertised; set cluster.advertise_url",
				    cfg->path ? cfg->path : "config", l);
	return 0;
}

static void cluster_free(struct cluster *c)
{
	if (!c)
		return;
	store_listener_free(c->sl);
	json_decref(c->drivers);
	json_decref(c->unleased_seen);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int cluster_start(struct rd_daemon *d, struct rd_error *err)
{
	struct cluster *c;
	int r;

	if (!store_is_postgresql(d->store))
		return 0;
	metrics_init();
	c = calloc(1, sizeof(*c));
	if (!c)
		return rd_error_set(err, -ENOMEM, "INTERNAL_ERROR", "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	c->d = d;
	c->ttl_ms = d->cfg->cluster_lease_ttl_ms > 0 ? d->cfg->cluster_lease_ttl_ms : 5000;
	/* driving ends a fifth of the ttl before the others may expire this
	 * daemon: room for clocks that run at slightly different rates */
	c->margin_ms = c->ttl_ms / 5;
	c->drivers = json_object();
	c->unleased_seen = json_object();
	if (gethostname(c->hostname, sizeof(c->hostname) - 1) < 0)
		snprintf(c->hostname, sizeof(c->hostname), "unknown");
	r = cluster_advertise_url(d->cfg, c->url, sizeof(c->url), err);
	if (r < 0)
		goto fail;
	r = store_listener_new(d->store, &c->sl);
	if (r < 0) {
		rd_error_set(err, r, "StoreError", "cannot set up LISTEN: %s", strerror(-r));
		goto fail;
	}
	store_listener_add(c->sl, LEASE_CHANNEL);
	pthread_mutex_lock(&early_lock);
	memcpy(c->listeners, early, nearly * sizeof(early[0]));
	c->nlisteners = nearly;
	nearly = 0;
	pthread_mutex_unlock(&early_lock);
	for (size_t i = 0; i < RD_ARRAY_SIZE(known_jobs); i++)
		job_find(c, known_jobs[i]);
	r = register_self(c, rd_mono_ms());
	if (r < 0) {
		rd_error_set(err, r, "StoreError", "cannot register this daemon in cluster_daemons: %s", strerror(-r));
		goto fail;
	}
	/* a daemon restarted on the same listener takes back what its killed
	 * predecessor drove now, as a single daemon's restart does */
	r = store_cluster_supersede(d->store, c->url, c->ids[c->cur % N_IDS]);
	if (r < 0)
		CLOG(LOG_WARNING, "cannot expire this daemon's earlier incarnations: %s", strerror(-r));
	d->cluster = c;
	/* the first round now: jobs taken, silent daemons expired, orphans
	 * taken, before the engine loads what this daemon holds */
	round_once(c);
	listen_all(c);
	r = pthread_create(&c->thread, NULL, cluster_main, c);
	if (r != 0) {
		d->cluster = NULL;
		r = rd_error_set(err, -r, "INTERNAL_ERROR", "cannot start the cluster thread: %s", strerror(r));
		goto fail;
	}
	c->thread_started = true;
	CLOG(LOG_INFO, "daemon %s (%s) joined, lease ttl %lld ms", cluster_self_id(d), c->url, (long long)c->ttl_ms);
	return 0;
fail:
	cluster_free(c);
	return r;
}

void cluster_stop(struct rd_daemon *d)
{
	struct cluster *c = d ? d->cluster : NULL;
	int r;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_mutex_unlock(&c->lock);
	if (c->thread_started)
		pthread_join(c->thread, NULL);
	r = store_cluster_stop(d->store, cluster_self_id(d));
	if (r < 0)
		CLOG(LOG_WARNING,
		     "cannot mark this daemon stopped (%s): the others take its deployments once its "
		     "heartbeat is older than %lld ms",
		     strerror(-r), (long long)c->ttl_ms);
	else
		CLOG(LOG_INFO, "daemon %s left; its deployments go to the others", cluster_self_id(d));
	d->cluster = NULL;
	cluster_free(c);
}
