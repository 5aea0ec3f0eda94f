/* The notice a daemon that drives a deployment sends on channel
 * rolloutd_host when a command becomes due on hosts whose poll it does not
 * hold: {"u": its advertise URL, "h": [host names]}. The daemon holding
 * such a host's poll hands it over to that URL (docs/cluster.md). Pure
 * functions, unit-tested. */
#pragma once

#include <stddef.h>

#include <jansson.h>

#define RELAY_NOTICE_CHANNEL "rolloutd_host"
#define RELAY_NOTICE_MAX 7900 /* bytes: PostgreSQL's NOTIFY takes payloads under 8000 */

/* Encodes url and as many of hosts[0..n) as fit in RELAY_NOTICE_MAX bytes
 * into *ret (malloc'd); *ret_used says how many (at least 1). -EINVAL when
 * url with the first host alone does not fit, -ENOMEM. */
int relay_notice_encode(const char *url, const char *const *hosts, size_t n, size_t *ret_used, char **ret);
/* Decodes a notice: url (urllen bytes) and *ret_hosts (a new reference to
 * an array of non-empty strings). -EINVAL for anything else. */
int relay_notice_decode(const char *payload, char *url, size_t urllen, json_t **ret_hosts);
