/* daemon/engine: the state machine against a real store in a temporary
 * directory, without HTTP. The engine runs with a fake engine_io: replies
 * go to the test's agents, plugin jobs are answered by a fake platform at
 * the input-queue level (the resolve job's targets are the test's fleet,
 * traffic and gate jobs succeed). Scripted agents, one thread per host,
 * speak the host-command protocol through eng_call inputs: poll,
 * acknowledge, complete, with per-host failures and gates that hold a
 * command until the test lets it go.
 *
 * Covered: batches (who runs when under HalfAtATime and OneAtATime),
 * failure (HEALTH_CONSTRAINTS, the rest Skipped), stop (MANUAL_STOP, the
 * running event abandoned), the rollback decision (with and without an
 * earlier success, on request), and resuming after a restart with a
 * command acknowledged but not reported. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/conf.h"
#include "core/daemon.h"
#include "engine/engine.h"
#include "engine/engine_input.h"
#include "engine/engine_jobs.h"
#include "store/store.h"
#include "tmpdir.h"
#include "util.h"

/* the error of the store call that failed (store_open, backup, restore) */
static struct rd_error rerr;

#define MAX_HOSTS 8

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- the fake transport */

/* What the engine answered to one call. */
struct fake_call {
	pthread_mutex_t m;
	pthread_cond_t c;
	bool answered;
	int status;
	char type[64];
	json_t *body;
	bool text; /* answered through engine_io.reply_text */
	/* a call handed over unadmitted (eng_call.unadmitted): what fake_admit
	 * fills in, or refuse to refuse it as a bad signature would be */
	const char *op;
	json_t *req;
	bool refuse;
	int admitted; /* times fake_admit ran */
};

static void fake_reply(void *reply_to, json_t *body)
{
	struct fake_call *fc = reply_to;
	pthread_mutex_lock(&fc->m);
	fc->status = 200;
	fc->body = body;
	fc->answered = true;
	pthread_cond_signal(&fc->c);
	pthread_mutex_unlock(&fc->m);
}

static void fake_reply_text(void *reply_to, const char *json, size_t len)
{
	struct fake_call *fc = reply_to;
	json_t *body = json_loadb(json, len, 0, NULL);

	pthread_mutex_lock(&fc->m);
	fc->text = true;
	pthread_mutex_unlock(&fc->m);
	fake_reply(reply_to, body);
}

static void fake_error(void *reply_to, int status, const char *type, const char *message)
{
	struct fake_call *fc = reply_to;
	pthread_mutex_lock(&fc->m);
	fc->status = status;
	snprintf(fc->type, sizeof(fc->type), "%s", type);
	fc->answered = true;
	pthread_cond_signal(&fc->c);
	pthread_mutex_unlock(&fc->m);
	(void)message;
}

/* ---------------------------------------------------------------- the fake platform */

static pthread_mutex_t fleet_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *fleet; /* the targets every resolve answers */

static void fake_submit(struct engine *e, struct eng_job *j)
{
	static const enum eng_input_kind reports[] = {[JOB_RESOLVE] = IN_RESOLVED,
						      [JOB_AUTOUPDATE] = IN_AUTOUPDATE,
						      [JOB_TRAFFIC] = IN_TRAFFIC,
						      [JOB_GATE] = IN_GATE,
						      [JOB_BG] = IN_BG};
	struct eng_input *in = eng_input_new(reports[j->kind]);

	if (in) {
		snprintf(in->dep, sizeof(in->dep), "%s", j->dep);
		snprintf(in->app, sizeof(in->app), "%s", j->app);
		snprintf(in->group, sizeof(in->group), "%s", j->group);
		snprintf(in->target, sizeof(in->target), "%s", j->target);
		in->ev = j->ev;
		in->ok = true;
		pthread_mutex_lock(&fleet_lock);
		if (j->kind == JOB_RESOLVE || j->kind == JOB_AUTOUPDATE)
			in->targets = json_deep_copy(fleet);
		pthread_mutex_unlock(&fleet_lock);
	}
	eng_job_done(e, j, in);
}

/* The transport's admission (engine_hostcmd_http.c's authenticates): on the
 * engine thread, before the call is handled. */
static bool fake_admit(struct eng_call *c)
{
	struct fake_call *fc = c->reply_to;

	fc->admitted++;
	if (fc->refuse) {
		fake_error(fc, 403, "InvalidSignatureException", "the signature does not match");
		return false;
	}
	snprintf(c->op, sizeof(c->op), "%s", fc->op);
	c->body = fc->req;
	fc->req = NULL;
	c->rollout_agent = true;
	c->unadmitted = false;
	return true;
}

static const struct engine_io fake_io = {.reply = fake_reply,
					 .reply_text = fake_reply_text,
					 .error = fake_error,
					 .admit = fake_admit,
					 .submit = fake_submit};

/* ---------------------------------------------------------------- the daemon */

static struct {
	char *dir;
	struct rd_config cfg;
	struct rd_daemon d;
} T;

static void engine_up(void)
{
	struct rd_error err = RD_ERROR_INIT;
	if (engine_start(&T.d, &fake_io, &err) < 0)
		fail_msg("engine_start: %s", err.message);
}

static int setup(void **state)
{
	memset(&T, 0, sizeof(T));
	T.dir = tu_mkdtemp();
	T.cfg.data_dir = T.dir;
	T.cfg.region = "us-east-1";
	T.cfg.account_id = "000000000000";
	T.cfg.long_poll_ms = 300;
	T.d.cfg = &T.cfg;
	if (store_open(T.dir, &T.d.store, &rerr) < 0)
		fail_msg("store_open: %s", rerr.message);
	fleet = json_array();
	engine_up();
	return 0;
}

static int teardown(void **state)
{
	engine_stop(&T.d);
	T.d.store = store_close(T.d.store);
	json_decref(fleet);
	fleet = NULL;
	tu_rm_rf(T.dir); /* frees it */
	return 0;
}

/* An application with group grp under config, instances host-0..n-1
 * registered and in the fake fleet. */
static void make_group(const char *config, int n, const char *auto_rollback_events)
{
	char id[37], name[32], arn[96], iarn[128];
	json_t *doc = json_pack("{s:{s:s,s:s}}", "deploymentStyle", "deploymentType", "IN_PLACE", "deploymentOption",
				"WITHOUT_TRAFFIC_CONTROL");

	if (auto_rollback_events)
		json_object_set_new(doc, "autoRollbackConfiguration",
				    json_pack("{s:b,s:[s]}", "enabled", 1, "events", auto_rollback_events));
	assert_int_equal(store_app_create(T.d.store, "app", "Server", id), 0);
	assert_int_equal(store_group_create(T.d.store, "app", "grp", config, doc, id), 0);
	json_decref(doc);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "host-%d", i);
		snprintf(arn, sizeof(arn), "arn:aws:iam::000000000000:user/%s", name);
		snprintf(iarn, sizeof(iarn), "arn:aws:codedeploy:us-east-1:000000000000:instance/%s", name);
		assert_int_equal(store_instance_register(T.d.store, name, NULL, arn, iarn), 0);
		json_array_append_new(fleet, json_pack("{s:s}", "targetId", name));
	}
}

static json_t *revision(const char *key)
{
	return json_pack("{s:s,s:{s:s,s:s,s:s}}", "revisionType", "S3", "s3Location", "bucket", "bkt", "key", key,
			 "bundleType", "zip");
}

static void deploy(const char *id, const char *key, const char *config)
{
	json_t *rev = revision(key), *doc = json_object();
	struct store_new_deployment nd = {
	    .id = id, .app = "app", .group = "grp", .config = config, .platform = "Server", .creator = "user"};

	nd.revision = rev;
	nd.doc = doc;
	assert_int_equal(store_deployment_create(T.d.store, &nd), 0);
	json_decref(rev);
	json_decref(doc);
	engine_notify_created(&T.d, id);
}

/* Waits until deployment id has ended; returns its status. */
static const char *wait_end(const char *id)
{
	static char st[16];
	char plat[16];

	for (int i = 0; i < 3000; i++) {
		assert_int_equal(store_deployment_brief(T.d.store, id, st, plat), 0);
		if (!strcmp(st, "Succeeded") || !strcmp(st, "Failed") || !strcmp(st, "Stopped"))
			return st;
		sleep_ms(10);
	}
	fail_msg("deployment %s still %s after 30 s", id, st);
	return NULL;
}

static char *target_status(const char *dep, const char *target, const char *event)
{
	static char out[32];
	struct store_target *t = NULL;

	assert_int_equal(store_target_get(T.d.store, dep, target, &t), 0);
	snprintf(out, sizeof(out), "%s", t->status);
	for (size_t i = 0; event && i < t->n_events; i++)
		if (!strcmp(t->events[i].name, event))
			snprintf(out, sizeof(out), "%s", t->events[i].status);
	store_target_free(t);
	return out;
}

/* ---------------------------------------------------------------- scripted agents */

struct agent {
	pthread_t thread;
	char name[32];
	volatile bool stop;
	/* behaviours, each for one deployment only (so that a rollback the
	 * engine starts at once is not affected) */
	const char *fail_dep, *fail_event; /* reports this event Failed */
	const char *hold_dep, *hold_event; /* waits at this event (acknowledged) until released */
	volatile bool held, release;
	int events_done;
	char exec[128]; /* the DeploymentExecutionId of its last command */
};

static struct agent agents[MAX_HOSTS];
static int nagents;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char started[64][32]; /* hosts in the order their first command arrived */
static int nstarted, inflight, peak;

static json_t *call_as(const char *op, json_t *body, bool unadmitted, bool refuse, int *ret_status, bool *ret_text,
		       int *ret_admitted);

/* One call through the input queue; NULL when the engine is not running.
 * *ret_status gets the HTTP status, *ret_text whether the answer came
 * encoded (engine_io.reply_text). */
static json_t *agent_call_text(const char *op, json_t *body, int *ret_status, bool *ret_text)
{
	return call_as(op, body, false, false, ret_status, ret_text, NULL);
}

/* The same; unadmitted: handed over before admission (engine_hostcmd_direct),
 * refused by it with refuse. *ret_admitted (when not NULL): how often the
 * engine admitted it. */
static json_t *call_as(const char *op, json_t *body, bool unadmitted, bool refuse, int *ret_status, bool *ret_text,
		       int *ret_admitted)
{
	struct fake_call *fc = calloc(1, sizeof(*fc));
	struct eng_input *in = eng_input_new(IN_CALL);
	struct eng_call *c = calloc(1, sizeof(*c));
	json_t *out = NULL;
	struct timespec ts;
	bool answered;

	assert_non_null(fc);
	pthread_mutex_init(&fc->m, NULL);
	pthread_cond_init(&fc->c, NULL);
	if (unadmitted) {
		fc->op = op;
		fc->req = body;
		fc->refuse = refuse;
		c->unadmitted = true;
	} else {
		snprintf(c->op, sizeof(c->op), "%s", op);
		c->body = body;
		c->rollout_agent = true;
	}
	c->reply_to = fc;
	in->call = c;
	if (eng_post_live(&T.d, in) < 0) {
		eng_input_free(in);
		free(fc);
		return NULL;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	pthread_mutex_lock(&fc->m);
	while (!fc->answered && pthread_cond_timedwait(&fc->c, &fc->m, &ts) == 0)
		;
	answered = fc->answered;
	pthread_mutex_unlock(&fc->m);
	if (!answered)
		return NULL; /* fc stays: the engine may still answer it */
	*ret_status = fc->status;
	*ret_text = fc->text;
	if (ret_admitted)
		*ret_admitted = fc->admitted;
	json_decref(fc->req); /* not taken when refused */
	out = fc->body;
	pthread_mutex_destroy(&fc->m);
	pthread_cond_destroy(&fc->c);
	free(fc);
	return out;
}

static json_t *agent_call(const char *op, json_t *body, int *ret_status)
{
	bool text;

	return agent_call_text(op, body, ret_status, &text);
}

static json_t *payload(json_t *o)
{
	char *txt = json_dumps(o, JSON_COMPACT);
	json_t *r = json_pack("{s:s,s:s}", "Format", "JSON", "Payload", txt ? txt : "{}");
	free(txt);
	json_decref(o);
	return r;
}

static bool is(const char *want_dep, const char *want_event, const char *dep, const char *event)
{
	return want_dep && want_event && !strcmp(want_dep, dep) && !strcmp(want_event, event);
}

static void run_command(struct agent *a, const char *cid, const char *dep, const char *event)
{
	bool fail = is(a->fail_dep, a->fail_event, dep, event);
	json_t *r;
	int st = 0;

	r = agent_call("PutHostCommandAcknowledgement",
		       json_pack("{s:s,s:o}", "HostCommandIdentifier", cid, "Diagnostics",
				 payload(json_pack("{s:b}", "IsCommandNoop", 0))),
		       &st);
	if (!r || strcmp(json_string_value(json_object_get(r, "CommandStatus")) ?: "", "InProgress") != 0) {
		json_decref(r);
		return;
	}
	json_decref(r);
	pthread_mutex_lock(&log_lock);
	if (!strcmp(event, "ApplicationStop") && nstarted < 64) {
		snprintf(started[nstarted++], sizeof(started[0]), "%s", a->name);
		if (++inflight > peak)
			peak = inflight;
	}
	pthread_mutex_unlock(&log_lock);
	if (is(a->hold_dep, a->hold_event, dep, event)) {
		a->held = true;
		while (!a->release && !a->stop)
			sleep_ms(5);
	}
	if (!strcmp(event, "ValidateService") || fail) {
		pthread_mutex_lock(&log_lock);
		inflight--;
		pthread_mutex_unlock(&log_lock);
	}
	/* the engine may be restarting: report until it takes the report */
	do {
		r = agent_call("PutHostCommandComplete",
			       json_pack("{s:s,s:s,s:o}", "HostCommandIdentifier", cid, "CommandStatus",
					 fail ? "Failed" : "Succeeded", "Diagnostics",
					 payload(json_pack("{s:i,s:s,s:s,s:s}", "error_code", fail ? 4 : 0,
							   "script_name", fail ? "scripts/fail.sh" : "", "message",
							   fail ? "boom" : "", "log", ""))),
			       &st);
		if (!r)
			sleep_ms(20);
	} while (!r && !a->stop);
	json_decref(r);
	a->events_done++;
}

static void *agent_main(void *arg)
{
	struct agent *a = arg;

	while (!a->stop) {
		int st = 0;
		json_t *r = agent_call("PollHostCommand", json_pack("{s:s}", "HostIdentifier", a->name), &st);
		json_t *hc = json_object_get(r, "HostCommand");
		if (!r) {
			sleep_ms(20);
			continue;
		}
		if (json_is_object(hc)) {
			char cid[512], ev[64], dep[16];
			const char *exec = json_string_value(json_object_get(hc, "DeploymentExecutionId"));
			snprintf(cid, sizeof(cid), "%s",
				 json_string_value(json_object_get(hc, "HostCommandIdentifier")));
			snprintf(ev, sizeof(ev), "%s", json_string_value(json_object_get(hc, "CommandName")));
			snprintf(dep, sizeof(dep), "%s", exec && strrchr(exec, '/') ? strrchr(exec, '/') + 1 : "");
			snprintf(a->exec, sizeof(a->exec), "%s", exec ? exec : "");
			json_decref(r);
			run_command(a, cid, dep, ev);
			continue;
		}
		json_decref(r);
	}
	return NULL;
}

static void agents_start(int n)
{
	nagents = n;
	nstarted = inflight = peak = 0;
	for (int i = 0; i < n; i++) {
		memset(&agents[i], 0, sizeof(agents[i]));
		snprintf(agents[i].name, sizeof(agents[i].name), "host-%d", i);
		assert_int_equal(pthread_create(&agents[i].thread, NULL, agent_main, &agents[i]), 0);
	}
}

static void agents_stop(void)
{
	for (int i = 0; i < nagents; i++)
		agents[i].stop = true;
	engine_stop(&T.d); /* answers held polls */
	for (int i = 0; i < nagents; i++)
		pthread_join(agents[i].thread, NULL);
	nagents = 0;
}

static void wait_held(struct agent *a)
{
	for (int i = 0; i < 3000 && !a->held; i++)
		sleep_ms(10);
	assert_true(a->held);
}

static int wait_started(int n)
{
	for (int i = 0; i < 3000; i++) {
		pthread_mutex_lock(&log_lock);
		int k = nstarted;
		pthread_mutex_unlock(&log_lock);
		if (k >= n)
			return k;
		sleep_ms(10);
	}
	fail_msg("only %d of %d hosts started", nstarted, n);
	return 0;
}

/* ---------------------------------------------------------------- the tests */

/* HalfAtATime over 4 hosts: 2 must stay healthy, so 2 at a time, in name
 * order; the next batch starts only when room frees. */
static void test_batches(void **state)
{
	make_group("CodeDeployDefault.HalfAtATime", 4, NULL);
	agents_start(4);
	for (int i = 0; i < 4; i++) {
		agents[i].hold_dep = "d-BATCH0001";
		agents[i].hold_event = "ApplicationStop";
	}
	deploy("d-BATCH0001", "v1", "CodeDeployDefault.HalfAtATime");
	wait_held(&agents[0]);
	wait_held(&agents[1]);
	assert_int_equal(wait_started(2), 2);
	sleep_ms(100); /* nothing else may start meanwhile */
	assert_int_equal(nstarted, 2);
	/* the specification is built and signed for the first host that asks,
	 * then answered as it was encoded then */
	{
		json_t *spec[2];
		bool text[2];
		int st = 0;
		for (int i = 0; i < 2; i++) {
			spec[i] = agent_call_text("GetDeploymentSpecification",
						  json_pack("{s:s,s:s}", "DeploymentExecutionId", agents[i].exec,
							    "HostIdentifier", agents[i].name),
						  &st, &text[i]);
			assert_int_equal(st, 200);
			assert_non_null(json_object_get(spec[i], "DeploymentSpecification"));
		}
		assert_false(text[0]);
		assert_true(text[1]);
		assert_true(json_equal(spec[0], spec[1]));
		json_decref(spec[0]);
		json_decref(spec[1]);
	}
	/* the first batch: host-0 and host-1 (they acknowledge in any order) */
	assert_true((!strcmp(started[0], "host-0") && !strcmp(started[1], "host-1")) ||
		    (!strcmp(started[0], "host-1") && !strcmp(started[1], "host-0")));
	assert_string_equal(target_status("d-BATCH0001", "host-2", NULL), "Pending");
	agents[0].release = agents[1].release = true;
	wait_started(4);
	assert_true((!strcmp(started[2], "host-2") && !strcmp(started[3], "host-3")) ||
		    (!strcmp(started[2], "host-3") && !strcmp(started[3], "host-2")));
	agents[2].release = agents[3].release = true;
	assert_string_equal(wait_end("d-BATCH0001"), "Succeeded");
	assert_true(peak <= 2);
	for (int i = 0; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "host-%d", i);
		assert_string_equal(target_status("d-BATCH0001", name, NULL), "Succeeded");
		assert_string_equal(target_status("d-BATCH0001", name, "ValidateService"), "Succeeded");
	}
	agents_stop();
}

/* OneAtATime: a failure before the last host fails the deployment with
 * HEALTH_CONSTRAINTS and skips the hosts not started. */
static void test_failure(void **state)
{
	struct store_deployment *dp = NULL;

	make_group("CodeDeployDefault.OneAtATime", 3, NULL);
	agents_start(3);
	agents[0].fail_dep = "d-FAIL00001";
	agents[0].fail_event = "BeforeInstall";
	deploy("d-FAIL00001", "v1", "CodeDeployDefault.OneAtATime");
	assert_string_equal(wait_end("d-FAIL00001"), "Failed");
	assert_int_equal(store_deployment_get(T.d.store, "d-FAIL00001", &dp), 0);
	assert_string_equal(dp->error_code, "HEALTH_CONSTRAINTS");
	store_deployment_free(dp);
	assert_string_equal(target_status("d-FAIL00001", "host-0", NULL), "Failed");
	assert_string_equal(target_status("d-FAIL00001", "host-0", "BeforeInstall"), "Failed");
	assert_string_equal(target_status("d-FAIL00001", "host-0", "Install"), "Skipped");
	assert_string_equal(target_status("d-FAIL00001", "host-1", NULL), "Skipped");
	assert_string_equal(target_status("d-FAIL00001", "host-2", NULL), "Skipped");
	/* the host that failed goes first next time */
	agents[0].hold_dep = "d-FAIL00002";
	agents[0].hold_event = "ApplicationStop";
	pthread_mutex_lock(&log_lock);
	nstarted = 0;
	pthread_mutex_unlock(&log_lock);
	deploy("d-FAIL00002", "v2", "CodeDeployDefault.OneAtATime");
	wait_held(&agents[0]);
	assert_string_equal(started[0], "host-0");
	agents[0].release = true;
	assert_string_equal(wait_end("d-FAIL00002"), "Succeeded");
	agents_stop();
}

/* StopDeployment while an event runs: Stopped (MANUAL_STOP), the running
 * event abandoned (Failed), the rest Skipped; the late report is taken. */
static void test_stop(void **state)
{
	struct store_deployment *dp = NULL;
	const char *status = NULL;
	char msg[256];

	make_group("CodeDeployDefault.OneAtATime", 3, NULL);
	agents_start(3);
	agents[0].hold_dep = "d-STOP00001";
	agents[0].hold_event = "Install";
	deploy("d-STOP00001", "v1", "CodeDeployDefault.OneAtATime");
	wait_held(&agents[0]);
	assert_int_equal(engine_stop_deployment(&T.d, "d-STOP00001", ENGINE_ROLLBACK_NO, &status, msg, sizeof(msg)), 0);
	assert_string_equal(status, "Succeeded");
	assert_string_equal(wait_end("d-STOP00001"), "Stopped");
	assert_int_equal(store_deployment_get(T.d.store, "d-STOP00001", &dp), 0);
	assert_string_equal(dp->error_code, "MANUAL_STOP");
	assert_true(!dp->rollback_info || !json_object_get(dp->rollback_info, "rollbackDeploymentId"));
	store_deployment_free(dp);
	assert_string_equal(target_status("d-STOP00001", "host-0", NULL), "Failed");
	assert_string_equal(target_status("d-STOP00001", "host-0", "Install"), "Failed");
	assert_string_equal(target_status("d-STOP00001", "host-1", NULL), "Skipped");
	agents[0].release = true;
	/* a stopped deployment cannot be stopped again */
	assert_int_equal(engine_stop_deployment(&T.d, "d-STOP00001", ENGINE_ROLLBACK_NO, &status, msg, sizeof(msg)),
			 -EALREADY);
	assert_int_equal(engine_stop_deployment(&T.d, "d-NOSUCH001", ENGINE_ROLLBACK_NO, &status, msg, sizeof(msg)),
			 -ENOENT);
	agents_stop();
}

static char *rollback_of(const char *id, const char *member)
{
	static char out[512];
	struct store_deployment *dp = NULL;

	assert_int_equal(store_deployment_get(T.d.store, id, &dp), 0);
	snprintf(out, sizeof(out), "%s", json_string_value(json_object_get(dp->rollback_info, member)) ?: "");
	store_deployment_free(dp);
	return out;
}

/* The rollback decision: a failure with DEPLOYMENT_FAILURE rolls back to
 * the last successful revision (creator codeDeployRollback), or says why it
 * cannot; a stop rolls back when asked to. */
static void test_rollback(void **state)
{
	struct store_deployment *dp = NULL;
	const char *status = NULL;
	char msg[256], rb[16];

	make_group("CodeDeployDefault.OneAtATime", 2, "DEPLOYMENT_FAILURE");
	agents_start(2);
	/* nothing to roll back to yet */
	agents[0].fail_dep = "d-ROLL00001";
	agents[0].fail_event = "ApplicationStart";
	deploy("d-ROLL00001", "v1", "CodeDeployDefault.OneAtATime");
	assert_string_equal(wait_end("d-ROLL00001"), "Failed");
	assert_non_null(strstr(rollback_of("d-ROLL00001", "rollbackMessage"), "no earlier successful deployment"));
	assert_string_equal(rollback_of("d-ROLL00001", "rollbackDeploymentId"), "");
	deploy("d-ROLL00002", "v2", "CodeDeployDefault.OneAtATime");
	assert_string_equal(wait_end("d-ROLL00002"), "Succeeded");
	/* v3 fails: back to v2 */
	agents[0].fail_dep = "d-ROLL00003";
	deploy("d-ROLL00003", "v3", "CodeDeployDefault.OneAtATime");
	assert_string_equal(wait_end("d-ROLL00003"), "Failed");
	snprintf(rb, sizeof(rb), "%s", rollback_of("d-ROLL00003", "rollbackDeploymentId"));
	assert_true(rb[0]);
	assert_string_equal(wait_end(rb), "Succeeded");
	assert_int_equal(store_deployment_get(T.d.store, rb, &dp), 0);
	assert_string_equal(dp->creator, "codeDeployRollback");
	assert_string_equal(json_string_value(json_object_get(json_object_get(dp->revision, "s3Location"), "key")),
			    "v2");
	assert_string_equal(json_string_value(json_object_get(dp->rollback_info, "rollbackTriggeringDeploymentId")),
			    "d-ROLL00003");
	store_deployment_free(dp);
	/* a stop rolls back only when asked to (the group lists no stop event) */
	agents[0].hold_dep = "d-ROLL00004";
	agents[0].hold_event = "Install";
	deploy("d-ROLL00004", "v4", "CodeDeployDefault.OneAtATime");
	wait_held(&agents[0]);
	assert_int_equal(engine_stop_deployment(&T.d, "d-ROLL00004", ENGINE_ROLLBACK_YES, &status, msg, sizeof(msg)),
			 0);
	agents[0].release = true;
	assert_string_equal(wait_end("d-ROLL00004"), "Stopped");
	snprintf(rb, sizeof(rb), "%s", rollback_of("d-ROLL00004", "rollbackDeploymentId"));
	assert_true(rb[0]);
	assert_string_equal(wait_end(rb), "Succeeded");
	agents_stop();
}

/* The engine stops while host-0 runs an acknowledged command; after the
 * restart the deployment resumes from the store and takes that command's
 * report, and the rest of the fleet follows. */
static void test_restart_resume(void **state)
{
	struct rd_error err = RD_ERROR_INIT;

	make_group("CodeDeployDefault.OneAtATime", 2, NULL);
	agents_start(2);
	agents[0].hold_dep = "d-RSTRT0001";
	agents[0].hold_event = "AfterInstall";
	deploy("d-RSTRT0001", "v1", "CodeDeployDefault.OneAtATime");
	wait_held(&agents[0]);
	assert_string_equal(target_status("d-RSTRT0001", "host-0", "AfterInstall"), "InProgress");
	engine_stop(&T.d);
	assert_null(T.d.engine);
	assert_int_equal(engine_start(&T.d, &fake_io, &err), 0);
	agents[0].release = true;
	assert_string_equal(wait_end("d-RSTRT0001"), "Succeeded");
	assert_string_equal(target_status("d-RSTRT0001", "host-0", "AfterInstall"), "Succeeded");
	assert_string_equal(target_status("d-RSTRT0001", "host-1", NULL), "Succeeded");
	/* each of host-0's seven events ran once */
	agents_stop();
	assert_int_equal(agents[0].events_done, 7);
	assert_int_equal(agents[1].events_done, 7);
}

/* A call handed over unadmitted (engine_hostcmd_direct) is admitted on the
 * engine thread before anything else: refused there, it is answered once,
 * with the refusal; admitted, it is handled with what admission filled in. */
static void test_admission(void **state)
{
	int st = 0, admitted = 0;
	bool text;
	json_t *out;

	out = call_as("PollHostCommand", json_pack("{s:s}", "HostIdentifier", "host-0"), true, true, &st, &text,
		      &admitted);
	assert_int_equal(st, 403);
	assert_int_equal(admitted, 1);
	json_decref(out);
	/* the engine's own check of the body, which admission filled in */
	out = call_as("GetDeploymentSpecification", json_pack("{s:s}", "HostIdentifier", "host-0"), true, false, &st,
		      &text, &admitted);
	assert_int_equal(st, 400);
	assert_int_equal(admitted, 1);
	json_decref(out);
	out = call_as("NoSuchOperation", json_object(), true, false, &st, &text, &admitted);
	assert_int_equal(st, 400);
	json_decref(out);
}

/* ---------------------------------------------------------------- the cluster's hooks */

/* What the engine told the fake relay (engine_io.hosts_due, engine_io.relay). */
static struct {
	pthread_mutex_t m;
	char due[8][32];
	int ndue;
	void *relayed;
	char url[64];
	int64_t hold;
} R = {.m = PTHREAD_MUTEX_INITIALIZER};

static void fake_hosts_due(void *arg, const char *const *hosts, size_t n)
{
	pthread_mutex_lock(&R.m);
	for (size_t i = 0; i < n && R.ndue < 8; i++)
		snprintf(R.due[R.ndue++], sizeof(R.due[0]), "%s", hosts[i]);
	pthread_mutex_unlock(&R.m);
	(void)arg;
}

static void fake_relay(void *arg, void *reply_to, const char *url, int64_t hold_ms)
{
	pthread_mutex_lock(&R.m);
	R.relayed = reply_to;
	snprintf(R.url, sizeof(R.url), "%s", url);
	R.hold = hold_ms;
	pthread_mutex_unlock(&R.m);
	(void)arg;
}

static const struct engine_io cluster_io = {
    .reply = fake_reply, .error = fake_error, .submit = fake_submit, .hosts_due = fake_hosts_due, .relay = fake_relay};

/* A PollHostCommand of host-0 posted without waiting for its answer. */
static struct fake_call *poll_async(bool relayed_in, int64_t hold_ms)
{
	struct fake_call *fc = calloc(1, sizeof(*fc));
	struct eng_input *in = eng_input_new(IN_CALL);
	struct eng_call *c = calloc(1, sizeof(*c));

	assert_true(fc && in && c);
	pthread_mutex_init(&fc->m, NULL);
	pthread_cond_init(&fc->c, NULL);
	snprintf(c->op, sizeof(c->op), "PollHostCommand");
	c->body = json_pack("{s:s}", "HostIdentifier", "arn:aws:iam::000000000000:user/host-0");
	snprintf(c->instance, sizeof(c->instance), "host-0");
	c->relayed_in = relayed_in;
	c->hold_ms = hold_ms;
	c->reply_to = fc;
	in->call = c;
	assert_int_equal(eng_post_live(&T.d, in), 0);
	return fc;
}

/* Whether fc was answered within ms. */
static bool answered_within(struct fake_call *fc, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		bool v;
		pthread_mutex_lock(&fc->m);
		v = fc->answered;
		pthread_mutex_unlock(&fc->m);
		if (v)
			return true;
		sleep_ms(10);
	}
	return false;
}

static void fake_call_free(struct fake_call *fc)
{
	json_decref(fc->body);
	pthread_mutex_destroy(&fc->m);
	pthread_cond_destroy(&fc->c);
	free(fc);
}

/* Several daemons on one database: a poll held here goes to the daemon that
 * announced a command for its host; one relayed here is answered empty at
 * once instead (the daemon the agent polls routes it again); a command due
 * without a poll held is told to hosts_due, and a relayed poll gets it. */
static void test_cluster_hooks(void **state)
{
	struct fake_call *fc;
	bool relayed = false;

	engine_stop(&T.d);
	T.cfg.long_poll_ms = 5000;
	{
		struct rd_error err = RD_ERROR_INIT;
		assert_int_equal(engine_start(&T.d, &cluster_io, &err), 0);
	}
	make_group("CodeDeployDefault.AllAtOnce", 1, NULL);

	/* a poll held here is handed over, with what is left of it */
	fc = poll_async(false, 0);
	assert_false(answered_within(fc, 100));
	engine_notify_host(&T.d, "host-0", "https://10.0.0.12:8740");
	for (int i = 0; i < 200 && !relayed; i++) {
		pthread_mutex_lock(&R.m);
		relayed = R.relayed == fc;
		pthread_mutex_unlock(&R.m);
		if (!relayed)
			sleep_ms(10);
	}
	assert_true(relayed);
	assert_string_equal(R.url, "https://10.0.0.12:8740");
	assert_true(R.hold > 2000 && R.hold <= 5000);
	assert_false(answered_within(fc, 50)); /* the relay answers it, not the engine */
	fake_call_free(fc);

	/* a poll another daemon relayed here: held for its hold, answered
	 * empty at once when a third daemon announces a command */
	fc = poll_async(true, 4000);
	assert_false(answered_within(fc, 100));
	engine_notify_host(&T.d, "host-0", "https://10.0.0.13:8740");
	assert_true(answered_within(fc, 5000));
	assert_int_equal(fc->status, 200);
	assert_null(json_object_get(fc->body, "HostCommand"));
	fake_call_free(fc);

	/* a command due while no poll is held here is announced */
	deploy("d-CLSTR0001", "v1", "CodeDeployDefault.AllAtOnce");
	for (int i = 0; i < 500 && !R.ndue; i++)
		sleep_ms(10);
	assert_int_equal(R.ndue, 1);
	assert_string_equal(R.due[0], "host-0");
	/* ... and a poll relayed here gets it */
	fc = poll_async(true, 4000);
	assert_true(answered_within(fc, 5000));
	assert_non_null(json_object_get(fc->body, "HostCommand"));
	fake_call_free(fc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_resume, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_admission, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cluster_hooks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
