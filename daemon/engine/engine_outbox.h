/* What the engine thread holds until its turn's transaction commits:
 * replies to agent calls that must be durable first, trigger notifications,
 * plugin jobs and the stop/continue requests waiting for their answer.
 * After a commit eng_outbox_flush() sends them; after a rollback it turns
 * the replies into ServerExceptions and drops the rest (the state is then
 * reloaded from the store, which recreates what is still due). Replies go
 * out through the engine's engine_io, never straight to the transport.
 * Engine thread only, except eng_refuse. */
#pragma once

#include <stdbool.h>

#include <jansson.h>

struct engine;
struct eng_call;
struct eng_dep;
struct eng_job;
struct eng_reply;
struct triggers_batch;
struct eng_request;

struct eng_outbox {
	struct eng_reply *replies, *replies_tail;
	struct triggers_batch *fires; /* recorded in the turn's transaction, sent once committed */
	struct eng_job *jobs;
	struct eng_request *requests;
};

/* Answers call once the turn committed (an agent's report); steals body
 * (NULL: {}). Frees call when answered. */
void eng_reply(struct engine *e, struct eng_call *call, json_t *body);
/* Refuses call once the turn is over, with a 400 and the exception name. */
void eng_reply_error(struct engine *e, struct eng_call *call, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers at once (nothing the caller must find durable); frees call. */
void eng_reply_now(struct engine *e, struct eng_call *call, json_t *body);
/* Answers at once with a JSON text (borrowed; engine_io.reply_text); frees
 * call. */
void eng_reply_text_now(struct engine *e, struct eng_call *call, const char *json, size_t len);
/* Refuses at once with an HTTP status; frees call. Any thread. */
void eng_refuse(struct engine *e, struct eng_call *call, int http_status, const char *type, const char *message);

/* A trigger notification (daemon/health/triggers.h) of dp, recorded in the
 * turn's transaction and sent once committed; nothing when the group
 * subscribes no trigger. */
void eng_fire(struct engine *e, const char *event, const struct eng_dep *dp, const char *status, const char *instance,
	      const char *instance_status, const char *code, const char *msg);

/* Starts j once committed (engine_jobs.h). */
void eng_outbox_job(struct engine *e, struct eng_job *j);
/* Answers req once committed. */
void eng_outbox_request(struct engine *e, struct eng_request *req);

/* Whether someone waits for this turn's commit. */
bool eng_outbox_pending(const struct engine *e);
/* After the commit (committed) or the rollback (!committed). */
void eng_outbox_flush(struct engine *e, bool committed);
