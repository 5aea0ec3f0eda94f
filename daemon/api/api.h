/* The control API: the CodeDeploy JSON API (X-Amz-Target
 * CodeDeploy_20141006.<Op>, SigV4 service "codedeploy") and rolloutd's own
 * extensions (Rolloutd_v1.<Op>: access keys, GetDeploymentLogs,
 * PlanDeployment). Handlers run on workpool threads (daemon/core/httpd.h). */
#pragma once

#include <stddef.h>

struct httpd_call;

/* The route handlers main.c registers: CodeDeploy_20141006 (service
 * codedeploy) and Rolloutd_v1 (service codedeploy). userdata is the
 * struct rd_daemon. */
void api_codedeploy_call(struct httpd_call *call, void *userdata);
void api_ext_call(struct httpd_call *call, void *userdata);

/* The plugin host's on-premises instance source (host->onprem_instances in
 * plugin.h): every instance as a CodeDeploy InstanceInfo plus
 * registrationStatus, as malloc'd JSON text. userdata is the daemon. */
int api_onprem_instances(void *userdata, char **ret_json, char *err, size_t errlen);

struct rd_daemon;
/* Revokes the agent keys of EC2 instances the platform plugins report
 * terminated (api_enroll.c); *ret_revoked (may be NULL): how many. Blocks
 * on the plugins: call it on a workpool thread. */
int api_enroll_sweep(struct rd_daemon *d, int *ret_revoked);
