/* Helpers shared by the API's operation files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/httpd.h"

struct rd_daemon;

/* A small declarative table for bodies outside the CodeDeploy model
 * (Rolloutd_v1). */
enum api_field_type { API_STR, API_INT, API_BOOL, API_OBJ, API_LIST };
struct api_field {
	const char *name;
	enum api_field_type type;
	bool required;
	int64_t min, max; /* string length / integer range / list size; 0,0 = unbounded */
};
/* 0, or -EINVAL after completing call with InvalidInputException /
 * SerializationException naming the field. */
int api_check_fields(struct httpd_call *call, json_t *in, const struct api_field *f, size_t n);

/* Completes call with the error a store failure means (500 InternalFailure
 * unless the errno is a user's fault). */
void api_store_error(struct httpd_call *call, int r);

/* Epoch ms -> JSON number of epoch seconds with milliseconds. */
json_t *api_time(int64_t ms);
/* JSON epoch seconds (int or real) -> ms. */
int64_t api_time_ms(const json_t *j);

/* Opaque pagination tokens: base64url of "<op>|<cursor>". -EINVAL when
 * malformed or minted for another operation. */
char *api_token_make(const char *op, const char *cursor);
int api_token_parse(const char *op, const char *token, char **ret_cursor);

/* ARNs of taggable resources. */
char *api_arn_application(struct rd_daemon *d, const char *app);
char *api_arn_group(struct rd_daemon *d, const char *app, const char *group);
char *api_arn_instance(struct rd_daemon *d, const char *instance);

#define API_PAGE_SIZE 100

/* Reads the page cursor from in[key] ("nextToken" / "NextToken"); *ret is
 * NULL on the first page. -EINVAL after completing call with
 * InvalidNextTokenException. */
int api_page_cursor(struct httpd_call *call, json_t *in, const char *key, char **ret_cursor);
/* Sets out[key] to a token for cursor (when more items follow). */
void api_page_next(struct httpd_call *call, json_t *out, const char *key, const char *cursor);

/* Completes call with ApplicationDoesNotExistException unless the
 * application exists; *ret_info (may be NULL) gets its ApplicationInfo. */
int api_need_app(struct rd_daemon *d, struct httpd_call *call, const char *name, json_t **ret_info);
/* The member as a C string, NULL when absent. */
const char *api_str(json_t *in, const char *key);
