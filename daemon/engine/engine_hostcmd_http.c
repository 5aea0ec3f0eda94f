/* The host-command service over HTTP: the route handler main.c registers
 * for the agents' targets (CodeDeployCommandService_v20141006, SigV4
 * service codedeploy-commands; CodeDeployCommandService,
 * codedeploy-commands-secure) and the transport the engine answers through
 * (engine_http_io); on one daemon, the direct handler that hands the calls
 * from the I/O thread to the engine thread, which admits them there
 * (engine_hostcmd_direct, engine_io.admit). The engine's only contact with daemon/core/httpd.h:
 * everything behind it sees struct eng_call and engine_io, so the engine
 * runs without HTTP in its unit test. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/httpd.h"
#include "engine/engine.h"
#include "engine/engine_input.h"

/* rollout-agent (agent/PROTOCOL.md) sends its version with this prefix. */
static bool is_rollout_agent(const struct httpd_call *call)
{
	const char *v = httpd_call_header(call, "x-amz-codedeploy-agent-version");
	return v && strncmp(v, "ROLLOUT_AGENT_", 14) == 0;
}

/* What the engine needs of an admitted call. */
static void call_fill(struct eng_call *c, struct httpd_call *call, bool relayed_in, int64_t hold_ms)
{
	const struct httpd_principal *p = httpd_call_principal(call);
	const char *op = httpd_call_operation(call);

	snprintf(c->op, sizeof(c->op), "%s", op ? op : "");
	c->body = json_incref(httpd_call_body(call));
	if (p && p->instance)
		snprintf(c->instance, sizeof(c->instance), "%s", p->instance);
	if (p && p->access_key_id)
		snprintf(c->access_key_id, sizeof(c->access_key_id), "%s", p->access_key_id);
	c->rollout_agent = is_rollout_agent(call);
	c->relayed_in = relayed_in;
	c->hold_ms = hold_ms > 0 ? hold_ms : 0;
	c->reply_to = call;
}

static void http_reply(void *reply_to, json_t *body)
{
	httpd_call_reply(reply_to, body);
}

static void http_reply_text(void *reply_to, const char *json, size_t len)
{
	httpd_call_reply_bytes(reply_to, 200, HTTPD_JSON_TYPE, json, len);
}

static void http_error(void *reply_to, int http_status, const char *type, const char *message)
{
	httpd_call_error_status(reply_to, http_status, type, "%s", message);
}

static bool http_admit(struct eng_call *c)
{
	struct httpd_call *call = c->reply_to;
	int64_t hold = 0;

	if (!httpd_call_admit(call))
		return false;
	call_fill(c, call, httpd_call_relayed(call, &hold), hold);
	c->unadmitted = false;
	return true;
}

const struct engine_io engine_http_io = {
    .reply = http_reply,
    .reply_text = http_reply_text,
    .error = http_error,
    .admit = http_admit,
};

/* Queues c for the engine thread (in its input, with it); refuses the call
 * when that is not possible. */
static void post_call(struct rd_daemon *d, struct httpd_call *call, struct eng_input *in, struct eng_call *c)
{
	if (!in || !c) {
		free(in);
		eng_call_free(c);
		httpd_call_error_status(call, 500, "ServerException", "out of memory; retry");
		return;
	}
	in->call = c;
	/* deferred: the engine thread completes it; refused once it stopped */
	if (eng_post_live(d, in) < 0) {
		eng_input_free(in);
		httpd_call_error_status(call, 503, "ServerException", "rolloutd is shutting down; retry");
	}
}

void engine_hostcmd_call(struct httpd_call *call, void *userdata)
{
	int64_t hold = 0;

	engine_hostcmd_call_held(call, userdata, httpd_call_relayed(call, &hold), hold);
}

void engine_hostcmd_call_held(struct httpd_call *call, struct rd_daemon *d, bool relayed_in, int64_t hold_ms)
{
	struct eng_input *in = eng_input_new(IN_CALL);
	struct eng_call *c = calloc(1, sizeof(*c));

	if (c)
		call_fill(c, call, relayed_in, hold_ms);
	post_call(d, call, in, c);
}

void engine_hostcmd_direct(struct httpd_call *call, void *userdata)
{
	struct eng_input *in = eng_input_new(IN_CALL);
	struct eng_call *c = calloc(1, sizeof(*c));

	if (c) {
		c->reply_to = call;
		c->unadmitted = true;
	}
	post_call(userdata, call, in, c);
}
