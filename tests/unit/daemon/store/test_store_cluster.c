/* daemon/store/store_cluster.c on PostgreSQL (a SQLite store is one daemon:
 * every function answers -ENOTSUP there): heartbeats, expiry, job leases
 * held by one daemon at a time, an earlier incarnation superseded, NOTIFY
 * received by a listener, the status report. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "store/store.h"
#include "store/store_health.h"
#include "store_backends.h"

static struct rd_error rerr;

static void test_sqlite_refuses(void **state)
{
	char *dir = tu_mkdtemp();
	struct store *st = NULL;
	struct store_cluster_daemon a = {.id = "a", .url = "http://a:1", .hostname = "h", .version = "1", .pid = 1};

	(void)state;
	assert_int_equal(store_open(dir, &st, &rerr), 0);
	assert_int_equal(store_cluster_register(st, &a), -ENOTSUP);
	assert_int_equal(store_cluster_heartbeat(st, "a"), -ENOTSUP);
	store_close(st);
	tu_rm_rf(dir);
}

static int heard;
static char heard_payload[128];

static void on_note(const char *channel, const char *payload, void *ud)
{
	(void)ud;
	if (channel && !strcmp(channel, "rolloutd_test")) {
		heard++;
		snprintf(heard_payload, sizeof(heard_payload), "%s", payload);
	}
}

static void test_heartbeats_and_jobs(void **state)
{
	char *dir = tu_mkdtemp();
	struct store *st = NULL;
	struct store_listener *l = NULL;
	struct store_cluster_daemon a = {.id = "a", .url = "http://a:1", .hostname = "h", .version = "1", .pid = 1};
	struct store_cluster_daemon b = {.id = "b", .url = "http://b:1", .hostname = "h", .version = "1", .pid = 2};
	struct store_cluster_daemon a2 = {.id = "a2", .url = "http://a:1", .hostname = "h", .version = "1", .pid = 3};
	json_t *o = NULL;
	size_t n = 9;
	bool held = false;

	(void)state;
	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	assert_int_equal(store_cluster_register(st, &a), 0);
	assert_int_equal(store_cluster_register(st, &b), 0);
	assert_int_equal(store_cluster_register(st, &a), -EEXIST);
	assert_int_equal(store_cluster_heartbeat(st, "a"), 0);
	/* fresh heartbeats: nobody expires */
	assert_int_equal(store_cluster_expire(st, 60000, &n), 0);
	assert_int_equal(n, 0);

	/* one holder per job; the holder renews; another takes it once expired */
	assert_int_equal(store_cluster_lease_job(st, "retention", "a", 60000, &held), 0);
	assert_true(held);
	assert_int_equal(store_cluster_lease_job(st, "retention", "b", 60000, &held), 0);
	assert_false(held);
	assert_int_equal(store_cluster_lease_job(st, "retention", "a", 60000, &held), 0);
	assert_true(held);
	assert_int_equal(store_cluster_lease_job(st, "retention", "a", -1000, &held), 0); /* already expired */
	assert_int_equal(store_cluster_lease_job(st, "retention", "b", 60000, &held), 0);
	assert_true(held);

	/* a restarted a (same url) supersedes its predecessor */
	assert_int_equal(store_cluster_register(st, &a2), 0);
	assert_int_equal(store_cluster_supersede(st, "http://a:1", "a2"), 0);
	assert_int_equal(store_cluster_heartbeat(st, "a"), -ESTALE);
	assert_int_equal(store_cluster_heartbeat(st, "a2"), 0);

	/* every heartbeat older than a negative ttl: all expired */
	assert_int_equal(store_cluster_expire(st, -1000, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_cluster_heartbeat(st, "b"), -ESTALE);

	/* a stopped daemon gives its jobs back */
	assert_int_equal(store_cluster_stop(st, "b"), 0);
	assert_int_equal(store_cluster_status(st, &o), 0);
	assert_int_equal(json_array_size(json_object_get(o, "jobs")), 0);
	assert_int_equal(json_array_size(json_object_get(o, "daemons")), 3);
	assert_int_equal(json_array_size(json_object_get(o, "deployments")), 0);
	json_decref(o);

	/* NOTIFY reaches a listener: first the (re)connection, then the note */
	assert_int_equal(store_listener_new(st, &l), 0);
	assert_int_equal(store_listener_add(l, "rolloutd_test"), 0);
	assert_int_equal(store_listener_wait(l, 10, on_note, NULL), 0);
	assert_int_equal(store_cluster_notify(st, "rolloutd_test", "hello"), 0);
	for (int i = 0; i < 50 && !heard; i++)
		assert_int_equal(store_listener_wait(l, 100, on_note, NULL), 0);
	assert_int_equal(heard, 1);
	assert_string_equal(heard_payload, "hello");
	l = store_listener_free(l);
	store_close(st);
	tu_rm_rf(dir);
}

static int64_t deliver_row(struct store *st, const char *owner)
{
	struct store_trigger_delivery td = {.deployment_id = "d-1",
					    .event = "DeploymentSuccess",
					    .trigger_name = "t",
					    .target = "http://127.0.0.1:1/hook",
					    .subject = "s",
					    .message = "{}",
					    .owner = owner};
	int64_t id = 0;

	assert_int_equal(store_trigger_delivery_insert(st, &td, &id), 0);
	assert_true(id > 0);
	return id;
}

/* Pending trigger deliveries on a cluster: a live owner keeps its own, the
 * rows of a gone owner go to the adopter once, an expired daemon neither
 * adopts nor may send what it owned. */
static void test_trigger_deliveries(void **state)
{
	char *dir = tu_mkdtemp();
	struct store *st = NULL;
	struct store_cluster_daemon a = {.id = "a", .url = "http://a:1", .hostname = "h", .version = "1", .pid = 1};
	struct store_cluster_daemon b = {.id = "b", .url = "http://b:1", .hostname = "h", .version = "1", .pid = 2};
	struct store_cluster_daemon c = {.id = "c", .url = "http://c:1", .hostname = "h", .version = "1", .pid = 3};
	json_t *rows = NULL;
	int64_t mine, gone, unowned, done;
	size_t n = 0;

	(void)state;
	assert_int_equal(tu_store_open(dir, &st, &rerr), 0);
	assert_int_equal(store_cluster_register(st, &a), 0);
	assert_int_equal(store_cluster_register(st, &b), 0);
	mine = deliver_row(st, "a");
	gone = deliver_row(st, "x"); /* a daemon no longer in cluster_daemons */
	unowned = deliver_row(st, NULL);
	done = deliver_row(st, "x");
	assert_int_equal(store_trigger_delivery_update(st, done, "Delivered", 1, NULL, "HTTP 200"), 0);

	assert_int_equal(store_trigger_delivery_claim(st, mine, "a"), 0);
	assert_int_equal(store_trigger_delivery_claim(st, mine, "b"), -ESTALE);
	/* b takes the Pending rows of the gone and of nobody, not a's, not the delivered one */
	assert_int_equal(store_trigger_delivery_adopt(st, "b", &rows), 0);
	assert_int_equal(json_array_size(rows), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "id")), gone);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 1), "id")), unowned);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "owner")), "b");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "message")), "{}");
	json_decref(rows);
	assert_int_equal(store_trigger_delivery_claim(st, gone, "b"), 0);
	/* taken once: a second look finds nothing */
	assert_int_equal(store_trigger_delivery_adopt(st, "a", &rows), 0);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);

	/* a and b are expired (paused past the ttl): neither may send what it
	 * owned, nor adopt; c, started since, adopts every Pending row */
	assert_int_equal(store_cluster_expire(st, -1000, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_cluster_register(st, &c), 0);
	assert_int_equal(store_trigger_delivery_claim(st, mine, "a"), -ESTALE);
	assert_int_equal(store_trigger_delivery_claim(st, gone, "b"), -ESTALE);
	assert_int_equal(store_trigger_delivery_adopt(st, "a", &rows), 0);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	assert_int_equal(store_trigger_delivery_adopt(st, "c", &rows), 0);
	assert_int_equal(json_array_size(rows), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "id")), mine);
	json_decref(rows);
	assert_int_equal(store_trigger_delivery_claim(st, mine, "c"), 0);
	/* a delivered row is no longer anyone's to send */
	assert_int_equal(store_trigger_delivery_update(st, mine, "Delivered", 2, NULL, "HTTP 200"), 0);
	assert_int_equal(store_trigger_delivery_claim(st, mine, "c"), -ESTALE);
	store_close(st);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest lite[] = {
	    cmocka_unit_test(test_sqlite_refuses),
	};
	const struct CMUnitTest pg[] = {
	    cmocka_unit_test(test_heartbeats_and_jobs),
	    cmocka_unit_test(test_trigger_deliveries),
	};
	int r = cmocka_run_group_tests_name("sqlite", lite, NULL, NULL);

	if (!tu_pg_start())
		return r;
	tu_on_pg = true;
	return r | cmocka_run_group_tests_name("postgresql", pg, NULL, NULL);
}
