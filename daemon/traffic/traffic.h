/* Traffic control for server deployments: the engine-facing side
 * of the traffic plugins (plugins/haproxy, ...).
 *
 * The engine parses a deployment group once with traffic_group_parse() and
 * then, ON A WORKER THREAD (every call below except the pure helpers may
 * block for up to the drain timeout), asks this module to block / allow an
 * instance or to move traffic between a blue and a green fleet. Nothing
 * here touches the store or the engine's state: the engine records the
 * BlockTraffic / AllowTraffic lifecycle events itself (InProgress before the
 * call, Succeeded / Failed with the rollout_error after it), so a restart
 * in the middle simply repeats the call (every call is idempotent).
 *
 * Names: loadBalancerInfo's target-group names (targetGroupInfoList[].name,
 * elbInfoList[].name, targetGroupPairInfoList[].targetGroups[].name) are
 * the traffic plugin's "backends"; instance names (targetIds) are its
 * "targets". The plugin maps them to its own names (plugins.haproxy.backends
 * and .servers). An instance is blocked / allowed in EVERY backend listed.
 *
 * WHERE THE ENGINE CALLS THIS (CodeDeploy's lifecycle event order):
 *
 *  In-place, deploymentStyle.deploymentOption WITH_TRAFFIC_CONTROL
 *  (traffic_group_in_place()): per target
 *      BeforeBlockTraffic (agent)
 *      BlockTraffic       traffic_block(g, instance, TRAFFIC_DRAIN_TIMEOUT_MS, &err)
 *      AfterBlockTraffic  (agent)
 *      ApplicationStop .. ValidateService (agent)
 *      BeforeAllowTraffic (agent)
 *      AllowTraffic       traffic_allow(g, instance, &err)
 *      AfterAllowTraffic  (agent)
 *  A failed BlockTraffic / AllowTraffic fails the target like a failed hook
 *  (deployment errorInformation code = err.code, e.g.
 *  ELASTIC_LOAD_BALANCING_INVALID / ELB_INVALID_INSTANCE). A target that
 *  fails after BlockTraffic stays blocked (as on CodeDeploy); the rollback
 *  deployment (also in-place with traffic control) allows it again.
 *
 *  BLUE_GREEN on servers (traffic_group_blue_green()): the deployment's
 *  targets are the green fleet, resolved by the platform plugins with the
 *  selector of traffic_green_selector() (the deployment's targetInstances, or
 *  the group's greenFleetProvisioningOption tag filters — rolloutd extensions,
 *  see docs/traffic.md); blue = the group's selection minus green.
 *      1. traffic_bg_begin(run)      green out of service before any hook runs
 *                                    (refused when green is the live fleet)
 *      2. green, all at once: ApplicationStop .. ValidateService, BeforeAllowTraffic
 *      3. AllowTraffic of the whole fleet = ONE traffic_bg_run(run) on a worker:
 *         ready wait (CONTINUE_DEPLOYMENT / STOP_DEPLOYMENT + ContinueDeployment
 *         through run->poll), reroute (green in, then blue drained out) or the
 *         weighted shift of the config's trafficRoutingConfig with the group's
 *         alarms checked between steps (ALARM flips back, ALARM_ACTIVE), then
 *         TERMINATE's wait and traffic_bg_retire(blue) (KEEP_ALIVE: blue stays
 *         registered, out of service)
 *      4. green: AfterAllowTraffic
 *      A stop (run->poll() == 2) before blue is retired flips traffic back to
 *      blue: a rollback is a flip, not a redeploy. The building blocks
 *      (traffic_bg_prepare/reroute/flip_back/retire, traffic_shift_run) are
 *      usable on their own.
 *
 *  Weighted rollouts use the DeploymentConfigInfo's trafficRoutingConfig on a
 *  Server config (TimeBasedCanary / TimeBasedLinear / AllAtOnce), see
 *  traffic_routing_parse(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rollout/plugin.h>

struct plugin_registry;

/* CodeDeploy's default deregistration delay. */
#define TRAFFIC_DRAIN_TIMEOUT_MS (300 * 1000)
/* The weight of a server that gets its full share (HAProxy: 0..256). */
#define TRAFFIC_FULL_WEIGHT 100
#define TRAFFIC_MAX_BACKENDS 16

enum traffic_ready_action { TRAFFIC_READY_CONTINUE = 0, TRAFFIC_READY_STOP = 1 };
enum traffic_terminate_action { TRAFFIC_BLUE_TERMINATE = 0, TRAFFIC_BLUE_KEEP_ALIVE = 1 };

/* A traffic plugin as this module uses it (a loaded plugin, or a test double). */
struct traffic_lb {
	const char *name;
	const struct rollout_traffic_ops *ops;
	void *state;
};

struct traffic_group {
	bool traffic_control; /* deploymentStyle.deploymentOption == WITH_TRAFFIC_CONTROL */
	bool blue_green;      /* deploymentStyle.deploymentType == BLUE_GREEN */
	char *backends[TRAFFIC_MAX_BACKENDS];
	size_t nbackends;
	struct traffic_lb lb;
	/* blueGreenDeploymentConfiguration */
	enum traffic_ready_action ready_action;
	int64_t ready_wait_ms;
	enum traffic_terminate_action terminate_action;
	int64_t terminate_wait_ms;
};

/* Parses the traffic settings of a DeploymentGroupInfo (JSON text, as the
 * store keeps it) or of a DeploymentInfo (which carries deploymentStyle,
 * loadBalancerInfo and blueGreenDeploymentConfiguration too). The traffic
 * plugin is the first of kind traffic in r. A group without traffic control
 * gives *ret with traffic_control false and blue_green false (not an error).
 * Errors (rollout_error filled, errorInformation codes):
 *   MISSING_ELB_INFORMATION   traffic control or blue/green without a target group
 *   ELASTIC_LOAD_BALANCING_INVALID  no traffic plugin loaded, or the plugin cannot set weights
 * *ret freed with traffic_group_free(). */
int traffic_group_parse(const struct plugin_registry *r, const char *group_json, struct traffic_group **ret,
			struct rollout_error *err);
/* Same with an explicit plugin (lb may be NULL: then no traffic control is possible). */
int traffic_group_parse_lb(const struct traffic_lb *lb, const char *group_json, struct traffic_group **ret,
			   struct rollout_error *err);
struct traffic_group *traffic_group_free(struct traffic_group *g);

/* In-place deployment with BlockTraffic / AllowTraffic events. */
static inline bool traffic_group_in_place(const struct traffic_group *g)
{
	return g && g->traffic_control && !g->blue_green;
}
static inline bool traffic_group_blue_green(const struct traffic_group *g)
{
	return g && g->blue_green;
}

/* BlockTraffic: stops new traffic to instance in every backend and waits
 * until its open sessions ended (at most drain_timeout_ms per backend).
 * Idempotent. */
int traffic_block(const struct traffic_group *g, const char *instance, int64_t drain_timeout_ms,
		  struct rollout_error *err);
/* AllowTraffic: puts instance back into service in every backend; its
 * weight is left as the operator configured it. Idempotent. */
int traffic_allow(const struct traffic_group *g, const char *instance, struct rollout_error *err);
/* The plugin's get_state, timed and counted on /metrics like every traffic
 * plugin call. */
int traffic_lb_get_state(const struct traffic_group *g, const char *be, const char *instance,
			 enum rollout_traffic_state *ret, struct rollout_error *err);

/* Per-server weights that send percent_green % of the requests to the green
 * fleet: ng servers at *ret_green, nb at *ret_blue, both within
 * 0..TRAFFIC_FULL_WEIGHT, the larger side at full weight, a side with a
 * share above 0 never at 0. Pure. */
void traffic_weights(size_t nblue, size_t ngreen, unsigned percent_green, unsigned *ret_blue, unsigned *ret_green);

/* Sets the weights of traffic_weights() on every server of both fleets in
 * every backend (servers must be allowed). Needs the plugin's set_weight. */
int traffic_shift(const struct traffic_group *g, const char *const *blue, size_t nblue, const char *const *green,
		  size_t ngreen, unsigned percent_green, struct rollout_error *err);

/* Blue/green building blocks (see the top of this file). Each is idempotent.
 * A fleet put into service here gets TRAFFIC_FULL_WEIGHT on every server
 * (when the plugin can set weights), so a fleet left at weight 0 by an
 * earlier weighted shift serves again. */
int traffic_bg_prepare(const struct traffic_group *g, const char *const *green, size_t ngreen, int64_t drain_timeout_ms,
		       struct rollout_error *err);
int traffic_bg_reroute(const struct traffic_group *g, const char *const *blue, size_t nblue, const char *const *green,
		       size_t ngreen, int64_t drain_timeout_ms, struct rollout_error *err);
int traffic_bg_flip_back(const struct traffic_group *g, const char *const *blue, size_t nblue, const char *const *green,
			 size_t ngreen, int64_t drain_timeout_ms, struct rollout_error *err);
int traffic_bg_retire(const struct traffic_group *g, const char *const *blue, size_t nblue, struct rollout_error *err);

/* The platform-resolvable selector of the green fleet: a JSON object
 * {"targetInstances": {...}} that the onprem platform plugin resolves like a
 * group, built from (first found):
 *   1. the deployment's targetInstances {tagFilters, ec2TagSet,
 *      autoScalingGroups} (CodeDeploy's member for the replacement fleet;
 *      the ec2 plugin resolves it against EC2, rolloutd also matches it
 *      against on-premises instance tags);
 *   2. the group's blueGreenDeploymentConfiguration.greenFleetProvisioningOption
 *      {action: DISCOVER_EXISTING, onPremisesInstanceTagFilters: [...] |
 *      onPremisesTagSet: {...}} (rolloutd extension).
 * deployment_json / group_json may be NULL. malloc'd; -ENOENT with err
 * filled (MISSING_BLUE_GREEN_DEPLOYMENT_CONFIGURATION) when neither names a
 * green fleet: the engine then uses traffic_split_fleets(). */
int traffic_green_selector(const char *deployment_json, const char *group_json, char **ret_json,
			   struct rollout_error *err);

/* The green fleet by traffic state (for alternating fleets, when no tags
 * name it): of the group's instances, those out of service (BLOCKED or
 * ABSENT) in every backend are green, those ALLOWED in any backend are blue.
 * Writes indexes into names to ret_blue / ret_green (each of size n) and
 * their counts. -ENOENT (NO_INSTANCES) when either fleet would be empty. */
int traffic_split_fleets(const struct traffic_group *g, const char *const *names, size_t n, size_t *ret_blue,
			 size_t *ret_nblue, size_t *ret_green, size_t *ret_ngreen, struct rollout_error *err);

/* trafficRoutingConfig of a Server deployment config. */
enum traffic_routing_type { TRAFFIC_ALL_AT_ONCE = 0, TRAFFIC_CANARY = 1, TRAFFIC_LINEAR = 2 };
struct traffic_routing {
	enum traffic_routing_type type;
	unsigned percent;    /* canaryPercentage / linearPercentage (1..99) */
	unsigned interval;   /* minutes (0 when given in seconds) */
	unsigned interval_s; /* the interval in seconds: interval * 60, or rolloutd's
			      * canaryIntervalInSeconds / linearIntervalInSeconds */
	bool in_seconds;     /* given in seconds (then no test scaling of minutes applies) */
};
/* Parses a DeploymentConfigInfo (or a bare TrafficRoutingConfig) JSON. No
 * trafficRoutingConfig gives ALL_AT_ONCE and *ret_present false. Bad values:
 * -EINVAL, code INVALID_TRAFFIC_ROUTING (InvalidTrafficRoutingConfigurationException). */
int traffic_routing_parse(const char *config_json, struct traffic_routing *ret, bool *ret_present,
			  struct rollout_error *err);

/* The steps of a routing: step i sends percent[i] % to green, then waits
 * wait_min[i] minutes (the last step waits 0). Canary: p, 100. Linear: p,
 * 2p, ..., 100. AllAtOnce: 100. Returns the number of steps (<= max). */
struct traffic_step {
	unsigned percent;
	unsigned wait_min; /* minutes, as given (0 when given in seconds) */
	unsigned wait_s;   /* the wait in seconds */
};
size_t traffic_routing_steps(const struct traffic_routing *rt, struct traffic_step *out, size_t max);
#define TRAFFIC_MAX_STEPS 101

/* Called between steps, every poll_ms while waiting, and once after the
 * last step: return 0 to go on, 1 to stop and flip back (ALARM, stop
 * request) with a one-line reason, negative errno on a failed check (the
 * caller's ignorePollAlarmFailure decides: return 0 to ignore it). */
typedef int (*traffic_check_fn)(void *userdata, char *reason, size_t reason_len);
/* Called after each weight change (for recording / progress). May be NULL. */
typedef void (*traffic_progress_fn)(void *userdata, unsigned percent_green);

struct traffic_shift_opts {
	int64_t minute_ms;	  /* length of a routing minute; 0 = 60000 (tests shorten it) */
	int64_t poll_ms;	  /* check interval while waiting; 0 = 10000 */
	int64_t drain_timeout_ms; /* 0 = TRAFFIC_DRAIN_TIMEOUT_MS */
	traffic_check_fn check;
	traffic_progress_fn progress;
	void *userdata;
};

/* Weighted blue -> green shift, blocking for the whole routing (run it on a
 * dedicated worker): allows green at weight 0, then walks the steps, calling
 * opts->check between them. At 100 %: blue is blocked and drained, green
 * has its full weight: 0. On a check returning 1 or a failed weight change:
 * flips back (blue full weight, green blocked) and returns -ECANCELED with
 * err.code ALARM_ACTIVE and the reason, or the failure. */
int traffic_shift_run(const struct traffic_group *g, const char *const *blue, size_t nblue, const char *const *green,
		      size_t ngreen, const struct traffic_routing *rt, const struct traffic_shift_opts *opts,
		      struct rollout_error *err);

/* ------------------------------------------------------------------------ */
/* The whole traffic phase of a blue/green deployment (daemon/traffic/traffic_bg.c):  */
/* what the engine runs, on a worker, once every green instance has passed   */
/* BeforeAllowTraffic. Blocks for the ready wait, the routing steps and the  */
/* termination wait.                                                          */
/* ------------------------------------------------------------------------ */

/* What the poll of a traffic phase answers. */
enum traffic_bg_signal {
	TRAFFIC_BG_WAIT = 0,	 /* nothing new */
	TRAFFIC_BG_CONTINUE = 1, /* ContinueDeployment(READY_WAIT) was called */
	TRAFFIC_BG_STOP = 2,	 /* the deployment was stopped: flip back to blue */
	TRAFFIC_BG_END_WAIT = 3, /* ContinueDeployment(TERMINATION_WAIT): retire blue now */
};

struct traffic_bg_run {
	const struct plugin_registry *reg; /* platform plugins (blue fleet), health plugins (alarms) */
	const struct rollout_deployment *dep;
	const char *deployment_json; /* the deployment (its targetInstances), may be NULL */
	const char *group_json;	  /* DeploymentGroupInfo: style, loadBalancerInfo, blueGreen..., alarmConfiguration */
	const char *config_json;  /* DeploymentConfigInfo: trafficRoutingConfig, may be NULL */
	const char *const *green; /* the instances just deployed */
	size_t ngreen;
	/* May be NULL. Answers an enum traffic_bg_signal; polled during waits. */
	int (*poll)(void *userdata);
	void *userdata;
	int64_t poll_ms; /* 0 = 1000 */
	/* traffic_bg_finish / traffic_bg_route_back: the original fleet */
	const char *const *blue;
	size_t nblue;
	/* May be NULL. Called once the termination wait begins, with the wall
	 * time (ms since the epoch) it ends at, so the caller can store it. */
	void (*wait_started)(void *userdata, int64_t end_wall_ms);
	/* > 0: the termination wait ends at this wall time (ms since the
	 * epoch), as stored when it began before a restart or as set when it
	 * was ended early; 0: it lasts terminationWaitTimeInMinutes from now. */
	int64_t wait_end_wall_ms;
};

/* 1. blue = the group's instances (platform plugins, without the
 *    deployment's targetInstances) minus green;
 * 2. ready wait: STOP_DEPLOYMENT waits for poll() == 1 up to ready_wait_ms,
 *    else fails with TIMEOUT (green never gets traffic);
 * 3. reroute (traffic_bg_reroute) or, with a trafficRoutingConfig, the
 *    weighted shift (traffic_shift_run) with the group's alarms checked
 *    through the health plugins; ALARM flips back and fails with ALARM_ACTIVE;
 * then the caller runs green's AfterAllowTraffic and blue's AfterBlockTraffic
 * and calls traffic_bg_finish.
 * A stop during the ready wait leaves traffic on blue; during a weighted
 * shift it flips back like an alarm.
 * Returns 0, or a negative errno with err (code = errorInformation code).
 * The number of blue instances is written to *ret_nblue (may be NULL). */
int traffic_bg_run(const struct traffic_bg_run *run, size_t *ret_nblue, struct rollout_error *err);

/* After the reroute and the After* events, the original fleet run->blue:
 * TERMINATE waits terminate_wait_ms (or until wait_end_wall_ms; wait_started
 * is told the end), then traffic_bg_retire(blue); poll() == 3 ends the wait
 * at once; a stop (poll() == 2) during that wait flips back to blue
 * (traffic_bg_route_back, -ECANCELED): rollback before blue is retired is a
 * flip, not a redeploy. KEEP_ALIVE: blue stays registered, out of service;
 * nothing to do. 0, or a negative errno with err. */
int traffic_bg_finish(const struct traffic_bg_run *run, struct rollout_error *err);

/* Traffic back on run->blue, run->green out of service (a deployment that
 * ends after its reroute and before blue was retired): -ECANCELED with err
 * MANUAL_STOP saying so (and what failed, if anything). */
int traffic_bg_route_back(const struct traffic_bg_run *run, struct rollout_error *err);

/* Before any hook runs on green: takes green out of service (drained,
 * maint). Refuses (-EBUSY, code NO_INSTANCES) when green serves traffic and
 * no blue instance does: that is the live fleet, and blocking it would stop
 * the service (deploy to the other fleet). Uses run->green / ngreen. */
int traffic_bg_begin(const struct traffic_bg_run *run, struct rollout_error *err);

/* minute_ms from the environment ROLLOUTD_TRAFFIC_MINUTE_MS (tests), else 60000. */
int64_t traffic_minute_ms(void);
/* BlockTraffic's drain timeout: ROLLOUTD_TRAFFIC_DRAIN_TIMEOUT_MS (tests), else TRAFFIC_DRAIN_TIMEOUT_MS. */
int64_t traffic_drain_timeout_ms(void);
