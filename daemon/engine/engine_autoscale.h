/* Scale-out deployments: instances Auto Scaling launches into a deployment
 * group's Auto Scaling groups get the group's last successful revision
 * (creator "autoscaling"), as on CodeDeploy.
 *
 * The platform plugin (the ec2 plugin's lifecycle_* ops) tells the engine
 * about launches: lifecycle messages from the user's SQS queue (an action
 * with a token: the instance waits in Pending:Wait; the engine heartbeats
 * it while its deployment runs and completes it with CONTINUE on success,
 * ABANDON on failure), or, without a queue, the instances in service that
 * the engine deploys to when the group never did. The engine asks when the
 * plugin's last answer said to (a job, never two at once).
 *
 * A scale-out deployment is not queued behind the group's running
 * deployment and does not hold one back: a launching instance must not
 * wait for a long deployment, and it is not among that deployment's
 * targets. It deploys the group's targetRevision, the revision of its last
 * successful deployment, never the one in flight; when the deployment in
 * flight succeeds, the auto-update scan (engine_autodeploy.c) brings such
 * instances up to date (CodeDeployAutoUpdate) unless the group's
 * outdatedInstancesStrategy is IGNORE. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/engine_model.h"

struct engine;
struct eng_input;
struct eng_job;

/* Every turn on the engine thread: the due receive job and heartbeats
 * (nothing to do before eng_autoscale_next). */
void eng_autoscale_tick(struct engine *e);
/* When the tick has something to do (monotonic ms), INT64_MAX: never. */
int64_t eng_autoscale_next(const struct engine *e);
/* An IN_LIFECYCLE input: creates the scale-out deployments it calls for (as
 * Created, in the turn's transaction) and returns their ids (a new array,
 * maybe empty) for the state machine to start; NULL when none. */
json_t *eng_autoscale_apply(struct engine *e, struct eng_input *in);
/* dp ended: completes its lifecycle action (CONTINUE / ABANDON). */
void eng_autoscale_finished(struct engine *e, struct eng_dep *dp, enum eng_dstatus status);
/* Whether dp runs beside the group's other deployments (a scale-out one). */
bool eng_autoscale_unqueued(const struct eng_dep *dp);
void eng_autoscale_free(struct engine *e);

/* The jobs (engine_jobs.c's table): lifecycle_receive, lifecycle_complete. */
void eng_job_lifecycle(struct engine *e, struct eng_job *j, struct eng_input *in);
