#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awscreds.h"
#include "core/conf.h"
#include "core/plugin_host.h"
#include "httpclient.h"
#include "log.h"
#include "util.h"
#include "yamltree.h"

/* A wrong pointer from a plugin is logged and refused, never dereferenced further. */
static bool handle_ok(struct rollout_handle *h, const char *fn)
{
	if (h && h->magic == HOST_HANDLE_MAGIC)
		return true;
	rd_logt(LOG_ERR, "plugin-host",
		"%s() called with an invalid plugin handle %p (plugin bug: stale or foreign "
		"pointer)",
		fn, (void *)h);
	return false;
}

static bool resp_ok(const struct rollout_http_response *r, const char *fn)
{
	const struct http_response *resp = (const struct http_response *)r;

	if (resp && resp->magic == HTTP_RESPONSE_MAGIC)
		return true;
	rd_logt(LOG_ERR, "plugin-host",
		"%s() called with an invalid HTTP response %p (plugin bug: freed or foreign "
		"pointer)",
		fn, (const void *)r);
	return false;
}

/* ---- logging ---- */

static void host_logv(struct rollout_handle *h, int level, const char *fmt, va_list ap)
{
	if (!handle_ok(h, "log"))
		return;
	if (level < LOG_EMERG || level > LOG_DEBUG)
		level = LOG_ERR;
	if (level > rd_log_level())
		return;
	rd_logv(level, h->name, fmt, ap);
}

static void host_log(struct rollout_handle *h, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	host_logv(h, level, fmt, ap);
	va_end(ap);
}

static bool host_log_enabled(struct rollout_handle *h, int level)
{
	return handle_ok(h, "log_enabled") && level <= rd_log_level();
}

/* ---- configuration ---- */

static int keep_string(struct rollout_handle *h, char *s, const char **ret)
{
	char **nv;

	pthread_mutex_lock(&h->lock);
	nv = realloc(h->owned, (h->n_owned + 1) * sizeof(*nv));
	if (nv) {
		h->owned = nv;
		h->owned[h->n_owned++] = s;
	}
	pthread_mutex_unlock(&h->lock);
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

static const struct yt_node *where(const struct rollout_handle *h)
{
	return h->settings ? h->settings : h->settings_key;
}

static int store_value(struct rollout_handle *h, const struct rollout_option *o, const struct yt_node *n, void *dst,
		       char *err, size_t errlen)
{
	char what[256];
	void *p = o->offset == ROLLOUT_OPT_NOSTORE ? NULL : (char *)dst + o->offset;
	bool bounded = o->min != 0 || o->max != 0;
	const char *s;
	int64_t v;
	bool b;
	int r;

	snprintf(what, sizeof(what), "plugins.%s.%s", h->name, o->name);
	switch (o->type) {
	case ROLLOUT_OPT_STRING:
		if ((r = yt_as_string(n, what, &s, err, errlen)) < 0)
			return r;
		if (p)
			*(const char **)p = s;
		return 0;
	case ROLLOUT_OPT_INT:
		if ((r = yt_as_int(n, what, bounded ? o->min : INT64_MIN, bounded ? o->max : INT64_MAX, &v, err,
				   errlen)) < 0)
			return r;
		if (p)
			*(int64_t *)p = v;
		return 0;
	case ROLLOUT_OPT_BOOL:
		if ((r = yt_as_bool(n, what, &b, err, errlen)) < 0)
			return r;
		if (p)
			*(bool *)p = b;
		return 0;
	case ROLLOUT_OPT_DURATION:
		if ((r = yt_as_duration_ms(n, what, bounded ? o->min : 0, bounded ? o->max : INT64_MAX, &v, err,
					   errlen)) < 0)
			return r;
		if (p)
			*(int64_t *)p = v;
		return 0;
	case ROLLOUT_OPT_PATH: {
		char *abs;
		if ((r = yt_as_string(n, what, &s, err, errlen)) < 0)
			return r;
		if (!*s)
			return yt_error(n, err, errlen, "%s: expected a path, found an empty string", what);
		if (s[0] == '/' || !n->file || !strrchr(n->file, '/'))
			abs = strdup(s);
		else if (asprintf(&abs, "%.*s/%s", (int)(strrchr(n->file, '/') - n->file), n->file, s) < 0)
			abs = NULL;
		if (!abs)
			return -ENOMEM;
		if (!p) {
			free(abs);
			return 0;
		}
		return keep_string(h, abs, (const char **)p);
	}
	case ROLLOUT_OPT_JSON: {
		json_t *j = yt_to_json(n);
		char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		json_decref(j);
		if (!text)
			return -ENOMEM;
		if (!p) {
			free(text);
			return 0;
		}
		return keep_string(h, text, (const char **)p);
	}
	default:
		return yt_error(n, err, errlen, "%s: the plugin declares an unknown option type %d (plugin bug)", what,
				(int)o->type);
	}
}

#define OPT_AT(opts, size, i) ((const struct rollout_option *)((const char *)(opts) + (i) * (size)))

static int host_config_parse(struct rollout_handle *h, const struct rollout_option *opts, size_t opt_size, void *dst,
			     char *err, size_t errlen)
{
	const struct yt_node *s;
	size_t nopts = 0;
	int r;

	if (!handle_ok(h, "config_parse"))
		return -EINVAL;
	if (!opts || opt_size < offsetof(struct rollout_option, help) + sizeof(opts->help)) {
		snprintf(err, errlen, "plugins.%s: config_parse called with a bad option table (plugin bug)", h->name);
		return -EINVAL;
	}
	while (OPT_AT(opts, opt_size, nopts)->name)
		nopts++;
	s = h->settings;
	if (s && s->type != YT_MAP)
		return yt_error(s, err, errlen, "plugins.%s: expected a mapping of settings", h->name);
	for (size_t i = 0; s && i < s->n; i++) {
		bool known = false;
		for (size_t k = 0; k < nopts && !known; k++)
			known = strcmp(OPT_AT(opts, opt_size, k)->name, s->keys[i]->value) == 0;
		if (!known) {
			char list[512] = "";
			size_t len = 0;
			for (size_t k = 0; k < nopts && len < sizeof(list); k++)
				len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", k ? ", " : "",
							OPT_AT(opts, opt_size, k)->name);
			return yt_error(s->keys[i], err, errlen, "plugins.%s: unknown setting '%s' (known: %s)",
					h->name, s->keys[i]->value, nopts ? list : "none");
		}
	}
	for (size_t k = 0; k < nopts; k++) {
		const struct rollout_option *o = OPT_AT(opts, opt_size, k);
		const struct yt_node *n = yt_map_get(s, o->name);

		if (n && yt_is_null(n) && o->type != ROLLOUT_OPT_JSON)
			n = NULL;
		if (!n) {
			if (o->required)
				return yt_error(where(h), err, errlen, "plugins.%s: missing required setting '%s'%s%s",
						h->name, o->name, o->help ? ": " : "", o->help ? o->help : "");
			if (!o->def)
				continue;
			const struct yt_node *at = where(h);
			struct yt_node fake = {
			    .type = YT_SCALAR,
			    .value = (char *)o->def,
			    .plain = true,
			    .line = at ? at->line : 0,
			    .col = at ? at->col : 0,
			    .file = at ? at->file : "(default)",
			};
			r = store_value(h, o, &fake, dst, err, errlen);
			if (r < 0)
				return r;
			continue;
		}
		r = store_value(h, o, n, dst, err, errlen);
		if (r < 0) {
			if (o->help && r == -EINVAL) {
				size_t len = strlen(err);
				snprintf(err + len, errlen > len ? errlen - len : 0, " (%s)", o->help);
			}
			return r;
		}
	}
	h->parsed = true;
	return 0;
}

static void mark_read(struct rollout_handle *h, const char *key)
{
	const struct yt_node *s = h->settings;

	for (size_t i = 0; s && s->type == YT_MAP && i < s->n; i++) {
		if (strcmp(s->keys[i]->value, key) != 0)
			continue;
		pthread_mutex_lock(&h->lock);
		bool seen = false;
		for (size_t k = 0; k < h->n_read && !seen; k++)
			seen = h->read[k] == s->keys[i];
		if (!seen) {
			const struct yt_node **nv = realloc(h->read, (h->n_read + 1) * sizeof(*nv));
			if (nv) {
				h->read = nv;
				h->read[h->n_read++] = s->keys[i];
			}
		}
		pthread_mutex_unlock(&h->lock);
	}
}

static const struct yt_node *get_key(struct rollout_handle *h, const char *key)
{
	const struct yt_node *n = yt_map_get(h->settings, key);

	mark_read(h, key);
	return n && !yt_is_null(n) ? n : NULL;
}

int host_check_settings_used(struct rollout_handle *h, char *err, size_t errlen)
{
	const struct yt_node *s = h->settings;

	if (h->parsed || !s || s->type != YT_MAP)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		bool seen = false;
		for (size_t k = 0; k < h->n_read && !seen; k++)
			seen = h->read[k] == s->keys[i];
		if (!seen)
			return yt_error(s->keys[i], err, errlen,
					"plugins.%s: unknown setting '%s' (the plugin does not "
					"read it)",
					h->name, s->keys[i]->value);
	}
	return 0;
}

static int host_config_string(struct rollout_handle *h, const char *key, const char *def, const char **ret, char *err,
			      size_t errlen)
{
	const struct yt_node *n;
	char what[256];

	if (!handle_ok(h, "config_string"))
		return -EINVAL;
	if (!(n = get_key(h, key))) {
		*ret = def;
		return 0;
	}
	snprintf(what, sizeof(what), "plugins.%s.%s", h->name, key);
	return yt_as_string(n, what, ret, err, errlen);
}

static int host_config_int(struct rollout_handle *h, const char *key, int64_t def, int64_t min, int64_t max,
			   int64_t *ret, char *err, size_t errlen)
{
	const struct yt_node *n;
	char what[256];

	if (!handle_ok(h, "config_int"))
		return -EINVAL;
	if (!(n = get_key(h, key))) {
		*ret = def;
		return 0;
	}
	snprintf(what, sizeof(what), "plugins.%s.%s", h->name, key);
	return yt_as_int(n, what, min, max, ret, err, errlen);
}

static int host_config_bool(struct rollout_handle *h, const char *key, bool def, bool *ret, char *err, size_t errlen)
{
	const struct yt_node *n;
	char what[256];

	if (!handle_ok(h, "config_bool"))
		return -EINVAL;
	if (!(n = get_key(h, key))) {
		*ret = def;
		return 0;
	}
	snprintf(what, sizeof(what), "plugins.%s.%s", h->name, key);
	return yt_as_bool(n, what, ret, err, errlen);
}

static int host_config_duration_ms(struct rollout_handle *h, const char *key, int64_t def, int64_t min, int64_t max,
				   int64_t *ret, char *err, size_t errlen)
{
	const struct yt_node *n;
	char what[256];

	if (!handle_ok(h, "config_duration_ms"))
		return -EINVAL;
	if (!(n = get_key(h, key))) {
		*ret = def;
		return 0;
	}
	snprintf(what, sizeof(what), "plugins.%s.%s", h->name, key);
	return yt_as_duration_ms(n, what, min, max, ret, err, errlen);
}

static const char *host_config_json(struct rollout_handle *h)
{
	const char *out;

	if (!handle_ok(h, "config_json"))
		return NULL;
	pthread_mutex_lock(&h->lock);
	h->parsed = true; /* the plugin took the whole subtree: its keys are its business */
	if (!h->settings_json) {
		json_t *j = h->settings ? yt_to_json(h->settings) : json_object();
		h->settings_json = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
		json_decref(j);
	}
	out = h->settings_json;
	pthread_mutex_unlock(&h->lock);
	return out;
}

/* ---- clock ---- */

static int64_t host_wall_ms(void)
{
	return rd_wall_ms();
}

static int64_t host_mono_ms(void)
{
	return rd_mono_ms();
}

/* ---- HTTP ---- */

static const char *scalar(struct rollout_handle *h, const char *key)
{
	const struct yt_node *n = get_key(h, key);

	return n && n->type == YT_SCALAR ? n->value : NULL;
}

static int host_http_request(struct rollout_handle *h, const struct rollout_http_request *req,
			     struct rollout_http_response **ret, char *err, size_t errlen)
{
	struct aws_credentials *creds = NULL;
	struct http_response *resp = NULL;
	struct http_request hr = {0};
	int r;

	if (!handle_ok(h, "http_request"))
		return -EINVAL;
	if (!req || req->size < offsetof(struct rollout_http_request, follow_redirects) + sizeof(bool)) {
		snprintf(err, errlen,
			 "http_request: request struct too small (initialise it with "
			 "ROLLOUT_HTTP_REQUEST_INIT)");
		return -EINVAL;
	}
	hr.method = req->method;
	hr.url = req->url;
	hr.headers = req->headers;
	hr.body = req->body;
	hr.body_len = req->body_len;
	hr.timeout_ms = req->timeout_ms;
	hr.output_path = req->output_path;
	hr.max_body = req->max_body;
	hr.follow_redirects = req->follow_redirects;
	if (req->aws_service) {
		struct aws_cred_options o = {
		    .access_key_id = scalar(h, "access_key_id"),
		    .secret_access_key = scalar(h, "secret_access_key"),
		    .session_token = scalar(h, "session_token"),
		    .profile = scalar(h, "profile"),
		    .credentials_file = scalar(h, "credentials_file"),
		};
		char cerr[512];
		r = aws_credentials_resolve(&o, &creds, cerr, sizeof(cerr));
		if (r < 0) {
			snprintf(err, errlen, "plugins.%s: %s", h->name, cerr);
			return r;
		}
		hr.aws_service = req->aws_service;
		hr.aws_region = req->aws_region ? req->aws_region : scalar(h, "region");
		if (!hr.aws_region)
			hr.aws_region = h->shared->cfg ? h->shared->cfg->region : "us-east-1";
		hr.aws_creds = creds;
	}
	r = http_perform(&hr, &resp, err, errlen);
	aws_credentials_free(creds);
	if (r < 0)
		return r;
	*ret = (struct rollout_http_response *)resp;
	return 0;
}

static long host_http_status(const struct rollout_http_response *r)
{
	return resp_ok(r, "http_status") ? ((const struct http_response *)r)->status : -1;
}

static const char *host_http_body(const struct rollout_http_response *r, size_t *ret_len)
{
	const struct http_response *resp = (const struct http_response *)r;

	if (!resp_ok(r, "http_body")) {
		if (ret_len)
			*ret_len = 0;
		return NULL;
	}
	if (ret_len)
		*ret_len = resp->body_len;
	return resp->body;
}

static const char *host_http_header(const struct rollout_http_response *r, const char *name)
{
	return resp_ok(r, "http_header") ? http_response_header((const struct http_response *)r, name) : NULL;
}

static int host_http_output(const struct rollout_http_response *r, uint64_t *ret_bytes, char ret_sha256[65])
{
	const struct http_response *resp = (const struct http_response *)r;

	if (!resp_ok(r, "http_output"))
		return -EINVAL;
	if (!resp->out_sha256[0])
		return -ENODATA;
	if (ret_bytes)
		*ret_bytes = resp->out_bytes;
	if (ret_sha256)
		memcpy(ret_sha256, resp->out_sha256, 65);
	return 0;
}

static struct rollout_http_response *host_http_free(struct rollout_http_response *r)
{
	if (!r)
		return NULL;
	if (!resp_ok(r, "http_free"))
		return NULL;
	http_response_free((struct http_response *)r);
	return NULL;
}

/* ---- daemon data ---- */

static int host_onprem_instances(struct rollout_handle *h, char **ret_json, char *err, size_t errlen)
{
	if (!handle_ok(h, "onprem_instances"))
		return -EINVAL;
	if (!h->shared->onprem_fn) {
		snprintf(err, errlen, "on-premises instances are not available yet (the store is not open)");
		return -ENOTSUP;
	}
	return h->shared->onprem_fn(h->shared->onprem_userdata, ret_json, err, errlen);
}

/* ---- helpers ---- */

static int host_file_sha256(struct rollout_handle *h, const char *path, char ret_sha256[65], uint64_t *ret_size)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uint64_t total = 0;
	EVP_MD_CTX *ctx = NULL;
	int fd, r = 0;

	if (!handle_ok(h, "file_sha256"))
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	rd_hex(md, mdlen, ret_sha256);
	if (ret_size)
		*ret_size = total;
out:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return r;
}

static void host_free(void *p)
{
	free(p);
}

static const struct rollout_host table = {
    .size = sizeof(struct rollout_host),
    .abi_major = ROLLOUT_ABI_MAJOR,
    .abi_minor = ROLLOUT_ABI_MINOR,
    .daemon_version = PACKAGE_VERSION,
    .log = host_log,
    .logv = host_logv,
    .log_enabled = host_log_enabled,
    .config_parse = host_config_parse,
    .config_string = host_config_string,
    .config_int = host_config_int,
    .config_bool = host_config_bool,
    .config_duration_ms = host_config_duration_ms,
    .config_json = host_config_json,
    .wall_ms = host_wall_ms,
    .mono_ms = host_mono_ms,
    .http_request = host_http_request,
    .http_status = host_http_status,
    .http_body = host_http_body,
    .http_header = host_http_header,
    .http_output = host_http_output,
    .http_free = host_http_free,
    .onprem_instances = host_onprem_instances,
    .file_sha256 = host_file_sha256,
    .free = host_free,
};

const struct rollout_host *host_table(void)
{
	return &table;
}

int host_handle_new(const char *name, const struct yt_node *settings, const struct yt_node *settings_key,
		    struct host_shared *shared, struct rollout_handle **ret)
{
	struct rollout_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->name = strdup(name);
	if (!h->name) {
		free(h);
		return -ENOMEM;
	}
	h->magic = HOST_HANDLE_MAGIC;
	h->settings = settings;
	h->settings_key = settings_key;
	h->shared = shared;
	pthread_mutex_init(&h->lock, NULL);
	*ret = h;
	return 0;
}

struct rollout_handle *host_handle_free(struct rollout_handle *h)
{
	if (!h)
		return NULL;
	for (size_t i = 0; i < h->n_owned; i++)
		free(h->owned[i]);
	free(h->owned);
	free(h->read);
	free(h->settings_json);
	free(h->name);
	pthread_mutex_destroy(&h->lock);
	h->magic = 0;
	free(h);
	return NULL;
}
