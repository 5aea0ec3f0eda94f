/* The SDK's test host (rollout/testing.h): the daemon's own config, alarm
 * settings, tag filter and XML services (daemon/core/plugin_*.c, compiled
 * into this library) behind a table whose I/O is canned. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <rollout/testing.h>

#include "core/plugin_host.h"
#include "log.h"
#include "util.h"
#include "yamltree.h"

#define TESTING_MAGIC 0x54455354u  /* "TEST" */
#define RESPONSE_MAGIC 0x54524553u /* "TRES" */

struct rollout_testing {
	unsigned magic;
	struct rollout_host table; /* a copy, so set_abi_minor can shrink it */
	struct host_shared shared;
	struct rollout_handle *handle;
	struct yt_node *config;
	const struct rollout_testing_answer *answers;
	rollout_testing_responder respond;
	void *respond_data;
	struct rollout_testing_request last;
	int calls;
	char *onprem_json;
	char *log;
	size_t log_len;
	struct rollout_testing *prev_newest;
};

struct rollout_http_response {
	unsigned magic;
	long status;
	char *body;
	size_t body_len;
	const char *const *headers; /* borrowed from the answer */
	bool to_file;
	uint64_t out_bytes;
	char out_sha256[65];
};

/* The host's own complaints (rd_logt below) go to the newest test host. */
static struct rollout_testing *newest;

static const char *level_name(int level)
{
	static const char *const names[] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};

	return level >= 0 && level <= LOG_DEBUG ? names[level] : "err";
}

static void record(struct rollout_testing *t, int level, const char *tag, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n;
	char *nv;

	n = (size_t)snprintf(line, sizeof(line), "%s ", level_name(level));
	if (tag)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "[%s] ", tag);
	if (n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (getenv("ROLLOUT_TESTING_VERBOSE"))
		fprintf(stderr, "%s\n", line);
	if (!t)
		return;
	n = strlen(line);
	nv = realloc(t->log, t->log_len + n + 2);
	if (!nv)
		return;
	t->log = nv;
	memcpy(t->log + t->log_len, line, n);
	t->log_len += n;
	t->log[t->log_len++] = '\n';
	t->log[t->log_len] = '\0';
}

/* lib/log.h, for the host services compiled into this library (it replaces
 * lib/log.c, which writes to the journal). */
void rd_logv(int level, const char *tag, const char *fmt, va_list ap)
{
	va_list copy;

	va_copy(copy, ap);
	if (!newest)
		vfprintf(stderr, fmt, copy);
	else
		record(newest, level, tag, fmt, copy);
	va_end(copy);
}

void rd_logt(int level, const char *tag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rd_logv(level, tag, fmt, ap);
	va_end(ap);
}

int rd_log_level(void)
{
	return LOG_DEBUG;
}

static struct rollout_testing *owner(struct rollout_handle *h, const char *fn)
{
	struct rollout_testing *t;

	if (!host_handle_ok(h, fn))
		return NULL;
	t = h->shared->owner;
	return t && t->magic == TESTING_MAGIC ? t : NULL;
}

static void t_logv(struct rollout_handle *h, int level, const char *fmt, va_list ap)
{
	struct rollout_testing *t = owner(h, "log");

	if (t)
		record(t, level, NULL, fmt, ap);
}

static void t_log(struct rollout_handle *h, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	t_logv(h, level, fmt, ap);
	va_end(ap);
}

static bool t_log_enabled(struct rollout_handle *h, int level)
{
	/* debug paths run too, so tests cover them */
	return owner(h, "log_enabled") != NULL;
}

static int64_t t_wall_ms(void)
{
	return rd_wall_ms();
}

static int64_t t_mono_ms(void)
{
	return rd_mono_ms();
}

static int sha256_file(const char *path, char ret[65], uint64_t *ret_size)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uint64_t total = 0;
	EVP_MD_CTX *ctx;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		r = -ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (n < 0) {
		r = -errno;
		goto out;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	rd_hex(md, mdlen, ret);
	if (ret_size)
		*ret_size = total;
out:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return r;
}

static void copy_request(struct rollout_testing *t, const struct rollout_http_request *req)
{
	struct rollout_testing_request *l = &t->last;
	size_t n = 0;

	memset(l, 0, sizeof(*l));
	snprintf(l->method, sizeof(l->method), "%s", req->method ? req->method : "GET");
	snprintf(l->url, sizeof(l->url), "%s", req->url ? req->url : "");
	l->body_len = req->body ? req->body_len : 0;
	snprintf(l->body, sizeof(l->body), "%.*s",
		 (int)(l->body_len < sizeof(l->body) ? l->body_len : sizeof(l->body) - 1),
		 req->body ? (const char *)req->body : "");
	for (const char *const *hd = req->headers; hd && *hd && n < sizeof(l->headers); hd++)
		n += (size_t)snprintf(l->headers + n, sizeof(l->headers) - n, "%s\n", *hd);
	snprintf(l->aws_service, sizeof(l->aws_service), "%s", req->aws_service ? req->aws_service : "");
	snprintf(l->aws_region, sizeof(l->aws_region), "%s",
		 req->aws_service && req->aws_region ? req->aws_region : "");
	snprintf(l->output_path, sizeof(l->output_path), "%s", req->output_path ? req->output_path : "");
	l->timeout_ms = req->timeout_ms;
}

static int t_http_request(struct rollout_handle *h, const struct rollout_http_request *req,
			  struct rollout_http_response **ret, char *err, size_t errlen)
{
	struct rollout_testing *t = owner(h, "http_request");
	const struct rollout_testing_answer *a;
	struct rollout_testing_answer given;
	struct rollout_http_response *resp;

	if (!t)
		return -EINVAL;
	if (!req || req->size < offsetof(struct rollout_http_request, follow_redirects) + sizeof(bool) || !req->url) {
		snprintf(err, errlen, "http_request: bad request (initialise it with ROLLOUT_HTTP_REQUEST_INIT)");
		return -EINVAL;
	}
	copy_request(t, req);
	t->calls++;
	if (t->respond) {
		int r;
		memset(&given, 0, sizeof(given));
		r = t->respond(t->respond_data, &t->last, &given);
		if (r < 0) {
			snprintf(err, errlen, "%s (from the test's responder)", strerror(-r));
			return r;
		}
		given.url_prefix = req->url;
		a = &given;
	} else
		for (a = t->answers; a && a->url_prefix; a++)
			if ((!a->method || !strcmp(a->method, t->last.method)) &&
			    !strncmp(req->url, a->url_prefix, strlen(a->url_prefix)))
				break;
	if (!a || !a->url_prefix) {
		snprintf(err, errlen, "no canned answer for %s %s", t->last.method, req->url);
		return -EHOSTUNREACH;
	}
	if (a->status == 0) {
		snprintf(err, errlen, "connection refused");
		return -ECONNREFUSED;
	}
	resp = calloc(1, sizeof(*resp));
	if (!resp)
		return -ENOMEM;
	resp->magic = RESPONSE_MAGIC;
	resp->status = a->status;
	resp->headers = a->headers;
	if (req->output_path) {
		const char *body = a->body ? a->body : "";
		int r = rd_write_file_atomic(req->output_path, body, strlen(body), 0600);
		if (r == 0)
			r = sha256_file(req->output_path, resp->out_sha256, &resp->out_bytes);
		if (r < 0) {
			free(resp);
			snprintf(err, errlen, "cannot write %s: %s", req->output_path, strerror(-r));
			return r;
		}
		resp->to_file = true;
		resp->body = strdup("");
	} else {
		resp->body = strdup(a->body ? a->body : "");
		resp->body_len = a->body ? strlen(a->body) : 0;
	}
	if (!resp->body) {
		free(resp);
		return -ENOMEM;
	}
	*ret = resp;
	return 0;
}

static bool resp_ok(const struct rollout_http_response *r, const char *fn)
{
	if (r && r->magic == RESPONSE_MAGIC)
		return true;
	rd_logt(LOG_ERR, "plugin-host", "%s() called with an invalid HTTP response %p (plugin bug)", fn,
		(const void *)r);
	return false;
}

static long t_http_status(const struct rollout_http_response *r)
{
	return resp_ok(r, "http_status") ? r->status : -1;
}

static const char *t_http_body(const struct rollout_http_response *r, size_t *ret_len)
{
	if (!resp_ok(r, "http_body")) {
		if (ret_len)
			*ret_len = 0;
		return NULL;
	}
	if (ret_len)
		*ret_len = r->body_len;
	return r->body;
}

static const char *t_http_header(const struct rollout_http_response *r, const char *name)
{
	const char *found = NULL;
	size_t n = name ? strlen(name) : 0;

	if (!resp_ok(r, "http_header"))
		return NULL;
	for (const char *const *hd = r->headers; hd && *hd; hd++)
		if (!strncasecmp(*hd, name, n) && (*hd)[n] == ':')
			found = *hd + n + 1 + strspn(*hd + n + 1, " ");
	return found;
}

static int t_http_output(const struct rollout_http_response *r, uint64_t *ret_bytes, char ret_sha256[65])
{
	if (!resp_ok(r, "http_output"))
		return -EINVAL;
	if (!r->to_file)
		return -ENODATA;
	if (ret_bytes)
		*ret_bytes = r->out_bytes;
	if (ret_sha256)
		memcpy(ret_sha256, r->out_sha256, 65);
	return 0;
}

static struct rollout_http_response *t_http_free(struct rollout_http_response *r)
{
	if (!r || !resp_ok(r, "http_free"))
		return NULL;
	free(r->body);
	r->magic = 0;
	free(r);
	return NULL;
}

static int t_onprem_instances(struct rollout_handle *h, char **ret_json, char *err, size_t errlen)
{
	struct rollout_testing *t = owner(h, "onprem_instances");

	if (!t)
		return -EINVAL;
	if (!t->onprem_json) {
		snprintf(err, errlen, "on-premises instances are not available (rollout_testing_set_onprem_instances)");
		return -ENOTSUP;
	}
	*ret_json = strdup(t->onprem_json);
	return *ret_json ? 0 : -ENOMEM;
}

static int t_file_sha256(struct rollout_handle *h, const char *path, char ret_sha256[65], uint64_t *ret_size)
{
	return owner(h, "file_sha256") ? sha256_file(path, ret_sha256, ret_size) : -EINVAL;
}

static void t_free(void *p)
{
	free(p);
}

static const struct rollout_host full_table = {
    .size = sizeof(struct rollout_host),
    .abi_major = ROLLOUT_ABI_MAJOR,
    .abi_minor = ROLLOUT_ABI_MINOR,
    .daemon_version = PACKAGE_VERSION "-testing",
    .log = t_log,
    .logv = t_logv,
    .log_enabled = t_log_enabled,
    .wall_ms = t_wall_ms,
    .mono_ms = t_mono_ms,
    .http_request = t_http_request,
    .http_status = t_http_status,
    .http_body = t_http_body,
    .http_header = t_http_header,
    .http_output = t_http_output,
    .http_free = t_http_free,
    .onprem_instances = t_onprem_instances,
    .file_sha256 = t_file_sha256,
    .free = t_free,
    HOST_PURE_SERVICES,
};

struct rollout_testing *rollout_testing_new(const char *name, const char *config_yaml)
{
	struct rollout_testing *t = calloc(1, sizeof(*t));
	const struct yt_node *settings = NULL;
	char err[1024], what[256];

	if (!t)
		return NULL;
	t->magic = TESTING_MAGIC;
	t->table = full_table;
	t->shared.owner = t;
	snprintf(what, sizeof(what), "plugins.%s", name ? name : "plugin");
	if (config_yaml && *config_yaml) {
		if (yt_parse_buffer(config_yaml, strlen(config_yaml), what, &t->config, err, sizeof(err)) < 0) {
			fprintf(stderr, "rollout_testing_new: the config of %s is not YAML: %s\n", what, err);
			free(t);
			return NULL;
		}
		settings = t->config && !yt_is_null(t->config) ? t->config : NULL;
	}
	if (host_handle_new(name ? name : "plugin", settings, settings, &t->shared, &t->handle) < 0) {
		yt_free(t->config);
		free(t);
		return NULL;
	}
	t->prev_newest = newest;
	newest = t;
	return t;
}

struct rollout_testing *rollout_testing_free(struct rollout_testing *t)
{
	if (!t || t->magic != TESTING_MAGIC)
		return NULL;
	if (newest == t)
		newest = t->prev_newest;
	for (struct rollout_testing *o = newest; o; o = o->prev_newest)
		if (o->prev_newest == t)
			o->prev_newest = t->prev_newest;
	host_handle_free(t->handle);
	yt_free(t->config);
	free(t->onprem_json);
	free(t->log);
	t->magic = 0;
	free(t);
	return NULL;
}

const struct rollout_host *rollout_testing_host(const struct rollout_testing *t)
{
	return &t->table;
}

struct rollout_handle *rollout_testing_handle(const struct rollout_testing *t)
{
	return t->handle;
}

int rollout_testing_init(struct rollout_testing *t, const struct rollout_plugin *d, void **ret_state, char *err,
			 size_t errlen)
{
	void *state = NULL;
	int r;

	if (!d || d->magic != ROLLOUT_PLUGIN_MAGIC || d->abi_major != ROLLOUT_ABI_MAJOR ||
	    d->abi_minor > ROLLOUT_ABI_MINOR || d->size < ROLLOUT_PLUGIN_SIZE_1_0 || d->kind < ROLLOUT_KIND_PLATFORM ||
	    d->kind > ROLLOUT_KIND_TRAFFIC || !d->ops.any) {
		snprintf(
		    err, errlen,
		    "not a loadable plugin descriptor (expected magic 0x%08x, ABI %u.x up to %s, a kind and an ops "
		    "table; initialise it with ROLLOUT_PLUGIN_INIT)",
		    ROLLOUT_PLUGIN_MAGIC, ROLLOUT_ABI_MAJOR, ROLLOUT_ABI_STRING);
		return -EINVAL;
	}
	if (d->init) {
		char ierr[1024] = "";
		r = d->init(&t->table, t->handle, &state, ierr, sizeof(ierr));
		if (r < 0) {
			snprintf(err, errlen, "init of plugin '%s' failed: %s", d->name ? d->name : "?",
				 ierr[0] ? ierr : strerror(-r));
			return r;
		}
	}
	r = host_check_settings_used(t->handle, err, errlen);
	if (r < 0) {
		if (d->destroy)
			d->destroy(state);
		return r;
	}
	*ret_state = state;
	return 0;
}

void rollout_testing_set_answers(struct rollout_testing *t, const struct rollout_testing_answer *answers)
{
	t->answers = answers;
	t->calls = 0;
}

void rollout_testing_set_responder(struct rollout_testing *t, rollout_testing_responder respond, void *userdata)
{
	t->respond = respond;
	t->respond_data = userdata;
	t->calls = 0;
}

const struct rollout_testing_request *rollout_testing_last_request(const struct rollout_testing *t)
{
	return &t->last;
}

int rollout_testing_calls(const struct rollout_testing *t)
{
	return t->calls;
}

int rollout_testing_set_onprem_instances(struct rollout_testing *t, const char *json)
{
	char *copy = json ? strdup(json) : NULL;

	if (json && !copy)
		return -ENOMEM;
	free(t->onprem_json);
	t->onprem_json = copy;
	return 0;
}

void rollout_testing_set_abi_minor(struct rollout_testing *t, unsigned minor)
{
	t->table = full_table;
	if (minor == 0) {
		t->table.size = ROLLOUT_HOST_SIZE_1_0;
		t->table.abi_minor = 0;
	}
}

const char *rollout_testing_log(const struct rollout_testing *t)
{
	return t->log ? t->log : "";
}
