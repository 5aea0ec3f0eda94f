/* Declarative validation tables for API request bodies, generated from the
 * botocore model by daemon/api/api_model_gen.py (api_model.c), and the
 * validator that walks them (api_validate.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum api_type { AT_STRUCT, AT_LIST, AT_MAP, AT_STRING, AT_INT, AT_LONG, AT_BOOL, AT_DOUBLE, AT_TIMESTAMP };

struct api_member {
	const char *name;
	int shape; /* index into api_shapes */
	bool required;
};

struct api_shape {
	const char *name;
	enum api_type type;
	bool has_min, has_max;
	int64_t min, max; /* string length / list length / number range */
	const char *const *enums;
	size_t n_enums;
	const struct api_member *members;
	size_t n_members;
	int member;	/* list element shape */
	int key, value; /* map */
	/* rolloutd's open shapes: a string outside the enum is left to the
	 * operation to judge; a structure keeps members outside the model as
	 * given (a source plugin's revision location). */
	bool open;
};

struct api_op_model {
	const char *name;
	int input; /* shape index, -1 when the operation has no input */
};

extern const struct api_shape api_shapes[];
extern const size_t api_n_shapes;
extern const struct api_op_model api_op_models[];
extern const size_t api_n_op_models;

const struct api_op_model *api_model_op(const char *name);

/* Validates body against the operation's input shape. On success *ret_clean
 * is a new object holding only model members (nulls dropped) and 0 is
 * returned. On failure returns -EINVAL and fills exc (the CodeDeploy
 * exception name) and msg (what is wrong, naming the member path). */
int api_validate(const struct api_op_model *op, json_t *body, json_t **ret_clean, const char **ret_exc, char *msg,
		 size_t msglen);
