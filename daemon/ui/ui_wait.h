/* The dashboard's live updates: long-polls that wait for a deployment's
 * next committed change.
 *
 * Each deployment the engine announced has a change counter (seq). A page
 * asks "wake me when deployment D is past seq S" and is answered with the
 * current seq at once when it already is, else as soon as the engine
 * announces D (ui_waits_changed, after the change is committed, so a read
 * that follows sees it), else at its timeout with the same seq. A page
 * that has not seen D yet asks with seq -1 and learns the current one.
 *
 * Counters live in memory only (a restart answers every waiter's next
 * call at once, which merely makes the page read again); they are dropped
 * all together past UI_WAIT_MAX_DEPLOYMENTS announced deployments, with the
 * same harmless effect. */
#pragma once

#include <stdint.h>

struct event_base;
struct httpd_call;
struct ui_waits;

#define UI_WAIT_MAX_DEPLOYMENTS 10000
/* The longest a page may ask to be held (a browser or a proxy in between
 * may give up on a request idle for much longer). */
#define UI_WAIT_MAX_MS 30000

/* Expiries are checked by a timer on base (the I/O thread's loop). */
int ui_waits_new(struct event_base *base, struct ui_waits **ret);
/* Completes every waiter (503) and frees; before the transport is freed. */
struct ui_waits *ui_waits_free(struct ui_waits *w);

/* Deployment id changed and the change is committed. Any thread. */
void ui_waits_changed(struct ui_waits *w, const char *deployment_id);

/* Answers call with {"seq": N} when deployment_id's seq differs from seq
 * (at once if it already does), or after timeout_ms (clamped to
 * 100..UI_WAIT_MAX_MS) with {"seq": seq}. Any thread. */
void ui_waits_add(struct ui_waits *w, struct httpd_call *call, const char *deployment_id, int64_t seq,
		  int64_t timeout_ms);
