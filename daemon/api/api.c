/* Dispatch of the control API: model validation, then the operation's
 * handler. Operations live in api_*.c, one file per resource. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/api_internal.h"
#include "api/api_model.h"
#include "api/api_util.h"
#include "core/daemon.h"
#include "core/httpd.h"
#include "log.h"
#include "relay/relay.h"

/* The operations that act on a running deployment (their deploymentId): on
 * a cluster they are relayed to the daemon driving it (relay.h). */
static const char *const to_driver_ops[] = {"StopDeployment", "ContinueDeployment",
					    "SkipWaitTimeForInstanceTermination",
					    "PutLifecycleEventHookExecutionStatus"};

static bool to_driver(const char *name)
{
	for (size_t i = 0; i < sizeof(to_driver_ops) / sizeof(to_driver_ops[0]); i++)
		if (!strcmp(to_driver_ops[i], name))
			return true;
	return false;
}

static const struct api_op *find_op(const struct api_op *tab, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(tab[i].name, name))
			return &tab[i];
	return NULL;
}

void api_codedeploy_call(struct httpd_call *call, void *userdata)
{
	struct rd_daemon *d = userdata;
	const char *name = httpd_call_operation(call);
	const struct api_op_model *m = api_model_op(name);
	const struct api_op *op = find_op(api_codedeploy_ops, api_n_codedeploy_ops, name);
	const char *exc = NULL;
	json_t *in = NULL;
	char msg[1024];
	int r;

	if (!m || !op) {
		httpd_call_error(call, "UnknownOperationException",
				 "unknown operation %s.%s; see the CodeDeploy API (2014-10-06) for the operations",
				 httpd_call_target_prefix(call), name);
		return;
	}
	r = api_validate(m, httpd_call_body(call), &in, &exc, msg, sizeof(msg));
	if (r == -ENOMEM) {
		httpd_call_error_status(call, 500, "InternalFailure", "out of memory");
		return;
	}
	if (r < 0) {
		httpd_call_error(call, exc, "%s", msg);
		return;
	}
	/* what changes a running deployment goes to the daemon driving it */
	if (to_driver(name) && relay_to_driver(d, call, api_str(in, "deploymentId"))) {
		json_decref(in);
		return;
	}
	op->fn(d, call, in);
	json_decref(in);
}

void api_ext_call(struct httpd_call *call, void *userdata)
{
	struct rd_daemon *d = userdata;
	const char *name = httpd_call_operation(call);
	const struct api_op *op = find_op(api_ext_ops, api_n_ext_ops, name);

	if (!op) {
		httpd_call_error(call, "UnknownOperationException", "unknown operation Rolloutd_v1.%s", name);
		return;
	}
	op->fn(d, call, httpd_call_body(call));
}
