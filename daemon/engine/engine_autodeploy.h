/* Deployments the engine creates on its own: the automatic rollback of a
 * failed or stopped deployment (creator codeDeployRollback) and the
 * auto-update of instances a group selects that never received its last
 * successful revision (creator CodeDeployAutoUpdate). Each function stores
 * the new deployment as Created in the turn's transaction and names it;
 * the state machine then loads and starts it like any other. */
#pragma once

#include <stdbool.h>

#include "engine/engine_model.h"

struct engine;
struct eng_input;
struct rd_daemon;

/* Whether dp, ending with status (DS_FAILED or DS_STOPPED), rolls back:
 * its stop request or alarm said so, else its (or its group's)
 * autoRollbackConfiguration lists the event. A rollback never rolls back. */
bool eng_rollback_wanted(const struct eng_dep *dp, enum eng_dstatus status);
/* Creates the rollback of dp to the group's last successful revision, or
 * records why there is none. 0 with newid filled, -ENOENT when there is
 * nothing to roll back to, another negative errno (recorded as the turn's
 * store error). */
int eng_rollback_create(struct engine *e, struct eng_dep *dp, enum eng_dstatus status, char newid[12]);

/* Starts a job resolving every idle group that has a last successful
 * revision (IN_AUTOUPDATE comes back). */
void eng_autoupdate_scan(struct engine *e);
/* Each turn: the scan when one is due (e->instances_changed). On a
 * cluster only the daemon holding the "autoupdate" lease scans: another
 * one tells it (NOTIFY AUTOUPDATE_CHANNEL), and a daemon that just took
 * the lease scans once for what may have been missed meanwhile. */
void eng_autoupdate_tick(struct engine *e);
/* On a cluster: listen on AUTOUPDATE_CHANNEL (engine_start). */
void eng_autoupdate_listen(struct rd_daemon *d);
#define AUTOUPDATE_CHANNEL "rolloutd_autoupdate"
/* The scan's answer for one group: 0 with newid when a deployment of the
 * last successful revision to its new instances was created; -ENOENT when
 * there is nothing to do (no new instance, or a deployment runs). */
int eng_autoupdate_create(struct engine *e, const struct eng_input *in, char newid[12]);
/* New instances get the very bundle the group's last success installed:
 * sets doc's rolloutBundleSha256 when that deployment deployed rev. */
void eng_pin_last_good_bundle(struct engine *e, const char *app, const char *group, const json_t *rev, json_t *doc);
