/* The engine's in-memory model of the deployments it runs: each deployment,
 * its targets and each target's lifecycle events, with the enums that name
 * their states. The state machine (engine.c) builds it from the store and
 * writes every change back in the same transaction; the other layers read
 * it. Everything here belongs to the engine thread, except struct
 * eng_bgctl, which a blue/green traffic phase on a worker shares. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/engine.h"
#include "engine/engine_plan.h"
#include "strmap.h"
#include "timerheap.h"
#include "traffic/traffic.h"

/* Status of a target and of a lifecycle event (CodeDeploy's names). */
enum eng_status { ST_PENDING, ST_INPROGRESS, ST_SUCCEEDED, ST_FAILED, ST_SKIPPED, ST_N };
extern const char *const eng_status_name[ST_N];
/* The status of that name; ST_PENDING for anything else. */
enum eng_status eng_status_parse(const char *s);

/* Status of a deployment. Ready (a blue/green deployment waiting for
 * ContinueDeployment) runs as DS_INPROGRESS with eng_dep.ready set. */
enum eng_dstatus { DS_CREATED, DS_QUEUED, DS_INPROGRESS, DS_SUCCEEDED, DS_FAILED, DS_STOPPED, DS_N };
extern const char *const eng_dstatus_name[DS_N];
/* The status of that name, DS_INPROGRESS for Ready; -1 for anything else. */
int eng_dstatus_parse(const char *s);

/* Where the command of a target's current lifecycle event is. */
enum eng_cmd_phase {
	PH_NONE,       /* no command (none yet, or the event is run by the daemon) */
	PH_QUEUED,     /* waiting for its host to poll */
	PH_DISPATCHED, /* handed to a poll, not acknowledged */
	PH_ACKED,      /* acknowledged: the agent runs it */
};

/* How far a blue/green deployment is. */
enum eng_bg_phase {
	BG_DEPLOYING_GREEN, /* the green fleet runs its hooks */
	BG_MOVING_TRAFFIC,  /* the traffic phase runs on a worker */
	BG_TRAFFIC_MOVED,   /* the traffic phase has reported: AfterAllowTraffic / AfterBlockTraffic run */
	BG_RETIRING,	    /* after them: the termination wait and the original fleet's end (a job) */
	BG_RETIRED,	    /* that job has reported */
};

struct eng_dep;
struct eng_host;

struct eng_event {
	char name[32];
	enum eng_status status;
	int64_t started_ms; /* monotonic; 0 when it started before a restart */
	bool noop_capable;
	bool service_side; /* BlockTraffic / AllowTraffic: run by the daemon */
};

struct eng_target {
	struct eng_dep *dep;
	char *id;
	char *arn;
	enum eng_status status; /* set through eng_target_set_status (it is counted) */
	int seq;		/* order within the deployment */
	bool last_failed;
	struct eng_event ev[ENG_MAX_EVENTS];
	int nev;
	int cur; /* current event index */
	/* the command of the current event (engine_hostcmd.c) */
	int64_t cmd_id;
	enum eng_cmd_phase phase;
	int64_t queued_ms, dispatched_ms; /* monotonic */
	struct eng_host *host;
	struct eng_target *hnext; /* in the host's queue */
	bool queued_on_host;
	bool bg_wait; /* blue/green: at AllowTraffic / BlockTraffic, waiting for the traffic phase;
		       * set through eng_target_set_bg_wait (it is counted) */
	bool blue;    /* blue/green: an original (blue) instance, label Blue; not batched */
	bool stopped; /* a stopped EC2 instance: its events fail without waiting for an agent */
	bool indexed; /* in its deployment's index and counts */
};

/* Shared by the engine and the worker running a blue/green traffic phase
 * (its poll reads `signal`); freed by whoever drops the last reference. */
struct eng_bgctl {
	int refs;
	enum traffic_bg_signal signal; /* atomic */
};

/* Stop flag of a deployment that shifts traffic itself, shared with its
 * running plugin job (rollout_shift_call.stopping reads it); freed by
 * whoever drops the last reference. */
struct eng_shiftctl {
	int refs;
	int stop; /* atomic */
};

/* A Lambda or ECS deployment (engine_shift.c): its owning plugin, AppSpec,
 * the plugin's state and the cursor over its steps, all stored. */
struct eng_shift {
	char plugin[65];
	json_t *appspec; /* the validated AppSpec */
	json_t *state;	 /* the plugin's own state */
	json_t *cursor;	 /* the steps and how far the deployment is (engine_shift.h) */
	bool job;	 /* a plugin job of this deployment runs */
	int64_t wake_ms; /* monotonic: look again then (waits, hook timeout, retries); 0 none */
	struct eng_shiftctl *ctl;
};

struct eng_dep {
	struct eng_dep *next;
	char id[16];
	char *app, *group, *config, *creator;
	enum eng_dstatus status;
	json_t *row;	   /* the deployment row (store_eng_deployment) */
	json_t *group_doc; /* DeploymentGroupInfo-like (store_eng_group) */
	struct eng_policy pol;
	/* The targets in deployment order. The array only grows (dp->t[dp->nt++]
	 * = t, the caller keeping room); eng_dep_clear_targets empties it. The
	 * index by instance and the counts by status follow it: an appended
	 * target joins them at the next eng_target_find / eng_dep_counts. */
	struct eng_target **t;
	size_t nt;
	struct rd_strmap tindex; /* instance -> target, of t[0 .. nindexed) */
	size_t nindexed;
	bool index_partial;	     /* out of memory indexing: lookups scan */
	int count[ST_N];	     /* indexed targets by status (the overview) */
	int count_stored[ST_N];	     /* the overview as last stored (engine.c) */
	struct eng_counts deploying; /* indexed targets that are not blue, as the planner counts them */
	size_t next_start;	     /* no target before this index is Pending and not blue */
	struct rd_timer timer;	     /* the deployment's waits (engine.c) */
	bool resolving, dirty, stop_requested, finished;
	enum engine_rollback stop_rollback; /* of a stop request or an alarm */
	bool agent_issue;
	char *spec; /* cached GetDeploymentSpecification answer, encoded */
	size_t spec_len;
	bool have_bundle; /* the daemon's bundle cache holds the revision */
	char bundle_sha[65];
	uint64_t bundle_size;
	bool ignore_stop_failures;
	bool traffic; /* in-place WITH_TRAFFIC_CONTROL: 13 events per target */
	bool bg;      /* BLUE_GREEN: targets are the green fleet (10 events) and the blue fleet (3) */
	enum eng_bg_phase bg_phase;
	struct eng_bgctl *bgctl; /* shared with the running traffic phase */
	bool ready;		 /* stored status Ready: the traffic phase waits for ContinueDeployment */
	int64_t ready_deadline;	 /* monotonic: Stopped (TIMEOUT) unless continued by then */
	bool bg_go;		 /* green ready and continued: the original fleet's BeforeBlockTraffic may run */
	bool term_wait;		 /* the traffic phase waits (stored) before it retires the original fleet */
	char fail_code[64];	 /* errorInformation code of a BlockTraffic / AllowTraffic failure */
	const char *feb;	 /* fileExistsBehavior, borrowed from row */
	struct eng_shift *shift; /* Lambda / ECS: the deployment's steps; NULL for Server */
};

/* A deployment from its store row (stolen on success); NULL without memory. */
struct eng_dep *eng_dep_from_row(json_t *row);
void eng_dep_free(struct eng_dep *dp);
/* dp's target on instance (the first one, were there two), through the
 * index: O(1). */
struct eng_target *eng_target_find(struct eng_dep *dp, const char *instance);
/* Frees dp's targets and empties the array, its index and its counts. */
void eng_dep_clear_targets(struct eng_dep *dp);
/* Sets t's status / bg_wait and keeps its deployment's counts. */
void eng_target_set_status(struct eng_target *t, enum eng_status status);
void eng_target_set_bg_wait(struct eng_target *t, bool bg_wait);
/* The planner's counts of dp's targets that are not blue (a green
 * instance waiting for the traffic phase counts as succeeded): O(1). */
struct eng_counts eng_dep_counts(struct eng_dep *dp);

/* The lifecycle events a target runs. */
enum eng_fleet {
	FLEET_IN_PLACE,		/* ApplicationStop .. ValidateService */
	FLEET_IN_PLACE_TRAFFIC, /* with BeforeBlockTraffic .. AfterAllowTraffic around them */
	FLEET_GREEN,		/* blue/green replacement: in-place events, then ..AllowTraffic */
	FLEET_BLUE,		/* blue/green original: BeforeBlockTraffic, BlockTraffic, AfterBlockTraffic */
	FLEET_ORIGINAL,	   /* blue/green rollback, the original: BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic */
	FLEET_TERMINATION, /* leaving its Auto Scaling group: ApplicationStop */
	FLEET_TERMINATION_TRAFFIC, /* with BeforeBlockTraffic .. AfterBlockTraffic before it */
};
/* The creator of an Auto Scaling termination deployment (CodeDeploy's name). */
#define ENG_CREATOR_TERMINATION "autoscalingTermination"
/* The events dp's targets run: by blue/green, traffic control and creator. */
enum eng_fleet eng_dep_fleet(const struct eng_dep *dp);
/* A new target of dp (not yet in dp->t) with its events, all Pending. */
struct eng_target *eng_target_new(struct eng_dep *dp, const char *id, const char *arn, int seq, enum eng_fleet fleet);
void eng_target_free(struct eng_target *t);
/* A new target of dp with the named events (Lambda / ECS), all Pending. */
struct eng_target *eng_target_new_events(struct eng_dep *dp, const char *id, const char *arn, int seq,
					 const char *const *events);
/* Rebuilds dp's targets and events from store_eng_targets rows after a
 * restart, and what they imply (traffic control, blue/green, whether the
 * original fleet was released). -ENOMEM. */
int eng_dep_restore_targets(struct eng_dep *dp, const json_t *rows);

/* {Pending, InProgress, Succeeded, Failed, Skipped, Ready} counts. */
json_t *eng_dep_overview(struct eng_dep *dp);

struct eng_shiftctl *eng_shiftctl_new(void);
struct eng_shiftctl *eng_shiftctl_ref(struct eng_shiftctl *c);
void eng_shiftctl_unref(struct eng_shiftctl *c);
struct eng_shift *eng_shift_free(struct eng_shift *sh);

struct eng_bgctl *eng_bgctl_new(void);
struct eng_bgctl *eng_bgctl_ref(struct eng_bgctl *c);
void eng_bgctl_unref(struct eng_bgctl *c);
/* Tells a running traffic phase that the deployment ended (it flips back). */
void eng_bgctl_stop(struct eng_bgctl *c);
/* Tells a running traffic phase to end its termination wait now (unless
 * it was stopped). */
void eng_bgctl_end_wait(struct eng_bgctl *c);

/* A lifecycle event's diagnostics object. */
json_t *eng_diag(const char *code, const char *script, const char *message, const char *log);
