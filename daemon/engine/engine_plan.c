#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_plan.h"
#include "cryptoutil.h"
#include "util.h"

int eng_mhh_type_parse(const char *s, enum eng_mhh_type *ret)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "HOST_COUNT") == 0)
		*ret = ENG_MHH_HOST_COUNT;
	else if (strcmp(s, "FLEET_PERCENT") == 0)
		*ret = ENG_MHH_FLEET_PERCENT;
	else if (strcmp(s, "MOST_CONCURRENCY") == 0)
		*ret = ENG_MHH_MOST_CONCURRENCY;
	else
		return -EINVAL;
	return 0;
}

int eng_policy_compute(enum eng_mhh_type type, int value, int total, struct eng_policy *ret, struct rd_error *err)
{
	struct eng_policy p = {.total = total};

	if (total < 1 || value < 0) {
		rd_error_set(err, 0, "INTERNAL_ERROR", "internal: policy for %d hosts with minimum %d", total, value);
		return -EINVAL;
	}
	switch (type) {
	case ENG_MHH_MOST_CONCURRENCY:
		/* One host at a time; only the last host of several may fail. */
		p.one_at_a_time = true;
		p.min_healthy = total > 1 ? total - 1 : 1;
		p.max_unhealthy = 1;
		*ret = p;
		return 0;
	case ENG_MHH_HOST_COUNT:
		p.min_healthy = value;
		break;
	case ENG_MHH_FLEET_PERCENT:
		if (value > 100) {
			rd_error_set(err, 0, "INTERNAL_ERROR", "minimumHealthyHosts FLEET_PERCENT %d is over 100",
				     value);
			return -EINVAL;
		}
		/* Fractions round up, as on CodeDeploy. */
		p.min_healthy = (int)(((long long)total * value + 99) / 100);
		break;
	default:
		rd_error_set(err, 0, "INTERNAL_ERROR", "internal: unknown minimum healthy hosts type %d", (int)type);
		return -EINVAL;
	}
	if (p.min_healthy >= total) {
		rd_error_set(
		    err, 0, "HEALTH_CONSTRAINTS_INVALID",
		    "The deployment config requires %d healthy instance%s but the deployment group has only %d "
		    "instance%s, so no instance can be taken out of service. Add instances to the deployment "
		    "group or use a deployment config with a lower minimum (e.g. CodeDeployDefault.OneAtATime).",
		    p.min_healthy, p.min_healthy == 1 ? "" : "s", total, total == 1 ? "" : "s");
		return -ERANGE;
	}
	p.max_unhealthy = total - p.min_healthy;
	*ret = p;
	return 0;
}

struct eng_step eng_plan_step(const struct eng_policy *p, const struct eng_counts *c)
{
	struct eng_step s = {.verdict = ENG_CONTINUE, .start = 0};
	int done = c->pending == 0 && c->in_progress == 0;

	if (p->one_at_a_time) {
		if (c->failed > 0 && !done)
			/* A failure before the last host ends the deployment. */
			s.verdict = ENG_FAILED;
		else if (done)
			s.verdict = (c->failed == 0 || (c->failed == 1 && p->total > 1 && c->succeeded > 0))
					? ENG_SUCCEEDED
					: ENG_FAILED;
		else
			s.start = c->in_progress == 0 && c->pending > 0 ? 1 : 0;
		return s;
	}

	if (c->failed > p->max_unhealthy) {
		s.verdict = ENG_FAILED;
		return s;
	}
	if (done) {
		/* Minimum 0 (AllAtOnce) still needs one success. */
		int need = p->min_healthy > 0 ? p->min_healthy : 1;
		s.verdict = c->succeeded >= need ? ENG_SUCCEEDED : ENG_FAILED;
		return s;
	}
	int room = p->max_unhealthy - c->failed - c->in_progress;
	if (room < 0)
		room = 0;
	s.start = room < c->pending ? room : c->pending;
	if (s.start == 0 && c->in_progress == 0)
		/* Hosts left that can't be started without breaking the minimum. */
		s.verdict = ENG_FAILED;
	return s;
}

size_t eng_plan_batches(const struct eng_policy *p, int n, int *sizes, size_t max)
{
	struct eng_counts c = {.pending = n};
	size_t k = 0;

	while (k < max && c.pending > 0) {
		struct eng_step s = eng_plan_step(p, &c);
		if (s.verdict != ENG_CONTINUE || s.start <= 0)
			break;
		sizes[k++] = s.start;
		c.pending -= s.start;
		c.succeeded += s.start;
	}
	return k;
}

static const struct eng_event_def events_traffic_before[] = {
    {"BeforeBlockTraffic", false, true},
    {"BlockTraffic", true, false},
    {"AfterBlockTraffic", false, true},
};
static const struct eng_event_def events_main[] = {
    {"ApplicationStop", false, true}, {"DownloadBundle", false, false}, {"BeforeInstall", false, true},
    {"Install", false, false},	      {"AfterInstall", false, true},	{"ApplicationStart", false, true},
    {"ValidateService", false, true},
};
static const struct eng_event_def events_traffic_after[] = {
    {"BeforeAllowTraffic", false, true},
    {"AllowTraffic", true, false},
    {"AfterAllowTraffic", false, true},
};

size_t eng_lifecycle_events(bool traffic_control, struct eng_event_def *out, size_t max)
{
	size_t n = 0;
#define ADD(arr)                                                                                                       \
	for (size_t i_ = 0; i_ < RD_ARRAY_SIZE(arr) && n < max; i_++)                                                  \
		out[n++] = (arr)[i_];
	if (traffic_control) {
		ADD(events_traffic_before);
	}
	ADD(events_main);
	if (traffic_control) {
		ADD(events_traffic_after);
	}
#undef ADD
	return n;
}

size_t eng_termination_events(bool traffic_control, struct eng_event_def *out, size_t max)
{
	size_t n = 0;

	/* traffic first: the instance stops serving before its application stops */
	for (size_t i = 0; traffic_control && i < RD_ARRAY_SIZE(events_traffic_before) && n < max; i++)
		out[n++] = events_traffic_before[i];
	if (n < max)
		out[n++] = events_main[0]; /* ApplicationStop */
	return n;
}

struct ordered {
	const char *name;
	bool failed;
};

static int cmp_ordered(const void *a, const void *b)
{
	const struct ordered *x = a, *y = b;
	if (x->failed != y->failed)
		return x->failed ? -1 : 1;
	return strcmp(x->name, y->name);
}

void eng_order_targets(const char **names, bool *failed, size_t n)
{
	struct ordered *v;

	if (n < 2)
		return;
	v = calloc(n, sizeof(*v));
	if (!v) {
		/* Without memory keep the given order: still a valid plan. */
		return;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = (struct ordered){names[i], failed[i]};
	qsort(v, n, sizeof(*v), cmp_ordered);
	for (size_t i = 0; i < n; i++) {
		names[i] = v[i].name;
		failed[i] = v[i].failed;
	}
	free(v);
}

int eng_new_deployment_id(char out[12])
{
	out[0] = 'd';
	out[1] = '-';
	return rd_random_string(out + 2, 9, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
}

bool eng_deployment_id_valid(const char *s)
{
	if (!s || strlen(s) != 11 || s[0] != 'd' || s[1] != '-')
		return false;
	for (int i = 2; i < 11; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

const char *eng_lifecycle_error_code(int agent_code)
{
	switch (agent_code) {
	case 0:
		return "Success";
	case 1:
		return "ScriptMissing";
	case 2:
		return "ScriptNotExecutable";
	case 3:
		return "ScriptTimedOut";
	case 4:
		return "ScriptFailed";
	default:
		/* 5, and 6/7 which the enum lacks (agent/PROTOCOL.md). */
		return "UnknownError";
	}
}
