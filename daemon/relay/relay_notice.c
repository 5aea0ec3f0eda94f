/* The rolloutd_host notice; see relay_notice.h. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "relay/relay_notice.h"

int relay_notice_encode(const char *url, const char *const *hosts, size_t n, size_t *ret_used, char **ret)
{
	json_t *o, *arr;
	size_t used = 0, len;
	char *txt;

	if (!url || !*url || n == 0)
		return -EINVAL;
	o = json_pack("{s:s,s:[]}", "u", url, "h");
	if (!o)
		return -ENOMEM;
	arr = json_object_get(o, "h");
	/* a string's JSON text is at most 6 bytes per byte (\u00XX) plus 3 */
	len = strlen(url) * 6 + 16;
	while (used < n) {
		size_t hl = strlen(hosts[used]) * 6 + 3;
		if (!*hosts[used] || len + hl > RELAY_NOTICE_MAX)
			break;
		if (json_array_append_new(arr, json_string(hosts[used])) < 0) {
			json_decref(o);
			return -ENOMEM;
		}
		len += hl;
		used++;
	}
	if (used == 0) {
		json_decref(o);
		return -EINVAL;
	}
	txt = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!txt)
		return -ENOMEM;
	*ret_used = used;
	*ret = txt;
	return 0;
}

int relay_notice_decode(const char *payload, char *url, size_t urllen, json_t **ret_hosts)
{
	json_t *o = payload ? json_loads(payload, JSON_REJECT_DUPLICATES, NULL) : NULL;
	json_t *arr = json_object_get(o, "h"), *v;
	const char *u = json_string_value(json_object_get(o, "u"));
	size_t i;
	int r = -EINVAL;

	if (!u || !*u || strlen(u) >= urllen || !json_is_array(arr) || json_object_size(o) != 2)
		goto out;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v) || !*json_string_value(v))
			goto out;
	}
	memcpy(url, u, strlen(u) + 1);
	*ret_hosts = json_incref(arr);
	r = 0;
out:
	json_decref(o);
	return r;
}
