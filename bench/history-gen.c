/* history-gen: writes a large deployment history into a data_dir through
 * the store's own functions (the ones the control API and the engine call),
 * so that bench/api-bench can measure reads against it.
 *
 *     history-gen --data-dir DIR [--deployments N] [--events N] [--applications N]
 *                 [--groups N] [--big-hosts N] [--big-deployments N] [--seed N]
 *
 * The history spans the last 365 days, oldest first: N deployments of
 * in-place Server revisions over applications x groups, one group ("fleet")
 * of --big-hosts instances that gets --big-deployments of them, the others
 * sharing the remaining targets so that the total of lifecycle events (7
 * per target, each with its host command) comes to --events. About 93 % of
 * deployments succeed, 6.5 % fail on one event, 0.5 % are stopped. Every
 * deployment is finished: the daemon started on the data_dir has nothing to
 * resume.
 *
 * Prints the time taken, the store's size per table and per deployment, and
 * as its last line a JSON summary that bench/api-bench reads back from
 * DIR/history-gen.json (names, ids and times worth querying). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "store/store.h"
#include "store/store_engine.h"
#include "util.h"

#define EVENTS_PER_TARGET 7
#define DEPLOYMENTS_PER_TX 200
#define DAY_MS (24LL * 3600 * 1000)

static const char *const event_names[EVENTS_PER_TARGET] = {"ApplicationStop", "DownloadBundle", "BeforeInstall",
							   "Install",	      "AfterInstall",	"ApplicationStart",
							   "ValidateService"};
/* the appspec hooks a typical revision has: the others run no script */
static const char *const event_scripts[EVENTS_PER_TARGET] = {
    "scripts/stop.sh",	  NULL, "scripts/before_install.sh", NULL, "scripts/after_install.sh", "scripts/start.sh",
    "scripts/validate.sh"};

struct opts {
	const char *data_dir;
	long deployments, events, apps, groups, big_hosts, big_deployments;
	uint64_t seed;
};

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: reproducible for a given --seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static long rng_below(long n)
{
	return (long)(rng() % (uint64_t)n);
}

/* d- and 9 characters A-Z0-9, distinct for distinct i: i times an odd
 * multiplier not divisible by 3 is a bijection modulo 36^9. */
static void deployment_id(long i, uint64_t seed, char out[12])
{
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	const uint64_t mod = 101559956668416ULL; /* 36^9 */
	uint64_t v = ((uint64_t)i * 2654435761ULL + seed * 7919ULL) % mod;

	memcpy(out, "d-", 2);
	for (int k = 10; k >= 2; k--) {
		out[k] = digits[v % 36];
		v /= 36;
	}
	out[11] = '\0';
}

struct group {
	char app[32], name[32];
	long first_host, n_hosts;
	long n_deployments;
	long revision;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: history-gen --data-dir DIR [--deployments N] [--events N] [--applications N]\n"
		   "                   [--groups N] [--big-hosts N] [--big-deployments N] [--seed N]\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {{"data-dir", required_argument, NULL, 'd'},
					   {"deployments", required_argument, NULL, 'n'},
					   {"events", required_argument, NULL, 'e'},
					   {"applications", required_argument, NULL, 'a'},
					   {"groups", required_argument, NULL, 'g'},
					   {"big-hosts", required_argument, NULL, 'H'},
					   {"big-deployments", required_argument, NULL, 'B'},
					   {"seed", required_argument, NULL, 's'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	int ch;

	*o = (struct opts){.deployments = 100000,
			   .events = 1000000,
			   .apps = 20,
			   .groups = 5,
			   .big_hosts = 1000,
			   .big_deployments = 10,
			   .seed = 17};
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end = NULL;
		long v = optarg && ch != 'd' ? strtol(optarg, &end, 10) : 0;
		if (optarg && ch != 'd' && (*end || v < 0)) {
			fprintf(stderr, "history-gen: options take a non-negative integer, not '%s'\n", optarg);
			return -EINVAL;
		}
		switch (ch) {
		case 'd':
			o->data_dir = optarg;
			break;
		case 'n':
			o->deployments = v;
			break;
		case 'e':
			o->events = v;
			break;
		case 'a':
			o->apps = v;
			break;
		case 'g':
			o->groups = v;
			break;
		case 'H':
			o->big_hosts = v;
			break;
		case 'B':
			o->big_deployments = v;
			break;
		case 's':
			o->seed = (uint64_t)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (!o->data_dir) {
		usage(stderr);
		fprintf(stderr, "history-gen: --data-dir is required (the daemon's data_dir to fill)\n");
		return -EINVAL;
	}
	if (o->apps < 1 || o->groups < 1 || o->apps * o->groups < 2 || o->deployments <= o->big_deployments ||
	    (o->big_deployments > 0 && o->big_hosts < 1)) {
		fprintf(stderr, "history-gen: need at least 2 groups (applications x groups), more deployments than "
				"--big-deployments, and --big-hosts >= 1 when --big-deployments > 0\n");
		return -EINVAL;
	}
	return 0;
}

static json_t *diagnostics(const char *status, const char *script, long dep)
{
	bool ok = !strcmp(status, "Succeeded");
	char log[512] = "";

	if (!ok)
		snprintf(log, sizeof(log),
			 "[stderr]+ systemctl restart app\n[stderr]Job for app.service failed because the control "
			 "process exited with error code.\n[stderr]See \"systemctl status app.service\" and "
			 "\"journalctl -xe\" for details.\n[stderr]deployment %ld: health check on :8080 failed "
			 "after 30 attempts\n",
			 dep);
	return json_pack("{s:s,s:s,s:s,s:s}", "errorCode", ok ? "Success" : "ScriptFailed", "scriptName",
			 script ? script : "", "message",
			 ok ? "Succeeded"
			    : "Script at specified location: scripts/start.sh run as user root failed with "
			      "exit code 1",
			 "logTail", log);
}

struct counts {
	long deployments, targets, events, commands;
	long by_status[3]; /* Succeeded, Failed, Stopped */
};

/* One deployment: row, targets, events and host commands, finished. */
static int write_deployment(struct store_tx *tx, const struct opts *o, struct group *g, long i, int64_t create,
			    struct counts *n, char id_out[12])
{
	static const char *const dep_status[] = {"Succeeded", "Failed", "Stopped"};
	long roll = rng_below(1000), n_targets = g->n_hosts;
	int kind = roll < 930 ? 0 : roll < 995 ? 1 : 2;
	long fail_target = kind ? rng_below(n_targets) : -1;
	int fail_event = kind ? (int)rng_below(EVENTS_PER_TARGET) : -1;
	int64_t t = create + 800 + rng_below(1500);
	int64_t start = t;
	long ok = 0, failed = 0, skipped = 0;
	char id[12], host[64], key[128];
	json_t *row, *doc, *rev;
	int r;

	deployment_id(i, o->seed, id);
	memcpy(id_out, id, 12);
	snprintf(key, sizeof(key), "%s/%s/release-%ld.zip", g->app, g->name, ++g->revision);
	rev = json_pack("{s:s,s:{s:s,s:s,s:s,s:s}}", "revisionType", "S3", "s3Location", "bucket", "releases", "key",
			key, "bundleType", "zip", "eTag", "0f343b0931126a20f133d67c2b018a3b");
	doc = json_pack("{s:s,s:{s:s,s:s},s:{s:b,s:[s]},s:b,s:b,s:s,s:b}", "description", "automated release",
			"deploymentStyle", "deploymentType", "IN_PLACE", "deploymentOption", "WITHOUT_TRAFFIC_CONTROL",
			"autoRollbackConfiguration", "enabled", 1, "events", "DEPLOYMENT_FAILURE",
			"ignoreApplicationStopFailures", 0, "updateOutdatedInstancesOnly", 0, "fileExistsBehavior",
			"DISALLOW", "instanceTerminationWaitTimeStarted", 0);
	row = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:O,s:o}", "id", id, "application", g->app, "deployment_group",
			g->name, "deployment_config", "CodeDeployDefault.OneAtATime", "compute_platform", "Server",
			"creator", "user", "create_time", (json_int_t)create, "revision", rev, "doc", doc);
	json_decref(rev);
	if (!row)
		return -ENOMEM;
	r = store_eng_deployment_insert(tx, row);
	json_decref(row);
	if (r < 0)
		return r;
	for (long k = 0; r == 0 && k < n_targets; k++) {
		/* one at a time: targets after the failing one are skipped */
		const char *tstatus = fail_target < 0 || k < fail_target ? "Succeeded"
				      : k == fail_target		 ? "Failed"
									 : "Skipped";
		char arn[160];
		snprintf(host, sizeof(host), "host-%06ld", g->first_host + k);
		snprintf(arn, sizeof(arn), "arn:aws:codedeploy:us-east-1:123456789012:instance/%s", host);
		r = store_eng_target_insert(tx, id, host, (int)k, arn, "Pending", NULL, NULL, t);
		for (int e = 0; r == 0 && e < EVENTS_PER_TARGET; e++)
			r = store_eng_event_insert(tx, id, host, e, event_names[e], "Pending");
		for (int e = 0; r == 0 && e < EVENTS_PER_TARGET; e++) {
			bool skip = !strcmp(tstatus, "Skipped") || (k == fail_target && e > fail_event);
			const char *es = skip				       ? "Skipped"
					 : k == fail_target && e == fail_event ? "Failed"
									       : "Succeeded";
			int64_t id_cmd, t0 = t, t1 = t + 150 + rng_below(event_scripts[e] ? 4000 : 600);
			json_t *diag, *payload;
			if (skip) {
				r = store_eng_event_update(tx, id, host, e, es, 0, 0, NULL);
				n->events++;
				continue;
			}
			r = store_eng_cmd_insert(tx, host, id, host, e, event_names[e], t0, &id_cmd);
			diag = diagnostics(es, event_scripts[e], i);
			payload = json_pack("{s:i,s:s,s:s,s:s}", "error_code", strcmp(es, "Succeeded") ? 1 : 0,
					    "script_name", event_scripts[e] ? event_scripts[e] : "", "message", es,
					    "log", json_string_value(json_object_get(diag, "logTail")));
			if (r == 0)
				r = store_eng_cmd_update(tx, id_cmd, es, t0 + 40, t1, payload);
			if (r == 0)
				r = store_eng_event_update(tx, id, host, e, es, t0, t1, diag);
			json_decref(diag);
			json_decref(payload);
			t = t1 + 20;
			n->events++;
			n->commands++;
		}
		if (r == 0)
			r = store_eng_target_status(tx, id, host, tstatus, t);
		ok += !strcmp(tstatus, "Succeeded");
		failed += !strcmp(tstatus, "Failed");
		skipped += !strcmp(tstatus, "Skipped");
		n->targets++;
	}
	if (r == 0) {
		json_t *ov =
		    json_pack("{s:i,s:i,s:I,s:I,s:I,s:i}", "Pending", 0, "InProgress", 0, "Succeeded", (json_int_t)ok,
			      "Failed", (json_int_t)failed, "Skipped", (json_int_t)skipped, "Ready", 0);
		r = store_eng_deployment_overview(tx, id, ov);
		json_decref(ov);
	}
	if (r == 0)
		r = store_eng_deployment_status(
		    tx, id, dep_status[kind], start, t,
		    kind == 1	? "HEALTH_CONSTRAINTS"
		    : kind == 2 ? "DEPLOYMENT_STOPPED"
				: NULL,
		    kind == 1
			? "The overall deployment failed because too many individual instances failed deployment, "
			  "too few healthy instances are available for deployment, or some instances in your "
			  "deployment group are experiencing problems."
		    : kind == 2 ? "Deployment was stopped by the user"
				: NULL);
	n->by_status[kind]++;
	n->deployments++;
	g->n_deployments++;
	return r;
}

struct sizes {
	int64_t small_bytes;
	int small_n;
};

static void print_size(const char *name, int64_t bytes, int64_t rows, void *ud)
{
	struct sizes *sz = ud;

	if (bytes < 64 * 1024) {
		sz->small_bytes += bytes;
		sz->small_n++;
	} else if (rows >= 0) {
		printf("  table %-36s %8.1f MB %10" PRId64 " rows\n", name, bytes / 1048576.0, rows);
	} else {
		printf("  index %-36s %8.1f MB\n", name, bytes / 1048576.0);
	}
}

int main(int argc, char **argv)
{
	struct rd_error err = RD_ERROR_INIT;
	struct store *st = NULL;
	struct counts n = {0};
	struct opts o;
	struct group *groups;
	long n_groups, small_groups, hosts_per_small, targets_small, next_host = 0;
	int64_t now = rd_wall_ms(), t0 = rd_mono_ms(), span = 365 * DAY_MS;
	char path[4096], first_big[12] = "", mid_id[12] = "", last_id[12] = "";
	int r;

	if (parse(argc, argv, &o) < 0)
		return 2;
	rng_state = o.seed * 0x9E3779B97F4A7C15ULL + 1;
	if (mkdir(o.data_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "history-gen: cannot create %s: %s\n", o.data_dir, strerror(errno));
		return 1;
	}
	r = store_open(o.data_dir, &st, &err);
	if (r < 0) {
		fprintf(stderr, "history-gen: %s\n", err.message);
		return 1;
	}

	/* Targets to spread over the small groups' deployments so that the
	 * events add up to --events. */
	n_groups = o.apps * o.groups;
	small_groups = o.big_deployments > 0 ? n_groups - 1 : n_groups;
	targets_small = o.events / EVENTS_PER_TARGET - o.big_deployments * o.big_hosts;
	if (targets_small < o.deployments - o.big_deployments)
		targets_small = o.deployments - o.big_deployments;
	hosts_per_small =
	    (targets_small + (o.deployments - o.big_deployments) - 1) / (o.deployments - o.big_deployments);
	groups = calloc((size_t)n_groups, sizeof(*groups));
	if (!groups)
		return 1;
	for (long a = 0; a < o.apps; a++) {
		char id[37];
		snprintf(groups[a * o.groups].app, sizeof(groups->app), "app-%02ld", a);
		r = store_app_create(st, groups[a * o.groups].app, "Server", id);
		for (long k = 0; r == 0 && k < o.groups; k++) {
			struct group *g = &groups[a * o.groups + k];
			bool big = o.big_deployments > 0 && a == 0 && k == 0;
			json_t *doc = json_pack(
			    "{s:s,s:{s:s,s:s},s:[[{s:s,s:s,s:s}]],s:{s:b,s:[s]}}", "serviceRoleArn",
			    "arn:aws:iam::123456789012:role/CodeDeployServiceRole", "deploymentStyle", "deploymentType",
			    "IN_PLACE", "deploymentOption", "WITHOUT_TRAFFIC_CONTROL", "onPremisesTagSet", "Key",
			    "role", "Value", big ? "fleet" : "web", "Type", "KEY_AND_VALUE",
			    "autoRollbackConfiguration", "enabled", 1, "events", "DEPLOYMENT_FAILURE");
			if (k)
				strcpy(g->app, groups[a * o.groups].app);
			if (big)
				strcpy(g->name, "fleet");
			else
				snprintf(g->name, sizeof(g->name), "group-%ld", k);
			g->first_host = next_host;
			g->n_hosts = big ? o.big_hosts : hosts_per_small;
			next_host += g->n_hosts;
			r = store_group_create(st, g->app, g->name, "CodeDeployDefault.OneAtATime", doc, id);
			json_decref(doc);
		}
		if (r < 0) {
			fprintf(stderr,
				"history-gen: cannot create application %s or its groups: %s (use an empty "
				"data_dir)\n",
				groups[a * o.groups].app, strerror(-r));
			return 1;
		}
	}
	for (long h = 0; h < next_host; h++) {
		char name[64], arn[128], iarn[160];
		snprintf(name, sizeof(name), "host-%06ld", h);
		snprintf(arn, sizeof(arn), "arn:aws:iam::123456789012:user/%s", name);
		snprintf(iarn, sizeof(iarn), "arn:aws:codedeploy:us-east-1:123456789012:instance/%s", name);
		r = store_instance_register(st, name, NULL, arn, iarn);
		if (r < 0) {
			fprintf(stderr, "history-gen: cannot register instance %s: %s\n", name, strerror(-r));
			return 1;
		}
	}

	/* Deployments oldest first, one transaction per batch. Small groups
	 * take turns; the big group gets every (N / big)-th deployment; each
	 * small deployment goes to part of its group's hosts so that the
	 * targets add up. */
	long small_i = 0, big_every = o.big_deployments ? o.deployments / o.big_deployments : 0;
	for (long i = 0; i < o.deployments;) {
		struct store_tx *tx;
		r = store_eng_begin(st, &tx);
		for (long b = 0; r == 0 && b < DEPLOYMENTS_PER_TX && i < o.deployments; b++, i++) {
			int64_t create =
			    now - span + (span / o.deployments) * i + rng_below(span / o.deployments / 2 + 1);
			bool big =
			    big_every && i % big_every == big_every - 1 && groups[0].n_deployments < o.big_deployments;
			struct group *g =
			    big ? &groups[0] : &groups[(o.big_deployments ? 1 : 0) + small_i % small_groups];
			long want, hosts = g->n_hosts;
			char id[12];
			if (!big) {
				/* Bresenham over the small deployments */
				want = (small_i + 1) * targets_small / (o.deployments - o.big_deployments) -
				       small_i * targets_small / (o.deployments - o.big_deployments);
				g->n_hosts = want < 1 ? 1 : want > hosts ? hosts : want;
				small_i++;
			}
			r = write_deployment(tx, &o, g, i, create, &n, id);
			g->n_hosts = hosts;
			if (big && !first_big[0])
				memcpy(first_big, id, 12);
			if (i == o.deployments / 2)
				memcpy(mid_id, id, 12);
			memcpy(last_id, id, 12);
		}
		if (r == 0)
			r = store_eng_commit(tx);
		else
			store_eng_rollback(tx);
		if (r < 0) {
			fprintf(stderr, "history-gen: writing deployment %ld failed: %s\n", i, strerror(-r));
			return 1;
		}
		if (i % 10000 == 0 || i == o.deployments) {
			fprintf(stderr, "\r%ld deployments, %ld events, %.0f s", n.deployments, n.events,
				(rd_mono_ms() - t0) / 1000.0);
			fflush(stderr);
		}
	}
	fprintf(stderr, "\n");
	double secs = (rd_mono_ms() - t0) / 1000.0;

	printf("history-gen: %ld deployments (%ld Succeeded, %ld Failed, %ld Stopped), %ld targets, %ld lifecycle "
	       "events, %ld host commands in %.1f s (%.0f events/s)\n",
	       n.deployments, n.by_status[0], n.by_status[1], n.by_status[2], n.targets, n.events, n.commands, secs,
	       n.events / (secs > 0 ? secs : 1));
	printf("%ld applications x %ld groups; group %s/%s has %ld hosts and %ld deployments; the others %ld hosts "
	       "each\n",
	       o.apps, o.groups, groups[0].app, groups[0].name, groups[0].n_hosts, groups[0].n_deployments,
	       hosts_per_small);
	printf("tables and indexes:\n");
	struct sizes sz = {0};
	r = store_size_report(st, print_size, &sz);
	if (r == 0)
		printf("  %d others under 64 KB each: %.1f MB together\n", sz.small_n, sz.small_bytes / 1048576.0);
	if (r < 0)
		fprintf(stderr, "history-gen: cannot read the store's sizes: %s\n", strerror(-r));
	st = store_close(st);

	struct stat sb;
	int64_t db = 0;
	snprintf(path, sizeof(path), "%s/state.db", o.data_dir);
	if (stat(path, &sb) == 0)
		db = sb.st_size;
	printf("state.db: %.1f MB, %.0f bytes per deployment, %.0f bytes per lifecycle event\n", db / 1048576.0,
	       (double)db / (double)(n.deployments ? n.deployments : 1),
	       (double)db / (double)(n.events ? n.events : 1));

	json_t *apps = json_array(), *summary;
	for (long g = 0; g < n_groups; g++)
		json_array_append_new(apps,
				      json_pack("{s:s,s:s,s:I}", "application", groups[g].app, "group", groups[g].name,
						"deployments", (json_int_t)groups[g].n_deployments));
	summary = json_pack("{s:I,s:I,s:I,s:I,s:f,s:I,s:f,s:o,s:s,s:I,s:s,s:s,s:I,s:I}", "deployments",
			    (json_int_t)n.deployments, "targets", (json_int_t)n.targets, "events", (json_int_t)n.events,
			    "host_commands", (json_int_t)n.commands, "seconds", secs, "db_bytes", (json_int_t)db,
			    "bytes_per_deployment", (double)db / (double)(n.deployments ? n.deployments : 1), "groups",
			    apps, "big_deployment", first_big, "big_hosts", (json_int_t)o.big_hosts, "mid_deployment",
			    mid_id, "last_deployment", last_id, "first_create_ms", (json_int_t)(now - span),
			    "last_create_ms", (json_int_t)now);
	char *s = json_dumps(summary, JSON_COMPACT);
	snprintf(path, sizeof(path), "%s/history-gen.json", o.data_dir);
	FILE *f = fopen(path, "w");
	if (f) {
		fprintf(f, "%s\n", s);
		fclose(f);
	}
	printf("%s\n", s);
	free(s);
	json_decref(summary);
	free(groups);
	return 0;
}
