/* sources-fetch: drives the daemon's bundle cache (daemon/bundles/bundles.c) with the
 * real config loader, plugin loader and host table, without the HTTP side,
 * so integration tests can exercise source plugins and pre-flight directly.
 *
 *   sources-fetch --config FILE [--parallel N] [--platform Server|Lambda|ECS] REVISION_JSON
 *
 * Prints one JSON object per call: {"ok": true, "sha256", "size",
 * "bundleType", "path"} or {"ok": false, "errorCode", "message"}; exits 0
 * when every call succeeded, 1 otherwise, 2 on usage/config errors. */
#include "config.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "bundles/bundles.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/error.h"
#include "core/plugins.h"

struct job {
	struct rd_daemon *d;
	const char *rev;
	const char *platform;
	int r;
	struct cached_bundle b;
	struct rd_error err;
};

static void *run(void *arg)
{
	struct job *j = arg;

	j->r = bundles_ensure_platform(j->d, j->rev, j->platform, &j->b, &j->err);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"parallel", required_argument, NULL, 'p'},
	    {"platform", required_argument, NULL, 'P'},
	    {0},
	};
	struct rd_daemon d = {0};
	const char *config = NULL, *platform = NULL;
	struct job *jobs = NULL;
	pthread_t *t = NULL;
	struct rd_error e = RD_ERROR_INIT;
	struct rd_error rerr = RD_ERROR_INIT;
	int n = 1, i, o, ret = 2;

	while ((o = getopt_long(argc, argv, "c:p:P:", opts, NULL)) != -1) {
		if (o == 'c')
			config = optarg;
		else if (o == 'P')
			platform = optarg;
		else if (o == 'p')
			n = atoi(optarg);
		else
			return 2;
	}
	if (!config || optind != argc - 1 || n < 1 || n > 64) {
		fprintf(stderr, "usage: sources-fetch --config FILE [--parallel N] [--platform P] REVISION_JSON\n");
		return 2;
	}
	if (config_load(config, &d.cfg, &rerr) < 0) {
		fprintf(stderr, "%s\n", rerr.message);
		return 2;
	}
	if (plugins_load(&d, &d.plugins, &rerr) < 0) {
		fprintf(stderr, "%s\n", rerr.message);
		goto out;
	}
	if (bundles_start(&d, &e) < 0) {
		fprintf(stderr, "%s\n", e.message);
		goto out;
	}
	jobs = calloc((size_t)n, sizeof(*jobs));
	t = calloc((size_t)n, sizeof(*t));
	if (!jobs || !t)
		goto out;
	for (i = 0; i < n; i++) {
		jobs[i].d = &d;
		jobs[i].rev = argv[optind];
		jobs[i].platform = platform;
		pthread_create(&t[i], NULL, run, &jobs[i]);
	}
	ret = 0;
	for (i = 0; i < n; i++) {
		json_t *o2;
		char *txt, path[4096] = "";
		pthread_join(t[i], NULL);
		if (jobs[i].r == 0) {
			bundles_path(&d, jobs[i].b.sha256, path, sizeof(path));
			o2 = json_pack("{s:b, s:s, s:I, s:s, s:s}", "ok", 1, "sha256", jobs[i].b.sha256, "size",
				       (json_int_t)jobs[i].b.size, "bundleType", jobs[i].b.bundle_type, "path", path);
		} else {
			o2 = json_pack("{s:b, s:s, s:s}", "ok", 0, "errorCode", jobs[i].err.code, "message",
				       jobs[i].err.message);
			ret = 1;
		}
		txt = json_dumps(o2, JSON_COMPACT);
		printf("%s\n", txt);
		free(txt);
		json_decref(o2);
	}
out:
	free(jobs);
	free(t);
	bundles_stop(&d);
	d.plugins = plugins_unload(d.plugins);
	d.cfg = config_free(d.cfg);
	return ret;
}
