/* Internals shared by engine.c (deployments) and cmdsvc.c (the host-command
 * service). Everything here is owned by the engine thread unless a comment
 * says otherwise. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/cmdsvc_id.h"
#include "engine/engine_plan.h"

struct rd_daemon;
struct httpd_call;
struct store_tx;
struct spec_signer;

enum { ST_PENDING, ST_INPROGRESS, ST_SUCCEEDED, ST_FAILED, ST_SKIPPED, ST_N };
extern const char *const eng_status_name[ST_N];

enum { DS_CREATED, DS_QUEUED, DS_INPROGRESS, DS_SUCCEEDED, DS_FAILED, DS_STOPPED, DS_N };
extern const char *const eng_dstatus_name[DS_N];

/* Command phases of a target's current lifecycle event. */
enum { PH_NONE, PH_QUEUED, PH_DISPATCHED, PH_ACKED };

struct eng_host;
struct eng_dep;

struct eng_event {
	char name[32];
	int status;
	int64_t started_ms; /* monotonic; 0 when it started before a restart */
	bool noop_capable;
	bool service_side; /* BlockTraffic / AllowTraffic: run by the daemon */
};

struct eng_target {
	struct eng_dep *dep;
	char *id;
	char *arn;
	int status;
	int seq; /* order within the deployment */
	bool last_failed;
	struct eng_event ev[ENG_MAX_EVENTS];
	int nev;
	int cur; /* current event index */
	/* the command of the current event */
	int64_t cmd_id;
	int phase;
	int64_t queued_ms, dispatched_ms; /* monotonic */
	struct eng_host *host;
	struct eng_target *hnext; /* in host queue */
	bool queued_on_host;
	bool bg_wait; /* blue/green: at AllowTraffic / BlockTraffic, waiting for the traffic phase */
	bool blue;    /* blue/green: an original (blue) instance, label Blue; not batched */
};

struct eng_dep {
	struct eng_dep *next;
	char id[16];
	char *app, *group, *config, *creator;
	int status;
	json_t *row;	   /* the deployment row (store_eng_deployment) */
	json_t *group_doc; /* DeploymentGroupInfo-like (store_eng_group) */
	struct eng_policy pol;
	struct eng_target **t;
	size_t nt;
	bool resolving, dirty, stop_requested, finished;
	int stop_rollback; /* -1 unset, 0, 1 */
	bool agent_issue;
	json_t *spec;	  /* cached GetDeploymentSpecification answer */
	bool have_bundle; /* the daemon's bundle cache holds the revision */
	char bundle_sha[65];
	uint64_t bundle_size;
	bool ignore_stop_failures;
	bool traffic;		 /* in-place WITH_TRAFFIC_CONTROL: 13 events per target */
	bool bg;		 /* BLUE_GREEN: targets are the green fleet, 10 events each */
	int bg_phase;		 /* 0 deploying green, 1 traffic phase running, 2 traffic moved */
	struct eng_bgctl *bgctl; /* shared with the running traffic phase */
	bool ready;		 /* stored status Ready: the traffic phase waits for ContinueDeployment */
	int64_t ready_deadline;	 /* monotonic: Stopped (TIMEOUT) unless continued by then */
	bool bg_go;		 /* green ready and continued: the original fleet's BeforeBlockTraffic may run */
	char fail_code[64];	 /* errorInformation code of a failure that is not a hook's */
	const char *feb;	 /* fileExistsBehavior, borrowed from row */
};

struct eng_host {
	struct eng_host *hnext; /* hash chain */
	char *name;
	struct eng_target *cur;		  /* the host's one command at a time */
	struct eng_target *qhead, *qtail; /* waiting to become cur */
	struct httpd_call *poll;	  /* held PollHostCommand */
	int64_t poll_deadline;		  /* monotonic */
	char *poll_identifier;		  /* HostIdentifier of the held/last poll */
	int64_t last_seen;		  /* monotonic */
	char *verified_identifier;	  /* HostIdentifier proven to belong to name */
};

struct eng_reply {
	struct eng_reply *next;
	struct httpd_call *call;
	json_t *body;	/* success body, or NULL with err_type */
	char *err_type; /* malloc'd */
	char *err_msg;
};

struct engine {
	struct rd_daemon *d;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct eng_input *in_head, *in_tail; /* under lock */
	bool quit;			     /* under lock */

	/* engine thread only */
	struct eng_dep *deps;
	struct eng_host **hb;
	size_t nhb;
	struct spec_signer *signer;
	int64_t long_poll_ms, pickup_ms, heartbeat_ms;
	struct store_tx *tx;
	int tx_err;
	struct eng_reply *out_head, *out_tail;
	struct eng_job *jobs; /* plugin work to start after commit */
	struct eng_stopreq *stops_done;
	int64_t now_wall, now_mono;
	bool instances_changed;
	struct eng_fire *fires; /* trigger notifications to queue after commit */
	uint64_t commits, inputs_total;
	int jobs_running;	    /* plugin jobs on workers (atomic); engine_stop waits for them */
	struct workpool *gate_pool; /* per-instance health gates: they wait up to gate_timeout, so not on d->pool */
};

/* Inputs to the engine thread. */
enum {
	IN_CREATED,
	IN_CALL,
	IN_RESOLVED,
	IN_STOP,
	IN_INSTANCES,
	IN_AUTOUPDATE,
	IN_ALARM,
	IN_TRAFFIC,
	IN_BG,
	IN_CONTINUE,
	IN_GATE
};

/* Stop flag of a blue/green traffic phase, shared by the engine and the
 * worker running it; freed by whoever drops the last reference. */
struct eng_bgctl {
	int refs;
	int stop; /* 2 = the deployment was stopped (traffic_bg_run's poll) */
};

/* A trigger notification (daemon/health/triggers.h), queued once committed. */
struct eng_fire {
	struct eng_fire *next;
	const char *event; /* static */
	json_t *group_doc; /* reference */
	char dep[16];
	const char *status; /* static */
	char *instance;
	const char *instance_status; /* static or NULL */
	char *error_code, *error_message;
};

struct eng_stopreq {
	struct eng_stopreq *next;
	pthread_mutex_t m;
	pthread_cond_t c;
	bool done;
	int auto_rollback;
	int result;
	char msg[512];
};

struct eng_input {
	struct eng_input *next;
	int type;
	char dep[16];
	struct httpd_call *call;
	json_t *targets; /* IN_RESOLVED / IN_AUTOUPDATE: array, or NULL on error */
	json_t *blue;	 /* IN_RESOLVED of a blue/green deployment: the original fleet's targets */
	char errcode[64];
	char errmsg[1200];
	char app[128], group[128];
	struct eng_stopreq *stop;
	bool alarm_rollback; /* IN_ALARM: errmsg holds the alarm's message */
	bool bg;	     /* IN_RESOLVED: targets are a blue/green green fleet */
	char target[128];    /* IN_TRAFFIC / IN_GATE: the instance, event index, result */
	int ev;
	bool ok;
	bool have_bundle; /* IN_RESOLVED: bundles_ensure succeeded */
	char sha256[65];
	uint64_t size;
	char bundle_type[8];
};

struct eng_job {
	struct eng_job *next;
	struct engine *e;
	int type; /* IN_RESOLVED or IN_AUTOUPDATE */
	char dep[16];
	char app[128], group[128];
	char *group_json;
	char *revision_json;   /* IN_RESOLVED: fetched into the bundle cache first */
	char *deployment_json; /* the deployment's doc (targetInstances) */
	char *config_json;     /* IN_BG: DeploymentConfigInfo */
	char **green;	       /* IN_BG: the green fleet */
	size_t ngreen;
	struct eng_bgctl *bgctl;
	char target[128]; /* IN_TRAFFIC: block (BlockTraffic) or allow this instance; IN_GATE: gate it */
	int ev;
	bool block;
};

/* engine.c */
void eng_post(struct engine *e, struct eng_input *in);
/* eng_post for callers that may race with engine_stop (HTTP handlers on
 * workers): -ESHUTDOWN (input not taken) once the engine stopped. */
int eng_post_if_running(struct engine *e, struct eng_input *in);
/* Answers once this batch's transaction committed (agent reports). */
void eng_reply(struct engine *e, struct httpd_call *call, json_t *body);
/* Answers at once (nothing the caller must find durable). */
void eng_reply_now(struct engine *e, struct httpd_call *call, json_t *body);
void eng_reply_error(struct engine *e, struct httpd_call *call, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
struct eng_dep *eng_dep_find(struct engine *e, const char *id);
struct eng_target *eng_target_find(struct eng_dep *dep, const char *instance);
struct eng_host *eng_host_get(struct engine *e, const char *name);
void eng_host_pump(struct engine *e, struct eng_host *h);
/* An agent's verdict on the current event of t. status ST_SUCCEEDED,
 * ST_FAILED or ST_SKIPPED; diag (stolen) may be NULL. */
void eng_event_end(struct engine *e, struct eng_target *t, int status, json_t *diag, bool agent_issue);
void eng_store_error(struct engine *e, int r, const char *what);
json_t *eng_diag(const char *code, const char *script, const char *message, const char *log);

/* cmdsvc.c */
int cmdsvc_register(struct engine *e, char *err, size_t errlen);
void cmdsvc_handle(struct engine *e, struct httpd_call *call);
/* Hands the current command of h to its held poll (phase QUEUED -> DISPATCHED). */
void cmdsvc_dispatch(struct engine *e, struct eng_host *h);
