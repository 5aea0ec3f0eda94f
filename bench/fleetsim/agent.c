/* One simulated agent: the host-command exchange of agent/PROTOCOL.md as
 * rollout-agent makes it (it polls only between commands), with a hook
 * that takes --hook-ms and fails with probability --failure-rate:
 *
 *   Poll -> GetDeploymentSpecification (verified) -> PutHostCommandAcknowledgement
 *        -> [hook time, PostHostCommandUpdate heartbeats every 10 s]
 *        -> PutHostCommandComplete -> Poll
 *
 * GetDeploymentSpecification comes once per DeploymentExecutionId, at its
 * first command, as rollout-agent keeps the verified specification for the
 * next commands of the same deployment; with --spec-every-event at every
 * command, as the official agent asks.
 *
 * Errors follow the agent's rule: a transport error or 5xx is retried
 * after 1, 2, 4, 8, then 10 s; a failed spec or acknowledgement drops the
 * command (rolloutd offers it again); a 4xx on a poll waits 10 s. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "fleetsim.h"
#include "jsonutil.h"
#include "util.h"

#define CMD_PREFIX "CodeDeployCommandService_v20141006."
#define POLL_TIMEOUT_MS 90000L
#define CALL_TIMEOUT_MS 30000L
#define HEARTBEAT_MS 10000
#define RETRY_WINDOW_MS 120000

enum fs_state { S_IDLE, S_POLL, S_SPEC, S_ACK, S_HOOK, S_UPDATE, S_COMPLETE };

struct fs_agent {
	struct xfer x;
	struct timer t;
	struct fs_sim *sim;
	unsigned idx;
	char *name, *hid, *userpwd;
	enum fs_state st;
	enum fs_state retry_st; /* what the timer does */
	char *cmd_id, *exec_id, *event;
	int64_t hook_end, retry_end;
	unsigned attempt;
	bool fail;
	bool spec_bad;
	char spec_error[600];
	char *spec_exec; /* the DeploymentExecutionId whose spec was verified last */
};

/* Specifications already verified: rolloutd signs one per deployment, so
 * every host of it gets the same bytes; an identical Payload is as
 * trustworthy as the one whose signature was checked. */
#define SPEC_CACHE 16
static struct {
	char *payload;
	char deployment_id[32];
} spec_cache[SPEC_CACHE];
static unsigned spec_cache_next;

void fs_error(struct fs_sim *s, bool transport, const char *fmt, ...)
{
	va_list ap;

	if (transport)
		s->st.transport_errors++;
	else
		s->st.http_errors++;
	va_start(ap, fmt);
	vsnprintf(s->st.last_error, sizeof(s->st.last_error), fmt, ap);
	va_end(ap);
	if (!s->st.first_error[0])
		memcpy(s->st.first_error, s->st.last_error, sizeof(s->st.first_error));
}

static double rnd(struct fs_sim *s)
{
	/* xorshift64*: reproducible with --seed */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (double)((s->rng * 2685821657736338717ULL) >> 11) / (double)(1ULL << 53);
}

static void forget_command(struct fs_agent *a)
{
	free(a->cmd_id);
	free(a->exec_id);
	free(a->event);
	a->cmd_id = a->exec_id = a->event = NULL;
}

static void do_poll(struct fs_agent *a);
static void do_spec(struct fs_agent *a);
static void do_ack(struct fs_agent *a);
static void do_complete(struct fs_agent *a);
static void do_update(struct fs_agent *a);

static void call(struct fs_agent *a, enum fs_state st, const char *op, json_t *body, long timeout_ms, xfer_done_fn done)
{
	char target[128];
	char *text = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	a->st = st;
	snprintf(target, sizeof(target), CMD_PREFIX "%s", op);
	if (!text || xfer_call(&a->x, &a->sim->cmd, a->userpwd, target, text, timeout_ms, done) < 0) {
		fprintf(stderr, "fleet-sim-agents: %s: cannot start %s: out of memory\n", a->name, op);
		abort();
	}
	a->sim->st.requests++;
}

static void later(struct fs_agent *a, enum fs_state what, int64_t ms)
{
	a->retry_st = what;
	a->st = S_IDLE;
	timer_arm(a->sim->loop, &a->t, ms);
}

/* The agent's back-off: 1, 2, 4, 8, then 10 s. */
static int64_t backoff_ms(unsigned attempt)
{
	return attempt >= 5 ? 10000 : 1000LL << (attempt ? attempt - 1 : 0);
}

/* Sorts an answer: 1 = 200 with a JSON object in *ret, 0 = retry (fault),
 * -1 = a 4xx answer (rolloutd said no). */
static int answer(struct fs_agent *a, const char *op, int r, long status, const char *body, size_t len, const char *err,
		  json_t **ret)
{
	json_t *j;

	*ret = NULL;
	if (r < 0) {
		fs_error(a->sim, true, "%s %s: %s", a->name, op, err);
		return 0;
	}
	if (status != 200) {
		fs_error(a->sim, false, "%s %s: HTTP %ld %.300s", a->name, op, status, body);
		return status >= 500 || status == 429 || status == 408 || strcasestr(body, "throttl") ? 0 : -1;
	}
	j = len ? json_loadb(body, len, 0, NULL) : json_object();
	if (!j || !json_is_object(j)) {
		json_decref(j);
		fs_error(a->sim, false, "%s %s: the answer is not a JSON object: %.200s", a->name, op, body);
		return 0;
	}
	*ret = j;
	return 1;
}

/* ---------------------------------------------------------------- poll */

static void poll_done(struct xfer *x, int r, long status, const char *body, size_t len, const char *err)
{
	struct fs_agent *a = x->ud;
	json_t *j, *hc;
	int k = answer(a, "PollHostCommand", r, status, body, len, err, &j);
	const char *hid, *cid, *exec, *ev;

	if (k <= 0) {
		a->attempt++;
		later(a, S_POLL, k < 0 ? 10000 : backoff_ms(a->attempt));
		return;
	}
	a->attempt = 0;
	a->sim->st.polls++;
	hc = json_object_get(j, "HostCommand");
	if (!hc) {
		json_decref(j);
		do_poll(a);
		return;
	}
	hid = rd_json_str(hc, "HostIdentifier");
	cid = rd_json_str(hc, "HostCommandIdentifier");
	exec = rd_json_str(hc, "DeploymentExecutionId");
	ev = rd_json_str(hc, "CommandName");
	/* the official rule: the command's host identifier is part of ours */
	if (!hid || !cid || !exec || !ev || !strstr(a->hid, hid)) {
		fs_error(a->sim, false, "%s: a HostCommand not for this host or incomplete: %.300s", a->name, body);
		json_decref(j);
		later(a, S_POLL, 1000);
		return;
	}
	a->sim->st.commands++;
	forget_command(a);
	a->cmd_id = strdup(cid);
	a->exec_id = strdup(exec);
	a->event = strdup(ev);
	json_decref(j);
	if (!a->cmd_id || !a->exec_id || !a->event)
		abort();
	if (!a->sim->spec_every_event && a->spec_exec && strcmp(a->spec_exec, a->exec_id) == 0) {
		a->sim->st.specs_kept++;
		a->spec_bad = false;
		do_ack(a);
		return;
	}
	do_spec(a);
}

static void do_poll(struct fs_agent *a)
{
	call(a, S_POLL, "PollHostCommand", json_pack("{s:s}", "HostIdentifier", a->hid), POLL_TIMEOUT_MS, poll_done);
}

/* ---------------------------------------------------------------- spec */

/* Verifies the answer's signature (or finds the same bytes verified
 * before) and that it is the deployment of the command. */
static int check_spec(struct fs_agent *a, json_t *resp)
{
	const json_t *env = json_object_get(json_object_get(resp, "DeploymentSpecification"), "GenericEnvelope");
	const char *payload = rd_json_str(env, "Payload");
	const char *want = strstr(a->exec_id, ":deployment/");
	struct deploy_spec *spec = NULL;
	char err[512];
	int r;

	want = want ? want + strlen(":deployment/") : "";
	if (!payload) {
		snprintf(a->spec_error, sizeof(a->spec_error), "no GenericEnvelope.Payload");
		return -EBADMSG;
	}
	for (unsigned i = 0; i < SPEC_CACHE; i++)
		if (spec_cache[i].payload && strcmp(spec_cache[i].payload, payload) == 0) {
			if (strcmp(spec_cache[i].deployment_id, want) != 0) {
				snprintf(a->spec_error, sizeof(a->spec_error),
					 "the specification is for deployment %s, the command for %s",
					 spec_cache[i].deployment_id, want);
				return -EBADMSG;
			}
			a->sim->st.specs_same++;
			return 0;
		}
	r = spec_verify_and_parse(resp, a->sim->cert, false, &spec, err, sizeof(err));
	if (r < 0) {
		snprintf(a->spec_error, sizeof(a->spec_error), "%s", err);
		return r;
	}
	if (strcmp(spec->deployment_id, want) != 0) {
		snprintf(a->spec_error, sizeof(a->spec_error),
			 "the specification is for deployment %s, the command for %s", spec->deployment_id, want);
		deploy_spec_free(spec);
		return -EBADMSG;
	}
	unsigned i = spec_cache_next++ % SPEC_CACHE;
	free(spec_cache[i].payload);
	spec_cache[i].payload = strdup(payload);
	snprintf(spec_cache[i].deployment_id, sizeof(spec_cache[i].deployment_id), "%s", spec->deployment_id);
	deploy_spec_free(spec);
	a->sim->st.specs_verified++;
	return 0;
}

static void spec_done(struct xfer *x, int r, long status, const char *body, size_t len, const char *err)
{
	struct fs_agent *a = x->ud;
	json_t *j;
	int k = answer(a, "GetDeploymentSpecification", r, status, body, len, err, &j);

	if (k <= 0) {
		/* not a failure of the command: dropped, rolloutd offers it again */
		a->sim->st.dropped++;
		later(a, S_POLL, 1000);
		return;
	}
	a->spec_bad = check_spec(a, j) < 0;
	json_decref(j);
	free(a->spec_exec);
	a->spec_exec = a->spec_bad ? NULL : strdup(a->exec_id);
	if (a->spec_bad) {
		a->sim->st.specs_rejected++;
		fs_error(a->sim, false, "%s: deployment specification rejected: %s", a->name, a->spec_error);
	}
	do_ack(a);
}

static void do_spec(struct fs_agent *a)
{
	call(a, S_SPEC, "GetDeploymentSpecification",
	     json_pack("{s:s,s:s}", "DeploymentExecutionId", a->exec_id, "HostIdentifier", a->hid), CALL_TIMEOUT_MS,
	     spec_done);
}

/* ---------------------------------------------------------------- ack, hook, complete */

static void hook_wait(struct fs_agent *a)
{
	int64_t left = a->hook_end - loop_now();

	if (left <= 0) {
		a->attempt = 0;
		a->retry_end = loop_now() + RETRY_WINDOW_MS;
		do_complete(a);
	} else
		later(a, left > HEARTBEAT_MS ? S_UPDATE : S_HOOK, left > HEARTBEAT_MS ? HEARTBEAT_MS : left);
}

static void ack_done(struct xfer *x, int r, long status, const char *body, size_t len, const char *err)
{
	struct fs_agent *a = x->ud;
	json_t *j;
	int k = answer(a, "PutHostCommandAcknowledgement", r, status, body, len, err, &j);
	const char *cs;

	if (k <= 0) {
		a->sim->st.dropped++;
		later(a, S_POLL, 1000);
		return;
	}
	cs = rd_json_str(j, "CommandStatus");
	if (cs && (strcmp(cs, "Succeeded") == 0 || strcmp(cs, "Failed") == 0)) {
		json_decref(j);
		a->sim->st.skipped++;
		do_poll(a);
		return;
	}
	json_decref(j);
	a->fail = a->spec_bad || (a->sim->failure_rate > 0 && rnd(a->sim) < a->sim->failure_rate);
	a->hook_end = loop_now() + (a->spec_bad ? 0 : a->sim->hook_ms);
	a->st = S_HOOK;
	hook_wait(a);
}

static void do_ack(struct fs_agent *a)
{
	call(a, S_ACK, "PutHostCommandAcknowledgement",
	     json_pack("{s:s,s:{s:s,s:s}}", "HostCommandIdentifier", a->cmd_id, "Diagnostics", "Format", "JSON",
		       "Payload", "{\"IsCommandNoop\":false}"),
	     CALL_TIMEOUT_MS, ack_done);
}

static void update_done(struct xfer *x, int r, long status, const char *body, size_t len, const char *err)
{
	struct fs_agent *a = x->ud;
	json_t *j;
	const char *cs;

	/* a failed heartbeat does not stop the command */
	if (answer(a, "PostHostCommandUpdate", r, status, body, len, err, &j) > 0) {
		cs = rd_json_str(j, "CommandStatus");
		if (cs && (strcmp(cs, "Succeeded") == 0 || strcmp(cs, "Failed") == 0)) {
			/* StopDeployment: the hook is ended */
			a->fail = true;
			a->hook_end = loop_now();
		}
		json_decref(j);
	}
	a->st = S_HOOK;
	hook_wait(a);
}

static void do_update(struct fs_agent *a)
{
	a->sim->st.heartbeats++;
	call(a, S_UPDATE, "PostHostCommandUpdate",
	     json_pack("{s:s,s:I}", "HostCommandIdentifier", a->cmd_id, "EstimatedCompletionTime",
		       (json_int_t)(rd_wall_ms() / 1000 + 3600)),
	     CALL_TIMEOUT_MS, update_done);
}

static void complete_done(struct xfer *x, int r, long status, const char *body, size_t len, const char *err)
{
	struct fs_agent *a = x->ud;
	json_t *j;
	int k = answer(a, "PutHostCommandComplete", r, status, body, len, err, &j);

	json_decref(j);
	if (k == 0 && loop_now() + backoff_ms(a->attempt + 1) < a->retry_end) {
		a->attempt++;
		later(a, S_COMPLETE, backoff_ms(a->attempt));
		return;
	}
	if (k > 0) {
		if (a->fail)
			a->sim->st.events_failed++;
		else
			a->sim->st.events_ok++;
	}
	a->attempt = 0;
	forget_command(a);
	do_poll(a);
}

static void do_complete(struct fs_agent *a)
{
	char script[96], msg[700];
	json_t *payload;
	char *text;

	if (a->spec_bad) {
		snprintf(script, sizeof(script), "%s", "");
		snprintf(msg, sizeof(msg), "deployment specification rejected: %s", a->spec_error);
		payload =
		    json_pack("{s:i,s:s,s:s,s:s}", "error_code", 5, "script_name", script, "message", msg, "log", "");
	} else if (a->fail) {
		snprintf(script, sizeof(script), "scripts/%s.sh", a->event);
		snprintf(msg, sizeof(msg), "Script at specified location: %s failed with exit code 1", script);
		payload = json_pack("{s:i,s:s,s:s,s:s}", "error_code", 4, "script_name", script, "message", msg, "log",
				    "[stderr]fleet-sim: injected failure\n");
	} else
		payload = json_pack("{s:i,s:s,s:s,s:s}", "error_code", 0, "script_name", "", "message",
				    "Succeeded: ", "log", "");
	text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	json_decref(payload);
	if (!text)
		abort();
	call(a, S_COMPLETE, "PutHostCommandComplete",
	     json_pack("{s:s,s:s,s:{s:s,s:s}}", "HostCommandIdentifier", a->cmd_id, "CommandStatus",
		       a->fail ? "Failed" : "Succeeded", "Diagnostics", "Format", "JSON", "Payload", text),
	     CALL_TIMEOUT_MS, complete_done);
	free(text);
}

/* ---------------------------------------------------------------- life */

static void on_timer(struct timer *t)
{
	struct fs_agent *a = (struct fs_agent *)((char *)t - offsetof(struct fs_agent, t));

	switch (a->retry_st) {
	case S_POLL:
		forget_command(a);
		do_poll(a);
		break;
	case S_UPDATE:
		do_update(a);
		break;
	case S_HOOK:
		a->st = S_HOOK;
		hook_wait(a);
		break;
	case S_COMPLETE:
		do_complete(a);
		break;
	default:
		abort();
	}
}

int fs_agent_new(struct fs_sim *s, unsigned idx, const char *name, const char *hid, const char *userpwd,
		 struct fs_agent **ret)
{
	struct fs_agent *a = calloc(1, sizeof(*a));
	char alias[64];
	int r;

	if (!a)
		return -ENOMEM;
	a->sim = s;
	a->idx = idx;
	a->t.fn = on_timer;
	/* a host name of its own: a connection of its own (loop.h) */
	snprintf(alias, sizeof(alias), "h%u.fleet-sim.invalid", idx);
	r = xfer_init(s->loop, &a->x, &s->cmd, alias);
	if (r < 0) {
		free(a);
		return r;
	}
	a->x.ud = a;
	a->name = strdup(name);
	a->hid = strdup(hid);
	a->userpwd = strdup(userpwd);
	if (!a->name || !a->hid || !a->userpwd) {
		fs_agent_free(a);
		return -ENOMEM;
	}
	*ret = a;
	return 0;
}

struct fs_agent *fs_agent_free(struct fs_agent *a)
{
	if (!a)
		return NULL;
	xfer_cleanup(&a->x);
	forget_command(a);
	free(a->spec_exec);
	free(a->name);
	free(a->hid);
	if (a->userpwd)
		explicit_bzero(a->userpwd, strlen(a->userpwd));
	free(a->userpwd);
	free(a);
	return NULL;
}

void fs_agent_start(struct fs_agent *a)
{
	do_poll(a);
}

bool fs_agent_polling(const struct fs_agent *a)
{
	return a->st == S_POLL && a->x.busy;
}
