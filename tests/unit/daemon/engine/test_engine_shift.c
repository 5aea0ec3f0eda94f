/* daemon/engine/engine_shift: the plan of a Lambda / ECS deployment, and
 * its state machine against a real store in a temporary directory without
 * HTTP. A fake engine_io answers the plugin jobs at the input queue (the
 * start names one target; every op succeeds unless the test says
 * otherwise) and records them, so the tests see which step ran when:
 * hooks with PutLifecycleEventHookExecutionStatus (engine_hook_status),
 * weights with waits between them, a stop routing back, the errors of a
 * hook status, and a restart that resumes without running a step twice. */
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

#include "appspec_shift.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "engine/engine.h"
#include "engine/engine_input.h"
#include "engine/engine_jobs.h"
#include "engine/engine_shift.h"
#include "store/store.h"
#include "store/store_engine.h"
#include "tmpdir.h"
#include "traffic/traffic.h"
#include "util.h"

/* the error of the store call that failed (store_open, backup, restore) */
static struct rd_error rerr;

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- the plan */

static json_t *parse(const char *yaml, const char *platform)
{
	json_t *a = NULL;
	char err[512];

	if (appspec_shift_parse(yaml, strlen(yaml), "t", platform, &a, err, sizeof(err)) < 0)
		fail_msg("appspec: %s", err);
	return a;
}

static char *plan_text(const char *platform, const json_t *appspec, const char *routing,
		       const struct eng_shift_caps *caps, int64_t term, bool rollback)
{
	struct traffic_routing rt;
	struct rollout_error e = {.size = sizeof(e)};
	json_t *plan;
	char *s;

	assert_int_equal(traffic_routing_parse(routing, &rt, NULL, &e), 0);
	plan = eng_shift_plan(platform, appspec, &rt, caps, -1, term, rollback);
	assert_non_null(plan);
	s = json_dumps(plan, JSON_COMPACT);
	json_decref(plan);
	return s;
}

static void test_plan(void **unused)
{
	json_t *lam = parse("version: 0.0\nResources: [{f: {}}]\nHooks:\n  - BeforeAllowTraffic: pre\n  - "
			    "AfterAllowTraffic: post\n",
			    "Lambda");
	json_t *ecs = parse("version: 0.0\nResources: [{s: {}}]\nHooks:\n  - AfterAllowTestTraffic: t\n", "ECS");
	struct eng_shift_caps none = {0}, all = {true, true, true, true};
	char *s;
	(void)unused;

	/* a built-in canary: 10 %, five minutes, then everything */
	s = plan_text("Lambda", lam,
		      "{\"trafficRoutingConfig\":{\"type\":\"TimeBasedCanary\",\"timeBasedCanary\":"
		      "{\"canaryPercentage\":10,\"canaryInterval\":5}}}",
		      &none, 0, false);
	assert_string_equal(s, "[{\"ev\":0,\"do\":\"hook\",\"fn\":\"pre\"},{\"ev\":1,\"do\":\"weight\",\"p\":10},"
			       "{\"ev\":1,\"do\":\"wait\",\"ms\":300000},{\"ev\":1,\"do\":\"weight\",\"p\":100},"
			       "{\"ev\":2,\"do\":\"hook\",\"fn\":\"post\"},{\"ev\":-1,\"do\":\"commit\"}]");
	free(s);
	/* linear in seconds (the extension): 30, 60, 90, 100 */
	s = plan_text("Lambda", lam,
		      "{\"trafficRoutingConfig\":{\"type\":\"TimeBasedLinear\",\"timeBasedLinear\":"
		      "{\"linearPercentage\":30,\"linearIntervalInSeconds\":2}}}",
		      &none, 0, false);
	assert_non_null(strstr(s, "{\"ev\":1,\"do\":\"weight\",\"p\":30},{\"ev\":1,\"do\":\"wait\",\"ms\":2000},"
				  "{\"ev\":1,\"do\":\"weight\",\"p\":60},{\"ev\":1,\"do\":\"wait\",\"ms\":2000},"
				  "{\"ev\":1,\"do\":\"weight\",\"p\":90},{\"ev\":1,\"do\":\"wait\",\"ms\":2000},"
				  "{\"ev\":1,\"do\":\"weight\",\"p\":100},{\"ev\":2"));
	free(s);
	/* LambdaLinear10PercentEvery1Minute: ten weights, nine minutes */
	{
		json_t *p;
		struct traffic_routing rt;
		struct rollout_error e = {.size = sizeof(e)};
		size_t i, w = 0, waits = 0;
		json_t *st;
		assert_int_equal(traffic_routing_parse("{\"type\":\"TimeBasedLinear\",\"timeBasedLinear\":"
						       "{\"linearPercentage\":10,\"linearInterval\":1}}",
						       &rt, NULL, &e),
				 0);
		p = eng_shift_plan("Lambda", lam, &rt, &none, -1, 0, false);
		json_array_foreach(p, i, st)
		{
			w += !strcmp(json_string_value(json_object_get(st, "do")), "weight");
			waits += !strcmp(json_string_value(json_object_get(st, "do")), "wait") &&
				 json_integer_value(json_object_get(st, "ms")) == 60000;
		}
		assert_int_equal(w, 10);
		assert_int_equal(waits, 9);
		json_decref(p);
	}
	/* ECS with every optional op: install, test route, readiness, and the
	 * original removed after the termination wait */
	s = plan_text("ECS", ecs, "{\"trafficRoutingConfig\":{\"type\":\"AllAtOnce\"}}", &all, 60000, false);
	assert_string_equal(
	    s, "[{\"ev\":1,\"do\":\"install\"},{\"ev\":1,\"do\":\"ready\"},{\"ev\":3,\"do\":"
	       "\"test_route\"},{\"ev\":3,\"do\":\"ready\"},{\"ev\":4,\"do\":\"hook\",\"fn\":\"t\"},"
	       "{\"ev\":6,\"do\":\"weight\",\"p\":100},{\"ev\":6,\"do\":\"ready\"},{\"ev\":-1,"
	       "\"do\":\"commit\"},{\"ev\":-1,\"do\":\"wait\",\"ms\":60000,\"term\":true},{\"ev\":-1,\"do\":"
	       "\"remove\"}]");
	free(s);
	/* deploymentReadyOption STOP_DEPLOYMENT: Ready before BeforeAllowTraffic */
	{
		struct traffic_routing rt;
		struct rollout_error e = {.size = sizeof(e)};
		json_t *p;
		assert_int_equal(traffic_routing_parse("{}", &rt, NULL, &e), 0);
		p = eng_shift_plan("ECS", ecs, &rt, &all, 120000, 0, false);
		s = json_dumps(p, JSON_COMPACT);
		assert_non_null(strstr(s, "{\"ev\":4,\"do\":\"hook\",\"fn\":\"t\"},{\"ev\":-1,\"do\":\"ready_wait\","
					  "\"ms\":120000},{\"ev\":6,\"do\":\"weight\""));
		free(s);
		json_decref(p);
	}
	/* a rollback deployment routes back as its AllowTraffic, no hooks */
	s = plan_text("Lambda", lam, "{}", &none, 0, true);
	assert_string_equal(s, "[{\"ev\":1,\"do\":\"route_back\"}]");
	free(s);
	assert_null(eng_shift_events("Server"));
	assert_true(eng_shift_platform("ECS"));
	assert_false(eng_shift_platform("Server"));
	json_decref(lam);
	json_decref(ecs);
}

/* ---------------------------------------------------------------- the fake plugin jobs */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char oplog[64][96]; /* "weight 10", "hook BeforeAllowTraffic", ... in order */
static int nops;
static char last_exec[64];
static const char *fail_op; /* this op fails (once) */

static void fake_reply(void *reply_to, json_t *body)
{
	(void)reply_to;
	json_decref(body);
}

static void fake_error(void *reply_to, int status, const char *type, const char *message)
{
	(void)reply_to;
	(void)status;
	(void)type;
	(void)message;
}

static void fake_submit(struct engine *e, struct eng_job *j)
{
	struct eng_input *in = eng_input_new(IN_SHIFT);

	if (!in || (j->kind != JOB_SHIFT_START && j->kind != JOB_SHIFT_OP)) {
		eng_input_free(in);
		eng_job_done(e, j, NULL);
		return;
	}
	snprintf(in->dep, sizeof(in->dep), "%s", j->dep);
	in->ok = true;
	if (j->kind == JOB_SHIFT_START) {
		json_error_t je;
		json_t *rev = json_loads(j->revision_json, 0, &je);
		const char *text = json_string_value(json_object_get(json_object_get(rev, "string"), "content"));
		json_t *a = NULL;
		char err[256];
		assert_int_equal(appspec_shift_parse(text, strlen(text), "t", j->platform, &a, err, sizeof(err)), 0);
		in->result =
		    json_pack("{s:b, s:s, s:o, s:{s:s, s:s}, s:{s:i}}", "start", 1, "plugin", "fake", "appspec", a,
			      "target", "targetId", "fn", "targetArn", "arn:fn:live", "state", "n", 0);
		json_decref(rev);
	} else {
		const char *op = eng_shift_op_name((enum eng_shift_op)j->op);
		json_t *st = json_loads(j->state_json, 0, NULL);
		pthread_mutex_lock(&lock);
		if (nops < 64)
			snprintf(oplog[nops++], sizeof(oplog[0]), "%s%s%s", op,
				 j->op == SHIFT_OP_WEIGHT ? " "
				 : j->op == SHIFT_OP_HOOK ? " "
							  : "",
				 j->op == SHIFT_OP_HOOK ? j->hook_event : "");
		if (j->op == SHIFT_OP_WEIGHT)
			snprintf(oplog[nops - 1], sizeof(oplog[0]), "weight %u", j->percent);
		if (j->op == SHIFT_OP_HOOK)
			snprintf(last_exec, sizeof(last_exec), "%s", j->hook_execution_id);
		if (fail_op && !strcmp(fail_op, op)) {
			in->ok = false;
			rd_error_set(&in->err, -EIO, "HOOK_EXECUTION_FAILURE", "the %s failed", op);
			fail_op = NULL;
		}
		pthread_mutex_unlock(&lock);
		/* the state counts the steps that changed something */
		json_object_set_new(st, "n", json_integer(json_integer_value(json_object_get(st, "n")) + 1));
		in->result = json_pack("{s:s, s:s, s:o}", "op", op, "exec", j->hook_execution_id, "state", st);
	}
	eng_job_done(e, j, in);
}

static const struct engine_io fake_io = {.reply = fake_reply, .error = fake_error, .submit = fake_submit};

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
	char err[512], id[37];
	json_t *doc;

	(void)state;
	memset(&T, 0, sizeof(T));
	nops = 0;
	last_exec[0] = '\0';
	fail_op = NULL;
	T.dir = tu_mkdtemp();
	T.cfg.data_dir = T.dir;
	T.cfg.region = "us-east-1";
	T.cfg.account_id = "000000000000";
	T.cfg.long_poll_ms = 300;
	T.cfg.hook_timeout_ms = 3600 * 1000;
	T.d.cfg = &T.cfg;
	if (store_open(T.dir, &T.d.store, &rerr) < 0)
		fail_msg("store_open: %s", rerr.message);
	doc = json_pack("{s:{s:s,s:s}}", "deploymentStyle", "deploymentType", "BLUE_GREEN", "deploymentOption",
			"WITH_TRAFFIC_CONTROL");
	assert_int_equal(store_app_create(T.d.store, "app", "Lambda", id), 0);
	assert_int_equal(store_group_create(T.d.store, "app", "grp", "CodeDeployDefault.LambdaAllAtOnce", doc, id), 0);
	json_decref(doc);
	engine_up();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	engine_stop(&T.d);
	T.d.store = store_close(T.d.store);
	tu_rm_rf(T.dir);
	return 0;
}

static void make_config(const char *name, const char *type, const char *sub, int percent, int seconds)
{
	char id[37];
	json_t *doc =
	    json_pack("{s:{s:s, s:{s:i, s:i}}}", "trafficRoutingConfig", "type", type, sub,
		      !strcmp(sub, "timeBasedCanary") ? "canaryPercentage" : "linearPercentage", percent,
		      !strcmp(sub, "timeBasedCanary") ? "canaryIntervalInSeconds" : "linearIntervalInSeconds", seconds);
	assert_int_equal(store_config_create(T.d.store, name, "Lambda", doc, id), 0);
	json_decref(doc);
}

static const char appspec_hooks[] = "version: 0.0\nResources:\n  - f:\n      Type: AWS::Lambda::Function\n"
				    "Hooks:\n  - BeforeAllowTraffic: pre\n  - AfterAllowTraffic: post\n";

static void deploy(const char *id, const char *config, const char *appspec)
{
	json_t *rev = json_pack("{s:s, s:{s:s}}", "revisionType", "String", "string", "content", appspec), *doc;
	struct store_new_deployment nd = {
	    .id = id, .app = "app", .group = "grp", .config = config, .platform = "Lambda", .creator = "user"};

	doc = json_object();
	nd.revision = rev;
	nd.doc = doc;
	assert_int_equal(store_deployment_create(T.d.store, &nd), 0);
	json_decref(rev);
	json_decref(doc);
	engine_notify_created(&T.d, id);
}

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

/* Waits until the op log holds `what`; returns its index. */
static int wait_op(const char *what)
{
	for (int i = 0; i < 3000; i++) {
		pthread_mutex_lock(&lock);
		for (int k = 0; k < nops; k++)
			if (!strcmp(oplog[k], what)) {
				pthread_mutex_unlock(&lock);
				return k;
			}
		pthread_mutex_unlock(&lock);
		sleep_ms(10);
	}
	fail_msg("no step %s after 30 s", what);
	return -1;
}

static char *ops_joined(void)
{
	static char out[2048];
	size_t n = 0;

	out[0] = '\0';
	pthread_mutex_lock(&lock);
	for (int k = 0; k < nops; k++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", k ? ", " : "", oplog[k]);
	pthread_mutex_unlock(&lock);
	return out;
}

static char *event_status(const char *dep, const char *event)
{
	static char out[32];
	struct store_target *t = NULL;

	assert_int_equal(store_target_get(T.d.store, dep, "fn", &t), 0);
	snprintf(out, sizeof(out), "%s", event ? "?" : t->status);
	for (size_t i = 0; event && i < t->n_events; i++)
		if (!strcmp(t->events[i].name, event))
			snprintf(out, sizeof(out), "%s", t->events[i].status);
	store_target_free(t);
	return out;
}

/* The exec id of the hook invoked last, once `event`'s hook was invoked. */
static void answer_hook(const char *dep, const char *event, const char *status)
{
	char what[96], exec[64], msg[256];

	snprintf(what, sizeof(what), "hook %s", event);
	wait_op(what);
	pthread_mutex_lock(&lock);
	snprintf(exec, sizeof(exec), "%s", last_exec);
	pthread_mutex_unlock(&lock);
	assert_int_equal(engine_hook_status(&T.d, dep, exec, status, msg, sizeof(msg)), 0);
}

/* Waits until the store holds the weight as applied (the step committed). */
static void wait_weight_committed(const char *dep, int weight)
{
	for (int i = 0; i < 3000; i++) {
		struct store_tx *tx = NULL;
		json_t *row = NULL;
		json_int_t w = -1;
		if (store_eng_begin(T.d.store, &tx) == 0) {
			if (store_eng_shift_get(tx, dep, &row) == 0)
				w = json_integer_value(json_object_get(json_object_get(row, "cursor"), "weight"));
			store_eng_rollback(tx);
		}
		json_decref(row);
		if (w == weight)
			return;
		sleep_ms(10);
	}
	fail_msg("%s never stored weight %d", dep, weight);
}

/* ---------------------------------------------------------------- the state machine */

static void test_canary_with_hooks(void **unused)
{
	(void)unused;
	make_config("c1", "TimeBasedCanary", "timeBasedCanary", 20, 1);
	deploy("d-AAAAAAAA1", "c1", appspec_hooks);
	answer_hook("d-AAAAAAAA1", "BeforeAllowTraffic", "Succeeded");
	answer_hook("d-AAAAAAAA1", "AfterAllowTraffic", "Succeeded");
	assert_string_equal(wait_end("d-AAAAAAAA1"), "Succeeded");
	assert_string_equal(ops_joined(),
			    "hook BeforeAllowTraffic, weight 20, weight 100, hook AfterAllowTraffic, commit");
	assert_string_equal(event_status("d-AAAAAAAA1", NULL), "Succeeded");
	assert_string_equal(event_status("d-AAAAAAAA1", "AllowTraffic"), "Succeeded");
	assert_string_equal(event_status("d-AAAAAAAA1", "AfterAllowTraffic"), "Succeeded");
}

static void test_hook_failed_routes_back(void **unused)
{
	char msg[256];
	(void)unused;
	deploy("d-AAAAAAAA2", "CodeDeployDefault.LambdaAllAtOnce", appspec_hooks);
	answer_hook("d-AAAAAAAA2", "BeforeAllowTraffic", "Succeeded");
	answer_hook("d-AAAAAAAA2", "AfterAllowTraffic", "Failed");
	assert_string_equal(wait_end("d-AAAAAAAA2"), "Failed");
	assert_string_equal(ops_joined(), "hook BeforeAllowTraffic, weight 100, hook AfterAllowTraffic, route_back");
	assert_string_equal(event_status("d-AAAAAAAA2", "AfterAllowTraffic"), "Failed");
	assert_string_equal(event_status("d-AAAAAAAA2", NULL), "Failed");
	/* a second verdict for the same execution, or any after the end */
	assert_int_equal(engine_hook_status(&T.d, "d-AAAAAAAA2", last_exec, "Succeeded", msg, sizeof(msg)), -EALREADY);
	assert_non_null(strstr(msg, "already has its status (Failed)"));
	assert_int_equal(engine_hook_status(&T.d, "d-AAAAAAAA2", "nope", "Succeeded", msg, sizeof(msg)), -ESRCH);
	assert_int_equal(engine_hook_status(&T.d, "d-NOSUCHONE", "nope", "Succeeded", msg, sizeof(msg)), -ENOENT);
}

static void test_invoke_error_fails_at_once(void **unused)
{
	(void)unused;
	fail_op = "hook";
	deploy("d-AAAAAAAA3", "CodeDeployDefault.LambdaAllAtOnce", appspec_hooks);
	assert_string_equal(wait_end("d-AAAAAAAA3"), "Failed");
	/* nothing moved: the route back finds the original in place */
	assert_string_equal(ops_joined(), "hook BeforeAllowTraffic, route_back");
	assert_string_equal(event_status("d-AAAAAAAA3", "BeforeAllowTraffic"), "Failed");
	assert_string_equal(event_status("d-AAAAAAAA3", "AllowTraffic"), "Skipped");
}

static void test_stop_routes_back(void **unused)
{
	const char *st;
	char msg[256];
	(void)unused;
	make_config("slow", "TimeBasedCanary", "timeBasedCanary", 10, 600);
	deploy("d-AAAAAAAA4", "slow", "version: 0.0\nResources: [{f: {}}]\n");
	wait_op("weight 10");
	assert_int_equal(engine_stop_deployment(&T.d, "d-AAAAAAAA4", ENGINE_ROLLBACK_NO, &st, msg, sizeof(msg)), 0);
	assert_string_equal(wait_end("d-AAAAAAAA4"), "Stopped");
	assert_string_equal(ops_joined(), "weight 10, route_back");
	assert_string_equal(event_status("d-AAAAAAAA4", "AllowTraffic"), "Failed");
}

static void test_restart_resumes(void **unused)
{
	(void)unused;
	make_config("lin", "TimeBasedLinear", "timeBasedLinear", 50, 2);
	deploy("d-AAAAAAAA5", "lin", "version: 0.0\nResources: [{f: {}}]\n");
	wait_op("weight 50");
	wait_weight_committed("d-AAAAAAAA5", 50);
	/* down during the interval: the weight is not applied again, the
	 * wait goes on to its stored end */
	engine_stop(&T.d);
	engine_up();
	assert_string_equal(wait_end("d-AAAAAAAA5"), "Succeeded");
	assert_string_equal(ops_joined(), "weight 50, weight 100, commit");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan),
	    cmocka_unit_test_setup_teardown(test_canary_with_hooks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hook_failed_routes_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invoke_error_fails_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_routes_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
