/* Shared between daemon/bundles*.c only. */
#pragma once

#include <stddef.h>

struct rd_daemon;
struct bcache;

/* The process's cache (NULL before bundles_start / after bundles_stop). */
struct bcache *bundles_cache(struct rd_daemon *d);

/* Pre-flight of a bundle file: appspec present and valid, hook scripts
 * present and executable, files[].source present. 0 or negative errno with
 * errcode INVALID_REVISION (or INTERNAL_ERROR) and a user-facing msg. */
int bundles_preflight(const char *path, char *errcode, size_t errcodelen, char *msg, size_t msglen);

/* GET /bundles/<sha256> and the upload routes (bundles_http.c). */
int bundles_http_register(struct rd_daemon *d, char *err, size_t errlen);
void bundles_http_unregister(struct rd_daemon *d);
