/* What waits for the commit; see engine_outbox.h. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_context.h"
#include "engine/engine_jobs.h"
#include "engine/engine_outbox.h"
#include "health/triggers.h"
#include "util.h"

struct eng_reply {
	struct eng_reply *next;
	struct eng_call *call;
	json_t *body;	/* success body, or NULL with err_type */
	char *err_type; /* malloc'd */
	char *err_msg;
};

/* ---------------------------------------------------------------- replies */

void eng_reply_now(struct engine *e, struct eng_call *call, json_t *body)
{
	e->io->reply(call->reply_to, body ? body : json_object());
	eng_call_free(call);
}

void eng_reply_text_now(struct engine *e, struct eng_call *call, const char *json, size_t len)
{
	json_t *body;

	if (e->io->reply_text) {
		e->io->reply_text(call->reply_to, json, len);
		eng_call_free(call);
		return;
	}
	body = json_loadb(json, len, JSON_DECODE_ANY, NULL);
	if (body)
		eng_reply_now(e, call, body);
	else
		eng_refuse(e, call, 500, "ServerException", "out of memory; retry");
}

void eng_refuse(struct engine *e, struct eng_call *call, int http_status, const char *type, const char *message)
{
	e->io->error(call->reply_to, http_status, type, message);
	eng_call_free(call);
}

static void reply_push(struct engine *e, struct eng_reply *r)
{
	if (e->out.replies_tail)
		e->out.replies_tail->next = r;
	else
		e->out.replies = r;
	e->out.replies_tail = r;
}

void eng_reply(struct engine *e, struct eng_call *call, json_t *body)
{
	struct eng_reply *r = calloc(1, sizeof(*r));

	if (!r) {
		/* Without memory, answer at once rather than never. */
		eng_reply_now(e, call, body);
		return;
	}
	r->call = call;
	r->body = body ? body : json_object();
	reply_push(e, r);
}

void eng_reply_error(struct engine *e, struct eng_call *call, const char *type, const char *fmt, ...)
{
	struct eng_reply *r = calloc(1, sizeof(*r));
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!r) {
		eng_refuse(e, call, 400, type, msg);
		return;
	}
	r->call = call;
	r->err_type = strdup(type);
	r->err_msg = strdup(msg);
	reply_push(e, r);
}

/* Sends every held reply; after a rollback, as errors. */
static void replies_flush(struct engine *e, bool committed)
{
	struct eng_reply *r = e->out.replies, *next;

	e->out.replies = e->out.replies_tail = NULL;
	for (; r; r = next) {
		next = r->next;
		if (!committed)
			eng_refuse(e, r->call, 500, "ServerException",
				   "rolloutd could not store the result; retry the request");
		else if (r->err_type)
			eng_refuse(e, r->call, 400, r->err_type, r->err_msg ? r->err_msg : "");
		else {
			eng_reply_now(e, r->call, r->body);
			r->body = NULL;
		}
		json_decref(r->body);
		free(r->err_type);
		free(r->err_msg);
		free(r);
	}
}

/* ---------------------------------------------------------------- trigger notifications */

/* CodeDeploy's upper-case status in notifications: IN_PROGRESS, ... */
static const char *upper_status(const char *s)
{
	static const char *const map[][2] = {{"Created", "CREATED"},	    {"Queued", "QUEUED"},
					     {"InProgress", "IN_PROGRESS"}, {"Succeeded", "SUCCEEDED"},
					     {"Failed", "FAILED"},	    {"Stopped", "STOPPED"}};
	for (size_t i = 0; i < RD_ARRAY_SIZE(map); i++)
		if (strcmp(s, map[i][0]) == 0)
			return map[i][1];
	return s;
}

void eng_fire(struct engine *e, const char *event, const struct eng_dep *dp, const char *status, const char *instance,
	      const char *instance_status, const char *code, const char *msg)
{
	const json_t *tc = json_object_get(dp->group_doc, "triggerConfigurations");
	json_t *info;
	int r;

	if (!dp->group_doc || json_array_size(tc) == 0)
		return; /* nothing subscribes */
	info = json_pack("{s:s,s:s}", "deploymentId", dp->id, "status", upper_status(status));
	if (!info) {
		eng_store_error(e, -ENOMEM, "trigger notification");
		return;
	}
	if (instance) {
		json_object_set_new(info, "instanceId", json_string(instance));
		if (instance_status)
			json_object_set_new(info, "instanceStatus", json_string(instance_status));
	}
	if (code)
		json_object_set_new(info, "errorInformation",
				    json_pack("{s:s,s:s}", "code", code, "message", msg ? msg : ""));
	/* recorded in the turn's transaction: a daemon killed right after the
	 * commit leaves the deliveries Pending for another one, not lost */
	r = triggers_fire_tx(e->d, e->tx, event, dp->group_doc, info, &e->out.fires);
	if (r < 0)
		eng_store_error(e, r, "trigger delivery");
	json_decref(info);
}

/* ---------------------------------------------------------------- jobs and requests */

void eng_outbox_job(struct engine *e, struct eng_job *j)
{
	j->next = e->out.jobs;
	e->out.jobs = j;
}

static void jobs_flush(struct engine *e, bool start)
{
	struct eng_job *j = e->out.jobs, *next;

	e->out.jobs = NULL;
	for (; j; j = next) {
		next = j->next;
		if (start)
			eng_jobs_submit(e, j);
		else
			eng_job_free(j);
	}
}

void eng_outbox_request(struct engine *e, struct eng_request *req)
{
	req->next = e->out.requests;
	e->out.requests = req;
}

/* Wakes the stop / continue callers; after a rollback with -EIO. */
static void requests_flush(struct engine *e, bool committed)
{
	struct eng_request *req = e->out.requests, *next;

	e->out.requests = NULL;
	for (; req; req = next) {
		next = req->next;
		eng_request_done(req, committed ? req->result : -EIO);
	}
}

/* ---------------------------------------------------------------- the turn's end */

bool eng_outbox_pending(const struct engine *e)
{
	return e->out.replies || e->out.jobs || e->out.requests || e->out.fires;
}

void eng_outbox_flush(struct engine *e, bool committed)
{
	replies_flush(e, committed);
	requests_flush(e, committed);
	jobs_flush(e, committed);
	if (committed)
		triggers_batch_send(e->out.fires);
	else
		triggers_batch_free(e->out.fires);
	e->out.fires = NULL;
}
