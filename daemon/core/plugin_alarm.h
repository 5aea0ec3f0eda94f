/* Alarm settings: the map of one alarm under the config's `alarms:`, as its
 * health plugin and the daemon read it.
 *
 * Every alarm map carries keys the daemon reads itself (the common keys,
 * below) next to its plugin's own. One parser checks the common keys for
 * both: the daemon's alarm polling (health/alarms.c), the loader
 * (plugins.c, at start) and every health plugin through
 * host->alarm_settings_parse, so a bad value is refused the same way
 * whichever reads it first. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <rollout/plugin.h>

#define ALARM_INTERVAL_MIN_MS 100
#define ALARM_INTERVAL_MAX_MS (3600 * 1000)
#define ALARM_GATE_TIMEOUT_MAX_MS (3600 * 1000)

/* The common keys, as a NULL-terminated list (for "accepted: ..." messages). */
extern const char *const alarm_common_keys[];

struct alarm_common {
	const char *plugin;	    /* borrowed from the settings; NULL when absent */
	const char *description;    /* borrowed; NULL when absent */
	const char *instance;	    /* the instance a gate checks (the daemon adds it); borrowed */
	int64_t interval_ms;	    /* polling period; 0 when absent */
	bool gate;		    /* checked per instance after ApplicationStart */
	int64_t gate_timeout_ms;    /* how long a gate retries; 0 (one check) when absent */
	bool insufficient_continue; /* on_insufficient_data: continue */
};

/* Reads and checks the common keys of one alarm's settings (a JSON object,
 * scalars as strings). 0 and *ret, or -EINVAL with err (code
 * INVALID_ALARM_CONFIG, "alarm NAME: what is wrong (how to fix)"). */
int alarm_common_parse(const char *alarm, const json_t *settings, struct alarm_common *ret, struct rollout_error *err);

/* The same from JSON text; *ret_root (which ret's strings point into) is the
 * caller's to json_decref. */
int alarm_common_parse_text(const char *alarm, const char *settings_json, json_t **ret_root, struct alarm_common *ret,
			    struct rollout_error *err);
