#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "duration.h"
#include "util.h"
#include "yamltree.h"

int yt_error(const struct yt_node *n, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int off = 0;

	if (!err || errlen == 0)
		return -EINVAL;
	if (n)
		off = snprintf(err, errlen, "%s:%u:%u: ", n->file ? n->file : "<input>", n->line, n->col);
	if (off < 0 || (size_t)off >= errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(err + off, errlen - off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int yt_check_keys(const struct yt_node *map, const char *prefix, const char *const *known, size_t n, char *err,
		  size_t errlen)
{
	char list[1024];
	size_t off = 0;

	for (size_t i = 0; i < map->n; i++) {
		bool ok = false;

		for (size_t k = 0; k < n && !ok; k++)
			ok = strcmp(map->keys[i]->value, known[k]) == 0;
		if (ok)
			continue;
		list[0] = '\0';
		for (size_t k = 0; k < n && off < sizeof(list); k++)
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", k ? ", " : "", known[k]);
		return yt_error(map->keys[i], err, errlen, "%sunknown setting '%s' (known: %s)", prefix,
				map->keys[i]->value, list);
	}
	return 0;
}

static void node_free(struct yt_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			node_free(n->keys[i]);
		if (n->items)
			node_free(n->items[i]);
	}
	free(n->keys);
	free(n->items);
	free(n->value);
	free(n->file_owned);
	free(n);
}

struct yt_node *yt_free(struct yt_node *root)
{
	node_free(root);
	return NULL;
}

struct parser {
	yaml_parser_t yp;
	const char *file;
	size_t nodes;
	char *err;
	size_t errlen;
};

static int perr(struct parser *p, size_t line, size_t col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int perr(struct parser *p, size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;
	int off = snprintf(p->err, p->errlen, "%s:%zu:%zu: ", p->file, line + 1, col + 1);
	if (off < 0 || (size_t)off >= p->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(p->err + off, p->errlen - off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static struct yt_node *node_new(struct parser *p, enum yt_type t, const yaml_event_t *ev)
{
	struct yt_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->type = t;
	n->line = ev->start_mark.line + 1;
	n->col = ev->start_mark.column + 1;
	n->file = p->file;
	p->nodes++;
	return n;
}

static int push(struct yt_node ***arr, size_t n, size_t *cap, struct yt_node *item)
{
	if (n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct yt_node **na = realloc(*arr, nc * sizeof(*na));
		if (!na)
			return -ENOMEM;
		*arr = na;
		*cap = nc;
	}
	(*arr)[n] = item;
	return 0;
}

static int next_event(struct parser *p, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&p->yp, ev))
		return perr(p, p->yp.problem_mark.line, p->yp.problem_mark.column, "YAML syntax error: %s%s%s",
			    p->yp.problem ? p->yp.problem : "unknown", p->yp.context ? " " : "",
			    p->yp.context ? p->yp.context : "");
	return 0;
}

static int parse_node(struct parser *p, yaml_event_t *ev, int depth, struct yt_node **ret);

static int parse_children(struct parser *p, struct yt_node *n, int depth)
{
	size_t cap_items = 0, cap_keys = 0;
	int r;

	for (;;) {
		yaml_event_t ev;
		struct yt_node *key = NULL, *val = NULL;

		if ((r = next_event(p, &ev)) < 0)
			return r;
		if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (n->type == YT_SEQ) {
			r = parse_node(p, &ev, depth + 1, &val);
			yaml_event_delete(&ev);
			if (r < 0)
				return r;
			if ((r = push(&n->items, n->n, &cap_items, val)) < 0) {
				node_free(val);
				return r;
			}
			n->n++;
			continue;
		}
		/* mapping: key then value */
		r = parse_node(p, &ev, depth + 1, &key);
		yaml_event_delete(&ev);
		if (r < 0)
			return r;
		if (key->type != YT_SCALAR) {
			r = perr(p, key->line - 1, key->col - 1, "mapping keys must be plain strings");
			node_free(key);
			return r;
		}
		for (size_t i = 0; i < n->n; i++)
			if (strcmp(n->keys[i]->value, key->value) == 0) {
				r = perr(p, key->line - 1, key->col - 1, "duplicate key '%s' (first at line %u)",
					 key->value, n->keys[i]->line);
				node_free(key);
				return r;
			}
		if ((r = next_event(p, &ev)) < 0) {
			node_free(key);
			return r;
		}
		r = parse_node(p, &ev, depth + 1, &val);
		yaml_event_delete(&ev);
		if (r < 0) {
			node_free(key);
			return r;
		}
		if (push(&n->keys, n->n, &cap_keys, key) < 0 || push(&n->items, n->n, &cap_items, val) < 0) {
			node_free(key);
			node_free(val);
			return -ENOMEM;
		}
		n->n++;
	}
}

static int parse_node(struct parser *p, yaml_event_t *ev, int depth, struct yt_node **ret)
{
	struct yt_node *n;
	int r;

	if (depth > YT_MAX_DEPTH)
		return perr(p, ev->start_mark.line, ev->start_mark.column, "nesting deeper than %d levels",
			    YT_MAX_DEPTH);
	if (p->nodes >= YT_MAX_NODES)
		return perr(p, ev->start_mark.line, ev->start_mark.column, "more than %d nodes", YT_MAX_NODES);

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return perr(p, ev->start_mark.line, ev->start_mark.column,
			    "aliases (*name) are not supported; repeat the value instead");
	case YAML_SCALAR_EVENT:
		n = node_new(p, YT_SCALAR, ev);
		if (!n)
			return -ENOMEM;
		n->value = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (!n->value) {
			node_free(n);
			return -ENOMEM;
		}
		if (strlen(n->value) != ev->data.scalar.length) {
			r = perr(p, ev->start_mark.line, ev->start_mark.column, "scalar contains a NUL byte");
			node_free(n);
			return r;
		}
		*ret = n;
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		n = node_new(p, ev->type == YAML_SEQUENCE_START_EVENT ? YT_SEQ : YT_MAP, ev);
		if (!n)
			return -ENOMEM;
		if ((r = parse_children(p, n, depth)) < 0) {
			node_free(n);
			return r;
		}
		*ret = n;
		return 0;
	default:
		return perr(p, ev->start_mark.line, ev->start_mark.column, "unexpected YAML event %d", ev->type);
	}
}

int yt_parse_buffer(const char *buf, size_t len, const char *name, struct yt_node **ret_root, char *err, size_t errlen)
{
	struct parser p = {.file = name ? name : "<input>", .err = err, .errlen = errlen};
	struct yt_node *root = NULL;
	char *fname = strdup(p.file);
	int r = 0, docs = 0;

	if (!fname)
		return -ENOMEM;
	p.file = fname;
	if (!yaml_parser_initialize(&p.yp)) {
		free(fname);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p.yp, (const unsigned char *)buf, len);

	for (;;) {
		yaml_event_t ev;
		if ((r = next_event(&p, &ev)) < 0)
			goto out;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT) {
			if (++docs > 1) {
				r = perr(&p, ev.start_mark.line, ev.start_mark.column,
					 "more than one YAML document; expected exactly one");
				yaml_event_delete(&ev);
				goto out;
			}
		} else if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT ||
			   ev.type == YAML_SCALAR_EVENT || ev.type == YAML_ALIAS_EVENT) {
			r = parse_node(&p, &ev, 0, &root);
			yaml_event_delete(&ev);
			if (r < 0)
				goto out;
			continue;
		}
		yaml_event_delete(&ev);
	}
	if (!root) {
		yaml_event_t fake = {0};
		root = node_new(&p, YT_MAP, &fake);
		if (!root) {
			r = -ENOMEM;
			goto out;
		}
	}
	root->file_owned = fname;
	fname = NULL;
	*ret_root = root;
	root = NULL;
out:
	yaml_parser_delete(&p.yp);
	node_free(root);
	free(fname);
	return r;
}

int yt_parse_file(const char *path, size_t max_bytes, struct yt_node **ret_root, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int r = rd_read_file(path, max_bytes, &buf, &len);
	if (r == -EFBIG) {
		snprintf(err, errlen, "%s: file is larger than %zu bytes", path, max_bytes);
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-r));
		return r;
	}
	r = yt_parse_buffer(buf, len, path, ret_root, err, errlen);
	free(buf);
	return r;
}

const struct yt_node *yt_map_get(const struct yt_node *map, const char *key)
{
	if (!map || map->type != YT_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->value, key) == 0)
			return map->items[i];
	return NULL;
}

bool yt_is_null(const struct yt_node *n)
{
	if (!n)
		return true;
	if (n->type != YT_SCALAR || !n->plain)
		return false;
	return n->value[0] == '\0' || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
	       strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

static const char *type_name(const struct yt_node *n)
{
	switch (n->type) {
	case YT_MAP:
		return "a mapping";
	case YT_SEQ:
		return "a list";
	default:
		return "a scalar";
	}
}

int yt_as_string(const struct yt_node *n, const char *what, const char **ret, char *err, size_t errlen)
{
	if (!n || n->type != YT_SCALAR)
		return yt_error(n, err, errlen, "%s: expected a string, found %s", what, n ? type_name(n) : "nothing");
	*ret = n->value;
	return 0;
}

int yt_as_int(const struct yt_node *n, const char *what, int64_t min, int64_t max, int64_t *ret, char *err,
	      size_t errlen)
{
	char *end;
	long long v;

	if (!n || n->type != YT_SCALAR)
		return yt_error(n, err, errlen, "%s: expected an integer, found %s", what,
				n ? type_name(n) : "nothing");
	errno = 0;
	v = strtoll(n->value, &end, 10);
	if (errno || end == n->value || *end)
		return yt_error(n, err, errlen, "%s: expected an integer, found '%s'", what, n->value);
	if (v < min || v > max)
		return yt_error(n, err, errlen, "%s: %lld is out of range [%" PRId64 ", %" PRId64 "]", what, v, min,
				max);
	*ret = v;
	return 0;
}

int yt_as_bool(const struct yt_node *n, const char *what, bool *ret, char *err, size_t errlen)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};

	if (n && n->type == YT_SCALAR)
		for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
			if (strcmp(n->value, yes[i]) == 0) {
				*ret = true;
				return 0;
			}
			if (strcmp(n->value, no[i]) == 0) {
				*ret = false;
				return 0;
			}
		}
	return yt_error(n, err, errlen, "%s: expected true or false, found '%s'", what,
			n && n->type == YT_SCALAR ? n->value : (n ? type_name(n) : "nothing"));
}

int yt_as_duration_ms(const struct yt_node *n, const char *what, int64_t min_ms, int64_t max_ms, int64_t *ret,
		      char *err, size_t errlen)
{
	int64_t ms;
	int r;

	if (!n || n->type != YT_SCALAR)
		return yt_error(n, err, errlen, "%s: expected a duration like 30s, found %s", what,
				n ? type_name(n) : "nothing");
	r = rd_duration_parse_ms(n->value, max_ms, &ms);
	if (r == -EINVAL)
		return yt_error(n, err, errlen, "%s: expected a duration like 250ms, 30s, 5m, 2h or 90d, found '%s'",
				what, n->value);
	if (r < 0 || ms < min_ms)
		return yt_error(n, err, errlen, "%s: '%s' is out of range [%" PRId64 "ms, %" PRId64 "ms]", what,
				n->value, min_ms, max_ms);
	*ret = ms;
	return 0;
}

json_t *yt_to_json(const struct yt_node *n)
{
	json_t *j;

	if (!n)
		return json_null();
	switch (n->type) {
	case YT_SCALAR:
		return yt_is_null(n) ? json_null() : json_string(n->value);
	case YT_SEQ:
		j = json_array();
		for (size_t i = 0; j && i < n->n; i++)
			json_array_append_new(j, yt_to_json(n->items[i]));
		return j;
	case YT_MAP:
		j = json_object();
		for (size_t i = 0; j && i < n->n; i++)
			json_object_set_new(j, n->keys[i]->value, yt_to_json(n->items[i]));
		return j;
	}
	return NULL;
}
