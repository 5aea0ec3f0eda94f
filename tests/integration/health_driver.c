/* health-driver: drives the daemon's alarm and trigger modules with the real
 * config loader, plugin loader, host table and store, without the engine,
 * so integration tests can exercise the health plugins directly.
 *
 *   health-driver --config FILE check ALARM [--instance NAME]
 *       one check; prints {"state": "OK"|"ALARM"|"INSUFFICIENT_DATA",
 *       "reason"} or {"error": errno, "reason"}; exit 0 (1 on error)
 *   health-driver --config FILE watch GROUP_JSON [DEPLOYMENT_JSON] [--seconds N]
 *       alarms_watch_start for deployment d-DRIVER0001; prints
 *       {"watching": bool} at once, then {"fired": true, "rollback", "message",
 *       "afterMs"} when the watch stops the deployment, or {"fired": false}
 *       after N seconds (default 30)
 *   health-driver --config FILE gate GROUP_JSON [DEPLOYMENT_JSON] --instance NAME
 *       alarms_gate_instance; prints {"passed": bool, "reason", "afterMs"}
 *   health-driver --config FILE trigger EVENT GROUP_JSON INFO_JSON [--seconds N]
 *       triggers_fire, waits until delivered/failed (at most N s), prints the
 *       store's trigger_deliveries rows as a JSON array
 *   health-driver --config FILE resume [--seconds N]
 *       triggers_resume (deliveries left Pending), then as trigger
 *
 * Exit 2 on usage or config errors (message on stderr). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "health/alarms.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/plugins.h"
#include "store/store.h"
#include "store/store_health.h"
#include "health/triggers.h"
#include "util.h"

static void print_json(json_t *o)
{
	char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

	printf("%s\n", t ? t : "null");
	fflush(stdout);
	free(t);
	json_decref(o);
}

static const char *state_name(int s)
{
	return s == ROLLOUT_ALARM_OK ? "OK" : s == ROLLOUT_ALARM_ALARM ? "ALARM" : "INSUFFICIENT_DATA";
}

static struct {
	pthread_mutex_t m;
	pthread_cond_t c;
	bool fired, rollback;
	char msg[2048];
} W = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER};

static void on_stop(struct rd_daemon *d, const char *id, bool rollback, const char *message, void *ud)
{
	(void)d;
	(void)id;
	(void)ud;
	pthread_mutex_lock(&W.m);
	W.fired = true;
	W.rollback = rollback;
	snprintf(W.msg, sizeof(W.msg), "%s", message);
	pthread_cond_broadcast(&W.c);
	pthread_mutex_unlock(&W.m);
}

static json_t *parse_arg(const char *s, const char *what)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);

	if (!j)
		fprintf(stderr, "%s: not JSON: %s\n", what, je.text);
	return j;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"instance", required_argument, NULL, 'i'},
	    {"seconds", required_argument, NULL, 's'},
	    {0},
	};
	struct rd_daemon d = {0};
	const char *config = NULL, *instance = NULL, *cmd;
	int seconds = 30, o, ret = 2;
	struct rd_error rerr = RD_ERROR_INIT;

	while ((o = getopt_long(argc, argv, "c:i:s:", opts, NULL)) != -1) {
		if (o == 'c')
			config = optarg;
		else if (o == 'i')
			instance = optarg;
		else if (o == 's')
			seconds = atoi(optarg);
		else
			return 2;
	}
	if (!config || optind >= argc) {
		fprintf(stderr, "usage: health-driver --config FILE check|watch|trigger ...\n");
		return 2;
	}
	cmd = argv[optind++];
	if (config_load(config, &d.cfg, &rerr) < 0) {
		fprintf(stderr, "%s\n", rerr.message);
		return 2;
	}
	if (alarms_check_config(d.cfg, &rerr) < 0 || plugins_load(&d, &d.plugins, &rerr) < 0) {
		fprintf(stderr, "%s\n", rerr.message);
		goto out;
	}
	if (strcmp(cmd, "check") == 0 && optind == argc - 1) {
		char reason[1024] = "";
		int st = 0,
		    r = alarms_check_one(&d, "d-DRIVER0001", argv[optind], instance, &st, reason, sizeof(reason));
		if (r < 0)
			print_json(json_pack("{s:i,s:s}", "error", -r, "reason", reason));
		else
			print_json(json_pack("{s:s,s:s}", "state", state_name(st), "reason", reason));
		ret = r < 0 ? 1 : 0;
	} else if (strcmp(cmd, "watch") == 0 && (optind == argc - 1 || optind == argc - 2)) {
		json_t *g = parse_arg(argv[optind], "GROUP_JSON");
		json_t *dj = optind == argc - 2 ? parse_arg(argv[optind + 1], "DEPLOYMENT_JSON") : NULL;
		int64_t t0 = rd_mono_ms();
		struct timespec ts;
		int r;

		if (!g || (optind == argc - 2 && !dj)) {
			json_decref(g);
			json_decref(dj);
			goto out;
		}
		r = alarms_watch_start(&d, "d-DRIVER0001", "user", g, dj, on_stop, NULL);
		json_decref(g);
		json_decref(dj);
		if (r < 0) {
			fprintf(stderr, "alarms_watch_start: %s\n", strerror(-r));
			goto out;
		}
		print_json(json_pack("{s:b}", "watching", alarms_watching(&d, "d-DRIVER0001")));
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += seconds;
		pthread_mutex_lock(&W.m);
		while (!W.fired && pthread_cond_timedwait(&W.c, &W.m, &ts) == 0)
			;
		if (W.fired)
			print_json(json_pack("{s:b,s:b,s:s,s:I}", "fired", 1, "rollback", W.rollback, "message", W.msg,
					     "afterMs", (json_int_t)(rd_mono_ms() - t0)));
		else
			print_json(json_pack("{s:b}", "fired", 0));
		pthread_mutex_unlock(&W.m);
		alarms_watch_stop(&d, "d-DRIVER0001");
		alarms_shutdown(&d);
		ret = 0;
	} else if (strcmp(cmd, "gate") == 0 && instance && (optind == argc - 1 || optind == argc - 2)) {
		json_t *g = parse_arg(argv[optind], "GROUP_JSON");
		json_t *dj = optind == argc - 2 ? parse_arg(argv[optind + 1], "DEPLOYMENT_JSON") : NULL;
		int64_t t0 = rd_mono_ms();
		char reason[1024] = "";
		int r;

		if (!g || (optind == argc - 2 && !dj)) {
			json_decref(g);
			json_decref(dj);
			goto out;
		}
		r = alarms_gate_instance(&d, "d-DRIVER0001", g, dj, instance, reason, sizeof(reason));
		json_decref(g);
		json_decref(dj);
		if (r < 0) {
			fprintf(stderr, "alarms_gate_instance: %s\n", strerror(-r));
			goto out;
		}
		print_json(json_pack("{s:b,s:s,s:I}", "passed", r == 0, "reason", reason, "afterMs",
				     (json_int_t)(rd_mono_ms() - t0)));
		ret = 0;
	} else if ((strcmp(cmd, "trigger") == 0 && optind == argc - 3) ||
		   (strcmp(cmd, "resume") == 0 && optind == argc)) {
		bool resume = strcmp(cmd, "resume") == 0;
		json_t *g = resume ? NULL : parse_arg(argv[optind + 1], "GROUP_JSON");
		json_t *info = resume ? NULL : parse_arg(argv[optind + 2], "INFO_JSON");
		json_t *rows = NULL;
		int r;

		if (!resume && (!g || !info)) {
			json_decref(g);
			json_decref(info);
			goto out;
		}
		r = store_open(d.cfg->data_dir, &d.store, &rerr);
		if (r == 0)
			r = resume ? triggers_resume(&d) : triggers_fire(&d, argv[optind], g, info);
		json_decref(g);
		json_decref(info);
		if (r < 0) {
			fprintf(stderr, "trigger: %s\n", r == -EINVAL ? "unknown event" : rerr.message);
			goto out;
		}
		if (triggers_drain(&d, (int64_t)seconds * 1000) < 0)
			fprintf(stderr, "trigger: deliveries still pending after %d s\n", seconds);
		triggers_shutdown(&d);
		r = store_trigger_delivery_list(d.store, NULL, false, &rows);
		if (r < 0) {
			fprintf(stderr, "list: %s\n", strerror(-r));
			goto out;
		}
		print_json(rows);
		ret = 0;
	} else {
		fprintf(stderr, "usage: health-driver --config FILE check|watch|trigger ...\n");
	}
out:
	alarms_shutdown(&d);
	triggers_shutdown(&d);
	d.plugins = plugins_unload(d.plugins);
	d.store = store_close(d.store);
	d.cfg = config_free(d.cfg);
	return ret;
}
