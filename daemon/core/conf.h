/* The daemon's configuration: one YAML file parsed once at start
 * (lib/yamltree.h), validated completely, with errors as FILE:LINE:COL.
 * Plugins get only their own subtree (plugins.<name>) through the host
 * table. Unknown keys anywhere are errors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct yt_node;

struct rd_config {
	char *path;			  /* the file it came from */
	char *listen;			  /* "127.0.0.1:8740" (host:port; [v6]:port) */
	char *data_dir;			  /* state.db, daemon.crt/key, bundle cache */
	char *plugin_dir;		  /* default PLUGINDIR */
	char *region;			  /* default us-east-1 */
	char *account_id;		  /* default 000000000000 */
	char *log_level;		  /* default info */
	int64_t long_poll_ms;		  /* PollHostCommand hold, default 50000 (< 80 s agent timeout) */
	int workers;			  /* worker threads for blocking work, default 4 */
	char **regions_allowed;		  /* NULL-terminated; NULL = any region in SigV4 scopes */
	uint64_t bundle_cache_max;	  /* bytes the bundle cache keeps, default 10 GiB */
	uint64_t bundle_upload_max;	  /* largest bundle upload accepted, default 2 GiB (<= bundle_cache_max) */
	int64_t retention_deployments_ms; /* finished deployments older than this are removed; 0 = kept */
	int64_t retention_hook_logs_ms;	  /* hook logs of finished deployments older than this; 0 = kept */
	int64_t retention_interval_ms;	  /* how often retention runs, default 1 h */
	char *metrics_listen;		  /* GET /metrics here instead of on listen; NULL = on listen */
	bool metrics_require_key;	  /* GET /metrics wants an access key's Basic credentials */
	int64_t hook_timeout_ms;	  /* Lambda/ECS hooks: wait for their status, default and at most 1 h */
	/* limits: the HTTP front end's defences against abusive clients */
	uint64_t limit_header_max;	  /* bytes of request line and headers, default 64 KiB */
	uint64_t limit_body_max;	  /* bytes of a JSON operation's body, default 1 MiB */
	int64_t limit_request_timeout_ms; /* reading a request (and writing its answer), default 120 s */
	int limit_failed_auth_per_minute; /* failed signatures per source address, default 60; 0 = no limit */
	int64_t limit_max_connections;	  /* open connections per listener; 0 = from the descriptor limit */
	int64_t limit_long_polls_per_key; /* PollHostCommand calls held at once per access key; 0 = no cap */
	char *kek_file;			  /* key-encryption key of access-key secrets; NULL = data_dir/kek */
	char *store;			  /* PostgreSQL connection URI; NULL = SQLite in data_dir */
	char *store_password_file;	  /* its password, read at start; NULL = URI, PGPASSWORD, PGPASSFILE */
	int64_t retention_audit_ms;	  /* audit records older than this are removed; 0 = kept */
	int64_t instance_key_sweep_ms;	  /* how often keys of terminated EC2 instances are revoked, default 5 min */
	char *tls_cert;			  /* PEM certificate (chain allowed); NULL = plain HTTP */
	char *tls_key;			  /* its PEM private key */
	char *tls_client_ca;		  /* agents' client certificates are checked against it; NULL = no mTLS */
	int64_t cluster_lease_ttl_ms;	  /* PostgreSQL: a daemon silent this long loses its deployments, default 5 s */
	char *cluster_advertise_url;	  /* how the other daemons reach this one; NULL = from listen */

	/* Owned by root; borrowed pointers into it. NULL when absent. */
	struct yt_node *root;
	const struct yt_node *plugins;		   /* map: plugin name -> its settings (map or null) */
	const struct yt_node *alarms;		   /* map: alarm name -> {plugin: X, ...settings} */
	const char *alarm_fallback_plugin;	   /* checks alarm names not under alarms:; NULL: none */
	const struct yt_node *alarm_fallback_node; /* its node, for error positions */
};

/* Loads and validates path. On error returns negative errno with a one-line
 * message (FILE:LINE:COL: ...) in e. *ret owned by caller. */
int config_load(const char *path, struct rd_config **ret, struct rd_error *e);
struct rd_config *config_free(struct rd_config *cfg);

/* Settings keys (YAML), all optional:
 *   listen: HOST:PORT            default 127.0.0.1:8740
 *   data_dir: PATH               default LOCALSTATEDIR/lib/rolloutd
 *   plugin_dir: PATH             default PLUGINDIR ($(libdir)/rolloutd/plugins)
 *   region: NAME                 default us-east-1
 *   account_id: 12 digits        default 000000000000
 *   log_level: debug|info|notice|warning|error   default info
 *   long_poll: DURATION          default 50s (1s..70s)
 *   workers: 1..256              default 4
 *   regions_allowed: [NAME...]   default any
 *   bundle_cache_max: SIZE       default 10GiB (at least 1KiB)
 *   bundle_upload_max: SIZE      default 2GiB, or bundle_cache_max when that is smaller;
 *                                never more than bundle_cache_max
 *   plugins: {NAME: {settings} | null}
 *   alarms: {NAME: {plugin: NAME, settings...}}   (plugin must be under plugins:)
 *   metrics_listen: HOST:PORT    GET /metrics on its own listener (default: on listen)
 *   metrics_require_key: BOOL    default false: GET /metrics is served to anyone who reaches
 *                                it; true: only with HTTP Basic credentials of an access key
 *                                (id as user, secret as password) whose policy allows it
 *   retention: {deployments: DURATION, hook_logs: DURATION, audit: DURATION, interval: DURATION}
 *                                default: everything kept; interval 1h
 *   kek_file: PATH               default data_dir/kek: the key-encryption key of access-key
 *                                secrets (created 0600 when missing; refused when group or
 *                                others may read it)
 *   store: URI                   default none (SQLite in data_dir/state.db): a PostgreSQL
 *                                connection URI (postgresql://USER@HOST:PORT/DB?sslmode=...);
 *                                its parameters pass to libpq; several daemons may share it
 *                                (docs/cluster.md)
 *   store_password_file: PATH    the PostgreSQL password, first line of the file (mode 0600 or
 *                                stricter); else libpq's: the URI, PGPASSWORD, PGPASSFILE
 *   alarm_fallback_plugin: NAME  default none: the health plugin (under plugins:) that
 *                                checks an alarm name with no entry under alarms:
 *   hook_timeout: DURATION       default 1h (1s..1h): how long a Lambda/ECS lifecycle hook
 *                                may take to report PutLifecycleEventHookExecutionStatus
 *   instance_key_sweep: DURATION default 5m (1s..24h): how often the agent keys of EC2
 *                                instances the platform plugins see terminated are revoked
 *   limits: {header_max: SIZE, body_max: SIZE, request_timeout: DURATION, failed_auth_per_minute: N}
 *                                defaults 64KiB, 1MiB, 120s, 60: request line and headers larger
 *                                than header_max and JSON bodies larger than body_max are refused
 *                                (413; a declared Content-Length over the larger of body_max and the
 *                                4 MiB raw-route limit before the body is read); a client that does
 *                                not finish sending its request within request_timeout is dropped;
 *                                a source address whose signatures failed failed_auth_per_minute
 *                                times in a minute is answered ThrottlingException until the minute
 *                                ends (0: no limit). request_timeout must exceed long_poll.
 *   tls: {cert: FILE, key: FILE, client_ca: FILE}
 *                                default none (plain HTTP): every listener serves HTTPS with
 *                                this PEM certificate (chain allowed) and key, reloaded on
 *                                SIGHUP; client_ca (optional) makes the host-command and
 *                                bundle routes require an agent certificate signed by it
 *   cluster: {lease_ttl: DURATION, advertise_url: http(s)://HOST:PORT}
 *                                several daemons on one PostgreSQL store (docs/cluster.md):
 *                                lease_ttl (default 5s, 1s..10m) how long a daemon whose heartbeat
 *                                stopped keeps its deployments before the others take them over;
 *                                advertise_url how the others reach this daemon's listener
 *                                (default: from listen, which must then not be a wildcard)
 * Relative data_dir/plugin_dir/kek_file/store_password_file and tls files are resolved against the config file's
 * directory. */

/* The settings subtree of plugin `name` (borrowed; NULL when the plugin is
 * named with no settings or not named at all). */
const struct yt_node *config_plugin_settings(const struct rd_config *cfg, const char *name);

/* A size: bytes as digits, or a number with a unit: B, KiB/MiB/GiB/TiB
 * (also K/M/G/T; powers of 1024) or KB/MB/GB/TB (powers of 1000); the unit is
 * case-insensitive and may follow a space ("512MiB", "1.5 GiB", "4096").
 * 0 and *ret, or -EINVAL (malformed) / -ERANGE (over 2^63) with a message. */
int config_parse_size(const char *s, uint64_t *ret, char *err, size_t errlen);

/* 0 when s is HOST:PORT or [V6]:PORT; else -EINVAL with a message. */
int config_check_listen(const char *s, char *err, size_t errlen);
