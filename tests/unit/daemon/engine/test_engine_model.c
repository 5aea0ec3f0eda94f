/* daemon/engine/engine_model: a deployment's targets found through its
 * index and counted by status, as targets are appended, change status,
 * wait for the traffic phase, and are cleared. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine_model.h"

static struct eng_dep *dep_new(size_t room)
{
	json_t *row = json_pack("{s:s,s:s,s:s,s:s}", "id", "d-TEST", "application", "app", "deployment_group", "g",
				"status", "InProgress");
	struct eng_dep *dp = eng_dep_from_row(row);

	assert_non_null(dp);
	dp->t = calloc(room, sizeof(*dp->t));
	assert_non_null(dp->t);
	return dp;
}

static struct eng_target *add(struct eng_dep *dp, const char *id, enum eng_fleet fleet)
{
	struct eng_target *t = eng_target_new(dp, id, NULL, (int)dp->nt, fleet);

	assert_non_null(t);
	dp->t[dp->nt++] = t;
	return t;
}

static void test_find(void **state)
{
	enum { N = 5000 };
	struct eng_dep *dp = dep_new(N + 1);
	char id[32];

	(void)state;
	for (int i = 0; i < N / 2; i++) {
		snprintf(id, sizeof(id), "host-%05d", i);
		add(dp, id, FLEET_IN_PLACE);
	}
	assert_ptr_equal(eng_target_find(dp, "host-00007"), dp->t[7]);
	/* appended after the index was built: found too */
	for (int i = N / 2; i < N; i++) {
		snprintf(id, sizeof(id), "host-%05d", i);
		add(dp, id, FLEET_IN_PLACE);
	}
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "host-%05d", i);
		assert_ptr_equal(eng_target_find(dp, id), dp->t[i]);
	}
	assert_null(eng_target_find(dp, "host-99999"));
	assert_null(eng_target_find(dp, ""));
	eng_dep_clear_targets(dp);
	assert_int_equal(dp->nt, 0);
	assert_null(eng_target_find(dp, "host-00007"));
	/* filled again after clearing */
	dp->t = calloc(2, sizeof(*dp->t));
	add(dp, "host-00007", FLEET_IN_PLACE);
	assert_ptr_equal(eng_target_find(dp, "host-00007"), dp->t[0]);
	assert_null(eng_target_find(dp, "host-00008"));
	eng_dep_free(dp);
}

static void test_counts(void **state)
{
	struct eng_dep *dp = dep_new(8);
	struct eng_target *a, *b, *c, *blue;
	struct eng_counts k;
	json_t *ov;

	(void)state;
	a = add(dp, "a", FLEET_GREEN);
	b = add(dp, "b", FLEET_GREEN);
	c = add(dp, "c", FLEET_GREEN);
	blue = add(dp, "blue", FLEET_BLUE);
	eng_target_set_status(c, ST_SKIPPED); /* before it was counted */
	k = eng_dep_counts(dp);
	assert_int_equal(k.pending, 2);
	assert_int_equal(k.in_progress + k.succeeded + k.failed, 0);
	assert_int_equal(dp->count[ST_PENDING], 3); /* blue counts in the overview */
	assert_int_equal(dp->count[ST_SKIPPED], 1);

	eng_target_set_status(a, ST_INPROGRESS);
	eng_target_set_status(b, ST_INPROGRESS);
	eng_target_set_status(blue, ST_INPROGRESS);
	k = eng_dep_counts(dp);
	assert_int_equal(k.pending, 0);
	assert_int_equal(k.in_progress, 2);
	/* green at AllowTraffic counts as done for batching */
	eng_target_set_bg_wait(a, true);
	k = eng_dep_counts(dp);
	assert_int_equal(k.in_progress, 1);
	assert_int_equal(k.succeeded, 1);
	eng_target_set_bg_wait(a, false);
	eng_target_set_status(a, ST_SUCCEEDED);
	eng_target_set_status(b, ST_FAILED);
	k = eng_dep_counts(dp);
	assert_int_equal(k.succeeded, 1);
	assert_int_equal(k.failed, 1);
	assert_int_equal(k.in_progress, 0);
	ov = eng_dep_overview(dp);
	assert_int_equal(json_integer_value(json_object_get(ov, "Succeeded")), 1);
	assert_int_equal(json_integer_value(json_object_get(ov, "Failed")), 1);
	assert_int_equal(json_integer_value(json_object_get(ov, "InProgress")), 1); /* blue */
	assert_int_equal(json_integer_value(json_object_get(ov, "Skipped")), 1);
	assert_int_equal(json_integer_value(json_object_get(ov, "Pending")), 0);
	json_decref(ov);
	eng_dep_free(dp);
}

/* The original fleet a blue/green rollback returns to runs the AllowTraffic
 * events and is deployed like an in-place fleet (counted, batched), also
 * after a restart, where it is told from a blue/green deployment's original
 * (BlockTraffic) fleet by its events, both being labelled Blue. */
static void test_original_fleet(void **state)
{
	struct eng_dep *dp = dep_new(2), *rp;
	struct eng_target *o;
	json_t *rows, *row;

	(void)state;
	o = add(dp, "o", FLEET_ORIGINAL);
	assert_false(o->blue);
	assert_int_equal(o->nev, 3);
	assert_string_equal(o->ev[0].name, "BeforeAllowTraffic");
	assert_true(o->ev[1].service_side && !strcmp(o->ev[1].name, "AllowTraffic"));
	assert_string_equal(o->ev[2].name, "AfterAllowTraffic");
	assert_true(o->ev[0].noop_capable && !o->ev[1].noop_capable);
	assert_int_equal(eng_dep_counts(dp).pending, 1);
	eng_dep_free(dp);

	rows =
	    json_pack("[{s:s,s:s,s:s,s:i,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]},"
		      "{s:s,s:s,s:s,s:i,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}]",
		      "target_id", "o", "status", "Pending", "instance_label", "Blue", "seq", 0, "events", "name",
		      "BeforeAllowTraffic", "status", "Pending", "name", "AllowTraffic", "status", "Pending", "name",
		      "AfterAllowTraffic", "status", "Pending", "target_id", "b", "status", "Pending", "instance_label",
		      "Blue", "seq", 1, "events", "name", "BeforeBlockTraffic", "status", "Pending", "name",
		      "BlockTraffic", "status", "Pending", "name", "AfterBlockTraffic", "status", "Pending");
	assert_non_null(rows);
	row = json_pack("{s:s,s:s,s:s,s:s}", "id", "d-TEST", "application", "app", "deployment_group", "g", "status",
			"InProgress");
	rp = eng_dep_from_row(row);
	assert_non_null(rp);
	assert_int_equal(eng_dep_restore_targets(rp, rows), 0);
	assert_int_equal(rp->nt, 2);
	assert_false(rp->t[0]->blue);
	assert_true(rp->t[1]->blue);
	assert_true(rp->traffic);
	assert_false(rp->bg);
	json_decref(rows);
	eng_dep_free(rp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_original_fleet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
