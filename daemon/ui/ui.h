/* The web dashboard at /ui/: its pages (built into the daemon), sign-in
 * with an access key's id and secret, sessions, and the session route the
 * pages call the control API through.
 *
 * Routes (registered by ui_register_routes):
 *   GET  /ui, /ui/...            the pages and their assets (no sign-in needed to load them)
 *   GET  /ui/session             who is signed in: key, policy, CSRF token, allowed actions
 *   POST /ui/signin              {"accessKeyId", "secretAccessKey"} -> session cookie
 *   POST /ui/signout             revokes the session
 *   POST /ui/api/<prefix>.<Op>   a control-API operation (CodeDeploy_20141006 or
 *                                Rolloutd_v1) run by the API's own handler as the session's key
 *   POST /ui/agents              agents' last contact per instance
 *   POST /ui/wait                {"deploymentId", "seq", "timeoutMs"}: held until the
 *                                deployment changes (live updates; ui_wait.h)
 * Every POST but sign-in needs the session cookie and the session's CSRF
 * token in the X-Rolloutd-CSRF header; sign-in needs a JSON Content-Type
 * (which a cross-site form cannot send). Sessions live in memory: a restart
 * of the daemon signs everyone out. */
#pragma once

#include <stdbool.h>

struct auth;
struct httpd;
struct rd_daemon;
struct ui;

/* secure_cookie: the listener speaks TLS, so the cookie is marked Secure. */
int ui_new(struct rd_daemon *d, struct auth *auth, bool secure_cookie, struct ui **ret);
struct ui *ui_free(struct ui *ui);
int ui_register_routes(struct ui *ui, struct httpd *h);
/* engine_io.changed: answers the pages waiting for deployment_id. ui is the
 * struct ui. Any thread. */
void ui_deployment_changed(void *ui, const char *deployment_id);
