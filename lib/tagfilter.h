/* CodeDeploy's tag-filter rule: which hosts a deployment group, a
 * blue/green targetInstances or a ListOnPremisesInstances call selects by
 * tags. This is the one implementation in the tree: the on-premises
 * platform plugin (through host->tag_filter_*), the store's instance
 * listing and rolloutctl all match through it, so that the same filter
 * selects the same hosts everywhere.
 *
 * The rule:
 *  - A filter {Key, Value, Type}:
 *      KEY_ONLY       a tag with that key, whatever its value;
 *      VALUE_ONLY     a tag with that value, whatever its key;
 *      KEY_AND_VALUE  a tag with that key and that value (no Value: "").
 *    Without a Type: Key and Value -> KEY_AND_VALUE, only a Key -> KEY_ONLY,
 *    only a Value -> VALUE_ONLY.
 *  - Empty strings: a tag always has a key, so an empty Key is no Key. Without
 *    a Type an empty Value is no Value too (a form's blank field, so
 *    {Key: k, Value: ""} is KEY_ONLY); with a Type the Value is compared as
 *    given (VALUE_ONLY "" selects tags whose value is empty).
 *    A filter left with nothing to compare selects nothing.
 *  - A list of filters (onPremisesInstanceTagFilters, ec2TagFilters,
 *    tagFilters) selects a host matching ANY filter.
 *  - A tag set (onPremisesTagSet, ec2TagSet) is a list of such lists: a host
 *    must match EVERY non-empty list (empty inner lists are ignored).
 *  - An empty list or set selects nothing; "no filter at all" (list every
 *    instance) is the caller's decision, not a filter.
 *  - Matching is exact and case-sensitive: no wildcards.
 *
 * A host's tags are a list of (key, value) pairs; a missing value is "".
 * Library code: returns negative errno and a message, never logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum tagfilter_type {
	TAGFILTER_KEY_ONLY = 1,
	TAGFILTER_VALUE_ONLY = 2,
	TAGFILTER_KEY_AND_VALUE = 3,
};

struct tagfilter {
	enum tagfilter_type type;
	char *key;   /* NULL: no key to compare (the filter may then select nothing) */
	char *value; /* NULL: no value to compare */
};

/* Filters OR-ed together. */
struct tagfilter_group {
	struct tagfilter *filters;
	size_t n;
};

/* Groups AND-ed together; a flat list of filters is a set of one group. */
struct tagfilter_set {
	struct tagfilter_group *groups;
	size_t n;
};

/* One tag of a host (borrowed strings). value NULL is the empty value. */
struct tagfilter_tag {
	const char *key;
	const char *value;
};

/* Parses any of the API's shapes:
 *   [TagFilter]                                   a list (OR),
 *   [[TagFilter]]                                 a tag set (AND of ORs),
 *   {"onPremisesTagSetList" | "ec2TagSetList": [[TagFilter]]}   a tag set.
 * TagFilter members Key, Value (strings or null) and Type (one of the three
 * names or null); other members are ignored. `what` names the input in
 * messages ("onPremisesInstanceTagFilters"). Fails with -EINVAL and a message
 * naming the element ("tagFilters[1].Type: expected KEY_ONLY, VALUE_ONLY or
 * KEY_AND_VALUE, found 'KEY'"). *ret is freed with tagfilter_set_free. */
int tagfilter_parse(const json_t *j, const char *what, struct tagfilter_set **ret, char *err, size_t errlen);
/* The same from JSON text. */
int tagfilter_parse_text(const char *text, const char *what, struct tagfilter_set **ret, char *err, size_t errlen);

/* NULL-safe; returns NULL. */
struct tagfilter_set *tagfilter_set_free(struct tagfilter_set *s);

/* True when the set has no filter (selects nothing). */
bool tagfilter_set_is_empty(const struct tagfilter_set *s);

/* Does a host with these tags match? */
bool tagfilter_match_one(const struct tagfilter *f, const struct tagfilter_tag *tags, size_t n_tags);
bool tagfilter_match(const struct tagfilter_set *s, const struct tagfilter_tag *tags, size_t n_tags);
/* Same with the tags as the API's [{"Key": k, "Value": v}] (entries without
 * a string Key are ignored). */
bool tagfilter_match_json(const struct tagfilter_set *s, const json_t *tags);

/* Why f can select no host, as a sentence for a validation error
 * ("Type KEY_ONLY needs a Key"), or NULL when it can. */
const char *tagfilter_problem(const struct tagfilter *f);

/* "KEY_ONLY", "VALUE_ONLY", "KEY_AND_VALUE". */
const char *tagfilter_type_name(enum tagfilter_type t);
