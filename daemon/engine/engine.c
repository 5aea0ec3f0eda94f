/* The deployment engine for servers; see engine.h for the model.
 *
 * One thread. Each iteration takes every queued input, applies them and the
 * resulting deployment steps inside one store transaction, commits, and only
 * then sends the replies and starts plugin work collected meanwhile. If the
 * commit fails, the replies become ServerExceptions and the in-memory state
 * is rebuilt from the store (the same path as a restart). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health/alarms.h"
#include "bundles/bundles.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/engine_targets.h"
#include "core/httpd.h"
#include "core/metrics.h"
#include "log.h"
#include "core/plugins.h"
#include "engine/spec.h"
#include "store/store.h"
#include "store/store_engine.h"
#include "traffic/traffic.h"
#include "health/triggers.h"
#include "util.h"
#include "core/workpool.h"

#define TAG "engine"
#define ELOG(level, ...) rd_logt((level), TAG, __VA_ARGS__)

/* core/metrics.h families, registered by engine_start */
static struct metric *m_dep_seconds, *m_event_seconds, *m_tx_seconds, *m_tx_rows;

static void engine_metrics_init(void)
{
	static const double rows[] = {1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000};
	m_dep_seconds = metric_histogram(
	    "rolloutd_deployment_duration_seconds", "Time from a deployment's creation to its end, by final status.",
	    (const char *const[]){"status", NULL}, metric_seconds_buckets, metric_seconds_n_buckets);
	m_event_seconds = metric_histogram("rolloutd_lifecycle_event_duration_seconds",
					   "Time a lifecycle event took on an instance, by event and result.",
					   (const char *const[]){"event", "status", NULL}, metric_seconds_buckets,
					   metric_seconds_n_buckets);
	m_tx_seconds = metric_histogram("rolloutd_store_transaction_duration_seconds",
					"Time the engine's store transactions were open, until durable (group commit).",
					NULL, metric_seconds_buckets, metric_seconds_n_buckets);
	metric_gauge("rolloutd_long_polls_held", "PollHostCommand calls held open now (agents waiting for work).",
		     NULL);
	metric_gauge("rolloutd_agent_last_seen_timestamp_seconds",
		     "When each instance's agent last polled or reported (Unix time).",
		     (const char *const[]){"instance", NULL});
	m_tx_rows = metric_histogram("rolloutd_store_transaction_rows", "Rows written by each engine transaction.",
				     NULL, rows, sizeof(rows) / sizeof(rows[0]));
}
/* a line about a deployment (and an instance, a lifecycle event): the
 * journal gets them as fields of their own (lib/log.h) */
#define DLOG(level, dep, inst, ev, ...) rd_logf((level), TAG, RD_LOG_FIELDS((dep), (inst), (ev)), __VA_ARGS__)

const char *const eng_status_name[ST_N] = {"Pending", "InProgress", "Succeeded", "Failed", "Skipped"};
const char *const eng_dstatus_name[DS_N] = {"Created", "Queued", "InProgress", "Succeeded", "Failed", "Stopped"};

#define PICKUP_TIMEOUT_MS (5 * 60 * 1000)
#define HEARTBEAT_TIMEOUT_MS (45 * 1000)
#define GATE_WORKERS 8

static int dstatus_parse(const char *s)
{
	/* Ready (blue/green, waiting for ContinueDeployment) runs like InProgress;
	 * only the stored status differs (dp->ready). */
	if (s && strcmp(s, "Ready") == 0)
		return DS_INPROGRESS;
	for (int i = 0; s && i < DS_N; i++)
		if (strcmp(s, eng_dstatus_name[i]) == 0)
			return i;
	return -1;
}

static int status_parse(const char *s)
{
	for (int i = 0; s && i < ST_N; i++)
		if (strcmp(s, eng_status_name[i]) == 0)
			return i;
	return ST_PENDING;
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* ---------------------------------------------------------------- inputs */

void eng_post(struct engine *e, struct eng_input *in)
{
	in->next = NULL;
	pthread_mutex_lock(&e->lock);
	if (e->in_tail)
		e->in_tail->next = in;
	else
		e->in_head = in;
	e->in_tail = in;
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

/* The engine that takes HTTP calls; cleared by engine_stop before it frees. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct engine *live_engine;

int eng_post_if_running(struct engine *e, struct eng_input *in)
{
	int r = -ESHUTDOWN;

	pthread_mutex_lock(&live_lock);
	if (live_engine == e) {
		pthread_mutex_lock(&e->lock);
		bool quit = e->quit;
		pthread_mutex_unlock(&e->lock);
		if (!quit) {
			eng_post(e, in);
			r = 0;
		}
	}
	pthread_mutex_unlock(&live_lock);
	return r;
}

static struct eng_input *input_new(int type)
{
	struct eng_input *in = calloc(1, sizeof(*in));
	if (in)
		in->type = type;
	return in;
}

static void input_free(struct eng_input *in)
{
	if (!in)
		return;
	json_decref(in->targets);
	json_decref(in->blue);
	free(in);
}

/* ---------------------------------------------------------------- replies */

static void out_push(struct engine *e, struct eng_reply *r)
{
	if (e->out_tail)
		e->out_tail->next = r;
	else
		e->out_head = r;
	e->out_tail = r;
}

void eng_reply(struct engine *e, struct httpd_call *call, json_t *body)
{
	struct eng_reply *r = calloc(1, sizeof(*r));
	if (!r) {
		/* Without memory, answer at once rather than never. */
		httpd_call_reply(call, body);
		return;
	}
	r->call = call;
	r->body = body ? body : json_object();
	out_push(e, r);
}

void eng_reply_now(struct engine *e, struct httpd_call *call, json_t *body)
{
	(void)e;
	httpd_call_reply(call, body ? body : json_object());
}

void eng_reply_error(struct engine *e, struct httpd_call *call, const char *type, const char *fmt, ...)
{
	struct eng_reply *r = calloc(1, sizeof(*r));
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!r) {
		httpd_call_error(call, type, "%s", msg);
		return;
	}
	r->call = call;
	r->err_type = strdup(type);
	r->err_msg = strdup(msg);
	out_push(e, r);
}

/* Sends every collected reply; with failed set, turns them into errors. */
static void out_flush(struct engine *e, bool failed)
{
	struct eng_reply *r = e->out_head, *next;

	e->out_head = e->out_tail = NULL;
	for (; r; r = next) {
		next = r->next;
		if (failed)
			httpd_call_error_status(r->call, 500, "ServerException",
						"rolloutd could not store the result; retry the request");
		else if (r->err_type)
			httpd_call_error(r->call, r->err_type, "%s", r->err_msg ? r->err_msg : "");
		else {
			httpd_call_reply(r->call, r->body);
			r->body = NULL;
		}
		json_decref(r->body);
		free(r->err_type);
		free(r->err_msg);
		free(r);
	}
}

void eng_store_error(struct engine *e, int r, const char *what)
{
	if (r < 0 && e->tx_err == 0) {
		e->tx_err = r;
		ELOG(LOG_ERR, "store: %s: %s", what, strerror(-r));
	}
}

#define CHK(expr, what) eng_store_error(e, (expr), (what))

json_t *eng_diag(const char *code, const char *script, const char *message, const char *log)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "errorCode", code ? code : "UnknownError", "scriptName",
			 script ? script : "", "message", message ? message : "", "logTail", log ? log : "");
}

/* ---------------------------------------------------------------- triggers */

static void fire(struct engine *e, const char *event, struct eng_dep *dp, const char *status, const char *instance,
		 const char *instance_status, const char *code, const char *msg)
{
	struct eng_fire *f;
	const json_t *tc = json_object_get(dp->group_doc, "triggerConfigurations");

	if (!dp->group_doc || json_array_size(tc) == 0)
		return; /* nothing subscribes */
	f = calloc(1, sizeof(*f));
	if (!f)
		return;
	f->event = event;
	f->group_doc = json_incref(dp->group_doc);
	snprintf(f->dep, sizeof(f->dep), "%s", dp->id);
	f->status = status;
	f->instance = instance ? strdup(instance) : NULL;
	f->instance_status = instance_status;
	f->error_code = code ? strdup(code) : NULL;
	f->error_message = msg ? strdup(msg) : NULL;
	f->next = e->fires;
	e->fires = f;
}

/* CodeDeploy's upper-case status in notifications: IN_PROGRESS, ... */
static const char *upper_status(const char *s)
{
	static const char *const map[][2] = {{"Created", "CREATED"},	    {"Queued", "QUEUED"},
					     {"InProgress", "IN_PROGRESS"}, {"Succeeded", "SUCCEEDED"},
					     {"Failed", "FAILED"},	    {"Stopped", "STOPPED"}};
	for (size_t i = 0; i < RD_ARRAY_SIZE(map); i++)
		if (strcmp(s, map[i][0]) == 0)
			return map[i][1];
	return s;
}

/* Queues (sent = true) or drops the collected notifications, oldest first. */
static void fires_flush(struct engine *e, bool send)
{
	struct eng_fire *f = e->fires, *rev = NULL, *next;

	e->fires = NULL;
	for (; f; f = next) {
		next = f->next;
		f->next = rev;
		rev = f;
	}
	for (f = rev; f; f = next) {
		next = f->next;
		if (send) {
			json_t *info =
			    json_pack("{s:s,s:s}", "deploymentId", f->dep, "status", upper_status(f->status));
			if (info && f->instance) {
				json_object_set_new(info, "instanceId", json_string(f->instance));
				if (f->instance_status)
					json_object_set_new(info, "instanceStatus", json_string(f->instance_status));
			}
			if (info && f->error_code)
				json_object_set_new(info, "errorInformation",
						    json_pack("{s:s,s:s}", "code", f->error_code, "message",
							      f->error_message ? f->error_message : ""));
			if (info)
				triggers_fire(e->d, f->event, f->group_doc, info);
			json_decref(info);
		}
		json_decref(f->group_doc);
		free(f->instance);
		free(f->error_code);
		free(f->error_message);
		free(f);
	}
}

/* ---------------------------------------------------------------- hosts */

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

struct eng_host *eng_host_get(struct engine *e, const char *name)
{
	size_t b = hash_str(name) % e->nhb;
	struct eng_host *h;

	for (h = e->hb[b]; h; h = h->hnext)
		if (strcmp(h->name, name) == 0)
			return h;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->name = strdup(name);
	if (!h->name) {
		free(h);
		return NULL;
	}
	h->hnext = e->hb[b];
	e->hb[b] = h;
	return h;
}

static void host_unqueue(struct eng_host *h, struct eng_target *t)
{
	struct eng_target **pp;

	for (pp = &h->qhead; *pp; pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			break;
		}
	}
	h->qtail = NULL;
	for (struct eng_target *x = h->qhead; x; x = x->hnext)
		h->qtail = x;
	t->hnext = NULL;
	t->queued_on_host = false;
}

void eng_host_pump(struct engine *e, struct eng_host *h)
{
	if (!h->cur && h->qhead) {
		struct eng_target *t = h->qhead;
		host_unqueue(h, t);
		h->cur = t;
		t->queued_ms = e->now_mono; /* pick-up window starts when it is the host's turn */
	}
	if (h->cur && h->cur->phase == PH_QUEUED && h->poll)
		cmdsvc_dispatch(e, h);
}

/* Detaches t's command from its host (finished or abandoned). */
static void cmd_release(struct engine *e, struct eng_target *t)
{
	struct eng_host *h = t->host;

	t->phase = PH_NONE;
	if (!h)
		return;
	if (h->cur == t)
		h->cur = NULL;
	else if (t->queued_on_host)
		host_unqueue(h, t);
	t->host = NULL;
	eng_host_pump(e, h);
}

static void cmd_queue(struct engine *e, struct eng_target *t)
{
	struct eng_host *h = eng_host_get(e, t->id);

	if (!h) {
		eng_store_error(e, -ENOMEM, "host");
		return;
	}
	t->host = h;
	t->phase = PH_QUEUED;
	t->queued_ms = e->now_mono;
	t->hnext = NULL;
	t->queued_on_host = true;
	if (h->qtail)
		h->qtail->hnext = t;
	else
		h->qhead = t;
	h->qtail = t;
	eng_host_pump(e, h);
}

/* ---------------------------------------------------------------- blue/green */

static struct eng_bgctl *bgctl_ref(struct eng_bgctl *c)
{
	if (c)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_SEQ_CST);
	return c;
}

static void bgctl_unref(struct eng_bgctl *c)
{
	if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_SEQ_CST) == 0)
		free(c);
}

/* traffic_bg_run's poll: 2 once the deployment was stopped. */
static int bg_poll(void *userdata)
{
	struct eng_bgctl *c = userdata;
	return __atomic_load_n(&c->stop, __ATOMIC_SEQ_CST);
}

/* ---------------------------------------------------------------- deployments */

static void target_free(struct eng_target *t)
{
	if (!t)
		return;
	free(t->id);
	free(t->arn);
	free(t);
}

static void dep_free(struct eng_dep *dp)
{
	if (!dp)
		return;
	bgctl_unref(dp->bgctl);
	for (size_t i = 0; i < dp->nt; i++)
		target_free(dp->t[i]);
	free(dp->t);
	free(dp->app);
	free(dp->group);
	free(dp->config);
	free(dp->creator);
	json_decref(dp->row);
	json_decref(dp->group_doc);
	json_decref(dp->spec);
	free(dp);
}

struct eng_dep *eng_dep_find(struct engine *e, const char *id)
{
	for (struct eng_dep *dp = e->deps; dp; dp = dp->next)
		if (strcmp(dp->id, id) == 0)
			return dp;
	return NULL;
}

struct eng_target *eng_target_find(struct eng_dep *dp, const char *instance)
{
	for (size_t i = 0; i < dp->nt; i++)
		if (strcmp(dp->t[i]->id, instance) == 0)
			return dp->t[i];
	return NULL;
}

static void dep_set_status(struct engine *e, struct eng_dep *dp, int status, int64_t start, int64_t complete,
			   const char *code, const char *msg)
{
	dp->status = status;
	CHK(store_eng_deployment_status(e->tx, dp->id, eng_dstatus_name[status], start, complete, code, msg),
	    "deployment status");
}

/* The replacement (green) instances of a blue/green deployment (host-agent.md
 * §4.6): the in-place events, then BeforeAllowTraffic, AllowTraffic (the
 * traffic phase, for the whole green fleet at once), AfterAllowTraffic. */
static void events_init_green(struct eng_target *t)
{
	struct eng_event_def defs[ENG_MAX_EVENTS];
	size_t n = eng_lifecycle_events(true, defs, ENG_MAX_EVENTS), k = 0;

	for (size_t i = 0; i < n; i++) {
		if (strstr(defs[i].name, "BlockTraffic"))
			continue;
		snprintf(t->ev[k].name, sizeof(t->ev[k].name), "%s", defs[i].name);
		t->ev[k].status = ST_PENDING;
		t->ev[k].noop_capable = defs[i].noop_capable;
		t->ev[k].service_side = defs[i].service_side;
		k++;
	}
	t->nev = (int)k;
}

/* The original (blue) instances of a blue/green deployment (host-agent.md
 * §4.6): BeforeBlockTraffic, BlockTraffic (done by the traffic phase when it
 * moves traffic to green), AfterBlockTraffic. The agent runs the two hooks
 * from the instance's last successful revision (§4.7): blue never gets the
 * new one. */
static void events_init_blue(struct eng_target *t)
{
	static const char *const names[] = {"BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic"};

	for (int i = 0; i < 3; i++) {
		snprintf(t->ev[i].name, sizeof(t->ev[i].name), "%s", names[i]);
		t->ev[i].status = ST_PENDING;
		t->ev[i].service_side = i == 1;
		t->ev[i].noop_capable = i != 1;
	}
	t->nev = 3;
}

static void events_init(struct eng_target *t, bool traffic)
{
	struct eng_event_def defs[ENG_MAX_EVENTS];
	size_t n = eng_lifecycle_events(traffic, defs, ENG_MAX_EVENTS);

	t->nev = (int)n;
	for (size_t i = 0; i < n; i++) {
		snprintf(t->ev[i].name, sizeof(t->ev[i].name), "%s", defs[i].name);
		t->ev[i].status = ST_PENDING;
		t->ev[i].noop_capable = defs[i].noop_capable;
		t->ev[i].service_side = defs[i].service_side;
	}
}

static void job_add(struct engine *e, int type, const char *dep, const char *app, const char *group, json_t *group_doc,
		    const json_t *revision);

/* BlockTraffic / AllowTraffic run through the traffic plugin on a worker
 * (daemon/traffic/traffic.h); the result comes back as IN_TRAFFIC. Idempotent, so a
 * restart simply runs it again. */
static void traffic_job(struct engine *e, struct eng_target *t, int i)
{
	struct eng_dep *dp = t->dep;
	struct eng_job *j;

	job_add(e, IN_TRAFFIC, dp->id, dp->app, dp->group, dp->group_doc, NULL);
	j = e->jobs;
	if (!j || j->type != IN_TRAFFIC)
		return;
	snprintf(j->target, sizeof(j->target), "%s", t->id);
	j->ev = i;
	j->block = strcmp(t->ev[i].name, "BlockTraffic") == 0;
}

/* Whether the deployment's effective alarmConfiguration (its
 * overrideAlarmConfiguration, else the group's) is enabled and names alarms:
 * only then can one of them be a per-instance gate (alarms_gate_instance). */
static bool dep_may_gate(const struct eng_dep *dp)
{
	const json_t *doc = json_object_get(dp->row, "doc");
	const json_t *ov = json_object_get(doc, "overrideAlarmConfiguration");
	const json_t *ac = json_is_object(ov) ? ov : json_object_get(dp->group_doc, "alarmConfiguration");

	return json_is_true(json_object_get(ac, "enabled")) && json_array_size(json_object_get(ac, "alarms")) > 0;
}

/* The per-instance health gate (docs/health.md), right after the instance's
 * ApplicationStart: alarms_gate_instance blocks (up to each gate's
 * gate_timeout), so it runs on a worker, one job per instance; the result
 * comes back as IN_GATE. ValidateService is InProgress meanwhile; a restart
 * runs the gate again. */
static void gate_job(struct engine *e, struct eng_target *t, int i)
{
	struct eng_dep *dp = t->dep;
	struct eng_job *j;

	job_add(e, IN_GATE, dp->id, dp->app, dp->group, dp->group_doc, NULL);
	j = e->jobs;
	if (!j || j->type != IN_GATE)
		return;
	snprintf(j->target, sizeof(j->target), "%s", t->id);
	j->ev = i;
	j->deployment_json = json_dumps(json_object_get(dp->row, "doc"), JSON_COMPACT);
}

static void event_command(struct engine *e, struct eng_target *t, int i)
{
	struct eng_dep *dp = t->dep;

	CHK(store_eng_cmd_insert(e->tx, t->id, dp->id, t->id, i, t->ev[i].name, e->now_wall, &t->cmd_id),
	    "command insert");
	cmd_queue(e, t);
}

static void event_start(struct engine *e, struct eng_target *t, int i)
{
	struct eng_dep *dp = t->dep;

	t->cur = i;
	t->ev[i].status = ST_INPROGRESS;
	t->ev[i].started_ms = e->now_mono;
	CHK(store_eng_event_update(e->tx, dp->id, t->id, i, "InProgress", e->now_wall, 0, NULL), "event start");
	if (t->ev[i].service_side && dp->bg) {
		/* AllowTraffic of a green instance: moved for the whole fleet */
		t->bg_wait = true;
		dp->dirty = true;
		return;
	}
	if (t->ev[i].service_side) {
		traffic_job(e, t, i);
		return;
	}
	if (strcmp(t->ev[i].name, "ValidateService") == 0 && i > 0 &&
	    strcmp(t->ev[i - 1].name, "ApplicationStart") == 0 && dep_may_gate(dp)) {
		gate_job(e, t, i);
		return;
	}
	event_command(e, t, i);
}

static void target_done(struct engine *e, struct eng_target *t, int status)
{
	if (status == ST_SUCCEEDED || status == ST_FAILED)
		fire(e, status == ST_SUCCEEDED ? "InstanceSuccess" : "InstanceFailure", t->dep, "InProgress", t->id,
		     eng_status_name[status], NULL, NULL);
	t->status = status;
	CHK(store_eng_target_status(e->tx, t->dep->id, t->id, eng_status_name[status], e->now_wall), "target");
	for (int i = 0; i < t->nev; i++) {
		if (t->ev[i].status == ST_PENDING) {
			t->ev[i].status = ST_SKIPPED;
			CHK(store_eng_event_update(e->tx, t->dep->id, t->id, i, "Skipped", 0, 0, NULL), "skip");
		}
	}
	t->dep->dirty = true;
}

static void target_start(struct engine *e, struct eng_target *t)
{
	t->status = ST_INPROGRESS;
	CHK(store_eng_target_status(e->tx, t->dep->id, t->id, "InProgress", e->now_wall), "target start");
	fire(e, "InstanceStart", t->dep, "InProgress", t->id, "InProgress", NULL, NULL);
	event_start(e, t, 0);
}

void eng_event_end(struct engine *e, struct eng_target *t, int status, json_t *diag, bool agent_issue)
{
	struct eng_dep *dp = t->dep;
	int i = t->cur;
	bool go_on;

	t->ev[i].status = status;
	if (t->ev[i].started_ms)
		metric_observe(m_event_seconds, (double)(e->now_mono - t->ev[i].started_ms) / 1000.0, t->ev[i].name,
			       eng_status_name[status]);
	DLOG(status == ST_FAILED ? LOG_NOTICE : LOG_DEBUG, dp->id, t->id, t->ev[i].name, "%s: %s on %s: %s", dp->id,
	     t->ev[i].name, t->id, eng_status_name[status]);
	CHK(store_eng_event_update(e->tx, dp->id, t->id, i, eng_status_name[status], 0, e->now_wall, diag),
	    "event end");
	json_decref(diag);
	cmd_release(e, t);
	go_on = status != ST_FAILED || (dp->ignore_stop_failures && strcmp(t->ev[i].name, "ApplicationStop") == 0);
	if (agent_issue && status == ST_FAILED)
		dp->agent_issue = true;
	if (!go_on) {
		target_done(e, t, ST_FAILED);
		return;
	}
	if (i + 1 < t->nev && !dp->finished)
		event_start(e, t, i + 1);
	else
		target_done(e, t, ST_SUCCEEDED);
}

static json_t *overview(const struct eng_dep *dp)
{
	long long c[ST_N] = {0};
	for (size_t i = 0; i < dp->nt; i++)
		c[dp->t[i]->status]++;
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "Pending", c[ST_PENDING], "InProgress", c[ST_INPROGRESS],
			 "Succeeded", c[ST_SUCCEEDED], "Failed", c[ST_FAILED], "Skipped", c[ST_SKIPPED], "Ready",
			 (long long)0);
}

static struct eng_dep *dep_from_row(json_t *row)
{
	struct eng_dep *dp = calloc(1, sizeof(*dp));
	const json_t *doc = json_object_get(row, "doc");

	if (!dp)
		return NULL;
	snprintf(dp->id, sizeof(dp->id), "%s", jstr(row, "id"));
	dp->app = strdup(jstr(row, "application") ? jstr(row, "application") : "");
	dp->group = strdup(jstr(row, "deployment_group") ? jstr(row, "deployment_group") : "");
	dp->config =
	    strdup(jstr(row, "deployment_config") ? jstr(row, "deployment_config") : "CodeDeployDefault.OneAtATime");
	dp->creator = strdup(jstr(row, "creator") ? jstr(row, "creator") : "user");
	dp->status = dstatus_parse(jstr(row, "status"));
	dp->row = row;
	dp->stop_rollback = -1;
	dp->ignore_stop_failures = json_is_true(json_object_get(doc, "ignoreApplicationStopFailures"));
	dp->feb = jstr(doc, "fileExistsBehavior");
	if (!dp->app || !dp->group || !dp->config || !dp->creator) {
		dp->row = NULL;
		dep_free(dp);
		return NULL;
	}
	return dp;
}

static void dep_append(struct engine *e, struct eng_dep *dp)
{
	struct eng_dep **pp = &e->deps;
	while (*pp)
		pp = &(*pp)->next;
	*pp = dp;
}

static bool group_busy(struct engine *e, const struct eng_dep *self)
{
	for (struct eng_dep *dp = e->deps; dp; dp = dp->next)
		if (dp != self && !dp->finished && dp->status == DS_INPROGRESS && strcmp(dp->app, self->app) == 0 &&
		    strcmp(dp->group, self->group) == 0)
			return true;
	return false;
}

static void job_add(struct engine *e, int type, const char *dep, const char *app, const char *group, json_t *group_doc,
		    const json_t *revision)
{
	struct eng_job *j = calloc(1, sizeof(*j));

	if (!j) {
		eng_store_error(e, -ENOMEM, "job");
		return;
	}
	j->e = e;
	j->type = type;
	snprintf(j->dep, sizeof(j->dep), "%s", dep ? dep : "");
	snprintf(j->app, sizeof(j->app), "%s", app);
	snprintf(j->group, sizeof(j->group), "%s", group);
	j->group_json = json_dumps(group_doc, JSON_COMPACT);
	if (revision)
		j->revision_json = json_dumps(revision, JSON_COMPACT);
	j->next = e->jobs;
	e->jobs = j;
}

static void dep_finish(struct engine *e, struct eng_dep *dp, int status, const char *code, const char *msg);

/* alarms.h callback, on a poller thread: hand it to the engine thread. */
static void on_alarm(struct rd_daemon *d, const char *deployment_id, bool rollback, const char *message, void *userdata)
{
	struct engine *e = userdata;
	struct eng_input *in = input_new(IN_ALARM);

	(void)d;
	if (!in)
		return;
	snprintf(in->dep, sizeof(in->dep), "%s", deployment_id);
	snprintf(in->errmsg, sizeof(in->errmsg), "%s", message ? message : "an alarm is active");
	in->alarm_rollback = rollback;
	eng_post(e, in);
}

static void dep_watch_alarms(struct engine *e, struct eng_dep *dp)
{
	int r =
	    alarms_watch_start(e->d, dp->id, dp->creator, dp->group_doc, json_object_get(dp->row, "doc"), on_alarm, e);
	if (r < 0 && r != -EEXIST)
		DLOG(LOG_WARNING, dp->id, NULL, NULL, "%s: cannot watch its alarms: %s", dp->id, strerror(-r));
}

static void on_traffic(struct engine *e, struct eng_input *in)
{
	struct eng_dep *dp = eng_dep_find(e, in->dep);
	struct eng_target *t = dp && !dp->finished ? eng_target_find(dp, in->target) : NULL;

	if (!t || t->status != ST_INPROGRESS || t->cur != in->ev || t->ev[in->ev].status != ST_INPROGRESS)
		return; /* stopped or already handled */
	if (in->ok) {
		eng_event_end(e, t, ST_SUCCEEDED, eng_diag("Success", "", "Succeeded", ""), false);
		return;
	}
	snprintf(dp->fail_code, sizeof(dp->fail_code), "%s", in->errcode);
	DLOG(LOG_WARNING, dp->id, t->id, t->ev[in->ev].name, "%s: %s of %s failed: %s", dp->id, t->ev[in->ev].name,
	     t->id, in->errmsg);
	eng_event_end(e, t, ST_FAILED, eng_diag("UnknownError", "", in->errmsg, ""), false);
}

/* The gate's verdict: healthy, ValidateService's hook runs; not healthy,
 * ValidateService fails with the gate's reason (and the instance with it). */
static void on_gate(struct engine *e, struct eng_input *in)
{
	struct eng_dep *dp = eng_dep_find(e, in->dep);
	struct eng_target *t = dp && !dp->finished ? eng_target_find(dp, in->target) : NULL;

	if (!t || t->status != ST_INPROGRESS || t->cur != in->ev || t->ev[in->ev].status != ST_INPROGRESS ||
	    t->phase != PH_NONE)
		return; /* stopped or already handled */
	if (in->ok) {
		event_command(e, t, in->ev);
		return;
	}
	DLOG(LOG_NOTICE, dp->id, t->id, t->ev[in->ev].name, "%s: health gate of %s failed: %s", dp->id, t->id,
	     in->errmsg);
	eng_event_end(e, t, ST_FAILED, eng_diag("UnknownError", "", in->errmsg, ""), false);
}

static void on_alarm_input(struct engine *e, struct eng_input *in)
{
	struct eng_dep *dp = eng_dep_find(e, in->dep);

	if (!dp || dp->finished || dp->status != DS_INPROGRESS)
		return; /* ended meanwhile */
	dp->stop_rollback = in->alarm_rollback ? 1 : 0;
	dep_finish(e, dp, DS_STOPPED, "ALARM_ACTIVE", in->errmsg);
}

/* Created/Queued -> InProgress (committed), then targets are resolved by
 * the platform plugins on a worker. */
static void dep_try_start(struct engine *e, struct eng_dep *dp)
{
	json_t *group = NULL;
	int r;

	if (dp->finished || dp->resolving ||
	    (dp->status != DS_CREATED && dp->status != DS_QUEUED && !(dp->status == DS_INPROGRESS && dp->nt == 0)))
		return;
	if (dp->status != DS_INPROGRESS && group_busy(e, dp)) {
		if (dp->status == DS_CREATED)
			dep_set_status(e, dp, DS_QUEUED, 0, 0, NULL, NULL);
		return;
	}
	r = store_eng_group(e->tx, dp->app, dp->group, &group);
	if (r == -ENOENT) {
		dep_finish(e, dp, DS_FAILED, "DEPLOYMENT_GROUP_MISSING",
			   "The deployment group no longer exists; recreate it and deploy again.");
		return;
	}
	if (r < 0) {
		eng_store_error(e, r, "group");
		return;
	}
	json_decref(dp->group_doc);
	dp->group_doc = group;
	if (dp->status != DS_INPROGRESS) {
		dep_set_status(e, dp, DS_INPROGRESS, e->now_wall, 0, NULL, NULL);
		fire(e, "DeploymentStart", dp, "InProgress", NULL, NULL, NULL, NULL);
	}
	dep_watch_alarms(e, dp);
	dp->resolving = true;
	job_add(e, IN_RESOLVED, dp->id, dp->app, dp->group, group, json_object_get(dp->row, "revision"));
	if (e->jobs && e->jobs->type == IN_RESOLVED)
		e->jobs->deployment_json = json_dumps(json_object_get(dp->row, "doc"), JSON_COMPACT);
	DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: started (%s/%s, %s, creator %s)", dp->id, dp->app, dp->group,
	     dp->config, dp->creator);
}

static int load_dep(struct engine *e, const char *id, struct eng_dep **ret);

static bool rollback_wanted(const struct eng_dep *dp, int status)
{
	const json_t *doc = json_object_get(dp->row, "doc");
	const json_t *arc = json_object_get(doc, "autoRollbackConfiguration");
	const json_t *ev;
	size_t i;
	const char *want = status == DS_FAILED ? "DEPLOYMENT_FAILURE" : "DEPLOYMENT_STOP_ON_REQUEST";

	if (strcmp(dp->creator, "codeDeployRollback") == 0)
		return false;
	if (status == DS_STOPPED && dp->stop_rollback >= 0)
		return dp->stop_rollback == 1;
	if (!json_is_object(arc))
		arc = json_object_get(dp->group_doc, "autoRollbackConfiguration");
	if (!json_is_true(json_object_get(arc, "enabled")))
		return false;
	json_array_foreach(json_object_get(arc, "events"), i, ev)
	{
		if (json_string_value(ev) && strcmp(json_string_value(ev), want) == 0)
			return true;
	}
	return false;
}

static void rollback(struct engine *e, struct eng_dep *dp, int status)
{
	char good[16], newid[12], msg[512];
	json_t *rev = NULL, *row = NULL, *doc;
	struct eng_dep *nd;
	int r;

	r = store_eng_last_good(e->tx, dp->app, dp->group, dp->id, good, &rev);
	if (r == -ENOENT) {
		snprintf(
		    msg, sizeof(msg),
		    "Automatic rollback was not performed: deployment group %s has no earlier successful deployment "
		    "to roll back to. Deploy a known good revision manually.",
		    dp->group);
		json_t *ri = json_pack("{s:s}", "rollbackMessage", msg);
		CHK(store_eng_deployment_rollback_info(e->tx, dp->id, ri), "rollback info");
		json_decref(ri);
		DLOG(LOG_NOTICE, dp->id, NULL, NULL, "%s: %s", dp->id, msg);
		return;
	}
	if (r < 0) {
		eng_store_error(e, r, "last good");
		return;
	}
	if (eng_new_deployment_id(newid) < 0) {
		json_decref(rev);
		eng_store_error(e, -EIO, "deployment id");
		return;
	}
	doc = json_deep_copy(json_object_get(dp->row, "doc"));
	if (!doc)
		doc = json_object();
	json_object_del(doc, "rolloutTargetIds");
	json_object_set_new(doc, "description", json_sprintf("Rollback of %s to the revision of %s", dp->id, good));
	row = json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:O,s:{s:s,s:s},s:o}", "id", newid, "application", dp->app,
	    "deployment_group", dp->group, "deployment_config", dp->config, "compute_platform", "Server", "creator",
	    "codeDeployRollback", "create_time", (json_int_t)e->now_wall, "revision", rev, "previous_revision",
	    json_object_get(dp->row, "revision") ? json_object_get(dp->row, "revision") : json_null(), "rollback_info",
	    "rollbackTriggeringDeploymentId", dp->id, "rollbackMessage",
	    status == DS_FAILED ? "Rollback triggered by a failed deployment" : "Rollback triggered by a stop request",
	    "doc", doc);
	if (!row) {
		eng_store_error(e, -ENOMEM, "rollback row");
		return;
	}
	r = store_eng_deployment_insert(e->tx, row);
	json_decref(row);
	if (r < 0) {
		eng_store_error(e, r, "rollback insert");
		return;
	}
	snprintf(msg, sizeof(msg), "Rolled back to the revision of %s by deployment %s", good, newid);
	fire(e, "DeploymentRollback", dp, eng_dstatus_name[status], NULL, NULL, NULL, msg);
	{
		json_t *ri = json_pack("{s:s,s:s}", "rollbackDeploymentId", newid, "rollbackMessage", msg);
		CHK(store_eng_deployment_rollback_info(e->tx, dp->id, ri), "rollback info");
		json_decref(ri);
	}
	DLOG(LOG_NOTICE, dp->id, NULL, NULL, "%s: %s", dp->id, msg);
	if (load_dep(e, newid, &nd) == 0)
		dep_try_start(e, nd);
}

static void start_next_in_group(struct engine *e, const char *app, const char *group)
{
	for (struct eng_dep *dp = e->deps; dp; dp = dp->next) {
		if (!dp->finished && strcmp(dp->app, app) == 0 && strcmp(dp->group, group) == 0 &&
		    (dp->status == DS_CREATED || dp->status == DS_QUEUED)) {
			dep_try_start(e, dp);
			return;
		}
	}
}

static void dep_finish(struct engine *e, struct eng_dep *dp, int status, const char *code, const char *msg)
{
	json_t *ov;
	const char *why = status == DS_STOPPED ? "the deployment was stopped" : "the deployment failed";

	if (dp->finished)
		return;
	dp->finished = true;
	if (dp->bgctl)
		__atomic_store_n(&dp->bgctl->stop, 2, __ATOMIC_SEQ_CST); /* a running traffic phase flips back */
	for (size_t i = 0; i < dp->nt; i++) {
		struct eng_target *t = dp->t[i];
		t->bg_wait = false;
		if (t->status == ST_PENDING) {
			target_done(e, t, ST_SKIPPED);
		} else if (t->status == ST_INPROGRESS) {
			char m[256];
			int cur = t->cur;
			snprintf(m, sizeof(m), "Abandoned: %s before %s finished on this instance.", why,
				 t->ev[cur].name);
			if (t->phase != PH_NONE)
				CHK(store_eng_cmd_update(e->tx, t->cmd_id, "Failed", 0, e->now_wall, NULL), "abandon");
			cmd_release(e, t);
			t->ev[cur].status = ST_FAILED;
			json_t *dg = eng_diag("UnknownError", "", m, "");
			CHK(store_eng_event_update(e->tx, dp->id, t->id, cur, "Failed", 0, e->now_wall, dg), "abandon");
			json_decref(dg);
			target_done(e, t, ST_FAILED);
		}
	}
	dep_set_status(e, dp, status, 0, e->now_wall, code, msg);
	if (json_integer_value(json_object_get(dp->row, "create_time")) > 0)
		metric_observe(m_dep_seconds,
			       (double)(e->now_wall - json_integer_value(json_object_get(dp->row, "create_time"))) /
				   1000.0,
			       eng_dstatus_name[status]);
	alarms_watch_stop(e->d, dp->id);
	fire(e,
	     status == DS_SUCCEEDED ? "DeploymentSuccess"
	     : status == DS_STOPPED ? "DeploymentStop"
				    : "DeploymentFailure",
	     dp, eng_dstatus_name[status], NULL, NULL, code, msg);
	ov = overview(dp);
	CHK(store_eng_deployment_overview(e->tx, dp->id, ov), "overview");
	json_decref(ov);
	/* the group's last deployments are read from the deployments themselves */
	if (status == DS_SUCCEEDED)
		CHK(store_eng_group_succeeded(e->tx, dp->app, dp->group, json_object_get(dp->row, "revision")),
		    "group target revision");
	DLOG(status == DS_SUCCEEDED ? LOG_INFO : LOG_NOTICE, dp->id, NULL, NULL, "%s: %s%s%s", dp->id,
	     eng_dstatus_name[status], msg ? ": " : "", msg ? msg : "");
	if (dp->have_bundle) {
		if (status == DS_SUCCEEDED && jstr(dp->group_doc, "deploymentGroupId"))
			bundles_set_last_good(e->d, jstr(dp->group_doc, "deploymentGroupId"), dp->bundle_sha);
		bundles_unpin(e->d, dp->id);
	}
	if (status != DS_SUCCEEDED && rollback_wanted(dp, status))
		rollback(e, dp, status);
	start_next_in_group(e, dp->app, dp->group);
	if (status == DS_SUCCEEDED)
		e->instances_changed = true; /* new hosts may have appeared meanwhile */
}

/* deploymentReadyOption.actionOnTimeout STOP_DEPLOYMENT (parsing only, no
 * plugin call). */
static bool bg_waits_for_continue(struct engine *e, struct eng_dep *dp, int64_t *ret_wait_ms)
{
	struct traffic_group *g = NULL;
	struct rollout_error terr = {.size = sizeof(terr)};
	char *gj = json_dumps(dp->group_doc, JSON_COMPACT);
	bool r = false;

	if (traffic_group_parse(e->d->plugins, gj ? gj : "{}", &g, &terr) == 0) {
		r = g->ready_action == TRAFFIC_READY_STOP;
		*ret_wait_ms = g->ready_wait_ms;
	}
	traffic_group_free(g);
	free(gj);
	return r;
}

/* Every green instance passed BeforeAllowTraffic: run the traffic phase. */
static void bg_start(struct engine *e, struct eng_dep *dp)
{
	struct eng_job *j;
	json_t *cfg = NULL;
	size_t k = 0;

	job_add(e, IN_BG, dp->id, dp->app, dp->group, dp->group_doc, NULL);
	j = e->jobs;
	if (!j || j->type != IN_BG)
		return;
	j->deployment_json = json_dumps(json_object_get(dp->row, "doc"), JSON_COMPACT);
	if (store_eng_config(e->tx, dp->config, &cfg) == 0) {
		json_object_set_new(cfg, "deploymentConfigName", json_string(dp->config));
		j->config_json = json_dumps(cfg, JSON_COMPACT);
	}
	json_decref(cfg);
	j->green = calloc(dp->nt + 1, sizeof(*j->green));
	for (size_t i = 0; j->green && i < dp->nt; i++)
		if (dp->t[i]->bg_wait && !dp->t[i]->blue)
			j->green[k++] = strdup(dp->t[i]->id);
	j->ngreen = k;
	if (!dp->bgctl) {
		dp->bgctl = calloc(1, sizeof(*dp->bgctl));
		if (dp->bgctl)
			dp->bgctl->refs = 1;
	}
	j->bgctl = bgctl_ref(dp->bgctl);
	dp->bg_phase = 1;
	{
		/* The ready wait is the engine's (bg_ready): the traffic phase
		 * reroutes at once. */
		json_t *gd = json_loads(j->group_json ? j->group_json : "{}", 0, NULL);
		json_t *bgc = json_object_get(gd, "blueGreenDeploymentConfiguration");
		json_t *ro = json_object_get(bgc, "deploymentReadyOption");
		if (json_is_object(ro)) {
			json_object_set_new(ro, "actionOnTimeout", json_string("CONTINUE_DEPLOYMENT"));
			free(j->group_json);
			j->group_json = json_dumps(gd, JSON_COMPACT);
		}
		json_decref(gd);
	}
	DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: green fleet ready (%zu instances); moving traffic", dp->id, k);
}

/* Every green instance passed BeforeAllowTraffic. deploymentReadyOption
 * STOP_DEPLOYMENT: the deployment is Ready (stored, trigger DeploymentReady)
 * until ContinueDeployment or waitTimeInMinutes (check_timers: Stopped,
 * TIMEOUT). Else, or once continued, the original fleet's BeforeBlockTraffic
 * starts (dp->bg_go). */
static void bg_ready(struct engine *e, struct eng_dep *dp)
{
	int64_t wait_ms = 0;

	if (dp->bg_go || dp->ready)
		return;
	if (!bg_waits_for_continue(e, dp, &wait_ms)) {
		dp->bg_go = true;
		return;
	}
	dp->ready = true;
	dp->ready_deadline = e->now_mono + wait_ms;
	CHK(store_eng_deployment_status(e->tx, dp->id, "Ready", 0, 0, NULL, NULL), "deployment ready");
	fire(e, "DeploymentReady", dp, "Ready", NULL, NULL, NULL, NULL);
	DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: green fleet ready; Ready, waiting up to %lld ms for ContinueDeployment",
	     dp->id, (long long)wait_ms);
}

static void on_bg(struct engine *e, struct eng_input *in)
{
	struct eng_dep *dp = eng_dep_find(e, in->dep);

	if (!dp || dp->finished || dp->bg_phase != 1)
		return;
	dp->bg_phase = 2;
	if (!in->ok && dp->ready && strcmp(in->errcode, "TIMEOUT") == 0) {
		/* STOP_DEPLOYMENT and nobody continued within waitTimeInMinutes:
		 * Stopped, as on CodeDeploy; green never got traffic. */
		char m[1200];
		snprintf(m, sizeof(m), "%s", in->errmsg);
		dp->ready = false;
		for (size_t i = 0; i < dp->nt; i++) {
			struct eng_target *t = dp->t[i];
			t->bg_wait = false;
			if (t->blue && t->status == ST_INPROGRESS) {
				/* blue kept its traffic: its BlockTraffic never happened */
				t->ev[t->cur].status = ST_SKIPPED;
				CHK(store_eng_event_update(e->tx, dp->id, t->id, t->cur, "Skipped", 0, e->now_wall,
							   NULL),
				    "blue skip");
				target_done(e, t, ST_SKIPPED);
			}
		}
		dep_finish(e, dp, DS_STOPPED, "TIMEOUT", m);
		return;
	}
	dp->ready = false;
	if (!in->ok) {
		snprintf(dp->fail_code, sizeof(dp->fail_code), "%s", in->errcode);
		DLOG(LOG_NOTICE, dp->id, NULL, NULL, "%s: traffic phase failed: %s", dp->id, in->errmsg);
	}
	for (size_t i = 0; i < dp->nt; i++) {
		struct eng_target *t = dp->t[i];
		if (!t->bg_wait)
			continue;
		t->bg_wait = false;
		eng_event_end(e, t, in->ok ? ST_SUCCEEDED : ST_FAILED,
			      in->ok ? eng_diag("Success", "", "Succeeded", "")
				     : eng_diag("UnknownError", "", in->errmsg, ""),
			      false);
	}
	if (!in->ok) {
		/* The whole green fleet failed AllowTraffic: the deployment fails
		 * with the traffic phase's code (traffic already flipped back). */
		if (strcmp(in->errcode, "ALARM_ACTIVE") == 0) {
			dep_finish(e, dp, DS_STOPPED, "ALARM_ACTIVE", in->errmsg);
		} else {
			dep_finish(e, dp, DS_FAILED, in->errcode, in->errmsg);
		}
	}
}

static void dep_advance(struct engine *e, struct eng_dep *dp)
{
	struct eng_counts c = {0};
	struct eng_step s;
	json_t *ov;

	if (dp->finished || dp->status != DS_INPROGRESS || dp->resolving || dp->nt == 0)
		return;
	if (dp->stop_requested) {
		dep_finish(e, dp, DS_STOPPED, "MANUAL_STOP", "The deployment was stopped by a user request.");
		return;
	}
	for (size_t i = 0; i < dp->nt; i++) {
		if (dp->t[i]->blue)
			continue; /* blue/green: the original fleet is not deployed to */
		switch (dp->t[i]->status) {
		case ST_PENDING:
			c.pending++;
			break;
		case ST_INPROGRESS:
			/* a green instance waiting for the traffic phase is done
			 * as far as batching goes */
			if (dp->t[i]->bg_wait)
				c.succeeded++;
			else
				c.in_progress++;
			break;
		case ST_SUCCEEDED:
			c.succeeded++;
			break;
		case ST_FAILED:
			c.failed++;
			break;
		default:
			break;
		}
	}
	if (c.pending + c.in_progress + c.succeeded + c.failed == 0) {
		/* Every instance was up to date (updateOutdatedInstancesOnly). */
		dep_finish(e, dp, DS_SUCCEEDED, NULL, NULL);
		return;
	}
	s = eng_plan_step(&dp->pol, &c);
	if (dp->bg && s.verdict != ENG_FAILED) {
		/* the original (blue) fleet: BeforeBlockTraffic once green is ready
		 * and continued, BlockTraffic with the traffic phase, then
		 * AfterBlockTraffic */
		size_t active = 0;
		struct eng_target *bad = NULL;
		for (size_t i = 0; i < dp->nt; i++) {
			struct eng_target *t = dp->t[i];
			if (!t->blue)
				continue;
			if (t->status == ST_FAILED && !bad)
				bad = t;
			if ((t->status == ST_INPROGRESS && !t->bg_wait) || t->status == ST_PENDING)
				active++;
		}
		if (bad) {
			char m[512];
			snprintf(m, sizeof(m),
				 "The deployment failed because %s of the original (blue) instance %s failed%s; see "
				 "that instance's lifecycle events.",
				 bad->ev[bad->cur].name, bad->id,
				 dp->bg_phase < 2 ? " (traffic stays on the original fleet)" : "");
			dep_finish(e, dp, DS_FAILED, "HEALTH_CONSTRAINTS", m);
			return;
		}
		if (s.verdict == ENG_SUCCEEDED && dp->bg_phase == 0) {
			bg_ready(e, dp);
			if (!dp->bg_go)
				return;
			for (size_t i = 0; i < dp->nt; i++)
				if (dp->t[i]->blue && dp->t[i]->status == ST_PENDING) {
					target_start(e, dp->t[i]);
					active++;
				}
			if (active == 0) /* every blue instance at BlockTraffic */
				bg_start(e, dp);
			return;
		}
		if (s.verdict == ENG_SUCCEEDED && (dp->bg_phase == 1 || active > 0))
			return;
	}
	if (s.verdict == ENG_SUCCEEDED) {
		dep_finish(e, dp, DS_SUCCEEDED, NULL, NULL);
		return;
	}
	if (s.verdict == ENG_FAILED) {
		if (dp->fail_code[0])
			dep_finish(
			    e, dp, DS_FAILED, dp->fail_code,
			    "The deployment failed because traffic to an instance could not be blocked or allowed; "
			    "see the instance's BlockTraffic/AllowTraffic event.");
		else if (dp->agent_issue)
			dep_finish(e, dp, DS_FAILED, "AGENT_ISSUE",
				   "The deployment failed because an instance's agent did not pick up or stopped "
				   "reporting on a lifecycle event. Check that rollout-agent runs on the failed "
				   "instances and can reach rolloutd.");
		else
			dep_finish(e, dp, DS_FAILED, "HEALTH_CONSTRAINTS", ENG_MSG_HEALTH_CONSTRAINTS);
		return;
	}
	for (size_t i = 0; i < dp->nt && s.start > 0; i++) {
		if (dp->t[i]->status == ST_PENDING && !dp->t[i]->blue) {
			target_start(e, dp->t[i]);
			s.start--;
		}
	}
	ov = overview(dp);
	CHK(store_eng_deployment_overview(e->tx, dp->id, ov), "overview");
	json_decref(ov);
}

/* Pins the deployment's bundle and lets its instances download it. */
static void dep_bundle_attach(struct engine *e, struct eng_dep *dp, const char *sha, uint64_t size)
{
	int r;

	dp->have_bundle = true;
	snprintf(dp->bundle_sha, sizeof(dp->bundle_sha), "%s", sha);
	dp->bundle_size = size;
	r = bundles_pin(e->d, sha, dp->id);
	if (r < 0)
		DLOG(LOG_WARNING, dp->id, NULL, NULL, "%s: cannot pin bundle %s: %s", dp->id, sha, strerror(-r));
	for (size_t i = 0; i < dp->nt; i++)
		bundles_grant(e->d, dp->id, dp->t[i]->id);
}

static void on_resolved(struct engine *e, struct eng_input *in)
{
	struct eng_dep *dp = eng_dep_find(e, in->dep);
	struct eng_selection sel = {0};
	struct rd_error perr = RD_ERROR_INIT;
	const json_t *doc, *tj;
	size_t i, deploy = 0;
	int r;

	if (!dp || dp->finished || !dp->resolving)
		return;
	dp->resolving = false;
	if (!in->targets) {
		dep_finish(e, dp, DS_FAILED, in->errcode[0] ? in->errcode : "INTERNAL_ERROR", in->errmsg);
		return;
	}
	{
		/* Traffic control of the group (daemon/traffic/traffic.h): parsing only,
		 * no plugin call. */
		struct traffic_group *g = NULL;
		struct rollout_error terr = {.size = sizeof(terr)};
		char *gj = json_dumps(dp->group_doc, JSON_COMPACT);
		int rt = traffic_group_parse(e->d->plugins, gj ? gj : "{}", &g, &terr);
		bool bg;
		free(gj);
		if (rt < 0) {
			dep_finish(e, dp, DS_FAILED, terr.code[0] ? terr.code : "ELASTIC_LOAD_BALANCING_INVALID",
				   terr.message);
			return;
		}
		bg = traffic_group_blue_green(g);
		dp->traffic = traffic_group_in_place(g);
		traffic_group_free(g);
		dp->bg = bg && in->bg;
	}
	doc = json_object_get(dp->row, "doc");
	r = eng_targets_select(e->tx, dp->id, dp->app, dp->group, in->targets, json_object_get(doc, "rolloutTargetIds"),
			       json_is_true(json_object_get(doc, "updateOutdatedInstancesOnly")),
			       json_object_get(dp->row, "revision"), &sel);
	if (r < 0) {
		eng_store_error(e, r, "target selection");
		return;
	}
	free(dp->t); /* empty after a restart while resolving */
	dp->nt = 0;
	dp->t = calloc(sel.n + json_array_size(in->blue) + 1, sizeof(*dp->t));
	if (!dp->t) {
		eng_store_error(e, -ENOMEM, "targets");
		goto out;
	}
	if (sel.n == 0) {
		dep_finish(e, dp, DS_FAILED, "NO_INSTANCES", ENG_MSG_NO_INSTANCES);
		goto out;
	}
	for (i = 0; i < sel.n; i++) {
		struct eng_target *t = calloc(1, sizeof(*t));
		const json_t *src = sel.v[i].src;
		if (!t || !(t->id = strdup(sel.v[i].id))) {
			free(t);
			eng_store_error(e, -ENOMEM, "target");
			goto out;
		}
		t->arn = jstr(src, "targetArn") ? strdup(jstr(src, "targetArn")) : NULL;
		t->dep = dp;
		t->seq = (int)i;
		t->last_failed = sel.v[i].last_failed;
		if (dp->bg)
			events_init_green(t);
		else
			events_init(t, dp->traffic);
		t->status = sel.v[i].up_to_date ? ST_SKIPPED : ST_PENDING;
		dp->t[dp->nt++] = t;
		CHK(store_eng_target_insert(e->tx, dp->id, t->id, t->seq, t->arn, eng_status_name[t->status],
					    dp->bg ? "Green" : NULL, NULL, e->now_wall),
		    "target insert");
		for (int j = 0; j < t->nev; j++) {
			if (t->status == ST_SKIPPED)
				t->ev[j].status = ST_SKIPPED;
			CHK(store_eng_event_insert(e->tx, dp->id, t->id, j, t->ev[j].name,
						   eng_status_name[t->ev[j].status]),
			    "event insert");
		}
		if (t->status == ST_PENDING)
			deploy++;
	}
	if (dp->bg) {
		/* The original (blue) fleet: targets labelled Blue, whose
		 * BlockTraffic is done by the traffic phase. */
		json_array_foreach(in->blue, i, tj)
		{
			const char *id = jstr(tj, "targetId");
			struct eng_target *t;
			if (!id || !*id || eng_target_find(dp, id))
				continue;
			t = calloc(1, sizeof(*t));
			if (!t || !(t->id = strdup(id))) {
				free(t);
				eng_store_error(e, -ENOMEM, "target");
				goto out;
			}
			t->arn = jstr(tj, "targetArn") ? strdup(jstr(tj, "targetArn")) : NULL;
			t->dep = dp;
			t->seq = (int)dp->nt;
			t->blue = true;
			events_init_blue(t);
			t->status = ST_PENDING;
			dp->t[dp->nt++] = t;
			CHK(store_eng_target_insert(e->tx, dp->id, t->id, t->seq, t->arn, "Pending", "Blue", NULL,
						    e->now_wall),
			    "target insert");
			for (int j = 0; j < t->nev; j++)
				CHK(store_eng_event_insert(e->tx, dp->id, t->id, j, t->ev[j].name, "Pending"),
				    "event insert");
		}
	}
	if (deploy > 0) {
		r = eng_targets_policy(e->tx, dp->config, (int)deploy, &dp->pol, &perr);
		if (r < 0) {
			dep_finish(e, dp, DS_FAILED, perr.code, perr.message);
			goto out;
		}
	}
	if (in->have_bundle) {
		json_t *b = json_pack("{s:s,s:I,s:s}", "sha256", in->sha256, "size", (json_int_t)in->size, "bundleType",
				      in->bundle_type);
		CHK(store_eng_bundle_set(e->tx, dp->id, b), "bundle");
		json_decref(b);
		dep_bundle_attach(e, dp, in->sha256, in->size);
	}
	DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: %zu target(s), %zu to deploy", dp->id, dp->nt, deploy);
	dp->dirty = true;
out:
	eng_selection_free(&sel);
}

/* Loads a deployment row into memory (once). */
static int load_dep(struct engine *e, const char *id, struct eng_dep **ret)
{
	json_t *row = NULL, *targets = NULL, *tj;
	struct eng_dep *dp;
	size_t i;
	int r;

	dp = eng_dep_find(e, id);
	if (dp) {
		*ret = dp;
		return 0;
	}
	r = store_eng_deployment(e->tx, id, &row);
	if (r < 0)
		return r;
	if (strcmp(jstr(row, "compute_platform") ? jstr(row, "compute_platform") : "Server", "Server") != 0 ||
	    dstatus_parse(jstr(row, "status")) < 0 || dstatus_parse(jstr(row, "status")) > DS_INPROGRESS) {
		json_decref(row);
		return -ENOTSUP; /* not ours, or already finished */
	}
	dp = dep_from_row(row);
	if (!dp) {
		json_decref(row);
		return -ENOMEM;
	}
	if (dp->status == DS_INPROGRESS) {
		r = store_eng_group(e->tx, dp->app, dp->group, &dp->group_doc);
		if (r < 0 && r != -ENOENT)
			goto fail;
		r = store_eng_targets(e->tx, id, &targets);
		if (r < 0)
			goto fail;
		dp->t = calloc(json_array_size(targets) + 1, sizeof(*dp->t));
		if (!dp->t) {
			r = -ENOMEM;
			goto fail;
		}
		json_array_foreach(targets, i, tj)
		{
			struct eng_target *t = calloc(1, sizeof(*t));
			const json_t *ev, *cmd = json_object_get(tj, "command");
			size_t j;
			if (!t) {
				r = -ENOMEM;
				goto fail;
			}
			t->dep = dp;
			t->id = strdup(jstr(tj, "target_id"));
			t->arn = jstr(tj, "target_arn") ? strdup(jstr(tj, "target_arn")) : NULL;
			t->seq = (int)json_integer_value(json_object_get(tj, "seq"));
			t->status = status_parse(jstr(tj, "status"));
			t->blue = jstr(tj, "instance_label") && strcmp(jstr(tj, "instance_label"), "Blue") == 0;
			if (t->blue && t->status != ST_PENDING)
				dp->bg_go = true; /* continued (or no ready wait) before the restart */
			dp->t[dp->nt++] = t;
			json_array_foreach(json_object_get(tj, "events"), j, ev)
			{
				if (j >= ENG_MAX_EVENTS)
					break;
				snprintf(t->ev[j].name, sizeof(t->ev[j].name), "%s", jstr(ev, "name"));
				t->ev[j].status = status_parse(jstr(ev, "status"));
				t->ev[j].service_side = strcmp(t->ev[j].name, "BlockTraffic") == 0 ||
							strcmp(t->ev[j].name, "AllowTraffic") == 0;
				t->ev[j].noop_capable = strcmp(t->ev[j].name, "DownloadBundle") != 0 &&
							strcmp(t->ev[j].name, "Install") != 0 && !t->ev[j].service_side;
				if (t->ev[j].service_side)
					dp->traffic = true;
				if (strcmp(t->ev[j].name, "BeforeAllowTraffic") == 0 && j == 7)
					dp->bg = true; /* green: AllowTraffic right after ValidateService */
				t->nev = (int)j + 1;
				if (t->ev[j].status == ST_INPROGRESS)
					t->cur = (int)j;
			}
			if (t->status == ST_INPROGRESS && t->ev[t->cur].status == ST_INPROGRESS &&
			    json_is_object(cmd) &&
			    json_integer_value(json_object_get(cmd, "lifecycle_seq")) == t->cur) {
				const char *cs = jstr(cmd, "status");
				t->cmd_id = json_integer_value(json_object_get(cmd, "id"));
				cmd_queue(e, t);
				/* Handed out and acknowledged before the restart: the agent
				 * runs it and will report (or fail it with error code 7). A
				 * command handed out but never acknowledged is offered
				 * again. */
				if (cs && strcmp(cs, "InProgress") == 0) {
					struct eng_host *h = t->host;
					if (h && h->cur == t) {
						/* handed out (and maybe acknowledged) before the
						 * restart: give the agent time to report before
						 * offering it again (cmdsvc REDISPATCH_MS). */
						t->phase = json_is_integer(json_object_get(cmd, "acked_time"))
							       ? PH_ACKED
							       : PH_DISPATCHED;
						t->dispatched_ms = e->now_mono;
						h->last_seen = e->now_mono;
					}
				}
			} else if (t->status == ST_INPROGRESS) {
				/* The event's end was committed but not the next start:
				 * impossible with one transaction per step; start it. */
				int nx = -1;
				for (int k = 0; k < t->nev; k++)
					if (t->ev[k].status == ST_PENDING || t->ev[k].status == ST_INPROGRESS) {
						nx = k;
						break;
					}
				if (nx >= 0)
					event_start(e, t, nx);
				else
					target_done(e, t, ST_SUCCEEDED);
			}
		}
		json_decref(targets);
		targets = NULL;
		{
			json_t *b = NULL;
			if (store_eng_bundle_get(e->tx, dp->id, &b) == 0 && jstr(b, "sha256"))
				dep_bundle_attach(e, dp, jstr(b, "sha256"),
						  (uint64_t)json_integer_value(json_object_get(b, "size")));
			json_decref(b);
		}
		if (dp->nt > 0) {
			size_t deploy = 0;
			for (size_t x = 0; x < dp->nt; x++)
				deploy += dp->t[x]->status != ST_SKIPPED && !dp->t[x]->blue;
			if (deploy > 0 && eng_targets_policy(e->tx, dp->config, (int)deploy, &dp->pol, NULL) < 0)
				dp->pol = (struct eng_policy){
				    .total = (int)deploy, .min_healthy = 1, .max_unhealthy = 1, .one_at_a_time = true};
		}
		dp->dirty = true;
	}
	dep_append(e, dp);
	*ret = dp;
	return 0;
fail:
	json_decref(targets);
	dep_free(dp);
	return r;
}

/* ---------------------------------------------------------------- plugin jobs */

/* Revisions without a bundle (Lambda/ECS AppSpec content). */
static bool bundle_free_revision(const char *revision_json)
{
	json_t *rev = json_loads(revision_json, 0, NULL);
	const char *t = jstr(rev, "revisionType");
	bool r = !t || strcmp(t, "String") == 0 || strcmp(t, "AppSpecContent") == 0;
	json_decref(rev);
	return r;
}

static void job_free(struct eng_job *j)
{
	free(j->group_json);
	free(j->revision_json);
	free(j->deployment_json);
	free(j->config_json);
	for (size_t i = 0; i < j->ngreen; i++)
		free(j->green[i]);
	free(j->green);
	bgctl_unref(j->bgctl);
	free(j);
}

/* The blue/green traffic phase (daemon/traffic/traffic.h traffic_bg_run), on a worker:
 * ready wait, reroute or weighted shift, termination wait. */
static void bg_job_run(struct engine *e, struct eng_job *j, struct eng_input *in)
{
	struct rollout_deployment dep =
	    ROLLOUT_DEPLOYMENT_INIT(.deployment_id = j->dep, .application_name = j->app,
				    .deployment_group_name = j->group, .compute_platform = "Server",
				    .region = e->d->cfg ? e->d->cfg->region : NULL,
				    .account_id = e->d->cfg ? e->d->cfg->account_id : NULL);
	struct traffic_bg_run run = {.reg = e->d->plugins,
				     .dep = &dep,
				     .deployment_json = j->deployment_json,
				     .group_json = j->group_json,
				     .config_json = j->config_json,
				     .green = (const char *const *)j->green,
				     .ngreen = j->ngreen,
				     .poll = bg_poll,
				     .userdata = j->bgctl,
				     .poll_ms = 200};
	struct rollout_error terr = {.size = sizeof(terr)};
	int r = traffic_bg_run(&run, NULL, &terr);

	in->ok = r == 0;
	if (r < 0) {
		snprintf(in->errcode, sizeof(in->errcode), "%s", terr.code[0] ? terr.code : "INTERNAL_ERROR");
		snprintf(in->errmsg, sizeof(in->errmsg), "%s", terr.message[0] ? terr.message : strerror(-r));
	}
}

static void job_run(void *arg)
{
	struct eng_job *j = arg;
	struct engine *e = j->e;
	struct eng_input *in = input_new(j->type);
	json_t *all = json_array();

	if (!in) {
		/* Nothing to report back; the deployment is resumed after restart. */
		job_free(j);
		json_decref(all);
		__atomic_sub_fetch(&e->jobs_running, 1, __ATOMIC_SEQ_CST);
		return;
	}
	snprintf(in->dep, sizeof(in->dep), "%s", j->dep);
	snprintf(in->app, sizeof(in->app), "%s", j->app);
	snprintf(in->group, sizeof(in->group), "%s", j->group);
	if (j->type == IN_BG) {
		bg_job_run(e, j, in);
		json_decref(all);
		all = NULL;
		goto done;
	}
	if (j->type == IN_GATE) {
		json_t *gd = json_loads(j->group_json ? j->group_json : "{}", 0, NULL);
		json_t *dd = j->deployment_json ? json_loads(j->deployment_json, 0, NULL) : NULL;
		char reason[1024] = "";
		int r = alarms_gate_instance(e->d, j->dep, gd, dd, j->target, reason, sizeof(reason));
		json_decref(gd);
		json_decref(dd);
		snprintf(in->target, sizeof(in->target), "%s", j->target);
		in->ev = j->ev;
		in->ok = r == 0;
		if (r < 0)
			snprintf(in->errmsg, sizeof(in->errmsg),
				 "The health gate of instance %s could not be checked: %s; check the alarms: "
				 "definitions in the rolloutd config",
				 j->target, strerror(-r));
		else if (r > 0)
			snprintf(in->errmsg, sizeof(in->errmsg), "%s", reason);
		json_decref(all);
		all = NULL;
		goto done;
	}
	if (j->type == IN_TRAFFIC) {
		struct traffic_group *g = NULL;
		struct rollout_error terr = {.size = sizeof(terr)};
		int r = traffic_group_parse(e->d->plugins, j->group_json ? j->group_json : "{}", &g, &terr);
		if (r == 0)
			r = j->block ? traffic_block(g, j->target, TRAFFIC_DRAIN_TIMEOUT_MS, &terr)
				     : traffic_allow(g, j->target, &terr);
		traffic_group_free(g);
		snprintf(in->target, sizeof(in->target), "%s", j->target);
		in->ev = j->ev;
		in->ok = r == 0;
		if (r < 0) {
			snprintf(in->errcode, sizeof(in->errcode), "%s",
				 terr.code[0] ? terr.code : "ELASTIC_LOAD_BALANCING_INVALID");
			snprintf(in->errmsg, sizeof(in->errmsg), "%s", terr.message[0] ? terr.message : strerror(-r));
		}
		json_decref(all);
		all = NULL;
		goto done;
	}
	if (j->revision_json && !bundle_free_revision(j->revision_json)) {
		struct cached_bundle cb;
		struct rd_error be = RD_ERROR_INIT;
		int rb = bundles_ensure(e->d, j->revision_json, &cb, &be);
		if (rb == -ESHUTDOWN) {
			/* No bundle cache in this daemon: hosts fetch the revision
			 * themselves from its location, as with CodeDeploy. */
			in->errcode[0] = in->errmsg[0] = '\0';
		} else if (rb < 0) {
			snprintf(in->errcode, sizeof(in->errcode), "%s", be.code[0] ? be.code : "INTERNAL_ERROR");
			snprintf(in->errmsg, sizeof(in->errmsg), "%s", be.message);
			json_decref(all);
			all = NULL;
			goto done;
		} else {
			in->have_bundle = true;
			snprintf(in->sha256, sizeof(in->sha256), "%s", cb.sha256);
			in->size = cb.size;
			snprintf(in->bundle_type, sizeof(in->bundle_type), "%s", cb.bundle_type);
		}
	}
	{
		struct rollout_deployment dep =
		    ROLLOUT_DEPLOYMENT_INIT(.deployment_id = j->dep[0] ? j->dep : NULL, .application_name = j->app,
					    .deployment_group_name = j->group, .compute_platform = "Server",
					    .region = e->d->cfg ? e->d->cfg->region : NULL,
					    .account_id = e->d->cfg ? e->d->cfg->account_id : NULL);
		json_t *group = json_loads(j->group_json ? j->group_json : "{}", 0, NULL);
		json_t *doc = j->type == IN_RESOLVED
				  ? (j->deployment_json ? json_loads(j->deployment_json, 0, NULL) : json_object())
				  : NULL;
		struct rd_error rerr = RD_ERROR_INIT;
		bool bg = false;

		json_decref(all);
		all = NULL;
		if (eng_targets_resolve(e->d->plugins, &dep, group, doc, &all, &bg, &rerr) < 0) {
			snprintf(in->errcode, sizeof(in->errcode), "%s", rerr.code);
			snprintf(in->errmsg, sizeof(in->errmsg), "%s", rerr.message);
		}
		in->bg = bg;
		if (all && bg && json_array_size(all) > 0) {
			/* Green out of service before any hook runs on it. */
			size_t n = json_array_size(all), k = 0;
			const char **green = calloc(n, sizeof(*green));
			struct rollout_error terr = {.size = sizeof(terr)};
			const json_t *t;
			size_t x;
			json_array_foreach(all, x, t)
			{
				if (green && json_string_value(json_object_get(t, "targetId")))
					green[k++] = json_string_value(json_object_get(t, "targetId"));
			}
			struct traffic_bg_run run = {.reg = e->d->plugins,
						     .dep = &dep,
						     .deployment_json = j->deployment_json,
						     .group_json = j->group_json,
						     .green = green,
						     .ngreen = k};
			if (!green || traffic_bg_begin(&run, &terr) < 0) {
				snprintf(in->errcode, sizeof(in->errcode), "%s",
					 terr.code[0] ? terr.code : "INTERNAL_ERROR");
				snprintf(in->errmsg, sizeof(in->errmsg), "%s",
					 terr.message[0] ? terr.message : "out of memory");
				json_decref(all);
				all = NULL;
			} else {
				in->blue = eng_targets_blue(e->d->plugins, &dep, group, all);
			}
			free(green);
		}
		json_decref(group);
		json_decref(doc);
	}
done:
	in->targets = all;
	job_free(j);
	eng_post(e, in);
	__atomic_sub_fetch(&e->jobs_running, 1, __ATOMIC_SEQ_CST);
}

static void jobs_start(struct engine *e)
{
	struct eng_job *j = e->jobs, *next;

	e->jobs = NULL;
	for (; j; j = next) {
		next = j->next;
		__atomic_add_fetch(&e->jobs_running, 1, __ATOMIC_SEQ_CST);
		if (j->type == IN_GATE && e->gate_pool && workpool_submit(e->gate_pool, job_run, j) == 0)
			continue;
		if (!e->d->pool || workpool_submit(e->d->pool, job_run, j) < 0)
			job_run(j);
	}
}

static void jobs_drop(struct engine *e)
{
	struct eng_job *j = e->jobs, *next;
	e->jobs = NULL;
	for (; j; j = next) {
		next = j->next;
		job_free(j);
	}
}

/* ---------------------------------------------------------------- auto-update */

static void autoupdate_scan(struct engine *e)
{
	json_t *groups = NULL, *g;
	size_t i;

	if (store_eng_server_groups(e->tx, &groups) < 0)
		return;
	json_array_foreach(groups, i, g)
	{
		const char *app = jstr(g, "application"), *name = jstr(g, "name");
		json_t *doc = NULL;
		bool busy = false;
		for (struct eng_dep *dp = e->deps; dp; dp = dp->next)
			busy = busy || (!dp->finished && strcmp(dp->app, app) == 0 && strcmp(dp->group, name) == 0);
		if (busy)
			continue;
		if (store_eng_group(e->tx, app, name, &doc) < 0)
			continue;
		/* a group has a targetRevision once a deployment to it succeeded */
		if (json_is_object(json_object_get(doc, "targetRevision")))
			job_add(e, IN_AUTOUPDATE, NULL, app, name, doc, NULL);
		json_decref(doc);
	}
	json_decref(groups);
}

static void on_autoupdate(struct engine *e, struct eng_input *in)
{
	json_t *doc = NULL, *ids = NULL, *tj, *rev = NULL, *row;
	char good[16], newid[12];
	size_t i;
	struct eng_dep *nd;

	if (!in->targets)
		return;
	for (struct eng_dep *dp = e->deps; dp; dp = dp->next)
		if (!dp->finished && strcmp(dp->app, in->app) == 0 && strcmp(dp->group, in->group) == 0)
			return; /* a deployment runs; it will re-scan when it ends */
	ids = json_array();
	json_array_foreach(in->targets, i, tj)
	{
		bool seen = true;
		const char *id = jstr(tj, "targetId");
		if (!id)
			continue;
		CHK(store_eng_instance_in_group(e->tx, in->app, in->group, id, &seen), "in group");
		if (!seen)
			json_array_append_new(ids, json_string(id));
	}
	if (json_array_size(ids) == 0 || store_eng_last_good(e->tx, in->app, in->group, "", good, &rev) < 0 ||
	    store_eng_group(e->tx, in->app, in->group, &doc) < 0 || eng_new_deployment_id(newid) < 0) {
		json_decref(ids);
		json_decref(rev);
		json_decref(doc);
		return;
	}
	row = json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:{s:s,s:o}}", "id", newid, "application", in->app, "deployment_group",
	    in->group, "deployment_config",
	    jstr(doc, "deploymentConfigName") ? jstr(doc, "deploymentConfigName") : "CodeDeployDefault.OneAtATime",
	    "compute_platform", "Server", "creator", "CodeDeployAutoUpdate", "create_time", (json_int_t)e->now_wall,
	    "revision", rev, "doc", "description",
	    "Automatic deployment of the last successful revision to new instances", "rolloutTargetIds", ids);
	json_decref(doc);
	if (!row)
		return;
	if (store_eng_deployment_insert(e->tx, row) == 0) {
		DLOG(LOG_NOTICE, newid, NULL, NULL, "%s: auto-update of %s/%s to %zu new instance(s) (revision of %s)",
		     newid, in->app, in->group,
		     json_array_size(json_object_get(json_object_get(row, "doc"), "rolloutTargetIds")), good);
		if (load_dep(e, newid, &nd) == 0)
			dep_try_start(e, nd);
	}
	json_decref(row);
}

/* ---------------------------------------------------------------- stop */

static void on_stop(struct engine *e, struct eng_input *in)
{
	struct eng_stopreq *sr = in->stop;
	struct eng_dep *dp = eng_dep_find(e, in->dep);

	if (!dp || dp->finished) {
		json_t *row = NULL;
		int r = store_eng_deployment(e->tx, in->dep, &row);
		const char *st = r == 0 ? json_string_value(json_object_get(row, "status")) : NULL;
		bool done = st && (!strcmp(st, "Succeeded") || !strcmp(st, "Failed") || !strcmp(st, "Stopped"));
		/* not (yet) running here: Created or Queued is simply not waiting */
		sr->result = r == -ENOENT ? -ENOENT : r < 0 ? r : done ? -EALREADY : -EAGAIN;
		json_decref(row);
		if (sr->result == -EALREADY)
			snprintf(sr->msg, sizeof(sr->msg), "Deployment %s has already completed.", in->dep);
	} else {
		dp->stop_requested = true;
		dp->stop_rollback = sr->auto_rollback;
		if (dp->status != DS_INPROGRESS || dp->resolving || dp->nt == 0)
			dep_finish(e, dp, DS_STOPPED, "MANUAL_STOP", "The deployment was stopped by a user request.");
		else
			dep_advance(e, dp);
		sr->result = 0;
		snprintf(sr->msg, sizeof(sr->msg), "Deployment of %s stopped.", dp->id);
	}
	sr->next = e->stops_done;
	e->stops_done = sr;
}

static void on_continue(struct engine *e, struct eng_input *in)
{
	struct eng_stopreq *sr = in->stop;
	struct eng_dep *dp = eng_dep_find(e, in->dep);

	if (!dp || dp->finished) {
		json_t *row = NULL;
		int r = store_eng_deployment(e->tx, in->dep, &row);
		const char *st = r == 0 ? json_string_value(json_object_get(row, "status")) : NULL;
		bool done = st && (!strcmp(st, "Succeeded") || !strcmp(st, "Failed") || !strcmp(st, "Stopped"));
		/* not (yet) running here: Created or Queued is simply not waiting */
		sr->result = r == -ENOENT ? -ENOENT : r < 0 ? r : done ? -EALREADY : -EAGAIN;
		json_decref(row);
	} else if (!dp->bg) {
		sr->result = -ENOTSUP;
	} else if (!dp->ready) {
		sr->result = -EAGAIN;
	} else {
		/* InProgress again; the original fleet's BeforeBlockTraffic is
		 * queued in the same transaction, so both are durable before any
		 * host or the traffic phase acts on them */
		dp->ready = false;
		dp->bg_go = true;
		dp->dirty = true;
		dep_set_status(e, dp, DS_INPROGRESS, 0, 0, NULL, NULL);
		DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: ContinueDeployment: rerouting traffic to the green fleet",
		     dp->id);
		sr->result = 0;
	}
	sr->next = e->stops_done;
	e->stops_done = sr;
}

static void stops_signal(struct engine *e, int fail)
{
	struct eng_stopreq *sr = e->stops_done, *next;
	e->stops_done = NULL;
	for (; sr; sr = next) {
		next = sr->next;
		pthread_mutex_lock(&sr->m);
		if (fail)
			sr->result = fail;
		sr->done = true;
		pthread_cond_signal(&sr->c);
		pthread_mutex_unlock(&sr->m);
	}
}

/* ---------------------------------------------------------------- timers */

static void check_timers(struct engine *e)
{
	for (struct eng_dep *dp = e->deps; dp; dp = dp->next) {
		if (dp->ready && !dp->finished && e->now_mono >= dp->ready_deadline) {
			char m[512];
			dp->ready = false;
			snprintf(m, sizeof(m),
				 "nobody called ContinueDeployment within waitTimeInMinutes, so traffic stays on the "
				 "original (blue) fleet (deploymentReadyOption STOP_DEPLOYMENT); deploy again, and "
				 "call ContinueDeployment in time or use CONTINUE_DEPLOYMENT");
			dep_finish(e, dp, DS_STOPPED, "TIMEOUT", m);
		}
	}
	for (size_t b = 0; b < e->nhb; b++) {
		for (struct eng_host *h = e->hb[b]; h; h = h->hnext) {
			struct eng_target *t = h->cur;
			if (h->poll && e->now_mono >= h->poll_deadline) {
				metric_add(metric_gauge("rolloutd_long_polls_held", NULL, NULL), -1.0, NULL);
				eng_reply_now(e, h->poll, json_object());
				h->poll = NULL;
				h->last_seen = e->now_mono;
			}
			if (!t)
				continue;
			if (t->phase == PH_QUEUED && e->now_mono - t->queued_ms > e->pickup_ms) {
				char m[512];
				snprintf(m, sizeof(m),
					 "The agent on instance %s did not pick up %s within %lld s. Check that "
					 "rollout-agent runs there and can reach rolloutd.",
					 t->id, t->ev[t->cur].name, (long long)(e->pickup_ms / 1000));
				CHK(store_eng_cmd_update(e->tx, t->cmd_id, "Failed", 0, e->now_wall, NULL), "timeout");
				DLOG(LOG_WARNING, t->dep->id, t->id, t->ev[t->cur].name, "%s: %s", t->dep->id, m);
				eng_event_end(e, t, ST_FAILED, eng_diag("UnknownError", "", m, ""), true);
			} else if ((t->phase == PH_DISPATCHED || t->phase == PH_ACKED) && !h->poll &&
				   e->now_mono - h->last_seen > e->heartbeat_ms) {
				char m[512];
				snprintf(
				    m, sizeof(m),
				    "The agent on instance %s stopped reporting during %s (nothing heard for %lld s); "
				    "it may have crashed or lost the network.",
				    t->id, t->ev[t->cur].name, (long long)(e->heartbeat_ms / 1000));
				CHK(store_eng_cmd_update(e->tx, t->cmd_id, "Failed", 0, e->now_wall, NULL),
				    "heartbeat");
				DLOG(LOG_WARNING, t->dep->id, t->id, t->ev[t->cur].name, "%s: %s", t->dep->id, m);
				eng_event_end(e, t, ST_FAILED, eng_diag("UnknownError", "", m, ""), true);
			}
		}
	}
}

/* ---------------------------------------------------------------- the loop */

static void free_state(struct engine *e)
{
	struct eng_dep *dp = e->deps, *next;

	for (; dp; dp = next) {
		next = dp->next;
		if (dp->bgctl) /* a running traffic phase ends (flips back) */
			__atomic_store_n(&dp->bgctl->stop, 2, __ATOMIC_SEQ_CST);
		dep_free(dp);
	}
	e->deps = NULL;
	for (size_t b = 0; b < e->nhb; b++) {
		struct eng_host *h = e->hb[b], *hn;
		for (; h; h = hn) {
			hn = h->hnext;
			if (h->poll)
				httpd_call_reply(h->poll, json_object());
			free(h->name);
			free(h->poll_identifier);
			free(h->verified_identifier);
			free(h);
		}
		e->hb[b] = NULL;
	}
}

/* Loads every unfinished deployment; runs inside a transaction. */
static void resume(struct engine *e)
{
	json_t *ids = NULL, *v;
	size_t i;
	struct eng_dep *dp;

	if (store_eng_active_ids(e->tx, &ids) < 0) {
		eng_store_error(e, -EIO, "active deployments");
		return;
	}
	json_array_foreach(ids, i, v)
	{
		if (load_dep(e, json_string_value(v), &dp) == 0)
			DLOG(LOG_INFO, dp->id, NULL, NULL, "%s: resumed (%s)", dp->id, eng_dstatus_name[dp->status]);
	}
	json_decref(ids);
	for (dp = e->deps; dp; dp = dp->next)
		if (dp->status == DS_INPROGRESS && dp->nt == 0)
			dep_try_start(e, dp); /* crashed while resolving: resolve again */
		else if (dp->status == DS_INPROGRESS)
			dep_watch_alarms(e, dp);
	for (dp = e->deps; dp; dp = dp->next)
		if (dp->status == DS_CREATED || dp->status == DS_QUEUED)
			dep_try_start(e, dp);
}

static void apply(struct engine *e, struct eng_input *in)
{
	struct eng_dep *dp;

	switch (in->type) {
	case IN_CREATED:
		if (load_dep(e, in->dep, &dp) == 0)
			dep_try_start(e, dp);
		break;
	case IN_CALL:
		cmdsvc_handle(e, in->call);
		in->call = NULL;
		break;
	case IN_RESOLVED:
		on_resolved(e, in);
		break;
	case IN_AUTOUPDATE:
		on_autoupdate(e, in);
		break;
	case IN_STOP:
		on_stop(e, in);
		break;
	case IN_INSTANCES:
		e->instances_changed = true;
		break;
	case IN_ALARM:
		on_alarm_input(e, in);
		break;
	case IN_TRAFFIC:
		on_traffic(e, in);
		break;
	case IN_GATE:
		on_gate(e, in);
		break;
	case IN_BG:
		on_bg(e, in);
		break;
	case IN_CONTINUE:
		on_continue(e, in);
		break;
	}
}

static void reap_finished(struct engine *e)
{
	struct eng_dep **pp = &e->deps;
	while (*pp) {
		struct eng_dep *dp = *pp;
		if (dp->finished) {
			*pp = dp->next;
			dep_free(dp);
		} else {
			pp = &dp->next;
		}
	}
}

static void clock_now(struct engine *e)
{
	e->now_wall = rd_wall_ms();
	e->now_mono = rd_mono_ms();
}

/* How long a transaction holding only writes nobody waits for (commands
 * handed out, acknowledgements, live output) may stay open to share its
 * fsync with the next agent report. */
#define LIGHT_TX_MS 25

static void *engine_main(void *arg)
{
	struct engine *e = arg;
	bool first = true;
	int64_t last_tick = 0, tx_deadline = 0, tx_begun = 0;

	for (;;) {
		struct eng_input *batch, *in, *next;
		bool quit, heavy;
		int r = 0;

		pthread_mutex_lock(&e->lock);
		while (!e->in_head && !e->quit && !first) {
			struct timespec ts;
			int64_t wait_ms = 1000;
			if (e->tx) {
				wait_ms = tx_deadline - rd_mono_ms();
				if (wait_ms <= 0)
					break;
			}
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += wait_ms / 1000;
			ts.tv_nsec += (wait_ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (pthread_cond_timedwait(&e->cond, &e->lock, &ts) != 0)
				break;
		}
		batch = e->in_head;
		e->in_head = e->in_tail = NULL;
		quit = e->quit;
		pthread_mutex_unlock(&e->lock);

		clock_now(e);
		if (!e->tx) {
			e->tx_err = 0;
			r = store_eng_begin(e->d->store, &e->tx);
			tx_begun = rd_mono_ms();
			if (r < 0) {
				ELOG(LOG_ERR, "cannot begin a store transaction: %s", strerror(-r));
				e->tx = NULL;
			}
			tx_deadline = e->now_mono + LIGHT_TX_MS;
		}
		heavy = first || quit;
		if (e->tx) {
			if (first)
				resume(e);
			for (in = batch; in; in = in->next) {
				if (quit && in->type == IN_CALL) {
					eng_reply_error(e, in->call, "ServerException", "rolloutd is shutting down");
					in->call = NULL;
					continue;
				}
				if (in->type != IN_CALL)
					heavy = true;
				apply(e, in);
				e->inputs_total++;
			}
			for (struct eng_dep *dp = e->deps; dp; dp = dp->next) {
				if (dp->dirty) {
					dp->dirty = false;
					dep_advance(e, dp);
				}
			}
			if (e->now_mono - last_tick >= 1000 || first) {
				last_tick = e->now_mono;
				check_timers(e);
				for (struct eng_dep *dp = e->deps; dp; dp = dp->next)
					if (dp->dirty) {
						dp->dirty = false;
						dep_advance(e, dp);
					}
			}
			if (e->instances_changed) {
				e->instances_changed = false;
				autoupdate_scan(e);
			}
			/* Commit now when someone waits for it (a report's answer, a
			 * stop, plugin work, a finished deployment) or the light
			 * transaction is old enough; else keep it open (group commit). */
			heavy = heavy || e->out_head || e->jobs || e->stops_done || e->fires || e->tx_err;
			for (struct eng_dep *dp = e->deps; dp && !heavy; dp = dp->next)
				heavy = dp->finished;
			if (!heavy && store_eng_has_writes(e->tx) && e->now_mono < tx_deadline) {
				for (in = batch; in; in = next) {
					next = in->next;
					input_free(in);
				}
				continue;
			}
			if (e->tx_err == 0) {
				int64_t rows = store_eng_changes(e->tx);
				r = store_eng_commit(e->tx);
				e->commits++;
				metric_observe(m_tx_seconds, (double)(rd_mono_ms() - tx_begun) / 1000.0, NULL);
				metric_observe(m_tx_rows, (double)rows, NULL);
			} else {
				store_eng_rollback(e->tx);
				r = e->tx_err;
			}
			e->tx = NULL;
		}
		if (r < 0) {
			/* Nothing of this transaction is durable: refuse what waited for
			 * it and rebuild the state from the store. */
			ELOG(LOG_ERR, "store transaction failed (%s); reloading the engine state", strerror(-r));
			out_flush(e, true);
			stops_signal(e, -EIO);
			jobs_drop(e);
			fires_flush(e, false);
			for (in = batch; in; in = in->next)
				if (in->call) {
					httpd_call_error_status(in->call, 500, "ServerException", "retry");
					in->call = NULL;
				}
			free_state(e);
			first = true;
		} else {
			out_flush(e, false);
			stops_signal(e, 0);
			jobs_start(e);
			fires_flush(e, true);
			reap_finished(e);
			first = false;
		}
		for (in = batch; in; in = next) {
			next = in->next;
			input_free(in); /* in->stop belongs to its (signalled) requester */
		}
		if (quit)
			break;
		if (first) {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	free_state(e);
	return NULL;
}

/* ---------------------------------------------------------------- public */

static int64_t env_ms(const char *name, int64_t def)
{
	const char *v = getenv(name);
	char *end;
	long long x;

	if (!v || !*v)
		return def;
	x = strtoll(v, &end, 10);
	return *end || x <= 0 ? def : x;
}

int engine_start(struct rd_daemon *d, char *err, size_t errlen)
{
	struct engine *e;
	int r;

	engine_metrics_init();
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->d = d;
	e->nhb = 4096;
	e->hb = calloc(e->nhb, sizeof(*e->hb));
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	e->long_poll_ms = d->cfg && d->cfg->long_poll_ms > 0 ? d->cfg->long_poll_ms : 50000;
	e->pickup_ms = env_ms("ROLLOUTD_PICKUP_TIMEOUT_MS", PICKUP_TIMEOUT_MS);
	e->heartbeat_ms = env_ms("ROLLOUTD_HEARTBEAT_TIMEOUT_MS", HEARTBEAT_TIMEOUT_MS);
	if (!e->hb) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r = spec_signer_open(d->cfg->data_dir, &e->signer, err, errlen);
	if (r < 0)
		goto fail;
	/* Health gates block up to their gate_timeout: their own threads, so a
	 * slow gate never holds up the daemon's workers (API, traffic, sources). */
	{
		int64_t n = env_ms("ROLLOUTD_GATE_WORKERS", GATE_WORKERS);
		r = workpool_new(n < 1 ? 1 : n > 256 ? 256 : (int)n, &e->gate_pool);
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot start the health gate threads: %s", strerror(-r));
		goto fail;
	}
	if (d->httpd) {
		r = cmdsvc_register(e, err, errlen);
		if (r < 0)
			goto fail;
	}
	d->engine = e;
	r = pthread_create(&e->thread, NULL, engine_main, e);
	if (r != 0) {
		d->engine = NULL;
		snprintf(err, errlen, "cannot start the engine thread: %s", strerror(r));
		r = -r;
		goto fail;
	}
	e->thread_started = true;
	pthread_mutex_lock(&live_lock);
	live_engine = e;
	pthread_mutex_unlock(&live_lock);
	r = triggers_resume(d);
	if (r < 0)
		ELOG(LOG_WARNING, "cannot resume pending trigger notifications: %s", strerror(-r));
	ELOG(LOG_INFO, "started (long poll %lld ms, pick-up timeout %lld ms, heartbeat timeout %lld ms)",
	     (long long)e->long_poll_ms, (long long)e->pickup_ms, (long long)e->heartbeat_ms);
	return 0;
fail:
	spec_signer_free(e->signer);
	e->gate_pool = workpool_free(e->gate_pool);
	free(e->hb);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	free(e);
	return r;
}

/* Inputs that arrived after the engine thread ended: refused. */
static void drain_inputs(struct engine *e)
{
	struct eng_input *in, *next;

	pthread_mutex_lock(&e->lock);
	in = e->in_head;
	e->in_head = e->in_tail = NULL;
	pthread_mutex_unlock(&e->lock);
	for (; in; in = next) {
		next = in->next;
		if (in->call)
			httpd_call_error_status(in->call, 503, "ServerException", "rolloutd is shutting down");
		if (in->stop) {
			pthread_mutex_lock(&in->stop->m);
			in->stop->result = -ESHUTDOWN;
			in->stop->done = true;
			pthread_cond_signal(&in->stop->c);
			pthread_mutex_unlock(&in->stop->m);
		}
		input_free(in);
	}
}

void engine_stop(struct rd_daemon *d)
{
	struct engine *e = d ? d->engine : NULL;

	if (!e)
		return;
	pthread_mutex_lock(&live_lock);
	if (live_engine == e)
		live_engine = NULL;
	pthread_mutex_unlock(&live_lock);
	pthread_mutex_lock(&e->lock);
	e->quit = true;
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->lock);
	if (e->thread_started)
		pthread_join(e->thread, NULL);
	/* queued gates still run (they end at once once d->stopping), then post */
	workpool_shutdown(e->gate_pool);
	alarms_shutdown(d);
	triggers_shutdown(d);
	/* Plugin jobs still on workers post back into e: wait for them. */
	for (int i = 0; i < 6000 && __atomic_load_n(&e->jobs_running, __ATOMIC_SEQ_CST) > 0; i++) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
		drain_inputs(e);
	}
	if (__atomic_load_n(&e->jobs_running, __ATOMIC_SEQ_CST) > 0) {
		ELOG(LOG_WARNING, "%d plugin job(s) still running after 60 s; leaving the engine allocated",
		     e->jobs_running);
		d->engine = NULL;
		return;
	}
	drain_inputs(e);
	ELOG(LOG_INFO, "stopped after %llu inputs in %llu transactions", (unsigned long long)e->inputs_total,
	     (unsigned long long)e->commits);
	spec_signer_free(e->signer);
	e->gate_pool = workpool_free(e->gate_pool);
	free(e->hb);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	free(e);
	d->engine = NULL;
}

void engine_notify_created(struct rd_daemon *d, const char *deployment_id)
{
	struct eng_input *in;

	if (!d || !d->engine || !deployment_id)
		return;
	in = input_new(IN_CREATED);
	if (!in)
		return; /* picked up at the next restart */
	snprintf(in->dep, sizeof(in->dep), "%s", deployment_id);
	eng_post(d->engine, in);
}

void engine_notify_instances_changed(struct rd_daemon *d)
{
	struct eng_input *in;

	if (!d || !d->engine)
		return;
	in = input_new(IN_INSTANCES);
	if (in)
		eng_post(d->engine, in);
}

/* Posts a stop/continue request to the engine thread and waits until it has
 * been committed and answered (sr is filled in by the engine thread). */
static int eng_request_wait(struct engine *e, int kind, const char *deployment_id, struct eng_stopreq *sr)
{
	struct eng_input *in = input_new(kind);
	int r;

	if (!in)
		return -ENOMEM;
	pthread_mutex_init(&sr->m, NULL);
	pthread_cond_init(&sr->c, NULL);
	snprintf(in->dep, sizeof(in->dep), "%s", deployment_id);
	in->stop = sr;
	eng_post(e, in);
	pthread_mutex_lock(&sr->m);
	while (!sr->done)
		pthread_cond_wait(&sr->c, &sr->m);
	pthread_mutex_unlock(&sr->m);
	r = sr->result;
	pthread_mutex_destroy(&sr->m);
	pthread_cond_destroy(&sr->c);
	return r;
}

int engine_stop_deployment(struct rd_daemon *d, const char *deployment_id, int auto_rollback, const char **ret_status,
			   char *status_msg, size_t msglen)
{
	struct eng_stopreq sr = {.auto_rollback = auto_rollback};
	int r;

	if (!d || !d->engine)
		return -ESHUTDOWN;
	r = eng_request_wait(d->engine, IN_STOP, deployment_id, &sr);
	if (r == -ENOMEM && !sr.done)
		return r;
	if (status_msg && msglen)
		snprintf(status_msg, msglen, "%s", sr.msg);
	if (r == 0 && ret_status)
		*ret_status = "Succeeded";
	return r;
}

int engine_continue_deployment(struct rd_daemon *d, const char *deployment_id, const char *wait_type)
{
	struct eng_stopreq sr = {0};

	if (wait_type && strcmp(wait_type, "READY_WAIT") != 0)
		return -ENOTSUP; /* the termination wait is not interruptible yet */
	if (!d || !d->engine)
		return -ESHUTDOWN;
	return eng_request_wait(d->engine, IN_CONTINUE, deployment_id, &sr);
}
