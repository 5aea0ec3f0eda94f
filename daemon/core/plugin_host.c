/* The host-services table and the services bound to the running daemon.
 * See plugin_host.h. */
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
#include "core/aws_assume.h"
#include "core/conf.h"
#include "core/plugin_host.h"
#include "httpclient.h"
#include "log.h"
#include "util.h"
#include "yamltree.h"

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
	if (!host_handle_ok(h, "log"))
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
	return host_handle_ok(h, "log_enabled") && level <= rd_log_level();
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

/* A credential setting of the plugin's own config, or NULL; reading it marks
 * it used, as the plugin itself accepted it (ROLLOUT_AWS_OPTIONS). */
static const char *scalar(struct rollout_handle *h, const char *key)
{
	const char *v = NULL;
	char err[256];

	return host_config_string(h, key, NULL, &v, err, sizeof(err)) == 0 ? v : NULL;
}

static const char *plugin_region(struct rollout_handle *h)
{
	const char *r = scalar(h, "region");
	return r ? r : h->shared->cfg && h->shared->cfg->region ? h->shared->cfg->region : "us-east-1";
}

/* The service role the plugin's AWS requests are signed as: the current
 * deployment's serviceRoleArn when the plugin says assume_service_role. */
static const char *host_aws_service_role(struct rollout_handle *h)
{
	bool assume = false;
	char err[256];

	if (!host_handle_ok(h, "aws_service_role") ||
	    host_config_bool(h, "assume_service_role", false, &assume, err, sizeof(err)) < 0 || !assume)
		return NULL;
	return aws_assume_current_role();
}

/* The credentials of the plugin's config or the host's chain, and with
 * role, the temporary ones of that role assumed with them. */
static int plugin_credentials(struct rollout_handle *h, const char *role, struct aws_credentials **ret, char *err,
			      size_t errlen)
{
	struct aws_cred_options o = {
	    .access_key_id = scalar(h, "access_key_id"),
	    .secret_access_key = scalar(h, "secret_access_key"),
	    .session_token = scalar(h, "session_token"),
	    .profile = scalar(h, "profile"),
	    .credentials_file = scalar(h, "credentials_file"),
	};
	struct aws_credentials *base = NULL;
	char cerr[1024];
	int r = aws_credentials_resolve(&o, &base, cerr, sizeof(cerr));

	if (r < 0) {
		snprintf(err, errlen, "plugins.%s: %s", h->name, cerr);
		return r;
	}
	if (!role || !*role) {
		*ret = base;
		return 0;
	}
	{
		const char *ep = scalar(h, "sts_endpoint");
		r = aws_assume_role(h, base, ep ? ep : scalar(h, "endpoint"), plugin_region(h), role, ret, cerr,
				    sizeof(cerr));
	}
	aws_credentials_free(base);
	if (r < 0)
		snprintf(err, errlen, "plugins.%s: %s", h->name, cerr);
	return r;
}

static int host_aws_assume_role(struct rollout_handle *h, const char *role_arn, char **ret_json, char *err,
				size_t errlen)
{
	struct aws_credentials *c = NULL;
	json_t *o;
	int r;

	if (!host_handle_ok(h, "aws_assume_role"))
		return -EINVAL;
	if (!role_arn || !*role_arn) {
		snprintf(err, errlen, "aws_assume_role: no role ARN given");
		return -EINVAL;
	}
	if ((r = plugin_credentials(h, role_arn, &c, err, errlen)) < 0)
		return r;
	o = json_pack("{s:s,s:s,s:s?,s:I}", "AccessKeyId", c->access_key_id, "SecretAccessKey", c->secret_access_key,
		      "SessionToken", c->session_token, "Expiration", (json_int_t)c->expires_ms);
	*ret_json = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	aws_credentials_free(c);
	return *ret_json ? 0 : -ENOMEM;
}

static int host_http_request(struct rollout_handle *h, const struct rollout_http_request *req,
			     struct rollout_http_response **ret, char *err, size_t errlen)
{
	struct aws_credentials *creds = NULL;
	struct http_response *resp = NULL;
	struct http_request hr = {0};
	int r;

	if (!host_handle_ok(h, "http_request"))
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
		const char *role = host_aws_service_role(h);
		r = plugin_credentials(h, role, &creds, err, errlen);
		if (r < 0)
			return r;
		hr.aws_service = req->aws_service;
		hr.aws_region = req->aws_region ? req->aws_region : plugin_region(h);
		hr.aws_creds = creds;
	}
	/* A private CA (a self-hosted S3, an artifact server): the plugin's
	 * ca_file, else for AWS calls AWS_CA_BUNDLE as the AWS SDKs read it. */
	hr.ca_file = scalar(h, "ca_file");
	if (!hr.ca_file && req->aws_service)
		hr.ca_file = getenv("AWS_CA_BUNDLE");
	if (hr.ca_file && access(hr.ca_file, R_OK) < 0) {
		snprintf(err, errlen, "plugins.%s: ca_file %s cannot be read: %s", h->name, hr.ca_file,
			 strerror(errno));
		aws_credentials_free(creds);
		return -EINVAL;
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
	if (!host_handle_ok(h, "onprem_instances"))
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

	if (!host_handle_ok(h, "file_sha256"))
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
    HOST_PURE_SERVICES,
    .aws_service_role = host_aws_service_role,
    .aws_assume_role = host_aws_assume_role,
};

const struct rollout_host *host_table(void)
{
	return &table;
}
