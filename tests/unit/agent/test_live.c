/* A command's output: live output split into updates of whole lines with
 * growing seq numbers, a failed update repeating its seq, a refused one
 * dropping its output, rolloutd's Failed answer stopping the command, the
 * diagnostics tail, and the scripts.log cap. The transport is scripted
 * (client_call below); no network. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/live.h"
#include "tmpdir.h"
#include "util.h"

static json_t *sent[64]; /* the Diagnostics payloads sent (or json_null() for a heartbeat) */
static int nsent;
static int fail_next;		 /* the next n calls fail at the transport */
static long answer_status = 200; /* then: this status */
static const char *command_status = "InProgress";

int client_call(struct client *c, const char *op, json_t *req, long timeout_s, bool abortable, json_t **ret_resp,
		struct client_reply *ret_rep, char *err, size_t errlen)
{
	const char *p = json_string_value(json_object_get(json_object_get(req, "Diagnostics"), "Payload"));

	assert_string_equal(op, "PostHostCommandUpdate");
	assert_string_equal(json_string_value(json_object_get(req, "HostCommandIdentifier")), "hc-1");
	snprintf(err, errlen, "scripted");
	ret_rep->type[0] = '\0';
	if (nsent < 64)
		sent[nsent++] = p ? json_loads(p, 0, NULL) : json_null();
	if (fail_next > 0) {
		fail_next--;
		ret_rep->status = 0;
		return -EIO;
	}
	ret_rep->status = answer_status;
	if (answer_status != 200) {
		snprintf(ret_rep->type, sizeof(ret_rep->type), "ClientException");
		return -EPROTO;
	}
	*ret_resp = json_pack("{s:s}", "CommandStatus", command_status);
	return 0;
}

static struct agent_config cfg = {.heartbeat = 10, .scripts_log_max = 200};
static struct agent ag = {.cfg = &cfg};
static char *dir;

static int setup(void **state)
{
	for (int i = 0; i < nsent; i++)
		json_decref(sent[i]);
	nsent = fail_next = 0;
	answer_status = 200;
	command_status = "InProgress";
	dir = tu_mkdtemp();
	cfg.root_dir = dir;
	return dir ? 0 : -1;
}

static int teardown(void **state)
{
	tu_rm_rf(dir);
	return 0;
}

static const char *log_of(int i)
{
	return json_string_value(json_object_get(sent[i], "log"));
}

static void whole_lines_in_order(void **state)
{
	struct tail tail;
	struct live l;
	char line[3000], out[2048];

	tail_reset(&tail);
	live_init(&l, &ag, "hc-1", &tail);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	live_line(&l, 1, line, strlen(line)); /* two such lines do not fit one update */
	live_line(&l, 2, "oops", 4);
	live_line(&l, 1, line, strlen(line));
	live_flush(&l);
	assert_int_equal(nsent, 2);
	assert_int_equal(json_integer_value(json_object_get(sent[0], "seq")), 1);
	assert_int_equal(json_integer_value(json_object_get(sent[1], "seq")), 2);
	assert_true(strlen(log_of(0)) <= 4096 && strlen(log_of(1)) <= 4096);
	assert_true(strncmp(log_of(0), "[stdout]xxx", 11) == 0);
	assert_non_null(strstr(log_of(0), "\n[stderr]oops\n"));
	assert_int_equal(log_of(1)[strlen(log_of(1)) - 1], '\n');
	tail_render(&tail, out, sizeof(out));
	assert_non_null(strstr(out, "xxx"));
	live_close(&l);
}

static void a_failed_update_repeats_its_seq(void **state)
{
	struct live l;

	live_init(&l, &ag, "hc-1", NULL);
	live_line(&l, 1, "one", 3);
	fail_next = 1;
	live_flush(&l); /* stops at the first failure */
	assert_int_equal(nsent, 1);
	assert_true(l.faults == 1);
	live_line(&l, 1, "two", 3);
	live_flush(&l);
	assert_int_equal(nsent, 2);
	assert_int_equal(json_integer_value(json_object_get(sent[0], "seq")), 1);
	assert_int_equal(json_integer_value(json_object_get(sent[1], "seq")), 1);
	assert_string_equal(log_of(1), "[stdout]one\n[stdout]two\n");
	assert_true(l.faults == 0);
	live_close(&l);
}

static void a_refused_update_drops_its_output(void **state)
{
	struct live l;

	live_init(&l, &ag, "hc-1", NULL);
	live_line(&l, 1, "one", 3);
	answer_status = 400;
	live_flush(&l);
	assert_int_equal(nsent, 1);
	assert_int_equal(l.pending_len, 0);
	answer_status = 200;
	live_line(&l, 1, "two", 3);
	live_flush(&l);
	assert_string_equal(log_of(1), "[stdout]two\n");
	live_close(&l);
}

static void rolloutd_stops_the_command(void **state)
{
	struct live l;

	live_init(&l, &ag, "hc-1", NULL);
	command_status = "Failed";
	live_line(&l, 1, "one", 3);
	live_flush(&l);
	assert_true(l.stop_requested);
	assert_int_equal(live_tick(&l), -1);
	live_close(&l);
}

static void scripts_log_is_capped(void **state)
{
	char logs[4200], path[4300], *buf = NULL;
	size_t len;
	struct live l;

	snprintf(logs, sizeof(logs), "%s/logs", dir);
	snprintf(path, sizeof(path), "%s/scripts.log", logs);
	live_init(&l, &ag, "hc-1", NULL);
	assert_int_equal(live_open_logs(&l, logs, path, "d-TEST00001"), 0);
	live_begin_event(&l, "AfterInstall");
	for (int i = 0; i < 20; i++)
		live_line(&l, 1, "0123456789", 10);
	live_close(&l);
	assert_int_equal(rd_read_file(path, 1 << 20, &buf, &len), 0);
	assert_non_null(strstr(buf, "LifecycleEvent - AfterInstall"));
	assert_non_null(strstr(buf, "scripts.log size limit (200 bytes) reached"));
	assert_true(len < 400);
	free(buf);
	/* and the deployments log got every line */
	snprintf(path, sizeof(path), "%s/deployment-logs/codedeploy-agent-deployments.log", dir);
	assert_int_equal(rd_read_file(path, 1 << 20, &buf, &len), 0);
	assert_non_null(strstr(buf, "[d-TEST00001][stdout]0123456789"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(whole_lines_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_failed_update_repeats_its_seq, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_refused_update_drops_its_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(rolloutd_stops_the_command, setup, teardown),
	    cmocka_unit_test_setup_teardown(scripts_log_is_capped, setup, teardown),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	for (int i = 0; i < nsent; i++)
		json_decref(sent[i]);
	return r;
}
