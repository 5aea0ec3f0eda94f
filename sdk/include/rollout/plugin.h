/* rollout/plugin.h — the rolloutd plugin SDK, ABI 1.1.
 *
 * This header is the whole contract between rolloutd and its plugins. A
 * plugin includes this file and nothing else of rolloutd's, and builds with
 *
 *     cc -shared -fPIC $(pkg-config --cflags rollout-plugin) -o NAME.so NAME.c
 *
 * and is installed as $(pkg-config --variable=plugindir rollout-plugin)/NAME.so.
 * It is loaded when the daemon config names it under `plugins:`. Unit-test it
 * against rollout/testing.h (pkg-config rollout-plugin-testing); the SDK's
 * README.md walks through writing, building, testing and installing one.
 *
 * ============================================================================
 * ABI RULES
 * ============================================================================
 *
 *  - ROLLOUT_ABI_MAJOR changes when anything is changed or removed. The entry
 *    symbol carries the major in its name (rollout_plugin_v1), so a plugin
 *    built for another major is refused before any of its code runs.
 *  - ROLLOUT_ABI_MINOR changes when something is appended: a member at the end
 *    of a struct, a value at the end of an enum, a function at the end of the
 *    host table or an ops table. Nothing else may change within a major.
 *  - Every struct crossing the boundary starts with a `size` member (the
 *    descriptor with its header). Readers look at a member only when `size`
 *    covers it, so old plugins keep working with newer daemons and vice
 *    versa, within one major. Always initialise tables with the
 *    ROLLOUT_*_INIT macros: they set `size` and leave unnamed members NULL.
 *  - Enums that cross the boundary are 32 bits wide (a *_FORCE_32 value).
 *  - A daemon loads a plugin whose minor is <= its own and refuses a newer
 *    one, naming both versions. A plugin built with a newer SDK than the
 *    daemon it may meet checks host->size (ROLLOUT_HOST_HAS()) before using a
 *    host function newer than ABI 1.0, and fails init with
 *    ROLLOUT_HOST_NEED() when it cannot do without it. The daemon reads an
 *    appended member of a plugin's table (ops, results) only when that
 *    table's size covers it: a 1.0 plugin keeps working unchanged.
 *
 * ABI CHANGELOG (newest first)
 *
 *   2026-12-06  1.1  lifecycle_receive events may carry "receiptHandle"
 *                    (a queued message kept until the engine stored what
 *                    it started) and lifecycle_complete takes "DELETE" for
 *                    it. A plugin that never reports one never gets it.
 *   2026-12-06  1.1  Host appended: aws_service_role, aws_assume_role
 *                    (STS AssumeRole of the deployment group's service
 *                    role); ROLLOUT_AWS_OPTIONS accepts assume_service_role
 *                    and sts_endpoint.
 *   2026-12-06  1.1  Source revalidation appended: rollout_fetch_result
 *                    etag, last_modified, not_modified; struct
 *                    rollout_fetch_cached; source op fetch_if_changed (a
 *                    conditional fetch of an unpinned location the daemon
 *                    holds). Read only when the table's size covers them.
 *   2026-12-06  1.1  Platform ops appended: fleet_provision, fleet_retire,
 *                    fleet_discard (server blue/green fleets a platform
 *                    creates or removes: a copied Auto Scaling group, the
 *                    original instances terminated), with struct
 *                    rollout_fleet_call. Then lifecycle_hooks,
 *                    lifecycle_receive, lifecycle_complete (Auto Scaling
 *                    launch hooks and scale-out deployments). Read only
 *                    when the ops table's size covers them.
 *   2026-12-05  1.1  Host: tag_filter_new/match/free (CodeDeploy's tag-filter
 *                    rule), alarm_settings_parse/free (alarm maps with the
 *                    daemon's common keys), xml_* (AWS query API responses).
 *                    Option type ROLLOUT_OPT_NUMBER. Source ops:
 *                    location_members and describe (pinned content and
 *                    promised sha256 of a location, so the daemon caches
 *                    any plugin's revision types). ROLLOUT_HOST_NEED().
 *                    Platforms that shift traffic themselves (Lambda,
 *                    ECS): rollout_deployment.appspec_json, the shift_*
 *                    platform ops (one plugin owns a deployment; steps
 *                    with stored state, timeouts and stop; hooks with an
 *                    engine-generated execution id; the target view); the
 *                    1.0 prepare/shift/finish are no longer called.
 *   2026-11-23  1.0  First version: descriptor, host table (log, config,
 *                    clock, HTTP with SigV4, on-prem instances, sha256),
 *                    platform / source / health / traffic ops.
 *
 * ============================================================================
 * LIFECYCLE AND THREADS
 * ============================================================================
 *
 *  1. At start the daemon dlopen()s NAME.so (RTLD_NOW | RTLD_LOCAL) and calls
 *     the single exported function rollout_plugin_v1(). That function must
 *     only return a pointer to a static const descriptor: no allocation, no
 *     I/O, no global state, no ELF constructors in the plugin.
 *  2. The daemon checks magic, ABI major/minor, descriptor size, kind and the
 *     kind's mandatory ops, and refuses a duplicate name. Only then it calls
 *     init() on the main thread, before any worker runs, with the host table
 *     and the plugin's handle. init() reads and validates the plugin's config
 *     (host->config_parse), and returns its private state. If init fails the
 *     daemon refuses to start, printing the message init wrote.
 *  3. While the daemon runs, ops are called on worker threads (never on the
 *     daemon's I/O thread, except the pure source op describe), possibly
 *     CONCURRENTLY from several workers with the same state. Ops may block
 *     (network, disk) but must respect the timeouts they are given. A
 *     plugin that keeps mutable state must lock it.
 *  4. At shutdown, after the last op has returned, destroy() is called once
 *     on the main thread with the state init returned. destroy() also runs
 *     when another plugin failed to load after this one's init succeeded.
 *
 * Host functions are thread-safe and may be called from any thread that is
 * running an op, and from init/destroy.
 *
 * ============================================================================
 * OWNERSHIP
 * ============================================================================
 *
 *  - `const char *` arguments given to a plugin are BORROWED: valid until the
 *    call returns. Copy what you keep.
 *  - Strings returned BY A PLUGIN through `char **ret_*` are allocated with
 *    malloc(3) by the plugin and freed by the daemon with free(3).
 *  - Strings and objects returned BY THE HOST are freed with the host
 *    function named in their documentation (host->free, host->http_free,
 *    host->tag_filter_free, host->alarm_settings_free, host->xml_free).
 *  - Config strings obtained through host->config_* are borrowed and stay
 *    valid until destroy() returns.
 *  - `struct rollout_handle` is the daemon's; never free it, only pass it back.
 *
 * ============================================================================
 * JSON
 * ============================================================================
 *
 * Structured data crosses the boundary as serialized JSON text (UTF-8,
 * NUL-terminated `const char *`), with the field names of the AWS CodeDeploy
 * API where one exists (e.g. a deployment group is a DeploymentGroupInfo
 * object). This keeps the ABI independent of any JSON library: plugins may
 * link jansson (or anything else) themselves to parse and produce it.
 *
 * ============================================================================
 * ERRORS
 * ============================================================================
 *
 * Every op and host function returns 0 on success or a negative errno value
 * (-EINVAL, -EIO, -ETIMEDOUT, ...). Ops that fail also fill the
 * struct rollout_error they are given: a stable CodeDeploy-style error code
 * (e.g. "REVISION_MISSING") and a one-line message saying what was wrong and
 * how to fix it. Use rollout_error_set(). Plugins never print; they log
 * through host->log, which tags every line with the plugin's name.
 */
#ifndef ROLLOUT_PLUGIN_H
#define ROLLOUT_PLUGIN_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <syslog.h> /* LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG */

#ifdef __cplusplus
extern "C" {
#endif

#define ROLLOUT_ABI_MAJOR 1
#define ROLLOUT_ABI_MINOR 1
#define ROLLOUT_ABI_STRING "1.1"

/* The one exported symbol, named after the major version. */
#define ROLLOUT_ENTRY_SYMBOL "rollout_plugin_v1"
/* First member of every descriptor: "RLPG". */
#define ROLLOUT_PLUGIN_MAGIC 0x524c5047u

#if defined(__GNUC__)
#define ROLLOUT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ROLLOUT_EXPORT __attribute__((visibility("default")))
#else
#define ROLLOUT_PRINTF(a, b)
#define ROLLOUT_EXPORT
#endif

/* True when a struct of `size` bytes (its own size member) contains `member`. */
#define ROLLOUT_HAS(ptr, type, member) ((ptr)->size >= offsetof(type, member) + sizeof(((type *)0)->member))

/* ------------------------------------------------------------------------ */
/* Kinds and enums (32 bits wide; values are appended only).                  */
/* ------------------------------------------------------------------------ */

enum rollout_kind {
	ROLLOUT_KIND_PLATFORM = 1, /* resolves deployment groups to targets */
	ROLLOUT_KIND_SOURCE = 2,   /* fetches revisions into the bundle cache */
	ROLLOUT_KIND_HEALTH = 3,   /* answers OK / ALARM / INSUFFICIENT_DATA for an alarm */
	ROLLOUT_KIND_TRAFFIC = 4,  /* blocks / allows traffic to a target */
	_ROLLOUT_KIND_FORCE_32 = 0x7fffffff
};

/* Compute platforms (CodeDeploy's computePlatform), as a bit set. */
enum rollout_compute_platform {
	ROLLOUT_COMPUTE_SERVER = 1u << 0, /* "Server": EC2 and on-premises */
	ROLLOUT_COMPUTE_LAMBDA = 1u << 1, /* "Lambda" */
	ROLLOUT_COMPUTE_ECS = 1u << 2,	  /* "ECS" */
	_ROLLOUT_COMPUTE_FORCE_32 = 0x7fffffff
};

enum rollout_alarm_state {
	ROLLOUT_ALARM_OK = 1,
	ROLLOUT_ALARM_ALARM = 2,
	ROLLOUT_ALARM_INSUFFICIENT_DATA = 3,
	_ROLLOUT_ALARM_FORCE_32 = 0x7fffffff
};

enum rollout_traffic_state {
	ROLLOUT_TRAFFIC_UNKNOWN = 0,
	ROLLOUT_TRAFFIC_ALLOWED = 1,  /* in service, receiving traffic */
	ROLLOUT_TRAFFIC_DRAINING = 2, /* blocked, existing connections still open */
	ROLLOUT_TRAFFIC_BLOCKED = 3,  /* blocked and drained */
	ROLLOUT_TRAFFIC_ABSENT = 4,   /* the backend does not know this target */
	_ROLLOUT_TRAFFIC_FORCE_32 = 0x7fffffff
};

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

/* Filled by a failing op. The daemon provides it zeroed with size set; the
 * plugin writes with rollout_error_set(). `code` is a CodeDeploy
 * errorInformation code where one fits (REVISION_MISSING,
 * MISSING_GITHUB_TOKEN, HEALTH_CONSTRAINTS, ...) or a plugin-specific
 * upper-case code; `message` says what went wrong and how to fix it. */
struct rollout_error {
	uint32_t size;
	char code[64];
	char message[1024];
};

static inline int rollout_error_setv(struct rollout_error *e, int r, const char *code, const char *fmt, va_list ap)
{
	if (e && e->size >= sizeof(*e)) {
		snprintf(e->code, sizeof(e->code), "%s", code ? code : "");
		vsnprintf(e->message, sizeof(e->message), fmt, ap);
	}
	return r;
}

/* Sets code and message and returns r (a negative errno), so that
 *     return rollout_error_set(err, -ENOENT, "REVISION_MISSING", "no object %s", key);
 * reports and fails in one line. */
static inline int rollout_error_set(struct rollout_error *e, int r, const char *code, const char *fmt, ...)
    ROLLOUT_PRINTF(4, 5);
static inline int rollout_error_set(struct rollout_error *e, int r, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rollout_error_setv(e, r, code, fmt, ap);
	va_end(ap);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Opaque handles. Each starts with a magic number the host checks on entry: */
/* a stale or foreign pointer makes the host fail loudly (-EINVAL + a log    */
/* line), never corrupt memory.                                               */
/* ------------------------------------------------------------------------ */

/* The plugin's own handle in the daemon: identifies the caller to the host
 * (log tag, config subtree). Given to init; valid until destroy returns. */
struct rollout_handle;
/* An HTTP response from host->http_request; free with host->http_free. */
struct rollout_http_response;
/* A parsed tag filter from host->tag_filter_new (ABI 1.1); free with
 * host->tag_filter_free. Immutable: may be shared between threads. */
struct rollout_tag_filter;
/* Parsed alarm settings from host->alarm_settings_parse (ABI 1.1); owns the
 * strings stored from them; free with host->alarm_settings_free. */
struct rollout_alarm_settings;
/* A parsed XML document from host->xml_parse (ABI 1.1); free with
 * host->xml_free. Use one document from one thread at a time. */
struct rollout_xml;
/* An element of a struct rollout_xml, borrowed from its document (valid
 * until xml_free). */
struct rollout_xml_node;

/* ------------------------------------------------------------------------ */
/* The deployment a call is made for (borrowed; valid during the call).       */
/* ------------------------------------------------------------------------ */

struct rollout_deployment {
	uint32_t size;
	const char *deployment_id;	   /* "d-XXXXXXXXX"; NULL outside a deployment */
	const char *application_name;	   /* may be NULL */
	const char *deployment_group_name; /* may be NULL */
	const char *compute_platform;	   /* "Server", "Lambda" or "ECS" */
	const char *region;		   /* the daemon's region */
	const char *account_id;		   /* the daemon's account id */
	/* --- ABI 1.1 --- */
	/* The deployment's AppSpec as JSON for Lambda and ECS deployments, NULL
	 * for Server ones (check ROLLOUT_HAS(dep, struct rollout_deployment,
	 * appspec_json) first). Fetched, parsed and validated by the daemon
	 * from YAML or JSON:
	 *   {"version": "0.0",
	 *    "Resources": [ {"<logical name>": {"Type": ..., "Properties": {...}}} ],
	 *    "Hooks": [ {"BeforeAllowTraffic": "<function>"}, ... ]}
	 * The daemon normalises only what it interprets itself: the top-level
	 * keys and the Hooks (event names checked against the platform, one
	 * function each). Resources entries are passed as written, keys in the
	 * user's spelling and every scalar as a JSON string ("1", not 1): AWS's
	 * own examples spell property keys both Capitalised and lower-case, so
	 * read them case-insensitively. */
	const char *appspec_json;
};
#define ROLLOUT_DEPLOYMENT_INIT(...)                                                                                   \
	{                                                                                                              \
		.size = sizeof(struct rollout_deployment), __VA_ARGS__                                                 \
	}

/* ------------------------------------------------------------------------ */
/* Configuration options, declared by the plugin (see host->config_parse).    */
/* ------------------------------------------------------------------------ */

enum rollout_opt_type {
	ROLLOUT_OPT_STRING = 1,	  /* const char * (borrowed until destroy) */
	ROLLOUT_OPT_INT = 2,	  /* int64_t, within [min, max] */
	ROLLOUT_OPT_BOOL = 3,	  /* bool */
	ROLLOUT_OPT_DURATION = 4, /* int64_t milliseconds, "250ms", "30s", "5m", "2h", within [min, max] ms */
	ROLLOUT_OPT_JSON = 5,	  /* const char * JSON text of any subtree (maps, lists) */
	ROLLOUT_OPT_PATH = 6,	  /* const char * file path; relative ones are made absolute against the
				   * directory of the config file (borrowed until destroy) */
	ROLLOUT_OPT_NUMBER = 7,	  /* double (ABI 1.1), finite; within [min, max] when either is set */
	_ROLLOUT_OPT_FORCE_32 = 0x7fffffff
};

/* Offset meaning "accept this key, store nothing" (e.g. the AWS credential
 * keys the host's HTTP client reads itself). */
#define ROLLOUT_OPT_NOSTORE ((size_t)-1)

/* One option. Arrays of options end with an entry whose name is NULL.
 * Append-only like every boundary struct; instead of a size member per
 * entry, the element size travels with the array (config_parse's opt_size,
 * which rollout_config_parse() fills with sizeof(struct rollout_option)). */
struct rollout_option {
	const char *name; /* the YAML key */
	enum rollout_opt_type type;
	bool required;	  /* missing key is an error (else `def` applies) */
	size_t offset;	  /* offsetof(your struct, field) or ROLLOUT_OPT_NOSTORE */
	int64_t min, max; /* INT and DURATION bounds (both 0: unbounded) */
	const char *def;  /* default, written as in YAML ("30s", "true", "8"); NULL: leave field as is */
	const char *help; /* one line shown in errors about this key; may be NULL */
};
#define ROLLOUT_OPTION_END                                                                                             \
	{                                                                                                              \
		.name = NULL                                                                                           \
	}

/* The keys every AWS-calling plugin accepts, read by the host's HTTP client
 * when signing (see struct rollout_http_request.aws_service and, for
 * assume_service_role / sts_endpoint, the host's aws_service_role). Put this
 * macro in your option table to accept them; read `endpoint` and `region`
 * for building URLs with host->config_string(). */
#define ROLLOUT_AWS_OPTIONS                                                                                            \
	{.name = "endpoint", .type = ROLLOUT_OPT_STRING, .offset = ROLLOUT_OPT_NOSTORE},                               \
	    {.name = "region", .type = ROLLOUT_OPT_STRING, .offset = ROLLOUT_OPT_NOSTORE},                             \
	    {.name = "access_key_id", .type = ROLLOUT_OPT_STRING, .offset = ROLLOUT_OPT_NOSTORE},                      \
	    {.name = "secret_access_key", .type = ROLLOUT_OPT_STRING, .offset = ROLLOUT_OPT_NOSTORE},                  \
	    {.name = "session_token", .type = ROLLOUT_OPT_STRING, .offset = ROLLOUT_OPT_NOSTORE},                      \
	    {.name = "profile", .type = ROLLOUT_OPT_STRING, .offset = ROLLOUT_OPT_NOSTORE},                            \
	    {.name = "credentials_file", .type = ROLLOUT_OPT_STRING, .offset = ROLLOUT_OPT_NOSTORE},                   \
	    {.name = "assume_service_role", .type = ROLLOUT_OPT_BOOL, .offset = ROLLOUT_OPT_NOSTORE},                  \
	{                                                                                                              \
		.name = "sts_endpoint", .type = ROLLOUT_OPT_STRING, .offset = ROLLOUT_OPT_NOSTORE                      \
	}

/* ------------------------------------------------------------------------ */
/* HTTP client (libcurl underneath).                                          */
/* ------------------------------------------------------------------------ */

struct rollout_http_request {
	uint32_t size;
	const char *method;	    /* "GET", "PUT", ...; NULL = GET */
	const char *url;	    /* absolute http(s) URL */
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
	const void *body;	    /* request body (borrowed), or NULL */
	size_t body_len;
	int64_t timeout_ms; /* whole transfer; 0 = 60 s */
	/* When set, the response body goes to this file (created/truncated,
	 * mode 0600) instead of memory, and its sha256 and size are computed
	 * while streaming. Otherwise the body is kept in memory, at most
	 * max_body bytes (0 = 16 MiB); more fails with -EFBIG. */
	const char *output_path;
	size_t max_body;
	/* AWS SigV4: when aws_service is set ("s3", "ec2", "monitoring", ...)
	 * the request is signed. Credentials come from, in order: the plugin's
	 * own config (access_key_id, secret_access_key, session_token), the
	 * environment (AWS_ACCESS_KEY_ID, ...), the shared credentials file
	 * (credentials_file / AWS_SHARED_CREDENTIALS_FILE / ~/.aws/credentials,
	 * profile from config / AWS_PROFILE / "default"), then EC2 instance
	 * metadata (IMDSv2). aws_region NULL: the plugin config's `region`,
	 * else the daemon's. */
	const char *aws_service;
	const char *aws_region;
	bool follow_redirects; /* at most 5; default no */
};
#define ROLLOUT_HTTP_REQUEST_INIT(...)                                                                                 \
	{                                                                                                              \
		.size = sizeof(struct rollout_http_request), __VA_ARGS__                                               \
	}

/* ------------------------------------------------------------------------ */
/* The host-services table. Given to init (borrowed, valid until destroy).    */
/* Check ROLLOUT_HOST_HAS(host, fn) before calling functions newer than 1.0.  */
/* ------------------------------------------------------------------------ */

struct rollout_host {
	uint32_t size;
	uint32_t abi_major; /* the daemon's ABI */
	uint32_t abi_minor;
	const char *daemon_version; /* e.g. "0.1.0" */

	/* --- logging --------------------------------------------------------
	 * Level is a syslog level (LOG_ERR .. LOG_DEBUG). Every line is tagged
	 * with the plugin's name by the host; do not add your own prefix. No
	 * trailing newline. Debug lines cost one comparison when disabled;
	 * check log_enabled() before building expensive debug text. */
	void (*log)(struct rollout_handle *h, int level, const char *fmt, ...) ROLLOUT_PRINTF(3, 4);
	void (*logv)(struct rollout_handle *h, int level, const char *fmt, va_list ap) ROLLOUT_PRINTF(3, 0);
	bool (*log_enabled)(struct rollout_handle *h, int level);

	/* --- configuration (the plugin's own subtree, plugins.<name>) --------
	 * config_parse() validates the whole subtree against `opts` (ended by
	 * ROLLOUT_OPTION_END) and stores values into `dst` at each offset.
	 * Unknown keys, wrong types, out-of-range values and missing required
	 * keys fail with -EINVAL and "FILE:LINE:COL: plugins.NAME.KEY: ..." in
	 * err. Pass sizeof(struct rollout_option) as opt_size (use the
	 * rollout_config_parse() wrapper below). Call it from init. */
	int (*config_parse)(struct rollout_handle *h, const struct rollout_option *opts, size_t opt_size, void *dst,
			    char *err, size_t errlen);
	/* Single typed getters. A missing key gives the default and 0. Strings
	 * are borrowed until destroy returns. A plugin that does not call
	 * config_parse (or config_json) in init must read every key it accepts
	 * through these during init: after init, any key it did not read is
	 * refused as an unknown setting. */
	int (*config_string)(struct rollout_handle *h, const char *key, const char *def, const char **ret, char *err,
			     size_t errlen);
	int (*config_int)(struct rollout_handle *h, const char *key, int64_t def, int64_t min, int64_t max,
			  int64_t *ret, char *err, size_t errlen);
	int (*config_bool)(struct rollout_handle *h, const char *key, bool def, bool *ret, char *err, size_t errlen);
	int (*config_duration_ms)(struct rollout_handle *h, const char *key, int64_t def_ms, int64_t min_ms,
				  int64_t max_ms, int64_t *ret, char *err, size_t errlen);
	/* The whole subtree as JSON text ({} when empty); scalars are strings.
	 * Borrowed until destroy returns. */
	const char *(*config_json)(struct rollout_handle *h);

	/* --- clock ---------------------------------------------------------- */
	int64_t (*wall_ms)(void); /* milliseconds since the epoch */
	int64_t (*mono_ms)(void); /* monotonic milliseconds, for timeouts */

	/* --- HTTP ------------------------------------------------------------
	 * Performs one request synchronously (blocking; only from ops or init).
	 * Returns 0 when a response arrived, whatever its status; negative
	 * errno with a message in err for transport errors, bad requests,
	 * missing credentials (-ENOKEY). *ret is owned by the caller: free it
	 * with http_free(). */
	int (*http_request)(struct rollout_handle *h, const struct rollout_http_request *req,
			    struct rollout_http_response **ret, char *err, size_t errlen);
	long (*http_status)(const struct rollout_http_response *resp);
	/* Body kept in memory (NUL-terminated, not counted in *ret_len);
	 * borrowed until http_free. Empty when output_path was used. */
	const char *(*http_body)(const struct rollout_http_response *resp, size_t *ret_len);
	/* Last value of a response header (case-insensitive) or NULL; borrowed. */
	const char *(*http_header)(const struct rollout_http_response *resp, const char *name);
	/* With output_path: bytes written and their sha256 (64 hex + NUL). */
	int (*http_output)(const struct rollout_http_response *resp, uint64_t *ret_bytes, char ret_sha256[65]);
	struct rollout_http_response *(*http_free)(struct rollout_http_response *resp);

	/* --- daemon data -----------------------------------------------------
	 * The registered on-premises instances as a JSON array of CodeDeploy
	 * InstanceInfo objects: instanceName, iamUserArn or iamSessionArn,
	 * instanceArn, registerTime, deregisterTime (when deregistered),
	 * tags [{"Key","Value"}], plus "registrationStatus": "Registered" or
	 * "Deregistered". *ret_json is freed with host->free. For platform
	 * plugins; -ENOTSUP before the daemon's store is up. */
	int (*onprem_instances)(struct rollout_handle *h, char **ret_json, char *err, size_t errlen);

	/* --- helpers -------------------------------------------------------- */
	/* sha256 (64 hex + NUL) and size of a regular file. */
	int (*file_sha256)(struct rollout_handle *h, const char *path, char ret_sha256[65], uint64_t *ret_size);
	/* Frees what host functions documented as "freed with host->free". */
	void (*free)(void *p);

	/* ====== ABI 1.1 (check ROLLOUT_HOST_HAS or ROLLOUT_HOST_NEED) ====== */

	/* --- tag filters -----------------------------------------------------
	 * CodeDeploy's tag-filter rule, exactly as the daemon applies it to
	 * ListOnPremisesInstances and to deployments, so a platform plugin
	 * selects the hosts users expect:
	 *   - TagFilter {Key, Value, Type}: KEY_ONLY (a tag with that key),
	 *     VALUE_ONLY (a tag with that value), KEY_AND_VALUE (both; no Value
	 *     means the empty value). Without a Type: Key and Value ->
	 *     KEY_AND_VALUE, only a Key -> KEY_ONLY, only a Value -> VALUE_ONLY.
	 *   - An empty Key is no Key; without a Type an empty Value is no Value.
	 *     A filter with nothing to compare selects nothing.
	 *   - A list of filters selects a host matching ANY of them; a tag set
	 *     (list of lists) a host matching EVERY non-empty inner list.
	 *   - An empty list or set selects nothing. Exact, case-sensitive.
	 * filter_json: [TagFilter] (onPremisesInstanceTagFilters, ec2TagFilters,
	 * tagFilters), [[TagFilter]], or a tag set object
	 * {"onPremisesTagSetList" | "ec2TagSetList": [[TagFilter]]}. Malformed
	 * input (not such a shape, a Type not one of the three) fails with
	 * -EINVAL and a message naming the element. *ret is the caller's: free
	 * it with tag_filter_free. */
	int (*tag_filter_new)(struct rollout_handle *h, const char *filter_json, struct rollout_tag_filter **ret,
			      char *err, size_t errlen);
	/* 1 when a host with tags_json ([{"Key": k, "Value": v}], entries
	 * without a Key ignored) matches, 0 when not, -EINVAL when tags_json is
	 * not a JSON list. Thread-safe. */
	int (*tag_filter_match)(const struct rollout_tag_filter *f, const char *tags_json);
	struct rollout_tag_filter *(*tag_filter_free)(struct rollout_tag_filter *f);

	/* --- alarm settings (health plugins) -----------------------------------
	 * Parses one alarm's settings (the settings_json given to
	 * validate_alarm / check) against the plugin's option table, as
	 * config_parse does for the plugin's own config: each value is stored
	 * into dst at its offset (strings borrowed from *ret until
	 * alarm_settings_free), defaults apply, and a missing required key,
	 * a wrong type or an out-of-range value fails with -EINVAL and err
	 * filled (code INVALID_ALARM_CONFIG, "alarm NAME: ..."). Every alarm map
	 * also carries keys the daemon reads itself; they are accepted and
	 * checked here so that a third-party plugin refuses the same mistakes:
	 *   plugin, description            strings
	 *   interval                       duration 100ms..1h (polling period)
	 *   gate                           true | false (per-instance gate)
	 *   gate_timeout                   duration up to 1h
	 *   on_insufficient_data           stop | continue
	 *   instance                       the instance a gate checks (the
	 *                                  daemon adds it; declare it to read it)
	 * Any other key not in opts is refused as an unknown setting, listing the
	 * accepted ones. Scalars arrive as strings; ROLLOUT_OPT_JSON takes lists
	 * and maps. Pass sizeof(struct rollout_option) as opt_size (use
	 * rollout_alarm_settings_parse()). *ret is the caller's. */
	int (*alarm_settings_parse)(struct rollout_handle *h, const char *alarm_name, const char *settings_json,
				    const struct rollout_option *opts, size_t opt_size, void *dst,
				    struct rollout_alarm_settings **ret, struct rollout_error *err);
	struct rollout_alarm_settings *(*alarm_settings_free)(struct rollout_alarm_settings *s);

	/* --- XML (AWS query APIs: EC2, Auto Scaling, ELB, CloudWatch) ---------
	 * xml_parse parses a response body (no network access, no external
	 * entities). -EINVAL with a message when it is not well-formed XML.
	 * Element names are matched by local name: namespaces are ignored. */
	int (*xml_parse)(struct rollout_handle *h, const char *text, size_t len, struct rollout_xml **ret, char *err,
			 size_t errlen);
	struct rollout_xml *(*xml_free)(struct rollout_xml *doc);
	/* The document element. */
	const struct rollout_xml_node *(*xml_root)(const struct rollout_xml *doc);
	/* The first element reached from node by path, element names separated
	 * by '/', each step the first child of that name, e.g.
	 * "reservationSet/item/instancesSet/item"; "" is node itself. NULL when
	 * absent. */
	const struct rollout_xml_node *(*xml_find)(const struct rollout_xml_node *node, const char *path);
	/* The text of the element at path (as xml_find), entities decoded,
	 * borrowed until xml_free; NULL when absent. */
	const char *(*xml_text)(const struct rollout_xml_node *node, const char *path);
	/* Iterates the child elements of parent named name (any name when
	 * NULL), e.g. a list's "item" (EC2) or "member" (query API):
	 *   for (n = host->xml_first(set, "item"); n; n = host->xml_next(n, "item")) */
	const struct rollout_xml_node *(*xml_first)(const struct rollout_xml_node *parent, const char *name);
	const struct rollout_xml_node *(*xml_next)(const struct rollout_xml_node *node, const char *name);
	/* The element's local name; borrowed until xml_free. */
	const char *(*xml_name)(const struct rollout_xml_node *node);
	/* When doc is an AWS error response (<ErrorResponse><Error> of the query
	 * APIs or <Response><Errors><Error> of EC2): 1 with its Code and Message
	 * (borrowed until xml_free; "" when absent). 0 when it is not. */
	int (*xml_aws_error)(const struct rollout_xml *doc, const char **ret_code, const char **ret_message);

	/* ====== ABI 1.1, appended 2026-12-06 (check ROLLOUT_HOST_HAS) ====== */

	/* --- the deployment group's service role (STS AssumeRole) -------------
	 * CodeDeploy acts on EC2, Auto Scaling, ELB, Lambda and ECS as the
	 * group's serviceRoleArn. A plugin configured with
	 * `assume_service_role: true` (one of ROLLOUT_AWS_OPTIONS) gets that
	 * without code: every AWS request it makes through http_request while
	 * working for a deployment (resolve, fleet, traffic and shift ops) is
	 * signed with temporary credentials of the group's serviceRoleArn,
	 * assumed with the plugin's own credentials (its config, else the
	 * host's chain) through STS (`sts_endpoint`, else `endpoint`, else
	 * AWS's regional STS) and cached until 5 minutes before they expire. A
	 * role STS refuses fails that request with -EACCES and a message naming
	 * the role and STS's reason (report it as IAM_ROLE_PERMISSIONS); calls
	 * made for no deployment (PlanDeployment, enrollment checks, alarm
	 * polls) use the plugin's own credentials.
	 *
	 * aws_service_role: the serviceRoleArn of the deployment the calling
	 * thread works for, or NULL (borrowed until the op returns). */
	const char *(*aws_service_role)(struct rollout_handle *h);
	/* The temporary credentials of role_arn, assumed as above (cache
	 * included), for plugins that sign requests themselves: *ret_json
	 * (freed with host->free) {"AccessKeyId", "SecretAccessKey",
	 * "SessionToken", "Expiration": wall ms}. -EACCES when STS refuses,
	 * -ENOKEY without credentials to assume it with; err says why. */
	int (*aws_assume_role)(struct rollout_handle *h, const char *role_arn, char **ret_json, char *err,
			       size_t errlen);

	/* Reserved for appending (metrics, events, ...): new members go here,
	 * and bump ROLLOUT_ABI_MINOR. */
};

#define ROLLOUT_HOST_HAS(host, fn) ROLLOUT_HAS(host, struct rollout_host, fn)
/* Size of the host table at ABI 1.0: a daemon of ABI 1.0 gives this. */
#define ROLLOUT_HOST_SIZE_1_0 (offsetof(struct rollout_host, free) + sizeof(void (*)(void *)))

static inline int rollout_host_need(const struct rollout_host *host, size_t need, const char *fn, char *err,
				    size_t errlen)
{
	if (host->size >= need)
		return 0;
	snprintf(err, errlen,
		 "this plugin needs the host function %s of plugin ABI %s, but rolloutd %s offers ABI %u.%u; "
		 "upgrade rolloutd",
		 fn, ROLLOUT_ABI_STRING, host->daemon_version ? host->daemon_version : "?", host->abi_major,
		 host->abi_minor);
	return -ENOTSUP;
}
/* In init: fail with a message naming fn when the daemon is older than the
 * SDK the plugin was built with and lacks fn:
 *     if ((r = ROLLOUT_HOST_NEED(host, tag_filter_new, err, errlen)) < 0) return r; */
#define ROLLOUT_HOST_NEED(host, fn, err, errlen)                                                                       \
	rollout_host_need(host, offsetof(struct rollout_host, fn) + sizeof((host)->fn), #fn, err, errlen)

static inline int rollout_config_parse(const struct rollout_host *host, struct rollout_handle *h,
				       const struct rollout_option *opts, void *dst, char *err, size_t errlen)
{
	return host->config_parse(h, opts, sizeof(struct rollout_option), dst, err, errlen);
}

static inline int rollout_alarm_settings_parse(const struct rollout_host *host, struct rollout_handle *h,
					       const char *alarm_name, const char *settings_json,
					       const struct rollout_option *opts, void *dst,
					       struct rollout_alarm_settings **ret, struct rollout_error *err)
{
	return host->alarm_settings_parse(h, alarm_name, settings_json, opts, sizeof(struct rollout_option), dst, ret,
					  err);
}

/* ------------------------------------------------------------------------ */
/* PLATFORM plugins: deployment group -> targets; and, for platforms that     */
/* shift traffic themselves (ABI 1.1: Lambda, ECS), the deployment's steps.   */
/* ------------------------------------------------------------------------ */
/*
 * Server platforms (onprem, ec2) only resolve: the engine asks every one of
 * them for the targets a group selects and deploys to those hosts through
 * rollout-agent.
 */

/* ------------------------------------------------------------------------ */
/* PLATFORMS THAT SHIFT TRAFFIC THEMSELVES (ABI 1.1): Lambda, ECS.            */
/* ------------------------------------------------------------------------ */
/*
 * A Lambda or ECS deployment has ONE target (the function alias, the
 * service) and is owned by exactly ONE platform plugin: the one plugin
 * loaded that serves the deployment's compute platform and sets
 * `shift_prepare` (the daemon refuses to start with two such plugins for
 * one platform). No host runs anything; the plugin changes the world
 * (aliases, task sets, listeners) in steps the engine asks for, one at a
 * time, in CodeDeploy's order:
 *
 *   Lambda: prepare, BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic
 *   ECS:    prepare, BeforeInstall, Install, AfterInstall, AllowTestTraffic,
 *           AfterAllowTestTraffic, BeforeAllowTraffic, AllowTraffic,
 *           AfterAllowTraffic, (termination wait), remove original
 *
 *   Before* / After*   hooks: shift_invoke_hook for each function the
 *                      AppSpec names for the event; the event ends with
 *                      PutLifecycleEventHookExecutionStatus (or its timeout)
 *   Install            shift_install, then shift_wait_ready
 *   AllowTestTraffic   shift_test_route, then shift_wait_ready
 *   AllowTraffic       for each step of the deployment config's
 *                      trafficRoutingConfig (AllAtOnce: 100; canary: p, 100;
 *                      linear: p, 2p, ..., 100): shift_weight(percent), then
 *                      shift_wait_ready; the engine checks the group's
 *                      alarms and waits the config's interval between steps
 *   after AfterAllowTraffic  shift_commit; then, when the plugin has
 *                      shift_remove_original, the group's termination wait
 *                      and shift_remove_original
 *   failure, alarm, StopDeployment before remove_original: shift_route_back
 *
 * rolloutd routes traffic back to the original on every failure, alarm or
 * stop, with or without auto-rollback (CodeDeploy without auto-rollback may
 * leave a Lambda alias split); with auto-rollback the engine also records
 * a codeDeployRollback deployment, whose AllowTraffic is shift_route_back
 * on the failed deployment's state.
 *
 * STATE AND RESTARTS. shift_prepare returns a JSON object of the plugin's
 * own state; the engine stores it and passes the latest version to every
 * later op (call->state_json). Any op that changes the world may return an
 * updated state through *ret_state_json (NULL: unchanged); the engine
 * commits it to its store before it acts on the op's result. Every step is
 * committed as "about to run" before the op is called, so after a crash
 * (kill -9) the engine calls the SAME op again with the SAME arguments and
 * the state last committed. Ops must therefore be idempotent and converge:
 * setting a weight that is already set, creating a task set that already
 * exists (find it, e.g. by externalId = deployment id), routing back what
 * is already back must all succeed without doing it twice. Keep in the
 * state what you need to find your own work again (ids, ARNs, the version
 * you started from), not what the engine already passes you.
 *
 * THREADS AND TIME. Every shift_* op runs on a worker thread and may block,
 * but must return within call->timeout_ms (-ETIMEDOUT otherwise) and should
 * poll call->stopping(call) in any loop or wait: once it returns true
 * (StopDeployment, an alarm, daemon shutdown) return -ECANCELED as soon as
 * the world is consistent. The engine never runs two ops of one deployment
 * at once; ops of different deployments run concurrently. shift_describe
 * is the exception: it runs on the engine's own thread and must not block
 * or do I/O (it only formats the state).
 *
 * ERRORS. A failing op fills err with an errorInformation code
 * (INVALID_LAMBDA_CONFIGURATION, INVALID_LAMBDA_FUNCTION, ECS_UPDATE_ERROR,
 * INVALID_ECS_SERVICE, IAM_ROLE_PERMISSIONS, THROTTLED, ...) and a message
 * that names the resource and says how to fix it; it fails the lifecycle
 * event and the deployment, and the engine routes back. Retrying transient
 * failures (throttling, 5xx) is the plugin's business, within the timeout.
 */

/* One call of a shift_* op. Borrowed: every pointer is valid until the op
 * returns. Members after `stopping` are set for the ops that use them and
 * NULL / 0 otherwise. */
struct rollout_shift_call {
	uint32_t size;
	const struct rollout_deployment *dep; /* dep->appspec_json is set */
	const char *group_json;		      /* the DeploymentGroupInfo */
	/* The plugin's state as last stored (shift_prepare gets "{}"). */
	const char *state_json;
	/* Return within this many milliseconds. */
	int64_t timeout_ms;
	/* True once the op should end early (stop, alarm, shutdown); cheap,
	 * thread-safe, may be called any number of times. */
	bool (*stopping)(const struct rollout_shift_call *call);
	void *engine_data; /* the engine's; do not touch */

	/* shift_weight: the replacement's share of production traffic, 0..100.
	 * shift_describe: the share currently applied. */
	uint32_t percent;
	/* shift_invoke_hook: the lifecycle event ("BeforeAllowTraffic", ...),
	 * the hook function as the AppSpec names it, and the
	 * LifecycleEventHookExecutionId the engine generated for this
	 * invocation. */
	const char *hook_event;
	const char *hook_function;
	const char *hook_execution_id;
};
#define ROLLOUT_SHIFT_CALL_INIT(...)                                                                                   \
	{                                                                                                              \
		.size = sizeof(struct rollout_shift_call), __VA_ARGS__                                                 \
	}

/* Every shift_* op but shift_describe has this type. *ret_state_json
 * (malloc'd by the plugin, freed by the daemon; leave NULL when the state
 * did not change) replaces the stored state, also when the op fails: a
 * half-done step may have created something route_back must find. */
typedef int (*rollout_shift_op)(void *state, const struct rollout_shift_call *call, char **ret_state_json,
				struct rollout_error *err);

/* The shift_* members of struct rollout_platform_ops. A plugin that sets
 * shift_prepare must also set shift_weight, shift_commit, shift_route_back,
 * shift_invoke_hook and shift_describe (the loader refuses it otherwise).
 *
 * shift_prepare    Checks the platform's preconditions against
 *                  dep->appspec_json and group_json (the function, versions
 *                  and alias exist; the alias points at CurrentVersion and
 *                  is not split; the service and its listeners exist, ...)
 *                  and returns the initial state. Must not change the
 *                  world: a deployment whose prepare fails has nothing to
 *                  undo.
 * shift_install    OPTIONAL (ECS Install). Creates the replacement (task
 *                  set) with no production traffic.
 * shift_test_route OPTIONAL (ECS AllowTestTraffic). Routes the test
 *                  listener to the replacement. Absent or no test route:
 *                  return 0.
 * shift_weight     Routes call->percent % of production traffic to the
 *                  replacement (Lambda: UpdateAlias with
 *                  AdditionalVersionWeights; ECS: listener weights). At
 *                  100 the replacement takes all traffic.
 * shift_wait_ready OPTIONAL. Returns 0 once the replacement is ready /
 *                  stable at its current routing, -EAGAIN when not yet (the
 *                  engine checks alarms and calls again after a pause, up
 *                  to its own deadline), another negative errno on failure.
 * shift_commit     Makes the routing permanent (Lambda: alias on the target
 *                  version, no routing config; ECS: the replacement becomes
 *                  the primary task set). Route back stays possible until
 *                  shift_remove_original ran.
 * shift_remove_original OPTIONAL (ECS). Removes the original after the
 *                  group's termination wait. Afterwards there is no way
 *                  back.
 * shift_route_back Sends all traffic back to the original and removes what
 *                  the deployment created, from whatever state the stored
 *                  state describes (nothing done yet, half a step, after
 *                  commit). Also the AllowTraffic of a codeDeployRollback
 *                  deployment, called with the failed deployment's state.
 * shift_invoke_hook Starts the hook function call->hook_function with the
 *                  payload {"DeploymentId": dep->deployment_id,
 *                  "LifecycleEventHookExecutionId": call->hook_execution_id}.
 *                  Returns 0 once the function was started (or runs on
 *                  when the call's timeout ends); the event's outcome is
 *                  the PutLifecycleEventHookExecutionStatus the function
 *                  sends, which the engine waits for (at most one hour).
 *                  Fail (code HOOK_EXECUTION_FAILURE, the function's own
 *                  error in the message) when the function cannot be
 *                  invoked or failed: the event fails at once.
 * shift_describe   The target's platform-specific view for
 *                  GetDeploymentTarget, as a JSON object in
 *                  *ret_target_json (malloc'd, freed by the daemon):
 *                    Lambda: {"targetArn": "...", "lambdaFunctionInfo":
 *                            {"functionName", "functionAlias",
 *                             "currentVersion", "targetVersion",
 *                             "targetVersionWeight": 0.1}}
 *                    ECS:    {"targetArn": "...", "taskSetsInfo": [...]}
 *                  The engine adds deploymentId, targetId, status,
 *                  lastUpdatedAt and lifecycleEvents. Engine thread: no
 *                  I/O, no blocking.
 *
 * The deployment's one target is what `resolve` returns for it: for these
 * platforms the engine calls resolve with dep->appspec_json set and
 * expects exactly one target (Lambda: targetId = the function name;
 * ECS: "<cluster>:<service>"), instanceType "Lambda" or "ECS". Without an
 * AppSpec (a preview of the group) resolve may return an empty array.
 */

/* ------------------------------------------------------------------------ */
/* SERVER BLUE/GREEN FLEETS (ABI 1.1, appended): platforms that create the   */
/* replacement fleet or remove the original one.                             */
/* ------------------------------------------------------------------------ */
/*
 * A Server deployment of a BLUE_GREEN group deploys to a replacement
 * (green) fleet and then moves traffic to it from the original (blue) one
 * through the traffic plugin. Which instances are green is the deployment's
 * targetInstances (or the group's greenFleetProvisioningOption), resolved
 * like a group; blue is the group's own selection minus green. A platform
 * that can create the green fleet or remove the blue one (EC2: a copy of
 * the group's Auto Scaling group, TerminateInstances) does so in these ops,
 * in this order:
 *
 *   fleet_provision  before the green fleet is resolved (the deployment's
 *                    first step, on a worker). When the group asks this
 *                    plugin to provision (EC2: greenFleetProvisioningOption
 *                    COPY_AUTO_SCALING_GROUP), create the green fleet, wait
 *                    until its instances run (at most call->timeout_ms,
 *                    polling call->stopping) and return in *ret_json the
 *                    targetInstances object that selects it, e.g.
 *                    {"autoScalingGroups": ["CodeDeploy_grp_d-X"]}; it
 *                    replaces the deployment's own. Nothing to provision:
 *                    return 0 and leave *ret_json NULL. After a restart the
 *                    engine calls it again: find what an earlier call
 *                    created (a name made of the group and deployment id)
 *                    instead of creating it twice.
 *   fleet_retire     once traffic moved to green and, for
 *                    terminateBlueInstancesOnDeploymentSuccess TERMINATE,
 *                    after terminationWaitTimeInMinutes; call->blue lists
 *                    the original instances (targetIds), call->blue_action
 *                    is "TERMINATE" or "KEEP_ALIVE". Terminate what this
 *                    plugin owns of blue (EC2: TerminateInstances, or
 *                    DeleteAutoScalingGroup for the group it copied). When
 *                    the group must name other resources from now on (the
 *                    copied Auto Scaling group instead of the original),
 *                    return the changed DeploymentGroupInfo members in
 *                    *ret_json, e.g. {"autoScalingGroups": ["CodeDeploy_grp_d-X"]};
 *                    the daemon updates the group. NULL: no change.
 *   fleet_discard    when the deployment failed, was stopped or was rolled
 *                    back before blue was retired (traffic is back on blue):
 *                    remove what fleet_provision created. Leave *ret_json NULL.
 *
 * Every op must be idempotent (the engine repeats one interrupted by a
 * restart) and fails with err filled (IAM_ROLE_PERMISSIONS,
 * AUTO_SCALING_CONFIGURATION, AUTOSCALING_VALIDATION_ERROR, TIMEOUT, ...).
 * A failed fleet_provision fails the deployment before any instance is
 * touched; a failed fleet_retire or fleet_discard is logged and reported in
 * the deployment's log, traffic stays where it is.
 */
struct rollout_fleet_call {
	uint32_t size;
	const struct rollout_deployment *dep;
	const char *group_json;	     /* the DeploymentGroupInfo the deployment runs with */
	const char *deployment_json; /* the DeploymentInfo (its targetInstances), may be NULL */
	int64_t timeout_ms;	     /* return within this many milliseconds */
	/* True once the op should end early (stop, shutdown). */
	bool (*stopping)(const struct rollout_fleet_call *call);
	void *engine_data; /* the engine's; do not touch */
	/* fleet_retire: the original fleet and what happens to it. */
	const char *const *blue;
	size_t nblue;
	const char *blue_action; /* "TERMINATE" or "KEEP_ALIVE" */
};
#define ROLLOUT_FLEET_CALL_INIT(...)                                                                                   \
	{                                                                                                              \
		.size = sizeof(struct rollout_fleet_call), __VA_ARGS__                                                 \
	}
/* *ret_json: malloc'd by the plugin, freed by the daemon; see above. */
typedef int (*rollout_fleet_op)(void *state, const struct rollout_fleet_call *call, char **ret_json,
				struct rollout_error *err);

struct rollout_platform_ops {
	uint32_t size;
	/* Which compute platforms this plugin serves (enum
	 * rollout_compute_platform bits). For Server deployments the engine
	 * asks every platform plugin serving the platform and merges the
	 * targets; a Lambda or ECS deployment is owned by the one plugin that
	 * serves its platform and sets shift_prepare (ABI 1.1). */
	uint32_t compute_platforms;

	/* MANDATORY. Resolves a deployment group to its targets.
	 * group_json: the DeploymentGroupInfo object (CodeDeploy field names:
	 *   ec2TagFilters, ec2TagSet, onPremisesInstanceTagFilters,
	 *   onPremisesTagSet, autoScalingGroups, ...).
	 * *ret_targets_json (malloc'd by the plugin, freed by the daemon): a JSON
	 *   array, possibly empty, of objects
	 *   {"targetId": "web-1",            the instance name or id (unique)
	 *    "targetArn": "arn:...",         may be absent
	 *    "instanceType": "OnPremises" | "EC2" | "Lambda" | "ECS",
	 *    "tags": [{"Key": "k", "Value": "v"}]}  may be absent.
	 * Return 0 with an empty array when this plugin has nothing for the
	 * group: that is not an error. Called on a worker thread; may block. */
	int (*resolve)(void *state, const struct rollout_deployment *dep, const char *group_json,
		       char **ret_targets_json, struct rollout_error *err);

	/* ABI 1.0, NEVER CALLED by a 1.1 daemon: they could not carry a Lambda
	 * or ECS deployment (they fetched the revision again and had no steps,
	 * state updates, timeouts or hooks). Use the shift_* ops below. */
	int (*prepare)(void *state, const struct rollout_deployment *dep, const char *group_json,
		       const char *revision_json, char **ret_state_json, struct rollout_error *err);
	int (*shift)(void *state, const struct rollout_deployment *dep, const char *state_json, uint32_t percent,
		     struct rollout_error *err);
	int (*finish)(void *state, const struct rollout_deployment *dep, const char *state_json, bool success,
		      struct rollout_error *err);

	/* --- ABI 1.1: platforms that shift traffic themselves ---
	 * See "PLATFORMS THAT SHIFT TRAFFIC THEMSELVES" above for the order in
	 * which the engine calls them. */
	rollout_shift_op shift_prepare;		/* required for such a platform */
	rollout_shift_op shift_install;		/* optional (ECS Install) */
	rollout_shift_op shift_test_route;	/* optional (ECS AllowTestTraffic) */
	rollout_shift_op shift_weight;		/* required */
	rollout_shift_op shift_wait_ready;	/* optional */
	rollout_shift_op shift_commit;		/* required */
	rollout_shift_op shift_remove_original; /* optional (ECS) */
	rollout_shift_op shift_route_back;	/* required */
	rollout_shift_op shift_invoke_hook;	/* required */
	int (*shift_describe)(void *state, const struct rollout_shift_call *call, char **ret_target_json,
			      struct rollout_error *err); /* required */

	/* --- ABI 1.1, appended 2026-12-06: server blue/green fleets ---
	 * See "SERVER BLUE/GREEN FLEETS" above. All three are optional; the
	 * engine calls every platform plugin serving "Server" that sets one. */
	rollout_fleet_op fleet_provision;
	rollout_fleet_op fleet_retire;
	rollout_fleet_op fleet_discard;

	/* --- ABI 1.1, appended: instances that come and go (Auto Scaling) ---
	 * All three OPTIONAL, on worker threads, may block (AWS calls).
	 *
	 * lifecycle_hooks  A deployment group was created, updated or deleted:
	 *   make the platform notify rolloutd of its new instances.
	 *   group_json: the group's DeploymentGroupInfo as it will be stored
	 *   (NULL: deleted); previous_json: as it was (NULL: new). Their
	 *   autoScalingGroups are [{"name", "hook"?, "terminationHook"?}].
	 *   *ret_json (malloc'd): {"autoScalingGroups": [{"name", "hook"?,
	 *   "terminationHook"?}] (what the group stores and reports),
	 *   "hooksNotCleanedUp": [{"name", "hook"}]}. Install what is missing,
	 *   remove what the group no longer names; a hook that cannot be
	 *   removed is reported, not an error. Failing (hooks that cannot be
	 *   installed) refuses the change.
	 * lifecycle_receive  The engine asks for new instances, when the last
	 *   answer said so. groups_json: [{"applicationName",
	 *   "deploymentGroupName", "autoScalingGroups": [...as stored],
	 *   "terminationHookEnabled"}] of the groups that name any.
	 *   *ret_json (malloc'd): {"events": [{"transition":
	 *   "autoscaling:EC2_INSTANCE_LAUNCHING" | "autoscaling:EC2_INSTANCE_TERMINATING",
	 *   "applicationName", "deploymentGroupName", "instanceId",
	 *   "autoScalingGroupName", "hookName"?, "token"?, "receiptHandle"?}],
	 *   "nextPollMs": when to ask again, "heartbeatMs": how often a
	 *   lifecycle action with a token needs lifecycle_complete("HEARTBEAT")
	 *   while its deployment runs}. Without a token an event only says
	 *   "this instance is in service": the engine deploys to it if the
	 *   group never did. An event without a receiptHandle is reported
	 *   once (consumed); one with a receiptHandle (a queued message) stays
	 *   where it came from until the engine, once it has stored what the
	 *   event started, calls lifecycle_complete("DELETE") with it, and
	 *   may be reported again (the engine recognises its token).
	 * lifecycle_complete  action_json: an event of lifecycle_receive plus
	 *   "result": "CONTINUE" | "ABANDON" | "HEARTBEAT" (the action's), or
	 *   "DELETE" (the event's message is done with; only for an event
	 *   that carried a receiptHandle). */
	int (*lifecycle_hooks)(void *state, const struct rollout_deployment *dep, const char *group_json,
			       const char *previous_json, char **ret_json, struct rollout_error *err);
	int (*lifecycle_receive)(void *state, const char *groups_json, char **ret_json, struct rollout_error *err);
	int (*lifecycle_complete)(void *state, const char *action_json, struct rollout_error *err);
};
#define ROLLOUT_PLATFORM_OPS_INIT(...)                                                                                 \
	{                                                                                                              \
		.size = sizeof(struct rollout_platform_ops), __VA_ARGS__                                               \
	}

/* ------------------------------------------------------------------------ */
/* SOURCE plugins: revision location -> file.                                 */
/* ------------------------------------------------------------------------ */

struct rollout_fetch_result {
	uint32_t size;
	uint64_t bytes;	      /* size of the file written */
	char sha256[65];      /* lower-case hex of the file written */
	char bundle_type[16]; /* "zip", "tar", "tgz", "YAML" or "JSON" */
	char version[256];    /* what was fetched, e.g. S3 version id / commit id; may be "" */
	/* --- ABI 1.1, appended 2026-12-06: revalidation (check ROLLOUT_HAS(res,
	 * struct rollout_fetch_result, not_modified) before writing them) --- */
	/* The source's validators of what was fetched (its ETag, its
	 * Last-Modified as an HTTP date), or "": the daemon keeps them with an
	 * unpinned location and passes them to fetch_if_changed next time. */
	char etag[256];
	char last_modified[64];
	/* fetch_if_changed only: the source says the content is the one the
	 * daemon holds; nothing was written to dest_path. */
	bool not_modified;
};

/* What the daemon holds of an unpinned location it fetched before (ABI 1.1,
 * appended 2026-12-06), for fetch_if_changed. Borrowed for the call. */
struct rollout_fetch_cached {
	uint32_t size;
	const char *sha256;	   /* the bundle the daemon holds for the location */
	const char *etag;	   /* the validators the source gave with it, or NULL */
	const char *last_modified; /* (an HTTP date) */
};

/* What a revision location says about its content, before any fetch
 * (source ops describe, ABI 1.1). The daemon presets size and zeroes the rest. */
struct rollout_revision_info {
	uint32_t size;
	/* The location names immutable content (an object version or eTag, a
	 * full commit id, a content hash): the daemon fetches it at most once
	 * per cache lifetime and serves later deployments from its cache.
	 * false: fetched again for every deployment (a branch, a bare key). */
	bool pinned;
	/* The sha256 the location promises (64 lower-case hex), or "": a fetched
	 * file with another hash fails with INVALID_REVISION. */
	char sha256[65];
};

struct rollout_source_ops {
	uint32_t size;
	/* MANDATORY. The revisionType values this plugin handles (CodeDeploy
	 * names "S3", "GitHub", or own ones such as "HTTP", "Bitbucket"),
	 * NULL-terminated, static. The daemon's API accepts every revisionType
	 * some loaded source plugin declares; a type two plugins declare is
	 * served by the first loaded. */
	const char *const *revision_types;

	/* MANDATORY. Fetches a revision into dest_path.
	 * revision_json: a RevisionLocation object, e.g.
	 *   {"revisionType": "S3", "s3Location": {"bucket": ..., "key": ...,
	 *    "bundleType": "zip", "version": ..., "eTag": ...}}.
	 * dest_path: a file the plugin creates (the daemon owns it and moves it
	 *   into the content-addressed cache afterwards; on failure it deletes
	 *   it). Fill *res (size preset by the daemon). On failure fill err with
	 *   an errorInformation code: REVISION_MISSING (not found),
	 *   MISSING_GITHUB_TOKEN, INVALID_REVISION, IAM_ROLE_PERMISSIONS, ...
	 * Worker thread; blocks for the download; honour timeout_ms. */
	int (*fetch)(void *state, const struct rollout_deployment *dep, const char *revision_json,
		     const char *dest_path, int64_t timeout_ms, struct rollout_fetch_result *res,
		     struct rollout_error *err);

	/* --- ABI 1.1 --- */
	/* OPTIONAL. For each of revision_types (same order), the RevisionLocation
	 * member holding its location, e.g. {"s3Location", NULL}, static. The
	 * daemon keys its cache on the type and that member's content; without
	 * it (or for a NULL entry) on the whole RevisionLocation. */
	const char *const *location_members;
	/* OPTIONAL. Checks a RevisionLocation of one of this plugin's types
	 * without fetching it, and says how its content may be cached (*ret,
	 * size preset). A malformed location returns -EINVAL with err code
	 * INVALID_REVISION and a message naming what is missing; the API then
	 * refuses it with InvalidRevisionException. Called when the API receives
	 * such a revision and before each fetch, on any thread, the daemon's
	 * I/O thread included: it must be pure (no I/O, no blocking, no host
	 * calls but logging). Absent: every location is accepted, none is
	 * pinned. */
	int (*describe)(void *state, const char *revision_json, struct rollout_revision_info *ret,
			struct rollout_error *err);

	/* --- ABI 1.1, appended 2026-12-06: revalidation --- */
	/* OPTIONAL. fetch, for a location that does not pin its content and
	 * that the daemon fetched before and still holds (cached: the sha256 it
	 * holds and the validators fetch returned in res->etag and
	 * res->last_modified). Ask the source whether the content changed (a
	 * conditional request: If-None-Match with the ETag, else
	 * If-Modified-Since; or a HEAD) and download only when it did:
	 * unchanged, return 0 with res->not_modified set and leave dest_path
	 * empty; changed, do what fetch does, validators included. Absent: the
	 * daemon calls fetch, which downloads again every time. */
	int (*fetch_if_changed)(void *state, const struct rollout_deployment *dep, const char *revision_json,
				const struct rollout_fetch_cached *cached, const char *dest_path, int64_t timeout_ms,
				struct rollout_fetch_result *res, struct rollout_error *err);
};
#define ROLLOUT_SOURCE_OPS_INIT(...)                                                                                   \
	{                                                                                                              \
		.size = sizeof(struct rollout_source_ops), __VA_ARGS__                                                 \
	}

/* ------------------------------------------------------------------------ */
/* HEALTH plugins: alarm -> OK / ALARM / INSUFFICIENT_DATA.                   */
/* ------------------------------------------------------------------------ */

struct rollout_alarm_result {
	uint32_t size;
	enum rollout_alarm_state state;
	char reason[512]; /* one line, shown to users */
};

struct rollout_health_ops {
	uint32_t size;
	/* OPTIONAL. Validates one alarm's settings at daemon start (the alarm
	 * maps under `alarms:` that name this plugin). settings_json: that map
	 * as JSON (scalars as strings). Main thread. */
	int (*validate_alarm)(void *state, const char *alarm_name, const char *settings_json,
			      struct rollout_error *err);
	/* MANDATORY. Checks one alarm now. A check that cannot decide returns
	 * 0 with INSUFFICIENT_DATA; a negative return means the check itself
	 * failed (treated like INSUFFICIENT_DATA, and logged). Worker thread. */
	int (*check)(void *state, const struct rollout_deployment *dep, const char *alarm_name,
		     const char *settings_json, struct rollout_alarm_result *res, struct rollout_error *err);
};
#define ROLLOUT_HEALTH_OPS_INIT(...)                                                                                   \
	{                                                                                                              \
		.size = sizeof(struct rollout_health_ops), __VA_ARGS__                                                 \
	}

/* ------------------------------------------------------------------------ */
/* TRAFFIC plugins: block / allow a target in a named backend.                */
/* ------------------------------------------------------------------------ */

struct rollout_traffic_ops {
	uint32_t size;
	/* MANDATORY. Stop sending new traffic to target (a targetId) in backend
	 * (the load balancer's name for the pool: target group, haproxy
	 * backend). Returns at once; see wait_drained. */
	int (*block)(void *state, const char *backend, const char *target, struct rollout_error *err);
	/* MANDATORY. Put target back into service. */
	int (*allow)(void *state, const char *backend, const char *target, struct rollout_error *err);
	/* MANDATORY. Current state of target in backend. */
	int (*get_state)(void *state, const char *backend, const char *target, enum rollout_traffic_state *ret,
			 struct rollout_error *err);
	/* OPTIONAL. Wait until target has no connections left, at most
	 * timeout_ms (-ETIMEDOUT then). Absent: the engine polls get_state. */
	int (*wait_drained)(void *state, const char *backend, const char *target, int64_t timeout_ms,
			    struct rollout_error *err);
	/* OPTIONAL. Set target's relative weight (0..256) for gradual shifts. */
	int (*set_weight)(void *state, const char *backend, const char *target, uint32_t weight,
			  struct rollout_error *err);
};
#define ROLLOUT_TRAFFIC_OPS_INIT(...)                                                                                  \
	{                                                                                                              \
		.size = sizeof(struct rollout_traffic_ops), __VA_ARGS__                                                \
	}

/* ------------------------------------------------------------------------ */
/* The descriptor.                                                            */
/* ------------------------------------------------------------------------ */

struct rollout_plugin {
	/* Header: checked by the loader before anything else is read. */
	uint32_t magic;	    /* ROLLOUT_PLUGIN_MAGIC */
	uint32_t abi_major; /* ROLLOUT_ABI_MAJOR the plugin was built with */
	uint32_t abi_minor; /* ROLLOUT_ABI_MINOR the plugin was built with */
	uint32_t size;	    /* sizeof(struct rollout_plugin) */
	enum rollout_kind kind;

	const char *name;	 /* [a-z0-9_-]{1,64}; normally the file's name without .so */
	const char *version;	 /* the plugin's own version, e.g. "1.2.0" */
	const char *description; /* one line */

	/* init (optional): called once on the main thread after all checks.
	 * host and h are valid until destroy returns. Read the config with
	 * host->config_parse. Store private state in *ret_state (may stay
	 * NULL). On failure return a negative errno and write one line into
	 * err saying what is wrong and how to fix it; destroy is not called. */
	int (*init)(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		    size_t errlen);
	/* destroy (optional): frees state. Main thread, after all ops ended. */
	void (*destroy)(void *state);

	/* The ops table of `kind` (a static const table). */
	union {
		const void *any;
		const struct rollout_platform_ops *platform;
		const struct rollout_source_ops *source;
		const struct rollout_health_ops *health;
		const struct rollout_traffic_ops *traffic;
	} ops;
	/* Appended members go below, and bump ROLLOUT_ABI_MINOR. */
};

/* Size of the descriptor at ABI 1.0: a plugin declaring minor 0 must be at
 * least this large. */
#define ROLLOUT_PLUGIN_SIZE_1_0 (offsetof(struct rollout_plugin, ops) + sizeof(const void *))
/* ABI 1.1 appended nothing to the descriptor itself. */
#define ROLLOUT_PLUGIN_SIZE_1_1 ROLLOUT_PLUGIN_SIZE_1_0

/* Fills the header: ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_SOURCE, .name = "s3", ...) */
#define ROLLOUT_PLUGIN_INIT(kind_, ...)                                                                                \
	{                                                                                                              \
		.magic = ROLLOUT_PLUGIN_MAGIC, .abi_major = ROLLOUT_ABI_MAJOR, .abi_minor = ROLLOUT_ABI_MINOR,         \
		.size = sizeof(struct rollout_plugin), .kind = (kind_), __VA_ARGS__                                    \
	}

/* The entry point every plugin defines, e.g.
 *
 *     static const struct rollout_plugin plugin = ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_HEALTH,
 *             .name = "always-ok", .version = "1.0", .description = "...",
 *             .ops.health = &ops);
 *     ROLLOUT_PLUGIN_EXPORT(plugin)
 */
typedef const struct rollout_plugin *(*rollout_entry_fn)(void);
ROLLOUT_EXPORT const struct rollout_plugin *rollout_plugin_v1(void);

#define ROLLOUT_PLUGIN_EXPORT(desc)                                                                                    \
	ROLLOUT_EXPORT const struct rollout_plugin *rollout_plugin_v1(void)                                            \
	{                                                                                                              \
		return &(desc);                                                                                        \
	}

#ifdef __cplusplus
}
#endif
#endif /* ROLLOUT_PLUGIN_H */
