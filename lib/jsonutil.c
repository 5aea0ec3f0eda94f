#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"

const char *rd_json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

const char *rd_json_str_or(const json_t *obj, const char *key, const char *fallback)
{
	const char *s = rd_json_str(obj, key);

	return s ? s : fallback;
}

double rd_json_number(const json_t *j)
{
	if (json_is_number(j))
		return json_number_value(j);
	if (json_is_string(j))
		return strtod(json_string_value(j), NULL);
	return 0;
}

bool rd_json_aws_error(const char *body, size_t len, char *type, size_t typelen, char *msg, size_t msglen)
{
	json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	const char *t = rd_json_str(j, "__type"), *m, *hash;

	if (!t) {
		json_decref(j);
		return false;
	}
	if ((hash = strrchr(t, '#')))
		t = hash + 1;
	m = rd_json_str(j, "message");
	if (!m)
		m = rd_json_str_or(j, "Message", "");
	if (type && typelen) {
		snprintf(type, typelen, "%.*s", (int)strcspn(t, ":"), t);
	}
	if (msg && msglen)
		snprintf(msg, msglen, "%s", m);
	json_decref(j);
	return true;
}
