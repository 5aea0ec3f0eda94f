#include <errno.h>
#include <strings.h>

#include "appspecres.h"

json_t *appspec_get(const json_t *o, const char *key)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v)
	{
		if (strcasecmp(k, key) == 0)
			return v;
	}
	return NULL;
}

int appspec_resource(const char *appspec_json, const struct appspec_kind *k, json_t **ret_doc, const char **ret_logical,
		     json_t **ret_props, struct rollout_error *err)
{
	json_t *doc = json_loads(appspec_json ? appspec_json : "", 0, NULL), *res, *item, *body, *type;
	const char *logical;

	*ret_doc = doc;
	if (!json_is_object(doc))
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "the deployment has no AppSpec; %s deployment needs a revision of type "
					 "AppSpecContent, String or an S3 YAML/JSON AppSpec file",
					 k->platform);
	res = appspec_get(doc, "Resources");
	if (!json_is_array(res) || json_array_size(res) != 1)
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "AppSpec Resources must list exactly one %s (found %zu entries)", k->type,
					 json_is_array(res) ? json_array_size(res) : 0);
	item = json_array_get(res, 0);
	if (!json_is_object(item) || json_object_size(item) != 1)
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "AppSpec Resources[0] must be a map with one key, %s logical name (e.g. - %s: "
					 "{Type: %s, Properties: ...})",
					 k->what, k->example, k->type);
	logical = json_object_iter_key(json_object_iter(item));
	body = json_object_iter_value(json_object_iter(item));
	type = appspec_get(body, "Type");
	if (!json_is_string(type) || strcasecmp(json_string_value(type), k->type) != 0)
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION", "AppSpec Resources %s.Type must be %s%s%s",
					 logical, k->type, json_is_string(type) ? ", not " : " (it is missing)",
					 json_is_string(type) ? json_string_value(type) : "");
	*ret_props = appspec_get(body, "Properties");
	if (!json_is_object(*ret_props))
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "AppSpec Resources %s.Properties is missing; give %s", logical, k->properties);
	*ret_logical = logical;
	return 0;
}
