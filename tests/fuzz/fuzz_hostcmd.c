/* The host-command JSON rolloutd accepts from agents (PollHostCommand,
 * PutHostCommandAcknowledgement, PostHostCommandUpdate,
 * PutHostCommandComplete, GetDeploymentSpecification), handled by the real
 * engine on its own thread over a real store in a scratch directory, with
 * one registered instance (host-0) and a deployment in progress on it, so
 * that well-formed identifiers reach the command and its events.
 *
 * The first byte of the input picks the operation (low 3 bits) and the
 * caller: bit 3 set is an agent key bound to host-0, bit 4 says the caller
 * is rollout-agent. The rest is the body, parsed as the HTTP transport
 * parses it (an object, JSON_REJECT_DUPLICATES) before the engine sees it.
 * The engine's plugin jobs are answered at the input queue, as in the
 * engine's unit test. */
#include "config.h"

#include <pthread.h>
#include <time.h>

#include <jansson.h>

#include "core/conf.h"
#include "core/daemon.h"
#include "engine/engine.h"
#include "engine/engine_input.h"
#include "engine/engine_jobs.h"
#include "fuzz.h"
#include "store/store.h"

/* What the engine answered to one call. The call is freed by whoever comes
 * last: the fuzzer when the answer came in time, the engine's reply when
 * the fuzzer stopped waiting (a poll held until the next one). */
struct fake_call {
	pthread_mutex_t m;
	pthread_cond_t c;
	bool answered, abandoned;
};

static void fake_call_free(struct fake_call *fc)
{
	pthread_mutex_destroy(&fc->m);
	pthread_cond_destroy(&fc->c);
	free(fc);
}

static void answered(struct fake_call *fc)
{
	bool abandoned;

	pthread_mutex_lock(&fc->m);
	fc->answered = true;
	abandoned = fc->abandoned;
	pthread_cond_signal(&fc->c);
	pthread_mutex_unlock(&fc->m);
	if (abandoned)
		fake_call_free(fc);
}

static void fake_reply(void *reply_to, json_t *body)
{
	json_decref(body);
	answered(reply_to);
}

static void fake_error(void *reply_to, int status, const char *type, const char *message)
{
	(void)status;
	(void)type;
	(void)message;
	answered(reply_to);
}

static json_t *fleet;

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
		if (j->kind == JOB_RESOLVE || j->kind == JOB_AUTOUPDATE)
			in->targets = json_deep_copy(fleet);
	}
	eng_job_done(e, j, in);
}

static const struct engine_io fake_io = {.reply = fake_reply, .error = fake_error, .submit = fake_submit};

static struct rd_config cfg;
static struct rd_daemon daemon_;

static void stop_engine(void)
{
	engine_stop(&daemon_);
	daemon_.store = store_close(daemon_.store);
	json_decref(fleet);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rd_error e = RD_ERROR_INIT;
	char id[37];
	json_t *doc, *rev;
	struct store_new_deployment nd = {.id = "d-FUZZ00001",
					  .app = "app",
					  .group = "grp",
					  .config = "CodeDeployDefault.OneAtATime",
					  .platform = "Server",
					  .creator = "user"};

	(void)argc;
	(void)argv;
	cfg.data_dir = fuzz_tmpdir();
	cfg.region = "us-east-1";
	cfg.account_id = "000000000000";
	cfg.long_poll_ms = 1000;
	daemon_.cfg = &cfg;
	if (store_open(cfg.data_dir, &daemon_.store, &e) < 0) {
		fprintf(stderr, "store_open: %s\n", e.message);
		abort();
	}
	fleet = json_pack("[{s:s}]", "targetId", "host-0");
	doc = json_pack("{s:{s:s,s:s}}", "deploymentStyle", "deploymentType", "IN_PLACE", "deploymentOption",
			"WITHOUT_TRAFFIC_CONTROL");
	if (store_app_create(daemon_.store, "app", "Server", id) < 0 ||
	    store_group_create(daemon_.store, "app", "grp", "CodeDeployDefault.OneAtATime", doc, id) < 0 ||
	    store_instance_register(daemon_.store, "host-0", NULL, "arn:aws:iam::000000000000:user/host-0",
				    "arn:aws:codedeploy:us-east-1:000000000000:instance/host-0") < 0)
		abort();
	json_decref(doc);
	rev = json_pack("{s:s,s:{s:s,s:s,s:s}}", "revisionType", "S3", "s3Location", "bucket", "bkt", "key", "k.zip",
			"bundleType", "zip");
	doc = json_object();
	nd.revision = rev;
	nd.doc = doc;
	if (store_deployment_create(daemon_.store, &nd) < 0)
		abort();
	json_decref(rev);
	json_decref(doc);
	if (engine_start(&daemon_, &fake_io, &e) < 0) {
		fprintf(stderr, "engine_start: %s\n", e.message);
		abort();
	}
	engine_notify_created(&daemon_, nd.id);
	atexit(stop_engine);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ops[] = {"PollHostCommand", "PutHostCommandAcknowledgement", "PostHostCommandUpdate",
					  "PutHostCommandComplete", "GetDeploymentSpecification"};
	struct fake_call *fc;
	struct eng_input *in;
	struct eng_call *c;
	struct timespec ts;
	json_t *body;
	bool poll;

	if (size < 1 || size > 256 * 1024)
		return 0;
	body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(body)) {
		json_decref(body);
		return 0;
	}
	fc = calloc(1, sizeof(*fc));
	in = eng_input_new(IN_CALL);
	c = calloc(1, sizeof(*c));
	if (!fc || !in || !c)
		abort();
	pthread_mutex_init(&fc->m, NULL);
	pthread_cond_init(&fc->c, NULL);
	snprintf(c->op, sizeof(c->op), "%s", ops[(data[0] & 7) % 5]);
	poll = (data[0] & 7) % 5 == 0;
	c->body = body;
	if (data[0] & 8) {
		snprintf(c->instance, sizeof(c->instance), "host-0");
		snprintf(c->access_key_id, sizeof(c->access_key_id), "AKIDAGENT0000000000");
	}
	c->rollout_agent = (data[0] & 16) != 0;
	c->reply_to = fc;
	in->call = c;
	if (eng_post_live(&daemon_, in) < 0)
		abort();
	/* A poll with nothing to hand out is held until the next poll or the
	 * long-poll deadline: do not wait for it. Anything else is answered. */
	clock_gettime(CLOCK_REALTIME, &ts);
	if (poll) {
		ts.tv_nsec += 20 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
	} else {
		ts.tv_sec += 30;
	}
	pthread_mutex_lock(&fc->m);
	while (!fc->answered && pthread_cond_timedwait(&fc->c, &fc->m, &ts) == 0)
		;
	if (!fc->answered) {
		if (!poll) {
			fprintf(stderr, "the engine did not answer %s within 30 s\n", ops[(data[0] & 7) % 5]);
			abort();
		}
		fc->abandoned = true;
		pthread_mutex_unlock(&fc->m);
		return 0;
	}
	pthread_mutex_unlock(&fc->m);
	fake_call_free(fc);
	return 0;
}
