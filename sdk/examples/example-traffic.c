/* example-traffic: a traffic plugin keeping its backends in memory.
 * It shows the traffic contract and the locking that concurrent ops need
 * (several workers may call into one plugin at the same time).
 *
 *     plugins:
 *       example-traffic:
 *         drain_time: 100ms   # how long a blocked target stays DRAINING
 *
 * A real plugin (haproxy, elb) talks to the load balancer instead. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rollout/plugin.h>

#define MAX_ENTRIES 1024

struct entry {
	char backend[128];
	char target[128];
	bool blocked;
	int64_t blocked_at_ms;
	uint32_t weight;
};

struct state {
	const struct rollout_host *host;
	struct rollout_handle *h;
	int64_t drain_ms;
	pthread_mutex_t lock;
	struct entry *v;
	size_t n;
};

static const struct rollout_option options[] = {
    {.name = "drain_time",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct state, drain_ms),
     .min = 0,
     .max = 600000,
     .def = "100ms"},
    ROLLOUT_OPTION_END,
};

static int init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err, size_t errlen)
{
	struct state *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->host = host;
	s->h = h;
	if ((r = rollout_config_parse(host, h, options, s, err, errlen)) < 0) {
		free(s);
		return r;
	}
	pthread_mutex_init(&s->lock, NULL);
	*ret_state = s;
	return 0;
}

static void destroy(void *state)
{
	struct state *s = state;

	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s->v);
	free(s);
}

/* Finds (or with create, adds) an entry. Called with the lock held. */
static struct entry *find(struct state *s, const char *backend, const char *target, bool create)
{
	struct entry *e;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].backend, backend) == 0 && strcmp(s->v[i].target, target) == 0)
			return &s->v[i];
	if (!create || s->n >= MAX_ENTRIES || strlen(backend) >= 128 || strlen(target) >= 128)
		return NULL;
	e = realloc(s->v, (s->n + 1) * sizeof(*e));
	if (!e)
		return NULL;
	s->v = e;
	e = &s->v[s->n++];
	memset(e, 0, sizeof(*e));
	strcpy(e->backend, backend);
	strcpy(e->target, target);
	e->weight = 1;
	return e;
}

static int set_blocked(struct state *s, const char *backend, const char *target, bool blocked,
		       struct rollout_error *err)
{
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	e = find(s, backend, target, true);
	if (e) {
		e->blocked = blocked;
		e->blocked_at_ms = s->host->mono_ms();
	}
	pthread_mutex_unlock(&s->lock);
	if (!e)
		return rollout_error_set(err, -ENOSPC, "TRAFFIC_ERROR",
					 "cannot track %s in %s: names over 127 "
					 "characters or more than %d entries",
					 target, backend, MAX_ENTRIES);
	s->host->log(s->h, LOG_INFO, "%s %s in %s", blocked ? "blocked" : "allowed", target, backend);
	return 0;
}

static int block(void *state, const char *backend, const char *target, struct rollout_error *err)
{
	return set_blocked(state, backend, target, true, err);
}

static int allow(void *state, const char *backend, const char *target, struct rollout_error *err)
{
	return set_blocked(state, backend, target, false, err);
}

static int get_state(void *state, const char *backend, const char *target, enum rollout_traffic_state *ret,
		     struct rollout_error *err)
{
	struct state *s = state;
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	e = find(s, backend, target, false);
	if (!e)
		*ret = ROLLOUT_TRAFFIC_ABSENT;
	else if (!e->blocked)
		*ret = ROLLOUT_TRAFFIC_ALLOWED;
	else
		*ret = s->host->mono_ms() - e->blocked_at_ms >= s->drain_ms ? ROLLOUT_TRAFFIC_BLOCKED
									    : ROLLOUT_TRAFFIC_DRAINING;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int wait_drained(void *state, const char *backend, const char *target, int64_t timeout_ms,
			struct rollout_error *err)
{
	struct state *s = state;
	int64_t deadline = s->host->mono_ms() + timeout_ms;
	enum rollout_traffic_state st;

	for (;;) {
		get_state(s, backend, target, &st, err);
		if (st == ROLLOUT_TRAFFIC_BLOCKED || st == ROLLOUT_TRAFFIC_ABSENT)
			return 0;
		if (st == ROLLOUT_TRAFFIC_ALLOWED)
			return rollout_error_set(err, -EINVAL, "TRAFFIC_ERROR",
						 "%s in %s is not blocked; block it first", target, backend);
		if (s->host->mono_ms() >= deadline)
			return rollout_error_set(err, -ETIMEDOUT, "TRAFFIC_ERROR",
						 "%s in %s still draining after %lld ms", target, backend,
						 (long long)timeout_ms);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int set_weight(void *state, const char *backend, const char *target, uint32_t weight, struct rollout_error *err)
{
	struct state *s = state;
	struct entry *e;

	if (weight > 256)
		return rollout_error_set(err, -EINVAL, "TRAFFIC_ERROR", "weight %u out of range 0..256", weight);
	pthread_mutex_lock(&s->lock);
	e = find(s, backend, target, true);
	if (e)
		e->weight = weight;
	pthread_mutex_unlock(&s->lock);
	return e ? 0 : rollout_error_set(err, -ENOSPC, "TRAFFIC_ERROR", "cannot track %s in %s", target, backend);
}

static const struct rollout_traffic_ops ops =
    ROLLOUT_TRAFFIC_OPS_INIT(.block = block, .allow = allow, .get_state = get_state, .wait_drained = wait_drained,
			     .set_weight = set_weight);

static const struct rollout_plugin plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_TRAFFIC, .name = "example-traffic", .version = "1.0.0",
			.description = "in-memory backends: block, allow, drain, weights", .init = init,
			.destroy = destroy, .ops.traffic = &ops);

ROLLOUT_PLUGIN_EXPORT(plugin)
