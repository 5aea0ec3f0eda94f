/* The one resource of a Lambda or ECS AppSpec ("Resources: [{<logical
 * name>: {Type, Properties}}]"), as the daemon passes it (JSON). AWS's own
 * AppSpec examples spell the keys both Capitalised and lower-case, so
 * every key is matched case-insensitively. Compiled into the plugins that
 * read such AppSpecs (lambda, ecs). */
#pragma once

#include <jansson.h>
#include <rollout/plugin.h>

/* o's member key, matched case-insensitively; NULL without one. */
json_t *appspec_get(const json_t *o, const char *key);

/* What the AppSpec's resource looks like, for the errors. */
struct appspec_kind {
	const char *platform;	/* "a Lambda", "an ECS" */
	const char *type;	/* "AWS::Lambda::Function" */
	const char *what;	/* "the function's" */
	const char *example;	/* "myLambdaFunction" */
	const char *properties; /* the properties to give, e.g. "Name, Alias, CurrentVersion and TargetVersion" */
};

/* Parses appspec_json and finds its one resource of kind k: *ret_doc is
 * the parsed AppSpec (json_decref it, also on failure), *ret_logical the
 * resource's logical name and *ret_props its Properties object, both
 * borrowed from *ret_doc. -EINVAL with INVALID_REVISION naming what is
 * wrong: no AppSpec, not exactly one resource, another Type, no
 * Properties. */
int appspec_resource(const char *appspec_json, const struct appspec_kind *k, json_t **ret_doc, const char **ret_logical,
		     json_t **ret_props, struct rollout_error *err);
