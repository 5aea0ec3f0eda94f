/* Any daemon of a cluster answers any call (docs/cluster.md, "How calls
 * reach the driving daemon"). A call that only the daemon driving its
 * deployment can answer is relayed to it: the request as the caller sent it
 * (method, path, body, every header but the hop-by-hop ones, its SigV4
 * Authorization among them) plus an X-Rolloutd-Relay header
 * (relay_header.h) naming what only this daemon saw, to the driver's
 * cluster.advertise_url; the driver's status and body are the answer.
 *
 *   agents' reports (PutHostCommandAcknowledgement, PostHostCommandUpdate,
 *     PutHostCommandComplete): their HostCommandIdentifier names the
 *     deployment; cluster_driver() says who drives it;
 *   PollHostCommand: to the daemon that announced a command for the host
 *     (NOTIFY rolloutd_host, relay_notice.h, kept a while in relay_hosts.h)
 *     or, failing that, that the database says drives an unfinished
 *     deployment with the host's target still to do; else held here, and
 *     handed to the driver (engine_io.relay) when its notice comes. A poll
 *     answered empty early by the driver (another daemon announced a
 *     command meanwhile) is routed again for what is left of it;
 *   StopDeployment, ContinueDeployment, SkipWaitTimeForInstanceTermination,
 *     PutLifecycleEventHookExecutionStatus (relay_to_driver from the API).
 *
 * A relayed call is never relayed again. Transfers run on the relay's own
 * thread (libcurl's multi interface), so a relayed long-poll costs a socket,
 * not a thread. TLS to another daemon is pinned to the public key of this
 * daemon's own tls.cert: every daemon of a cluster serves the same
 * certificate (shared_keys.h checks it at start).
 *
 * On SQLite (one daemon) relay_start does nothing, d->relay stays NULL and
 * every function below hands the call to the engine or the API as before. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct auth_kek;
struct httpd_call;
struct httpd_relayed;
struct rd_daemon;
struct rd_error;

/* After cluster_start, the workpool and the HTTP server, before the engine:
 * derives the relay key from the KEK, listens to rolloutd_host and starts
 * the relay thread. Nothing (0) unless cluster_enabled(). */
int relay_start(struct rd_daemon *d, const struct auth_kek *kek, struct rd_error *err);
/* After engine_stop and before httpd_free: every call still in flight is
 * answered (503, retry). NULL-safe, and nothing on SQLite. */
void relay_stop(struct rd_daemon *d);

/* The transport's check of a relayed call (httpd_set_relay_check;
 * userdata: the struct rd_daemon). -EPERM with err naming what is wrong. */
int relay_check_header(void *userdata, const char *value, const char *authorization, struct httpd_relayed *ret,
		       struct rd_error *err);

/* The host-command services' route handler in front of
 * engine_hostcmd_call (userdata: the struct rd_daemon). */
void relay_hostcmd_call(struct httpd_call *call, void *userdata);

/* When another live daemon drives deployment dep_id and call did not come
 * relayed: relays call to it and returns true (the relay completes call).
 * False: the caller handles call here. Workpool threads. */
bool relay_to_driver(struct rd_daemon *d, struct httpd_call *call, const char *dep_id);

/* engine_io.hosts_due and engine_io.relay (cluster_arg: the struct rd_daemon). */
void relay_hosts_due(void *arg, const char *const *hosts, size_t n);
void relay_poll_to(void *arg, void *reply_to, const char *url, int64_t hold_ms);
