/* alarms.c and triggers.c: the configuration that applies, the rollback
 * decision, the watch thread (with an alarm no plugin can answer, i.e. a
 * failed poll), trigger messages, and recorded deliveries with retries. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <rollout/plugin.h>

#include "health/alarms.h"
#include "core/daemon.h"
#include "store/store.h"
#include "store/store_engine.h"
#include "store/store_health.h"
#include "health/triggers.h"
#include "tmpdir.h"
#include "util.h"

/* the error of the store call that failed (store_open, backup, restore) */
static struct rd_error rerr;

static json_t *J(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);
	assert_non_null(j);
	return j;
}

static void test_effective(void **state)
{
	json_t *g = J("{\"alarmConfiguration\":{\"enabled\":true,\"alarms\":[{\"name\":\"g\"}]},"
		      "\"autoRollbackConfiguration\":{\"enabled\":true,\"events\":[\"DEPLOYMENT_STOP_ON_ALARM\"]}}");
	json_t *d1 = J("{\"overrideAlarmConfiguration\":{\"enabled\":false,\"alarms\":[{\"name\":\"o\"}]}}");
	json_t *d2 = J("{\"autoRollbackConfiguration\":{\"enabled\":true,\"events\":[\"DEPLOYMENT_FAILURE\"]}}");
	json_t *g2 = J("{\"alarmConfiguration\":{\"enabled\":true,\"alarms\":[]}}");
	(void)state;

	assert_ptr_equal(alarms_effective_config(g, NULL), json_object_get(g, "alarmConfiguration"));
	assert_true(alarms_config_active(alarms_effective_config(g, NULL)));
	assert_ptr_equal(alarms_effective_config(g, d1), json_object_get(d1, "overrideAlarmConfiguration"));
	assert_false(alarms_config_active(alarms_effective_config(g, d1)));
	assert_false(alarms_config_active(alarms_effective_config(g2, NULL)));
	assert_null(alarms_effective_config(d2, NULL));
	assert_true(alarms_rollback_on_alarm(g, NULL));
	assert_false(alarms_rollback_on_alarm(g, d2)); /* the deployment's own configuration wins */
	assert_false(alarms_rollback_on_alarm(g2, NULL));
	json_decref(g);
	json_decref(g2);
	json_decref(d1);
	json_decref(d2);
}

static struct {
	int calls;
	bool rollback;
	char msg[2048];
	char id[32];
} F;

static void on_stop(struct rd_daemon *d, const char *id, bool rollback, const char *message, void *ud)
{
	(void)d;
	(void)ud;
	F.calls++;
	F.rollback = rollback;
	snprintf(F.msg, sizeof(F.msg), "%s", message);
	snprintf(F.id, sizeof(F.id), "%s", id);
}

static void wait_calls(int n, int64_t ms)
{
	int64_t end = rd_mono_ms() + ms;
	while (__atomic_load_n(&F.calls, __ATOMIC_SEQ_CST) < n && rd_mono_ms() < end)
		usleep(10000);
}

static void test_watch(void **state)
{
	struct rd_daemon d = {0};
	json_t *g = J("{\"applicationName\":\"app\",\"deploymentGroupName\":\"grp\","
		      "\"alarmConfiguration\":{\"enabled\":true,\"alarms\":[{\"name\":\"nowhere\"}]},"
		      "\"autoRollbackConfiguration\":{\"enabled\":true,\"events\":[\"DEPLOYMENT_STOP_ON_ALARM\"]}}");
	json_t *ign = J("{\"alarmConfiguration\":{\"enabled\":true,\"ignorePollAlarmFailure\":true,"
			"\"alarms\":[{\"name\":\"nowhere\"}]}}");
	json_t *off = J("{\"alarmConfiguration\":{\"enabled\":false,\"alarms\":[{\"name\":\"nowhere\"}]}}");
	(void)state;

	setenv("ROLLOUTD_ALARM_INTERVAL_MS", "100", 1);
	memset(&F, 0, sizeof(F));
	/* a disabled configuration is not polled; rollbacks are not watched */
	assert_int_equal(alarms_watch_start(&d, "d-OFF000001", "user", off, NULL, on_stop, NULL), 0);
	assert_false(alarms_watching(&d, "d-OFF000001"));
	assert_int_equal(alarms_watch_start(&d, "d-RB0000001", "codeDeployRollback", g, NULL, on_stop, NULL), 0);
	assert_false(alarms_watching(&d, "d-RB0000001"));

	/* an alarm nobody can answer is a failed poll: stops at once, once */
	assert_int_equal(alarms_watch_start(&d, "d-FAIL00001", "user", g, NULL, on_stop, NULL), 0);
	wait_calls(1, 3000);
	assert_int_equal(F.calls, 1);
	assert_string_equal(F.id, "d-FAIL00001");
	assert_true(F.rollback);
	assert_non_null(strstr(F.msg, "Could not poll alarm nowhere"));
	assert_non_null(strstr(F.msg, "not defined"));
	assert_false(alarms_watching(&d, "d-FAIL00001"));
	usleep(300000);
	assert_int_equal(F.calls, 1);

	/* ignorePollAlarmFailure: keeps polling, never stops */
	assert_int_equal(alarms_watch_start(&d, "d-IGN000001", "user", ign, NULL, on_stop, NULL), 0);
	assert_true(alarms_watching(&d, "d-IGN000001"));
	assert_int_equal(alarms_watch_start(&d, "d-IGN000001", "user", ign, NULL, on_stop, NULL), -EEXIST);
	usleep(350000);
	assert_int_equal(F.calls, 1);
	{
		json_t *st = NULL;
		assert_int_equal(alarms_status(&d, "d-IGN000001", &st), 0);
		assert_int_equal(json_array_size(st), 1);
		assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "name")), "nowhere");
		assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "state")), "POLL_FAILED");
		json_decref(st);
		assert_int_equal(alarms_status(&d, "d-NOTHING01", &st), -ENOENT);
	}
	alarms_watch_stop(&d, "d-IGN000001");
	assert_false(alarms_watching(&d, "d-IGN000001"));
	alarms_shutdown(&d);
	json_decref(g);
	json_decref(ign);
	json_decref(off);
}

static void test_trigger_helpers(void **state)
{
	char region[64], *msg = NULL, *subject = NULL;
	json_t *g = J("{\"applicationName\":\"app\",\"deploymentGroupName\":\"grp\"}");
	json_t *info = J("{\"deploymentId\":\"d-ABCDEFGHI\",\"status\":\"FAILED\","
			 "\"errorInformation\":{\"code\":\"ALARM_ACTIVE\",\"message\":\"m\"}}");
	json_t *m;
	(void)state;

	assert_true(triggers_event_valid("DeploymentRollback"));
	assert_true(triggers_event_valid("InstanceReady"));
	assert_false(triggers_event_valid("DeploymentExploded"));
	assert_int_equal(triggers_sns_region("arn:aws:sns:eu-west-1:123456789012:topic", region, sizeof(region)), 0);
	assert_string_equal(region, "eu-west-1");
	assert_int_equal(triggers_sns_region("arn:aws:sqs:eu-west-1:123456789012:q", region, sizeof(region)), -EINVAL);
	assert_int_equal(triggers_sns_region("arn:aws:sns:eu-west-1:123456789012:", region, sizeof(region)), -EINVAL);
	assert_int_equal(triggers_sns_region("https://example.com/hook", region, sizeof(region)), -EINVAL);

	assert_int_equal(
	    triggers_message("DeploymentFailure", "t1", "us-east-1", "000000000000", g, info, &msg, &subject), 0);
	assert_string_equal(subject, "FAILED: rolloutd DeploymentFailure d-ABCDEFGHI in us-east-1 to app");
	m = J(msg);
	assert_string_equal(json_string_value(json_object_get(m, "eventTriggerName")), "t1");
	assert_string_equal(json_string_value(json_object_get(m, "deploymentGroupName")), "grp");
	assert_string_equal(json_string_value(json_object_get(m, "status")), "FAILED");
	/* nested documents travel as JSON strings, as CodeDeploy sends them */
	assert_string_equal(json_string_value(json_object_get(m, "errorInformation")),
			    "{\"code\":\"ALARM_ACTIVE\",\"message\":\"m\"}");
	json_decref(m);
	free(msg);
	free(subject);
	json_decref(g);
	json_decref(info);
}

/* The end of a trigger test: its deliveries' threads, its store and its
 * directory go. */
static void triggers_end(struct rd_daemon *d, char *dir, json_t *g, json_t *info)
{
	triggers_shutdown(d);
	d->store = store_close(d->store);
	json_decref(g);
	json_decref(info);
	tu_rm_rf(dir);
}

static void test_trigger_records(void **state)
{
	struct rd_daemon d = {0};
	char *dir = tu_mkdtemp();
	json_t *g = J("{\"applicationName\":\"app\",\"deploymentGroupName\":\"grp\",\"triggerConfigurations\":["
		      "{\"triggerName\":\"hook\",\"triggerTargetArn\":\"http://127.0.0.1:1/hook\","
		      "\"triggerEvents\":[\"DeploymentStart\",\"DeploymentSuccess\"]},"
		      "{\"triggerName\":\"other\",\"triggerTargetArn\":\"http://127.0.0.1:1/other\","
		      "\"triggerEvents\":[\"InstanceFailure\"]}]}");
	json_t *info = J("{\"deploymentId\":\"d-TRIGGER01\",\"status\":\"IN_PROGRESS\"}");
	json_t *rows = NULL, *row;
	int64_t t0;
	(void)state;

	assert_non_null(dir);
	assert_int_equal(store_open(dir, &d.store, &rerr), 0);
	setenv("ROLLOUTD_TRIGGER_RETRY_BASE_MS", "50", 1);
	setenv("ROLLOUTD_TRIGGER_MAX_ATTEMPTS", "3", 1);
	assert_int_equal(triggers_fire(&d, "Nonsense", g, info), -EINVAL);
	t0 = rd_mono_ms();
	assert_int_equal(triggers_fire(&d, "DeploymentStart", g, info), 0);
	assert_true(rd_mono_ms() - t0 < 100); /* queues, does not deliver */
	assert_int_equal(triggers_drain(&d, 5000), 0);
	/* 3 attempts at least 50 + 100 ms apart */
	assert_true(rd_mono_ms() - t0 >= 150);
	assert_int_equal(store_trigger_delivery_list(d.store, "d-TRIGGER01", false, &rows), 0);
	assert_int_equal(json_array_size(rows), 1); /* only the subscribed trigger */
	row = json_array_get(rows, 0);
	assert_string_equal(json_string_value(json_object_get(row, "triggerName")), "hook");
	assert_string_equal(json_string_value(json_object_get(row, "event")), "DeploymentStart");
	assert_string_equal(json_string_value(json_object_get(row, "status")), "Failed");
	assert_int_equal(json_integer_value(json_object_get(row, "attempts")), 3);
	assert_non_null(json_string_value(json_object_get(row, "lastError")));
	json_decref(rows);

	/* the engine's form: plain values, status upper-cased as CodeDeploy does */
	assert_int_equal(triggers_fire_status(&d, "InstanceFailure", g, "d-TRIGGER02", "InProgress", "web-2", "Failed",
					      "HEALTH_CONSTRAINTS", "too few"),
			 0);
	assert_int_equal(
	    triggers_fire_status(&d, "DeploymentStart", g, "d-TRIGGER02", "InProgress", NULL, NULL, NULL, NULL), 0);
	assert_int_equal(triggers_drain(&d, 5000), 0);
	assert_int_equal(store_trigger_delivery_list(d.store, "d-TRIGGER02", false, &rows), 0);
	assert_int_equal(json_array_size(rows), 2);
	{
		json_t *m = J(json_string_value(json_object_get(json_array_get(rows, 0), "message")));
		assert_string_equal(json_string_value(json_object_get(m, "status")), "IN_PROGRESS");
		assert_string_equal(json_string_value(json_object_get(m, "instanceId")), "web-2");
		assert_string_equal(json_string_value(json_object_get(m, "instanceStatus")), "Failed");
		assert_non_null(
		    strstr(json_string_value(json_object_get(m, "errorInformation")), "HEALTH_CONSTRAINTS"));
		json_decref(m);
	}
	json_decref(rows);
	triggers_end(&d, dir, g, info);
}

/* The engine's form: the deliveries are rows of the engine's transaction,
 * gone with its rollback, Pending once it committed, and sent only by
 * triggers_batch_send. */
static void test_trigger_in_transaction(void **state)
{
	struct rd_daemon d = {0};
	char *dir = tu_mkdtemp();
	json_t *g = J("{\"applicationName\":\"app\",\"deploymentGroupName\":\"grp\",\"triggerConfigurations\":["
		      "{\"triggerName\":\"a\",\"triggerTargetArn\":\"http://127.0.0.1:1/a\","
		      "\"triggerEvents\":[\"DeploymentStart\"]},"
		      "{\"triggerName\":\"b\",\"triggerTargetArn\":\"http://127.0.0.1:1/b\","
		      "\"triggerEvents\":[\"DeploymentStart\",\"DeploymentSuccess\"]}]}");
	json_t *info = J("{\"deploymentId\":\"d-TRIGGER03\",\"status\":\"IN_PROGRESS\"}");
	struct triggers_batch *batch = NULL;
	struct store_tx *tx = NULL;
	json_t *rows = NULL;
	(void)state;

	assert_non_null(dir);
	assert_int_equal(store_open(dir, &d.store, &rerr), 0);
	setenv("ROLLOUTD_TRIGGER_RETRY_BASE_MS", "50", 1);
	setenv("ROLLOUTD_TRIGGER_MAX_ATTEMPTS", "2", 1);
	/* rolled back: nothing recorded, nothing sent */
	assert_int_equal(store_eng_begin(d.store, &tx), 0);
	assert_int_equal(triggers_fire_tx(&d, tx, "DeploymentStart", g, info, &batch), 0);
	assert_non_null(batch);
	store_eng_rollback(tx);
	triggers_batch_free(batch);
	batch = NULL;
	assert_int_equal(store_trigger_delivery_list(d.store, "d-TRIGGER03", false, &rows), 0);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	/* an event nobody subscribes: no batch */
	assert_int_equal(store_eng_begin(d.store, &tx), 0);
	assert_int_equal(triggers_fire_tx(&d, tx, "InstanceFailure", g, info, &batch), 0);
	assert_null(batch);
	assert_int_equal(triggers_fire_tx(&d, tx, "Nonsense", g, info, &batch), -EINVAL);
	/* committed: Pending rows, one per subscribed trigger and event, before any attempt */
	assert_int_equal(triggers_fire_tx(&d, tx, "DeploymentStart", g, info, &batch), 0);
	assert_int_equal(triggers_fire_tx(&d, tx, "DeploymentSuccess", g, info, &batch), 0);
	assert_int_equal(store_eng_commit(tx), 0);
	assert_int_equal(store_trigger_delivery_list(d.store, "d-TRIGGER03", false, &rows), 0);
	assert_int_equal(json_array_size(rows), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *row = json_array_get(rows, i);
		assert_string_equal(json_string_value(json_object_get(row, "status")), "Pending");
		assert_int_equal(json_integer_value(json_object_get(row, "attempts")), 0);
		assert_null(json_object_get(row, "owner")); /* SQLite: one daemon */
	}
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 2), "event")), "DeploymentSuccess");
	json_decref(rows);
	/* sent: the same rows are attempted (never a second row per delivery) */
	triggers_batch_send(batch);
	assert_int_equal(triggers_drain(&d, 5000), 0);
	assert_int_equal(store_trigger_delivery_list(d.store, "d-TRIGGER03", false, &rows), 0);
	assert_int_equal(json_array_size(rows), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *row = json_array_get(rows, i);
		assert_string_equal(json_string_value(json_object_get(row, "status")), "Failed");
		assert_int_equal(json_integer_value(json_object_get(row, "attempts")), 2);
	}
	json_decref(rows);
	triggers_end(&d, dir, g, info);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_effective),
	    cmocka_unit_test(test_watch),
	    cmocka_unit_test(test_trigger_helpers),
	    cmocka_unit_test(test_trigger_records),
	    cmocka_unit_test(test_trigger_in_transaction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
