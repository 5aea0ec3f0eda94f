/* The host-command service on the engine thread; see engine_hostcmd.h.
 * Calls arrive as struct eng_call (engine_hostcmd_http.c turns HTTP
 * requests into them) and are answered through the outbox. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundles/bundles.h"
#include "cluster/cluster.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/metrics.h"
#include "engine/engine_context.h"
#include "engine/engine_hostcmd.h"
#include "engine/engine_hostcmd_id.h"
#include "engine/spec.h"
#include "cryptoutil.h"
#include "jsonutil.h"
#include "log.h"
#include "store/store.h"
#include "store/store_engine.h"
#include "util.h"

#define TAG "hostcmd"
#define HOOK_LOG_CAP (1024 * 1024) /* bytes of live output kept per instance and event */
#define REDISPATCH_MS 30000	   /* a command handed out but not acknowledged for this long is offered again */
/* A poll arriving this long after another daemon announced a command for
 * its host goes there: it covers the poll that was on its way here (its
 * daemon looked for the host's commands before they existed) when the
 * announcement came. Later polls find the driver by themselves. */
#define HINT_MS 5000
#define RELAYED_HOLD_MIN_MS 1000 /* a relayed poll is held at least this long */

/* ---------------------------------------------------------------- hosts and their queues */

int eng_hosts_init(struct engine *e)
{
	e->hosts = (struct rd_strmap)RD_STRMAP_INIT;
	e->host_timers = (struct rd_timerheap)RD_TIMERHEAP_INIT;
	return 0;
}

void eng_hosts_free(struct engine *e)
{
	size_t it = 0;
	void *v;

	rd_timerheap_clear(&e->host_timers);
	free(e->due_hosts);
	e->due_hosts = NULL;
	e->n_due = e->cap_due = 0;
	while (rd_strmap_next(&e->hosts, &it, NULL, &v)) {
		struct eng_host *h = v;
		if (h->poll)
			eng_reply_now(e, h->poll, json_object());
		free(h->name);
		free(h->poll_identifier);
		free(h->verified_identifier);
		free(h->hint_url);
		free(h);
	}
	rd_strmap_clear(&e->hosts);
	it = 0;
	while (rd_strmap_next(&e->key_polls, &it, NULL, &v))
		free(v);
	rd_strmap_clear(&e->key_polls);
}

/* ---- held polls ----
 *
 * One per host (a newer poll of the same host answers the older); with
 * limits.long_polls_per_key, also at most that many per access key, so an
 * admin key cannot hold one for every registered instance. */

struct key_polls {
	size_t n;
	char key[];
};

static bool poll_key_full(struct engine *e, const struct eng_call *call, const struct eng_host *h)
{
	const struct key_polls *k;

	if (!e->long_polls_per_key || (h->poll && !strcmp(h->poll->access_key_id, call->access_key_id)))
		return false;
	k = rd_strmap_get(&e->key_polls, call->access_key_id);
	return k && k->n >= e->long_polls_per_key;
}

static void poll_key_count(struct engine *e, const struct eng_call *call, int d)
{
	struct key_polls *k;
	size_t len;

	if (!e->long_polls_per_key)
		return;
	k = rd_strmap_get(&e->key_polls, call->access_key_id);
	if (!k && d > 0) {
		len = strlen(call->access_key_id);
		if (!(k = calloc(1, sizeof(*k) + len + 1)))
			return; /* uncounted: the cap is a defence, not bookkeeping to fail a poll for */
		memcpy(k->key, call->access_key_id, len + 1);
		if (rd_strmap_put(&e->key_polls, k->key, k) < 0) {
			free(k);
			return;
		}
	}
	if (!k)
		return;
	if (d > 0)
		k->n++;
	else if (k->n && !--k->n)
		free(rd_strmap_del(&e->key_polls, k->key));
}

/* h's held poll becomes call (answering the one it replaces). */
static void poll_hold(struct engine *e, struct eng_host *h, struct eng_call *call)
{
	if (h->poll) {
		poll_key_count(e, h->poll, -1);
		eng_reply_now(e, h->poll, json_object());
	} else {
		metric_add(metric_gauge("rolloutd_long_polls_held", NULL, NULL), 1.0, NULL);
	}
	poll_key_count(e, call, +1);
	h->poll = call;
}

/* Answers h's held poll with body (stolen). */
static void poll_answer(struct engine *e, struct eng_host *h, json_t *body)
{
	poll_key_count(e, h->poll, -1);
	metric_add(metric_gauge("rolloutd_long_polls_held", NULL, NULL), -1.0, NULL);
	eng_reply_now(e, h->poll, body);
	h->poll = NULL;
}

static struct eng_host *host_get(struct engine *e, const char *name)
{
	struct eng_host *h = rd_strmap_get(&e->hosts, name);

	if (h)
		return h;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->name = strdup(name);
	if (!h->name || rd_strmap_add(&e->hosts, h->name, h) < 0) {
		free(h->name);
		free(h);
		return NULL;
	}
	return h;
}

/* Schedules h's timer at its earliest deadline, unless it is already due
 * before: a deadline that moved later (a host heard from again) is found
 * when the timer fires, which saves moving it on every call. */
static void host_arm(struct engine *e, struct eng_host *h)
{
	const struct eng_target *t = h->cur;
	int64_t at = h->poll ? h->poll_deadline : INT64_MAX, x;

	if (t && t->phase == PH_QUEUED) {
		x = t->queued_ms + e->pickup_ms + 1;
		at = x < at ? x : at;
	} else if (t && (t->phase == PH_DISPATCHED || t->phase == PH_ACKED) && !h->poll) {
		x = h->last_seen + e->heartbeat_ms + 1;
		at = x < at ? x : at;
	}
	if (at == INT64_MAX || (rd_timer_pending(&h->timer) && h->timer.at <= at))
		return;
	if (rd_timer_schedule(&e->host_timers, &h->timer, at) < 0)
		eng_store_error(e, -ENOMEM, "host timer");
}

static void host_unqueue(struct eng_host *h, struct eng_target *t)
{
	struct eng_target **pp;

	for (pp = &h->qhead; *pp; pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			break;
		}
	}
	h->qtail = NULL;
	for (struct eng_target *x = h->qhead; x; x = x->hnext)
		h->qtail = x;
	t->hnext = NULL;
	t->queued_on_host = false;
}

/* Hands the current command of h to its held poll (QUEUED -> DISPATCHED). */
static void dispatch(struct engine *e, struct eng_host *h)
{
	struct eng_target *t = h->cur;
	struct cmd_id id = {0};
	char idtxt[CMD_ID_MAX], exec[160];
	int64_t nonce = 0;
	json_t *body;

	snprintf(id.deployment_id, sizeof(id.deployment_id), "%s", t->dep->id);
	snprintf(id.instance, sizeof(id.instance), "%s", t->id);
	snprintf(id.event, sizeof(id.event), "%s", t->ev[t->cur].name);
	id.attempt = (int)t->cmd_id;
	if (cmd_id_encode(&id, idtxt, sizeof(idtxt)) < 0 ||
	    cmd_execution_id(e->d->cfg->region, e->d->cfg->account_id, t->dep->id, exec, sizeof(exec)) < 0) {
		/* Instance names are validated by the API; this is a bug. */
		rd_logf(LOG_ERR, TAG, RD_LOG_FIELDS(t->dep->id, t->id, t->ev[t->cur].name),
			"cannot encode the command of %s on %s", t->dep->id, t->id);
		return;
	}
	rd_random_bytes(&nonce, sizeof(nonce));
	body = json_pack("{s:{s:s,s:s,s:s,s:s,s:I}}", "HostCommand", "HostCommandIdentifier", idtxt, "HostIdentifier",
			 h->poll_identifier ? h->poll_identifier : t->id, "DeploymentExecutionId", exec, "CommandName",
			 t->ev[t->cur].name, "Nonce", (json_int_t)(nonce & 0x7fffffffffffffffLL));
	if (!body)
		return;
	/* Stored in this batch's transaction but answered at once: see
	 * "durability" in engine.h. */
	eng_store_error(e, store_eng_cmd_update(e->tx, t->cmd_id, "InProgress", 0, 0, NULL), "dispatch");
	poll_answer(e, h, body);
	t->phase = PH_DISPATCHED;
	t->dispatched_ms = e->now_mono;
	h->last_seen = e->now_mono;
}

/* h's command is due and its agent polls elsewhere (or between polls):
 * told to the cluster at the end of the turn (eng_hostcmd_announce). */
static void announce_add(struct engine *e, struct eng_host *h)
{
	if (h->announced || !e->io->hosts_due)
		return;
	if (e->n_due == e->cap_due) {
		size_t nc = e->cap_due ? 2 * e->cap_due : 64;
		const char **nv = realloc(e->due_hosts, nc * sizeof(*nv));
		if (!nv)
			return; /* the agent finds the command at its next poll */
		e->due_hosts = nv;
		e->cap_due = nc;
	}
	e->due_hosts[e->n_due++] = h->name;
	h->announced = true;
}

void eng_hostcmd_announce(struct engine *e)
{
	if (e->n_due && e->io->hosts_due)
		e->io->hosts_due(e->io->cluster_arg, e->due_hosts, e->n_due);
	e->n_due = 0;
}

/* The next queued command becomes the host's, and goes to a held poll. */
static void host_pump(struct engine *e, struct eng_host *h)
{
	if (!h->cur && h->qhead) {
		struct eng_target *t = h->qhead;
		host_unqueue(h, t);
		h->cur = t;
		t->queued_ms = e->now_mono; /* pick-up window starts when it is the host's turn */
		h->announced = false;
	}
	if (h->cur && h->cur->phase == PH_QUEUED && h->poll)
		dispatch(e, h);
	else if (h->cur && h->cur->phase == PH_QUEUED)
		announce_add(e, h);
	host_arm(e, h);
}

/* Hands h's held poll to the daemon at url (engine_notify_host). */
static void poll_handover(struct engine *e, struct eng_host *h, const char *url)
{
	struct eng_call *c = h->poll;
	int64_t left = h->poll_deadline - e->now_mono;

	poll_key_count(e, c, -1);
	metric_add(metric_gauge("rolloutd_long_polls_held", NULL, NULL), -1.0, NULL);
	h->poll = NULL;
	h->last_seen = e->now_mono;
	free(h->hint_url);
	h->hint_url = NULL;
	if (e->io->relay) {
		e->io->relay(e->io->cluster_arg, c->reply_to, url, left > 0 ? left : 0);
		eng_call_free(c);
	} else {
		eng_reply_now(e, c, json_object());
	}
	host_arm(e, h);
}

void eng_hostcmd_notice(struct engine *e, const char *host, const char *url)
{
	struct eng_host *h = rd_strmap_get(&e->hosts, host);

	/* a command of ours first: the agent polls the other daemon after it */
	if (h && (h->cur || h->qhead))
		return;
	if (h && h->poll && !h->poll->relayed_in) {
		poll_handover(e, h, url);
		return;
	}
	/* a poll another daemon relayed here: answered (empty) at once, so that
	 * the daemon the agent polls sends it on to the one that announced */
	if (h && h->poll) {
		poll_answer(e, h, json_object());
		host_arm(e, h);
		return;
	}
	if (!h && !(h = host_get(e, host)))
		return;
	free(h->hint_url);
	h->hint_url = strdup(url);
	h->hint_until = e->now_mono + HINT_MS;
}

static void cmd_queue(struct engine *e, struct eng_target *t)
{
	struct eng_host *h = host_get(e, t->id);

	if (!h) {
		eng_store_error(e, -ENOMEM, "host");
		return;
	}
	t->host = h;
	t->phase = PH_QUEUED;
	t->queued_ms = e->now_mono;
	t->hnext = NULL;
	t->queued_on_host = true;
	if (h->qtail)
		h->qtail->hnext = t;
	else
		h->qhead = t;
	h->qtail = t;
	host_pump(e, h);
}

void eng_hostcmd_send(struct engine *e, struct eng_target *t)
{
	struct eng_dep *dp = t->dep;

	eng_store_error(
	    e, store_eng_cmd_insert(e->tx, t->id, dp->id, t->id, t->cur, t->ev[t->cur].name, e->now_wall, &t->cmd_id),
	    "command insert");
	cmd_queue(e, t);
}

void eng_hostcmd_restore(struct engine *e, struct eng_target *t, int64_t cmd_id, bool handed_out, bool acked)
{
	struct eng_host *h;

	t->cmd_id = cmd_id;
	cmd_queue(e, t);
	h = t->host;
	/* Handed out (and maybe acknowledged) before the restart: the agent
	 * runs it and will report (or fail it with error code 7); give it time
	 * before offering it again (REDISPATCH_MS). */
	if (handed_out && h && h->cur == t) {
		t->phase = acked ? PH_ACKED : PH_DISPATCHED;
		t->dispatched_ms = e->now_mono;
		h->last_seen = e->now_mono;
		host_arm(e, h);
	}
}

void eng_hostcmd_release(struct engine *e, struct eng_target *t)
{
	struct eng_host *h = t->host;

	t->phase = PH_NONE;
	if (!h)
		return;
	if (h->cur == t)
		h->cur = NULL;
	else if (t->queued_on_host)
		host_unqueue(h, t);
	t->host = NULL;
	host_pump(e, h);
}

void eng_hostcmd_abandon(struct engine *e, struct eng_target *t)
{
	if (t->phase != PH_NONE)
		eng_store_error(e, store_eng_cmd_update(e->tx, t->cmd_id, "Failed", 0, e->now_wall, NULL), "abandon");
	eng_hostcmd_release(e, t);
}

/* ---------------------------------------------------------------- timers */

/* t's command failed for its agent's silence: stored Failed, reported. */
static void agent_failed(struct engine *e, struct eng_target *t, const char *why, const char *msg,
			 struct eng_report *ret)
{
	eng_store_error(e, store_eng_cmd_update(e->tx, t->cmd_id, "Failed", 0, e->now_wall, NULL), why);
	rd_logf(LOG_WARNING, TAG, RD_LOG_FIELDS(t->dep->id, t->id, t->ev[t->cur].name), "%s: %s", t->dep->id, msg);
	*ret = (struct eng_report){
	    .t = t, .status = ST_FAILED, .diag = eng_diag("UnknownError", "", msg, ""), .agent_issue = true};
}

/* What is due on h now. Returns 1 with *ret filled when its command failed
 * for the agent's silence: the report's application releases the command,
 * which arms the timer again. */
static int host_check(struct engine *e, struct eng_host *h, struct eng_report *ret)
{
	struct eng_target *t = h->cur;
	char m[512];

	if (h->poll && e->now_mono >= h->poll_deadline) {
		poll_answer(e, h, json_object());
		h->last_seen = e->now_mono;
	}
	if (t && t->phase == PH_QUEUED && e->now_mono - t->queued_ms > e->pickup_ms)
		snprintf(m, sizeof(m),
			 "The agent on instance %s did not pick up %s within %lld s. Check that rollout-agent runs "
			 "there and can reach rolloutd.",
			 t->id, t->ev[t->cur].name, (long long)(e->pickup_ms / 1000));
	else if (t && (t->phase == PH_DISPATCHED || t->phase == PH_ACKED) && !h->poll &&
		 e->now_mono - h->last_seen > e->heartbeat_ms)
		snprintf(m, sizeof(m),
			 "The agent on instance %s stopped reporting during %s (nothing heard for %lld s); it may "
			 "have crashed or lost the network.",
			 t->id, t->ev[t->cur].name, (long long)(e->heartbeat_ms / 1000));
	else {
		host_arm(e, h);
		return 0;
	}
	agent_failed(e, t, t->phase == PH_QUEUED ? "timeout" : "heartbeat", m, ret);
	return 1;
}

size_t eng_hostcmd_timers(struct engine *e, struct eng_report **ret)
{
	struct eng_report *v = NULL;
	struct rd_timer *tm;
	size_t n = 0, cap = 0;

	while ((tm = rd_timerheap_pop_due(&e->host_timers, e->now_mono))) {
		struct eng_host *h = (struct eng_host *)((char *)tm - offsetof(struct eng_host, timer));
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 16;
			struct eng_report *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				eng_store_error(e, -ENOMEM, "timeouts");
				break;
			}
			v = nv;
			cap = nc;
		}
		n += (size_t)host_check(e, h, &v[n]);
	}
	*ret = v;
	return n;
}

int64_t eng_hostcmd_next_timer(const struct engine *e)
{
	const struct rd_timer *tm = rd_timerheap_first(&e->host_timers);

	return tm ? tm->at : INT64_MAX;
}

/* ---------------------------------------------------------------- the operations */

/* The Payload of an Envelope, parsed; NULL when absent or not JSON. */
static json_t *envelope_payload(const json_t *body)
{
	const json_t *diag = json_object_get(body, "Diagnostics");
	const char *p = rd_json_str(diag, "Payload");

	if (!p || strlen(p) > 65536)
		return NULL;
	return json_loads(p, 0, NULL);
}

/* Resolves the host a poll is for and checks the caller may act for it.
 * Returns the host or NULL after queueing an error reply. */
static struct eng_host *poll_host(struct engine *e, struct eng_call *call, const char *hid)
{
	struct eng_host *h;
	char *name = NULL, *arn = NULL, ec2_id[32];
	bool ec2;
	int r;

	ec2 = cmd_ec2_instance_id(hid, ec2_id, sizeof(ec2_id)) == 0;
	if (store_ec2_instance_id(call->instance)) {
		/* A key bound to an EC2 instance acts for that instance only,
		 * whose agent reports arn:aws:ec2:REGION:ACCOUNT:instance/ID. */
		if (!ec2 || strcmp(ec2_id, call->instance) != 0) {
			eng_reply_error(e, call, "AccessDeniedException",
					"access key %s is bound to EC2 instance %s, not to host %s; use that "
					"instance's own key (or enroll it) and its instance ARN as host identifier",
					call->access_key_id, call->instance, hid);
			return NULL;
		}
		h = host_get(e, ec2_id);
		if (!h)
			goto nomem;
		return h;
	}
	if (!call->instance[0] && ec2) {
		/* A key bound to no instance (admin) may act for any EC2 instance. */
		h = host_get(e, ec2_id);
		if (!h)
			goto nomem;
		return h;
	}
	if (call->instance[0]) {
		h = host_get(e, call->instance);
		if (!h)
			goto nomem;
		if (h->verified_identifier && strcmp(h->verified_identifier, hid) == 0)
			return h;
		r = store_eng_instance_arn(e->tx, call->instance, &arn);
		if (r == -ENOENT) {
			eng_reply_error(e, call, "AccessDeniedException",
					"access key %s is bound to instance %s, which is not registered; register it "
					"with RegisterOnPremisesInstance",
					call->access_key_id, call->instance);
			return NULL;
		}
		if (r < 0) {
			eng_store_error(e, r, "instance arn");
			eng_reply_error(e, call, "ServerException", "store error; retry");
			return NULL;
		}
		if (strcmp(hid, call->instance) != 0 && !(arn && strcmp(hid, arn) == 0)) {
			eng_reply_error(e, call, "AccessDeniedException",
					"access key %s is bound to instance %s (host identifier %s), not to host %s; "
					"use that instance's key or fix host_identifier in the agent config",
					call->access_key_id, call->instance, arn ? arn : call->instance, hid);
			free(arn);
			return NULL;
		}
		free(arn);
		free(h->verified_identifier);
		h->verified_identifier = strdup(hid);
		return h;
	}
	r = store_eng_instance_by_identifier(e->tx, hid, &name);
	if (r == -ENOENT) {
		eng_reply_error(e, call, "ClientException",
				"no registered on-premises instance has the host identifier %s; register it with "
				"RegisterOnPremisesInstance (iamUserArn or iamSessionArn)",
				hid);
		return NULL;
	}
	if (r < 0) {
		eng_store_error(e, r, "instance by identifier");
		eng_reply_error(e, call, "ServerException", "store error; retry");
		return NULL;
	}
	h = host_get(e, name);
	free(name);
	if (h)
		return h;
nomem:
	eng_reply_error(e, call, "ServerException", "out of memory; retry");
	return NULL;
}

static int op_poll(struct engine *e, struct eng_call *call, struct eng_report *ret)
{
	const char *hid = rd_json_str(call->body, "HostIdentifier");
	struct eng_host *h;
	int reported = 0;

	if (!hid || !*hid || strlen(hid) > 1024) {
		eng_reply_error(e, call, "ClientException", "HostIdentifier is required (the instance's IAM ARN)");
		return 0;
	}
	h = poll_host(e, call, hid);
	if (!h)
		return 0;
	h->last_seen = e->now_mono;
	metric_set(metric_gauge("rolloutd_agent_last_seen_timestamp_seconds", NULL,
				(const char *const[]){"instance_name", NULL}),
		   (double)e->now_wall / 1000.0, h->name);
	if (poll_key_full(e, call, h)) {
		eng_reply_error(e, call, "ThrottlingException",
				"access key %s already holds %zu PollHostCommand calls (limits.long_polls_per_key); "
				"give each agent its own key",
				call->access_key_id, e->long_polls_per_key);
		return 0;
	}
	free(h->poll_identifier);
	h->poll_identifier = strdup(hid);
	poll_hold(e, h, call);
	h->poll_deadline = e->now_mono + e->long_poll_ms;
	/* relayed by the daemon the agent polls (or routed back here after a
	 * while elsewhere): only what is left of the agent's long-poll, so that
	 * the answer reaches it before it gives up */
	if (call->hold_ms > 0 && call->hold_ms < e->long_poll_ms)
		h->poll_deadline =
		    e->now_mono + (call->hold_ms > RELAYED_HOLD_MIN_MS ? call->hold_ms : RELAYED_HOLD_MIN_MS);
	/* A command handed out but not acknowledged is offered again: at once to
	 * rollout-agent, which polls only between commands (it never got the
	 * answer, or dropped the command because it could not fetch the
	 * specification); after REDISPATCH_MS to agents that poll while they
	 * work (the official one). */
	if (h->cur && h->cur->phase == PH_DISPATCHED &&
	    (call->rollout_agent || e->now_mono - h->cur->dispatched_ms > REDISPATCH_MS))
		h->cur->phase = PH_QUEUED;
	/* rollout-agent polling with its command acknowledged gave up reporting
	 * it: without this the held polls would keep the host looking alive and
	 * the event would wait for ever. It may have run, so it is not offered
	 * again. */
	if (h->cur && h->cur->phase == PH_ACKED && call->rollout_agent) {
		struct eng_target *t = h->cur;
		char m[512];
		snprintf(m, sizeof(m),
			 "rollout-agent on instance %s polled for new work without reporting %s: it could not reach "
			 "rolloutd to report it, or was restarted without its deployment root; see its log.",
			 t->id, t->ev[t->cur].name);
		agent_failed(e, t, "unreported", m, ret);
		reported = 1;
	}
	host_pump(e, h);
	/* another daemon announced a command for this host just now, while
	 * this poll was on its way here */
	if (h->poll == call && !call->relayed_in && !h->cur && !h->qhead && h->hint_url &&
	    e->now_mono < h->hint_until) {
		char *url = h->hint_url;
		h->hint_url = NULL;
		poll_handover(e, h, url);
		free(url);
	}
	return reported;
}

/* Whether deployment id is stored and not finished. */
static bool dep_unfinished(struct engine *e, const char *id)
{
	json_t *row = NULL;
	const char *st;
	bool v;

	if (store_eng_deployment(e->tx, id, &row) < 0)
		return false;
	st = rd_json_str(row, "status");
	v = st && strcmp(st, "Succeeded") != 0 && strcmp(st, "Failed") != 0 && strcmp(st, "Stopped") != 0;
	json_decref(row);
	return v;
}

/* Decodes a HostCommandIdentifier and checks the caller may use it. On
 * success *ret_t is the target whose current command it is, or NULL when
 * the command is no longer current (finished, abandoned, unknown run). */
static int lookup_cmd(struct engine *e, struct eng_call *call, struct cmd_id *id, struct eng_target **ret_t)
{
	const char *s = rd_json_str(call->body, "HostCommandIdentifier");
	struct eng_dep *dp;
	struct eng_target *t;

	if (!s || cmd_id_decode(s, id) < 0) {
		eng_reply_error(e, call, "ClientException",
				"HostCommandIdentifier is missing or was not issued by this rolloutd");
		return -EINVAL;
	}
	if (call->instance[0] && strcmp(call->instance, id->instance) != 0) {
		eng_reply_error(e, call, "AccessDeniedException",
				"access key %s is bound to instance %s and cannot report on commands of %s",
				call->access_key_id, call->instance, id->instance);
		return -EPERM;
	}
	*ret_t = NULL;
	dp = eng_dep_find(e, id->deployment_id);
	if (!dp && cluster_enabled(e->d) && dep_unfinished(e, id->deployment_id)) {
		/* On a cluster: driven by no live daemon right now (its daemon
		 * died and the takeover is under way) or by another one. Not
		 * "no longer current": the agent keeps its hook running and
		 * reports again, to the daemon that drives it by then. */
		eng_refuse(e, call, 503, "ServerException",
			   "this rolloutd does not drive the deployment of this command now (it is being taken over "
			   "by another daemon of the cluster); retry");
		return -EAGAIN;
	}
	if (!dp || dp->finished)
		return 0;
	t = eng_target_find(dp, id->instance);
	if (!t || t->cmd_id != id->attempt || t->phase == PH_NONE || t->status != ST_INPROGRESS)
		return 0;
	if (t->host)
		t->host->last_seen = e->now_mono;
	*ret_t = t;
	return 0;
}

static int op_ack(struct engine *e, struct eng_call *call, struct eng_report *ret)
{
	struct cmd_id id;
	struct eng_target *t;
	json_t *payload;
	bool noop;

	if (lookup_cmd(e, call, &id, &t) < 0)
		return 0;
	if (!t) {
		/* Abandoned or unknown: tell the agent not to run it. */
		eng_reply_now(e, call, json_pack("{s:s}", "CommandStatus", "Failed"));
		return 0;
	}
	payload = envelope_payload(call->body);
	noop = json_is_true(json_object_get(payload, "IsCommandNoop"));
	json_decref(payload);
	if (noop && t->ev[t->cur].noop_capable) {
		/* No scripts for this event: Skipped, as CodeDeploy shows it. The
		 * answer completes the command, so like a completion it waits for
		 * the commit: answered at once, a daemon killed before the commit
		 * offered the event again after the agent had moved on. */
		eng_store_error(e, store_eng_cmd_update(e->tx, t->cmd_id, "Succeeded", e->now_wall, e->now_wall, NULL),
				"ack noop");
		eng_reply(e, call, json_pack("{s:s}", "CommandStatus", "Succeeded"));
		*ret = (struct eng_report){.t = t, .status = ST_SKIPPED};
		return 1;
	}
	t->phase = PH_ACKED;
	eng_store_error(e, store_eng_cmd_update(e->tx, t->cmd_id, "InProgress", e->now_wall, 0, NULL), "ack");
	eng_reply_now(e, call, json_pack("{s:s}", "CommandStatus", "InProgress"));
	return 0;
}

static void op_update(struct engine *e, struct eng_call *call)
{
	struct cmd_id id;
	struct eng_target *t;
	json_t *payload;
	const char *log;

	if (lookup_cmd(e, call, &id, &t) < 0)
		return;
	if (!t) {
		/* Stopped or abandoned: the agent ends the hook (PROTOCOL.md). */
		eng_reply_now(e, call, json_pack("{s:s}", "CommandStatus", "Failed"));
		return;
	}
	payload = envelope_payload(call->body);
	log = rd_json_str(payload, "log");
	if (log && *log) {
		json_int_t seq = json_integer_value(json_object_get(payload, "seq"));
		if (seq > 0)
			eng_store_error(e,
					store_eng_hook_log(e->tx, t->dep->id, t->id, t->ev[t->cur].name, seq,
							   e->now_wall, log, HOOK_LOG_CAP),
					"hook log");
	}
	json_decref(payload);
	eng_reply_now(e, call, json_pack("{s:s}", "CommandStatus", "InProgress"));
}

static json_t *bounded_string(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n <= max)
		return json_string(s ? s : "");
	/* keep the end: the newest output matters most */
	return json_stringn(s + (n - max), max);
}

static int op_complete(struct engine *e, struct eng_call *call, struct eng_report *ret)
{
	const char *status = rd_json_str(call->body, "CommandStatus");
	struct cmd_id id;
	struct eng_target *t;
	json_t *payload, *diag;
	int code;

	if (!status || (strcmp(status, "Succeeded") != 0 && strcmp(status, "Failed") != 0)) {
		eng_reply_error(e, call, "ClientException", "CommandStatus must be Succeeded or Failed");
		return 0;
	}
	if (lookup_cmd(e, call, &id, &t) < 0)
		return 0;
	if (!t) {
		/* Duplicate or late: the first report stands. */
		eng_reply(e, call, json_object());
		return 0;
	}
	payload = envelope_payload(call->body);
	code = json_is_integer(json_object_get(payload, "error_code"))
		   ? (int)json_integer_value(json_object_get(payload, "error_code"))
		   : (strcmp(status, "Succeeded") == 0 ? 0 : 5);
	diag = json_pack("{s:s,s:o,s:o,s:o}", "errorCode", eng_lifecycle_error_code(code), "scriptName",
			 bounded_string(rd_json_str(payload, "script_name"), 1024), "message",
			 bounded_string(rd_json_str(payload, "message"), 4096), "logTail",
			 bounded_string(rd_json_str(payload, "log"), 4096));
	eng_store_error(e, store_eng_cmd_update(e->tx, t->cmd_id, status, 0, e->now_wall, payload), "complete");
	json_decref(payload);
	*ret = (struct eng_report){
	    .t = t, .status = strcmp(status, "Succeeded") == 0 ? ST_SUCCEEDED : ST_FAILED, .diag = diag};
	eng_reply(e, call, json_object());
	return 1;
}

static void op_spec(struct engine *e, struct eng_call *call)
{
	const char *exec = rd_json_str(call->body, "DeploymentExecutionId");
	char depid[16], url[128] = "";
	struct rd_error err = RD_ERROR_INIT;
	struct eng_dep *dp;
	json_t *row = NULL, *group = NULL, *env = NULL, *bundle = NULL;
	int r;

	if (!exec || cmd_execution_id_parse(exec, depid, sizeof(depid)) < 0 ||
	    !rd_json_str(call->body, "HostIdentifier")) {
		eng_reply_error(
		    e, call, "ClientException",
		    "DeploymentExecutionId (as returned by PollHostCommand) and HostIdentifier are required");
		return;
	}
	dp = eng_dep_find(e, depid);
	if (dp && call->instance[0] && !eng_target_find(dp, call->instance)) {
		eng_reply_error(e, call, "AccessDeniedException", "instance %s is not a target of deployment %s",
				call->instance, depid);
		return;
	}
	if (dp && dp->spec) {
		eng_reply_text_now(e, call, dp->spec, dp->spec_len);
		return;
	}
	if (dp) {
		row = json_incref(dp->row);
		group = json_incref(dp->group_doc);
		if (dp->have_bundle)
			bundle = json_pack("{s:s,s:I}", "sha256", dp->bundle_sha, "size", (json_int_t)dp->bundle_size);
	} else {
		r = store_eng_deployment(e->tx, depid, &row);
		if (r == 0)
			r = store_eng_group(e->tx, rd_json_str(row, "application"),
					    rd_json_str(row, "deployment_group"), &group);
		if (r < 0) {
			json_decref(row);
			/* the agent drops the command on this answer (agent/PROTOCOL.md) */
			eng_reply_error(e, call, "DeploymentDoesNotExistException", "deployment %s does not exist",
					depid);
			return;
		}
		eng_store_error(e, store_eng_bundle_get(e->tx, depid, &bundle), "bundle");
	}
	if (rd_json_str(bundle, "sha256"))
		bundles_url(NULL, rd_json_str(bundle, "sha256"), url, sizeof(url));
	{
		const json_t *doc = json_object_get(row, "doc");
		struct spec_input in = {
		    .deployment_id = depid,
		    .application_name = rd_json_str(row, "application"),
		    .deployment_group_name = rd_json_str(row, "deployment_group"),
		    .deployment_group_id = rd_json_str(group, "deploymentGroupId"),
		    .creator = rd_json_str(row, "creator"),
		    /* the agent runs a blue/green rollback's hooks from the revisions
		     * each fleet last ran (host-agent reference) */
		    .deployment_type = rd_json_str(json_object_get(group, "deploymentStyle"), "deploymentType"),
		    .file_exists_behavior = rd_json_str(doc, "fileExistsBehavior"),
		    .revision = json_object_get(row, "revision"),
		    .bundle_url = url[0] ? url : NULL,
		    .bundle_sha256 = rd_json_str(bundle, "sha256"),
		    .bundle_size = json_integer_value(json_object_get(bundle, "size")),
		};
		r = spec_envelope(e->signer, &in, &env, &err);
	}
	json_decref(row);
	json_decref(group);
	json_decref(bundle);
	if (r < 0) {
		eng_reply_error(e, call, "ClientException", "cannot build the deployment specification of %s: %s",
				depid, err.message);
		return;
	}
	/* kept encoded: every host of the deployment asks for it at every
	 * event, and encoding the signed envelope was most of the answer's cost
	 * (as httpd_call_reply encodes; not kept when memory is short) */
	if (dp && (dp->spec = json_dumps(env, JSON_COMPACT | JSON_REAL_PRECISION(15))))
		dp->spec_len = strlen(dp->spec);
	eng_reply_now(e, call, env);
}

int eng_hostcmd_handle(struct engine *e, struct eng_call *call, struct eng_report *ret)
{
	if (!call->op[0] || !json_is_object(call->body)) {
		eng_reply_error(e, call, "ClientException", "expected an AWS JSON 1.1 request");
		return 0;
	}
	if (strcmp(call->op, "PollHostCommand") == 0)
		return op_poll(e, call, ret);
	if (strcmp(call->op, "GetDeploymentSpecification") == 0)
		op_spec(e, call);
	else if (strcmp(call->op, "PutHostCommandAcknowledgement") == 0)
		return op_ack(e, call, ret);
	else if (strcmp(call->op, "PostHostCommandUpdate") == 0)
		op_update(e, call);
	else if (strcmp(call->op, "PutHostCommandComplete") == 0)
		return op_complete(e, call, ret);
	else
		eng_reply_error(e, call, "UnknownOperationException", "unknown operation %s", call->op);
	return 0;
}
