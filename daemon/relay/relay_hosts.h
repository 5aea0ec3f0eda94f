/* Which daemon drives the command waiting for a host, as the other daemons
 * announced it (channel rolloutd_host): host name -> that daemon's URL, for
 * a short while. A poll of that host is then relayed straight to it
 * without looking in the database. Entries end after their time to live,
 * or when a poll relayed on their word came back without a command.
 * Thread-safe; pure (the caller gives the time), unit-tested. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct relay_hosts;

/* At most max hosts are remembered; past it expired entries are swept,
 * and a new host is not remembered while none has expired (the database
 * answers for it). NULL when out of memory. */
struct relay_hosts *relay_hosts_new(size_t max);
struct relay_hosts *relay_hosts_free(struct relay_hosts *m);

/* Remembers host -> url until now_ms + ttl_ms. */
void relay_hosts_put(struct relay_hosts *m, const char *host, const char *url, int64_t now_ms, int64_t ttl_ms);
/* 0 with url (len bytes) when host has a live entry, else -ENOENT. */
int relay_hosts_get(struct relay_hosts *m, const char *host, int64_t now_ms, char *url, size_t len);
/* Forgets host if it still points to url (a newer announcement stays). */
void relay_hosts_forget(struct relay_hosts *m, const char *host, const char *url);
size_t relay_hosts_size(struct relay_hosts *m);
