/* The control API: the CodeDeploy JSON API (X-Amz-Target
 * CodeDeploy_20141006.<Op>, SigV4 service "codedeploy") and rolloutd's own
 * extensions (Rolloutd_v1.<Op>: CreateAccessKey, ListAccessKeys,
 * DeleteAccessKey). Handlers run on workpool threads (daemon/core/httpd.h). */
#pragma once

#include <stddef.h>

struct rd_daemon;

/* Registers the API's services with d->httpd. */
int api_register(struct rd_daemon *d, char *err, size_t errlen);
