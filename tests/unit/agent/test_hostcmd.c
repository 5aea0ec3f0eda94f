/* The host-command error rule: which outcomes are faults, answers or a stop,
 * the retry schedule, and hostcmd_call's retries against a scripted
 * transport (client_call is replaced below; no network). */
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
#include "agent/hostcmd.h"
#include "agent/runner.h"
#include "util.h"

/* ---- scripted transport */

struct step {
	int r;
	long status;
	const char *type;
};
static struct step script[8];
static int nscript, ncalls;
static struct agent ag;
static volatile sig_atomic_t stop_after_call = -1; /* sets ag.stop after that call */

int client_call(struct client *c, const char *op, json_t *req, long timeout_s, bool abortable, json_t **ret_resp,
		struct client_reply *ret_rep, char *err, size_t errlen)
{
	struct step s = ncalls < nscript ? script[ncalls] : (struct step){0, 200, ""};

	(void)c, (void)req, (void)timeout_s, (void)abortable;
	ncalls++;
	if (ncalls == stop_after_call)
		ag.stop = 1;
	ret_rep->status = s.status;
	snprintf(ret_rep->type, sizeof(ret_rep->type), "%s", s.type ? s.type : "");
	snprintf(err, errlen, "%s: scripted %d", op, s.r);
	if (s.r == 0)
		*ret_resp = json_object();
	return s.r;
}

void runner_reap(void)
{
}

static void setup_script(const struct step *s, int n)
{
	memcpy(script, s, sizeof(*s) * (size_t)n);
	nscript = n;
	ncalls = 0;
	ag.stop = 0;
	stop_after_call = -1;
}

/* ---- tests */

static void classify(void **state)
{
	struct client_reply rep = {0};
	(void)state;

	assert_int_equal(hostcmd_classify(0, &rep), HOSTCMD_OK);
	assert_int_equal(hostcmd_classify(-EINTR, &rep), HOSTCMD_STOPPED);
	assert_int_equal(hostcmd_classify(-EIO, &rep), HOSTCMD_FAULT); /* refused, reset, timed out */
	assert_int_equal(hostcmd_classify(-ENOMEM, &rep), HOSTCMD_FAULT);
	rep.status = 503;
	assert_int_equal(hostcmd_classify(-EPROTO, &rep), HOSTCMD_FAULT);
	rep.status = 500;
	assert_int_equal(hostcmd_classify(-EPROTO, &rep), HOSTCMD_FAULT);
	rep.status = 200; /* a reply that is not JSON */
	assert_int_equal(hostcmd_classify(-EPROTO, &rep), HOSTCMD_FAULT);
	rep.status = 429;
	assert_int_equal(hostcmd_classify(-EPROTO, &rep), HOSTCMD_FAULT);
	rep.status = 408;
	assert_int_equal(hostcmd_classify(-EPROTO, &rep), HOSTCMD_FAULT);
	rep.status = 400;
	strcpy(rep.type, "ThrottlingException");
	assert_int_equal(hostcmd_classify(-EPROTO, &rep), HOSTCMD_FAULT);
	strcpy(rep.type, "RequestLimitExceeded");
	assert_int_equal(hostcmd_classify(-EPROTO, &rep), HOSTCMD_FAULT);
	strcpy(rep.type, "ClientException");
	assert_int_equal(hostcmd_classify(-EPROTO, &rep), HOSTCMD_ANSWER);
	rep.status = 403;
	strcpy(rep.type, "AccessDeniedException");
	assert_int_equal(hostcmd_classify(-EPROTO, &rep), HOSTCMD_ANSWER);
}

static void not_found(void **state)
{
	struct client_reply rep = {.status = 400};
	(void)state;

	strcpy(rep.type, "DeploymentDoesNotExistException");
	assert_true(hostcmd_not_found(&rep));
	strcpy(rep.type, "ResourceNotFoundException");
	assert_true(hostcmd_not_found(&rep));
	strcpy(rep.type, "ClientException");
	assert_false(hostcmd_not_found(&rep));
	rep.status = 503;
	strcpy(rep.type, "DeploymentDoesNotExistException");
	assert_false(hostcmd_not_found(&rep));
}

static void schedule(void **state)
{
	unsigned total = 0, n;
	(void)state;

	assert_int_equal(hostcmd_delay_s(1), 1);
	assert_int_equal(hostcmd_delay_s(2), 2);
	assert_int_equal(hostcmd_delay_s(3), 4);
	assert_int_equal(hostcmd_delay_s(4), 8);
	assert_int_equal(hostcmd_delay_s(5), 10);
	assert_int_equal(hostcmd_delay_s(1000), 10);
	/* the window holds a dozen tries, enough for a restart under systemd */
	for (n = 1; total + hostcmd_delay_s(n) <= HOSTCMD_RETRY_WINDOW_S; n++)
		total += hostcmd_delay_s(n);
	assert_true(HOSTCMD_RETRY_WINDOW_S >= 60);
	assert_true(n >= 12);
}

static void retries_a_fault_then_succeeds(void **state)
{
	const struct step s[] = {{-EIO, 0, NULL}, {0, 200, NULL}};
	json_t *resp = NULL;
	char err[256];
	(void)state;

	setup_script(s, 2);
	assert_int_equal(hostcmd_call(&ag, "GetDeploymentSpecification", NULL, &resp, NULL, err, sizeof(err)),
			 HOSTCMD_OK);
	assert_int_equal(ncalls, 2);
	assert_non_null(resp);
	json_decref(resp);
}

static void an_answer_is_not_retried(void **state)
{
	const struct step s[] = {{-EPROTO, 400, "DeploymentDoesNotExistException"}};
	struct client_reply rep;
	json_t *resp = NULL;
	char err[256];
	(void)state;

	setup_script(s, 1);
	assert_int_equal(hostcmd_call(&ag, "GetDeploymentSpecification", NULL, &resp, &rep, err, sizeof(err)),
			 HOSTCMD_ANSWER);
	assert_int_equal(ncalls, 1);
	assert_int_equal(rep.status, 400);
	assert_true(hostcmd_not_found(&rep));
	assert_null(resp);
}

static void a_stopping_agent_gives_up(void **state)
{
	const struct step s[] = {{-EIO, 0, NULL}, {-EIO, 0, NULL}, {-EIO, 0, NULL}};
	json_t *resp = NULL;
	char err[256];
	(void)state;

	/* acknowledgement: no further try once stopping */
	setup_script(s, 3);
	stop_after_call = 1;
	assert_int_equal(hostcmd_call(&ag, "PutHostCommandAcknowledgement", NULL, &resp, NULL, err, sizeof(err)),
			 HOSTCMD_STOPPED);
	assert_int_equal(ncalls, 1);
	/* completion: one more try */
	setup_script(s, 3);
	stop_after_call = 1;
	assert_int_equal(hostcmd_call(&ag, "PutHostCommandComplete", NULL, &resp, NULL, err, sizeof(err)),
			 HOSTCMD_STOPPED);
	assert_int_equal(ncalls, 2);
	assert_non_null(strstr(err, "scripted"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(classify),
	    cmocka_unit_test(not_found),
	    cmocka_unit_test(schedule),
	    cmocka_unit_test(retries_a_fault_then_succeeds),
	    cmocka_unit_test(an_answer_is_not_retried),
	    cmocka_unit_test(a_stopping_agent_gives_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
