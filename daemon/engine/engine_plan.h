/* Pure deployment planning for server (in-place) deployments: how many hosts
 * may be in flight under a deployment config, when a deployment has
 * succeeded or must fail, the order of lifecycle events and of targets.
 * No I/O, no locks, no logging; unit-tested in tests/unit/daemon/engine/test_engine_plan.c.
 *
 * Semantics (CodeDeploy's, as its user guide describes minimum healthy hosts):
 *  - MOST_CONCURRENCY (CodeDeployDefault.OneAtATime): one host at a time.
 *    Any failure stops the deployment, except a failure on the last host of
 *    a fleet of more than one. A single-host fleet must succeed.
 *  - HOST_COUNT n: at least n hosts must stay healthy; at most total-n hosts
 *    are in flight or failed at any moment.
 *  - FLEET_PERCENT p: as HOST_COUNT with n = ceil(total * p / 100).
 *  - Minimum 0 (AllAtOnce): every host at once; succeeds if at least one
 *    host succeeds.
 *  - The deployment fails with HEALTH_CONSTRAINTS as soon as the minimum can
 *    no longer hold: more failures than total-min, or hosts left that cannot
 *    be started without going below the minimum. It fails at the start with
 *    HEALTH_CONSTRAINTS_INVALID when the minimum leaves no host to deploy to.
 * "In flight" hosts count as unhealthy; pending hosts count as healthy. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

enum eng_mhh_type {
	ENG_MHH_HOST_COUNT = 0,
	ENG_MHH_FLEET_PERCENT = 1,
	ENG_MHH_MOST_CONCURRENCY = 2,
};

/* Parses "HOST_COUNT", "FLEET_PERCENT", "MOST_CONCURRENCY"; -EINVAL otherwise. */
int eng_mhh_type_parse(const char *s, enum eng_mhh_type *ret);

struct eng_policy {
	int total;	   /* hosts in the deployment */
	int min_healthy;   /* hosts that must end (and stay) healthy */
	int max_unhealthy; /* total - min_healthy: in flight + failed at most */
	bool one_at_a_time;
};

/* Computes the policy for a fleet of total hosts (total >= 1).
 * -ERANGE with err (code HEALTH_CONSTRAINTS_INVALID) when the configuration
 * leaves no host that may be taken out of service; -EINVAL (INTERNAL_ERROR)
 * for a bad value. */
/* total counts only the hosts that will be deployed to (hosts left out by
 * updateOutdatedInstancesOnly are not part of the plan). */
int eng_policy_compute(enum eng_mhh_type type, int value, int total, struct eng_policy *ret, struct rd_error *err);

struct eng_counts {
	int pending;	 /* not started */
	int in_progress; /* started, not finished */
	int succeeded;
	int failed;
};

enum eng_verdict {
	ENG_CONTINUE = 0, /* start `start` more hosts (may be 0: wait) */
	ENG_SUCCEEDED = 1,
	ENG_FAILED = 2, /* HEALTH_CONSTRAINTS */
};

struct eng_step {
	enum eng_verdict verdict;
	int start; /* hosts to start now (ENG_CONTINUE only) */
};

/* Decides what to do next from the current counts. Hosts are started in
 * order, so for one_at_a_time a failure seen with nothing pending and
 * nothing in flight happened on the last host. */
struct eng_step eng_plan_step(const struct eng_policy *p, const struct eng_counts *c);

/* The batches a deployment of n hosts runs under p when every host
 * succeeds: hosts start in order, each batch being what eng_plan_step lets
 * start at once. Writes at most max batch sizes to sizes and returns how
 * many it wrote. */
size_t eng_plan_batches(const struct eng_policy *p, int n, int *sizes, size_t max);

/* The message of a deployment that finds no instance (NO_INSTANCES). */
#define ENG_MSG_NO_INSTANCES                                                                                           \
	"The deployment failed because no instances were found for the deployment group. Register on-premises "        \
	"instances and tag them to match the group's tag filters, or check the filters."

/* The message AWS gives for a HEALTH_CONSTRAINTS failure. */
#define ENG_MSG_HEALTH_CONSTRAINTS                                                                                     \
	"The overall deployment failed because too many individual instances failed deployment, too few healthy "      \
	"instances are available for deployment, or some instances in your deployment group are experiencing "         \
	"problems."

/* Lifecycle events of an in-place server deployment, in order. Traffic
 * events (BeforeBlockTraffic..AfterAllowTraffic) are included only with
 * traffic control. Service-side events (BlockTraffic, AllowTraffic) are
 * flagged. Returns the number of events written (at most max). */
struct eng_event_def {
	const char *name;
	bool service_side; /* run by the daemon (traffic plugin), not the agent */
	bool noop_capable; /* the agent may report it as a noop (no scripts) */
};
size_t eng_lifecycle_events(bool traffic_control, struct eng_event_def *out, size_t max);
/* Lifecycle events of an Auto Scaling termination deployment (creator
 * autoscalingTermination), in CodeDeploy's order: with traffic control
 * BeforeBlockTraffic, BlockTraffic, AfterBlockTraffic, then ApplicationStop.
 * Nothing is installed; the hooks are the instance's last successful
 * revision's. Returns the number of events written (at most max). */
size_t eng_termination_events(bool traffic_control, struct eng_event_def *out, size_t max);
#define ENG_MAX_EVENTS 13

/* Sorts target names so that hosts whose last deployment failed come first,
 * then by name. failed[i] belongs to names[i]; both arrays are permuted
 * together. */
void eng_order_targets(const char **names, bool *failed, size_t n);

/* Mints a deployment id: "d-" and 9 characters of [A-Z0-9]. out >= 12 bytes. */
int eng_new_deployment_id(char out[12]);

/* True for "d-" + 9 [A-Z0-9]. */
bool eng_deployment_id_valid(const char *s);

/* Maps an agent error_code (agent/PROTOCOL.md) to LifecycleErrorCode. */
const char *eng_lifecycle_error_code(int agent_code);
