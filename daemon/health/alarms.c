/* Alarm polling while a deployment runs. See alarms.h. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "health/alarm_check.h"
#include "health/alarms.h"
#include "core/metrics.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/plugin_alarm.h"
#include "core/plugins.h"
#include "log.h"
#include "util.h"
#include "yamltree.h"

#define TAG "alarms"

struct watched_alarm {
	char *name;
	const struct plugin *plugin; /* NULL: no definition and no fallback */
	char *settings_json;	     /* owned copy */
	int64_t interval_ms;
	int64_t next_due;	    /* monotonic ms */
	int last_state;		    /* 0 never polled, enum rollout_alarm_state, or -1 poll failed */
	bool insufficient_continue; /* on_insufficient_data: continue */
};

struct watch {
	struct watch *next;
	struct rd_daemon *d;
	char id[64];
	char app[128], group[128];
	struct watched_alarm *alarms;
	size_t n;
	bool ignore_failure, rollback;
	alarms_stop_fn fn;
	void *userdata;
	pthread_t thread;
	bool stopped; /* under M.lock: the thread must end */
	bool exited;  /* under M.lock: the thread has ended; join it */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC; broadcast on every stop */
	struct watch *list;  /* running watches */
	struct watch *dead;  /* stopped; joined and freed once exited */
	pthread_once_t once;
} M = {.lock = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT};

static void module_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&M.cond, &a);
	pthread_condattr_destroy(&a);
}

/* ---------------------------------------------------------------- helpers */

/* $ROLLOUTD_ALARM_INTERVAL_MS (milliseconds) changes the default, e.g. for tests. */
static int64_t default_interval_ms(void)
{
	const char *e = getenv("ROLLOUTD_ALARM_INTERVAL_MS");
	char *end;
	long long v;

	if (!e || !*e)
		return ALARMS_DEFAULT_INTERVAL_MS;
	v = strtoll(e, &end, 10);
	if (*end || v < ALARMS_MIN_INTERVAL_MS || v > ALARMS_MAX_INTERVAL_MS)
		return ALARMS_DEFAULT_INTERVAL_MS;
	return v;
}

bool alarms_rollback_on_alarm(const json_t *group_doc, const json_t *deployment_doc)
{
	const json_t *arc = json_object_get(deployment_doc, "autoRollbackConfiguration"), *ev;
	size_t i;

	if (!json_is_object(arc))
		arc = json_object_get(group_doc, "autoRollbackConfiguration");
	if (!json_is_true(json_object_get(arc, "enabled")))
		return false;
	json_array_foreach(json_object_get(arc, "events"), i, ev)
	{
		if (json_string_value(ev) && strcmp(json_string_value(ev), "DEPLOYMENT_STOP_ON_ALARM") == 0)
			return true;
	}
	return false;
}

/* The daemon's own keys of an alarm's settings; all unset when they do not
 * parse (the loader refused such settings at start already). */
static struct alarm_common common_of(const char *name, const char *settings_json)
{
	struct rollout_error e = {.size = sizeof(e)};
	struct alarm_common c = {0};
	json_t *root = NULL;

	if (alarm_common_parse_text(name, settings_json, &root, &c, &e) == 0) {
		c.plugin = c.description = c.instance = NULL; /* they point into root */
		json_decref(root);
	}
	return c;
}

/* Runs one check with the deployment as plugins see it. */
static int run_check(struct rd_daemon *d, const char *dep_id, const char *app, const char *group,
		     const struct plugin *p, const char *name, const char *settings_json, int *ret_state, char *reason,
		     size_t reasonlen)
{
	struct rollout_deployment dep =
	    ROLLOUT_DEPLOYMENT_INIT(.deployment_id = dep_id, .application_name = app && *app ? app : NULL,
				    .deployment_group_name = group && *group ? group : NULL,
				    .compute_platform = "Server", .region = d && d->cfg ? d->cfg->region : "us-east-1",
				    .account_id = d && d->cfg ? d->cfg->account_id : "000000000000");

	return alarm_check_run(p, &dep, name, settings_json, ret_state, reason, reasonlen);
}

/* ---------------------------------------------------------------- watches */

static struct watch *watch_free(struct watch *w)
{
	if (!w)
		return NULL;
	for (size_t i = 0; i < w->n; i++) {
		free(w->alarms[i].name);
		free(w->alarms[i].settings_json);
	}
	free(w->alarms);
	free(w);
	return NULL;
}

/* Moves w from the running list to the dead list and tells its thread. */
static void kill_locked(struct watch *w)
{
	w->stopped = true;
	for (struct watch **pp = &M.list; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			w->next = M.dead;
			M.dead = w;
			break;
		}
	pthread_cond_broadcast(&M.cond);
}

/* Joins (promptly: they have returned) and frees the exited dead watches. */
static void reap_locked(void)
{
	for (struct watch **pp = &M.dead; *pp;) {
		struct watch *w = *pp;
		if (!w->exited) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		pthread_join(w->thread, NULL);
		watch_free(w);
	}
}

static struct watch *find_locked(struct rd_daemon *d, const char *id)
{
	for (struct watch *w = M.list; w; w = w->next)
		if (w->d == d && strcmp(w->id, id) == 0)
			return w;
	return NULL;
}

/* Checks the due alarms of w (outside the lock). Returns true and fills msg
 * when the deployment must stop. */
static bool poll_due(struct watch *w, int64_t now, char *msg, size_t msglen)
{
	for (size_t i = 0; i < w->n; i++) {
		struct watched_alarm *a = &w->alarms[i];
		struct alarm_verdict v;
		char reason[768];
		int st = -1, r;

		if (a->next_due > now)
			continue;
		r = 0;
		if (!a->plugin) {
			pthread_mutex_lock(&M.lock); /* alarms_status reads a->plugin */
			r = alarm_resolve(w->d ? w->d->plugins : NULL, a->name, &a->plugin, &a->settings_json, reason,
					  sizeof(reason));
			pthread_mutex_unlock(&M.lock);
		}
		if (r == 0)
			r = run_check(w->d, w->id, w->app, w->group, a->plugin, a->name, a->settings_json, &st, reason,
				      sizeof(reason));
		a->next_due = rd_mono_ms() + a->interval_ms;
		if (r < 0)
			st = -1;
		if (st != a->last_state)
			rd_logt(st == ROLLOUT_ALARM_OK ? LOG_INFO : LOG_WARNING, TAG, "%s: alarm %s (%s) is %s: %s",
				w->id, a->name, a->plugin ? a->plugin->name : "undefined", alarm_state_name(st),
				reason);
		pthread_mutex_lock(&M.lock);
		a->last_state = st;
		pthread_mutex_unlock(&M.lock);
		if (!alarm_must_stop(st, w->ignore_failure, a->insufficient_continue))
			continue; /* logged above on every change */
		v = (struct alarm_verdict){.name = a->name, .state = st};
		snprintf(v.reason, sizeof(v.reason), "%s", reason);
		alarm_verdict_message(&v, msg, msglen);
		return true;
	}
	return false;
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	char msg[1400];

	pthread_mutex_lock(&M.lock);
	while (!w->stopped) {
		int64_t now = rd_mono_ms(), due = INT64_MAX;
		bool fire;

		for (size_t i = 0; i < w->n; i++)
			if (w->alarms[i].next_due < due)
				due = w->alarms[i].next_due;
		if (due > now) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (due - now) / 1000;
			ts.tv_nsec += ((due - now) % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&M.cond, &M.lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&M.lock);
		fire = poll_due(w, now, msg, sizeof(msg));
		pthread_mutex_lock(&M.lock);
		if (fire && !w->stopped) {
			kill_locked(w);
			pthread_mutex_unlock(&M.lock);
			rd_logt(LOG_NOTICE, TAG, "%s: stopping the deployment (ALARM_ACTIVE%s): %s", w->id,
				w->rollback ? ", then rolling back" : "", msg);
			if (w->fn)
				w->fn(w->d, w->id, w->rollback, msg, w->userdata);
			pthread_mutex_lock(&M.lock);
		}
	}
	w->exited = true;
	pthread_cond_broadcast(&M.cond);
	pthread_mutex_unlock(&M.lock);
	return NULL;
}

int alarms_watch_start(struct rd_daemon *d, const char *deployment_id, const char *creator, const json_t *group_doc,
		       const json_t *deployment_doc, alarms_stop_fn fn, void *userdata)
{
	const json_t *ac = alarms_effective_config(group_doc, deployment_doc), *al;
	struct watch *w = NULL;
	int64_t def = default_interval_ms(), now = rd_mono_ms();
	size_t i;
	int r;

	pthread_once(&M.once, module_init);
	if (!deployment_id || strlen(deployment_id) >= sizeof(w->id))
		return -EINVAL;
	if (creator && strcmp(creator, "codeDeployRollback") == 0)
		return 0;
	if (!alarms_config_active(ac))
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->d = d;
	snprintf(w->id, sizeof(w->id), "%s", deployment_id);
	snprintf(w->app, sizeof(w->app), "%s", json_string_value(json_object_get(group_doc, "applicationName")) ?: "");
	snprintf(w->group, sizeof(w->group), "%s",
		 json_string_value(json_object_get(group_doc, "deploymentGroupName")) ?: "");
	w->ignore_failure = json_is_true(json_object_get(ac, "ignorePollAlarmFailure"));
	w->rollback = alarms_rollback_on_alarm(group_doc, deployment_doc);
	w->fn = fn;
	w->userdata = userdata;
	w->alarms = calloc(json_array_size(json_object_get(ac, "alarms")), sizeof(*w->alarms));
	if (!w->alarms) {
		r = -ENOMEM;
		goto fail;
	}
	json_array_foreach(json_object_get(ac, "alarms"), i, al)
	{
		struct watched_alarm *a = &w->alarms[w->n];
		const char *name = json_string_value(json_object_get(al, "name"));
		char err[512];

		if (!name || !*name)
			continue;
		if (!(a->name = strdup(name))) {
			r = -ENOMEM;
			goto fail;
		}
		a->interval_ms = def;
		a->next_due = now;
		w->n++;
		r = alarm_resolve(d ? d->plugins : NULL, name, &a->plugin, &a->settings_json, err, sizeof(err));
		if (r == -ENOMEM)
			goto fail;
		if (r == 0) {
			struct alarm_common c = common_of(name, a->settings_json);
			a->interval_ms = c.interval_ms ? c.interval_ms : def;
			a->insufficient_continue = c.insufficient_continue;
		}
		/* an unresolved name is retried at each poll: a failed poll */
	}
	if (w->n == 0) {
		watch_free(w);
		return 0;
	}
	pthread_mutex_lock(&M.lock);
	reap_locked();
	if (find_locked(d, deployment_id)) {
		pthread_mutex_unlock(&M.lock);
		watch_free(w);
		return -EEXIST;
	}
	r = -pthread_create(&w->thread, NULL, watch_main, w);
	if (r < 0) {
		pthread_mutex_unlock(&M.lock);
		goto fail;
	}
	w->next = M.list;
	M.list = w;
	pthread_mutex_unlock(&M.lock);
	rd_logt(LOG_INFO, TAG, "%s: polling %zu alarm(s)%s%s", deployment_id, w->n,
		w->ignore_failure ? ", ignoring poll failures" : "", w->rollback ? ", rollback on alarm" : "");
	return 0;
fail:
	watch_free(w);
	return r;
}

void alarms_watch_stop(struct rd_daemon *d, const char *deployment_id)
{
	struct watch *w;

	if (!deployment_id)
		return;
	pthread_once(&M.once, module_init);
	pthread_mutex_lock(&M.lock);
	w = find_locked(d, deployment_id);
	if (w)
		kill_locked(w);
	reap_locked();
	pthread_mutex_unlock(&M.lock);
}

bool alarms_watching(struct rd_daemon *d, const char *deployment_id)
{
	bool r;

	pthread_once(&M.once, module_init);
	pthread_mutex_lock(&M.lock);
	r = deployment_id && find_locked(d, deployment_id) != NULL;
	pthread_mutex_unlock(&M.lock);
	return r;
}

void alarms_shutdown(struct rd_daemon *d)
{
	pthread_once(&M.once, module_init);
	pthread_mutex_lock(&M.lock);
	for (struct watch *w = M.list, *next; w; w = next) {
		next = w->next;
		if (w->d == d)
			kill_locked(w);
	}
	for (;;) {
		bool running = false;
		reap_locked();
		for (struct watch *w = M.dead; w; w = w->next)
			running = running || w->d == d;
		if (!running)
			break;
		pthread_cond_wait(&M.cond, &M.lock);
	}
	pthread_mutex_unlock(&M.lock);
}

int alarms_check_one(struct rd_daemon *d, const char *deployment_id, const char *name, const char *instance,
		     int *ret_state, char *reason, size_t reasonlen)
{
	const struct plugin *p;
	char *settings = NULL;
	int st, r;

	r = alarm_resolve(d ? d->plugins : NULL, name, &p, &settings, reason, reasonlen);
	if (r < 0)
		return r;
	if (instance) {
		json_t *j = json_loads(settings, 0, NULL);
		char *s2;
		if (!j || json_object_set_new(j, "instance", json_string(instance)) < 0 ||
		    !(s2 = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS))) {
			json_decref(j);
			free(settings);
			return -ENOMEM;
		}
		json_decref(j);
		free(settings);
		settings = s2;
	}
	r = run_check(d, deployment_id, NULL, NULL, p, name, settings, &st, reason, reasonlen);
	free(settings);
	if (r == 0)
		*ret_state = st;
	return r;
}

int alarms_gate_instance(struct rd_daemon *d, const char *deployment_id, const json_t *group_doc,
			 const json_t *deployment_doc, const char *instance, char *reason, size_t reasonlen)
{
	const json_t *ac = alarms_effective_config(group_doc, deployment_doc), *al;
	size_t i;

	if (!instance)
		return -EINVAL;
	if (!alarms_config_active(ac))
		return 0;
	json_array_foreach(json_object_get(ac, "alarms"), i, al)
	{
		const char *name = json_string_value(json_object_get(al, "name"));
		const struct plugin *p = NULL;
		const char *settings = NULL;
		struct alarm_common c;
		int64_t timeout, end;

		if (!name || !d || !d->plugins || plugins_alarm(d->plugins, name, &p, &settings) < 0)
			continue; /* only defined alarms can be gates */
		c = common_of(name, settings);
		if (!c.gate)
			continue;
		timeout = c.gate_timeout_ms;
		end = rd_mono_ms() + timeout;
		for (;;) {
			char why[768] = "";
			int st = -1, r = alarms_check_one(d, deployment_id, name, instance, &st, why, sizeof(why));
			if (r == -ENOMEM)
				return r;
			if (r == 0 && st == ROLLOUT_ALARM_OK)
				break;
			if (rd_mono_ms() >= end || (d && d->stopping)) {
				snprintf(reason, reasonlen, "Health gate %s is %s for instance %s%s: %s", name,
					 r < 0 ? "POLL_FAILED" : alarm_state_name(st), instance,
					 timeout ? " at the end of its gate_timeout" : "", why);
				return 1;
			}
			{
				int64_t ms = end - rd_mono_ms();
				struct timespec ts;
				ms = ms > 1000 ? 1000 : ms < 1 ? 1 : ms;
				ts.tv_sec = ms / 1000;
				ts.tv_nsec = (long)(ms % 1000) * 1000000L;
				nanosleep(&ts, NULL);
			}
		}
	}
	return 0;
}

int alarms_status(struct rd_daemon *d, const char *deployment_id, json_t **ret)
{
	struct watch *w;
	json_t *arr;
	int r = 0;

	pthread_once(&M.once, module_init);
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	pthread_mutex_lock(&M.lock);
	w = deployment_id ? find_locked(d, deployment_id) : NULL;
	if (!w)
		r = -ENOENT;
	for (size_t i = 0; w && i < w->n; i++) {
		const struct watched_alarm *a = &w->alarms[i];
		json_array_append_new(
		    arr, json_pack("{s:s,s:s,s:s}", "name", a->name, "plugin", a->plugin ? a->plugin->name : "",
				   "state", a->last_state == 0 ? "NOT_POLLED" : alarm_state_name(a->last_state)));
	}
	pthread_mutex_unlock(&M.lock);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*ret = arr;
	return 0;
}

/* ---------------------------------------------------------------- config */

int alarms_check_config(const struct rd_config *cfg, struct rd_error *e)
{
	const struct yt_node *a = cfg ? cfg->alarms : NULL;
	char err[sizeof(e->message)] = ""; /* the YAML tree's FILE:LINE:COL messages */
	size_t errlen = sizeof(err);

	if (!a || a->type != YT_MAP)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct yt_node *v = a->items[i], *n;
		char what[320];
		int64_t ms;
		int r;

		if (v->type != YT_MAP)
			continue; /* conf.c already refused it */
		snprintf(what, sizeof(what), "alarms.%s.interval", a->keys[i]->value);
		n = yt_map_get(v, "interval");
		if (n && (r = yt_as_duration_ms(n, what, ALARMS_MIN_INTERVAL_MS, ALARMS_MAX_INTERVAL_MS, &ms, err,
						errlen)) < 0)
			return rd_error_set(e, r, "ConfigError", "%s", err);
		n = yt_map_get(v, "description");
		snprintf(what, sizeof(what), "alarms.%s.description", a->keys[i]->value);
		if (n) {
			const char *s;
			if ((r = yt_as_string(n, what, &s, err, errlen)) < 0)
				return rd_error_set(e, r, "ConfigError", "%s", err);
		}
	}
	return 0;
}
