/* A control-API request body against the operation's model
 * (daemon/api/api_validate.c over the tables of api_model.c): the first line
 * of the input names the operation ("CreateDeployment"), the rest is the
 * body, parsed as the HTTP transport parses it (daemon/core/httpd_route.c:
 * JSON_REJECT_DUPLICATES, an object). An unknown operation name picks one by
 * the first byte, so that every operation is reached. */
#include "config.h"

#include <jansson.h>

#include "api/api_model.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	const struct api_op_model *op;
	json_t *body, *clean = NULL;
	const char *exc = NULL;
	json_error_t je;
	char msg[2048], name[128];
	size_t name_len;

	if (!nl || size > 1024 * 1024)
		return 0;
	name_len = (size_t)(nl - data);
	if (name_len >= sizeof(name))
		return 0;
	memcpy(name, data, name_len);
	name[name_len] = '\0';
	op = api_model_op(name);
	if (!op)
		op = &api_op_models[(name_len ? data[0] : 0) % api_n_op_models];
	body = json_loadb((const char *)nl + 1, size - name_len - 1, JSON_REJECT_DUPLICATES, &je);
	if (!body)
		return 0;
	if (json_is_object(body) && api_validate(op, body, &clean, &exc, msg, sizeof(msg)) == 0) {
		/* what a handler gets must be an object of model members only */
		if (!json_is_object(clean))
			abort();
		json_decref(clean);
	} else if (json_is_object(body) && (!exc || !*exc)) {
		/* a refusal must name its CodeDeploy exception */
		abort();
	}
	json_decref(body);
	return 0;
}
