#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appspec.h"
#include "util.h"
#include "yamltree.h"

static const char *const host_events[] = {
    "ApplicationStop",	  "BeforeInstall",     "AfterInstall",	     "ApplicationStart",  "ValidateService",
    "BeforeBlockTraffic", "AfterBlockTraffic", "BeforeAllowTraffic", "AfterAllowTraffic",
};

bool appspec_is_host_event(const char *event)
{
	for (size_t i = 0; i < RD_ARRAY_SIZE(host_events); i++)
		if (strcmp(event, host_events[i]) == 0)
			return true;
	return false;
}

const char *appspec_feb_name(enum appspec_feb feb)
{
	switch (feb) {
	case APPSPEC_FEB_DISALLOW:
		return "DISALLOW";
	case APPSPEC_FEB_OVERWRITE:
		return "OVERWRITE";
	case APPSPEC_FEB_RETAIN:
		return "RETAIN";
	default:
		return NULL;
	}
}

enum appspec_feb appspec_feb_parse(const char *s, bool upcase)
{
	static const char *const names[] = {"DISALLOW", "OVERWRITE", "RETAIN"};
	if (!s)
		return APPSPEC_FEB_UNSET;
	for (size_t i = 0; i < RD_ARRAY_SIZE(names); i++)
		if (upcase ? strcasecmp(s, names[i]) == 0 : strcmp(s, names[i]) == 0)
			return (enum appspec_feb)(i + 1);
	return APPSPEC_FEB_UNSET;
}

bool appspec_glob_match(const char *pat, const char *s)
{
	/* iterative '*' matcher; '*' never crosses '/' */
	const char *star = NULL, *ss = NULL;
	while (*s) {
		if (*pat == '*') {
			star = pat++;
			ss = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star && *ss != '/') {
			pat = star + 1;
			s = ++ss;
		} else
			return false;
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

static void script_clear(struct appspec_script *s)
{
	free(s->location);
	free(s->runas);
}

struct appspec *appspec_free(struct appspec *spec)
{
	if (!spec)
		return NULL;
	for (size_t i = 0; i < spec->n_files; i++) {
		free(spec->files[i].source);
		free(spec->files[i].destination);
	}
	free(spec->files);
	for (size_t i = 0; i < spec->n_permissions; i++) {
		struct appspec_permission *p = &spec->permissions[i];
		free(p->object);
		free(p->pattern);
		for (size_t j = 0; j < p->n_except; j++)
			free(p->except[j]);
		free(p->except);
		free(p->owner);
		free(p->group);
	}
	free(spec->permissions);
	for (size_t i = 0; i < spec->n_hooks; i++) {
		for (size_t j = 0; j < spec->hooks[i].n_scripts; j++)
			script_clear(&spec->hooks[i].scripts[j]);
		free(spec->hooks[i].scripts);
		free(spec->hooks[i].event);
	}
	free(spec->hooks);
	free(spec);
	return NULL;
}

const struct appspec_hook *appspec_hook(const struct appspec *spec, const char *event)
{
	if (!spec)
		return NULL;
	for (size_t i = 0; i < spec->n_hooks; i++)
		if (strcmp(spec->hooks[i].event, event) == 0)
			return spec->hooks[i].n_scripts ? &spec->hooks[i] : NULL;
	return NULL;
}

int appspec_check_events(const struct appspec *spec, const char *const *allowed, size_t n_allowed, char *err,
			 size_t errlen)
{
	for (size_t i = 0; i < spec->n_hooks; i++) {
		bool ok = false;
		for (size_t j = 0; j < n_allowed && !ok; j++)
			ok = strcmp(spec->hooks[i].event, allowed[j]) == 0;
		if (!ok) {
			snprintf(err, errlen,
				 "hooks: '%s' is not a lifecycle event of this deployment; remove it from the appspec "
				 "or fix its spelling",
				 spec->hooks[i].event);
			return -EINVAL;
		}
	}
	return 0;
}

/* Required scalar string (non-empty after trimming). */
static int get_str(const struct yt_node *map, const char *key, const char *ctx, bool required, char **ret, char *err,
		   size_t errlen)
{
	const struct yt_node *n = yt_map_get(map, key);
	const char *s, *e;
	char *v;

	if (!n || yt_is_null(n)) {
		if (required)
			return yt_error(map, err, errlen, "%s: '%s' is missing; add '%s: <value>'", ctx, key, key);
		*ret = NULL;
		return 0;
	}
	if (n->type != YT_SCALAR)
		return yt_error(n, err, errlen, "%s.%s: expected a string, found a %s", ctx, key,
				n->type == YT_MAP ? "mapping" : "list");
	s = n->value;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	if (e == s) {
		if (required)
			return yt_error(n, err, errlen, "%s.%s: must not be empty", ctx, key);
		*ret = NULL;
		return 0;
	}
	v = strndup(s, (size_t)(e - s));
	if (!v)
		return -ENOMEM;
	*ret = v;
	return 0;
}

static int parse_version(const struct yt_node *root, char *err, size_t errlen)
{
	const struct yt_node *n = yt_map_get(root, "version");
	char *end;
	double v;

	if (!n)
		return yt_error(root, err, errlen, "version: missing; the first line of an appspec is 'version: 0.0'");
	if (n->type != YT_SCALAR || !n->plain)
		return yt_error(n, err, errlen,
				"version: must be the number 0.0 (unquoted), found %s; write 'version: 0.0'",
				n->type == YT_SCALAR ? "a quoted string" : "a collection");
	errno = 0;
	v = strtod(n->value, &end);
	if (errno || end == n->value || *end || v != 0.0 || strpbrk(n->value, "xXeEnN"))
		return yt_error(n, err, errlen, "version: '%s' is not supported; the only appspec version is 0.0",
				n->value);
	return 0;
}

static int parse_timeout(const struct yt_node *n, const char *ctx, unsigned *ret, char *err, size_t errlen)
{
	char *end;
	double v;

	if (!n || yt_is_null(n)) {
		*ret = APPSPEC_DEFAULT_TIMEOUT;
		return 0;
	}
	if (n->type != YT_SCALAR)
		return yt_error(n, err, errlen, "%s.timeout: expected a number of seconds", ctx);
	errno = 0;
	v = strtod(n->value, &end);
	if (errno || end == n->value || *end || !isfinite(v) || strpbrk(n->value, "xXnN"))
		return yt_error(n, err, errlen,
				"%s.timeout: '%s' is not a number of seconds; write e.g. 'timeout: 300'", ctx,
				n->value);
	if (v < 1 || v > 4294967295.0)
		return yt_error(n, err, errlen, "%s.timeout: %s must be at least 1 second", ctx, n->value);
	*ret = (unsigned)v; /* truncated like the official agent (5.7 -> 5) */
	return 0;
}

static int parse_script(const struct yt_node *n, const char *ctx, struct appspec_script *s, char *err, size_t errlen)
{
	const struct yt_node *sudo;
	char *loc = NULL;
	int r;

	s->line = n->line;
	if (n->type != YT_MAP)
		return yt_error(n, err, errlen,
				"%s: expected a mapping with 'location' (and optionally timeout, runas)", ctx);
	if ((r = get_str(n, "location", ctx, true, &loc, err, errlen)) < 0)
		return r;
	r = appspec_norm_relpath(loc, &s->location);
	if (r == -EINVAL) {
		r = yt_error(yt_map_get(n, "location"), err, errlen,
			     "%s.location: '%s' leaves the bundle ('..'); scripts must be files inside the revision",
			     ctx, loc);
		goto out;
	}
	if (r < 0)
		goto out;
	if (!s->location[0]) {
		r = yt_error(yt_map_get(n, "location"), err, errlen,
			     "%s.location: '%s' names the bundle root, not a script", ctx, loc);
		goto out;
	}
	if ((r = parse_timeout(yt_map_get(n, "timeout"), ctx, &s->timeout, err, errlen)) < 0)
		goto out;
	if ((r = get_str(n, "runas", ctx, false, &s->runas, err, errlen)) < 0)
		goto out;
	sudo = yt_map_get(n, "sudo");
	if (sudo && !yt_is_null(sudo)) {
		char ctx2[200];
		snprintf(ctx2, sizeof(ctx2), "%s.sudo", ctx);
		if ((r = yt_as_bool(sudo, ctx2, &s->sudo, err, errlen)) < 0)
			goto out;
	}
	r = 0;
out:
	free(loc);
	return r;
}

static int parse_hooks(const struct yt_node *hooks, struct appspec *spec, char *err, size_t errlen)
{
	if (yt_is_null(hooks))
		return 0;
	if (hooks->type != YT_MAP)
		return yt_error(hooks, err, errlen,
				"hooks: expected a mapping of lifecycle event name to a list of scripts");
	spec->hooks = calloc(hooks->n ? hooks->n : 1, sizeof(*spec->hooks));
	if (!spec->hooks)
		return -ENOMEM;
	for (size_t i = 0; i < hooks->n; i++) {
		const struct yt_node *list = hooks->items[i];
		struct appspec_hook *h = &spec->hooks[spec->n_hooks];
		int r;

		if (yt_is_null(list))
			continue; /* official: a null event is ignored */
		h->event = strdup(hooks->keys[i]->value);
		if (!h->event)
			return -ENOMEM;
		spec->n_hooks++;
		if (list->type != YT_SEQ)
			return yt_error(list, err, errlen,
					"hooks.%s: expected a list of scripts ('- location: scripts/x.sh'), found %s",
					h->event, list->type == YT_MAP ? "a mapping" : "a scalar");
		h->scripts = calloc(list->n ? list->n : 1, sizeof(*h->scripts));
		if (!h->scripts)
			return -ENOMEM;
		for (size_t j = 0; j < list->n; j++) {
			char ctx[160];
			snprintf(ctx, sizeof(ctx), "hooks.%s[%zu]", h->event, j);
			r = parse_script(list->items[j], ctx, &h->scripts[j], err, errlen);
			h->n_scripts = j + 1;
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int parse_files(const struct yt_node *files, struct appspec *spec, char *err, size_t errlen)
{
	if (yt_is_null(files))
		return 0;
	if (files->type != YT_SEQ)
		return yt_error(files, err, errlen, "files: expected a list of '- source: … destination: …' entries");
	spec->files = calloc(files->n ? files->n : 1, sizeof(*spec->files));
	if (!spec->files)
		return -ENOMEM;
	for (size_t i = 0; i < files->n; i++) {
		const struct yt_node *f = files->items[i];
		struct appspec_file *af = &spec->files[i];
		char ctx[64], *src = NULL, *dst = NULL;
		int r;

		snprintf(ctx, sizeof(ctx), "files[%zu]", i);
		spec->n_files = i + 1;
		if (f->type != YT_MAP)
			return yt_error(f, err, errlen, "%s: expected a mapping with 'source' and 'destination'", ctx);
		if ((r = get_str(f, "source", ctx, true, &src, err, errlen)) < 0)
			return r;
		if ((r = get_str(f, "destination", ctx, true, &dst, err, errlen)) < 0)
			goto next;
		r = appspec_norm_relpath(src, &af->source);
		if (r == -EINVAL) {
			r = yt_error(yt_map_get(f, "source"), err, errlen,
				     "%s.source: '%s' leaves the bundle ('..'); sources are paths inside the revision "
				     "('/' is the whole revision)",
				     ctx, src);
			goto next;
		}
		if (r < 0)
			goto next;
		if (dst[0] != '/') {
			r = yt_error(yt_map_get(f, "destination"), err, errlen,
				     "%s.destination: '%s' is not an absolute path; write e.g. '/var/www/app'", ctx,
				     dst);
			goto next;
		}
		r = appspec_norm_abspath(dst, &af->destination);
	next:
		free(src);
		free(dst);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_mode(const struct yt_node *n, const char *ctx, int *ret, char *err, size_t errlen)
{
	size_t len;
	int v = 0;

	if (!n || yt_is_null(n)) {
		*ret = -1;
		return 0;
	}
	if (n->type != YT_SCALAR)
		return yt_error(n, err, errlen, "%s.mode: expected octal digits like 644", ctx);
	len = strlen(n->value);
	if (len < 1 || len > 4)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		if (n->value[i] < '0' || n->value[i] > '7')
			goto bad;
		v = v * 8 + (n->value[i] - '0');
	}
	*ret = v;
	return 0;
bad:
	return yt_error(n, err, errlen, "%s.mode: '%s' is not a mode of 1 to 4 octal digits; write e.g. 'mode: 644'",
			ctx, n->value);
}

static int str_list(const struct yt_node *n, const char *what, char ***ret, size_t *ret_n, char *err, size_t errlen)
{
	char **v;

	if (!n || yt_is_null(n))
		return 0;
	if (n->type == YT_SCALAR) {
		/* a single string is accepted as a one-element list */
		v = calloc(1, sizeof(*v));
		if (!v || !(v[0] = strdup(n->value))) {
			free(v);
			return -ENOMEM;
		}
		*ret = v;
		*ret_n = 1;
		return 0;
	}
	if (n->type != YT_SEQ)
		return yt_error(n, err, errlen, "%s: expected a list of strings", what);
	v = calloc(n->n ? n->n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	*ret = v;
	for (size_t i = 0; i < n->n; i++) {
		if (n->items[i]->type != YT_SCALAR)
			return yt_error(n->items[i], err, errlen, "%s[%zu]: expected a string", what, i);
		v[i] = strdup(n->items[i]->value);
		*ret_n = i + 1;
		if (!v[i])
			return -ENOMEM;
	}
	return 0;
}

static int parse_permission(const struct yt_node *n, const char *ctx, struct appspec_permission *p, char *err,
			    size_t errlen)
{
	const struct yt_node *t;
	char *obj = NULL;
	char what[96];
	int r;

	p->mode = -1;
	p->line = n->line;
	if (n->type != YT_MAP)
		return yt_error(n, err, errlen, "%s: expected a mapping with 'object' and owner/group/mode", ctx);
	if ((r = get_str(n, "object", ctx, true, &obj, err, errlen)) < 0)
		return r;
	if (obj[0] != '/') {
		r = yt_error(yt_map_get(n, "object"), err, errlen,
			     "%s.object: '%s' is not an absolute path; name an installed file or directory", ctx, obj);
		free(obj);
		return r;
	}
	r = appspec_norm_abspath(obj, &p->object);
	free(obj);
	if (r < 0)
		return r;
	if ((r = get_str(n, "pattern", ctx, false, &p->pattern, err, errlen)) < 0)
		return r;
	if (!p->pattern && !(p->pattern = strdup("**")))
		return -ENOMEM;
	snprintf(what, sizeof(what), "%s.except", ctx);
	if ((r = str_list(yt_map_get(n, "except"), what, &p->except, &p->n_except, err, errlen)) < 0)
		return r;
	if ((r = get_str(n, "owner", ctx, false, &p->owner, err, errlen)) < 0)
		return r;
	if ((r = get_str(n, "group", ctx, false, &p->group, err, errlen)) < 0)
		return r;
	if ((r = parse_mode(yt_map_get(n, "mode"), ctx, &p->mode, err, errlen)) < 0)
		return r;
	t = yt_map_get(n, "type");
	if (t && !yt_is_null(t)) {
		char **types = NULL;
		size_t nt = 0;
		snprintf(what, sizeof(what), "%s.type", ctx);
		r = str_list(t, what, &types, &nt, err, errlen);
		for (size_t i = 0; r == 0 && i < nt; i++) {
			if (strcmp(types[i], "file") == 0)
				p->types |= APPSPEC_TYPE_FILE;
			else if (strcmp(types[i], "directory") == 0)
				p->types |= APPSPEC_TYPE_DIRECTORY;
			else
				r = yt_error(t, err, errlen, "%s.type: '%s' is not a type; use file and/or directory",
					     ctx, types[i]);
		}
		for (size_t i = 0; i < nt; i++)
			free(types[i]);
		free(types);
		if (r < 0)
			return r;
	}
	if (!p->types)
		p->types = APPSPEC_TYPE_FILE | APPSPEC_TYPE_DIRECTORY;
	if ((t = yt_map_get(n, "acls")) && !yt_is_null(t))
		return yt_error(t, err, errlen,
				"%s.acls: ACLs are not supported by rollout-agent; set owner, group and mode instead, "
				"or apply ACLs in an AfterInstall hook",
				ctx);
	if ((t = yt_map_get(n, "context")) && !yt_is_null(t))
		return yt_error(t, err, errlen,
				"%s.context: SELinux contexts are not supported by rollout-agent; apply them in an "
				"AfterInstall hook (semanage/restorecon)",
				ctx);
	return 0;
}

static int parse_permissions(const struct yt_node *perms, struct appspec *spec, char *err, size_t errlen)
{
	if (yt_is_null(perms))
		return 0;
	if (perms->type != YT_SEQ)
		return yt_error(perms, err, errlen, "permissions: expected a list of '- object: …' entries");
	spec->permissions = calloc(perms->n ? perms->n : 1, sizeof(*spec->permissions));
	if (!spec->permissions)
		return -ENOMEM;
	for (size_t i = 0; i < perms->n; i++) {
		char ctx[64];
		int r;
		snprintf(ctx, sizeof(ctx), "permissions[%zu]", i);
		spec->n_permissions = i + 1;
		if ((r = parse_permission(perms->items[i], ctx, &spec->permissions[i], err, errlen)) < 0)
			return r;
	}
	return 0;
}

int appspec_parse(const char *text, size_t len, const char *name, struct appspec **ret, char *err, size_t errlen)
{
	struct yt_node *root = NULL;
	struct appspec *spec = NULL;
	const struct yt_node *n;
	bool blank = true;
	int r;

	if (!name)
		name = "appspec.yml";
	if (len > APPSPEC_MAX_BYTES) {
		snprintf(err, errlen, "%s: the appspec is larger than %d bytes", name, APPSPEC_MAX_BYTES);
		return -EINVAL;
	}
	for (size_t i = 0; i < len && blank; i++)
		blank = isspace((unsigned char)text[i]);
	if (blank) {
		snprintf(err, errlen, "%s: the appspec is empty; it needs at least 'version: 0.0' and 'os: linux'",
			 name);
		return -EINVAL;
	}
	if ((r = yt_parse_buffer(text, len, name, &root, err, errlen)) < 0)
		return r;
	if (root->type != YT_MAP) {
		r = yt_error(root, err, errlen, "the appspec must be a mapping with version, os, files, hooks, …");
		goto out;
	}
	spec = calloc(1, sizeof(*spec));
	if (!spec) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = parse_version(root, err, errlen)) < 0)
		goto out;
	n = yt_map_get(root, "os");
	if (!n || yt_is_null(n)) {
		r = yt_error(root, err, errlen, "os: missing; add 'os: linux'");
		goto out;
	}
	if (n->type != YT_SCALAR || strcmp(n->value, "linux") != 0) {
		if (n->type == YT_SCALAR && strcmp(n->value, "windows") == 0)
			r = yt_error(n, err, errlen,
				     "os: windows appspecs cannot run on rollout-agent (Linux only); use 'os: linux'");
		else
			r = yt_error(n, err, errlen, "os: '%s' is not supported; write 'os: linux' (lower case)",
				     n->type == YT_SCALAR ? n->value : "(not a string)");
		goto out;
	}
	n = yt_map_get(root, "file_exists_behavior");
	if (n && !yt_is_null(n)) {
		if (n->type != YT_SCALAR ||
		    (spec->file_exists_behavior = appspec_feb_parse(n->value, false)) == APPSPEC_FEB_UNSET) {
			r = yt_error(
			    n, err, errlen,
			    "file_exists_behavior: '%s' is not valid; use DISALLOW, OVERWRITE or RETAIN (upper "
			    "case)",
			    n->type == YT_SCALAR ? n->value : "(not a string)");
			goto out;
		}
	}
	if ((r = parse_files(yt_map_get(root, "files"), spec, err, errlen)) < 0)
		goto out;
	if ((r = parse_permissions(yt_map_get(root, "permissions"), spec, err, errlen)) < 0)
		goto out;
	if ((r = parse_hooks(yt_map_get(root, "hooks"), spec, err, errlen)) < 0)
		goto out;
	*ret = spec;
	spec = NULL;
	r = 0;
out:
	appspec_free(spec);
	yt_free(root);
	return r;
}
