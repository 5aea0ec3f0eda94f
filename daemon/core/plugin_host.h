/* The host-services table given to plugins (struct rollout_host in
 * sdk/include/rollout/plugin.h) and the per-plugin handle behind it. Only
 * daemon/core/plugins.c creates handles. */
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
	const struct rd_config *cfg; /* borrowed */
	plugins_onprem_fn onprem_fn;
	void *onprem_userdata;
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

/* After init: a plugin that never validated its settings with config_parse
 * must at least have read each key through a getter; any other key is an
 * unknown setting. 0 or -EINVAL with "FILE:LINE:COL: plugins.NAME: ...". */
int host_check_settings_used(struct rollout_handle *h, char *err, size_t errlen);
