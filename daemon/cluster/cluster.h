/* Several daemons on one PostgreSQL database (docs/cluster.md): who is
 * alive, which daemon drives which unfinished deployment (a lease), which
 * runs each cluster-wide job, and NOTIFY / LISTEN between them.
 *
 * Each daemon has a row in cluster_daemons with a heartbeat the cluster's
 * own thread renews every lease_ttl / 3 (the database's clock). A daemon
 * whose heartbeat is older than lease_ttl is expired by any live one, and
 * the deployments it drove are taken over by the live daemons, each taking
 * at most its share per round (cluster_pick), and handed to their engines,
 * which resume them from the committed state as after a restart.
 *
 * Fencing: a daemon drives only while cluster_driving() (its last
 * successful renewal started less than lease_ttl - a margin ago, on the
 * monotonic clock), and each engine transaction first checks that its row
 * is still alive (store_eng_fence_check). A daemon that finds itself
 * expired registers again under a new id (a new incarnation) and drives
 * only what it leases anew.
 *
 * On SQLite none of this runs: cluster_enabled() is false, every deployment
 * is driven here and every job runs here. main.c starts it after the store
 * and before the engine, and stops it after the engine. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct rd_daemon;
struct rd_config;

/* after the store opened, before engine_start; on SQLite: does nothing, cluster_enabled() false */
int cluster_start(struct rd_daemon *d, struct rd_error *err);
/* after engine_stop: marks this daemon stopped and hands its leases back so others take them at once */
void cluster_stop(struct rd_daemon *d);
bool cluster_enabled(const struct rd_daemon *d);
/* this daemon process's id (a fresh uuid per start; a new one after it found itself expired) */
const char *cluster_self_id(const struct rd_daemon *d);
/* config cluster.advertise_url: how the other daemons reach this one's listener (scheme://host:port);
 * default derived from `listen` when it is not a wildcard, else start refused on PostgreSQL */
const char *cluster_self_url(const struct rd_daemon *d);
/* Which daemon drives deployment dep_id: 0 this daemon, or nobody alive drives it (handle locally);
 * 1 another live daemon, its advertise URL copied into peer_url; negative errno on error.
 * Never blocks on the database: reads an in-memory snapshot (refreshed at each heartbeat and when a
 * lease changes hands: NOTIFY rolloutd_lease). Any thread. */
int cluster_driver(struct rd_daemon *d, const char *dep_id, char *peer_url, size_t len);
/* this daemon holds the cluster-wide lease named job ("retention", "autoscale", "autoupdate", "triggers");
 * true on SQLite. A name asked about for the first time is taken at the next heartbeat. */
bool cluster_is_leader(struct rd_daemon *d, const char *job);
/* pg_notify through the store; no-op on SQLite */
int cluster_notify(struct rd_daemon *d, const char *channel, const char *payload);
/* fn(payload, ud) runs on the cluster's own thread for each NOTIFY on channel (LISTEN on a dedicated
 * libpq connection, reconnected when PostgreSQL restarts); register before cluster_start or at any time */
int cluster_listen(struct rd_daemon *d, const char *channel, void (*fn)(const char *payload, void *ud), void *ud);

/* ---- for the engine ---- */

/* Whether this daemon may drive deployments now: its heartbeat is fresh
 * (always true on SQLite). *ret_incarnation (may be NULL) counts the times
 * it registered: an engine that loaded its deployments under another one
 * drops them and loads what it holds now. */
bool cluster_driving(struct rd_daemon *d, uint64_t *ret_incarnation);
/* When (monotonic ms) driving ends unless the heartbeat is renewed first;
 * INT64_MAX on SQLite. */
int64_t cluster_drive_deadline(struct rd_daemon *d);
/* The engine's entry for deployments leased to this daemon by another
 * (a takeover, a new deployment of a group it drives): adopt(d, dep_id) on
 * the cluster's thread; must not block. */
void cluster_set_adopt(struct rd_daemon *d, void (*adopt)(struct rd_daemon *d, const char *dep_id));

/* ---- the takeover's arithmetic (pure; cluster.c) ---- */

/* How many of n orphaned deployments one of `alive` live daemons takes in a
 * round: its share, rounded up, at least 1 when n > 0. */
size_t cluster_share(size_t n, size_t alive);
/* The URL the other daemons reach this one at: cfg's cluster.advertise_url,
 * else http(s)://listen; a ConfigError naming cfg's file when listen is a
 * wildcard (0.0.0.0, [::], ...) and no advertise_url is set. */
int cluster_advertise_url(const struct rd_config *cfg, char *buf, size_t len, struct rd_error *err);
