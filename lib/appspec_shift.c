#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "appspec_shift.h"
#include "yamltree.h"

#define FUNCTION_NAME_MAX 256 /* a name, a partial or a full ARN, with a qualifier */

static const char *const lambda_hooks[] = {"BeforeAllowTraffic", "AfterAllowTraffic", NULL};
static const char *const ecs_hooks[] = {"BeforeInstall",      "AfterInstall",	   "AfterAllowTestTraffic",
					"BeforeAllowTraffic", "AfterAllowTraffic", NULL};

const char *const *appspec_shift_hook_events(const char *compute_platform)
{
	if (!compute_platform)
		return NULL;
	if (strcmp(compute_platform, "Lambda") == 0)
		return lambda_hooks;
	if (strcmp(compute_platform, "ECS") == 0)
		return ecs_hooks;
	return NULL;
}

const char *appspec_shift_hook(const json_t *appspec, const char *event)
{
	size_t i;
	json_t *h;

	json_array_foreach(json_object_get(appspec, "Hooks"), i, h)
	{
		const char *f = json_string_value(json_object_get(h, event));
		if (f)
			return f;
	}
	return NULL;
}

static const char *join(char *buf, size_t n, const char *const *names)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", names[i]);
	return buf;
}

static int parse_hooks(const struct yt_node *hooks, const char *platform, const char *const *events, json_t *out,
		       char *err, size_t errlen)
{
	char names[256];

	if (yt_is_null(hooks))
		return 0;
	if (hooks->type != YT_SEQ)
		return yt_error(hooks, err, errlen,
				"Hooks must be a list of single-entry maps, e.g. - BeforeAllowTraffic: MyHookFunction");
	for (size_t i = 0; i < hooks->n; i++) {
		const struct yt_node *h = hooks->items[i], *fn;
		const char *event = NULL;
		json_t *entry;

		if (h->type != YT_MAP || h->n != 1)
			return yt_error(h, err, errlen,
					"Hooks entry %zu must be one 'Event: FunctionName' pair, e.g. - "
					"BeforeAllowTraffic: MyHookFunction",
					i + 1);
		for (size_t e = 0; events[e]; e++)
			if (strcasecmp(h->keys[0]->value, events[e]) == 0)
				event = events[e];
		if (!event)
			return yt_error(h->keys[0], err, errlen, "Hooks: %s is not a hook of a %s deployment; use %s",
					h->keys[0]->value, platform, join(names, sizeof(names), events));
		fn = h->items[0];
		if (fn->type != YT_SCALAR || yt_is_null(fn) || !*fn->value)
			return yt_error(fn, err, errlen, "Hooks: %s needs the name of a Lambda function", event);
		if (strlen(fn->value) > FUNCTION_NAME_MAX)
			return yt_error(fn, err, errlen, "Hooks: %s: the function name is longer than %d characters",
					event, FUNCTION_NAME_MAX);
		if (appspec_shift_hook(out, event))
			return yt_error(h, err, errlen, "Hooks: %s is given twice; a lifecycle event has one function",
					event);
		entry = json_pack("{s:s}", event, fn->value);
		if (!entry || json_array_append_new(json_object_get(out, "Hooks"), entry) < 0)
			return -ENOMEM;
	}
	return 0;
}

int appspec_shift_parse(const char *text, size_t len, const char *name, const char *compute_platform, json_t **ret,
			char *err, size_t errlen)
{
	const char *const *events = appspec_shift_hook_events(compute_platform);
	const struct yt_node *version = NULL, *resources = NULL, *hooks = NULL;
	struct yt_node *root = NULL;
	json_t *out = NULL;
	int r;

	if (!events) {
		snprintf(err, errlen, "%s: compute platform %s has no AppSpec of this kind", name,
			 compute_platform ? compute_platform : "(none)");
		return -EINVAL;
	}
	if (len > APPSPEC_SHIFT_MAX_BYTES) {
		snprintf(err, errlen, "%s: the AppSpec is %zu bytes; at most %d are allowed", name, len,
			 APPSPEC_SHIFT_MAX_BYTES);
		return -EINVAL;
	}
	if ((r = yt_parse_buffer(text, len, name, &root, err, errlen)) < 0)
		return r;
	if (root->type != YT_MAP) {
		r = yt_error(root, err, errlen, "the AppSpec must be a map with version, Resources and Hooks");
		goto out;
	}
	for (size_t i = 0; i < root->n; i++) {
		const char *k = root->keys[i]->value;
		const struct yt_node **slot = strcasecmp(k, "version") == 0	? &version
					      : strcasecmp(k, "Resources") == 0 ? &resources
					      : strcasecmp(k, "Hooks") == 0	? &hooks
										: NULL;
		if (!slot) {
			r = yt_error(root->keys[i], err, errlen,
				     "unknown AppSpec key '%s'; a %s AppSpec has version, Resources and Hooks", k,
				     compute_platform);
			goto out;
		}
		if (*slot) {
			r = yt_error(root->keys[i], err, errlen, "'%s' is given twice (keys are case-insensitive)", k);
			goto out;
		}
		*slot = root->items[i];
	}
	if (!version || version->type != YT_SCALAR || strcmp(version->value, "0.0") != 0) {
		r = yt_error(version ? version : root, err, errlen, "version must be 0.0%s%s",
			     version && version->type == YT_SCALAR ? ", not " : "",
			     version && version->type == YT_SCALAR ? version->value : "");
		goto out;
	}
	if (!resources || resources->type != YT_SEQ || resources->n == 0) {
		r = yt_error(resources ? resources : root, err, errlen,
			     "Resources must list the %s to deploy, e.g. - myFunction: {Type: "
			     "AWS::Lambda::Function, Properties: {...}}",
			     strcmp(compute_platform, "Lambda") == 0 ? "function" : "service");
		goto out;
	}
	for (size_t i = 0; i < resources->n; i++) {
		const struct yt_node *it = resources->items[i];
		if (it->type != YT_MAP || it->n != 1 || it->items[0]->type != YT_MAP) {
			r = yt_error(it, err, errlen,
				     "Resources entry %zu must be one 'LogicalName: {Type: ..., Properties: ...}' pair",
				     i + 1);
			goto out;
		}
	}
	out = json_pack("{s:s, s:o, s:[]}", "version", "0.0", "Resources", yt_to_json(resources), "Hooks");
	if (!out || !json_is_array(json_object_get(out, "Resources"))) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = parse_hooks(hooks, compute_platform, events, out, err, errlen)) < 0)
		goto out;
	*ret = out;
	out = NULL;
	r = 0;
out:
	json_decref(out);
	yt_free(root);
	return r;
}
