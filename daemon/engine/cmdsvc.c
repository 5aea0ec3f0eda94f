/* The host-command service: the server side of the protocol in
 * reference/host-agent.md §2 and agent/PROTOCOL.md, under the target
 * prefixes CodeDeployCommandService_v20141006 (SigV4 service
 * codedeploy-commands) and CodeDeployCommandService (codedeploy-commands-
 * secure). Handlers run on workers and only queue the call for the engine
 * thread, which answers once the transaction holding its effect committed.
 *
 * Agent keys are bound to one instance: such a caller sees and reports only
 * commands of that instance, and its HostIdentifier must be the instance's
 * IAM ARN (or its name). Admin keys may act for any registered instance. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundles/bundles.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "engine/engine_internal.h"
#include "core/httpd.h"
#include "core/metrics.h"
#include "log.h"
#include "engine/spec.h"
#include "store/store_engine.h"
#include "util.h"

#define TAG "cmdsvc"
#define HOOK_LOG_CAP (1024 * 1024) /* bytes of live output kept per instance and event */
#define REDISPATCH_MS 30000	   /* a command handed out but not acknowledged for this long is offered again */

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void handler(struct httpd_call *call, void *userdata)
{
	struct engine *e = userdata;
	struct eng_input *in = calloc(1, sizeof(*in));

	if (!in) {
		httpd_call_error_status(call, 500, "ServerException", "out of memory; retry");
		return;
	}
	in->type = IN_CALL;
	in->call = call;
	/* deferred: the engine thread completes it; refused once it stopped */
	if (eng_post_if_running(e, in) < 0) {
		httpd_call_error_status(call, 503, "ServerException", "rolloutd is shutting down; retry");
		free(in);
	}
}

int cmdsvc_register(struct engine *e, char *err, size_t errlen)
{
	int r;

	r = httpd_register_service(e->d->httpd, "CodeDeployCommandService_v20141006", "codedeploy-commands", handler,
				   e);
	if (r == 0)
		r = httpd_register_service(e->d->httpd, "CodeDeployCommandService", "codedeploy-commands-secure",
					   handler, e);
	if (r < 0)
		snprintf(err, errlen, "cannot register the host-command service: %s", strerror(-r));
	return r;
}

/* The Payload of an Envelope, parsed; NULL when absent or not JSON. */
static json_t *envelope_payload(const json_t *body)
{
	const json_t *diag = json_object_get(body, "Diagnostics");
	const char *p = jstr(diag, "Payload");

	if (!p || strlen(p) > 65536)
		return NULL;
	return json_loads(p, 0, NULL);
}

/* Resolves the host a poll is for and checks the caller may act for it.
 * Returns the host or NULL after queueing an error reply. */
static struct eng_host *poll_host(struct engine *e, struct httpd_call *call, const char *hid)
{
	const struct httpd_principal *p = httpd_call_principal(call);
	struct eng_host *h;
	char *name = NULL, *arn = NULL;
	int r;

	if (p && p->instance) {
		h = eng_host_get(e, p->instance);
		if (!h)
			goto nomem;
		if (h->verified_identifier && strcmp(h->verified_identifier, hid) == 0)
			return h;
		r = store_eng_instance_arn(e->tx, p->instance, &arn);
		if (r == -ENOENT) {
			eng_reply_error(e, call, "AccessDeniedException",
					"access key %s is bound to instance %s, which is not registered; register it "
					"with RegisterOnPremisesInstance",
					p->access_key_id, p->instance);
			return NULL;
		}
		if (r < 0) {
			eng_store_error(e, r, "instance arn");
			eng_reply_error(e, call, "ServerException", "store error; retry");
			return NULL;
		}
		if (strcmp(hid, p->instance) != 0 && !(arn && strcmp(hid, arn) == 0)) {
			eng_reply_error(e, call, "AccessDeniedException",
					"access key %s is bound to instance %s (host identifier %s), not to host %s; "
					"use that instance's key or fix host_identifier in the agent config",
					p->access_key_id, p->instance, arn ? arn : p->instance, hid);
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
	h = eng_host_get(e, name);
	free(name);
	if (h)
		return h;
nomem:
	eng_reply_error(e, call, "ServerException", "out of memory; retry");
	return NULL;
}

void cmdsvc_dispatch(struct engine *e, struct eng_host *h)
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
	eng_reply_now(e, h->poll, body);
	h->poll = NULL;
	metric_add(metric_gauge("rolloutd_long_polls_held", NULL, NULL), -1.0, NULL);
	t->phase = PH_DISPATCHED;
	t->dispatched_ms = e->now_mono;
	h->last_seen = e->now_mono;
}

/* rollout-agent (agent/PROTOCOL.md) sends its version with this prefix. */
static bool polls_between_commands(const struct httpd_call *call)
{
	const char *v = httpd_call_header(call, "x-amz-codedeploy-agent-version");
	return v && strncmp(v, "ROLLOUT_AGENT_", 14) == 0;
}

static void op_poll(struct engine *e, struct httpd_call *call, const json_t *body)
{
	const char *hid = jstr(body, "HostIdentifier");
	struct eng_host *h;

	if (!hid || !*hid || strlen(hid) > 1024) {
		eng_reply_error(e, call, "ClientException", "HostIdentifier is required (the instance's IAM ARN)");
		return;
	}
	h = poll_host(e, call, hid);
	if (!h)
		return;
	h->last_seen = e->now_mono;
	metric_set(
	    metric_gauge("rolloutd_agent_last_seen_timestamp_seconds", NULL, (const char *const[]){"instance", NULL}),
	    (double)e->now_wall / 1000.0, h->name);
	if (!h->poll)
		metric_add(metric_gauge("rolloutd_long_polls_held", NULL, NULL), 1.0, NULL);
	free(h->poll_identifier);
	h->poll_identifier = strdup(hid);
	if (h->poll) /* one held poll per host: the newer one wins */
		eng_reply_now(e, h->poll, json_object());
	h->poll = call;
	h->poll_deadline = e->now_mono + e->long_poll_ms;
	/* A command handed out but not acknowledged is offered again: at once to
	 * rollout-agent, which polls only between commands (it never got the
	 * answer, or dropped the command because it could not fetch the
	 * specification); after REDISPATCH_MS to agents that poll while they
	 * work (the official one). */
	if (h->cur && h->cur->phase == PH_DISPATCHED &&
	    (polls_between_commands(call) || e->now_mono - h->cur->dispatched_ms > REDISPATCH_MS))
		h->cur->phase = PH_QUEUED;
	/* rollout-agent polling with its command acknowledged gave up reporting
	 * it: without this the held polls would keep the host looking alive and
	 * the event would wait for ever. It may have run, so it is not offered
	 * again. */
	if (h->cur && h->cur->phase == PH_ACKED && polls_between_commands(call)) {
		struct eng_target *t = h->cur;
		char m[512];
		snprintf(m, sizeof(m),
			 "rollout-agent on instance %s polled for new work without reporting %s: it could not reach "
			 "rolloutd to report it, or was restarted without its deployment root; see its log.",
			 t->id, t->ev[t->cur].name);
		eng_store_error(e, store_eng_cmd_update(e->tx, t->cmd_id, "Failed", 0, e->now_wall, NULL),
				"unreported");
		rd_logf(LOG_WARNING, TAG, RD_LOG_FIELDS(t->dep->id, t->id, t->ev[t->cur].name), "%s: %s", t->dep->id,
			m);
		eng_event_end(e, t, ST_FAILED, eng_diag("UnknownError", "", m, ""), true);
	}
	eng_host_pump(e, h);
}

/* Decodes a HostCommandIdentifier and checks the caller may use it. On
 * success *ret_t is the target whose current command it is, or NULL when
 * the command is no longer current (finished, abandoned, unknown run). */
static int lookup_cmd(struct engine *e, struct httpd_call *call, const json_t *body, struct cmd_id *id,
		      struct eng_target **ret_t)
{
	const struct httpd_principal *p = httpd_call_principal(call);
	const char *s = jstr(body, "HostCommandIdentifier");
	struct eng_dep *dp;
	struct eng_target *t;

	if (!s || cmd_id_decode(s, id) < 0) {
		eng_reply_error(e, call, "ClientException",
				"HostCommandIdentifier is missing or was not issued by this rolloutd");
		return -EINVAL;
	}
	if (p && p->instance && strcmp(p->instance, id->instance) != 0) {
		eng_reply_error(e, call, "AccessDeniedException",
				"access key %s is bound to instance %s and cannot report on commands of %s",
				p->access_key_id, p->instance, id->instance);
		return -EPERM;
	}
	*ret_t = NULL;
	dp = eng_dep_find(e, id->deployment_id);
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

static void op_ack(struct engine *e, struct httpd_call *call, const json_t *body)
{
	struct cmd_id id;
	struct eng_target *t;
	json_t *payload;
	bool noop;

	if (lookup_cmd(e, call, body, &id, &t) < 0)
		return;
	if (!t) {
		/* Abandoned or unknown: tell the agent not to run it. */
		eng_reply_now(e, call, json_pack("{s:s}", "CommandStatus", "Failed"));
		return;
	}
	payload = envelope_payload(body);
	noop = json_is_true(json_object_get(payload, "IsCommandNoop"));
	json_decref(payload);
	if (noop && t->ev[t->cur].noop_capable) {
		/* No scripts for this event: Skipped, as CodeDeploy shows it. */
		eng_store_error(e, store_eng_cmd_update(e->tx, t->cmd_id, "Succeeded", e->now_wall, e->now_wall, NULL),
				"ack noop");
		eng_event_end(e, t, ST_SKIPPED, NULL, false);
		eng_reply_now(e, call, json_pack("{s:s}", "CommandStatus", "Succeeded"));
		return;
	}
	t->phase = PH_ACKED;
	eng_store_error(e, store_eng_cmd_update(e->tx, t->cmd_id, "InProgress", e->now_wall, 0, NULL), "ack");
	eng_reply_now(e, call, json_pack("{s:s}", "CommandStatus", "InProgress"));
}

static void op_update(struct engine *e, struct httpd_call *call, const json_t *body)
{
	struct cmd_id id;
	struct eng_target *t;
	json_t *payload;
	const char *log;

	if (lookup_cmd(e, call, body, &id, &t) < 0)
		return;
	if (!t) {
		/* Stopped or abandoned: the agent ends the hook (PROTOCOL.md). */
		eng_reply_now(e, call, json_pack("{s:s}", "CommandStatus", "Failed"));
		return;
	}
	payload = envelope_payload(body);
	log = jstr(payload, "log");
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

static void op_complete(struct engine *e, struct httpd_call *call, const json_t *body)
{
	const char *status = jstr(body, "CommandStatus");
	struct cmd_id id;
	struct eng_target *t;
	json_t *payload, *diag;
	int code;

	if (!status || (strcmp(status, "Succeeded") != 0 && strcmp(status, "Failed") != 0)) {
		eng_reply_error(e, call, "ClientException", "CommandStatus must be Succeeded or Failed");
		return;
	}
	if (lookup_cmd(e, call, body, &id, &t) < 0)
		return;
	if (!t) {
		/* Duplicate or late: the first report stands. */
		eng_reply(e, call, json_object());
		return;
	}
	payload = envelope_payload(body);
	code = json_is_integer(json_object_get(payload, "error_code"))
		   ? (int)json_integer_value(json_object_get(payload, "error_code"))
		   : (strcmp(status, "Succeeded") == 0 ? 0 : 5);
	diag = json_pack("{s:s,s:o,s:o,s:o}", "errorCode", eng_lifecycle_error_code(code), "scriptName",
			 bounded_string(jstr(payload, "script_name"), 1024), "message",
			 bounded_string(jstr(payload, "message"), 4096), "logTail",
			 bounded_string(jstr(payload, "log"), 4096));
	eng_store_error(e, store_eng_cmd_update(e->tx, t->cmd_id, status, 0, e->now_wall, payload), "complete");
	json_decref(payload);
	eng_event_end(e, t, strcmp(status, "Succeeded") == 0 ? ST_SUCCEEDED : ST_FAILED, diag, false);
	eng_reply(e, call, json_object());
}

static void op_spec(struct engine *e, struct httpd_call *call, const json_t *body)
{
	const struct httpd_principal *p = httpd_call_principal(call);
	const char *exec = jstr(body, "DeploymentExecutionId");
	char depid[16], err[512], url[128] = "";
	struct eng_dep *dp;
	json_t *row = NULL, *group = NULL, *env = NULL, *bundle = NULL;
	int r;

	if (!exec || cmd_execution_id_parse(exec, depid, sizeof(depid)) < 0 || !jstr(body, "HostIdentifier")) {
		eng_reply_error(
		    e, call, "ClientException",
		    "DeploymentExecutionId (as returned by PollHostCommand) and HostIdentifier are required");
		return;
	}
	dp = eng_dep_find(e, depid);
	if (dp && p && p->instance && !eng_target_find(dp, p->instance)) {
		eng_reply_error(e, call, "AccessDeniedException", "instance %s is not a target of deployment %s",
				p->instance, depid);
		return;
	}
	if (dp && dp->spec) {
		eng_reply_now(e, call, json_incref(dp->spec));
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
			r = store_eng_group(e->tx, jstr(row, "application"), jstr(row, "deployment_group"), &group);
		if (r < 0) {
			json_decref(row);
			/* the agent drops the command on this answer (agent/PROTOCOL.md) */
			eng_reply_error(e, call, "DeploymentDoesNotExistException", "deployment %s does not exist",
					depid);
			return;
		}
		eng_store_error(e, store_eng_bundle_get(e->tx, depid, &bundle), "bundle");
	}
	if (jstr(bundle, "sha256"))
		bundles_url(NULL, jstr(bundle, "sha256"), url, sizeof(url));
	{
		const json_t *doc = json_object_get(row, "doc");
		struct spec_input in = {
		    .deployment_id = depid,
		    .application_name = jstr(row, "application"),
		    .deployment_group_name = jstr(row, "deployment_group"),
		    .deployment_group_id = jstr(group, "deploymentGroupId"),
		    .creator = jstr(row, "creator"),
		    .file_exists_behavior = jstr(doc, "fileExistsBehavior"),
		    .revision = json_object_get(row, "revision"),
		    .bundle_url = url[0] ? url : NULL,
		    .bundle_sha256 = jstr(bundle, "sha256"),
		    .bundle_size = json_integer_value(json_object_get(bundle, "size")),
		};
		r = spec_envelope(e->signer, &in, &env, err, sizeof(err));
	}
	json_decref(row);
	json_decref(group);
	json_decref(bundle);
	if (r < 0) {
		eng_reply_error(e, call, "ClientException", "cannot build the deployment specification of %s: %s",
				depid, err);
		return;
	}
	if (dp)
		dp->spec = json_incref(env);
	eng_reply_now(e, call, env);
}

void cmdsvc_handle(struct engine *e, struct httpd_call *call)
{
	const char *op = httpd_call_operation(call);
	const json_t *body = httpd_call_body(call);

	if (!op || !body) {
		eng_reply_error(e, call, "ClientException", "expected an AWS JSON 1.1 request");
		return;
	}
	if (strcmp(op, "PollHostCommand") == 0)
		op_poll(e, call, body);
	else if (strcmp(op, "GetDeploymentSpecification") == 0)
		op_spec(e, call, body);
	else if (strcmp(op, "PutHostCommandAcknowledgement") == 0)
		op_ack(e, call, body);
	else if (strcmp(op, "PostHostCommandUpdate") == 0)
		op_update(e, call, body);
	else if (strcmp(op, "PutHostCommandComplete") == 0)
		op_complete(e, call, body);
	else
		eng_reply_error(e, call, "UnknownOperationException", "unknown operation %s", op);
}
