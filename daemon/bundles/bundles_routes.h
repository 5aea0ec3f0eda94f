/* The HTTP routes over the bundle cache (bundles.h). The cache knows nothing
 * of HTTP; main.c registers these handlers, as it does every route:
 *
 *   GET/HEAD /bundles/<sha256>   bundles_route_get, signed for the
 *                                agents' service ("codedeploy-commands").
 *                                An agent key gets only bundles of
 *                                deployments its instance was granted
 *                                (bundles_grant).
 *   POST /bundles/uploads        bundles_route_uploads (a raw-body route),
 *   PUT  /bundles/uploads/<id>   signed for the control API ("codedeploy"):
 *                                chunked uploads, docs/api-extensions.md.
 *
 * Handlers run on workpool threads (core/httpd.h) and answer 503 while the
 * cache is not started. userdata is unused. */
#pragma once

struct httpd_call;
struct rd_daemon;

#define BUNDLES_ROUTE_GET_PREFIX "/bundles/"
#define BUNDLES_ROUTE_GET_SERVICE "codedeploy-commands"
#define BUNDLES_ROUTE_UPLOADS_PREFIX "/bundles/uploads"
#define BUNDLES_ROUTE_UPLOADS_SERVICE "codedeploy"

void bundles_route_get(struct httpd_call *call, void *userdata);
void bundles_route_uploads(struct httpd_call *call, void *userdata);

/* Drops unfinished uploads (and their temporary files). Called by main.c
 * once no request runs any more, before bundles_stop(). */
void bundles_routes_stop(struct rd_daemon *d);
