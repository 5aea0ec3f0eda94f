#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Answers larger than this are refused: nothing the API returns comes near. */
#define CLI_MAX_RESPONSE (64u << 20)

struct buf {
	char *data;
	size_t len;
	bool overflow;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	size_t n = size * nmemb;
	char *nd;

	if (b->len + n > CLI_MAX_RESPONSE) {
		b->overflow = true;
		return 0;
	}
	nd = realloc(b->data, b->len + n + 1);
	if (!nd)
		return 0;
	b->data = nd;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static void set_error(struct cli *c, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(struct cli *c, const char *type, const char *fmt, ...)
{
	va_list ap;

	snprintf(c->err_type, sizeof(c->err_type), "%s", type ? type : "");
	va_start(ap, fmt);
	vsnprintf(c->err_msg, sizeof(c->err_msg), fmt, ap);
	va_end(ap);
}

int cli_http(struct cli *c, const char *method, const char *path, const char *prefix, const char *op, const void *body,
	     size_t len, const char *content_type, const char *const *headers, json_t **ret_resp)
{
	struct curl_slist *hdrs = NULL;
	struct buf resp = {0};
	char line[512], sigv4[256], userpwd[1024], errbuf[CURL_ERROR_SIZE] = "";
	CURL *h;
	CURLcode cc;
	long status = 0;
	json_t *j = NULL;
	char *url = NULL;
	int r;

	c->err_type[0] = c->err_msg[0] = '\0';
	c->http_status = 0;
	h = curl_easy_init();
	if (!h)
		return -ENOMEM;

	if (prefix) {
		snprintf(line, sizeof(line), "X-Amz-Target: %s.%s", prefix, op);
		hdrs = curl_slist_append(hdrs, line);
	} else {
		prefix = method;
	}
	snprintf(line, sizeof(line), "Content-Type: %s", content_type);
	hdrs = curl_slist_append(hdrs, line);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (c->session_token) {
		snprintf(line, sizeof(line), "X-Amz-Security-Token: %s", c->session_token);
		hdrs = curl_slist_append(hdrs, line);
	}
	for (size_t i = 0; headers && headers[i]; i++)
		hdrs = curl_slist_append(hdrs, headers[i]);

	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:codedeploy", c->region);
	snprintf(userpwd, sizeof(userpwd), "%s:%s", c->access_key_id, c->secret_access_key);

	url = malloc(strlen(c->endpoint) + strlen(path) + 1);
	if (!url) {
		r = -ENOMEM;
		goto out;
	}
	strcpy(url, c->endpoint);
	strcat(url, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	if (strcmp(method, "POST") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "rolloutctl/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(c->timeout_s > 0 ? c->timeout_s : 120));
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (c->verbose)
		fprintf(stderr, "> %s %s %s.%s (%zu bytes)\n", method, url, prefix, op ? op : path, len);

	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		if (resp.overflow)
			set_error(c, NULL, "the answer to %s is larger than %u MiB", op, CLI_MAX_RESPONSE >> 20);
		else
			set_error(c, NULL, "cannot reach rolloutd at %s: %s", c->endpoint,
				  errbuf[0] ? errbuf : curl_easy_strerror(cc));
		r = cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	c->http_status = status;
	if (c->verbose)
		fprintf(stderr, "< %ld %.*s\n", status, (int)(resp.len > 2000 ? 2000 : resp.len),
			resp.data ? resp.data : "");

	if (resp.len > 0) {
		json_error_t jerr;
		j = json_loadb(resp.data, resp.len, 0, &jerr);
	} else if (status >= 200 && status < 300) {
		j = json_object();
	}

	if (status >= 200 && status < 300) {
		if (!j || !json_is_object(j)) {
			set_error(c, NULL,
				  "%s answered %s.%s with something that is not a JSON object; is %s a rolloutd "
				  "endpoint?",
				  c->endpoint, prefix, op, c->endpoint);
			r = -EIO;
			goto out;
		}
		*ret_resp = j;
		j = NULL;
		r = 0;
		goto out;
	}

	if (rd_json_aws_error(resp.data, resp.len, c->err_type, sizeof(c->err_type), c->err_msg, sizeof(c->err_msg))) {
		r = -EREMOTEIO;
		goto out;
	}
	set_error(c, NULL, "%s answered HTTP %ld to %s.%s: %.200s", c->endpoint, status, prefix, op,
		  resp.data ? resp.data : "");
	r = status == 404 || status == 405 ? -ENOENT : -EREMOTEIO;
out:
	free(url);
	json_decref(j);
	free(resp.data);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return r;
}

int cli_call_raw(struct cli *c, const char *prefix, const char *op, const void *body, size_t len,
		 const char *content_type, const char *const *headers, json_t **ret_resp)
{
	return cli_http(c, "POST", "/", prefix, op, body, len, content_type, headers, ret_resp);
}

int cli_call(struct cli *c, const char *prefix, const char *op, json_t *req, json_t **ret_resp)
{
	char *body;
	int r;

	body = req ? json_dumps(req, JSON_COMPACT) : strdup("{}");
	if (!body)
		return -ENOMEM;
	if (c->verbose)
		fprintf(stderr, "> %s\n", body);
	r = cli_call_raw(c, prefix, op, body, strlen(body), "application/x-amz-json-1.1", NULL, ret_resp);
	free(body);
	return r;
}

int cli_call_new(struct cli *c, const char *prefix, const char *op, json_t *req, json_t **ret_resp)
{
	int r = cli_call(c, prefix, op, req, ret_resp);

	json_decref(req);
	return r;
}

int cli_list_all(struct cli *c, const char *op, json_t *req, const char *result_key, json_t **ret_array)
{
	json_t *all = json_array(), *q = req ? json_deep_copy(req) : json_object();
	int r = 0;

	for (int page = 0; page < 10000; page++) {
		json_t *resp = NULL, *items, *next;

		r = cli_call(c, CLI_TARGET_CODEDEPLOY, op, q, &resp);
		if (r < 0)
			goto out;
		items = json_object_get(resp, result_key);
		if (json_is_array(items))
			json_array_extend(all, items);
		next = json_object_get(resp, "nextToken");
		if (!json_is_string(next) || json_string_length(next) == 0) {
			json_decref(resp);
			break;
		}
		json_object_set(q, "nextToken", next);
		json_decref(resp);
	}
	*ret_array = all;
	all = NULL;
out:
	json_decref(all);
	json_decref(q);
	return r;
}

int cli_report_error(struct cli *c, const char *what, int r)
{
	if (r == -EREMOTEIO && c->err_type[0]) {
		fprintf(stderr, "error: %s: %s: %s\n", what, c->err_type, c->err_msg[0] ? c->err_msg : "(no message)");
		if (strcmp(c->err_type, "UnrecognizedClientException") == 0 ||
		    strcmp(c->err_type, "InvalidSignatureException") == 0 ||
		    strcmp(c->err_type, "AccessDeniedException") == 0)
			fprintf(stderr, "hint: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or --profile) and that "
					"the key's policy allows this operation\n");
		else if (strcmp(c->err_type, "UnknownOperationException") == 0)
			fprintf(stderr, "hint: this rolloutd does not offer that operation yet; upgrade rolloutd\n");
		return CLI_EXIT_FAILED;
	}
	fprintf(stderr, "error: %s: %s\n", what, c->err_msg[0] ? c->err_msg : strerror(-r));
	if (r == -ECONNREFUSED)
		fprintf(stderr,
			"hint: is rolloutd running? Set ROLLOUT_ENDPOINT or --endpoint to its 'listen' address\n");
	return r == -EREMOTEIO ? CLI_EXIT_FAILED : CLI_EXIT_NETWORK;
}
