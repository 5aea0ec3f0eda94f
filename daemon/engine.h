/* The deployment engine (issue 6). main.c calls engine_start() after the
 * store, plugins and HTTP server are up, and engine_stop() before they go
 * down. The API module tells the engine about new work through the
 * engine_notify_* functions; they never block (they queue and return). */
#pragma once

#include <stddef.h>

struct rd_daemon;

int engine_start(struct rd_daemon *d, char *err, size_t errlen);
void engine_stop(struct rd_daemon *d);

/* A deployment was stored as Created (CreateDeployment, rollback, auto-update). */
void engine_notify_created(struct rd_daemon *d, const char *deployment_id);
