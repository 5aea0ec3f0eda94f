/* traffic-ctl: drives daemon/traffic/traffic.c and the traffic plugin through the
 * real config loader, plugin loader and host table, without the engine, so
 * integration tests can exercise a real HAProxy.
 *
 *   traffic-ctl --config FILE --group JSON COMMAND ...
 *     block INSTANCE [--drain-ms N]     BlockTraffic (drain, wait, maint)
 *     allow INSTANCE                    AllowTraffic
 *     state INSTANCE                    the plugin's state in each backend
 *     weight INSTANCE N                 set the weight in each backend
 *     prepare --green A,B               green out of service
 *     reroute --blue A,B --green C,D    green in, blue out
 *     flipback --blue A,B --green C,D   blue in, green out
 *     shift --blue A,B --green C,D --routing JSON [--alarm-file PATH]
 *           [--minute-ms N] [--poll-ms N]   weighted shift; ALARM while PATH exists
 *
 * Prints JSON lines: progress {"percent": P, "ms": T} during shift, then one
 * result {"ok": true, ...} or {"ok": false, "errorCode", "message"}; exits 0
 * on success, 1 on failure, 2 on usage/config errors. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/conf.h"
#include "core/plugins.h"
#include "traffic/traffic.h"

static int64_t t0;

static int64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Splits "a,b,c" in place. */
static size_t split(char *s, const char **v, size_t max)
{
	size_t n = 0;
	char *save = NULL;
	for (char *t = s ? strtok_r(s, ",", &save) : NULL; t && n < max; t = strtok_r(NULL, ",", &save))
		v[n++] = t;
	return n;
}

static int check_alarm(void *ud, char *reason, size_t len)
{
	const char *path = ud;
	if (path && access(path, F_OK) == 0) {
		snprintf(reason, len, "alarm file %s exists (test alarm in ALARM)", path);
		return 1;
	}
	return 0;
}

static void progress(void *ud, unsigned p)
{
	printf("{\"percent\": %u, \"ms\": %lld}\n", p, (long long)(mono() - t0));
	fflush(stdout);
}

static void result(int r, const struct rollout_error *err, const char *extra)
{
	if (r == 0)
		printf("{\"ok\": true%s%s}\n", extra ? ", " : "", extra ? extra : "");
	else {
		json_t *o = json_pack("{s:b, s:s, s:s, s:i}", "ok", 0, "errorCode", err->code, "message", err->message,
				      "errno", -r);
		char *t = json_dumps(o, JSON_COMPACT);
		printf("%s\n", t);
		free(t);
		json_decref(o);
	}
}

static const char *state_name(enum rollout_traffic_state s)
{
	switch (s) {
	case ROLLOUT_TRAFFIC_ALLOWED:
		return "ALLOWED";
	case ROLLOUT_TRAFFIC_DRAINING:
		return "DRAINING";
	case ROLLOUT_TRAFFIC_BLOCKED:
		return "BLOCKED";
	case ROLLOUT_TRAFFIC_ABSENT:
		return "ABSENT";
	default:
		return "UNKNOWN";
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},	 {"group", required_argument, NULL, 'g'},
	    {"blue", required_argument, NULL, 'b'},	 {"green", required_argument, NULL, 'G'},
	    {"routing", required_argument, NULL, 'r'},	 {"alarm-file", required_argument, NULL, 'a'},
	    {"minute-ms", required_argument, NULL, 'm'}, {"poll-ms", required_argument, NULL, 'p'},
	    {"drain-ms", required_argument, NULL, 'd'},	 {0},
	};
	const char *config = NULL, *group = NULL, *routing = NULL, *alarm = NULL, *blue_s = NULL, *green_s = NULL;
	int64_t minute_ms = 0, poll_ms = 200, drain_ms = 10000;
	struct rd_config *cfg = NULL;
	struct plugin_registry *reg = NULL;
	struct traffic_group *g = NULL;
	struct rollout_error err = {.size = sizeof(err)};
	struct rd_error rerr = RD_ERROR_INIT;
	char *bcopy = NULL, *gcopy = NULL;
	const char *blue[64], *green[64], *cmd;
	size_t nb, ng;
	int o, r, ret = 2;

	t0 = mono();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			config = optarg;
			break;
		case 'g':
			group = optarg;
			break;
		case 'b':
			blue_s = optarg;
			break;
		case 'G':
			green_s = optarg;
			break;
		case 'r':
			routing = optarg;
			break;
		case 'a':
			alarm = optarg;
			break;
		case 'm':
			minute_ms = atoll(optarg);
			break;
		case 'p':
			poll_ms = atoll(optarg);
			break;
		case 'd':
			drain_ms = atoll(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!config || !group || optind >= argc) {
		fprintf(stderr, "usage: traffic-ctl --config FILE --group JSON COMMAND ...\n");
		return 2;
	}
	cmd = argv[optind];
	bcopy = blue_s ? strdup(blue_s) : NULL;
	gcopy = green_s ? strdup(green_s) : NULL;
	nb = split(bcopy, blue, 64);
	ng = split(gcopy, green, 64);
	if (config_load(config, &cfg, &rerr) < 0 || plugins_load_config(cfg, NULL, &reg, &rerr) < 0) {
		fprintf(stderr, "%s\n", rerr.message);
		goto out;
	}
	if (traffic_group_parse(reg, group, &g, &err) < 0) {
		result(-EINVAL, &err, NULL);
		ret = 1;
		goto out;
	}
	if (strcmp(cmd, "block") == 0 && optind + 1 < argc) {
		r = traffic_block(g, argv[optind + 1], drain_ms, &err);
	} else if (strcmp(cmd, "allow") == 0 && optind + 1 < argc) {
		r = traffic_allow(g, argv[optind + 1], &err);
	} else if (strcmp(cmd, "state") == 0 && optind + 1 < argc) {
		char extra[1024] = "\"states\": [";
		size_t l = strlen(extra);
		r = 0;
		for (size_t i = 0; i < g->nbackends && r == 0; i++) {
			enum rollout_traffic_state st;
			r = g->lb.ops->get_state(g->lb.state, g->backends[i], argv[optind + 1], &st, &err);
			if (r == 0)
				l += (size_t)snprintf(extra + l, sizeof(extra) - l, "%s\"%s\"", i ? ", " : "",
						      state_name(st));
		}
		snprintf(extra + l, sizeof(extra) - l, "]");
		result(r, &err, extra);
		ret = r ? 1 : 0;
		goto out;
	} else if (strcmp(cmd, "weight") == 0 && optind + 2 < argc) {
		r = 0;
		for (size_t i = 0; i < g->nbackends && r == 0; i++)
			r = g->lb.ops->set_weight(g->lb.state, g->backends[i], argv[optind + 1],
						  (uint32_t)atoi(argv[optind + 2]), &err);
	} else if (strcmp(cmd, "prepare") == 0) {
		r = traffic_bg_prepare(g, green, ng, drain_ms, &err);
	} else if (strcmp(cmd, "reroute") == 0) {
		r = traffic_bg_reroute(g, blue, nb, green, ng, drain_ms, &err);
	} else if (strcmp(cmd, "flipback") == 0) {
		r = traffic_bg_flip_back(g, blue, nb, green, ng, drain_ms, &err);
	} else if (strcmp(cmd, "shift") == 0) {
		struct traffic_routing rt;
		bool present;
		struct traffic_shift_opts so = {.minute_ms = minute_ms,
						.poll_ms = poll_ms,
						.drain_timeout_ms = drain_ms,
						.check = check_alarm,
						.progress = progress,
						.userdata = (void *)alarm};
		r = traffic_routing_parse(routing, &rt, &present, &err);
		if (r == 0)
			r = traffic_shift_run(g, blue, nb, green, ng, &rt, &so, &err);
	} else {
		fprintf(stderr, "traffic-ctl: unknown command or missing arguments: %s\n", cmd);
		goto out;
	}
	result(r, &err, NULL);
	ret = r ? 1 : 0;
out:
	fflush(stdout);
	traffic_group_free(g);
	plugins_unload(reg);
	config_free(cfg);
	free(bcopy);
	free(gcopy);
	return ret;
}
