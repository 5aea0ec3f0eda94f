/* jansson helpers shared by rolloutd, rollout-agent and rolloutctl: typed
 * member reads that tolerate a missing or mistyped member, and the error body
 * of the AWS JSON protocol ({"__type": "...", "message": "..."}) that the
 * control API and the host-command service answer with. Library code: never
 * logs. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The string member key of obj (borrowed), or NULL when obj is not an object
 * or the member is missing or not a string. */
const char *rd_json_str(const json_t *obj, const char *key);

/* The same, with fallback instead of NULL. */
const char *rd_json_str_or(const json_t *obj, const char *key, const char *fallback);

/* The value of a JSON number, or of a string holding a number (some clients
 * send times as strings); 0 for anything else. */
double rd_json_number(const json_t *j);

/* Parses the error body of an AWS JSON-protocol answer. The type is the
 * shape name without the namespace ("...#Name") or the ":http://..." suffix
 * some services append; the message is "message" or "Message". Returns true
 * when body is such an object with a "__type"; type and msg are then filled
 * (msg "" when the body has none). Either buffer may be NULL. */
bool rd_json_aws_error(const char *body, size_t len, char *type, size_t typelen, char *msg, size_t msglen);
