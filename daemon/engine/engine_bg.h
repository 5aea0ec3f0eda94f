/* The blue/green steps of a server deployment around its traffic phase.
 * The green (replacement) fleet is deployed like an in-place fleet, up to
 * AllowTraffic; then the deployment may wait for ContinueDeployment
 * (deploymentReadyOption STOP_DEPLOYMENT: status Ready), the original (blue)
 * fleet runs BeforeBlockTraffic, and one traffic phase on a worker
 * (daemon/traffic/traffic.h traffic_bg_run) moves traffic for the whole
 * fleet: its end is AllowTraffic of every green and BlockTraffic of every
 * blue instance. These functions take the blue/green decisions and keep
 * the blue/green state of the model; the state machine acts on what they
 * return (starting targets, finishing the deployment). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <rollout/plugin.h>

#include "core/error.h"
#include "engine/engine_model.h"
#include "engine/engine_plan.h"

struct engine;
struct eng_dep;
struct eng_job;

enum eng_bg_step {
	BG_STEP_GO_ON,	    /* nothing blue/green to do: the planner's verdict stands */
	BG_STEP_WAIT,	    /* wait (for the traffic phase, the blue fleet or ContinueDeployment) */
	BG_STEP_START_BLUE, /* start the blue fleet's pending targets now */
	BG_STEP_FAIL,	    /* an original instance failed: fail the deployment (msg) */
};

/* The blue/green part of advancing dp, given the planner's verdict for the
 * green fleet: marks the deployment Ready or lets blue go, and starts the
 * traffic phase (a job) once every blue instance waits at BlockTraffic. */
enum eng_bg_step eng_bg_step(struct engine *e, struct eng_dep *dp, enum eng_verdict verdict, char *msg, size_t msglen);

/* Adds the original fleet (array of target objects from the resolve) to dp
 * as targets labelled Blue, stored Pending. */
void eng_bg_add_blue(struct engine *e, struct eng_dep *dp, const json_t *blue);

/* ContinueDeployment(READY_WAIT): 0 (InProgress again, blue may go),
 * -ENOTSUP for a deployment that is not blue/green, -EAGAIN when it does
 * not wait. */
int eng_bg_continue(struct engine *e, struct eng_dep *dp);

/* The traffic phase rerouted and now waits terminationWaitTimeInMinutes
 * (until end_wall_ms) before it retires the original fleet: stored
 * (instanceTerminationWaitTimeStarted, and the end, which the phase keeps
 * after a restart). */
void eng_bg_wait_started(struct engine *e, struct eng_dep *dp, int64_t end_wall_ms);

/* A blue/green rollback's targets (eng_bg_rollback_fleet) are stored: it
 * has no termination wait of its own. */
void eng_bg_rollback_resolved(struct engine *e, struct eng_dep *dp);

/* ContinueDeployment(TERMINATION_WAIT) and SkipWaitTimeForInstanceTermination:
 * 0 (the wait's end stored as now, the traffic phase retires the original
 * fleet at once), -ENOTSUP for a deployment that is not blue/green, -EAGAIN
 * when it does not wait to terminate the original fleet (before the
 * reroute, with KEEP_ALIVE, or once the wait is over). */
int eng_bg_end_wait(struct engine *e, struct eng_dep *dp);

/* Worker (the resolve job): a BLUE_GREEN deployment's green fleet that a
 * platform plugin provisions (fleet_provision: the ec2 plugin copies the
 * group's Auto Scaling group for COPY_AUTO_SCALING_GROUP) is created and
 * running before it is resolved; its selector replaces doc's
 * targetInstances. 0 also when there is nothing to provision; a negative
 * errno with err when the deployment must fail (what was created is
 * discarded again). */
int eng_bg_provision(struct engine *e, const struct rollout_deployment *dep, const char *group_json, json_t *doc,
		     struct rd_error *err);

/* Worker (the resolve job): the rollback deployment (creator
 * codeDeployRollback) of a BLUE_GREEN group returns to the original fleet,
 * to which the failed deployment routed traffic back: in->targets are the
 * group's own instances (its selection without targetInstances), which run
 * BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic (FLEET_ORIGINAL), and
 * no green fleet is provisioned (no second copy of an Auto Scaling group).
 * False for any other deployment; true with in->targets NULL and in->err
 * when the fleet cannot be resolved. */
struct eng_input;
bool eng_bg_rollback_fleet(struct engine *e, const struct rollout_deployment *dep, const char *creator,
			   const json_t *group, struct eng_input *in);

/* Worker (the traffic phase's job, after traffic_bg_run): moved true, the
 * platforms retire the original fleet (fleet_retire: TERMINATE or
 * KEEP_ALIVE) and the group is updated with what they answer (the copied
 * Auto Scaling group replaces the original); false, they discard a
 * provisioned green fleet (fleet_discard). Failures are logged: traffic
 * stays where the traffic phase left it. */
void eng_bg_fleet_end(struct engine *e, struct eng_job *j, const struct rollout_deployment *dep, bool moved);

/* dp ends with status: a blue/green deployment that ends before its
 * traffic phase discards a provisioned green fleet (a job). */
void eng_bg_finished(struct engine *e, struct eng_dep *dp, enum eng_dstatus status);
