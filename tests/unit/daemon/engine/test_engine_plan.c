#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine_plan.h"

static struct eng_policy policy(enum eng_mhh_type t, int v, int total)
{
	struct eng_policy p;
	struct rd_error err = RD_ERROR_INIT;
	int r = eng_policy_compute(t, v, total, &p, &err);
	if (r < 0)
		fail_msg("policy %d/%d/%d: %s", t, v, total, err.message);
	return p;
}

/* Simulates a deployment: outcome[i] is whether host i (in order) succeeds.
 * Hosts finish in the order they started. Returns the verdict and the
 * number of hosts started; *max_inflight gets the peak concurrency. */
static enum eng_verdict simulate(const struct eng_policy *p, const bool *outcome, int *ret_started, int *max_inflight)
{
	struct eng_counts c = {.pending = p->total};
	int started = 0, finished = 0, peak = 0;

	for (int guard = 0; guard < 10000; guard++) {
		struct eng_step s = eng_plan_step(p, &c);
		if (s.verdict != ENG_CONTINUE) {
			*ret_started = started;
			*max_inflight = peak;
			return s.verdict;
		}
		if (s.start > 0) {
			started += s.start;
			c.pending -= s.start;
			c.in_progress += s.start;
			if (c.in_progress > peak)
				peak = c.in_progress;
			continue;
		}
		assert_true(c.in_progress > 0);
		/* finish the oldest in-flight host */
		c.in_progress--;
		if (outcome[finished++])
			c.succeeded++;
		else
			c.failed++;
	}
	fail_msg("simulation did not end");
	return ENG_FAILED;
}

static void all_ok(bool *o, int n)
{
	for (int i = 0; i < n; i++)
		o[i] = true;
}

static void test_one_at_a_time(void **state)
{
	bool o[10];
	int started, peak;
	struct eng_policy p = policy(ENG_MHH_MOST_CONCURRENCY, 1, 5);

	all_ok(o, 5);
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_SUCCEEDED);
	assert_int_equal(started, 5);
	assert_int_equal(peak, 1);

	/* failure on the last of several: still succeeds */
	o[4] = false;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_SUCCEEDED);

	/* failure on the first: stops at once */
	all_ok(o, 5);
	o[0] = false;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_FAILED);
	assert_int_equal(started, 1);

	/* failure in the middle */
	all_ok(o, 5);
	o[2] = false;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_FAILED);
	assert_int_equal(started, 3);

	/* a single host must succeed */
	p = policy(ENG_MHH_MOST_CONCURRENCY, 1, 1);
	o[0] = false;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_FAILED);
	o[0] = true;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_SUCCEEDED);
}

static void test_half_at_a_time(void **state)
{
	bool o[10];
	int started, peak;
	struct eng_policy p = policy(ENG_MHH_FLEET_PERCENT, 50, 9);

	/* CodeDeploy: 9 instances give batches of 4 and need 5 successes */
	assert_int_equal(p.min_healthy, 5);
	assert_int_equal(p.max_unhealthy, 4);
	all_ok(o, 9);
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_SUCCEEDED);
	assert_int_equal(peak, 4);

	/* 4 failures in the last hosts still leave 5 healthy: succeeds */
	all_ok(o, 9);
	o[5] = o[6] = o[7] = o[8] = false;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_SUCCEEDED);
	assert_int_equal(started, 9);

	/* 4 failures in the first batch: 5 hosts left, none may start */
	all_ok(o, 9);
	o[0] = o[1] = o[2] = o[3] = false;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_FAILED);
	assert_int_equal(started, 4);

	/* the 5th failure breaks the minimum */
	all_ok(o, 9);
	o[0] = o[1] = o[2] = o[3] = o[5] = false;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_FAILED);

	/* 4 hosts: batches of 2 */
	p = policy(ENG_MHH_FLEET_PERCENT, 50, 4);
	assert_int_equal(p.max_unhealthy, 2);
	all_ok(o, 4);
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_SUCCEEDED);
	assert_int_equal(peak, 2);
}

static void test_all_at_once(void **state)
{
	bool o[10];
	int started, peak;
	struct eng_policy p = policy(ENG_MHH_FLEET_PERCENT, 0, 6);

	all_ok(o, 6);
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_SUCCEEDED);
	assert_int_equal(peak, 6);
	/* one success is enough */
	for (int i = 0; i < 6; i++)
		o[i] = i == 3;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_SUCCEEDED);
	/* none is not */
	for (int i = 0; i < 6; i++)
		o[i] = false;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_FAILED);
	p = policy(ENG_MHH_HOST_COUNT, 0, 1);
	o[0] = true;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_SUCCEEDED);
}

static void test_host_count(void **state)
{
	bool o[10];
	int started, peak;
	struct eng_policy p = policy(ENG_MHH_HOST_COUNT, 3, 5);

	assert_int_equal(p.max_unhealthy, 2);
	all_ok(o, 5);
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_SUCCEEDED);
	assert_int_equal(peak, 2);
	/* two failures in the first batch: three hosts left but none may start */
	all_ok(o, 5);
	o[0] = o[1] = false;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_FAILED);
	assert_int_equal(started, 2);
	/* one failure: the rest go one at a time */
	all_ok(o, 5);
	o[0] = false;
	assert_int_equal(simulate(&p, o, &started, &peak), ENG_SUCCEEDED);
}

static void test_invalid(void **state)
{
	struct eng_policy p;
	struct rd_error err = RD_ERROR_INIT;

	assert_int_equal(eng_policy_compute(ENG_MHH_HOST_COUNT, 3, 3, &p, &err), -ERANGE);
	assert_non_null(strstr(err.message, "only 3 instances"));
	assert_string_equal(err.code, "HEALTH_CONSTRAINTS_INVALID");
	/* HalfAtATime with one host rounds the minimum up to 1 */
	assert_int_equal(eng_policy_compute(ENG_MHH_FLEET_PERCENT, 50, 1, &p, &err), -ERANGE);
	assert_int_equal(eng_policy_compute(ENG_MHH_FLEET_PERCENT, 101, 4, &p, &err), -EINVAL);
	/* 99 percent of 10 rounds up to 10 */
	assert_int_equal(eng_policy_compute(ENG_MHH_FLEET_PERCENT, 99, 10, &p, &err), -ERANGE);
	assert_int_equal(eng_policy_compute(ENG_MHH_FLEET_PERCENT, 75, 10, &p, &err), 0);
	assert_int_equal(p.min_healthy, 8);

	enum eng_mhh_type t;
	assert_int_equal(eng_mhh_type_parse("FLEET_PERCENT", &t), 0);
	assert_int_equal(t, ENG_MHH_FLEET_PERCENT);
	assert_int_equal(eng_mhh_type_parse("fleet_percent", &t), -EINVAL);
}

static void test_events(void **state)
{
	struct eng_event_def ev[ENG_MAX_EVENTS];
	size_t n = eng_lifecycle_events(false, ev, ENG_MAX_EVENTS);
	const char *want[] = {"ApplicationStop", "DownloadBundle",   "BeforeInstall",  "Install",
			      "AfterInstall",	 "ApplicationStart", "ValidateService"};

	assert_int_equal(n, 7);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(ev[i].name, want[i]);
	assert_false(ev[1].noop_capable);
	assert_false(ev[3].noop_capable);
	assert_true(ev[0].noop_capable);
	n = eng_lifecycle_events(true, ev, ENG_MAX_EVENTS);
	assert_int_equal(n, 13);
	assert_string_equal(ev[0].name, "BeforeBlockTraffic");
	assert_true(ev[1].service_side);
	assert_string_equal(ev[12].name, "AfterAllowTraffic");
}

/* A termination deployment installs nothing: the traffic is blocked, then
 * the application stopped; without traffic control only ApplicationStop. */
static void test_termination_events(void **state)
{
	struct eng_event_def ev[ENG_MAX_EVENTS];
	size_t n = eng_termination_events(true, ev, ENG_MAX_EVENTS);
	const char *want[] = {"BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic", "ApplicationStop"};

	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(ev[i].name, want[i]);
	assert_true(ev[1].service_side);
	assert_false(ev[0].service_side || ev[2].service_side || ev[3].service_side);
	assert_true(ev[3].noop_capable);
	n = eng_termination_events(false, ev, ENG_MAX_EVENTS);
	assert_int_equal(n, 1);
	assert_string_equal(ev[0].name, "ApplicationStop");
	assert_false(ev[0].service_side);
	/* bounded by max */
	assert_int_equal(eng_termination_events(true, ev, 2), 2);
	assert_string_equal(ev[1].name, "BlockTraffic");
	assert_int_equal(eng_termination_events(true, ev, 0), 0);
}

static void test_order(void **state)
{
	const char *names[] = {"c", "a", "e", "b", "d"};
	bool failed[] = {false, false, true, false, true};

	eng_order_targets(names, failed, 5);
	assert_string_equal(names[0], "d");
	assert_string_equal(names[1], "e");
	assert_string_equal(names[2], "a");
	assert_string_equal(names[3], "b");
	assert_string_equal(names[4], "c");
	assert_true(failed[0] && failed[1] && !failed[2]);
}

/* The batches a plan shows: what eng_plan_step starts at once when every
 * host succeeds. */
static void test_batches(void **state)
{
	int sizes[16];
	struct eng_policy p;

	p = policy(ENG_MHH_MOST_CONCURRENCY, 1, 3);
	assert_int_equal(eng_plan_batches(&p, 3, sizes, 16), 3);
	assert_true(sizes[0] == 1 && sizes[1] == 1 && sizes[2] == 1);
	p = policy(ENG_MHH_FLEET_PERCENT, 50, 5); /* 3 must stay healthy: 2 at a time */
	assert_int_equal(eng_plan_batches(&p, 5, sizes, 16), 3);
	assert_true(sizes[0] == 2 && sizes[1] == 2 && sizes[2] == 1);
	p = policy(ENG_MHH_HOST_COUNT, 0, 4);
	assert_int_equal(eng_plan_batches(&p, 4, sizes, 16), 1);
	assert_int_equal(sizes[0], 4);
	p = policy(ENG_MHH_HOST_COUNT, 1, 1 + 7);
	assert_int_equal(eng_plan_batches(&p, 8, sizes, 1), 1); /* max honoured */
	assert_int_equal(sizes[0], 7);
	p = policy(ENG_MHH_MOST_CONCURRENCY, 1, 1);
	assert_int_equal(eng_plan_batches(&p, 1, sizes, 16), 1);
	assert_int_equal(eng_plan_batches(&p, 0, sizes, 16), 0);
}

static void test_ids(void **state)
{
	char id[12];
	for (int i = 0; i < 50; i++) {
		assert_int_equal(eng_new_deployment_id(id), 0);
		assert_true(eng_deployment_id_valid(id));
	}
	assert_false(eng_deployment_id_valid("d-abcdefghi"));
	assert_false(eng_deployment_id_valid("d-ABCDEFGH"));
	assert_false(eng_deployment_id_valid("x-ABCDEFGHI"));

	assert_string_equal(eng_lifecycle_error_code(3), "ScriptTimedOut");
	assert_string_equal(eng_lifecycle_error_code(7), "UnknownError");
	assert_string_equal(eng_lifecycle_error_code(6), "UnknownError");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_at_a_time),
	    cmocka_unit_test(test_half_at_a_time),
	    cmocka_unit_test(test_all_at_once),
	    cmocka_unit_test(test_host_count),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_termination_events),
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_batches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
