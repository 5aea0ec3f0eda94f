/* The host-services table given to plugins (struct rollout_host in
 * sdk/include/rollout/plugin.h) and the per-plugin handle behind it.
 *
 *   plugin_host.c    the table, and the services bound to the running daemon
 *                    (logging, HTTP with credentials, on-prem instances,
 *                    file hashes);
 *   plugin_config.c  handles and the plugin's config subtree;
 *   plugin_alarm.c   alarm settings (host->alarm_settings_parse);
 *   plugin_tags.c    tag filters (host->tag_filter_*, over lib/tagfilter);
 *   plugin_xml.c     XML of AWS query APIs (host->xml_*, over libxml2).
 *
 * The last four need nothing of the running daemon, so the SDK's testing
 * library (sdk/testing/) compiles them too: a plugin's unit test runs
 * against the daemon's own code for them. Only daemon/core/plugins.c (and
 * the testing library) create handles. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <rollout/plugin.h>

#include "core/plugins.h"

struct rd_config;
struct yt_node;

/* State shared by all handles of one registry (owned by the registry). */
struct host_shared {
	const struct rd_config *cfg; /* borrowed; NULL in the testing library */
	plugins_onprem_fn onprem_fn;
	void *onprem_userdata;
	void *owner; /* the testing library's test host; NULL in the daemon */
};

#define HOST_HANDLE_MAGIC 0x48414e44u /* "HAND" */

struct rollout_handle {
	unsigned magic;
	char *name;			    /* log tag and config path "plugins.NAME" */
	const struct yt_node *settings;	    /* borrowed from cfg; NULL when empty */
	const struct yt_node *settings_key; /* the key node under plugins:, for error positions */
	struct host_shared *shared;	    /* borrowed */
	char *settings_json;		    /* lazily built by config_json */
	char **owned;			    /* strings handed out until destroy */
	size_t n_owned;
	pthread_mutex_t lock;	     /* guards settings_json, owned and read */
	bool parsed;		     /* config_parse succeeded once */
	const struct yt_node **read; /* keys looked up through the single getters */
	size_t n_read;
};

/* The table (static, valid forever). */
const struct rollout_host *host_table(void);

/* Creates the handle of plugin `name`. settings/settings_key borrowed. */
int host_handle_new(const char *name, const struct yt_node *settings, const struct yt_node *settings_key,
		    struct host_shared *shared, struct rollout_handle **ret);
struct rollout_handle *host_handle_free(struct rollout_handle *h);
/* True when h is a live handle; else logs that fn got a bad one (a plugin bug). */
bool host_handle_ok(struct rollout_handle *h, const char *fn);

/* After init: a plugin that never validated its settings with config_parse
 * must at least have read each key through a getter; any other key is an
 * unknown setting. 0 or -EINVAL with "FILE:LINE:COL: plugins.NAME: ...". */
int host_check_settings_used(struct rollout_handle *h, char *err, size_t errlen);

/* ---- the services that need no running daemon (see the top) ---- */

/* A ROLLOUT_OPT_NUMBER value: finite, within [min, max] when bounded.
 * -EINVAL (not a number) or -ERANGE. */
int host_number(const char *s, bool bounded, int64_t min, int64_t max, double *ret);

int host_config_parse(struct rollout_handle *h, const struct rollout_option *opts, size_t opt_size, void *dst,
		      char *err, size_t errlen);
int host_config_string(struct rollout_handle *h, const char *key, const char *def, const char **ret, char *err,
		       size_t errlen);
int host_config_int(struct rollout_handle *h, const char *key, int64_t def, int64_t min, int64_t max, int64_t *ret,
		    char *err, size_t errlen);
int host_config_bool(struct rollout_handle *h, const char *key, bool def, bool *ret, char *err, size_t errlen);
int host_config_duration_ms(struct rollout_handle *h, const char *key, int64_t def, int64_t min, int64_t max,
			    int64_t *ret, char *err, size_t errlen);
const char *host_config_json(struct rollout_handle *h);

int host_tag_filter_new(struct rollout_handle *h, const char *filter_json, struct rollout_tag_filter **ret, char *err,
			size_t errlen);
int host_tag_filter_match(const struct rollout_tag_filter *f, const char *tags_json);
struct rollout_tag_filter *host_tag_filter_free(struct rollout_tag_filter *f);

int host_alarm_settings_parse(struct rollout_handle *h, const char *alarm_name, const char *settings_json,
			      const struct rollout_option *opts, size_t opt_size, void *dst,
			      struct rollout_alarm_settings **ret, struct rollout_error *err);
struct rollout_alarm_settings *host_alarm_settings_free(struct rollout_alarm_settings *s);

int host_xml_parse(struct rollout_handle *h, const char *text, size_t len, struct rollout_xml **ret, char *err,
		   size_t errlen);
struct rollout_xml *host_xml_free(struct rollout_xml *doc);
const struct rollout_xml_node *host_xml_root(const struct rollout_xml *doc);
const struct rollout_xml_node *host_xml_find(const struct rollout_xml_node *node, const char *path);
const char *host_xml_text(const struct rollout_xml_node *node, const char *path);
const struct rollout_xml_node *host_xml_first(const struct rollout_xml_node *parent, const char *name);
const struct rollout_xml_node *host_xml_next(const struct rollout_xml_node *node, const char *name);
const char *host_xml_name(const struct rollout_xml_node *node);
int host_xml_aws_error(const struct rollout_xml *doc, const char **ret_code, const char **ret_message);

/* The members of a struct rollout_host initialiser that both tables (the
 * daemon's and the testing library's) fill with the same functions. */
#define HOST_PURE_SERVICES                                                                                             \
	.config_parse = host_config_parse, .config_string = host_config_string, .config_int = host_config_int,         \
	.config_bool = host_config_bool, .config_duration_ms = host_config_duration_ms,                                \
	.config_json = host_config_json, .tag_filter_new = host_tag_filter_new,                                        \
	.tag_filter_match = host_tag_filter_match, .tag_filter_free = host_tag_filter_free,                            \
	.alarm_settings_parse = host_alarm_settings_parse, .alarm_settings_free = host_alarm_settings_free,            \
	.xml_parse = host_xml_parse, .xml_free = host_xml_free, .xml_root = host_xml_root, .xml_find = host_xml_find,  \
	.xml_text = host_xml_text, .xml_first = host_xml_first, .xml_next = host_xml_next, .xml_name = host_xml_name,  \
	.xml_aws_error = host_xml_aws_error
