/* The CodeDeploy operation handlers (one per model operation). */
#pragma once

#include <stdbool.h>

#include "api/api_internal.h"

void api_op_add_tags_to_on_premises_instances(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_batch_get_application_revisions(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_batch_get_applications(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_batch_get_deployment_groups(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_batch_get_deployment_instances(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_batch_get_deployment_targets(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_batch_get_deployments(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_batch_get_on_premises_instances(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_continue_deployment(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_create_application(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_create_deployment(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_create_deployment_config(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_create_deployment_group(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_delete_application(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_delete_deployment_config(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_delete_deployment_group(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_delete_github_account_token(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_delete_resources_by_external_id(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_deregister_on_premises_instance(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_get_application(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_get_application_revision(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_get_deployment(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_get_deployment_config(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_get_deployment_group(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_get_deployment_instance(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_get_deployment_target(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_get_on_premises_instance(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_list_application_revisions(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_list_applications(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_list_deployment_configs(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_list_deployment_groups(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_list_deployment_instances(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_list_deployment_targets(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_list_deployments(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_list_github_account_token_names(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_list_on_premises_instances(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_list_tags_for_resource(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_put_lifecycle_event_hook_execution_status(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_register_application_revision(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_register_on_premises_instance(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_remove_tags_from_on_premises_instances(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_skip_wait_time_for_instance_termination(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_stop_deployment(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_tag_resource(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_untag_resource(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_update_application(struct rd_daemon *d, struct httpd_call *call, json_t *in);
void api_op_update_deployment_group(struct rd_daemon *d, struct httpd_call *call, json_t *in);

/* shared validation (complete call on error) */
int api_check_alarms(struct httpd_call *call, json_t *alarm_configuration);
int api_check_auto_rollback(struct httpd_call *call, json_t *auto_rollback_configuration);
int api_check_revision(struct httpd_call *call, json_t *revision, const char *platform);
int api_check_description(struct httpd_call *call, json_t *in);
const char *api_default_config(const char *platform);

/* What CreateDeployment checks before it stores a deployment, shared with
 * Rolloutd_v1.PlanDeployment: the application, the group, the revision (the
 * request's, else the group's targetRevision; required with need_revision),
 * the config (the request's, else the group's) and its compute platform,
 * alarm and rollback overrides, and targetInstances /
 * updateOutdatedInstancesOnly against the group's deployment style. 0 with
 * q filled (infos owned by q: api_deployment_request_free), or -EINVAL
 * after completing call with the exception CreateDeployment answers. */
struct api_deployment_request {
	const char *app, *group, *config, *platform; /* borrowed from the request or the infos */
	json_t *revision;			     /* borrowed; NULL when none */
	json_t *app_info, *group_info, *config_info;
};
int api_deployment_request_check(struct rd_daemon *d, struct httpd_call *call, json_t *in, bool need_revision,
				 struct api_deployment_request *q);
void api_deployment_request_free(struct api_deployment_request *q);
bool api_deployment_id_valid(const char *id);
