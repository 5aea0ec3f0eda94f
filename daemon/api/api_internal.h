/* Shared by daemon/api*.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/httpd.h"

struct rd_daemon;

/* One operation's handler: body is the validated input (only model
 * members, nulls dropped). Completes call (reply or error). */
typedef void (*api_op_fn)(struct rd_daemon *d, struct httpd_call *call, json_t *in);

struct api_op {
	const char *name;
	api_op_fn fn;
};

/* Lookup in the handler tables (api.c: CodeDeploy, api_ext.c: Rolloutd_v1). */
extern const struct api_op api_codedeploy_ops[];
extern const size_t api_n_codedeploy_ops;
extern const struct api_op api_ext_ops[];
extern const size_t api_n_ext_ops;
/* Rolloutd_v1.EnrollInstance (api_enroll.c). */
void api_op_enroll_instance(struct rd_daemon *d, struct httpd_call *call, json_t *in);
