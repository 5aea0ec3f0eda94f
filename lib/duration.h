/* The one duration syntax of rolloutd, rollout-agent and rolloutctl:
 * a non-negative decimal number followed by ms, s, m, h or d ("250ms", "1.5s",
 * "5m", "2h", "90d"); a bare number is seconds. Library code: never logs. */
#pragma once

#include <stdint.h>

/* Parses s into milliseconds (fractions of a millisecond are dropped).
 * -EINVAL when s is not a duration (empty, negative, not finite, unknown
 * unit), -ERANGE when it is longer than max_ms: each caller has its own cap. */
int rd_duration_parse_ms(const char *s, int64_t max_ms, int64_t *ret_ms);
