/* The CodeDeploy operations and their handlers (api_*.c). */
#include "config.h"

#include "api_internal.h"

const struct api_op api_codedeploy_ops[] = {
	{ "__none__", NULL },
};
const size_t api_n_codedeploy_ops = 0;
