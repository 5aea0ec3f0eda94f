/* rolloutd: start-up, the I/O loop, shut-down, and the offline commands.
 * This is the one place that wires the daemon's parts together: it hands
 * the plugin host its data sources, the authenticator its keys, registers
 * every route (register_routes, metrics_start) and starts the parts in
 * order. Start order: config -> store (migrations) -> key-encryption key
 * -> plugins -> workpool -> authentication (over the store's access keys)
 * -> httpd -> audit trail (the transport's observer) -> metrics ->
 * on-premises instance source -> bundle cache -> routes -> relay -> trigger
 * deliveries -> engine. Stop: drain the workpool (so no job outlives the
 * engine), engine_stop (completes held long-polls), triggers, cluster, relay, uploads,
 * bundles, httpd, audit trail, authentication, plugins, store, KEK. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>
#include <pthread.h>
#include <systemd/sd-daemon.h>

#include <rollout/plugin.h>

#include "access_key_cmd.h"
#include "shared_keys.h"
#include "store_config.h"
#include "api/api.h"
#include "api/api_info.h"
#include "auth/auth.h"
#include "auth/auth_audit.h"
#include "auth/auth_secret.h"
#include "bundles/bundles.h"
#include "bundles/bundles_routes.h"
#include "cluster/cluster.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/error.h"
#include "engine/engine.h"
#include "core/httpd.h"
#include "core/metrics.h"
#include "log.h"
#include "core/plugins.h"
#include "store/store.h"
#include "util.h"
#include "core/workpool.h"
#include "jsonutil.h"
#include "health/triggers.h"
#include "relay/relay.h"
#include "relay/relay_header.h"
#include "ui/ui.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: rolloutd --config FILE [--check-config]\n"
	    "       rolloutd --config FILE access-key create --name NAME --policy admin|deployer|readonly|agent|enroll "
	    "[--instance NAME] [--applications APP,...]\n"
	    "       rolloutd --config FILE access-key list\n"
	    "       rolloutd --config FILE access-key delete|disable|enable|retire ACCESS_KEY_ID\n"
	    "       rolloutd --config FILE access-key rotate ACCESS_KEY_ID [--retire-after DURATION]\n"
	    "       rolloutd --config FILE access-key scope ACCESS_KEY_ID --applications APP,...|--all\n"
	    "       rolloutd --config FILE backup OUT      (online; safe while rolloutd runs)\n"
	    "       rolloutd --config FILE restore BACKUP  (into a data_dir without a store)\n"
	    "       rolloutd --config FILE cluster status [--json]  (daemons, job and deployment leases; "
	    "PostgreSQL)\n"
	    "       rolloutd --version\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct rd_daemon *d = arg;

	log_notice("received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	d->stopping = true;
	event_base_loopbreak(d->base);
}

/* SIGHUP: the listeners' certificates and keys are read again (renewed
 * certificates take effect without dropping a connection). */
struct tls_listeners {
	struct httpd *api, *metrics;
};

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct tls_listeners *l = arg;
	struct httpd *hs[] = {l->api, l->metrics};

	for (size_t i = 0; i < RD_ARRAY_SIZE(hs); i++) {
		struct rd_error e = RD_ERROR_INIT;
		if (!hs[i] || !httpd_is_tls(hs[i]))
			continue;
		if (httpd_reload_tls(hs[i], &e) < 0)
			log_error("received SIGHUP: %s; still serving the previous certificate", e.message);
		else
			log_notice("received SIGHUP: reloaded the TLS certificate and key");
	}
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

/* Run as root, the offline commands act as the owner of data_dir (the
 * daemon's user): files SQLite creates beside the store (-wal, -shm) or a
 * restore writes must stay the daemon's. */
static int become_data_dir_owner(const struct rd_config *cfg)
{
	struct stat st;

	if (geteuid() != 0 || stat(cfg->data_dir, &st) < 0 || st.st_uid == 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0) {
		fprintf(stderr, "rolloutd: cannot switch to the owner of %s (uid %u): %s\n", cfg->data_dir,
			(unsigned)st.st_uid, strerror(errno));
		return -errno;
	}
	return 0;
}

static int cmd_backup(struct rd_config *cfg, int argc, char **argv)
{
	struct store *st = NULL;
	struct rd_error rerr = RD_ERROR_INIT;
	int r;

	if (argc != 1) {
		fprintf(stderr, "rolloutd: backup needs one argument, the file to write (e.g. backup "
				"/var/backups/rolloutd.db)\n");
		return 2;
	}
	r = store_config_open(cfg, &st, &rerr);
	if (r == 0)
		r = store_backup(st, cfg->data_dir, argv[0], &rerr);
	store_close(st);
	if (r < 0) {
		fprintf(stderr, "rolloutd: backup: %s\n", rerr.message);
		return 1;
	}
	printf("%s: backup of %s written\n", argv[0], cfg->data_dir);
	return 0;
}

static int cmd_restore(struct rd_config *cfg, int argc, char **argv)
{
	struct rd_error rerr = RD_ERROR_INIT;
	int r;

	if (argc != 1) {
		fprintf(stderr, "rolloutd: restore needs one argument, a file made by 'rolloutd backup'\n");
		return 2;
	}
	if (cfg->store) {
		fprintf(stderr,
			"rolloutd: restore: the store is PostgreSQL (store: in %s): restore a pg_dump of it "
			"with pg_restore or psql; 'rolloutd restore' writes only a SQLite store\n",
			cfg->path);
		return 1;
	}
	r = store_restore(argv[0], cfg->data_dir, &rerr);
	if (r < 0) {
		fprintf(stderr, "rolloutd: restore: %s\n", rerr.message);
		return 1;
	}
	printf("%s: restored into %s; start rolloutd\n", argv[0], cfg->data_dir);
	return 0;
}

/* Member key of o as text, "-" when absent or null. */
static const char *str_or_dash(const json_t *o, const char *key)
{
	const char *s = rd_json_str(o, key);
	return s ? s : "-";
}

static void print_age(int64_t ms)
{
	if (ms < 0)
		printf("%-8s", "-");
	else if (ms < 100000)
		printf("%-8.1f", (double)ms / 1000.0);
	else
		printf("%-8lld", (long long)(ms / 1000));
}

/* rolloutd cluster status [--json]: the daemons on the database, who runs
 * each cluster-wide job, who drives each unfinished deployment. */
static int cmd_cluster(struct rd_config *cfg, int argc, char **argv)
{
	struct store *st = NULL;
	struct rd_error rerr = RD_ERROR_INIT;
	json_t *o = NULL, *v;
	bool as_json = argc == 2 && !strcmp(argv[1], "--json");
	size_t i;
	int r;

	if (argc < 1 || strcmp(argv[0], "status") != 0 || (argc == 2 && !as_json) || argc > 2) {
		fprintf(stderr, "rolloutd: usage: cluster status [--json]\n");
		return 2;
	}
	if (!cfg->store) {
		fprintf(stderr,
			"rolloutd: cluster status needs store: postgresql://… in %s: a SQLite store is one "
			"daemon\n",
			cfg->path);
		return 1;
	}
	r = store_config_open(cfg, &st, &rerr);
	if (r == 0)
		r = store_cluster_status(st, &o);
	store_close(st);
	if (r < 0) {
		fprintf(stderr, "rolloutd: cluster status: %s\n", rerr.message[0] ? rerr.message : strerror(-r));
		return 1;
	}
	if (as_json) {
		char *t = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", t ? t : "{}");
		free(t);
		json_decref(o);
		return 0;
	}
	printf("DAEMONS\n%-36s  %-8s %-28s %-20s %-8s %-10s %s\n", "ID", "STATE", "URL", "HOSTNAME", "PID", "HEARTBEAT",
	       "DEPLOYMENTS");
	json_array_foreach(json_object_get(o, "daemons"), i, v)
	{
		printf("%-36s  %-8s %-28s %-20s %-8lld ", str_or_dash(v, "id"), str_or_dash(v, "state"),
		       str_or_dash(v, "url"), str_or_dash(v, "hostname"),
		       (long long)json_integer_value(json_object_get(v, "pid")));
		print_age(json_integer_value(json_object_get(v, "heartbeat_age_ms")));
		printf("s ago %lld\n", (long long)json_integer_value(json_object_get(v, "deployments")));
	}
	printf("\nJOBS\n%-12s %-36s  %s\n", "JOB", "DAEMON", "EXPIRES IN");
	json_array_foreach(json_object_get(o, "jobs"), i, v)
	{
		printf("%-12s %-36s  ", str_or_dash(v, "name"), rd_json_str(v, "daemon_id"));
		print_age(json_integer_value(json_object_get(v, "expires_in_ms")));
		printf("s\n");
	}
	printf("\nDEPLOYMENTS\n%-12s %-11s %-36s  %s\n", "ID", "STATUS", "DAEMON", "GROUP");
	json_array_foreach(json_object_get(o, "deployments"), i, v)
	{
		const char *dm = rd_json_str(v, "daemon_id"), *ds = rd_json_str(v, "daemon_state");
		printf("%-12s %-11s %-36s  %s/%s%s%s\n", str_or_dash(v, "deployment_id"), str_or_dash(v, "status"),
		       dm ? dm : "(none)", str_or_dash(v, "application"), str_or_dash(v, "deployment_group"),
		       ds && strcmp(ds, "alive") ? " (daemon " : "", ds && strcmp(ds, "alive") ? ds : "");
		if (ds && strcmp(ds, "alive"))
			printf(")\n");
	}
	json_decref(o);
	return 0;
}

/* Retention runs as a job on the worker pool, one bounded store step after
 * another, so neither the I/O thread nor the engine waits for more than one
 * batch. */
#define RETENTION_BATCH 500
/* a shared bundle's writer gone for this long died (store_bundle_put) */
#define BUNDLE_STALE_MS (3600LL * 1000)

static void retention_job(void *arg)
{
	struct rd_daemon *d = arg;
	struct store_retention_counts n = {0};
	int64_t now = rd_wall_ms();
	const struct rd_config *cfg = d->cfg;
	bool more = cfg->retention_deployments_ms || cfg->retention_hook_logs_ms;
	size_t audit_removed = 0, bundle_chunks = 0;
	int r = 0;

	while (more && !d->stopping && r == 0)
		r = store_retention_step(
		    d->store, cfg->retention_deployments_ms ? now - cfg->retention_deployments_ms : 0,
		    cfg->retention_hook_logs_ms ? now - cfg->retention_hook_logs_ms : 0, RETENTION_BATCH, &n, &more);
	/* the audit trail, by the same batches */
	more = cfg->retention_audit_ms > 0;
	while (more && !d->stopping && r == 0) {
		size_t k = 0;
		r = store_audit_prune(d->store, now - cfg->retention_audit_ms, RETENTION_BATCH, &k, &more);
		audit_removed += k;
	}
	if (audit_removed)
		log_info("retention: removed %zu audit record(s)", audit_removed);
	/* bundles kept in the database for a cluster's daemons, once nothing
	 * refers to them; a copy a writer left incomplete an hour ago */
	more = store_is_postgresql(d->store);
	while (more && !d->stopping && r == 0) {
		size_t k = 0;
		r = store_retention_bundles_step(
		    d->store, cfg->retention_deployments_ms ? now - cfg->retention_deployments_ms : 0,
		    now - BUNDLE_STALE_MS, &k, &more);
		bundle_chunks += k;
	}
	if (bundle_chunks)
		log_info("retention: removed %zu chunk(s) of bundles no deployment or revision refers to",
			 bundle_chunks);
	if (r < 0)
		log_warning("retention: %s; trying again in %lld s", strerror(-r),
			    (long long)(cfg->retention_interval_ms / 1000));
	if (n.rows)
		log_info("retention: removed %zu deployment(s) and %zu hook-log chunk(s) (%zu rows)", n.deployments,
			 n.hook_logs, n.rows);
	__atomic_store_n(&d->retention_running, false, __ATOMIC_RELEASE);
}

static void on_retention(evutil_socket_t fd, short what, void *arg)
{
	struct rd_daemon *d = arg;

	/* on a cluster, one daemon at a time removes old rows */
	if (!cluster_is_leader(d, "retention"))
		return;
	if (__atomic_exchange_n(&d->retention_running, true, __ATOMIC_ACQ_REL))
		return;
	if (workpool_submit(d->pool, retention_job, d) < 0)
		__atomic_store_n(&d->retention_running, false, __ATOMIC_RELEASE);
}

static void key_sweep_job(void *arg)
{
	struct rd_daemon *d = arg;

	api_enroll_sweep(d, NULL); /* logs what it revokes and why it could not */
	__atomic_store_n(&d->key_sweep_running, false, __ATOMIC_RELEASE);
}

static void on_key_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct rd_daemon *d = arg;

	if (__atomic_exchange_n(&d->key_sweep_running, true, __ATOMIC_ACQ_REL))
		return;
	if (workpool_submit(d->pool, key_sweep_job, d) < 0)
		__atomic_store_n(&d->key_sweep_running, false, __ATOMIC_RELEASE);
}

/* ---- GET /metrics ---- */

/* userdata: the authenticator when metrics_require_key is set, else NULL. */
static void metrics_route(struct httpd_call *call, void *userdata)
{
	struct rd_error e = RD_ERROR_INIT;
	struct httpd_identity id;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (userdata) {
		r = auth_check_basic(userdata, httpd_call_header(call, "Authorization"), "GET /metrics", &id, &e);
		if (r == -EPERM) {
			httpd_call_add_header(call, "WWW-Authenticate", "Basic realm=\"rolloutd metrics\"");
			httpd_call_error_status(call, 401, e.code, "%s", e.message);
			return;
		}
		if (r < 0) {
			httpd_call_error_status(call, r == -EACCES ? 403 : 500, e.code, "%s", e.message);
			return;
		}
	}
	if (metrics_render(&text, &len) < 0) {
		httpd_call_error_status(call, 500, "InternalFailure", "out of memory rendering the metrics");
		return;
	}
	httpd_call_reply_bytes(call, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

struct state_metrics {
	struct rd_daemon *d;
	struct metric *deployments, *last_seen, *age, *connected, *cache_bytes, *cache_bundles;
	double now, connected_within, n_connected;
};

static void count_deployments(const char *status, const char *app, const char *platform, int64_t n, void *ud)
{
	struct state_metrics *sm = ud;
	metric_set(sm->deployments, (double)n, status, app, platform);
}

static void agent_age(double last_seen, const char *const *labels, void *ud)
{
	struct state_metrics *sm = ud;
	metric_set(sm->age, sm->now - last_seen, labels[0]);
	if (sm->now - last_seen <= sm->connected_within)
		sm->n_connected++;
}

/* Gauges of state, computed at each scrape (on the scraping worker). */
static void collect_state(void *arg)
{
	struct state_metrics *sm = arg;
	char dir[4200];
	double bytes = 0, n = 0;
	DIR *dh;
	struct dirent *de;
	struct stat st;

	metric_clear(sm->deployments);
	store_deployment_counts(sm->d->store, count_deployments, sm);
	sm->now = (double)rd_wall_ms() / 1000.0;
	sm->n_connected = 0;
	metric_clear(sm->age);
	metric_each(sm->last_seen, agent_age, sm);
	metric_set(sm->connected, sm->n_connected, NULL);
	snprintf(dir, sizeof(dir), "%s/bundles/objects", sm->d->cfg->data_dir);
	if ((dh = opendir(dir))) {
		while ((de = readdir(dh)))
			if (de->d_name[0] != '.' && fstatat(dirfd(dh), de->d_name, &st, 0) == 0 &&
			    S_ISREG(st.st_mode)) {
				bytes += (double)st.st_size;
				n++;
			}
		closedir(dh);
	}
	metric_set(sm->cache_bytes, bytes, NULL);
	metric_set(sm->cache_bundles, n, NULL);
}

static int metrics_start(struct rd_daemon *d, struct auth *auth, struct httpd **ret_listener, struct rd_error *e)
{
	void *guard = d->cfg->metrics_require_key ? auth : NULL;
	static struct state_metrics sm;
	static bool collecting;
	int r;

	metrics_declare();
	sm.d = d;
	sm.deployments = metric_gauge("rolloutd_deployments",
				      "Deployments in the store by status, application and "
				      "compute platform.",
				      (const char *const[]){"status", "application", "platform", NULL});
	sm.last_seen = metric_gauge("rolloutd_agent_last_seen_timestamp_seconds",
				    "When each instance's agent last polled or reported (Unix time).",
				    (const char *const[]){"instance_name", NULL});
	sm.age = metric_gauge("rolloutd_agent_last_seen_age_seconds",
			      "Seconds since each instance's agent last polled or reported.",
			      (const char *const[]){"instance_name", NULL});
	sm.connected = metric_gauge("rolloutd_agents_connected",
				    "Agents heard from within two long-poll periods (or holding a poll).", NULL);
	sm.cache_bytes = metric_gauge("rolloutd_bundle_cache_bytes", "Bytes of bundles in the bundle cache.", NULL);
	sm.cache_bundles = metric_gauge("rolloutd_bundle_cache_bundles", "Bundles in the bundle cache.", NULL);
	sm.connected_within = 2.0 * (double)d->cfg->long_poll_ms / 1000.0 + 10;
	if (!collecting && metrics_add_collector(collect_state, &sm) == 0)
		collecting = true;
	*ret_listener = NULL;
	if (!d->cfg->metrics_listen)
		return httpd_register_public_get(d->httpd, "/metrics", metrics_route, guard);
	r = httpd_new_at(d, d->cfg->metrics_listen, "metrics_listen", ret_listener, e);
	if (r == 0)
		r = httpd_register_public_get(*ret_listener, "/metrics", metrics_route, guard);
	return r;
}

/* The authenticator's access keys are the store's. */
static int lookup_access_key(void *userdata, const char *id, struct auth_key *ret)
{
	struct rd_daemon *d = userdata;
	struct store_access_key k;
	int r;

	r = store_access_key_get(d->store, id, &k);
	if (r < 0)
		return r;
	rd_strlcpy(ret->id, k.id, sizeof(ret->id));
	rd_strlcpy(ret->secret, k.secret, sizeof(ret->secret));
	rd_strlcpy(ret->name, k.name, sizeof(ret->name));
	rd_strlcpy(ret->policy, k.policy, sizeof(ret->policy));
	rd_strlcpy(ret->instance, k.instance, sizeof(ret->instance));
	rd_strlcpy(ret->old_secret, k.old_secret, sizeof(ret->old_secret));
	rd_strlcpy(ret->status, k.status, sizeof(ret->status));
	rd_strlcpy(ret->applications, k.applications, sizeof(ret->applications));
	explicit_bzero(k.secret, sizeof(k.secret));
	explicit_bzero(k.old_secret, sizeof(k.old_secret));
	return 0;
}

static int deployment_application(void *userdata, const char *id, char *app, size_t len)
{
	struct rd_daemon *d = userdata;

	return store_deployment_application(d->store, id, app, len);
}

/* Keys' last uses are written in batches: auth reports each key at most
 * once a minute, but a fleet of 10,000 agents made that one commit (and one
 * fsync, and one wait for the store's write lock) per key every few
 * milliseconds. They are collected here and written every
 * KEY_USES_FLUSH_MS in one transaction on a worker; LastUsed is therefore
 * up to that much late. */
#define KEY_USES_FLUSH_MS 2000

static pthread_mutex_t key_uses_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *key_uses; /* key id -> when_ms, not written yet */

static void access_key_used(void *userdata, const char *id, int64_t when_ms)
{
	(void)userdata;
	pthread_mutex_lock(&key_uses_lock);
	if (!key_uses)
		key_uses = json_object();
	if (key_uses)
		json_object_set_new(key_uses, id, json_integer(when_ms));
	pthread_mutex_unlock(&key_uses_lock);
}

static void key_uses_flush(struct rd_daemon *d)
{
	json_t *batch;
	int r;

	pthread_mutex_lock(&key_uses_lock);
	batch = key_uses;
	key_uses = NULL;
	pthread_mutex_unlock(&key_uses_lock);
	if (!batch)
		return;
	r = store_access_keys_touch(d->store, batch);
	if (r < 0)
		log_warning("cannot record the last use of %zu access keys: %s", json_object_size(batch), strerror(-r));
	json_decref(batch);
}

static void key_uses_job(void *arg)
{
	struct rd_daemon *d = arg;

	key_uses_flush(d);
	__atomic_store_n(&d->key_uses_running, false, __ATOMIC_RELEASE);
}

static void on_key_uses(evutil_socket_t fd, short what, void *arg)
{
	struct rd_daemon *d = arg;

	(void)fd;
	(void)what;
	if (__atomic_exchange_n(&d->key_uses_running, true, __ATOMIC_ACQ_REL))
		return;
	if (workpool_submit(d->pool, key_uses_job, d) < 0)
		__atomic_store_n(&d->key_uses_running, false, __ATOMIC_RELEASE);
}

/* The JSON services (GET /health is the transport's own). */
static const struct {
	const char *target_prefix, *sigv4_service;
	httpd_handler_fn fn;
} services[] = {
    /* the control API and rolloutd's extensions (daemon/api) */
    {"CodeDeploy_20141006", "codedeploy", api_codedeploy_call},
    {"Rolloutd_v1", "codedeploy", api_ext_call},
    /* the agents' host-command service (daemon/engine), through the
     * cluster's relay (daemon/relay; the engine's own on one daemon) */
    {"CodeDeployCommandService_v20141006", "codedeploy-commands", relay_hostcmd_call},
    {"CodeDeployCommandService", "codedeploy-commands-secure", relay_hostcmd_call},
};

/* Every route the daemon serves. */
static int register_routes(struct rd_daemon *d)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < RD_ARRAY_SIZE(services); i++) {
		r = httpd_register_service(d->httpd, services[i].target_prefix, services[i].sigv4_service,
					   services[i].fn, d);
		if (r < 0)
			log_error("cannot register the %s service: %s", services[i].target_prefix, strerror(-r));
	}
	/* bundles agents download, and uploads (daemon/bundles) */
	if (r == 0)
		r = httpd_register_get(d->httpd, BUNDLES_ROUTE_GET_PREFIX, BUNDLES_ROUTE_GET_SERVICE, bundles_route_get,
				       NULL);
	if (r == 0)
		r = httpd_register_raw(d->httpd, BUNDLES_ROUTE_UPLOADS_PREFIX, BUNDLES_ROUTE_UPLOADS_SERVICE,
				       bundles_route_uploads, NULL);
	if (r < 0)
		log_error("cannot register the /bundles routes: %s", strerror(-r));
	/* with tls.client_ca, what only agents call needs their certificate */
	for (size_t i = 0; r == 0 && i < RD_ARRAY_SIZE(services); i++)
		if (services[i].fn == relay_hostcmd_call)
			r = httpd_require_client_cert(d->httpd, services[i].target_prefix);
	if (r == 0)
		r = httpd_require_client_cert(d->httpd, BUNDLES_ROUTE_GET_PREFIX);
	return r;
}

static int run(struct rd_daemon *d)
{
	struct rd_error e = RD_ERROR_INIT;
	struct auth *auth = NULL;
	struct auth_kek *kek = NULL;
	struct ui *ui = NULL;
	struct audit *audit = NULL;
	struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL, *wd = NULL, *retention = NULL, *key_sweep = NULL,
		     *key_uses_timer = NULL;
	struct tls_listeners tls = {0};
	struct httpd *metrics_listener = NULL;
	uint64_t wd_usec = 0;
	bool engine_started = false;
	struct engine_io eio;
	int r, ret = 1;

	r = store_config_open(d->cfg, &d->store, &e);
	if (r < 0) {
		log_error("store: %s", e.message);
		goto out;
	}
	r = access_key_open_kek(d->cfg, d->store, &kek, &e);
	if (r < 0) {
		log_error("access keys: %s", e.message);
		goto out;
	}
	/* several daemons on one database: one signing key, one TLS
	 * certificate (before the engine opens data_dir/daemon.key); one KEK
	 * was checked by access_key_open_kek */
	r = shared_keys_check(d->cfg, d->store, kek, &e);
	if (r < 0) {
		log_error("%s", e.message);
		goto out;
	}
	/* several daemons on one database: this one's heartbeat and leases
	 * (nothing on SQLite), before the engine loads what it holds */
	r = cluster_start(d, &e);
	if (r < 0) {
		log_error("cluster: %s", e.message);
		goto out;
	}
	r = plugins_load(d, &d->plugins, &e);
	if (r < 0) {
		log_error("%s", e.message);
		goto out;
	}
	r = workpool_new(d->cfg->workers > 0 ? d->cfg->workers : 4, &d->pool);
	if (r < 0) {
		log_error("cannot start worker threads: %s", strerror(-r));
		goto out;
	}
	r = auth_new(lookup_access_key, d, d->cfg->regions_allowed, &auth);
	if (r < 0) {
		log_error("cannot set up authentication: %s", strerror(-r));
		goto out;
	}
	auth_set_deployment_application(auth, deployment_application);
	auth_set_key_used(auth, access_key_used);
	d->auth = auth;
	r = httpd_new(d, &d->httpd, &e);
	if (r < 0) {
		log_error("%s", e.message);
		goto out;
	}
	httpd_set_auth(d->httpd, auth_check_call, auth);
	/* calls another daemon of the cluster relayed here (refused on one daemon) */
	httpd_set_relay_check(d->httpd, RELAY_HDR_NAME, relay_check_header, d);
	r = audit_start(d->store, &audit);
	if (r < 0) {
		log_error("cannot start the audit trail's writer: %s", strerror(-r));
		goto out;
	}
	httpd_set_observer(d->httpd, audit_observe, audit);
	r = metrics_start(d, auth, &metrics_listener, &e);
	if (r < 0) {
		log_error("metrics: %s", e.message[0] ? e.message : strerror(-r));
		goto out;
	}
	if (d->plugins)
		plugins_set_onprem_source(d->plugins, api_onprem_instances, d);
	r = bundles_start(d, &e);
	if (r < 0) {
		log_error("bundles: %s", e.message);
		goto out;
	}
	r = register_routes(d);
	if (r < 0)
		goto out;
	/* several daemons on one database: calls relayed to the daemon that
	 * drives their deployment (nothing on SQLite) */
	r = relay_start(d, kek, &e);
	if (r < 0) {
		log_error("relay: %s", e.message);
		goto out;
	}
	/* one daemon: nothing decides where an agent's call goes, and the
	 * engine thread authenticates it, straight from the I/O thread */
	for (size_t i = 0; r == 0 && !d->relay && i < RD_ARRAY_SIZE(services); i++)
		if (services[i].fn == relay_hostcmd_call)
			r = httpd_set_direct(d->httpd, services[i].target_prefix, engine_hostcmd_direct, d);
	if (r < 0) {
		log_error("cannot route the host-command service to the engine: %s", strerror(-r));
		goto out;
	}
	/* the web dashboard (daemon/ui), over the same authenticator's keys */
	r = ui_new(d, auth, httpd_is_tls(d->httpd), &ui);
	if (r == 0)
		r = ui_register_routes(ui, d->httpd);
	if (r < 0) {
		log_error("cannot set up the dashboard: %s", strerror(-r));
		goto out;
	}
	/* the engine answers agents through the transport and tells the
	 * dashboard's waiting pages what changed */
	eio = engine_http_io;
	eio.changed = ui_deployment_changed;
	eio.changed_arg = ui;
	if (d->relay) {
		/* commands announced to the other daemons; held polls handed over */
		eio.hosts_due = relay_hosts_due;
		eio.relay = relay_poll_to;
		eio.cluster_arg = d;
	}
	/* before the engine: the deliveries its turns record from now on are
	 * queued by the engine itself, not found Pending a second time */
	r = triggers_resume(d);
	if (r < 0)
		log_warning("cannot resume pending trigger notifications: %s", strerror(-r));
	r = engine_start(d, &eio, &e);
	if (r < 0) {
		log_error("engine: %s", e.message);
		goto out;
	}
	engine_started = true;

	sigterm = evsignal_new(d->base, SIGTERM, on_signal, d);
	sigint = evsignal_new(d->base, SIGINT, on_signal, d);
	tls.api = d->httpd;
	tls.metrics = metrics_listener;
	sighup = evsignal_new(d->base, SIGHUP, on_sighup, &tls);
	if (!sigterm || !sigint || !sighup || evsignal_add(sigterm, NULL) < 0 || evsignal_add(sigint, NULL) < 0 ||
	    evsignal_add(sighup, NULL) < 0) {
		log_error("cannot install signal handlers");
		goto out;
	}
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		struct timeval tv = {.tv_sec = (time_t)(wd_usec / 2 / 1000000),
				     .tv_usec = (suseconds_t)(wd_usec / 2 % 1000000)};
		wd = event_new(d->base, -1, EV_PERSIST, on_watchdog, NULL);
		if (wd)
			event_add(wd, &tv);
	}
	if (d->cfg->retention_deployments_ms || d->cfg->retention_hook_logs_ms || d->cfg->retention_audit_ms) {
		struct timeval tv = {.tv_sec = (time_t)(d->cfg->retention_interval_ms / 1000),
				     .tv_usec = (suseconds_t)(d->cfg->retention_interval_ms % 1000 * 1000)};
		retention = event_new(d->base, -1, EV_PERSIST, on_retention, d);
		if (!retention || event_add(retention, &tv) < 0) {
			log_error("cannot set up the retention timer");
			goto out;
		}
		event_active(retention, EV_TIMEOUT, 0); /* once at start-up too */
	}
	{
		struct timeval tv = {.tv_sec = (time_t)(d->cfg->instance_key_sweep_ms / 1000),
				     .tv_usec = (suseconds_t)(d->cfg->instance_key_sweep_ms % 1000 * 1000)};
		key_sweep = event_new(d->base, -1, EV_PERSIST, on_key_sweep, d);
		if (!key_sweep || event_add(key_sweep, &tv) < 0) {
			log_error("cannot set up the instance key sweep timer");
			goto out;
		}
	}
	{
		struct timeval tv = {.tv_sec = KEY_USES_FLUSH_MS / 1000, .tv_usec = KEY_USES_FLUSH_MS % 1000 * 1000};
		key_uses_timer = event_new(d->base, -1, EV_PERSIST, on_key_uses, d);
		if (!key_uses_timer || event_add(key_uses_timer, &tv) < 0) {
			log_error("cannot set up the timer that records the keys' last uses");
			goto out;
		}
	}
	log_notice("rolloutd %s listening on %s (port %d, %s), data in %s", PACKAGE_VERSION, d->cfg->listen,
		   httpd_port(d->httpd), httpd_is_tls(d->httpd) ? "https" : "http", d->cfg->data_dir);
	sd_notify(0, "READY=1\nSTATUS=serving");
	event_base_dispatch(d->base);
	sd_notify(0, "STOPPING=1");
	ret = d->stopping ? 0 : 1;
out:
	d->stopping = true;
	/* Drain the workers first: handlers and the engine's plugin jobs may
	 * still call into the engine. Late submissions fail with -ESHUTDOWN
	 * (the engine then runs its job inline). */
	workpool_shutdown(d->pool);
	if (engine_started)
		engine_stop(d);
	/* before cluster_stop: the delivery thread asks the cluster whether this
	 * daemon is still alive before each attempt; what it leaves Pending goes
	 * to the daemon holding the "triggers" lease once this one stopped */
	triggers_shutdown(d);
	/* the deployments it drove go to the other daemons at once */
	cluster_stop(d);
	/* calls still relayed are answered (503, retry) before the transport goes */
	relay_stop(d);
	bundles_routes_stop(d);
	bundles_stop(d);
	/* the dashboard's held calls are completed before the transport goes */
	ui = ui_free(ui);
	d->httpd = httpd_free(d->httpd);
	metrics_listener = httpd_free(metrics_listener);
	/* after the transport: no call is answered any more */
	audit = audit_stop(audit);
	d->pool = workpool_free(d->pool);
	/* the last uses not written yet (no request comes in any more) */
	if (d->store)
		key_uses_flush(d);
	d->auth = NULL;
	auth = auth_free(auth);
	if (wd)
		event_free(wd);
	if (retention)
		event_free(retention);
	if (key_sweep)
		event_free(key_sweep);
	if (key_uses_timer)
		event_free(key_uses_timer);
	if (sighup)
		event_free(sighup);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	d->plugins = plugins_unload(d->plugins);
	d->store = store_close(d->store);
	kek = auth_kek_free(kek);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'k'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config_path = NULL;
	bool check = false;
	struct rd_daemon d;
	struct rd_error rerr = RD_ERROR_INIT;
	int o, r, ret;

	memset(&d, 0, sizeof(d));
	/* stop at the first non-option: "access-key create --name ..." */
	while ((o = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			config_path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'V':
			printf("rolloutd %s (plugin ABI %s)\n", PACKAGE_VERSION, ROLLOUT_ABI_STRING);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config_path) {
		fprintf(stderr, "rolloutd: --config FILE is required\n");
		usage(stderr);
		return 2;
	}
	r = config_load(config_path, &d.cfg, &rerr);
	if (r < 0) {
		fprintf(stderr, "rolloutd: %s\n", rerr.message);
		return 1;
	}
	rd_log_init("rolloutd", d.cfg->log_level ? rd_log_level_parse(d.cfg->log_level) : LOG_INFO);
	if (optind < argc) {
		const char *cmd = argv[optind];
		if (strcmp(cmd, "access-key") != 0 && strcmp(cmd, "backup") != 0 && strcmp(cmd, "restore") != 0 &&
		    strcmp(cmd, "cluster") != 0) {
			fprintf(stderr, "rolloutd: unknown command '%s'\n", cmd);
			usage(stderr);
			config_free(d.cfg);
			return 2;
		}
		if (become_data_dir_owner(d.cfg) < 0)
			ret = 1;
		else if (strcmp(cmd, "backup") == 0)
			ret = cmd_backup(d.cfg, argc - optind - 1, argv + optind + 1);
		else if (strcmp(cmd, "restore") == 0)
			ret = cmd_restore(d.cfg, argc - optind - 1, argv + optind + 1);
		else if (strcmp(cmd, "cluster") == 0)
			ret = cmd_cluster(d.cfg, argc - optind - 1, argv + optind + 1);
		else
			ret = access_key_cmd(d.cfg, argc - optind - 1, argv + optind + 1);
		config_free(d.cfg);
		return ret;
	}
	if (check) {
		struct plugin_registry *reg = NULL;
		r = plugins_load_config(d.cfg, NULL, &reg, &rerr);
		plugins_unload(reg);
		if (r < 0) {
			fprintf(stderr, "rolloutd: %s\n", rerr.message);
			config_free(d.cfg);
			return 1;
		}
		printf("%s: configuration OK\n", config_path);
		config_free(d.cfg);
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() < 0) {
		log_error("libevent has no pthreads support");
		config_free(d.cfg);
		return 1;
	}
	{
		/* libevent batches the changes of a loop turn's events into one
		 * epoll_ctl per descriptor (or none when they cancel out): every
		 * agent call disabled and enabled its connection's read and write
		 * interest one system call at a time, a tenth of the I/O thread's
		 * CPU in fleet-sim. Safe because the daemon registers no
		 * descriptor that is a dup() of another (libevent's condition). */
		struct event_config *ecfg = event_config_new();
		if (ecfg && event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0)
			d.base = event_base_new_with_config(ecfg);
		if (ecfg)
			event_config_free(ecfg);
	}
	/* Two priorities: every event has the default, 1, except the HTTP
	 * server's look at new connections, which must run before their I/O
	 * (httpd.c, the connection cap). */
	if (!d.base || event_base_priority_init(d.base, 2) < 0) {
		log_error("cannot create the event loop");
		config_free(d.cfg);
		return 1;
	}
	ret = run(&d);
	event_base_free(d.base);
	config_free(d.cfg);
	libevent_global_shutdown();
	return ret;
}
