/* fleet-sim-agents: registers N on-premises instances (with an agent key
 * each, or one unbound agent key for all) through rolloutd's control API,
 * then runs N simulated agents against it until SIGTERM, printing a stats
 * line every second and, when it stops, one JSON object of its counters.
 * bench/fleet-sim starts it; the admin key comes from AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fleetsim.h"
#include "jsonutil.h"
#include "util.h"

#define API_PREFIX "CodeDeploy_20141006."
#define TAG_BATCH 100 /* AddTagsToOnPremisesInstances takes at most 100 names */
#define API_ATTEMPTS 10

static volatile int stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct opts {
	const char *endpoint, *prefix, *tag_key, *tag_value, *cert, *region;
	unsigned hosts, workers;
	bool shared_key, spec_every_event;
	long hook_ms;
	double failure_rate;
	uint64_t seed;
};

/* ---------------------------------------------------------------- registration */

struct reg;

struct worker {
	struct xfer x;
	struct timer t;
	struct reg *reg;
	int kind; /* 0 register, 1 key, 2 tags */
	unsigned host, n, attempt;
	char *target, *body; /* for retries */
};

struct reg {
	struct loop *loop;
	struct call_ctx api;
	const struct opts *o;
	char *admin;  /* AKID:SECRET */
	char **names; /* instance names */
	char **keys;  /* AKID:SECRET per instance, or one shared */
	unsigned next_host, next_tag, registered, tagged, keys_made;
	unsigned calls;
	bool failed;
};

static void worker_next(struct worker *w);

static void reg_fail(struct reg *g, const char *what, const char *target, const char *detail)
{
	fprintf(stderr, "fleet-sim-agents: %s %s: %.500s\n", target, what, detail);
	g->failed = true;
	stop = 1;
}

static void api_done(struct xfer *x, int r, long status, const char *body, size_t len, const char *err);

static void api_send(struct worker *w)
{
	char *body = strdup(w->body);

	if (!body || xfer_call(&w->x, &w->reg->api, w->reg->admin, w->target, body, 60000, api_done) < 0)
		abort();
	w->reg->calls++;
}

static void api_call(struct worker *w, int kind, const char *target, json_t *body)
{
	free(w->target);
	free(w->body);
	w->kind = kind;
	w->attempt = 0;
	w->target = strdup(target);
	w->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!w->target || !w->body)
		abort();
	api_send(w);
}

static void retry_timer(struct timer *t)
{
	struct worker *w = (struct worker *)((char *)t - offsetof(struct worker, t));
	api_send(w);
}

static void api_done(struct xfer *x, int r, long status, const char *body, size_t len, const char *err)
{
	struct worker *w = x->ud;
	struct reg *g = w->reg;
	json_t *j = NULL;

	if (r < 0 || status >= 500 || status == 429 || (status == 400 && strcasestr(body, "throttl"))) {
		if (++w->attempt < API_ATTEMPTS) {
			timer_arm(g->loop, &w->t, 200LL * w->attempt);
			return;
		}
		reg_fail(g, "failed after retries", w->target, r < 0 ? err : body);
		return;
	}
	if (status != 200 || !(j = json_loadb(body, len, 0, NULL))) {
		reg_fail(g, "was refused", w->target, body);
		return;
	}
	switch (w->kind) {
	case 0:
		g->registered++;
		if (!g->o->shared_key) {
			char name[160];
			snprintf(name, sizeof(name), "agent-%s", g->names[w->host]);
			api_call(w, 1, "Rolloutd_v1.CreateAccessKey",
				 json_pack("{s:s,s:s,s:s}", "Name", name, "Policy", "agent", "InstanceName",
					   g->names[w->host]));
			json_decref(j);
			return;
		}
		break;
	case 1: {
		const char *id = rd_json_str(j, "AccessKeyId"), *secret = rd_json_str(j, "SecretAccessKey");
		char *up = NULL;
		if (!id || !secret || asprintf(&up, "%s:%s", id, secret) < 0) {
			reg_fail(g, "answered no key", w->target, body);
			json_decref(j);
			return;
		}
		g->keys[w->host] = up;
		g->keys_made++;
		break;
	}
	case 2:
		g->tagged += w->n;
		break;
	}
	json_decref(j);
	worker_next(w);
}

static void worker_next(struct worker *w)
{
	struct reg *g = w->reg;
	const struct opts *o = g->o;

	if (g->failed)
		return;
	if (g->next_host < o->hosts) {
		char arn[256];
		w->host = g->next_host++;
		snprintf(arn, sizeof(arn), "arn:aws:iam::" FS_ACCOUNT ":user/%s", g->names[w->host]);
		api_call(w, 0, API_PREFIX "RegisterOnPremisesInstance",
			 json_pack("{s:s,s:s}", "instanceName", g->names[w->host], "iamUserArn", arn));
		return;
	}
	/* tags once every instance is registered */
	if (g->registered < o->hosts || g->next_tag >= o->hosts)
		return;
	json_t *names = json_array();
	w->n = 0;
	for (; g->next_tag < o->hosts && w->n < TAG_BATCH; g->next_tag++, w->n++)
		json_array_append_new(names, json_string(g->names[g->next_tag]));
	api_call(
	    w, 2, API_PREFIX "AddTagsToOnPremisesInstances",
	    json_pack("{s:[{s:s,s:s}],s:o}", "tags", "Key", o->tag_key, "Value", o->tag_value, "instanceNames", names));
}

static bool reg_done(void *ud)
{
	struct reg *g = ud;
	return g->failed || (g->tagged == g->o->hosts && g->keys_made == (g->o->shared_key ? 1 : g->o->hosts) &&
			     g->registered == g->o->hosts);
}

static void reg_tick(void *ud)
{
	struct reg *g = ud;
	printf("registering: %u registered, %u keys, %u tagged\n", g->registered, g->keys_made, g->tagged);
	fflush(stdout);
}

static int register_fleet(const struct opts *o, struct loop *loop, char *admin, char **names, char **keys)
{
	struct reg g = {.loop = loop, .o = o, .admin = admin, .names = names, .keys = keys};
	struct worker *ws = calloc(o->workers, sizeof(*ws));
	int64_t t0 = loop_now();
	int r = 0;

	g.api = (struct call_ctx){.origin = o->endpoint,
				  .service = "codedeploy",
				  .region = o->region,
				  .user_agent = "fleet-sim/" PACKAGE_VERSION};
	if (!ws)
		return -ENOMEM;
	for (unsigned i = 0; i < o->workers; i++) {
		if ((r = xfer_init(loop, &ws[i].x, &g.api, NULL)) < 0)
			goto out;
		ws[i].x.ud = &ws[i];
		ws[i].reg = &g;
		ws[i].t.fn = retry_timer;
	}
	/* rolloutd has no unbound agent key: the one key that may act for any
	 * on-premises host is an admin key */
	if (o->shared_key) {
		if (!(keys[0] = strdup(admin)))
			return -ENOMEM;
		g.keys_made = 1;
	}
	for (unsigned i = 0; i < o->workers; i++)
		worker_next(&ws[i]);
	r = loop_run(loop, &stop, reg_done, reg_tick, &g);
	if (r == 0 && !reg_done(&g))
		r = -EINTR;
	if (r == 0 && g.failed)
		r = -EIO;
	if (r == 0) {
		printf("registered %u instances, %u agent keys, tags in %.2f s (%u API calls, %u at a time)\n",
		       o->hosts, g.keys_made, (loop_now() - t0) / 1000.0, g.calls, o->workers);
		fflush(stdout);
	}
out:
	/* (curl_easy_cleanup takes a handle still running out of the multi) */
	for (unsigned i = 0; i < o->workers; i++) {
		xfer_cleanup(&ws[i].x);
		free(ws[i].target);
		free(ws[i].body);
	}
	free(ws);
	return r;
}

/* ---------------------------------------------------------------- the run */

static unsigned polling(const struct fs_sim *s)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->n_agents; i++)
		n += fs_agent_polling(s->agents[i]);
	return n;
}

static void run_tick(void *ud)
{
	struct fs_sim *s = ud;
	const struct fs_stats *st = &s->st;

	printf("stats polling=%u requests=%llu commands=%llu succeeded=%llu failed=%llu skipped=%llu "
	       "errors=%llu last_error=%s\n",
	       polling(s), (unsigned long long)st->requests, (unsigned long long)st->commands,
	       (unsigned long long)st->events_ok, (unsigned long long)st->events_failed,
	       (unsigned long long)st->skipped, (unsigned long long)(st->transport_errors + st->http_errors),
	       st->last_error);
	fflush(stdout);
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void report(const struct fs_sim *s)
{
	const struct fs_stats *st = &s->st;
	struct rusage ru;
	json_t *j;
	char *text;

	getrusage(RUSAGE_SELF, &ru);
	j = json_pack("{s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:s,s:s}", "agents",
		      (int)s->n_agents, "requests", (json_int_t)st->requests, "polls", (json_int_t)st->polls,
		      "commands", (json_int_t)st->commands, "events_succeeded", (json_int_t)st->events_ok,
		      "events_failed", (json_int_t)st->events_failed, "skipped", (json_int_t)st->skipped,
		      "specs_verified", (json_int_t)st->specs_verified, "specs_same", (json_int_t)st->specs_same,
		      "specs_kept", (json_int_t)st->specs_kept, "specs_rejected", (json_int_t)st->specs_rejected,
		      "heartbeats", (json_int_t)st->heartbeats, "transport_errors", (json_int_t)st->transport_errors,
		      "http_errors", (json_int_t)st->http_errors, "dropped", (json_int_t)st->dropped, "cpu_seconds",
		      cpu_seconds(), "rss_mb", ru.ru_maxrss / 1024.0, "first_error", st->first_error, "last_error",
		      st->last_error);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	printf("%s\n", text ? text : "{}");
	fflush(stdout);
	free(text);
	json_decref(j);
}

static int usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: fleet-sim-agents --endpoint URL --hosts N --tag KEY=VALUE --cert daemon.crt\n"
		"         [--prefix NAME] [--shared-key] [--hook-ms M] [--failure-rate F] [--seed S]\n"
		"         [--workers W] [--region R] [--spec-every-event]\n"
		"Registers N instances NAME-0..NAME-(N-1) tagged KEY=VALUE with an agent key each (with\n"
		"--shared-key the agents all sign with the admin key, the one kind of key rolloutd lets act\n"
		"for any host), then runs N agents until SIGTERM. Each asks for a deployment's specification\n"
		"once, at its first command, as rollout-agent does; --spec-every-event: at every command, as\n"
		"the official agent does. The admin key is read from\n"
		"AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Normally started by bench/fleet-sim.\n");
	return code;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"endpoint", required_argument, NULL, 'e'}, {"hosts", required_argument, NULL, 'n'},
	    {"tag", required_argument, NULL, 't'},	{"cert", required_argument, NULL, 'c'},
	    {"prefix", required_argument, NULL, 'p'},	{"shared-key", no_argument, NULL, 'k'},
	    {"hook-ms", required_argument, NULL, 'm'},	{"failure-rate", required_argument, NULL, 'f'},
	    {"seed", required_argument, NULL, 's'},	{"workers", required_argument, NULL, 'w'},
	    {"region", required_argument, NULL, 'r'},	{"spec-every-event", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},		{NULL, 0, NULL, 0}};
	struct opts o = {.prefix = "fs", .region = "us-east-1", .workers = 16, .seed = 1};
	const char *akid = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	char *admin = NULL, **names = NULL, **keys = NULL, *eq;
	struct fs_sim s = {0};
	struct sigaction sa = {.sa_handler = on_signal};
	int c, r = 1;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			o.endpoint = optarg;
			break;
		case 'n':
			o.hosts = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			eq = strchr(optarg, '=');
			if (!eq)
				return usage(2);
			*eq = '\0';
			o.tag_key = optarg;
			o.tag_value = eq + 1;
			break;
		case 'c':
			o.cert = optarg;
			break;
		case 'p':
			o.prefix = optarg;
			break;
		case 'k':
			o.shared_key = true;
			break;
		case 'm':
			o.hook_ms = strtol(optarg, NULL, 10);
			break;
		case 'f':
			o.failure_rate = strtod(optarg, NULL);
			break;
		case 's':
			o.seed = strtoull(optarg, NULL, 10);
			break;
		case 'w':
			o.workers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o.region = optarg;
			break;
		case 'S':
			o.spec_every_event = true;
			break;
		case 'h':
			return usage(0);
		default:
			return usage(2);
		}
	}
	if (!o.endpoint || !o.hosts || !o.tag_key || !o.cert || o.workers < 1 || o.hook_ms < 0 || o.failure_rate < 0 ||
	    o.failure_rate > 1)
		return usage(2);
	if (!akid || !secret) {
		fprintf(stderr, "fleet-sim-agents: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to an admin key "
				"of the daemon (rolloutd access-key create --policy admin)\n");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	names = calloc(o.hosts, sizeof(*names));
	keys = calloc(o.hosts, sizeof(*keys));
	s.agents = calloc(o.hosts, sizeof(*s.agents));
	if (!names || !keys || !s.agents || asprintf(&admin, "%s:%s", akid, secret) < 0)
		goto oom;
	for (unsigned i = 0; i < o.hosts; i++)
		if (asprintf(&names[i], "%s-%u", o.prefix, i) < 0)
			goto oom;
	if ((r = loop_new(&s.loop)) < 0)
		goto oom;
	if ((r = register_fleet(&o, s.loop, admin, names, keys)) < 0) {
		fprintf(stderr, "fleet-sim-agents: registration failed (%s)\n", strerror(-r));
		r = 1;
		goto out;
	}

	s.cmd = (struct call_ctx){.origin = o.endpoint,
				  .service = "codedeploy-commands",
				  .region = o.region,
				  /* rollout-agent's prefix: rolloutd then expects a poll only between commands */
				  .agent_version = "ROLLOUT_AGENT_" PACKAGE_VERSION "-fleet-sim",
				  .user_agent = "fleet-sim/" PACKAGE_VERSION};
	s.cert = o.cert;
	s.hook_ms = o.hook_ms;
	s.failure_rate = o.failure_rate;
	s.spec_every_event = o.spec_every_event;
	s.rng = o.seed ? o.seed : 1;
	for (unsigned i = 0; i < o.hosts; i++) {
		char hid[256];
		snprintf(hid, sizeof(hid), "arn:aws:iam::" FS_ACCOUNT ":user/%s", names[i]);
		if ((r = fs_agent_new(&s, i, names[i], hid, keys[o.shared_key ? 0 : i], &s.agents[i])) < 0)
			goto oom;
		s.n_agents++;
	}
	for (unsigned i = 0; i < s.n_agents; i++)
		fs_agent_start(s.agents[i]);
	printf("agents %u started\n", s.n_agents);
	fflush(stdout);
	r = loop_run(s.loop, &stop, NULL, run_tick, &s);
	if (r < 0)
		fprintf(stderr, "fleet-sim-agents: event loop: %s\n", strerror(-r));
	run_tick(&s);
	report(&s);
	r = r < 0 ? 1 : 0;
	goto out;
oom:
	fprintf(stderr, "fleet-sim-agents: out of memory\n");
	r = 1;
out:
	for (unsigned i = 0; i < s.n_agents; i++)
		fs_agent_free(s.agents[i]);
	loop_free(s.loop);
	for (unsigned i = 0; names && i < o.hosts; i++) {
		free(names[i]);
		if (keys[i])
			explicit_bzero(keys[i], strlen(keys[i]));
		free(keys[i]);
	}
	free(names);
	free(keys);
	free(s.agents);
	free(admin);
	curl_global_cleanup();
	return r;
}
