#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tagfilter.h"

const char *tagfilter_type_name(enum tagfilter_type t)
{
	switch (t) {
	case TAGFILTER_KEY_ONLY:
		return "KEY_ONLY";
	case TAGFILTER_VALUE_ONLY:
		return "VALUE_ONLY";
	case TAGFILTER_KEY_AND_VALUE:
		return "KEY_AND_VALUE";
	}
	return "?";
}

/* A member that must be a string or absent; null counts as absent, as the
 * API's optional members do. */
static int member_string(const json_t *f, const char *name, const char *where, const char **ret, char *err,
			 size_t errlen)
{
	const json_t *v = json_object_get(f, name);

	if (!v || json_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s.%s: expected a string", where, name);
		return -EINVAL;
	}
	*ret = json_string_value(v);
	return 0;
}

static int parse_filter(const json_t *f, const char *where, struct tagfilter *ret, char *err, size_t errlen)
{
	const char *key, *value, *type;
	int r;

	if (!json_is_object(f)) {
		snprintf(err, errlen, "%s: expected a tag filter object {Key, Value, Type}", where);
		return -EINVAL;
	}
	if ((r = member_string(f, "Key", where, &key, err, errlen)) < 0 ||
	    (r = member_string(f, "Value", where, &value, err, errlen)) < 0 ||
	    (r = member_string(f, "Type", where, &type, err, errlen)) < 0)
		return r;
	/* Tags always have a key: an empty Key compares with nothing. */
	if (key && !*key)
		key = NULL;
	if (!type) {
		/* Without a Type, blank fields are fields not given. */
		if (value && !*value)
			value = NULL;
		ret->type = key && value ? TAGFILTER_KEY_AND_VALUE : key ? TAGFILTER_KEY_ONLY : TAGFILTER_VALUE_ONLY;
	} else if (strcmp(type, "KEY_ONLY") == 0) {
		ret->type = TAGFILTER_KEY_ONLY;
	} else if (strcmp(type, "VALUE_ONLY") == 0) {
		ret->type = TAGFILTER_VALUE_ONLY;
	} else if (strcmp(type, "KEY_AND_VALUE") == 0) {
		ret->type = TAGFILTER_KEY_AND_VALUE;
		if (!value)
			value = ""; /* a tag without a value has the empty value */
	} else {
		snprintf(err, errlen, "%s.Type: expected KEY_ONLY, VALUE_ONLY or KEY_AND_VALUE, found '%.64s'", where,
			 type);
		return -EINVAL;
	}
	ret->key = NULL;
	ret->value = NULL;
	if (ret->type != TAGFILTER_VALUE_ONLY && key && !(ret->key = strdup(key)))
		return -ENOMEM;
	if (ret->type != TAGFILTER_KEY_ONLY && value && !(ret->value = strdup(value))) {
		free(ret->key);
		return -ENOMEM;
	}
	return 0;
}

static void group_clear(struct tagfilter_group *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->filters[i].key);
		free(g->filters[i].value);
	}
	free(g->filters);
	g->filters = NULL;
	g->n = 0;
}

static int parse_group(const json_t *list, const char *where, struct tagfilter_group *g, char *err, size_t errlen)
{
	char at[256];
	size_t n = json_array_size(list);
	int r;

	g->n = 0;
	g->filters = n ? calloc(n, sizeof(*g->filters)) : NULL;
	if (n && !g->filters)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		snprintf(at, sizeof(at), "%s[%zu]", where, i);
		r = parse_filter(json_array_get(list, i), at, &g->filters[g->n], err, errlen);
		if (r < 0) {
			group_clear(g);
			return r;
		}
		g->n++;
	}
	return 0;
}

struct tagfilter_set *tagfilter_set_free(struct tagfilter_set *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		group_clear(&s->groups[i]);
	free(s->groups);
	free(s);
	return NULL;
}

/* [[TagFilter]]: one group per non-empty inner list. */
static int parse_set_list(const json_t *list, const char *what, struct tagfilter_set *s, char *err, size_t errlen)
{
	char at[256];
	size_t n = json_array_size(list);
	int r;

	if (!json_is_array(list)) {
		snprintf(err, errlen, "%s: expected a list of lists of tag filters", what);
		return -EINVAL;
	}
	s->groups = n ? calloc(n, sizeof(*s->groups)) : NULL;
	if (n && !s->groups)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *inner = json_array_get(list, i);
		snprintf(at, sizeof(at), "%s[%zu]", what, i);
		if (!json_is_array(inner)) {
			snprintf(err, errlen, "%s: expected a list of tag filters", at);
			return -EINVAL;
		}
		/* An empty group would make AND-ing select nothing; the API
		 * never means that, so it is left out. */
		if (json_array_size(inner) == 0)
			continue;
		r = parse_group(inner, at, &s->groups[s->n], err, errlen);
		if (r < 0)
			return r;
		s->n++;
	}
	return 0;
}

int tagfilter_parse(const json_t *j, const char *what, struct tagfilter_set **ret, char *err, size_t errlen)
{
	struct tagfilter_set *s;
	int r;

	if (!what)
		what = "tag filters";
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (json_is_object(j)) {
		const json_t *a = json_object_get(j, "onPremisesTagSetList");
		const json_t *b = json_object_get(j, "ec2TagSetList");
		char at[256];
		if (a && b) {
			snprintf(err, errlen, "%s: expected one of onPremisesTagSetList or ec2TagSetList, found both",
				 what);
			r = -EINVAL;
			goto out;
		}
		snprintf(at, sizeof(at), "%s.%s", what, a ? "onPremisesTagSetList" : "ec2TagSetList");
		r = !a && !b ? 0 : parse_set_list(a ? a : b, at, s, err, errlen);
	} else if (json_is_array(j)) {
		/* The first element tells a list of filters from a list of lists. */
		if (json_is_array(json_array_get(j, 0))) {
			r = parse_set_list(j, what, s, err, errlen);
		} else if (json_array_size(j) > 0) {
			s->groups = calloc(1, sizeof(*s->groups));
			r = s->groups ? parse_group(j, what, &s->groups[0], err, errlen) : -ENOMEM;
			if (r == 0)
				s->n = 1;
		} else {
			r = 0;
		}
	} else {
		snprintf(err, errlen, "%s: expected a list of tag filters or a tag set", what);
		r = -EINVAL;
	}
out:
	if (r == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", what);
	if (r < 0) {
		tagfilter_set_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int tagfilter_parse_text(const char *text, const char *what, struct tagfilter_set **ret, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;
	int r;

	j = json_loads(text ? text : "", JSON_DECODE_ANY, &jerr);
	if (!j) {
		snprintf(err, errlen, "%s: not JSON (%s at line %d column %d)", what ? what : "tag filters", jerr.text,
			 jerr.line, jerr.column);
		return -EINVAL;
	}
	r = tagfilter_parse(j, what, ret, err, errlen);
	json_decref(j);
	return r;
}

bool tagfilter_set_is_empty(const struct tagfilter_set *s)
{
	return !s || s->n == 0;
}

bool tagfilter_match_one(const struct tagfilter *f, const struct tagfilter_tag *tags, size_t n_tags)
{
	for (size_t i = 0; i < n_tags; i++) {
		const char *k = tags[i].key, *v = tags[i].value ? tags[i].value : "";
		if (!k)
			continue;
		switch (f->type) {
		case TAGFILTER_KEY_ONLY:
			if (f->key && strcmp(k, f->key) == 0)
				return true;
			break;
		case TAGFILTER_VALUE_ONLY:
			if (f->value && strcmp(v, f->value) == 0)
				return true;
			break;
		case TAGFILTER_KEY_AND_VALUE:
			if (f->key && f->value && strcmp(k, f->key) == 0 && strcmp(v, f->value) == 0)
				return true;
			break;
		}
	}
	return false;
}

bool tagfilter_match(const struct tagfilter_set *s, const struct tagfilter_tag *tags, size_t n_tags)
{
	if (tagfilter_set_is_empty(s))
		return false;
	for (size_t g = 0; g < s->n; g++) {
		bool any = false;
		for (size_t i = 0; i < s->groups[g].n && !any; i++)
			any = tagfilter_match_one(&s->groups[g].filters[i], tags, n_tags);
		if (!any)
			return false;
	}
	return true;
}

bool tagfilter_match_json(const struct tagfilter_set *s, const json_t *tags)
{
	struct tagfilter_tag small[32] = {{0}}, *v = small;
	size_t n = json_array_size(tags), k = 0;
	bool m;

	if (n > sizeof(small) / sizeof(small[0]) && !(v = calloc(n, sizeof(*v))))
		return false;
	for (size_t i = 0; i < n; i++) {
		const json_t *t = json_array_get(tags, i);
		const char *key = json_string_value(json_object_get(t, "Key"));
		if (!key)
			continue;
		v[k].key = key;
		v[k].value = json_string_value(json_object_get(t, "Value"));
		k++;
	}
	m = tagfilter_match(s, v, k);
	if (v != small)
		free(v);
	return m;
}

const char *tagfilter_problem(const struct tagfilter *f)
{
	switch (f->type) {
	case TAGFILTER_KEY_ONLY:
		return f->key ? NULL : "Type KEY_ONLY needs a non-empty Key";
	case TAGFILTER_VALUE_ONLY:
		return f->value ? NULL : "needs a Value (it is VALUE_ONLY, or names neither a Key nor a Value)";
	case TAGFILTER_KEY_AND_VALUE:
		return f->key ? NULL : "Type KEY_AND_VALUE needs a non-empty Key";
	}
	return "has an unknown Type";
}
