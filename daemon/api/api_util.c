#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "api/api_info.h"
#include "api/api_util.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "jsonutil.h"
#include "store/store.h"
#include "util.h"

int api_check_fields(struct httpd_call *call, json_t *in, const struct api_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(in, f[i].name);
		if (!v || json_is_null(v)) {
			if (f[i].required) {
				httpd_call_error(call, "InvalidInputException", "%s is required; add it to the request",
						 f[i].name);
				return -EINVAL;
			}
			continue;
		}
		bool ok = (f[i].type == API_STR && json_is_string(v)) || (f[i].type == API_INT && json_is_integer(v)) ||
			  (f[i].type == API_BOOL && json_is_boolean(v)) ||
			  (f[i].type == API_OBJ && json_is_object(v)) || (f[i].type == API_LIST && json_is_array(v));
		if (!ok) {
			static const char *const tn[] = {"a string", "an integer", "a boolean", "an object", "a list"};
			httpd_call_error(call, "SerializationException", "%s must be %s", f[i].name, tn[f[i].type]);
			return -EINVAL;
		}
		int64_t x = f[i].type == API_STR    ? (int64_t)json_string_length(v)
			    : f[i].type == API_INT  ? (int64_t)json_integer_value(v)
			    : f[i].type == API_LIST ? (int64_t)json_array_size(v)
						    : 0;
		if ((f[i].min || f[i].max) && (x < f[i].min || x > f[i].max)) {
			httpd_call_error(call, "InvalidInputException", "%s must be within %lld..%lld%s", f[i].name,
					 (long long)f[i].min, (long long)f[i].max,
					 f[i].type == API_STR ? " characters" : "");
			return -EINVAL;
		}
	}
	return 0;
}

void api_store_error(struct httpd_call *call, int r)
{
	if (r == -EBUSY)
		httpd_call_error_status(call, 503, "ThrottlingException", "the store is busy; retry");
	else
		httpd_call_error_status(call, 500, "InternalFailure", "store failure: %s", strerror(-r));
}

json_t *api_time(int64_t ms)
{
	return json_real((double)ms / 1000.0);
}

int64_t api_time_ms(const json_t *j)
{
	if (json_is_integer(j))
		return (int64_t)json_integer_value(j) * 1000;
	return (int64_t)(json_number_value(j) * 1000.0);
}

char *api_token_make(const char *op, const char *cursor)
{
	size_t len = strlen(op) + 1 + strlen(cursor);
	char *plain = malloc(len + 1), *out = NULL;

	if (!plain)
		return NULL;
	snprintf(plain, len + 1, "%s|%s", op, cursor);
	out = malloc(4 * ((len + 2) / 3) + 1);
	if (out) {
		int n = EVP_EncodeBlock((unsigned char *)out, (unsigned char *)plain, (int)len);
		/* base64url, no padding */
		for (int i = 0; i < n; i++) {
			if (out[i] == '+')
				out[i] = '-';
			else if (out[i] == '/')
				out[i] = '_';
			else if (out[i] == '=') {
				out[i] = '\0';
				break;
			}
		}
	}
	free(plain);
	return out;
}

int api_token_parse(const char *op, const char *token, char **ret_cursor)
{
	size_t tl = strlen(token), pl = (tl + 3) / 4 * 4;
	char *b, *plain;
	int n, r = -EINVAL;

	if (tl == 0 || tl > 4096)
		return -EINVAL;
	b = malloc(pl + 1);
	plain = malloc(pl + 1);
	if (!b || !plain)
		goto out;
	for (size_t i = 0; i < pl; i++) {
		char c = i < tl ? token[i] : '=';
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '='))
			goto out;
		b[i] = c;
	}
	b[pl] = '\0';
	n = EVP_DecodeBlock((unsigned char *)plain, (unsigned char *)b, (int)pl);
	if (n < 0)
		goto out;
	while (n > 0 && pl > 0 && b[pl - 1] == '=') { /* DecodeBlock counts padding as zero bytes */
		n--;
		pl--;
	}
	plain[n] = '\0';
	if (strlen(plain) != (size_t)n)
		goto out;
	size_t ol = strlen(op);
	if (strncmp(plain, op, ol) != 0 || plain[ol] != '|')
		goto out;
	*ret_cursor = strdup(plain + ol + 1);
	r = *ret_cursor ? 0 : -ENOMEM;
out:
	free(b);
	free(plain);
	return r;
}

static char *arn(struct rd_daemon *d, const char *kind, const char *a, const char *b)
{
	char *s = NULL;
	const char *region = d->cfg && d->cfg->region ? d->cfg->region : "us-east-1";
	const char *account = d->cfg && d->cfg->account_id ? d->cfg->account_id : "000000000000";

	if (asprintf(&s, "arn:aws:codedeploy:%s:%s:%s:%s%s%s", region, account, kind, a, b ? "/" : "", b ? b : "") < 0)
		return NULL;
	return s;
}

char *api_arn_application(struct rd_daemon *d, const char *app)
{
	return arn(d, "application", app, NULL);
}

char *api_arn_group(struct rd_daemon *d, const char *app, const char *group)
{
	return arn(d, "deploymentgroup", app, group);
}

char *api_arn_instance(struct rd_daemon *d, const char *instance)
{
	return arn(d, "instance", instance, NULL);
}

int api_page_cursor(struct httpd_call *call, json_t *in, const char *key, char **ret_cursor)
{
	const char *tok = json_string_value(json_object_get(in, key));

	*ret_cursor = NULL;
	if (!tok || !*tok)
		return 0;
	if (api_token_parse(httpd_call_operation(call), tok, ret_cursor) < 0) {
		httpd_call_error(call, "InvalidNextTokenException",
				 "%s is not a token this operation returned; repeat the request without it", key);
		return -EINVAL;
	}
	return 0;
}

void api_page_next(struct httpd_call *call, json_t *out, const char *key, const char *cursor)
{
	char *t;

	if (!cursor)
		return;
	t = api_token_make(httpd_call_operation(call), cursor);
	if (t)
		json_object_set_new(out, key, json_string(t));
	free(t);
}

int api_need_app(struct rd_daemon *d, struct httpd_call *call, const char *name, json_t **ret_info)
{
	json_t *info = NULL;
	int r = api_app_get(d, name, &info);

	if (r == -ENOENT) {
		httpd_call_error(call, "ApplicationDoesNotExistException",
				 "No application found for name: %s (create it with CreateApplication)", name);
		return r;
	}
	if (r < 0) {
		api_store_error(call, r);
		return r;
	}
	if (ret_info)
		*ret_info = info;
	else
		json_decref(info);
	return 0;
}

const char *api_str(json_t *in, const char *key)
{
	return rd_json_str(in, key);
}
