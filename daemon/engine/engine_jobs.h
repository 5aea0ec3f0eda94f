/* Plugin work the engine hands to workers, because it blocks: resolving a
 * deployment's targets (source and platform plugins), the auto-update scan,
 * BlockTraffic / AllowTraffic of one instance, a per-instance health gate
 * and the blue/green traffic phase. A job carries copies of what it needs,
 * never a pointer into the model; it reports back as an input
 * (engine_input.h) that the state machine applies in a later turn. The
 * state machine creates jobs, the outbox starts them once the turn that
 * created them committed (eng_jobs_submit). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct engine;
struct eng_dep;
struct eng_bgctl;
struct eng_input;

enum eng_job_kind {
	JOB_RESOLVE,		/* a deployment's bundle and targets -> IN_RESOLVED */
	JOB_AUTOUPDATE,		/* a group's instances for the auto-update scan -> IN_AUTOUPDATE */
	JOB_TRAFFIC,		/* BlockTraffic / AllowTraffic of one instance -> IN_TRAFFIC */
	JOB_GATE,		/* the health gate of one instance -> IN_GATE */
	JOB_BG,			/* the blue/green traffic phase -> IN_BG */
	JOB_SHIFT_START,	/* a Lambda/ECS deployment's AppSpec, target and plugin state -> IN_SHIFT */
	JOB_SHIFT_OP,		/* one step of a Lambda/ECS deployment (a shift_* op) -> IN_SHIFT */
	JOB_LIFECYCLE,		/* new instances of the Auto Scaling groups (lifecycle_receive) -> IN_LIFECYCLE */
	JOB_LIFECYCLE_COMPLETE, /* CONTINUE / ABANDON / HEARTBEAT of a launch -> IN_LIFECYCLE */
};

struct eng_shiftctl;

struct eng_job {
	struct eng_job *next;
	enum eng_job_kind kind;
	char dep[16];
	char app[128], group[128];
	char *group_json;
	char *revision_json;   /* JOB_RESOLVE: fetched into the bundle cache first */
	char *deployment_json; /* the deployment's doc (targetInstances, alarm configuration) */
	char *config_json;     /* JOB_BG: DeploymentConfigInfo */
	char **green;	       /* JOB_BG: the green fleet */
	size_t ngreen;
	struct eng_bgctl *bgctl; /* JOB_BG: a reference */
	char target[128];	 /* JOB_TRAFFIC / JOB_GATE: the instance */
	int ev;			 /* its lifecycle event */
	bool block;		 /* JOB_TRAFFIC: BlockTraffic, else AllowTraffic */
	/* JOB_SHIFT_START / JOB_SHIFT_OP (engine_shift.h) */
	char platform[16]; /* "Lambda", "ECS" */
	char creator[64];
	char plugin[65];     /* JOB_SHIFT_OP: the owning plugin */
	char *appspec_json;  /* JOB_SHIFT_OP */
	char *state_json;    /* JOB_SHIFT_OP */
	int op;		     /* enum eng_shift_op */
	unsigned percent;    /* its weight */
	char *hook_function; /* its hook */
	char hook_event[32];
	char hook_execution_id[64];
	int64_t timeout_ms;
	bool check_alarms;	  /* check the deployment's alarms before a weight step */
	struct eng_shiftctl *ctl; /* a reference */
	/* JOB_BG: the original fleet (for the platforms' fleet_retire), and
	 * whether the job only discards a provisioned green fleet (the
	 * deployment ended before its traffic phase) */
	char **blue;
	size_t nblue;
	bool fleet_discard;
	bool retire;	  /* JOB_BG: the termination wait, then the original fleet's end (traffic_bg_finish) */
	bool route_back;  /* JOB_BG: traffic back on the original fleet, the green one discarded */
	int64_t wait_end; /* JOB_BG retire: the termination wait's stored end (wall ms), 0 none */
};

/* A job of dp (its id, application, group and group document); NULL without memory. */
struct eng_job *eng_job_new(enum eng_job_kind kind, const struct eng_dep *dp);
/* The auto-update scan's job for group app/name (doc: its DeploymentGroupInfo). */
struct eng_job *eng_job_autoupdate(const char *app, const char *name, const json_t *doc);
/* A job of no deployment whose input is payload (kept as group_json). */
struct eng_job *eng_job_payload(enum eng_job_kind kind, const json_t *payload);
void eng_job_free(struct eng_job *j);

/* The Lambda/ECS job kinds (engine_shift_jobs.c), filling the input they
 * report with. */
void eng_job_shift_start(struct engine *e, struct eng_job *j, struct eng_input *in);
void eng_job_shift_op(struct engine *e, struct eng_job *j, struct eng_input *in);

/* Runs j off the engine thread: engine_io's submit, or the daemon's
 * workers (health gates on the engine's own gate pool), or inline when the
 * workers are shutting down. */
void eng_jobs_submit(struct engine *e, struct eng_job *j);
/* A job's end: posts in (may be NULL: nothing to report, the deployment
 * resumes after a restart) and frees j. Any thread. */
void eng_job_done(struct engine *e, struct eng_job *j, struct eng_input *in);
