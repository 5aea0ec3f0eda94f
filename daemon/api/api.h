/* The control API: the CodeDeploy JSON API (X-Amz-Target
 * CodeDeploy_20141006.<Op>, SigV4 service "codedeploy") and rolloutd's own
 * extensions (Rolloutd_v1.<Op>: CreateAccessKey, ListAccessKeys,
 * DeleteAccessKey). Handlers run on workpool threads (daemon/core/httpd.h). */
#pragma once

#include <stddef.h>

struct rd_daemon;

/* Registers the API's services with d->httpd. */
int api_register(struct rd_daemon *d, char *err, size_t errlen);

/* The plugin host's on-premises instance source (host->onprem_instances in
 * plugin.h): every instance as a CodeDeploy InstanceInfo plus
 * registrationStatus, as malloc'd JSON text. userdata is the daemon. */
int api_onprem_instances(void *userdata, char **ret_json, char *err, size_t errlen);
