/* daemon/ui/ui_wait.c: a wait is answered at once when the deployment is
 * already past the counter asked about, else by the next change of that
 * deployment only, else at its timeout with the same counter; a page gone
 * is completed without a reply; shutdown completes what is still held.
 * The transport is faked: each call records how it was completed. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>

#include "core/httpd.h"
#include "ui/ui_wait.h"

struct httpd_call {
	int completions;
	int status;
	int64_t seq;
	httpd_gone_fn gone;
	void *gone_arg;
};

void httpd_call_reply(struct httpd_call *c, json_t *body)
{
	c->completions++;
	c->status = 200;
	c->seq = json_integer_value(json_object_get(body, "seq"));
	json_decref(body);
}

void httpd_call_error_status(struct httpd_call *c, int status, const char *type, const char *fmt, ...)
{
	(void)type;
	(void)fmt;
	c->completions++;
	c->status = status;
}

void httpd_call_on_gone(struct httpd_call *c, httpd_gone_fn fn, void *arg)
{
	c->gone = fn;
	c->gone_arg = arg;
}

static void test_at_once_by_change_and_timeout(void **state)
{
	struct event_base *base = event_base_new();
	struct ui_waits *w = NULL;
	struct httpd_call first = {0}, held = {0}, other = {0}, late = {0};

	(void)state;
	assert_int_equal(ui_waits_new(base, &w), 0);
	/* a page that has not seen the deployment learns its counter at once */
	ui_waits_add(w, &first, "d-A", -1, 30000);
	assert_int_equal(first.completions, 1);
	assert_int_equal(first.seq, 0);

	/* held until d-A changes; a change of d-B does not answer it */
	ui_waits_add(w, &held, "d-A", 0, 30000);
	ui_waits_add(w, &other, "d-B", 0, 30000);
	assert_int_equal(held.completions, 0);
	ui_waits_changed(w, "d-B");
	assert_int_equal(held.completions, 0);
	assert_int_equal(other.completions, 1);
	assert_int_equal(other.seq, 1);
	ui_waits_changed(w, "d-A");
	assert_int_equal(held.completions, 1);
	assert_int_equal(held.seq, 1);

	/* asked with an old counter: answered at once with the current one */
	ui_waits_changed(w, "d-A");
	ui_waits_add(w, &late, "d-A", 1, 30000);
	assert_int_equal(late.completions, 1);
	assert_int_equal(late.seq, 2);

	/* nothing changes: the timeout (clamped to at least 100 ms) answers
	 * with the counter asked about */
	{
		struct httpd_call quiet = {0};
		struct timeval tv = {.tv_sec = 0, .tv_usec = 450 * 1000};

		ui_waits_add(w, &quiet, "d-A", 2, 1);
		assert_int_equal(quiet.completions, 0);
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
		assert_int_equal(quiet.completions, 1);
		assert_int_equal(quiet.status, 200);
		assert_int_equal(quiet.seq, 2);
	}
	w = ui_waits_free(w);
	event_base_free(base);
	/* each call completed exactly once */
	assert_int_equal(first.completions + held.completions + other.completions + late.completions, 4);
}

static void test_gone_and_shutdown(void **state)
{
	struct event_base *base = event_base_new();
	struct ui_waits *w = NULL;
	struct httpd_call gone = {0}, kept = {0};

	(void)state;
	assert_int_equal(ui_waits_new(base, &w), 0);
	ui_waits_add(w, &gone, "d-A", 0, 30000);
	ui_waits_add(w, &kept, "d-A", 0, 30000);
	assert_non_null(gone.gone);
	/* the page went away: completed (the reply is discarded), not answered twice */
	gone.gone(&gone, gone.gone_arg);
	assert_int_equal(gone.completions, 1);
	/* shutdown completes what is held with a 503 */
	w = ui_waits_free(w);
	assert_int_equal(kept.completions, 1);
	assert_int_equal(kept.status, 503);
	assert_int_equal(gone.completions, 1);
	event_base_free(base);
}

static void test_counters_bounded(void **state)
{
	struct event_base *base = event_base_new();
	struct ui_waits *w = NULL;
	struct httpd_call c = {0};
	char id[32];

	(void)state;
	assert_int_equal(ui_waits_new(base, &w), 0);
	for (int i = 0; i <= UI_WAIT_MAX_DEPLOYMENTS; i++) {
		snprintf(id, sizeof(id), "d-%08d", i);
		ui_waits_changed(w, id);
	}
	/* past the bound the counters were dropped and started again: a page
	 * with an old counter is answered at once and reads again */
	ui_waits_add(w, &c, "d-00000000", 1, 30000);
	assert_int_equal(c.completions, 1);
	assert_int_equal(c.seq, 0);
	w = ui_waits_free(w);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_at_once_by_change_and_timeout),
	    cmocka_unit_test(test_gone_and_shutdown),
	    cmocka_unit_test(test_counters_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
