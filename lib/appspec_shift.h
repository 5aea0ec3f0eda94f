/* The AppSpec of the platforms that shift traffic themselves (Lambda, ECS):
 * `version`, `Resources` (the platform plugin reads them) and `Hooks`, one
 * function per lifecycle event. YAML or JSON (libyaml reads both); the
 * top-level keys and the event names are matched case-insensitively, as
 * AWS's own examples spell them both ways.
 *
 * Library code: never logs. Errors are "NAME:LINE:COL: what is wrong and
 * how to fix it" in err. */
#pragma once

#include <stddef.h>

struct json_t;

#define APPSPEC_SHIFT_MAX_BYTES (1024 * 1024)

/* Parses and validates text for compute_platform ("Lambda" or "ECS").
 * On success *ret (a new jansson reference, owned by the caller) is
 *   {"version": "0.0",
 *    "Resources": [ ...each entry as written, scalars as strings... ],
 *    "Hooks": [ {"<Event, canonical spelling>": "<function>"}, ... ]}
 * Returns 0, -EINVAL (err set) or -ENOMEM. */
int appspec_shift_parse(const char *text, size_t len, const char *name, const char *compute_platform,
			struct json_t **ret, char *err, size_t errlen);

/* The events of compute_platform whose hooks an AppSpec may name, in
 * CodeDeploy's order, NULL-terminated; NULL for an unknown platform. */
const char *const *appspec_shift_hook_events(const char *compute_platform);

/* The function a parsed AppSpec names for event, or NULL (borrowed). */
const char *appspec_shift_hook(const struct json_t *appspec, const char *event);
